# Veille in a container: `docker build -t veille .` then see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install --no-compile . \
    && useradd --system --home /data --shell /usr/sbin/nologin veille \
    && mkdir -p /data && chown veille /data

USER veille
WORKDIR /data
VOLUME ["/data"]
# Metrics and health (metrics.port in the config); publish only to the host or the scraper's network.
EXPOSE 9464
ENV VEILLE_CONFIG=/data/config.yaml
HEALTHCHECK --interval=60s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4).status == 200 else 1)"
# SIGTERM lets in-flight work finish (see the README); give it the time it needs.
STOPSIGNAL SIGTERM
ENTRYPOINT ["veille"]
CMD ["run"]
