"""Prometheus metrics and a health endpoint, served on a local port for the operator's scraper.

One `Metrics` object per process holds its own registry (no module-level default registry), created by the
composition root and handed to the pipeline (fetches, failures by reason, articles, pipeline time) and the
sender (alerts sent, failed attempts, send latency); the app refreshes the gauges (outbox depth, failing
feeds, polls in flight) every few seconds. `MetricsServer` serves:

    GET /metrics   Prometheus text exposition format
    GET /healthz   200 {"status": "ok", ...} while the bot runs and its store answers; 503 otherwise
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)


class Metrics:
    """Every number Veille exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.fetches = Counter("veille_feed_fetches", "Feed polls, by outcome (ok, not_modified, failed)",
                               ["outcome"], registry=r)
        self.fetch_failures = Counter("veille_feed_failures", "Failed feed polls, by reason", ["reason"], registry=r)
        self.articles = Counter("veille_articles_stored", "Articles stored for the first time", registry=r)
        self.duplicates = Counter("veille_articles_duplicate", "Articles seen again and not stored", registry=r)
        self.alerts_queued = Counter("veille_alerts_queued", "Alerts written to the outbox", registry=r)
        self.alerts_sent = Counter("veille_alerts_sent", "Alerts accepted by a platform, by platform",
                                   ["platform"], registry=r)
        self.alerts_failed = Counter("veille_alerts_failed", "Failed alert attempts, by kind", ["kind"], registry=r)
        self.alerts_pending = Gauge("veille_alerts_pending", "Alerts waiting in the outbox", registry=r)
        self.send_latency = Histogram(
            "veille_send_latency_seconds", "Time for a platform to accept an alert",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=r,
        )
        self.pipeline_seconds = Histogram(
            "veille_poll_seconds", "Time to poll one feed through the whole pipeline",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60), registry=r,
        )
        self.feeds_failing = Gauge("veille_feeds_failing", "Feeds in a failing streak", registry=r)
        self.feeds = Gauge("veille_feeds", "Feeds being polled", registry=r)
        self.polls_in_flight = Gauge("veille_polls_in_flight", "Feed polls running now", registry=r)
        self.retention_deleted = Counter("veille_retention_deleted", "Articles deleted by retention", registry=r)
        self.started = Gauge("veille_start_time_seconds", "Unix time the bot started", registry=r)
        self.started.set(time.time())

    def render(self) -> bytes:
        """Return the Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class MetricsServer:
    """Serves /metrics and /healthz on host:port until stopped."""

    def __init__(self, metrics: Metrics, health: Callable[[], dict[str, Any]], host: str = "127.0.0.1",
                 port: int = 9464) -> None:
        self.metrics = metrics
        self.health = health
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and serve; the bound port is in `self.port` (useful with port 0)."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body = self.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        try:
            report = self.health()
            healthy = bool(report.get("ok", True))
        except Exception as exc:  # a health check that fails is an unhealthy bot, not a crashed endpoint
            report, healthy = {"error": f"{type(exc).__name__}: {exc}"}, False
        report = {"status": "ok" if healthy else "unhealthy", **{k: v for k, v in report.items() if k != "ok"}}
        return web.Response(status=200 if healthy else 503, text=json.dumps(report),
                            content_type="application/json")
