"""Profile birdgen's pipeline stages on a generated data set, one cProfile per stage.

    .venv/bin/python bench/profile_stages.py DIR [--node node-0001] [--top 20] [--sort tottime]
    .venv/bin/python bench/profile_stages.py bench/out/routes-json-* --stage plan,render

Prints, per stage (load, model, plan, render), the wall time without the profiler, then the
profiled top functions. Profiling inflates Python-heavy code more than C code; compare shares
within a stage, and take absolute times from bench/run.py.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import sys
import time
from pathlib import Path
from typing import Any

from birdgen.model.parse import parse_cluster
from birdgen.model.resources import Environment
from birdgen.plan import build_plan
from birdgen.render import render
from birdgen.sources import files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--node", default="node-0001")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    ap.add_argument("--stage", default="load,model,plan,render", help="stages to profile")
    ap.add_argument("--nogc", action="store_true", help="gc.disable() first (see bench/_probe.py)")
    a = ap.parse_args(argv)
    if a.nogc:
        gc.disable()
    wanted = set(a.stage.split(","))
    env = Environment(node_name=a.node)
    state: dict[str, Any] = {}
    stages = [
        ("load", lambda: state.__setitem__("objects", files.load([str(a.data)]))),
        ("model", lambda: state.__setitem__("cluster", parse_cluster(state["objects"], []))),
        ("plan", lambda: state.__setitem__("plan", build_plan(state["cluster"], env))),
        ("render", lambda: state.__setitem__("text", render(state["plan"]))),
    ]
    for name, fn in stages:
        if name not in wanted:
            t = time.perf_counter()
            fn()
            print(f"== {name}: {time.perf_counter() - t:.3f} s (not profiled)")
            continue
        # One plain run for the time, one profiled run for the shares (stages are pure).
        t = time.perf_counter()
        fn()
        plain = time.perf_counter() - t
        prof = cProfile.Profile()
        prof.enable()
        fn()
        prof.disable()
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
        stats.sort_stats(a.sort).print_stats(a.top)
        print(f"== {name}: {plain:.3f} s without the profiler; {total:.3f} s profiled")
        print("\n".join(line for line in buf.getvalue().splitlines() if line.strip())[:20000])
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
