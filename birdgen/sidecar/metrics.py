"""sidecar: the Prometheus metrics `birdgen run` serves on /metrics, kept by prometheus-client.

Place in the pipeline: beside it. The reconciler and the loop update these; `http` serves the
registry on /metrics. Every `SidecarMetrics` has a registry of its own, not prometheus-client's
process-wide default, so two sidecars in one process (the tests start many) never count into
each other. Label values are bounded sets chosen by birdgen (results, causes, families, kinds),
never object names, so the series count stays constant however big the cluster is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# A `_created` twin beside every counter and histogram is series nobody alerts on; birdgen's
# metrics have never had them. The switch is process-wide, and birdgen is the process.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client

# Change-to-accepted latency: the debounce alone is 0.1-1 s, so resolve that range finely.
LATENCY_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0, 30.0, 60.0)

RESULTS = ("success", "failure")
FAILURE_CAUSES = (
    "invalid_input",
    "source",
    "rejected",
    "bird_unreachable",
    "reload",
    "write",
    "not_confirmed",
    "internal",
)
FAMILIES = ("ipv4", "ipv6")
PREFIX_KINDS = ("range", "cluster_ip", "external_ip", "loadbalancer_ip", "other")

Labels = tuple[tuple[str, str], ...]


class SourceCounts(NamedTuple):
    """Totals the Kubernetes informers keep themselves, read at each scrape."""

    errors: Mapping[str, int]  # by cause, e.g. "http_503", "on_change"
    relists: int
    expirations: int


class _ReadAtScrape:
    """Values kept elsewhere (the reconciler's clock, the informers' counters), read when scraped.

    prometheus-client's custom-collector form: nothing is copied in between scrapes, and a value
    that does not exist yet (no apply so far, no cluster source) is a series left out.
    """

    def __init__(self) -> None:
        self.since_success: Callable[[], float | None] = lambda: None
        self.sources: Callable[[], SourceCounts | None] = lambda: None

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        yield from self._families(self.since_success(), self.sources())

    @staticmethod
    def _families(age: float | None = None, counts: SourceCounts | None = None) -> Iterator[Metric]:
        since = GaugeMetricFamily(
            "birdgen_seconds_since_last_successful_apply",
            "Seconds since BIRD was last known to run the current config (absent before).",
        )
        if age is not None:
            since.add_metric([], age)
        yield since
        errors = CounterMetricFamily(
            "birdgen_source_errors", "Kubernetes list/watch errors, by cause.", labels=["cause"]
        )
        relists = CounterMetricFamily(
            "birdgen_source_relists", "Kubernetes relists after the first list."
        )
        expirations = CounterMetricFamily(
            "birdgen_source_expirations", "Watches that ended with 410 Gone."
        )
        if counts is not None:
            for cause, n in sorted(counts.errors.items()):
                errors.add_metric([cause], n)
            relists.add_metric([], counts.relists)
            expirations.add_metric([], counts.expirations)
        yield from (errors, relists, expirations)


class SidecarMetrics:
    """The metrics `birdgen run` exposes, in one registry of their own."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.renders = Counter("birdgen_renders", "Configs rendered.", registry=r)
        self.reloads = Counter(
            "birdgen_reloads", "Reloads BIRD was asked for, by result.", ["result"], registry=r
        )
        self.failures = Counter(
            "birdgen_failures",
            "Failed reconcile attempts, by cause (BIRD keeps its last good config).",
            ["cause"],
            registry=r,
        )
        self.unchanged = Counter(
            "birdgen_unchanged", "Renders whose text equalled the live config.", registry=r
        )
        self.advertised = Gauge(
            "birdgen_advertised_prefixes",
            "Prefixes this node originates in its last good config, by family and kind.",
            ["family", "kind"],
            registry=r,
        )
        self.ready = Gauge("birdgen_ready", "1 after the first successful apply.", registry=r)
        self.held = Gauge(
            "birdgen_held_objects",
            "Objects whose current version is not in the config (invalid: held at their last "
            "valid version, or left out), by kind.",
            ["kind"],
            registry=r,
        )
        self.latency = Histogram(
            "birdgen_change_to_reload_seconds",
            "From the first cluster or file change of a batch to BIRD accepting the config.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # Drift (birdgen.sidecar.drift): `peer` is a BGP protocol of the plan, or svc4/svc6
        # (what the static protocols hold) or kernel (the node's kernel); bounded by the plan.
        self.drift = Gauge(
            "birdgen_drift_prefixes",
            "Prefixes where BIRD differs from the plan, by peer (or svc4/svc6/kernel) and kind.",
            ["peer", "kind"],
            registry=r,
        )
        self.sessions = Gauge(
            "birdgen_bgp_sessions", "BGP sessions BIRD runs, by BGP state.", ["state"], registry=r
        )
        self.exported = Gauge(
            "birdgen_exported_prefixes",
            "Routes BIRD exports to each BGP session.",
            ["peer"],
            registry=r,
        )
        self._scrape = _ReadAtScrape()
        r.register(self._scrape)
        # Every series of a bounded label set exists from the start, at 0, so rate() and
        # alerts work from the first failure on.
        for result in RESULTS:
            self.reloads.labels(result=result)
        for cause in FAILURE_CAUSES:
            self.failures.labels(cause=cause)
        for family in FAMILIES:
            for kind in PREFIX_KINDS:
                self.advertised.labels(family=family, kind=kind)

    # ---- what the reconciler and the loop call ---------------------------------------------

    def set_advertised(self, counts: Mapping[Labels, float]) -> None:
        """The prefixes of the config BIRD now runs; a kind not in `counts` has none."""
        for family in FAMILIES:
            for kind in PREFIX_KINDS:
                key = (("family", family), ("kind", kind))
                self.advertised.labels(family=family, kind=kind).set(counts.get(key, 0))

    def set_drift(
        self,
        prefixes: Mapping[tuple[str, str], int],
        sessions: Mapping[str, int],
        exported: Mapping[str, int],
    ) -> None:
        """One drift check's result; series of peers no longer there disappear."""
        for gauge, values in (
            (self.drift, prefixes),
            (self.sessions, sessions),
            (self.exported, exported),
        ):
            gauge.clear()
            for key, n in values.items():
                gauge.labels(*(key if isinstance(key, tuple) else (key,))).set(n)

    def read_since_success(self, read: Callable[[], float | None]) -> None:
        """Scrapes ask `read` for the seconds since the last success (None: none yet)."""
        self._scrape.since_success = read

    def read_sources(self, read: Callable[[], SourceCounts | None]) -> None:
        """Scrapes ask `read` for the informers' totals (None: no cluster source)."""
        self._scrape.sources = read

    # ---- what operators and tests read ------------------------------------------------------

    def value(self, name: str, **labels: str) -> float:
        """One sample's value by its exposed name (`birdgen_reloads_total`); 0 when absent."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found

    def expose(self) -> str:
        """The text exposition format 0.0.4, as a scrape without an Accept header gets it."""
        return generate_latest(self.registry).decode()
