"""The full render of one node of the big cluster, from YAML and JSON, with the reading libraries'
same-run baselines: the figures of "Reading with libraries" in docs/performance.md.

    .venv/bin/python bench/render_speed.py                      # print the table (Markdown)
    .venv/bin/python bench/render_speed.py --reps 5 --update-docs
    .venv/bin/python bench/render_speed.py --yaml /tmp/bc/yaml --json /tmp/bc/json

Six renders of `birdgen render -f DIR --node node-0001 -o OUT`, each in fresh processes through
`bench/_probe.py`, repetitions interleaved so that a change of load hits all six alike:
YAML as birdgen reads it (yaml-rs behind the screen, a big stream's pieces in two threads),
with every file read by PyYAML (`--what-if pyyaml`), with the pieces read by one thread
(`--what-if serial`) and with every file read whole (`--what-if whole`), JSON as birdgen reads it (msgspec, straight into the typed documents)
and with the standard library's `json` (`--what-if json`). Medians of wall time, of the process's user + system CPU time (`wait4`:
on a loaded machine CPU time is the steadier figure) and of each stage; the machine's load
average before and after; the check that all six write the same bytes. Beyond the stages
(`bench/_probe.py` times them): `startup`, from the launcher's fork to the probe's first line
(exec, the interpreter, site); `other`, the time in the process outside every stage (click, the
environment, and freeing inputs, records and plan as each goes out of use); `exit`, the
interpreter's finalization after the last timer until the launcher reaps the process. The data sets are
`bench/run.py`'s (cached in bench/out/), or the directories given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import run  # bench/run.py: the launcher, the probe runs and the data sets

START_MARK = "<!-- bench:render-speed:start -->"
END_MARK = "<!-- bench:render-speed:end -->"
CASES = [  # (label, format, what-if)
    ("YAML, birdgen (yaml-rs + screen)", "yaml", ""),
    ("YAML, what-if pyyaml: PyYAML (libyaml) for every file", "yaml", "pyyaml"),
    ("YAML, what-if serial: the pieces read by one thread", "yaml", "serial"),
    ("YAML, what-if whole: each file read whole by yaml-rs", "yaml", "whole"),
    ("JSON, birdgen (msgspec, typed documents)", "json", ""),
    ("JSON, what-if json: the standard library's `json`", "json", "json"),
]
STAGES = (
    "startup",
    "imports",
    "read",
    "parse",
    "model",
    "plan",
    "render",
    "write",
    "other",
    "exit",
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="repetitions of each render [3]")
    ap.add_argument("--yaml", type=Path, help="the YAML data set [bench/run.py's, generated]")
    ap.add_argument("--json", type=Path, help="the JSON data set [bench/run.py's, generated]")
    ap.add_argument("--node", default="node-0001")
    ap.add_argument("--update-docs", action="store_true", help="rewrite the table in the docs")
    a = ap.parse_args(argv)
    big = run.gen_cluster.Params(nodes=1000, services=20000, endpoints=100000, seed=1)
    data = {
        "yaml": a.yaml or run.dataset(big, "yaml", run.BENCH / "out"),
        "json": a.json or run.dataset(big, "json", run.BENCH / "out"),
    }
    out = Path(run.tempfile.mkdtemp(prefix="birdgen-speed-")) / "bird.conf"
    load_before = os.getloadavg()
    runs: dict[str, list[run.Run]] = {label: [] for label, _, _ in CASES}
    for rep in range(a.reps):
        for label, fmt, what_if in CASES:
            runs[label] += run.render_runs(data[fmt], a.node, out, 1, True, what_if)
            r = runs[label][-1]
            print(f"render_speed: rep {rep + 1} {label}: {r.wall:.2f} s wall, {r.cpu:.2f} s CPU",
                  file=sys.stderr, flush=True)  # fmt: skip
    load_after = os.getloadavg()
    if len({r.out_hash for rs in runs.values() for r in rs}) != 1:
        raise SystemExit("render_speed: the rendered output differs between inputs or what-ifs")
    md = report(a, data, runs, load_before, load_after)
    print(md)
    if a.update_docs:
        doc = run.DOC.read_text()
        head, rest = doc.split(START_MARK, 1)
        _, tail = rest.split(END_MARK, 1)
        run.DOC.write_text(f"{head}{START_MARK}\n{md}\n{END_MARK}{tail}")
    return 0


def report(
    a: argparse.Namespace,
    data: dict[str, Path],
    runs: dict[str, list[run.Run]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    med = run.med
    info = run.machine()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {when} by `.venv/bin/python bench/render_speed.py --reps {a.reps}` "
        f"(medians of {a.reps} fresh processes each, interleaved; {info['cpu']}; "
        f"Python {info['python']}); load average {load_before[0]:.1f} before and "
        f"{load_after[0]:.1f} after (1-minute). YAML {run.dir_mb(data['yaml']):.0f} MiB, "
        f"JSON {run.dir_mb(data['json']):.0f} MiB; the rendered bird.conf is byte-identical "
        "in all six.",
        "",
        "| input, reader | wall | CPU (user+sys) | " + " | ".join(STAGES) + " | peak RSS |",
        "|---|---|---|" + "---|" * len(STAGES) + "---|",
    ]
    for rs in runs.values():
        for r in rs:  # the interpreter's finalization, after the probe's last timer
            r.stages["exit"] = r.wall - r.stages.get("until_exit", r.wall)
    for label, rs in runs.items():
        stages = " | ".join(f"{med([r.stages.get(s, 0.0) for r in rs]):.2f}" for s in STAGES)
        lines.append(
            f"| {label} | {med([r.wall for r in rs]):.2f} s | {med([r.cpu for r in rs]):.2f} s"
            f" | {stages} | {med([r.rss_mib for r in rs]):.0f} MiB |"
        )
    yaml_now, yaml_base, yaml_serial, yaml_whole, json_now, json_base = (
        runs[label] for label, _, _ in CASES
    )

    def ratio(now: list[run.Run], base: list[run.Run], what: str) -> str:
        return (
            f"{med([getattr(r, what) for r in now]) / med([getattr(r, what) for r in base]):.2f}x"
        )

    lines += [
        "",
        f"Ratios to the same-run baselines: YAML {ratio(yaml_now, yaml_base, 'wall')} of "
        f"PyYAML's wall time ({ratio(yaml_now, yaml_base, 'cpu')} of its CPU time), "
        f"{ratio(yaml_now, yaml_serial, 'wall')} of one thread's, "
        f"{ratio(yaml_now, yaml_whole, 'wall')} of each file's read whole; JSON "
        f"{ratio(json_now, json_base, 'wall')} of `json`'s wall time "
        f"({ratio(json_now, json_base, 'cpu')} of its CPU time).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
