"""sidecar: the `birdgen run` loop (sources -> debounce -> **loop** -> reconcile).

Deliberately thin: it starts the sources (a `KubeWatcher` of the cluster, a `FileWatcher` of
the -f paths), feeds their change notifications into the `Debouncer`, and, once every initial
list has completed, hands each due batch (and each due retry) to the `Reconciler`. It never
renders before the sources are synced, so BIRD never sees a config made from a partial view,
and stopping it writes nothing: the live file and BIRD stay as they are.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from birdgen.model.parse import Parsed, parse_object
from birdgen.plan.incremental import Feed
from birdgen.sidecar.debounce import Debouncer
from birdgen.sidecar.drift import DriftWatch
from birdgen.sidecar.http import OpsServer
from birdgen.sidecar.metrics import SourceCounts
from birdgen.sidecar.reconcile import Reconciler
from birdgen.sidecar.store import Lean

if TYPE_CHECKING:
    from birdgen.sidecar.files import FileWatcher
    from birdgen.sources.kube import KubeSource, KubeWatcher, Taken

log = logging.getLogger("birdgen.sidecar")

TICK = 1.0  # the longest the loop sleeps: how quickly it notices stop() and due retries
STALL = 180.0  # /healthz fails when the loop has not come round for this long
SYNC_WARN = 30.0  # say which sources are still listing after this long


class Sidecar:
    def __init__(
        self,
        reconciler: Reconciler,
        *,
        paths: Sequence[str] = (),
        kube: KubeSource | None = None,
        debounce: float = 0.1,
        max_delay: float = 1.0,
        resync: float = 600.0,
        metrics_addr: str | None = None,
        watch_options: dict[str, Any] | None = None,
        drift: DriftWatch | None = None,
    ) -> None:
        self.reconciler = reconciler
        self.drift = drift
        if drift is not None:
            reconciler.on_success = drift.set_plan
        self.metrics = reconciler.metrics
        self.paths = tuple(paths)
        self.resync = resync
        self.debouncer = Debouncer(debounce, max_delay)
        self._stop = threading.Event()
        self._dirty = True  # reconcile once at start even if no source reports a change
        self.heartbeat = time.monotonic()
        self.batches = 0
        self._takes = 0  # views of the cluster taken (`load`), to chain their `Feed`s
        # A view taken during a batch's quiet period, with the debouncer's change count then.
        self._ahead: tuple[int, tuple[list[Parsed], Taken | None]] | None = None
        self.takes_ahead = 0  # views taken during a quiet period (for tests and the bench)
        self.taken_ahead = 0  # ... and used by the step as they were
        self.kube: KubeWatcher | None = None
        if kube is not None:
            from birdgen.sources.kube import KubeWatcher

            self.kube = KubeWatcher(
                kube,
                self.debouncer.changed,
                transform=Lean(reconciler.env.endpoint_node_name),
                **(watch_options or {}),
            )
        self.file_watcher: FileWatcher | None = None
        if self.paths:
            # The file source's YAML and regex libraries and watchdog are imported only by a
            # sidecar that reads files: one of the cluster alone never uses them (about 8 MiB
            # of its resident memory, docs/performance.md).
            from birdgen.sidecar.files import FileWatcher

            self.file_watcher = FileWatcher(self.paths, self.debouncer.changed)
        self.ops = (
            OpsServer(
                metrics_addr,
                healthy=lambda: time.monotonic() - self.heartbeat < STALL,
                ready=lambda: self.reconciler.ready,
                ready_detail=self._ready_detail,
                metrics=self.metrics.registry,
            )
            if metrics_addr
            else None
        )
        self.metrics.read_sources(self._source_counts)

    # ---- control ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask `run()` to return; safe from a signal handler or another thread."""
        self._stop.set()
        self.debouncer.wake()

    def load(self) -> list[Parsed]:
        """One view: the cluster's parsed records (as the store keeps them), then the files'
        (as `birdgen render` merges, a file's object replacing the cluster's). The reconciler's
        plan state is told what changed in the cluster's since the last view, where that is
        known and no file's object can replace a cluster's."""
        if self.kube is None:
            return self._from_files()
        self._takes += 1
        objects, taken = self._take_cluster()
        if self.paths:
            objects += self._from_files()
            taken = None
        feed = None if taken is None else Feed(objects, self._takes - 1, self._takes, taken.before, taken.after)  # fmt: skip
        self.reconciler.state.expect(feed)
        return objects

    def _take_ahead(self) -> None:
        """During a batch's quiet period: take the cluster's view now, while the loop would
        only wait, so that the step need not (a list of 41,000 records scattered over the heap
        costs milliseconds). The step uses it if no change came after it."""
        assert self.kube is not None
        if self._ahead is not None:
            return  # one is held already, with the changes it took: the step merges what follows
        seen = self.debouncer.changes
        self._ahead = (seen, self.kube.take())
        self.takes_ahead += 1

    def _take_cluster(self) -> tuple[list[Parsed], Taken | None]:
        """The cluster's view now, and what changed since the last view: the one taken ahead
        when nothing changed since, else a fresh one (with the changes since the last view,
        the taken-ahead one's and the later ones together)."""
        assert self.kube is not None
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return self.kube.take()
        seen, (objects, taken) = ahead
        if self.debouncer.changes == seen:
            self.taken_ahead += 1
            return objects, taken
        fresh, since = self.kube.take()
        return fresh, merged(taken, since)

    def _from_files(self) -> list[Parsed]:
        from birdgen.sources import files

        return [parse_object(obj) for obj in files.load(self.paths)]

    def synced(self) -> bool:
        return self.kube is None or self.kube.synced()

    def run(self) -> None:
        """Until `stop()`: wait for changes, debounce them, reconcile. Never raises on failures
        of a step (the reconciler counts and retries them)."""
        started = time.monotonic()
        next_resync = started + self.resync
        announced = warned = False
        if self.ops is not None:
            self.ops.start()
        if self.file_watcher is not None:
            self.file_watcher.start()
        if self.kube is not None:
            self.kube.start()
        if self.drift is not None:
            self.drift.start()
        try:
            while not self._stop.is_set():
                self.heartbeat = time.monotonic()
                # Until the first step, a change is taken at once: the loop only waits for the
                # initial lists, which are a complete view, not a burst to let settle, so the
                # step runs as the last one completes (and at once where there is none).
                eager = not announced
                if eager and self._dirty and self.synced():
                    batch = self.debouncer.take_now()
                else:
                    ahead = self._take_ahead if announced and self.kube is not None else None
                    batch = self.debouncer.wait(self._timeout(), eager=eager, meanwhile=ahead)
                if self._stop.is_set():
                    break
                if batch is not None:
                    self.batches += 1
                    self.reconciler.note_change(batch.first)
                    self._dirty = True
                if not self.synced():
                    if not warned and time.monotonic() - started > SYNC_WARN:
                        warned = True
                        log.warning(
                            "still waiting for the initial lists of %s; nothing is rendered "
                            "before every list has completed",
                            ", ".join(self._unsynced()),
                            extra={"event": "waiting_for_sync"},
                        )
                    continue
                if not announced:
                    announced = True
                    log.info(
                        "sources synced in %.2fs",
                        time.monotonic() - started,
                        extra={"event": "synced"},
                    )
                if time.monotonic() >= next_resync:
                    # A periodic step even without news: repairs a live file edited by hand.
                    next_resync = time.monotonic() + self.resync
                    self._dirty = True
                if self.drift is not None and self.drift.take_heal():
                    # BIRD drifted from the plan: have it load birdgen's config again.
                    self.reconciler.reload_pending = True
                    self._dirty = True
                if self._dirty or self.reconciler.retry_due():
                    self._dirty = False
                    self.reconciler.step(self.load)
        finally:
            self._shutdown()

    # ---- internals -------------------------------------------------------------------------

    def _ready_detail(self) -> str:
        """/readyz's body after "ready": objects held back, then the drift check's verdict."""
        drift = f"{self.drift.readiness()}\n" if self.drift is not None else ""
        return self.reconciler.held_text() + drift

    def _timeout(self) -> float:
        retry = self.reconciler.next_retry
        if retry is None:
            return TICK
        return max(0.0, min(TICK, retry - self.reconciler.clock()))

    def _shutdown(self) -> None:
        if self.drift is not None:
            self.drift.stop()
        if self.kube is not None and not self.kube.stop(timeout=5.0):
            log.warning("some informer threads did not stop within 5s")
        if self.file_watcher is not None:
            self.file_watcher.stop()
        if self.ops is not None:
            self.ops.stop()
        log.info("stopped; the config and BIRD were left as they are", extra={"event": "stopped"})

    def _unsynced(self) -> list[str]:
        if self.kube is None:
            return []
        return [name for name, inf in self.kube.informers.items() if not inf.synced()]

    def _source_counts(self) -> SourceCounts | None:
        if self.kube is None:
            return None
        return SourceCounts(self.kube.errors, self.kube.relists, self.kube.expirations)


def merged(first: Taken | None, then: Taken | None) -> Taken | None:
    """What changed over two takes in a row, as one (None: not known). A record of `first`'s
    `after` whose key changed again in `then` is no longer there; every `before` stays, since
    it only names a key that changed."""
    if first is None or then is None:
        return None
    records = [*first.before, *first.after, *then.before, *then.after]
    if not all(isinstance(p, Parsed) and p.key is not None for p in records):
        return None
    from birdgen.sources.kube import Taken  # only ever called where the cluster is watched

    later = {p.key for p in (*then.before, *then.after)}
    after = [p for p in first.after if p.key not in later]
    return Taken([*first.before, *then.before], after + then.after)
