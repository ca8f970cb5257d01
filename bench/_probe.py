"""Run `birdgen` exactly as its console script does, with timers around each pipeline stage.

    python bench/_probe.py TIMINGS.json [--what-if pyyaml,nogc] -- render -f DIR --node N -o OUT

The console script is `birdgen.cli:entry()`; this calls the same function in the same fresh
process, after wrapping the stage functions the CLI reaches (files.load / files.parse_text,
parse_cluster, build_plan, render, apply) with `perf_counter` timers. The timers cost a few
microseconds in all. The stage times are written as JSON to TIMINGS.json when the command ends;
the caller measures wall time and peak RSS of the whole process from outside.

`--what-if` runs birdgen with one part swapped *without editing it*, to size a change (before
making it) or to keep the old way as a baseline in the same run (after):
  pyyaml  every YAML file read by PyYAML (libyaml's parser, kubectl's resolver table), the
          path `birdgen.sources.files` takes when its screen finds a scalar that YAML 1.1
          and 1.2 may read differently: the same-run baseline for yaml-rs;
  json    JSON read by the standard library's `json` instead of msgspec (no typed documents
          straight from the bytes, either: every object is converted from its mapping);
  serial  a YAML stream's pieces read by yaml-rs in one thread, not two (the framing and
          everything else as birdgen does it): the same-run baseline for the threads;
  whole   every YAML stream read by yaml-rs whole, in one piece (as before the framing);
  nogc    the cyclic garbage collector off for the run (`gc.disable()`; the one-shot CLI
          already does this around load, model and plan).
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import atexit  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections import defaultdict  # noqa: E402
from typing import Any  # noqa: E402


def main() -> None:
    args = sys.argv[1:]
    timings_path = args.pop(0)
    what_if: list[str] = []
    if args and args[0] == "--what-if":
        args.pop(0)
        what_if = [w for w in args.pop(0).split(",") if w]
    if args and args[0] == "--":
        args.pop(0)
    if "nogc" in what_if:
        gc.disable()

    t0 = time.perf_counter()
    import birdgen.cli as cli
    import birdgen.pipeline as pipeline
    from birdgen.sources import files

    times: dict[str, float] = defaultdict(float)
    times["imports"] = time.perf_counter() - t0

    def timed(stage: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                times[stage] += time.perf_counter() - t

        return wrapper

    if "pyyaml" in what_if:
        files._may_differ = lambda text: True  # type: ignore[attr-defined]
    if "serial" in what_if:
        files._READERS = 1  # type: ignore[attr-defined]
    if "whole" in what_if:
        files._read_yaml = functools.partial(files._read_yaml, piece=1 << 62)  # type: ignore[attr-defined]
    if "json" in what_if:
        import json as stdlib_json

        from birdgen.sources import jsontext

        # jsontext is every edge's one JSON decoder, looked up at call time; with no text
        # "typed alike", nothing is read by msgspec into the typed documents either.
        jsontext.loads = lambda data: stdlib_json.loads(data.decode() if isinstance(data, bytes) else data)  # type: ignore[assignment]  # fmt: skip
        jsontext.typed_alike = lambda data: False  # type: ignore[assignment]

    files.parse_text = timed("parse", files.parse_text)
    # cli imports the file source where it reads files, so the module's own name is the one
    # it calls.
    files.load = timed("load", files.load)  # read + parse; "read" = load - parse
    pipeline.parse_cluster = timed("model", pipeline.parse_cluster)
    pipeline.build_plan = timed("plan", pipeline.build_plan)
    pipeline.render = timed("render", pipeline.render)
    cli.apply = timed("write", cli.apply)

    def dump() -> None:
        now = time.perf_counter()
        out = dict(times)
        out["read"] = out.get("load", 0.0) - out.get("parse", 0.0)
        out["total_in_process"] = now - T_START
        # Whatever no stage holds: click, the environment, and freeing the objects, records
        # and plan as each goes out of use (no stage's timer runs then).
        staged = ("imports", "load", "model", "plan", "render", "write")
        out["other"] = out["total_in_process"] - sum(out.get(s, 0.0) for s in staged)
        # On the clock the launcher (bench/run.py) shares: from its fork to this script's first
        # line (interpreter start, site), and to here; the launcher's wall time less the
        # latter is the interpreter's finalization after this.
        spawned = float(os.environ.get("BIRDGEN_PROBE_SPAWNED", T_START))
        out["startup"] = T_START - spawned
        out["until_exit"] = now - spawned
        out["what_if"] = ",".join(what_if)
        with open(timings_path, "w", encoding="utf-8") as fh:
            json.dump(out, fh)

    atexit.register(dump)
    sys.argv = ["birdgen", *args]
    cli.entry()


if __name__ == "__main__":
    main()
