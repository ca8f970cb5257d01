"""verify: a comparison laid out for `birdgen status`, as one screen of text or one JSON object.

Pure: records in, text out. The text shows at most `SHOWN` prefixes per list (the JSON has
them all), so a node with 100,000 routes still fits a screen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from birdgen.verify.drift import Drift, Finding, Observed

SHOWN = 10


def as_json(node: str, observed: Observed, drift: Drift) -> dict[str, Any]:
    def finding(f: Finding) -> dict[str, str]:
        return {"where": f.where, "prefix": f.prefix, "reason": f.reason}

    return {
        "node": node,
        "bird": {
            "version": observed.status.version,
            "router_id": observed.status.router_id,
            "last_reconfiguration": observed.status.last_reconfiguration,
            "state": observed.status.state,
        },
        "sessions": [
            {
                "name": s.name,
                "peer": s.peer,
                "state": s.state,
                "since": s.since,
                "exported": s.exported,
                "planned": s.planned,
                "problem": s.problem,
            }
            for s in drift.sessions
        ],
        "plan": {"prefixes": list(drift.planned)},
        "drift": {
            "missing": [finding(f) for f in drift.missing],
            "unexpected": [finding(f) for f in drift.unexpected],
            "sessions": [{"name": s.name, "problem": s.problem} for s in drift.session_problems],
        },
        "kernel_checked": observed.kernel is not None,
        "in_sync": drift.clean,
    }


def dumps(node: str, observed: Observed, drift: Drift) -> str:
    return json.dumps(as_json(node, observed, drift), indent=2) + "\n"


def as_text(node: str, observed: Observed, drift: Drift) -> str:
    st = observed.status
    out = [
        f"BIRD {st.version}, router id {st.router_id}: {st.state}",
        f"last reconfiguration {st.last_reconfiguration}",
        "",
        f"Sessions of node {node}:",
    ]
    rows: list[tuple[str, ...]] = [("NAME", "PEER", "STATE", "SINCE", "EXPORTED", "PLANNED")]
    for s in drift.sessions:
        planned = "filters" if s.planned is None and not s.problem else str(s.planned or 0)
        state = f"{s.state} ({s.problem})" if s.problem else s.state
        rows.append((s.name, s.peer, state, s.since, str(s.exported), planned))
    out += _table(rows) if drift.sessions else ["  (none)"]
    out += ["", f"Plan: {len(drift.planned)} prefixes" + _sample(drift.planned)]
    if drift.clean:
        out.append(
            "Drift: none, BIRD runs the plan"
            + ("" if observed.kernel is not None else " (kernel not read)")
        )
    else:
        out.append(f"Drift: {len(drift.missing)} missing, {len(drift.unexpected)} unexpected, "
                   f"{len(drift.session_problems)} sessions")  # fmt: skip
        for f in drift.findings[:SHOWN]:
            out.append(f"  {f.kind:<10} {f.where:<20} {f.prefix:<20} {f.reason}")
        if len(drift.findings) > SHOWN:
            out.append(f"  … and {len(drift.findings) - SHOWN} more (--json lists them all)")
        for s in drift.session_problems:
            out.append(f"  session    {s.name:<20} {s.problem}")
    return "\n".join(out) + "\n"


def _sample(prefixes: Sequence[str]) -> str:
    if not prefixes:
        return ""
    shown = ", ".join(prefixes[:SHOWN])
    return f": {shown}" + (f", … ({len(prefixes) - SHOWN} more)" if len(prefixes) > SHOWN else "")


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
