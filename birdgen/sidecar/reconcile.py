"""sidecar: one reconcile step (debounce -> **reconcile** -> render_objects -> install -> reload).

`Reconciler.step(load)` reads a snapshot of the sources, renders it with the same
`pipeline.render_objects` the one-shot `render` uses (through `holding.LastValid`, so that an
invalid object is held at its last valid version or left out instead of stopping every
update; each held object is logged once, counted in `birdgen_held_objects` and listed in the
/readyz body), and, when the text differs from the live file, has `pipeline.install` stage it
beside the live file, has BIRD load the staged file (`Reloader.install`, or the
`Transaction`) and reads the verdict; the staged file is renamed into place only once BIRD
took it. BIRD's own `configure` parses the text once and refuses what it cannot load, keeping
its running config, so there is no separate check before it.

It owns the state that outlives a step: whether BIRD may not run what the live file holds
(a reload that failed without a refusal, or a start: the process before may have died between
its rename and `configure`), the failure streak and its backoff, and the
bookkeeping an operator sees (metrics, one log line per distinct failure). Every failure
leaves BIRD on its last good config: a text BIRD refuses is never renamed into place, and
BIRD keeps its running config when `configure` fails.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from birdgen.backoff import Backoff
from birdgen.collector import collector_paused
from birdgen.errors import (
    BirdNotRun,
    ConfigRejected,
    InvalidInput,
    Problem,
    ReloadFailed,
    SourceError,
)
from birdgen.model.resources import Environment
from birdgen.pipeline import Applied, Load, Rendered, install, render_objects
from birdgen.plan import NodePlan
from birdgen.plan.incremental import Incremental
from birdgen.reload import Reloader
from birdgen.reload.control import DaemonUnreachable
from birdgen.sidecar.holding import Held, LastValid, Resolution, bird_problems
from birdgen.sidecar.metrics import SidecarMetrics
from birdgen.verify.transaction import NotConfirmed, Transaction

log = logging.getLogger("birdgen.sidecar")

Clock = Callable[[], float]
Status = Literal["applied", "unchanged", "failed"]


@dataclass(frozen=True)
class Outcome:
    status: Status
    cause: str = ""  # a failure's bounded label: invalid_input, rejected, bird_unreachable, ...
    message: str = ""  # one line saying why; never config text, never a secret
    summary: str = ""  # BIRD's answer to `configure`, e.g. "0003 Reconfigured"

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def classify(exc: BaseException) -> str:
    """The failure cause label counted in `birdgen_failures_total`."""
    if isinstance(exc, InvalidInput):
        return "invalid_input"
    if isinstance(exc, SourceError):
        return "source"
    if isinstance(exc, ConfigRejected):
        return "rejected"
    if isinstance(exc, NotConfirmed):
        return "not_confirmed"
    if isinstance(exc, DaemonUnreachable | BirdNotRun):
        return "bird_unreachable"
    if isinstance(exc, ReloadFailed):
        return "reload"
    if isinstance(exc, OSError):
        return "write"
    return "internal"


def _one_line(text: str, limit: int = 2000) -> str:
    flat = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def prefix_kind(reasons: tuple[str, ...]) -> str:
    """What kind of Service address a planned route is, from the planner's first reason.

    Reasons read "serviceClusterIPs range of BGPConfiguration default" for a range, and
    "Service ns/name: <verdict>; <category>" for an address, the category naming the address.
    """
    first = reasons[0] if reasons else ""
    if " range of " in first:
        return "range"
    category = first.rpartition("; ")[2]
    if category.startswith("load-balancer"):
        return "loadbalancer_ip"
    if category.startswith("external IP"):
        return "external_ip"
    if "cluster" in category.lower():
        return "cluster_ip"
    return "other"


def advertised_counts(plan: NodePlan) -> dict[tuple[tuple[str, str], ...], float]:
    counts: dict[tuple[tuple[str, str], ...], float] = {}
    for family in (plan.v4, plan.v6):
        for route in family.routes:
            key = (("family", f"ipv{family.family.value}"), ("kind", prefix_kind(route.reasons)))
            counts[key] = counts.get(key, 0) + 1
    return counts


class Reconciler:
    """Brings the live file and the running BIRD in step with a snapshot of the sources."""

    def __init__(
        self,
        output: Path,
        env: Environment,
        reloader: Reloader,
        metrics: SidecarMetrics | None = None,
        *,
        clock: Clock = time.monotonic,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self.output = output
        self.env = env
        self.reloader = reloader
        self.metrics = metrics or SidecarMetrics()
        self.clock = clock
        self.backoff = Backoff(backoff_initial, backoff_max)
        self.next_retry: float | None = None  # clock time of the next retry after a failure
        self.pending_since: float | None = None  # the first change not yet in BIRD
        self.last_success: float | None = None
        self.successes = 0
        # BIRD may not run what the live file holds: true after a reload that failed (BIRD
        # unreachable: the file was renamed into place for it; no answer: it may have loaded
        # the text or not), and at start, since a sidecar killed between its rename and the
        # confirm (BIRD then undoes it) left exactly that behind, with a file equal to what it
        # renders. So the first step reloads even an unchanged file; `configure` of an
        # unchanged file restarts no session and sends nothing.
        self.reload_pending = True
        self._last_failure: tuple[str, str] | None = None
        self.holder = LastValid()
        # The assembled cluster and each Service's part of the plan, kept between steps so
        # that a change re-plans only what it touches (the plan is the one `birdgen render`
        # makes).
        self.state = Incremental()
        self.held: tuple[Held, ...] = ()  # objects held back from the last config applied
        self._held_kinds: set[str] = set()
        self._notices: frozenset[str] = frozenset()
        self.metrics.read_since_success(self._since_success)
        # Issue 12: reload under `configure timeout` (--verify-timeout), and tell the drift
        # watch each plan BIRD runs. Both set by `birdgen run`; None leaves them out.
        self.transaction: Transaction | None = None
        self.on_success: Callable[[NodePlan], None] | None = None

    # ---- what the loop asks ----------------------------------------------------------------

    def note_change(self, at: float) -> None:
        """A batch of changes whose first arrived at `at` (clock time) is about to be applied."""
        if self.pending_since is None or at < self.pending_since:
            self.pending_since = at

    def retry_due(self) -> bool:
        return self.next_retry is not None and self.clock() >= self.next_retry

    @property
    def ready(self) -> bool:
        return self.successes > 0

    # ---- one step --------------------------------------------------------------------------

    def step(self, load: Callable[[], list[Any]]) -> Outcome:
        """Load (raw objects, or the sidecar store's parsed records), render (holding back
        invalid objects), and (if the text changed) have BIRD load it and rename it into place;
        or reload the live file, if BIRD may not run it. Never raises."""
        try:
            resolution, applied, failure = self._write(load())
            rendered: Rendered = resolution.result
            self._log_notices(rendered)
            self._report_held(resolution.held)
            if failure is not None:
                raise failure
            if applied.changed:
                summary = applied.reload_summary
            else:
                self.metrics.unchanged.inc()
                if not self.reload_pending:
                    # BIRD already runs this file: `configure` would send nothing, skip it.
                    self.holder.accept(resolution)
                    return self._succeeded(rendered, Outcome("unchanged"), accepted=False)
                summary = self._reloading(lambda: self._reload_live(rendered))
            # Only a config BIRD runs (confirmed, where there is a transaction) makes its
            # objects' versions the last valid ones: an undone one must not be held on to.
            self.holder.accept(resolution)
            return self._succeeded(rendered, Outcome("applied", summary=summary), accepted=True)
        except Exception as exc:  # the sidecar outlives every failure; it is counted and retried
            return self._failed(exc)

    def held_text(self) -> str:
        """The objects held back from the config, one line each (the /readyz body)."""
        return "".join(f"{h}\n" for h in self.held)

    # ---- one step's parts ------------------------------------------------------------------

    def _write(self, objects: list[Any]) -> tuple[Resolution, Applied, Exception | None]:
        """Render every object that can be (see `LastValid`), stage the text beside the live
        file, have BIRD load it and rename it into place (unless the file holds it already).

        A refusal by BIRD that can be traced to a Service's route or a BGPPeer's session holds
        that object back too, and the rest is tried again; any other refusal is raised. Any
        other failure of the write or the load comes back beside the resolution, for the step
        to account for what it rendered before failing.
        """
        blamed: list[Problem] = []
        while True:  # each round blames one more object, and an object is blamed at most twice
            resolution = self.holder.resolve(objects, self._render, blamed)
            rendered: Rendered = resolution.result
            if not blamed:
                self.metrics.renders.inc()  # once a step, before BIRD is asked
            if self.transaction is not None:
                self.transaction.admit(self.output, rendered.text)  # refuses a text undone before
            try:
                applied = install(rendered.text, self.output, self._loader(rendered))
            except ConfigRejected as exc:
                found = bird_problems(exc.detail, rendered.text, rendered.plan)
                more = [p for p in found if p not in blamed]
                if not more:
                    raise
                blamed += more
                continue
            except Exception as exc:
                return resolution, Applied(changed=True), exc
            return resolution, applied, None

    def _loader(self, rendered: Rendered) -> Load:
        """How BIRD takes a new text: the transaction, where there is one, else the reloader."""

        def load(candidate: Path, commit: Callable[[], None]) -> str:
            if self.transaction is None:
                return self.reloader.install(candidate, self.output, commit)
            return self.transaction.install(
                candidate, self.output, commit, rendered.plan, rendered.text
            )

        return lambda candidate, commit: self._reloading(lambda: load(candidate, commit))

    def _reload_live(self, rendered: Rendered) -> str:
        """Have BIRD load the live file, which holds `rendered` already."""
        if self.transaction is None:
            return self.reloader.reload(self.output)
        return self.transaction.reload(self.output, rendered.plan, rendered.text)

    def _reloading(self, reload: Callable[[], str]) -> str:
        """Ask BIRD, counting the answer. A refusal leaves BIRD on the config it ran; after
        any other failure it may not run what the live file holds."""
        try:
            summary = reload()
        except Exception as exc:
            self.metrics.reloads.labels(result="failure").inc()
            if not isinstance(exc, ConfigRejected):
                self.reload_pending = True
            raise
        self.metrics.reloads.labels(result="success").inc()
        self.reload_pending = False
        return summary

    def _render(self, objects: list[Any]) -> Rendered:
        with collector_paused():
            return render_objects(objects, self.env, self.state)

    def _report_held(self, held: tuple[Held, ...]) -> None:
        before = {(h.kind, h.name): h for h in self.held}
        now = {(h.kind, h.name): h for h in held}
        for where, h in sorted(now.items()):
            if before.get(where) != h:  # newly held, or held for another reason
                log.warning(
                    "%s; everything else is applied",
                    h,
                    extra={"event": "held", "kind": h.kind, "object": h.name},
                )
        for kind, name in sorted(before.keys() - now.keys()):
            log.info(
                "%s/%s: no longer held back (fixed or deleted)",
                kind,
                name,
                extra={"event": "released", "kind": kind, "object": name},
            )
        counts = collections.Counter(h.kind for h in held)
        for kind in sorted(self._held_kinds | counts.keys()):
            self.metrics.held.labels(kind=kind).set(counts.get(kind, 0))
        self._held_kinds |= counts.keys()
        self.held = held

    # ---- bookkeeping -----------------------------------------------------------------------

    def _succeeded(self, rendered: Rendered, outcome: Outcome, *, accepted: bool) -> Outcome:
        now = self.clock()
        if accepted and self.pending_since is not None and self.successes > 0:
            # The first apply after a start measures the initial sync, not a change: left out.
            self.metrics.latency.observe(max(0.0, now - self.pending_since))
        self.pending_since = None
        self.last_success = now
        self.successes += 1
        self.next_retry = None
        self.backoff.reset()
        self.metrics.ready.set(1)
        self.metrics.set_advertised(advertised_counts(rendered.plan))
        if self.on_success is not None:
            self.on_success(rendered.plan)
        if self._last_failure is not None:
            log.info(
                "recovered: BIRD runs the current config",
                extra={"event": "recovered", "summary": outcome.summary},
            )
            self._last_failure = None
        elif accepted:
            log.info(
                "BIRD accepted the new config: %s",
                outcome.summary,
                extra={"event": "applied", "summary": outcome.summary},
            )
        return outcome

    def _failed(self, exc: Exception) -> Outcome:
        cause = classify(exc)
        message = _one_line(str(exc)) or type(exc).__name__
        delay = self.backoff.next()
        self.next_retry = self.clock() + delay
        self.metrics.failures.labels(cause=cause).inc()
        key = (cause, message)
        if key != self._last_failure:
            # Logged once per distinct failure; the retries that follow are only counted.
            log.error(
                "%s; BIRD keeps its last good config; retrying in %gs",
                message,
                delay,
                extra={"event": "failed", "cause": cause},
                exc_info=cause == "internal",
            )
            self._last_failure = key
        else:
            log.debug("still failing (%s); retrying in %gs", cause, delay)
        return Outcome("failed", cause=cause, message=message)

    def _log_notices(self, rendered: Rendered) -> None:
        notices = frozenset(rendered.notices)
        for notice in sorted(notices - self._notices):
            log.warning("%s", notice, extra={"event": "notice"})
        self._notices = notices

    def _since_success(self) -> float | None:
        return None if self.last_success is None else self.clock() - self.last_success
