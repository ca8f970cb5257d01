"""The pipeline, composed once: sources -> model -> plan -> render -> write -> reload.

`render_objects` is the pure middle (raw dicts in, text and plan out); `apply` is the edge that
checks, writes and reloads. The one-shot `render`, the `run` sidecar and the golden tests all
go through these two functions with their edges injected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from birdgen.errors import InvalidInput
from birdgen.model.documents import Document
from birdgen.model.parse import Parsed, parse_cluster
from birdgen.model.resources import Environment
from birdgen.plan import NodePlan, build_plan
from birdgen.plan.incremental import Incremental
from birdgen.render import render
from birdgen.write.atomic import commit, destination, remove_stale, staged, unchanged


@dataclass(frozen=True)
class Rendered:
    text: str
    plan: NodePlan
    notices: tuple[str, ...]  # skipped objects and warnings, one line each, for stderr or the log


def render_objects(
    objects: Sequence[dict[str, Any] | Document | Parsed],
    env: Environment,
    state: Incremental | None = None,
) -> Rendered:
    """Raw (or already parsed) objects to bird.conf text; raises InvalidInput naming every
    problem. `state` (the sidecar's, kept between steps) saves assembling and planning again
    what did not change since its last step; same result."""
    if problems := env.problems():
        raise InvalidInput(problems)
    if state is None:
        cluster = parse_cluster(objects)
        plan = build_plan(cluster, env)
    else:
        cluster, plan = state.plan(objects, env)
    return Rendered(render(plan), plan, tuple(dict.fromkeys([*cluster.warnings, *plan.warnings])))


@dataclass(frozen=True)
class Applied:
    changed: bool
    reload_summary: str = ""  # BIRD's answer, e.g. "0003 Reconfigured"; "" when not reloaded


def apply(
    text: str,
    path: Path,
    check: Callable[[Path], None] | None = None,
    reload: Callable[[Path], str] | None = None,
) -> Applied:
    """Stage `text` beside `path` (or beside the file a symlink `path` leads to), have it
    checked, rename it into place, then reload.

    Nothing happens when `path` already holds `text`. When the check fails (it raises), the
    staged file is removed and `path` keeps its previous content.
    """
    target = destination(path)  # a symlink stays; the file it leads to is replaced
    remove_stale(target)  # what runs killed before their rename left behind
    if unchanged(target, text):
        return Applied(changed=False)
    with staged(target, text) as candidate:
        if check is not None:
            check(candidate)
        commit(candidate, target)
    summary = reload(path) if reload is not None else ""
    return Applied(changed=True, reload_summary=summary)
