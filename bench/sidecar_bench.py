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
import resource
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

from bird_daemon import BIRD  # noqa: E402
from conftest import (  # noqa: E402
    BOOT_CONF,
    NODE,
    Bird,
    endpoint_slice,
    obj,
    populate,
    service,
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
        poll(lambda: self.sidecar.reconciler.ready, 20, every=0.02)

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
            poll(lambda ip=ip: f"{ip}/32" in s.bird.routes(), 10)  # type: ignore[misc]
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


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """User + system CPU seconds of this process: the API double's threads, mostly."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def poll(predicate: Any, timeout: float, every: float = 0.002) -> float:
    """Seconds until `predicate()` holds, polled every `every` seconds (~2 ms by default)."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError("not met in time")
        time.sleep(every)
    return time.monotonic() - began


def load_cluster(nodes: int, services: int, endpoints: int, api: FakeApiServer) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bgbig-"))
    try:
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_cluster.py"), "--nodes", str(nodes),
                        "--services", str(services), "--endpoints", str(endpoints), "--format", "json",
                        "--out", str(tmp / "m"), "--seed", "1"], check=True)  # fmt: skip
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
        return loaded
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def traffic(api: FakeApiServer, since: float = 0.0, until: float = float("inf")) -> dict[str, Any]:
    reqs = [r for r in api.requests(since=since) if r.at < until]
    return {"requests": len(reqs), "lists": sum(not r.watch for r in reqs),
            "watches": sum(r.watch for r in reqs), "MiB": sum(r.sent for r in reqs) / 2**20}  # fmt: skip


