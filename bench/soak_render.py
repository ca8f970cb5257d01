"""Soak: kill `birdgen render -o` with SIGKILL at random moments; the file must always be the
old or the new config in full, and no staged file may outlive the next run.

Everything happens in a temporary directory (nothing is sent anywhere; `--check` only runs
`bird -p`, which parses and exits). Each round starts a render from the manifests of the config
the file does not hold, kills it after a random delay, and reads the file back:

* the file must equal config A or config B byte for byte (anything else is a torn write);
* a staged `.bird.conf.*.tmp` may be left by a kill between staging and rename, and must be gone
  once the next run has got as far as writing (checked every round: at most one at a time);
* after the last round one run completes, and the directory must hold the file alone.

Delays are drawn uniformly over the whole of an uninterrupted run (measured first), so kills
land before, during and after the write; the report says how many landed in each phase.

    python bench/soak_render.py --rounds 500 --services 2000
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

WALKTHROUGH = Path(__file__).resolve().parents[1] / "examples" / "walkthrough"


def services(count: int, offset: int) -> str:
    """`count` Local Services with a ready endpoint on node-1: one /32 route each."""
    docs = []
    for i in range(count):
        ip = f"10.49.{100 + (i + offset) // 250}.{(i + offset) % 250 + 1}"
        docs.append(
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}, namespace: soak}}\n"
            f"spec: {{type: NodePort, clusterIP: {ip}, externalTrafficPolicy: Local}}\n---\n"
            f"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
            f"metadata: {{name: s{i}-1, namespace: soak, labels: {{kubernetes.io/service-name: s{i}}}}}\n"
            f"addressType: IPv4\nendpoints: [{{addresses: [10.48.0.{i % 250 + 1}], nodeName: node-1,"
            f" conditions: {{ready: true}}}}]\n"
        )
    return "---\n".join(docs)


def strays(directory: Path) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n != "bird.conf")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=500)
    ap.add_argument("--services", type=int, default=2000, help="routes in each config")
    ap.add_argument("--budget", type=float, default=900.0, help="stop after this many seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-check", action="store_true", help="skip `--check` (bird -p)")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    bird = shutil.which("bird") or ("/usr/sbin/bird" if os.path.exists("/usr/sbin/bird") else None)
    check = [] if args.no_check or bird is None else ["--check", "--bird", bird]

    with tempfile.TemporaryDirectory(prefix="birdgen-soak-") as tmp:
        root = Path(tmp)
        out_dir = root / "out"
        out_dir.mkdir()
        out = out_dir / "bird.conf"
        sources = {}
        for name, offset in (("A", 0), ("B", 1)):
            d = root / name
            shutil.copytree(WALKTHROUGH, d)
            (d / "soak.yaml").write_text(services(args.services, offset))
            sources[name] = d

        def argv_for(name: str) -> list[str]:
            return [sys.executable, "-m", "birdgen", "render", "-f", str(sources[name]),
                    "--node", "node-1", "-o", str(out), *check]  # fmt: skip

        # The two configs in full, and how long an uninterrupted run takes.
        texts, durations = {}, []
        for name in ("A", "B", "A", "B", "A"):
            started = time.monotonic()
            subprocess.run(argv_for(name), check=True, capture_output=True, timeout=120)
            durations.append(time.monotonic() - started)
            texts[name] = out.read_bytes()
        assert texts["A"] != texts["B"]
        run_time = statistics.median(durations)
        holds = "A"

        outcomes: Counter[str] = Counter()
        worst_strays = 0
        started = time.monotonic()
        rounds = 0
        while rounds < args.rounds and time.monotonic() - started < args.budget:
            rounds += 1
            target = "B" if holds == "A" else "A"
            delay = rng.uniform(0.0, run_time * 1.05)
            proc = subprocess.Popen(argv_for(target), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            try:
                proc.wait(timeout=delay)
                finished = True
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                finished = False
            data = out.read_bytes()
            left = strays(out_dir)
            worst_strays = max(worst_strays, len(left))
            if data not in (texts["A"], texts["B"]):
                outcomes["torn"] += 1
            elif finished:
                outcomes["finished before the kill"] += 1
            elif data == texts[target]:
                outcomes["killed after the rename"] += 1
            elif left:
                outcomes["killed between staging and rename"] += 1
            else:
                outcomes["killed before staging"] += 1
            holds = "A" if data == texts["A"] else "B"
        subprocess.run(argv_for("B" if holds == "A" else "A"), check=True, capture_output=True, timeout=120)  # fmt: skip
        final_strays = strays(out_dir)
        elapsed = time.monotonic() - started

    print(f"rounds: {rounds} in {elapsed:.0f} s (an uninterrupted run: {run_time * 1000:.0f} ms median,"
          f" {len(texts['A']) // 1024} KiB config, {args.services} routes, check: {bool(check)})")  # fmt: skip
    for outcome in ("killed before staging", "killed between staging and rename", "killed after the rename", "finished before the kill", "torn"):  # fmt: skip
        print(f"  {outcome}: {outcomes[outcome]}")
    print(f"  most staged files seen at once: {worst_strays}")
    print(f"  staged files left after a final run: {len(final_strays)}")
    ok = outcomes["torn"] == 0 and not final_strays and worst_strays <= 1 and rounds >= args.rounds
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
