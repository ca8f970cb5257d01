"""sidecar: drift, all the time (`--drift-interval`): the plan against the live node, in full.

Place in the pipeline: beside it, after reload. A thread of its own compares the plan BIRD was
last given (the reconciler hands it over after each success) with what BIRD holds and exports
and what the node's kernel holds (`birdgen.verify.observe` / `drift.compare`), every interval
and right after each apply. It runs beside the loop because a full comparison takes seconds at
100,000 routes (docs/performance.md); a reading that overlapped an apply is thrown away.

On drift: one log line naming a few prefixes and the count, the gauges
`birdgen_drift_prefixes{peer,kind}`, `birdgen_bgp_sessions{state}`,
`birdgen_exported_prefixes{peer}`, and a line in /readyz's body (which stays 200). A drift is
also handed to the loop once (`take_heal`): the next apply sends `configure` again, which
brings back what birdgen owns (a session disabled by hand, a file edited and reloaded by hand).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from birdgen.errors import BirdgenError
from birdgen.plan import NodePlan
from birdgen.sidecar.metrics import SidecarMetrics
from birdgen.verify.drift import Drift, Finding, Observed, compare
from birdgen.verify.observe import observe

log = logging.getLogger("birdgen.sidecar")

NAMED = 3  # prefixes named in the log line; the rest are counted

Observe = Callable[[NodePlan], Observed]


def describe(drift: Drift) -> str:
    """One line: a few findings, then how many in all."""
    parts = [f"{f.kind} {f.prefix} at {f.where}" for f in drift.findings[:NAMED]]
    parts += [f"session {s.name} {s.problem}" for s in drift.session_problems[:NAMED]]
    more = len(drift.findings) - min(len(drift.findings), NAMED)
    return ", ".join(parts) + (f" and {more} more" if more else "")


class DriftWatch:
    def __init__(
        self,
        socket_path: str,
        metrics: SidecarMetrics,
        interval: float = 30.0,
        *,
        kernel: bool = True,
        read: Observe | None = None,
    ) -> None:
        self.metrics = metrics
        self.interval = interval
        self.read: Observe = read or (lambda plan: observe(socket_path, plan, kernel=kernel))
        self.last: Drift | None = None
        self.error = ""
        self._plan: NodePlan | None = None
        self._generation = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._heal = False
        self._healed: frozenset[Finding | str] | None = None
        self._logged: frozenset[Finding | str] = frozenset()
        self._thread: threading.Thread | None = None

    # ---- what the reconciler and the loop call ---------------------------------------------

    def set_plan(self, plan: NodePlan) -> None:
        """BIRD now runs `plan`: check it right away (and every interval from now on)."""
        with self._lock:
            self._plan = plan
            self._generation += 1
        self._wake.set()

    def take_heal(self) -> bool:
        """True once for each new drift: the loop then has the config loaded again."""
        with self._lock:
            heal, self._heal = self._heal, False
            return heal

    def readiness(self) -> str:
        """A line for /readyz: in step, drifted (and how), or why it could not be checked."""
        if self.error:
            return f"drift: not checked: {self.error}"
        if self.last is None:
            return "drift: not checked yet"
        return (
            "drift: none, BIRD runs the plan"
            if self.last.clean
            else f"drift: {describe(self.last)}"
        )

    def start(self) -> DriftWatch:
        self._thread = threading.Thread(target=self._run, name="drift", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)

    # ---- one check -------------------------------------------------------------------------

    def check(self) -> Drift | None:
        """Compare once; None when there is no plan yet, BIRD can't be asked, or an apply
        happened meanwhile (the next check follows at once)."""
        with self._lock:
            plan, generation = self._plan, self._generation
        if plan is None:
            return None
        try:
            observed = self.read(plan)
        except BirdgenError as exc:
            if str(exc) != self.error:
                log.warning("drift check: %s", exc, extra={"event": "drift_unchecked"})
            self.error = str(exc)
            return None
        with self._lock:
            if generation != self._generation:
                return None  # the plan changed while we read: this reading proves nothing
        self.error = ""
        drift = compare(plan, observed)
        self._publish(drift, observed)
        return drift

    def _publish(self, drift: Drift, observed: Observed) -> None:
        states: dict[str, int] = {}
        for p in observed.protocols.values():
            if p.is_bgp:
                state = (
                    "down"
                    if p.state == "down"
                    else (p.bgp_state or p.info.split(" ")[0] or p.state)
                )
                states[state] = states.get(state, 0) + 1
        self.metrics.set_drift(
            drift.counts(),
            states,
            {p.name: p.exported for p in observed.protocols.values() if p.is_bgp},
        )
        self.last = drift
        key: frozenset[Finding | str] = frozenset(
            (*drift.findings, *(f"{s.name}: {s.problem}" for s in drift.session_problems))
        )
        if key == self._logged:
            return
        if drift.clean:
            log.info("drift healed: BIRD runs the plan", extra={"event": "drift_healed"})
        else:
            log.warning(
                "drift: BIRD differs from the plan: %s",
                describe(drift),
                extra={
                    "event": "drift",
                    "prefixes": " ".join(f.prefix for f in drift.findings[:NAMED]),
                    "count": str(len(drift.findings)),
                },
            )
            with self._lock:
                # Heal each distinct drift once: what `configure` cannot bring back (a route
                # someone put into the kernel) must not make birdgen reload in a loop.
                if key != self._healed:
                    self._heal, self._healed = True, key
        self._logged = key

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.check()
            except Exception:  # never let the watch die; the loop and BIRD are unaffected
                log.exception("drift check failed", extra={"event": "drift_unchecked"})
