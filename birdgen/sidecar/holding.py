"""sidecar: one bad object must not freeze the node (reconcile -> **holding** -> render_objects).

`birdgen render` is strict: any invalid object fails the run. The sidecar cannot afford that:
while one BGPPeer is wrong, every Service and endpoint change on every node would wait for a
person to fix it. So the sidecar renders through `LastValid.resolve`, which decides, in this one
place, which version of each object goes into the config:

* an object that renders goes in as it is, and becomes its own last valid version once the
  config made with it has passed BIRD's check (`accept`);
* an object that a problem is attributed to is *held*: its last valid version stands in;
* an object that was never valid (or whose last valid version fails too) is *left out*;
* a problem that names no object present (the environment, or the node being rendered gone
  missing) cannot be worked around: `InvalidInput` is raised and BIRD keeps its last config.

Objects are keyed as `birdgen.model.parse.index` keys them: (kind, namespace, name), kind being
"KubeNode" for a Kubernetes Node. Validity is only ever decided by the real pipeline (the
`render` callable), never by a second set of rules here, so "valid" means exactly what
`birdgen render` accepts. Problems come back as `Problem(kind, name, field, message)`; `blame`
turns one into the keys it names.

The holder keeps no snapshot of its own beyond the last valid versions, so an incremental
per-object store can call `resolve` with whatever objects it holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from birdgen.errors import InvalidInput, Problem
from birdgen.model.parse import Parsed, index, parse_object
from birdgen.plan import NodePlan

Key = tuple[str, str, str]  # (kind, namespace, name), as `birdgen.model.parse.index` keys objects
Obj = dict[str, Any]

# Problem.kind says "Node" for both a Calico and a Kubernetes Node.
_KEY_KINDS = {"Node": ("Node", "KubeNode")}


@dataclass(frozen=True, order=True)
class Held:
    """An object whose current version is not in the config, and why."""

    kind: str  # as an operator writes it: "Node" for a Kubernetes Node too
    name: str  # "namespace/name" for namespaced objects
    state: Literal["held", "left out"]  # held: its last valid version stands in
    reason: str  # the first problem found in it, one line

    def __str__(self) -> str:
        what = (
            "held at its last valid version"
            if self.state == "held"
            else "left out (no valid version to hold)"
        )
        return f"{self.kind}/{self.name}: {what}: {self.reason}"


def blame(problem: Problem, present: Iterable[Key]) -> set[Key]:
    """The keys among `present` that `problem` names; empty when it names none of them."""
    namespace, _, name = problem.name.rpartition("/")
    kinds = _KEY_KINDS.get(problem.kind, (problem.kind,))
    wanted = {(kind, namespace, name) for kind in kinds}
    return {key for key in present if key in wanted}


# BIRD's messages start "<file>:<line>:<column> <what>"; the rendered text says which object
# a line came from through the plan's reasons, which begin "Service ns/name: ..." for a route
# and "BGPPeer name: ..." for a session.
_POSITION = re.compile(r":(\d+):\d+ (.*)")
_ROUTE_LINE = re.compile(r"\s*route (\S+) ")
_PROTOCOL_LINE = re.compile(r"protocol bgp (\S+)")
_SERVICE_REASON = re.compile(r"Service ([^/\s]+)/([^\s:]+):")
_PEER_REASON = re.compile(r"BGPPeer ([^\s:]+):")


def bird_problems(detail: str, text: str, plan: NodePlan) -> list[Problem]:
    """The objects BIRD's refusal of `text` can be traced to, as problems; [] when none.

    Only a Service's route and a BGPPeer's session are traced: anything else in the config is
    made of several objects at once, and then the last config is kept instead.
    """
    found = _POSITION.search(detail)
    lines = text.splitlines()
    if found is None or not 1 <= int(found.group(1)) <= len(lines):
        return []
    number = int(found.group(1))
    message = f"BIRD refuses the config it makes (line {number}: {found.group(2)})"
    route = _ROUTE_LINE.match(lines[number - 1])
    if route is not None:
        reasons = [r for f in plan.families for x in f.routes if x.text == route.group(1) for r in x.reasons]  # fmt: skip
        return [Problem("Service", f"{m[1]}/{m[2]}", "", message) for m in map(_SERVICE_REASON.match, reasons) if m]  # fmt: skip
    for at in range(number - 1, -1, -1):  # up to the start of the enclosing block
        protocol = _PROTOCOL_LINE.match(lines[at])
        if protocol is not None:
            reasons = [r for f in plan.families for s in f.sessions if s.name == protocol.group(1) for r in s.reasons]  # fmt: skip
            return [Problem("BGPPeer", m[1], "", message) for m in map(_PEER_REASON.match, reasons) if m]  # fmt: skip
        if at < number - 1 and lines[at].startswith("}"):
            break  # the line is in no BGP session
    return []


def _reason(problem: Problem) -> str:
    """The problem as one line, without the object's name (the `Held` line starts with it)."""
    return str(problem).removeprefix(f"{problem.kind}/{problem.name}: ")


