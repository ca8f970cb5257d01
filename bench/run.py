"""birdgen's performance benchmark: one run, medians over fresh processes, baselines alongside.

    .venv/bin/python bench/run.py                 # print the results (Markdown) to stdout
    .venv/bin/python bench/run.py --update-docs   # ... and rewrite the results in docs/performance.md

What one run measures (each repetition in a fresh process; medians reported):

1. The big cluster (1,000 nodes, 20,000 Services, 100,000 endpoints; `bench/gen_cluster.py`),
   read from files: `birdgen render -f DIR --node node-0001 -o OUT` wall time and peak RSS
   (the child's own `ru_maxrss`, from `wait4`), for JSON input (`--reps`) and YAML input
   (`--yaml-reps`, 1 by default: the pure-Python YAML loader takes over a minute), with the
   per-stage breakdown measured inside the same process (`bench/_probe.py`), and the plain
   console script `.venv/bin/birdgen` alongside to show that the probe's timers cost nothing.
2. The node advertising 100,000 /32s (`gen_cluster.py --preset routes`): the same render, then
   `bird -p -c OUT` on the very file it wrote, and the ratios.
3. Baselines measured in the same run, to compare machines: Python start-up, `import
   birdgen.cli`, `json.load` of the same JSON files, `yaml.load_all` (pure-Python SafeLoader and
   libyaml's CSafeLoader) of the same nodes file, and a plain string join of the 100,000
   `route ... blackhole;` lines (the floor for any Python generator).

Generated data is cached in bench/out/ (git-ignored), keyed by the generator's parameters and
source, so a second run skips generation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DOC = ROOT / "docs" / "performance.md"
START_MARK = "<!-- bench:results:start -->"
END_MARK = "<!-- bench:results:end -->"
PY = sys.executable
TARGET_FULL_S = 3.0
TARGET_RATIO = 2.0

sys.path.insert(0, str(BENCH))
import gen_cluster  # noqa: E402


# ---- processes -------------------------------------------------------------------------------
@dataclass
class Run:
    wall: float
    rss_mib: float
    stages: dict[str, float] = field(default_factory=dict)
    out_hash: str = ""
    cpu: float = 0.0  # the child's user + system CPU seconds (`wait4`), which load inflates less


# The child's peak RSS must not include ours: Linux keeps `maxrss` across execve, so a child
# forked (or vforked) from a big process reports at least that process's RSS. A tiny launcher
# process forks, execs the command, and reports the command's wall time and `wait4` maxrss.
LAUNCHER = """
import os, sys, time
t = time.perf_counter()
os.environ["BIRDGEN_PROBE_SPAWNED"] = repr(t)  # bench/_probe.py: its startup and exit times
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t
cpu = ru.ru_utime + ru.ru_stime
os.write(int(sys.argv[1]), f"{wall} {ru.ru_maxrss} {os.waitstatus_to_exitcode(status)} {cpu}".encode())
"""


def spawn(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str, float]:
    """Run `cmd` to completion: (wall seconds, its peak RSS in MiB, its stderr, CPU seconds)."""
    r, w = os.pipe()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([PY, "-I", "-S", "-c", LAUNCHER, str(w), *cmd], stdout=subprocess.DEVNULL,
                                stderr=err, cwd=cwd, pass_fds=(w,))  # fmt: skip
        os.close(w)
        with os.fdopen(r, "rb") as fh:
            report = fh.read().decode()
        proc.wait()
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    wall, maxrss, code, cpu = report.split() if report else ("0", "0", "-1", "0")
    if proc.returncode != 0 or code != "0":
        raise SystemExit(f"bench: {' '.join(cmd)} failed ({code}):\n{stderr[-3000:]}")
    return float(wall), int(maxrss) / 1024, stderr, float(cpu)


def birdgen_exe() -> str:
    exe = Path(PY).parent / "birdgen"
    return str(exe) if exe.exists() else shutil.which("birdgen") or "birdgen"


def render_runs(
    data: Path, node: str, out: Path, reps: int, probe: bool, what_if: str = ""
) -> list[Run]:
    runs = []
    for _ in range(reps):
        out.unlink(missing_ok=True)  # never "unchanged": every run writes
        args = ["render", "-f", str(data), "--node", node, "-o", str(out)]
        if probe:
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tf:
                timings = Path(tf.name)
            cmd = [PY, str(BENCH / "_probe.py"), str(timings)]
            if what_if:
                cmd += ["--what-if", what_if]
            wall, rss, _, cpu = spawn([*cmd, "--", *args])
            stages = json.loads(timings.read_text())
            timings.unlink()
        else:
            wall, rss, _, cpu = spawn([birdgen_exe(), *args])
            stages = {}
        runs.append(Run(wall, rss, stages, hashlib.sha256(out.read_bytes()).hexdigest(), cpu))
    if len({r.out_hash for r in runs}) != 1:
        raise SystemExit(f"bench: {data}: the rendered output differs between runs")
    return runs


def py_timed(code: str, reps: int) -> list[float]:
    """Run `code` in fresh interpreters; it prints the seconds its measured part took."""
    out = []
    for _ in range(reps):
        res = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True)
        out.append(float(res.stdout.strip().splitlines()[-1]))
    return out


def wall_runs(cmd: list[str], reps: int) -> list[Run]:
    return [Run(*spawn(cmd)[:2]) for _ in range(reps)]


def med(values: list[float]) -> float:
    return statistics.median(values)


# ---- data ------------------------------------------------------------------------------------
def dataset(p: gen_cluster.Params, fmt: str, cache: Path) -> Path:
    """Generate (in a child process, to keep this one small) or reuse a cached data set."""
    src = (BENCH / "gen_cluster.py").read_bytes()
    key = hashlib.sha256(repr((sorted(p.__dict__.items()), fmt)).encode() + src).hexdigest()[:12]
    where = cache / f"{p.preset}-{fmt}-{key}"
    done = where / ".done"
    if not done.exists():
        t = time.perf_counter()
        code = f"import gen_cluster, json, pathlib; c = gen_cluster.generate(gen_cluster.Params(**{p.__dict__!r}), pathlib.Path({str(where)!r}), {fmt!r}); pathlib.Path({str(done)!r}).write_text(json.dumps(c))"
        subprocess.run([PY, "-c", code], cwd=BENCH, check=True)
        print(f"bench: generated {where.name} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return where


def counts_of(data: Path) -> dict[str, int]:
    return json.loads((data / ".done").read_text())


# ---- machine ---------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        bird = (
            subprocess.run(["bird", "--version"], capture_output=True, text=True).stderr.strip()
            or "?"
        )
    except OSError:
        bird = "not found"
    import jinja2
    import yaml

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "bird": bird,
        "libs": f"PyYAML {yaml.__version__} (libyaml {'available' if yaml.__with_libyaml__ else 'absent'}), Jinja2 {jinja2.__version__}",
    }


# ---- the run ---------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="repetitions for each measurement [5]")
    ap.add_argument(
        "--yaml-reps", type=int, default=1, help="repetitions of the (slow) YAML render [1]"
    )
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--services", type=int, default=20000)
    ap.add_argument("--endpoints", type=int, default=100000)
    ap.add_argument("--routes", type=int, default=100000)
    ap.add_argument("--routes-format", choices=("json", "yaml"), default="json")
    ap.add_argument("--node", default="node-0001")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--what-if",
        action="append",
        default=[],
        metavar="LIST",
        help="also run the probe with these what-ifs applied together (pyyaml,serial,whole,json,nogc; see"
        " bench/_probe.py); repeat for separate runs; the /32 node runs the first",
    )
    ap.add_argument(
        "--data", type=Path, default=BENCH / "out", help="cache for generated data [bench/out]"
    )
    ap.add_argument(
        "--update-docs", action="store_true", help=f"rewrite the results in {DOC.relative_to(ROOT)}"
    )
    a = ap.parse_args(argv)
    t_all = time.perf_counter()
    a.data.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="birdgen-bench-"))

    def log(msg: str) -> None:
        print(f"bench: [{time.perf_counter() - t_all:6.1f} s] {msg}", file=sys.stderr, flush=True)

    big = gen_cluster.Params(nodes=a.nodes, services=a.services, endpoints=a.endpoints, seed=a.seed)
    rts = gen_cluster.Params(
        nodes=a.nodes, preset="routes", routes=a.routes, seed=a.seed, all_local_on=a.node
    )
    big_json, big_yaml = dataset(big, "json", a.data), dataset(big, "yaml", a.data)
    routes_data = dataset(rts, a.routes_format, a.data)
    log("data ready")
    info = machine()
    R = a.reps

    # Baselines.
    base: dict[str, float] = {}
    base["python"] = med([r.wall for r in wall_runs([PY, "-c", "pass"], R)])
    base["import"] = med([r.wall for r in wall_runs([PY, "-c", "import birdgen.cli"], R)])
    json_files = sorted(str(p) for p in big_json.glob("*.json"))
    base["json_load"] = med(py_timed(
        "import json,time;t=time.perf_counter()\n"
        f"for f in {json_files!r}:\n    json.load(open(f))\n"
        "print(time.perf_counter()-t)", R))  # fmt: skip
    nodes_yaml = str(big_yaml / "10-nodes.yaml")
    head = Path(nodes_yaml).read_text()
    head = (
        head[: head.find("\n---\n", 2**20) + 1] if len(head) > 2**20 + 10 else head
    )  # ~1 MiB of Nodes
    nodes_mb = len(head) / 2**20
    (work / "nodes-head.yaml").write_text(head)
    nodes_yaml = str(work / "nodes-head.yaml")
    for loader in ("SafeLoader", "CSafeLoader"):
        base[f"yaml_{loader}"] = med(py_timed(
            f"import yaml,time;s=open({nodes_yaml!r}).read();t=time.perf_counter()\n"
            f"list(yaml.load_all(s, Loader=yaml.{loader}));print(time.perf_counter()-t)", R))  # fmt: skip
    base["join"] = med(py_timed(
        "import ipaddress,time\n"
        f"nets=[ipaddress.ip_network(ipaddress.IPv4Address(0x0A600000+i)) for i in range({a.routes})]\n"
        "t=time.perf_counter();s=''.join(f'  route {n} blackhole;\\n' for n in nets);print(time.perf_counter()-t)",
        R))  # fmt: skip
    log("baselines done")

    # The big cluster.
    out = work / "bird.conf"
    json_probe = render_runs(big_json, a.node, out, R, probe=True)
    log("big cluster, JSON, probe done")
    json_plain = render_runs(big_json, a.node, out, R, probe=False)
    log("big cluster, JSON, console script done")
    yaml_probe = render_runs(big_yaml, a.node, out, a.yaml_reps, probe=True)
    big_routes = out.read_text().count(" blackhole;")
    log("big cluster, YAML, probe done")
    what_ifs: dict[str, list[Run]] = {}
    if a.what_if:
        for w in a.what_if:
            what_ifs[f"YAML, what-if {w}"] = render_runs(
                big_yaml, a.node, out, a.yaml_reps, probe=True, what_if=w
            )
            what_ifs[f"JSON, what-if {w}"] = render_runs(
                big_json, a.node, out, R, probe=True, what_if=w
            )
        log("what-ifs done")

    # The 100,000-/32 node, and BIRD on the same output.
    rout = work / "routes.conf"
    routes_probe = render_runs(routes_data, a.node, rout, R, probe=True)
    n_routes = sum(
        1 for line in rout.read_text().splitlines() if re.match(r"\s*route \S+/32 blackhole;", line)
    )
    bird = shutil.which("bird") or "/usr/sbin/bird"
    bird_runs = wall_runs([bird, "-p", "-c", str(rout)], R)
    log("routes node done")
    routes_whatif: list[Run] = []
    if a.what_if:
        routes_whatif = render_runs(routes_data, a.node, rout, R, probe=True, what_if=a.what_if[0])

    # Same bytes whatever the input format, the entry point or the what-if.
    if (
        len(
            {
                r.out_hash
                for r in [
                    *json_probe,
                    *json_plain,
                    *yaml_probe,
                    *(r for runs in what_ifs.values() for r in runs),
                ]
            }
        )
        != 1
    ):
        raise SystemExit(
            "bench: the big cluster's rendered output differs between formats or what-ifs"
        )
    if len({r.out_hash for r in [*routes_probe, *routes_whatif]}) != 1:
        raise SystemExit("bench: the /32 node's rendered output differs with the what-if")
    sizes = {"yaml": dir_mb(big_yaml), "json": dir_mb(big_json), "routes": dir_mb(routes_data)}
    md = report(a, info, base, nodes_mb, sizes, counts_of(big_json), big_routes, counts_of(routes_data), n_routes,
                json_probe, json_plain, yaml_probe, what_ifs, routes_probe, routes_whatif, bird_runs,
                time.perf_counter() - t_all)  # fmt: skip
    print(md)
    if a.update_docs:
        update_docs(md)
        log(f"updated {DOC.relative_to(ROOT)}")
    shutil.rmtree(work, ignore_errors=True)
    log("done")
    return 0


# ---- the report ------------------------------------------------------------------------------
STAGES = (("read", "read files"), ("parse", "parse YAML/JSON"), ("model", "model (parse_cluster)"),
          ("plan", "plan (build_plan)"), ("render", "render (Jinja)"), ("write", "write (apply)"))  # fmt: skip


def s(x: float) -> str:
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def ms(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x >= 0.01 else f"{x * 1000:.1f} ms"


def stage_med(runs: list[Run], key: str) -> float:
    return med([r.stages.get(key, 0.0) for r in runs])


def other(runs: list[Run]) -> float:
    """Wall time outside birdgen's imports and stages: interpreter start-up, exit (freeing every
    object), click, the probe itself."""
    inside = [
        sum(r.stages.get(k, 0.0) for k, _ in STAGES) + r.stages.get("imports", 0.0) for r in runs
    ]
    return med([r.wall - i for r, i in zip(runs, inside, strict=True)])


def breakdown(cols: list[tuple[str, list[Run]]]) -> list[str]:
    head = "| stage | " + " | ".join(f"{name}" for name, _ in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]
    for key, label in (
        ("_other", "interpreter start-up and exit, other"),
        ("imports", "import birdgen.cli"),
        *STAGES,
    ):
        cells = []
        for _, runs in cols:
            v = other(runs) if key == "_other" else stage_med(runs, key)
            total = med([r.wall for r in runs])
            cells.append(f"{s(v)} ({v / total:.0%})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append(
        "| **wall (median)** | "
        + " | ".join(f"**{s(med([r.wall for r in runs]))}**" for _, runs in cols)
        + " |"
    )
    return lines


def report(a: Any, info: dict[str, str], base: dict[str, float], nodes_mb: float, sizes: dict[str, float], big: dict[str, int],
           big_routes: int, rc: dict[str, int], n_routes: int, json_probe: list[Run], json_plain: list[Run],
           yaml_probe: list[Run], what_ifs: dict[str, list[Run]], routes_probe: list[Run],
           routes_whatif: list[Run], bird_runs: list[Run], elapsed: float) -> str:  # fmt: skip
    R = a.reps
    w = lambda runs: med([r.wall for r in runs])  # noqa: E731
    rss = lambda runs: max(r.rss_mib for r in runs)  # noqa: E731
    verdict = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    bird_t = w(bird_runs)
    L: list[str] = []
    L += [f"Measured {info['date']} by `.venv/bin/python bench/run.py` (reps {R}, YAML reps {a.yaml_reps}, "
          f"seed {a.seed}; run took {elapsed:.0f} s).", "",
          f"- CPU: {info['cpu']}; {info['os']}", f"- Python {info['python']}; {info['libs']}",
          f"- {info['bird']}", ""]  # fmt: skip
    L += ["### Inputs", "",
          "| data set | nodes | Services | EndpointSlices | endpoints | size | /32 routes on the node |",
          "|---|---|---|---|---|---|---|",
          f"| big cluster, YAML | {big['nodes']:,} | {big['services']:,} | {big['endpointslices']:,} | "
          f"{big['endpoints']:,} | {sizes['yaml']:.0f} MiB | {big_routes:,} blackholes in all |",
          f"| big cluster, JSON | same | | | | {sizes['json']:.0f} MiB | same |",
          f"| {a.routes:,}-/32 node, {a.routes_format.upper()} | {rc['nodes']:,} | {rc['services']:,} | {rc['endpointslices']:,} | "
          f"{rc['endpoints']:,} | {sizes['routes']:.0f} MiB | {n_routes:,} |", ""]  # fmt: skip
    full_json, full_yaml = w(json_probe), w(yaml_probe)
    render_t = stage_med(routes_probe, "render")
    L += ["### Targets", "",
          "| target | measured | ratio to target | verdict |", "|---|---|---|---|",
          f"| full render of node-0001, big cluster, JSON files, ≤ {TARGET_FULL_S:.0f} s | {s(full_json)} | "
          f"{full_json / TARGET_FULL_S:.2f}x | {verdict(full_json <= TARGET_FULL_S)} |",
          f"| full render of node-0001, big cluster, YAML files, ≤ {TARGET_FULL_S:.0f} s | {s(full_yaml)} | "
          f"{full_yaml / TARGET_FULL_S:.2f}x | {verdict(full_yaml <= TARGET_FULL_S)} |",
          f"| {a.routes:,}-/32 node: rendering (the render step) ≤ {TARGET_RATIO:.0f}x `bird -p` | "
          f"{ms(render_t)} vs {ms(bird_t)} | {render_t / bird_t / TARGET_RATIO:.2f}x | "
          f"{verdict(render_t <= TARGET_RATIO * bird_t)} |",
          f"| {a.routes:,}-/32 node, stricter reading: whole `birdgen render` ≤ {TARGET_RATIO:.0f}x `bird -p` | "
          f"{s(w(routes_probe))} vs {ms(bird_t)} | {w(routes_probe) / bird_t / TARGET_RATIO:.0f}x | "
          f"{verdict(w(routes_probe) <= TARGET_RATIO * bird_t)} |", ""]  # fmt: skip
    L += ["### Big cluster: `birdgen render -f DIR --node node-0001 -o OUT`", "",
          "| input | wall (median) | min-max | peak RSS (max) | runs |", "|---|---|---|---|---|",
          f"| JSON, probe | {s(full_json)} | {s(min(r.wall for r in json_probe))}-{s(max(r.wall for r in json_probe))} | "
          f"{rss(json_probe):.0f} MiB | {len(json_probe)} |",
          f"| JSON, plain `.venv/bin/birdgen` | {s(w(json_plain))} | {s(min(r.wall for r in json_plain))}-"
          f"{s(max(r.wall for r in json_plain))} | {rss(json_plain):.0f} MiB | {len(json_plain)} |",
          f"| YAML, probe | {s(full_yaml)} | {s(min(r.wall for r in yaml_probe))}-{s(max(r.wall for r in yaml_probe))} | "
          f"{rss(yaml_probe):.0f} MiB | {len(yaml_probe)} |"]  # fmt: skip
    for name, runs in what_ifs.items():
        L.append(f"| {name} | {s(w(runs))} | {s(min(r.wall for r in runs))}-{s(max(r.wall for r in runs))} | "
                 f"{rss(runs):.0f} MiB | {len(runs)} |")  # fmt: skip
    L += ["", "Where the time goes (medians; share of the wall time):", ""]
    L += breakdown([("JSON", json_probe), ("YAML", yaml_probe), *what_ifs.items()])
    L += [
        "",
        f"### The {a.routes:,}-/32 node against `bird -p` on the same file",
        "",
        "| measurement | median | ratio to `bird -p` |",
        "|---|---|---|",
    ]
    rows = [
        ("`birdgen render` (whole command)", w(routes_probe)),
        ("  of which plan + render + write (objects already in memory)",
         stage_med(routes_probe, "plan") + stage_med(routes_probe, "render") + stage_med(routes_probe, "write")),
        ("  of which render (Jinja) alone", stage_med(routes_probe, "render")),
        (f"`bird -p -c OUT` (peak RSS {rss(bird_runs):.0f} MiB)", bird_t),
        (f"baseline: Python string join of the {a.routes:,} `route` lines", base["join"]),
    ]  # fmt: skip
    if routes_whatif:
        rows.insert(1, (f"`birdgen render`, what-if {a.what_if[0]}", w(routes_whatif)))
    L += [f"| {name} | {s(v) if v >= 1 else ms(v)} | {v / bird_t:.1f}x |" for name, v in rows]
    L += ["", f"Peak RSS of the render: {rss(routes_probe):.0f} MiB.", ""]
    L += breakdown(
        [(f"{a.routes:,}-/32 node, {a.routes_format.upper()}", routes_probe)]
        + ([(f"what-if {a.what_if[0]}", routes_whatif)] if routes_whatif else [])
    )
    L += ["", "### Baselines (same run, fresh interpreters)", "", "| baseline | median | compare with |", "|---|---|---|",
          f"| `python -c pass` | {ms(base['python'])} | start-up in the breakdowns |",
          f"| `python -c 'import birdgen.cli'` | {ms(base['import'])} | start-up in the breakdowns |",
          f"| `json.load` (read + parse) of the big cluster's JSON files | {s(base['json_load'])} | birdgen's read + "
          f"parse stages: {(stage_med(json_probe, 'load')) / base['json_load']:.2f}x |",
          f"| `yaml.load_all`, pure-Python `SafeLoader`, the first Nodes ({nodes_mb:.1f} MiB) | {s(base['yaml_SafeLoader'])} | "
          f"{nodes_mb / base['yaml_SafeLoader']:.2f} MiB/s; birdgen's YAML parse stage: "
          f"{sizes['yaml'] / max(stage_med(yaml_probe, 'parse'), 1e-9):.2f} MiB/s |",
          f"| `yaml.load_all`, libyaml `CSafeLoader`, same file | {s(base['yaml_CSafeLoader'])} | "
          f"{base['yaml_SafeLoader'] / base['yaml_CSafeLoader']:.1f}x faster than SafeLoader |",
          f"| string join of {a.routes:,} route lines | {ms(base['join'])} | render stage of the /32 node: "
          f"{stage_med(routes_probe, 'render') / base['join']:.1f}x |"]  # fmt: skip
    return "\n".join(L) + "\n"


def dir_mb(data: Path) -> float:
    return sum(f.stat().st_size for f in data.iterdir() if f.suffix in (".json", ".yaml")) / 2**20


def update_docs(md: str) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if START_MARK not in text or END_MARK not in text:
        raise SystemExit(f"bench: {DOC} has no {START_MARK} ... {END_MARK} markers")
    head, rest = text.split(START_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    DOC.write_text(f"{head}{START_MARK}\n{md}{END_MARK}{tail}", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
