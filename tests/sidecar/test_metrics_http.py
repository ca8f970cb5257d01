"""Prometheus exposition and the operator endpoints (/healthz, /readyz, /metrics)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from birdgen.sidecar.http import OpsServer, parse_addr
from birdgen.sidecar.metrics import SidecarMetrics, SourceCounts

# Every series a fresh sidecar exposes: the names operators' dashboards use, each with its
# bounded label set present from the start at 0.
SERIES_AT_START = {
    "birdgen_renders_total": [{}],
    "birdgen_reloads_total": [{"result": "success"}, {"result": "failure"}],
    "birdgen_failures_total": [{"cause": c} for c in ("invalid_input", "source", "rejected", "bird_unreachable", "reload", "write", "not_confirmed", "internal")],
    "birdgen_unchanged_total": [{}],
    "birdgen_advertised_prefixes": [{"family": f, "kind": k} for f in ("ipv4", "ipv6") for k in ("range", "cluster_ip", "external_ip", "loadbalancer_ip", "other")],
    "birdgen_ready": [{}],
    "birdgen_change_to_reload_seconds_sum": [{}],
    "birdgen_change_to_reload_seconds_count": [{}],
}  # fmt: skip


def samples(text: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append(dict(s.labels))
    return out


def test_series_at_start_are_the_documented_bounded_set() -> None:
    text = SidecarMetrics().expose()
    got = samples(text)
    buckets = got.pop("birdgen_change_to_reload_seconds_bucket")
    assert [b["le"] for b in buckets][-1] == "+Inf" and len(buckets) == 15
    assert got == SERIES_AT_START
    # Nothing is known yet: no age of a last success, no cluster source.
    assert "# TYPE birdgen_seconds_since_last_successful_apply gauge" in text
    assert "# TYPE birdgen_source_errors_total counter" in text
    assert "_created" not in text


def test_values_read_at_scrape_time_and_registries_apart() -> None:
    a, b = SidecarMetrics(), SidecarMetrics()
    errors = {"http_503": 2}
    a.read_sources(lambda: SourceCounts(errors, relists=3, expirations=1))
    a.read_since_success(lambda: 4.5)
    a.reloads.labels(result="success").inc()
    a.latency.observe(0.25)
    a.set_advertised({(("family", "ipv4"), ("kind", "range")): 2})
    errors["http_503"] = 5  # the informers count on; the next scrape sees it
    text = a.expose()
    assert 'birdgen_source_errors_total{cause="http_503"} 5.0' in text
    assert "birdgen_source_relists_total 3.0" in text
    assert "birdgen_seconds_since_last_successful_apply 4.5" in text
    assert 'birdgen_change_to_reload_seconds_bucket{le="0.2"} 0.0' in text
    assert 'birdgen_change_to_reload_seconds_bucket{le="0.3"} 1.0' in text
    assert a.value("birdgen_advertised_prefixes", family="ipv4", kind="range") == 2
    # A kind missing from the next good config drops to 0; the series stays.
    a.set_advertised({})
    assert a.value("birdgen_advertised_prefixes", family="ipv4", kind="range") == 0
    assert a.value("birdgen_reloads_total", result="success") == 1
    assert b.value("birdgen_reloads_total", result="success") == 0
    assert "birdgen_source_relists_total" not in samples(b.expose())


@pytest.mark.parametrize(
    ("addr", "expected"),
    [("127.0.0.1:9094", ("127.0.0.1", 9094)), ("[::1]:80", ("::1", 80)), (":9094", ("", 9094))],
)
def test_parse_addr(addr: str, expected: tuple[str, int]) -> None:
    assert parse_addr(addr) == expected


def test_parse_addr_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_addr("localhost")


def get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
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
        metrics=metrics.registry,
    ).start()
    try:
        base = "http://{}:{}".format(*server.address)
        assert get(base + "/healthz")[0] == 200
        assert get(base + "/readyz")[0] == 503
        state["ready"] = True
        assert get(base + "/readyz")[0] == 200
        code, ctype, body = get(base + "/metrics")
        assert code == 200 and ctype.startswith("text/plain; version=0.0.4")
        assert 'birdgen_failures_total{cause="rejected"} 0.0' in body
        # A scraper that asks for OpenMetrics gets it, as prometheus-client negotiates.
        code, ctype, body = get(base + "/metrics", "application/openmetrics-text; version=1.0.0")
        assert code == 200 and ctype.startswith("application/openmetrics-text")
        assert body.endswith("# EOF\n")
        assert any(f.name == "birdgen_reloads" for f in parse_openmetrics(body))
        assert get(base + "/nope")[0] == 404
    finally:
        server.stop()
