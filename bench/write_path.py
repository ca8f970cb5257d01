"""What each part of a relevant change's path costs after the render, at one node of a big cluster.

    sudo .venv/bin/python bench/write_path.py DIR [--node node-0001] [--changes 15]

DIR is a `bench/gen_cluster.py` output. The records are built as the sidecar's informers build
them; a real BIRD runs the node's config in a private network namespace (`unshare -n`, as the
tests' `BirdDaemon`). Then each change moves a Local Service's only endpoint onto or off the
node, and the parts of the sidecar's step are timed one after another, as the `Reconciler`
runs them, in wall-clock and in this process's CPU:

* render: `LastValid.resolve` with the `Incremental` state (assemble, plan, render);
* install: `pipeline.install`, the text staged beside the live file and loaded by BIRD from
  there before the rename, with `configure "candidate"` alone (`--verify-timeout 0`), or the
  transaction (`--verify-timeout`, the default: `configure … timeout`, the verification's
  `show protocols`, `show status` and route counts, the rename, `configure confirm`),
  alternating; the route is in BIRD's table once `configure` answered;
* a drift comparison (`DriftWatch.check`, BIRD only), which runs on its own thread every 30 s.

Prints medians.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bird_daemon import BirdDaemon  # noqa: E402
from relevant_step import Change  # noqa: E402

from birdgen.collector import collector_paused  # noqa: E402
from birdgen.model.parse import Parsed  # noqa: E402
from birdgen.pipeline import Rendered, install, render_objects  # noqa: E402
from birdgen.plan.incremental import Incremental  # noqa: E402
from birdgen.reload import SocketReloader  # noqa: E402
from birdgen.sidecar.drift import DriftWatch  # noqa: E402
from birdgen.sidecar.holding import LastValid  # noqa: E402
from birdgen.sidecar.metrics import SidecarMetrics  # noqa: E402
from birdgen.verify.transaction import Transaction  # noqa: E402

BOOT_CONF = "router id 192.0.2.1;\nprotocol device {}\n"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(into: dict[str, list[tuple[float, float]]], name: str, fn: Callable[[], Any]) -> Any:
    w, c = time.perf_counter(), cpu()
    out = fn()
    into.setdefault(name, []).append((time.perf_counter() - w, cpu() - c))
    return out


def main(argv: list[str] | None = None) -> int:
    change = Change(argv, 15, __doc__ or "")
    records, env = change.records, change.env
    state, holder = Incremental(), LastValid()

    def render(objects: list[Parsed]) -> Rendered:
        return render_objects(objects, env, state)

    tmp = Path(tempfile.mkdtemp(prefix="bgwp-"))
    live = tmp / "bird.conf"
    live.write_text(BOOT_CONF)
    bird = BirdDaemon(tmp, live, str(tmp / "bird.ctl"))
    times: dict[str, list[tuple[float, float]]] = {}
    try:
        bird.start()
        reloader = SocketReloader(bird.sock)
        transaction = Transaction(bird.sock, 10)
        drift = DriftWatch(bird.sock, SidecarMetrics(), kernel=False)
        with collector_paused():
            first = holder.resolve(records, render)
        holder.accept(first)
        transaction.admit(live, BOOT_CONF)
        install(first.result.text, live, lambda c, commit: transaction.install(c, live, commit, first.result.plan, first.result.text))  # fmt: skip
        for i in range(change.changes):
            change.apply(i)
            with collector_paused():
                resolution = timed(times, "render (LastValid, incremental)", lambda: holder.resolve(records, render))  # fmt: skip
            holder.accept(resolution)
            rendered: Rendered = resolution.result
            text, plan = rendered.text, rendered.plan
            if i % 2 == 0:
                transaction.running = text

                def load(c: Path, commit: Callable[[], None]) -> str:
                    return reloader.install(c, live, commit)

                name = "install (--verify-timeout 0)"
            else:
                transaction.admit(live, text)

                def load(c: Path, commit: Callable[[], None]) -> str:
                    return transaction.install(c, live, commit, plan, text)  # noqa: B023

                name = "install, transaction (--verify-timeout 10)"
            applied = timed(times, name, lambda text=text, load=load: install(text, live, load))  # fmt: skip
            assert applied.changed
            drift.set_plan(plan)
            timed(times, "drift comparison (every 30 s)", drift.check)
    finally:
        bird.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"objects: {len(change.raw)}; changes: {change.changes}, each onto or off {change.node}; config {len(text):,} bytes")  # fmt: skip
    for name, samples in times.items():
        wall = statistics.median(w for w, _ in samples) * 1000
        used = statistics.median(c for _, c in samples) * 1000
        print(f"{name:38} {wall:7.1f} ms wall, {used:6.1f} ms CPU (median of {len(samples)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
