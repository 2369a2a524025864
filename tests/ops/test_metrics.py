"""The metrics endpoint serves valid Prometheus text; the health endpoint tells ok from unhealthy."""

from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics, MetricsServer


async def test_metrics_are_valid_prometheus_text_with_the_counted_values() -> None:
    metrics = Metrics()
    metrics.fetches.labels(outcome="ok").inc(3)
    metrics.fetch_failures.labels(reason="HTTP 500").inc()
    metrics.alerts_sent.labels(platform="telegram").inc(2)
    metrics.alerts_pending.set(7)
    metrics.send_latency.observe(0.2)
    server = MetricsServer(metrics, health=lambda: {"ok": True}, port=0)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.port}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
    finally:
        await server.stop()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("veille_feed_fetches_total", (("outcome", "ok"),))] == 3
    assert samples[("veille_feed_failures_total", (("reason", "HTTP 500"),))] == 1
    assert samples[("veille_alerts_sent_total", (("platform", "telegram"),))] == 2
    assert samples[("veille_alerts_pending", ())] == 7
    assert samples[("veille_send_latency_seconds_count", ())] == 1


async def test_health_reports_ok_and_unhealthy() -> None:
    state: dict[str, Any] = {"ok": True, "feeds": 3}

    def health() -> dict[str, Any]:
        if state.get("explode"):
            raise RuntimeError("database is locked")
        return state

    server = MetricsServer(Metrics(), health=health, port=0)
    await server.start()
    url = f"http://127.0.0.1:{server.port}/healthz"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as response:
                assert response.status == 200 and (await response.json()) == {"status": "ok", "feeds": 3}
            state["ok"] = False
            async with http.get(url) as response:
                assert response.status == 503 and (await response.json())["status"] == "unhealthy"
            state["explode"] = True
            async with http.get(url) as response:
                body = await response.json()
                assert response.status == 503 and "database is locked" in body["error"]
    finally:
        await server.stop()
