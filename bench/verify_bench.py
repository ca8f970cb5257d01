"""What it costs to check that BIRD runs the plan, at 10,000 and 100,000 routes (issue 12).

A node that originates N /32s (`gen_cluster.py --preset routes`, node-0001) runs BIRD with the
config birdgen renders, with an Established eBGP session to a peer BIRD (the generated ToR,
10.0.255.254), both in network namespaces this script creates and deletes. Measured, medians
of `--reps`, all in the same run:

* `configure` (baseline): one /32 swapped for another, plain `configure`;
* the transaction: the same change as `configure "…" timeout N`, the count checks, `confirm`;
* the count checks alone (what the transaction adds);
* the full comparison: every route of svc4 and every route exported to the session listed and
  compared with the plan (`observe` + `drift.compare`), what `birdgen status` and the drift
  check do;
* what each apply sent the peer: its BGP import updates and withdraws received (BIRD's route
  change stats) over the `configure` and transaction applies, per apply. One /32 swapped for
  another is one update and one withdraw, at any route count (issue 14).

    sudo .venv/bin/python bench/verify_bench.py --routes 10000 --routes 100000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_cluster import Params, generate

from birdgen.lab.peer import NodeAndPeer
from birdgen.model.resources import Environment
from birdgen.pipeline import Rendered, render_objects
from birdgen.reload.control import BirdControl
from birdgen.reload.show import read_protocols
from birdgen.sources import files
from birdgen.verify.drift import compare
from birdgen.verify.observe import count_exported, observe
from birdgen.verify.transaction import Expectation, Transaction

NODE = "node-0001"


def median_ms(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def wait(what: str, ok: Callable[[], object], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while (last := ok()) is not True:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}; last seen: {last}")
        time.sleep(0.2)


def rendered_for(routes: int, work: Path) -> tuple[Rendered, Rendered]:
    """The node's config, and the same with one /32 swapped (an apply's typical change)."""
    generate(Params(preset="routes", routes=routes, nodes=3, seed=1), work / "in", "json")
    objects = files.load([str(work / "in")])
    env = Environment.from_mapping(NODE, {})
    base = render_objects(objects, env)
    last = base.plan.v4.routes[-1].text
    swapped = base.text.replace(f"route {last} blackhole;", "route 10.255.255.255/32 blackhole;")
    # The swapped text's plan is the base plan with that one route replaced.
    v4 = base.plan.v4
    routes_ = (*v4.routes[:-1], v4.routes[-1]._replace(text="10.255.255.255/32"))
    plan = dataclasses.replace(base.plan, v4=dataclasses.replace(v4, routes=routes_))
    return base, Rendered(swapped, plan, ())


def bench(routes: int, reps: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bgvb-"))
    base, swapped = rendered_for(routes, work)
    with NodeAndPeer(base.text, base.plan, work, start_timeout=600) as lab:
        node = lab.node
        session = lab.session.name
        sock = str(node.sock)
        with BirdControl(sock, timeout=600) as ctl:
            want = len(base.plan.v4.routes)

            def exported() -> object:
                # What the verification reads: the routes BIRD's export filter passes.
                got = read_protocols(ctl)[session]
                n = count_exported(ctl, session, "svc4") if got.established else 0
                return True if n == want else f"{got.bgp_state}, {n} of {want}"

            print(f"{routes}: BIRD up, waiting for the session", file=sys.stderr, flush=True)
            wait("the session Established and every route passing its export", exported, 900)
            print(f"{routes}: waiting for the peer to hold them", file=sys.stderr, flush=True)
            wait("the peer holding every route", lambda: peer_settled(lab) or "not yet", 900)
            print(f"{routes}: session up, measuring", file=sys.stderr, flush=True)
        texts = [base, swapped]
        state = {"i": 0}

        def next_text() -> Rendered:
            state["i"] ^= 1
            node.conf.write_text(texts[state["i"]].text)
            return texts[state["i"]]

        def plain() -> None:
            next_text()
            with BirdControl(sock, timeout=600) as ctl:
                ctl.configure(str(node.conf))

        tx = Transaction(sock, 60, connect_timeout=600)

        def transaction() -> None:
            r = next_text()
            tx.run(node.conf, Expectation(r.plan, texts[state["i"] ^ 1].text, r.text))

        def counts() -> None:
            r = texts[state["i"]]
            with BirdControl(sock, timeout=600) as ctl:
                before = read_protocols(ctl)
                problems, _ = tx._verify(
                    ctl, r.plan, before, frozenset(before), time.monotonic() + 30
                )
            assert not problems, problems

        def full() -> None:
            r = texts[state["i"]]
            drift = compare(r.plan, observe(sock, r.plan, kernel=True, timeout=600))
            assert drift.clean, drift.findings[:3]

        since, before = lab.peer_session().since, peer_received(lab)
        out = {
            "configure (baseline)": median_ms(plain, reps),
            "transaction: configure timeout + counts + confirm": median_ms(transaction, reps),
        }
        wait("the peer receiving every change the node sent", lambda: peer_settled(lab), 900)
        if lab.peer_session().since != since:
            raise SystemExit("the session went down while measuring")
        after = peer_received(lab)
        out["peer: updates received per apply"] = (after[0] - before[0]) / (2 * reps)
        out["peer: withdraws received per apply"] = (after[1] - before[1]) / (2 * reps)
        out["count checks alone"] = median_ms(counts, reps)
        out["full comparison (observe + compare)"] = median_ms(full, reps)
        return out


def peer_received(lab: NodeAndPeer) -> tuple[int, int]:
    """The peer's import updates and withdraws received, since the session came up."""
    changes = lab.peer_session().channels[0].changes
    assert changes is not None
    return changes.import_updates.received or 0, changes.import_withdraws.received or 0


def peer_settled(lab: NodeAndPeer) -> bool:
    """The peer has received every update and withdraw the node sent, and holds its routes."""
    node, peer = lab.node_session().channels[0], lab.peer_session().channels[0]
    if node.changes is None or peer.changes is None:
        return False
    sent = (node.changes.export_updates.accepted, node.changes.export_withdraws.accepted)
    return sent == peer_received(lab) and peer.imported == node.exported


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--routes", type=int, action="append", help="repeatable; default 10000 and 100000"
    )
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    results = {n: bench(n, args.reps) for n in args.routes or [10_000, 100_000]}
    sizes = list(results)
    print("| | " + " | ".join(f"{n:,} routes" for n in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for key in results[sizes[0]]:
        cells = []
        for n in sizes:
            base = results[n]["configure (baseline)"]
            v = results[n][key]
            if key.startswith("peer:"):
                cells.append(f"{v:g}")
                continue
            cells.append(
                f"{v:,.0f} ms" + ("" if key.startswith("configure") else f" ({v / base:.1f}x)")
            )
        print(f"| {key} | " + " | ".join(cells) + " |")
    print(json.dumps(results), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
