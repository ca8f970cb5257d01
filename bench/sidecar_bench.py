"""Benchmarks for `birdgen run` (results in docs/performance.md, section "birdgen run").

Measured side by side in one run, each with a baseline from the same run:
1. latency from an API change to BIRD routing the new /32 (p50/p99), default debounce vs none;
2. reloads per burst of 1,000 endpoint changes, default debounce vs none;
3. resident memory and initial-sync time of `birdgen run` watching a synthetic cluster
   (bench/gen_cluster.py: 1,000 nodes, 20,000 Services, 100,000 endpoints), vs an idle
   interpreter that imported the same modules.

Real BIRD runs in a private network namespace (`unshare -n`); the API is tests/kubeapi_server.py
on 127.0.0.1. Needs root. Usage: .venv/bin/python bench/sidecar_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "sidecar"))

from conftest import (  # noqa: E402
    BOOT_CONF,
    NODE,
    Bird,
    endpoint_slice,
    populate,
    service,
    wait_for,
)
from kubeapi_server import FakeApiServer, new_api_client  # noqa: E402

from birdgen.model.resources import Environment  # noqa: E402
from birdgen.reload import SocketReloader  # noqa: E402
from birdgen.sidecar.loop import Sidecar  # noqa: E402
from birdgen.sidecar.reconcile import Reconciler  # noqa: E402
from birdgen.sources.kube import KubeSource  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Setup:
    def __init__(self, debounce: float, max_delay: float) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bgbench-"))
        conf = self.dir / "bird.conf"
        conf.write_text(BOOT_CONF)
        self.bird = Bird(self.dir, conf, str(self.dir / "bird.ctl"))
        self.api = FakeApiServer(bookmark_interval=60).start()
        populate(self.api)
        self.bird.start()
        self.client = new_api_client(self.api.kubeconfig(self.dir / "kubeconfig"))
        self.sidecar = Sidecar(
            Reconciler(conf, Environment.from_mapping(NODE, {}, NODE), SocketReloader(self.bird.sock, "/usr/sbin/bird")),
            kube=KubeSource(self.client), debounce=debounce, max_delay=max_delay,
        )  # fmt: skip
        self.thread = threading.Thread(target=self.sidecar.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.sidecar.reconciler.ready, 20)

    def close(self) -> None:
        self.sidecar.stop()
        self.thread.join(10)
        self.client.close()
        self.bird.stop()
        self.api.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def latency(debounce: float, max_delay: float, n: int) -> list[float]:
    s = Setup(debounce, max_delay)
    out = []
    try:
        for i in range(n):
            ip = f"10.49.1.{i + 1}"
            s.api.create(service(f"s{i}", ip))
            began = time.monotonic()
            s.api.create(endpoint_slice(f"s{i}", [NODE]))
            # Poll BIRD every ~2 ms: the latency an operator would see, not birdgen's guess.
            wait_for(lambda ip=ip: f"{ip}/32" in s.bird.routes(), 10)  # type: ignore[misc]
            out.append(time.monotonic() - began)
            time.sleep(0.05)
    finally:
        s.close()
    return out


def burst(debounce: float, max_delay: float, rounds: int) -> list[float]:
    s = Setup(debounce, max_delay)
    counts = []
    try:
        for _ in range(rounds):
            before = s.sidecar.metrics.value("birdgen_reloads_total", result="success")
            for i in range(1000):
                s.api.update(endpoint_slice("web", [NODE] if i % 2 else ["node-2"]))
                time.sleep(0.0025)
            s.api.update(endpoint_slice("web", [NODE, "node-2"]))
            time.sleep(2.0)
            counts.append(
                s.sidecar.metrics.value("birdgen_reloads_total", result="success") - before
            )
    finally:
        s.close()
    return counts


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def big_cluster(nodes: int, services: int, endpoints: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bgbig-"))
    try:
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_cluster.py"), "--nodes", str(nodes),
                        "--services", str(services), "--endpoints", str(endpoints), "--format", "json",
                        "--out", str(tmp / "m"), "--seed", "1"], check=True)  # fmt: skip
        api = FakeApiServer(bookmark_interval=60).start()
        loaded = 0
        for f in sorted((tmp / "m").glob("*.json")):
            for item in json.loads(f.read_text())["items"]:
                meta = item.setdefault("metadata", {})
                for k in ("resourceVersion", "uid", "creationTimestamp"):
                    meta.pop(k, None)
                if item.get("apiVersion", "").startswith("projectcalico.org/"):
                    item["apiVersion"] = "crd.projectcalico.org/v1"
                api.create(item)
                loaded += 1
        port = 19000 + os.getpid() % 1000
        conf = tmp / "bird.conf"
        conf.write_text(BOOT_CONF)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        argv = [sys.executable, "-m", "birdgen", "run", "--kubeconfig", str(api.kubeconfig(tmp / "kc")),
                "--node", "node-0001", "-o", str(conf), "--reload-command", "true", "--bird", "/usr/sbin/bird",
                "--metrics-addr", f"127.0.0.1:{port}"]  # fmt: skip
        began = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
        try:
            peak = 0

            def ready() -> bool:
                nonlocal peak
                peak = max(peak, rss_kib(proc.pid))
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                        return bool(r.status == 200)
                except OSError:
                    return False

            wait_for(ready, 600)
            sync = time.monotonic() - began
            time.sleep(3)
            steady = rss_kib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
            api.stop()
        idle = subprocess.Popen([sys.executable, "-c", "import birdgen.cli, birdgen.sources.kube, birdgen.sidecar.loop, time; time.sleep(5)"])  # fmt: skip
        time.sleep(3)
        baseline = rss_kib(idle.pid)
        idle.terminate()
        idle.wait(10)
        return {"objects": loaded, "sync_s": sync, "rss_steady_mib": steady / 1024,
                "rss_peak_mib": peak / 1024, "rss_idle_baseline_mib": baseline / 1024}  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller cluster, fewer samples")
    args = ap.parse_args()
    n = 20 if args.quick else 60
    results: dict[str, Any] = {}
    for label, (d, m) in {"default (0.1 s / 1 s)": (0.1, 1.0), "baseline: no debounce": (0.0, 0.0)}.items():  # fmt: skip
        lat = latency(d, m, n)
        results[f"latency {label}"] = {"n": n, "p50_ms": 1000 * statistics.median(lat), "p99_ms": 1000 * pct(lat, 99)}  # fmt: skip
        counts = burst(d, m, 3)
        results[f"reloads per 1,000-change burst {label}"] = {"runs": counts, "median": statistics.median(counts)}  # fmt: skip
        print(json.dumps(results, indent=1), flush=True)
    size = (100, 2000, 10000) if args.quick else (1000, 20000, 100000)
    results[f"cluster {size}"] = big_cluster(*size)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
