"""verify: read the live node, BIRD over its control socket and the kernel through `ip -j route`.

Place in the pipeline: an edge (I/O). What it reads is compared with the plan by the pure
`birdgen.verify.drift`. Two depths, because full listings cost at 100,000 routes
(docs/performance.md):

* `observe` lists every route of `svc4`/`svc6` and every route exported to each Established
  session: the full comparison, for `birdgen status` and the sidecar's drift check;
* `count_*` ask BIRD for counts only (`show route … count`), for the check after each apply.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from birdgen.plan import NodePlan
from birdgen.reload.control import DEFAULT_TIMEOUT, BirdControl
from birdgen.reload.show import RouteSet, read_count, read_protocols, read_routes, read_status
from birdgen.verify.drift import Observed, planned_sessions, table_name

KERNEL_TIMEOUT = 10.0


def observe(
    socket_path: str, plan: NodePlan, *, kernel: bool = True, timeout: float = DEFAULT_TIMEOUT
) -> Observed:
    """Everything `drift.compare` needs, read in one connection. Raises ReloadFailed (or
    DaemonUnreachable) when BIRD cannot be asked."""
    with BirdControl(socket_path, timeout) as bird:
        return read_observed(bird, plan, kernel=kernel)


def read_observed(bird: BirdControl, plan: NodePlan, *, kernel: bool = True) -> Observed:
    status = read_status(bird)
    protocols = read_protocols(bird)
    tables = {
        table_name(fam): read_routes(bird, f"protocol {table_name(fam)}")
        for fam in plan.families
        if table_name(fam) in protocols
    }
    planned = planned_sessions(plan)
    exports: dict[str, RouteSet] = {}
    for name, proto in protocols.items():
        # Sessions outside the plan, and those whose BGPFilters decide, are only counted.
        if proto.established and name in planned and not planned[name].filtered:
            exports[name] = read_routes(bird, f"export {name}")
    return Observed(status, protocols, tables, exports, kernel_routes() if kernel else None)


def count_table(bird: BirdControl, table: str) -> int:
    return read_count(bird, f"protocol {table}")


def count_exported(bird: BirdControl, session: str, table: str) -> int:
    """How many of `table`'s routes BIRD exports to `session` (passed-on routes left out)."""
    return read_count(bird, f'where proto = "{table}" export {session}')


def kernel_routes() -> tuple[str, ...] | None:
    """Prefixes of the routes BIRD put into this network namespace's kernel, every table.

    `ip -j route show table all proto bird`, for both families; None when `ip` is missing or
    fails (the kernel is then simply not compared).
    """
    ip = shutil.which("ip") or ("/usr/sbin/ip" if shutil.which("/usr/sbin/ip") else None)
    if ip is None:
        return None
    found: list[str] = []
    for family in ("-4", "-6"):
        try:
            done = subprocess.run(
                [ip, "-j", family, "route", "show", "table", "all", "proto", "bird"],
                capture_output=True,
                text=True,
                timeout=KERNEL_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return None
        try:
            rows = json.loads(done.stdout or "[]")
        except ValueError:
            return None
        for row in rows if isinstance(rows, list) else []:
            dst = row.get("dst") if isinstance(row, dict) else None
            if isinstance(dst, str) and dst != "default":
                found.append(dst if "/" in dst else f"{dst}/{32 if family == '-4' else 128}")
    return tuple(found)
