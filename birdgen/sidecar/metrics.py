"""sidecar: Prometheus metrics, as plain text exposition (format 0.0.4), no client library.

Place in the pipeline: beside it. The reconciler and the loop update these; `http` serves
`Registry.expose()` on /metrics. Label values are bounded sets chosen by birdgen (causes,
kinds), never object names, so the series count stays constant however big the cluster is.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

Labels = tuple[tuple[str, str], ...]


# Change-to-accepted latency: the debounce alone is 0.1-1 s, so resolve that range finely.
LATENCY_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0, 30.0, 60.0)


def _fmt_labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help = help_text
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, initial: Iterable[Labels] = ()) -> None:
        super().__init__(name, help_text)
        # Series listed up front are exposed at 0, so rate() works from the first failure on.
        self._values: dict[Labels, float] = {labels: 0.0 for labels in initial}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def set_total(self, value: float, **labels: str) -> None:
        """Copy in a total counted elsewhere (the informers keep their own counters)."""
        with self._lock:
            self._values[tuple(sorted(labels.items()))] = value

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(tuple(sorted(labels.items())), 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_fmt_labels(k)} {_num(v)}" for k, v in items]


class Gauge(_Metric):
    """A set value per label set, or a function read at scrape time (`set_function`)."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name, help_text)
        self._values: dict[Labels, float] = {}
        self._function: Callable[[], float] | None = None

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[tuple(sorted(labels.items()))] = value

    def replace(self, values: dict[Labels, float]) -> None:
        """Set every series at once; series not given disappear."""
        with self._lock:
            self._values = dict(values)

    def set_function(self, function: Callable[[], float]) -> None:
        self._function = function

    def value(self, **labels: str) -> float:
        if self._function is not None:
            return self._function()
        with self._lock:
            return self._values.get(tuple(sorted(labels.items())), 0.0)

    def lines(self) -> list[str]:
        if self._function is not None:
            value = self._function()
            return [] if math.isnan(value) else [f"{self.name} {_num(value)}"]
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_fmt_labels(k)} {_num(v)}" for k, v in items]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]) -> None:
        super().__init__(name, help_text)
        self.buckets = tuple(sorted(buckets))
        self._counts = [0] * (len(self.buckets) + 1)  # the last is +Inf only
        self._sum = 0.0
        self._count = 0

    def observe(self, value: float) -> None:
        with self._lock:
            self._counts[bisect.bisect_left(self.buckets, value)] += 1
            self._sum += value
            self._count += 1

    @property
    def count(self) -> int:
        return self._count

    def lines(self) -> list[str]:
        with self._lock:
            counts, total, count = list(self._counts), self._sum, self._count
        out, cumulative = [], 0
        for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
            cumulative += n
            out.append(f'{self.name}_bucket{{le="{_num(bound)}"}} {cumulative}')
        out += [f"{self.name}_sum {_num(total)}", f"{self.name}_count {count}"]
        return out


M = TypeVar("M", bound=_Metric)


class Registry:
    def __init__(self) -> None:
        self._metrics: list[_Metric] = []
        self._collectors: list[Callable[[], None]] = []

    def add(self, metric: M) -> M:
        self._metrics.append(metric)
        return metric

    def on_collect(self, collector: Callable[[], None]) -> None:
        """Run `collector` before each exposition, to copy in values kept elsewhere."""
        self._collectors.append(collector)

    def expose(self) -> str:
        for collector in self._collectors:
            collector()
        lines: list[str] = []
        for metric in self._metrics:
            lines += metric.header() + metric.lines()
        return "\n".join(lines) + "\n"


FAILURE_CAUSES = ("invalid_input", "source", "rejected", "bird_unreachable", "reload", "write")


class SidecarMetrics:
    """The metrics `birdgen run` exposes, in one registry."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        self.renders = r.add(Counter("birdgen_renders_total", "Configs rendered."))
        self.reloads = r.add(
            Counter(
                "birdgen_reloads_total",
                "Reloads BIRD was asked for, by result.",
                initial=[(("result", "success"),), (("result", "failure"),)],
            )
        )
        self.failures = r.add(
            Counter(
                "birdgen_failures_total",
                "Failed reconcile attempts, by cause (BIRD keeps its last good config).",
                initial=[(("cause", c),) for c in FAILURE_CAUSES],
            )
        )
        self.unchanged = r.add(
            Counter("birdgen_unchanged_total", "Renders whose text equalled the live config.")
        )
        self.advertised = r.add(
            Gauge(
                "birdgen_advertised_prefixes",
                "Prefixes this node originates in its last good config, by family and kind.",
            )
        )
        self.since_success = r.add(
            Gauge(
                "birdgen_seconds_since_last_successful_apply",
                "Seconds since BIRD was last known to run the current config (absent before).",
            )
        )
        self.ready = r.add(Gauge("birdgen_ready", "1 after the first successful apply."))
        self.latency = r.add(
            Histogram(
                "birdgen_change_to_reload_seconds",
                "From the first cluster or file change of a batch to BIRD accepting the config.",
                LATENCY_BUCKETS,
            )
        )
        self.source_errors = r.add(
            Counter("birdgen_source_errors_total", "Kubernetes list/watch errors, by cause.")
        )
        self.relists = r.add(
            Counter("birdgen_source_relists_total", "Kubernetes relists after the first list.")
        )
        self.expirations = r.add(
            Counter("birdgen_source_expirations_total", "Watches that ended with 410 Gone.")
        )