def _display(key: Key) -> tuple[str, str]:
    kind, namespace, name = key
    return ("Node" if kind == "KubeNode" else kind), (f"{namespace}/{name}" if namespace else name)


@dataclass(frozen=True)
class Resolution:
    """What `LastValid.resolve` rendered, and from which version of each object."""

    result: Any  # what `render` returned
    held: tuple[Held, ...]  # the objects whose current version is not in it
    # The version of each object that went into it; None: every object, as given (`given`).
    used: dict[Key, Obj] | None
    left_out: frozenset[Key]  # present in the sources, in no version in it
    given: Sequence[Obj] = ()


def _parsed(obj: Any) -> Parsed:
    return obj if isinstance(obj, Parsed) else parse_object(obj)


class LastValid:
    """The last valid version of each object, and the render that works around invalid ones.

    `resolve` renders; `accept` records the versions a resolution used as the last valid ones,
    once the config made from them has passed every check (BIRD's included).
    """

    def __init__(self) -> None:
        self._valid_dict: dict[Key, Obj] | None = {}
        self._valid_given: Sequence[Obj] = ()  # when the dict is None: indexed when needed

    @property
    def _valid(self) -> dict[Key, Obj]:
        if self._valid_dict is None:
            self._valid_dict = index(self._valid_given, [], [])
        return self._valid_dict

    def resolve(
        self,
        objects: Iterable[Obj],
        render: Callable[[list[Obj]], Any],
        blamed: Sequence[Problem] = (),
    ) -> Resolution:
        """`render` of the objects, each invalid one replaced by its last valid version or
        left out; and the list of those. `blamed` are problems found after rendering (BIRD
        refusing the config), each moving its object one step: held, then left out.

        Raises `InvalidInput` when a problem names no object that could be held or left out.
        Every round holds or leaves out at least one more object, so it ends.
        """
        # The list itself where it is one: the plan state knows the sidecar's list by identity.
        objects = objects if isinstance(objects, list) else list(objects)
        if not blamed:
            # The usual step: every object renders as it is. Tried first on the list as given,
            # so that a step costs what changed rather than a pass over every object here
            # (a later object of the same key replaces an earlier one there too).
            try:
                return Resolution(render(objects), (), None, frozenset(), objects)
            except InvalidInput:
                pass
        unkeyed: list[Problem] = []
        current = index(objects, unkeyed, [])
        # Objects of no kind birdgen reads have no key but a notice saying they are skipped:
        # they go to `render` as they are, so that the notice is the same either way.
        skipped: list[Any] = [o for o in map(_parsed, objects) if o.key is None and not o.problems]
        # Objects without a usable name cannot be tracked: they are left out, and said so.
        held = {(p.kind, "", p.name): Held(p.kind, p.name, "left out", _reason(p)) for p in unkeyed}
        using: dict[Key, Obj] = dict(current)
        for problem in blamed:
            self._work_around([problem], current, using, held)
        for _ in range(2 * len(current) + 1):
            try:
                result = render([*using.values(), *skipped])
            except InvalidInput as exc:
                self._work_around(exc.problems, current, using, held)
                continue
            left_out = frozenset(current.keys() - using.keys())
            return Resolution(result, tuple(sorted(held.values())), using, left_out)
        raise AssertionError("unreachable: each round holds or leaves out one more object")

    def accept(self, resolution: Resolution) -> None:
        """The versions `resolution` used are now the last valid ones. Objects gone from the
        sources are forgotten (deleted means gone, not held); one left out keeps the last
        valid version it had, for when what made that version fail is fixed."""
        if resolution.used is None:
            self._valid_dict, self._valid_given = None, resolution.given
            return
        kept = {key: self._valid[key] for key in resolution.left_out if key in self._valid}
        self._valid_dict = {**kept, **resolution.used}

    def _work_around(
        self,
        problems: Sequence[Problem],
        current: dict[Key, Obj],
        using: dict[Key, Obj],
        held: dict[Key, Held],
    ) -> None:
        """Move every object a problem names one step: to its last valid version if it has
        one that differs, else out of the config."""
        culprits: dict[Key, Problem] = {}
        for problem in problems:
            keys = blame(problem, using)
            if not keys:
                raise InvalidInput(problems)
            for key in keys:
                culprits.setdefault(key, problem)
        for key, problem in sorted(culprits.items()):
            kind, name = _display(key)
            last = self._valid.get(key)
            if key not in held and last is not None and last != current[key]:
                using[key] = last
                held[key] = Held(kind, name, "held", _reason(problem))
            else:
                del using[key]
                reason = held[key].reason if key in held else _reason(problem)
                held[key] = Held(kind, name, "left out", reason)
