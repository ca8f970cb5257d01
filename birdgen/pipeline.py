"""The pipeline, composed once: sources -> model -> plan -> render -> write -> reload.

`render_objects` is the pure middle (raw dicts in, text and plan out); the edge writes it:
`apply` checks the staged text and renames it into place (the one-shot `render`), `install`
has BIRD load the staged text and renames it into place once BIRD took it (the `run`
sidecar). The golden tests and both commands go through these functions with their edges
injected.
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
    *,
    withheld: bool = True,
) -> Rendered:
    """Raw (or already parsed) objects to bird.conf text; raises InvalidInput naming every
    problem. `state` (the sidecar's, kept between steps) saves assembling and planning again
    what did not change since its last step; same result. `withheld=False` leaves the plan's
    withheld addresses out (`build_plan`): same text, for a caller that reads only the text."""
    if problems := env.problems():
        raise InvalidInput(problems)
    if state is None:
        cluster = parse_cluster(objects)
        plan = build_plan(cluster, env, withheld=withheld)
    else:
        cluster, plan = state.plan(objects, env)
    return Rendered(render(plan), plan, tuple(dict.fromkeys([*cluster.warnings, *plan.warnings])))


@dataclass(frozen=True)
class Applied:
    changed: bool
    reload_summary: str = ""  # BIRD's answer, e.g. "0003 Reconfigured"; "" when not reloaded


# Has BIRD take a staged candidate (its path) and calls the commit (once) when the candidate may
# replace the live file; returns BIRD's summary. Raising before the commit leaves the live file
# as it was.
Load = Callable[[Path, Callable[[], None]], str]


def apply(text: str, path: Path, check: Callable[[Path], None] | None = None) -> Applied:
    """Stage `text` beside `path` (or beside the file a symlink `path` leads to), have it
    checked, and rename it into place.

    Nothing happens when `path` already holds `text`. When the check fails (it raises), the
    staged file is removed and `path` keeps its previous content.
    """

    def check_then_commit(candidate: Path, commit: Callable[[], None]) -> str:
        if check is not None:
            check(candidate)
        commit()
        return ""

    return install(text, path, check_then_commit)


def install(text: str, path: Path, load: Load) -> Applied:
    """Stage `text` beside `path` (or beside the file a symlink `path` leads to) and hand it to
    `load`, which has BIRD take it and renames it into place when it may (see `Load`): the
    sidecar's reloaders have BIRD parse and load the candidate before the rename, so BIRD reads
    the text once and a refused one never reaches the live file.

    Nothing happens when `path` already holds `text`. When `load` raises before its commit, the
    staged file is removed and `path` keeps its previous content.
    """
    target = destination(path)  # a symlink stays; the file it leads to is replaced
    remove_stale(target)  # what runs killed before their rename left behind
    if unchanged(target, text):
        return Applied(changed=False)
    with staged(target, text) as candidate:
        summary = load(candidate, lambda: commit(candidate, target))
    return Applied(changed=True, reload_summary=summary)
