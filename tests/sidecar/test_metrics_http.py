"""Prometheus exposition and the operator endpoints (/healthz, /readyz, /metrics)."""

from __future__ import annotations

import math
import urllib.error
import urllib.request

import pytest

from birdgen.sidecar.http import OpsServer, parse_addr
from birdgen.sidecar.metrics import Counter, Gauge, Histogram, Registry, SidecarMetrics


def test_exposition_format() -> None:
    r = Registry()
    c = r.add(Counter("x_total", "Things.", initial=[(("cause", "a"),)]))
    c.inc(cause="b")
    c.inc(2, cause="b")
    g = r.add(Gauge("g", "A gauge."))
    g.set(1.5, kind='q"uote')
    h = r.add(Histogram("h_seconds", "Latency.", (0.1, 1.0)))
    for v in (0.05, 0.1, 0.5, 3.0):
        h.observe(v)
    f = r.add(Gauge("age", "Unknown until set."))
    f.set_function(lambda: math.nan)
    assert r.expose().splitlines() == [
        "# HELP x_total Things.",
        "# TYPE x_total counter",
        'x_total{cause="a"} 0',
        'x_total{cause="b"} 3',
        "# HELP g A gauge.",
        "# TYPE g gauge",
        'g{kind="q\\"uote"} 1.5',
        "# HELP h_seconds Latency.",
        "# TYPE h_seconds histogram",
        'h_seconds_bucket{le="0.1"} 2',
        'h_seconds_bucket{le="1"} 3',
        'h_seconds_bucket{le="+Inf"} 4',
        "h_seconds_sum 3.65",
        "h_seconds_count 4",
        "# HELP age Unknown until set.",
        "# TYPE age gauge",
    ]


@pytest.mark.parametrize(
    ("addr", "expected"),
    [("127.0.0.1:9094", ("127.0.0.1", 9094)), ("[::1]:80", ("::1", 80)), (":9094", ("", 9094))],
)
def test_parse_addr(addr: str, expected: tuple[str, int]) -> None:
    assert parse_addr(addr) == expected


def test_parse_addr_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_addr("localhost")


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def test_endpoints() -> None:
    metrics = SidecarMetrics()
    state = {"ready": False}
    server = OpsServer(
        "127.0.0.1:0",
        healthy=lambda: True,
        ready=lambda: state["ready"],
        metrics=metrics.registry.expose,
    ).start()
    try:
        base = "http://{}:{}".format(*server.address)
        assert get(base + "/healthz")[0] == 200
        assert get(base + "/readyz")[0] == 503
        state["ready"] = True
        assert get(base + "/readyz")[0] == 200
        code, ctype, body = get(base + "/metrics")
        assert code == 200 and ctype.startswith("text/plain; version=0.0.4")
        assert 'birdgen_failures_total{cause="rejected"} 0' in body
        assert get(base + "/nope")[0] == 404
    finally:
        server.stop()
