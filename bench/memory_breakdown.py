"""What the sidecar's memory after the sync is made of, by the line that allocated it.

    .venv/bin/python bench/memory_breakdown.py [--nodes 1000] [--top 40]

In one process: the API double (tests/kubeapi_server.py) loaded with `bench/gen_cluster.py
--seed 1` (1,000 nodes: 40,381 objects), then, with tracemalloc on, the sidecar's `Sidecar`
(informers over HTTP, `Lean` records, the `Reconciler`'s incremental state) synced for
node-0001, as `birdgen run` does but with `true` as the reload command (BIRD's `bird -p`
still checks each config). Prints the memory still allocated 2 s after the first apply,
grouped by the line of birdgen (or of another package) that allocated it, and by file.

Allocations made before tracing starts (the double's objects) are not counted, and the
double's own are filtered out. Slow: tracemalloc makes the sync some ten times longer (about
half an hour on the loaded 2-CPU machine). RSS is not measured here (the double shares the
process): `bench/sidecar_bench.py --only-node-cost` measures it on `birdgen run` itself.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from kubeapi_server import FakeApiServer, new_api_client  # noqa: E402
from sidecar_bench import load_cluster, poll  # noqa: E402

from birdgen.model.resources import Environment  # noqa: E402
from birdgen.reload import CommandReloader  # noqa: E402
from birdgen.sidecar import heap  # noqa: E402
from birdgen.sidecar.loop import Sidecar  # noqa: E402
from birdgen.sidecar.reconcile import Reconciler  # noqa: E402
from birdgen.sources.kube import KubeSource  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    heap.tune()  # as `birdgen run` does before any thread starts
    node = "node-0001"
    tmp = Path(tempfile.mkdtemp(prefix="bgmem-"))
    api = FakeApiServer(bookmark_interval=60).start()
    try:
        loaded = load_cluster(args.nodes, 20 * args.nodes, 100 * args.nodes, api)
        conf = tmp / "bird.conf"
        conf.write_text("")
        client = new_api_client(api.kubeconfig(tmp / "kubeconfig"))
        tracemalloc.start()
        env = Environment.from_mapping(node, {}, node)
        reconciler = Reconciler(conf, env, CommandReloader(["true"]))
        sidecar = Sidecar(reconciler, kube=KubeSource(client))
        thread = threading.Thread(target=sidecar.run, daemon=True)
        thread.start()
        poll(lambda: reconciler.ready, 7200, every=0.1)
        time.sleep(2)
        ignore = [tracemalloc.__file__, "*/kubeapi_server.py"]
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, f) for f in ignore]
        )
        total = sum(s.size for s in snap.statistics("filename"))
        print(f"{loaded:,} objects; traced after the sync: {total / 2**20:.1f} MiB")
        print("MiB      blocks  allocated at")
        for s in snap.statistics("lineno")[: args.top]:
            frame = s.traceback[0]
            print(f"{s.size / 2**20:6.2f} {s.count:9,}  {frame.filename.removeprefix(str(ROOT) + '/')}:{frame.lineno}")  # fmt: skip
        print("by file:")
        for s in snap.statistics("filename")[: args.top // 2]:
            print(f"{s.size / 2**20:6.2f} {s.count:9,}  {s.traceback[0].filename.removeprefix(str(ROOT) + '/')}")  # fmt: skip
        sidecar.stop()
        thread.join(10)
        client.close()
    finally:
        api.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
