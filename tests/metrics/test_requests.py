"""The request counts kept as plain numbers read as prometheus_client's own metrics would."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from eventd.metrics.requests import BUCKETS, DURATION, REQUESTS, RequestMetrics, Timing

# On each bound (a bucket holds what is <= its bound), just past one, zero, beyond the last.
DURATIONS = [0.0, 0.0005, 0.00050001, 0.001, 0.003, 0.025, 0.7, 1.0, 10.0, 10.5, 99.0]


def samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Return every sample of the registry's text exposition by (name, labels)."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.parametrize("seconds", DURATIONS)
def test_a_duration_falls_in_the_bucket_prometheus_client_puts_it_in(seconds: float) -> None:
    ours = Timing()
    ours.observe(seconds)
    theirs = Histogram("h", "h", buckets=BUCKETS, registry=CollectorRegistry())
    theirs.observe(seconds)
    expected = [
        (sample.labels["le"], sample.value)
        for sample in theirs.collect()[0].samples
        if sample.name == "h_bucket"
    ]
    assert ours.cumulative() == expected
    assert ours.total == seconds


async def _routed() -> web.Request:
    """Return a POST /events request routed as the app routes it."""
    app = web.Application()
    app.router.add_post("/events", _no_handler)
    request = make_mocked_request("POST", "/events", app=app)
    match = await app.router.resolve(request)
    request._match_info = match  # what aiohttp sets before the middlewares run
    return request


async def _no_handler(request: web.Request) -> web.Response:
    raise AssertionError("never called")


async def test_the_exposition_is_the_one_prometheus_clients_metrics_make() -> None:
    mine = CollectorRegistry()
    metrics = RequestMetrics(mine)
    reference = CollectorRegistry()
    requests = Counter(REQUESTS, "r", ["route", "method", "status"], registry=reference)
    duration = Histogram(DURATION, "d", ["route", "method"], buckets=BUCKETS, registry=reference)
    limited = Counter("eventd_http_rate_limited", "l", ["route"], registry=reference)
    for status, seconds in [(201, 0.0007), (201, 0.02), (422, 0.001), (429, 3.0)]:
        metrics.record(await _routed(), status, seconds)
        requests.labels("/events", "POST", str(status)).inc()
        duration.labels("/events", "POST").observe(seconds)
        if status == 429:
            limited.labels("/events").inc()
    got, expected = samples(mine), samples(reference)
    # The `_created` series are times: both have them, for the same labels.
    assert {key for key in got if key[0].endswith("_created")} == {
        key for key in expected if key[0].endswith("_created")
    }
    assert {k: v for k, v in got.items() if not k[0].endswith("_created")} == pytest.approx(
        {k: v for k, v in expected.items() if not k[0].endswith("_created")}
    )


def test_the_families_are_declared_before_anything_is_counted() -> None:
    registry = CollectorRegistry()
    RequestMetrics(registry)
    names: set[Any] = {family.name for family in registry.collect()}
    assert {REQUESTS, DURATION, "eventd_http_rate_limited"} <= names
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        RequestMetrics(registry)