def node_cost(nodes: int, services: int, endpoints: int, changes: int) -> dict[str, Any]:
    """One `birdgen run` for node-0001 against the API double serving the synthetic cluster, with
    a real BIRD (in its own network namespace): sync, memory, CPU and latency per change, and
    what it asks of the API server."""
    node = "node-0001"
    api = FakeApiServer(bookmark_interval=60).start()
    tmp = Path(tempfile.mkdtemp(prefix="bgnode-"))
    conf = tmp / "bird.conf"
    conf.write_text(BOOT_CONF)
    bird = Bird(tmp, conf, str(tmp / "bird.ctl"))
    proc = None
    try:
        loaded = load_cluster(nodes, services, endpoints, api)
        # The changes: a Local Service whose endpoint comes and goes on this node (relevant), a
        # slice whose endpoint moves between two other nodes (unrelated), a Node's heartbeat.
        api.create(obj("v1", "Service", "bench-local", "default", spec={"type": "NodePort", "clusterIP": "10.111.0.1", "externalTrafficPolicy": "Local", "ports": [{"port": 80}]}))  # fmt: skip

        def slice_on(name: str, nodes_: list[str]) -> Any:
            eps = [{"addresses": [f"10.255.0.{i + 1}"], "nodeName": n, "conditions": {"ready": True}} for i, n in enumerate(nodes_)]  # fmt: skip
            return obj("discovery.k8s.io/v1", "EndpointSlice", name, "default", labels={"kubernetes.io/service-name": name.rpartition("-")[0]}, addressType="IPv4", endpoints=eps)  # fmt: skip

        api.create(obj("v1", "Service", "bench-other", "default", spec={"type": "NodePort", "clusterIP": "10.111.0.2", "externalTrafficPolicy": "Local", "ports": [{"port": 80}]}))  # fmt: skip
        api.create(slice_on("bench-other-1", ["node-0002"]))
        api.create(slice_on("bench-local-1", ["node-0002"]))
        bird.start()
        port = 19000 + os.getpid() % 1000
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        argv = [sys.executable, "-m", "birdgen", "run", "--kubeconfig", str(api.kubeconfig(tmp / "kc")),
                "--node", node, "-o", str(conf), "--control-socket", bird.sock, "--bird", BIRD or "bird",
                "--metrics-addr", f"127.0.0.1:{port}"]  # fmt: skip

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        began = time.monotonic()
        proc = subprocess.Popen(
            argv, env=env, stderr=None if os.environ.get("BENCH_VERBOSE") else subprocess.DEVNULL
        )
        peak = 0
        # CPU at the first request to the API server (birdgen's start-up until then) and the
        # bench process's own (the API double's JSON encoding, which shares the CPUs).
        at_first: tuple[float, float] | None = None

        def ready_tracking_peak() -> bool:
            nonlocal peak, at_first
            peak = max(peak, rss_kib(proc.pid))
            if at_first is None and api.requests():
                at_first = (cpu_s(proc.pid), own_cpu_s())
            return ready()

        # Every 50 ms, not 2: each poll is an HTTP request birdgen's own threads must answer,
        # and 500 a second would slow the very sync being measured.
        poll(ready_tracking_peak, 600, every=0.05)
        sync = time.monotonic() - began
        synced_at = time.monotonic()
        sync_cpu = (cpu_s(proc.pid), own_cpu_s())
        assert at_first is not None
        sync_traffic = traffic(api, until=synced_at)
        # Start-up (the interpreter importing birdgen and the kubernetes client) is apart from
        # the sync proper: from the first request to the API server until /readyz.
        first_request = min(r.at for r in api.requests())
        time.sleep(3)
        steady = rss_kib(proc.pid)
        idle_cpu0, t0 = cpu_s(proc.pid), time.monotonic()
        time.sleep(5)
        idle_cpu_rate = (cpu_s(proc.pid) - idle_cpu0) / (time.monotonic() - t0)

        def per_change(update: Any, n: int) -> float:
            """CPU ms birdgen spends per change, its idle use over the same time taken off."""
            c0, w0 = cpu_s(proc.pid), time.monotonic()
            for i in range(n):
                update(i)
                time.sleep(0.01)
            time.sleep(1.0)  # let the last ones be handled
            return 1000 * ((cpu_s(proc.pid) - c0) - idle_cpu_rate * (time.monotonic() - w0)) / n

        others = [f"node-{i:04}" for i in range(2, min(nodes, 40) + 1)]
        unrelated = per_change(lambda i: api.update(slice_on("bench-other-1", [others[i % len(others)]])), changes // 2)  # fmt: skip
        heartbeat = per_change(lambda i: api.patch("Node", others[i % len(others)], None, lambda o: o.setdefault("status", {}).update(heartbeat=str(i)), api_version="v1"), changes // 2)  # fmt: skip
        # Relevant: this node's /32 comes and goes; latency from the API write to BIRD's table.
        lat, c0 = [], cpu_s(proc.pid)
        n_rel = 30
        for i in range(n_rel):
            here = i % 2 == 0
            api.update(slice_on("bench-local-1", [node] if here else ["node-0002"]))
            lat.append(poll(lambda here=here: ("10.111.0.1/32" in bird.routes()) == here, 30))  # type: ignore[misc]
            time.sleep(0.2)
        relevant_cpu = (
            1000 * (cpu_s(proc.pid) - c0 - idle_cpu_rate * (sum(lat) + 0.2 * n_rel)) / n_rel
        )
        after_churn = rss_kib(proc.pid)
        watch_open = api.open_watches()
        return {
            "objects": loaded, "start_to_ready_s": round(sync, 2),
            "sync_s": round(synced_at - first_request, 2),
            "sync_cpu_s": round(sync_cpu[0] - at_first[0], 2), "start_cpu_s": round(at_first[0], 2),
            "api_double_sync_cpu_s": round(sync_cpu[1] - at_first[1], 2),
            "load_average_at_sync": round(os.getloadavg()[0], 1),
            "rss_peak_mib": round(peak / 1024, 1),
            "rss_steady_mib": round(steady / 1024, 1), "rss_after_changes_mib": round(after_churn / 1024, 1),
            "changes": changes + n_rel,
            "cpu_ms_per_unrelated_slice_change": round(unrelated, 2),
            "cpu_ms_per_node_status_update": round(heartbeat, 2),
            "cpu_ms_per_relevant_change": round(relevant_cpu, 1),
            "latency_relevant_p50_ms": round(1000 * statistics.median(lat), 1),
            "latency_relevant_p99_ms": round(1000 * pct(lat, 99), 1),
            "idle_cpu_percent": round(100 * idle_cpu_rate, 2),
            # A watch's bytes grow while it streams, so what came after the sync is the total
            # now less what had come by then.
            "sync_traffic": sync_traffic,
            "after_sync_traffic": {**traffic(api, since=synced_at), "MiB": traffic(api)["MiB"] - sync_traffic["MiB"]},
            "open_watches": watch_open, "relists_after_sync": sum(not r.watch for r in api.requests(since=synced_at)),
        }  # fmt: skip
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        bird.stop()
        api.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def idle_baseline() -> float:
    idle = subprocess.Popen([sys.executable, "-c", "import birdgen.cli, birdgen.sources.kube, birdgen.sidecar.loop, time; time.sleep(5)"])  # fmt: skip
    time.sleep(3)
    baseline = rss_kib(idle.pid)
    idle.terminate()
    idle.wait(10)
    return round(baseline / 1024, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller cluster, fewer samples")
    ap.add_argument("--only-node-cost", action="store_true", help="skip the latency and burst runs")
    args = ap.parse_args()
    n = 20 if args.quick else 60
    results: dict[str, Any] = {}
    for label, (d, m) in {} if args.only_node_cost else {"default (0.1 s / 1 s)": (0.1, 1.0), "baseline: no debounce": (0.0, 0.0)}.items():  # fmt: skip
        lat = latency(d, m, n)
        results[f"latency {label}"] = {"n": n, "p50_ms": 1000 * statistics.median(lat), "p99_ms": 1000 * pct(lat, 99)}  # fmt: skip
        counts = burst(d, m, 3)
        results[f"reloads per 1,000-change burst {label}"] = {"runs": counts, "median": statistics.median(counts)}  # fmt: skip
        print(json.dumps(results, indent=1), flush=True)
    results["idle interpreter with birdgen's imports, RSS MiB"] = idle_baseline()
    for size in [(10, 200, 1000), (100, 2000, 10000) if args.quick else (1000, 20000, 100000)]:
        results[f"one node of {size[0]:,} nodes / {size[1]:,} Services / {size[2]:,} endpoints"] = node_cost(*size, changes=200 if args.quick else 1000)  # fmt: skip
        print(json.dumps(results, indent=1), flush=True)


if __name__ == "__main__":
    main()
