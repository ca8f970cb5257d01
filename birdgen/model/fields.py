"""model: a reader over one raw object that turns bad values into `Problem`s instead of raising.

Every resource parser reads its fields through `Fields`, so every error names the kind, the
object and the full field path, and a parser goes on after a bad field to report the next one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from birdgen.errors import Problem
from birdgen.model.values import parse_label_key, parse_label_value, show

T = TypeVar("T")


class Fields:
    """The fields of one mapping inside one object, with the path that leads to it."""

    def __init__(self, kind: str, name: str, data: Any, path: str, problems: list[Problem]) -> None:
        self.kind, self.name, self.path, self.problems = kind, name, path, problems
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self.fail("", f"expected an object, got {show(data)}")
            data = {}
        elif not all(k.__class__ is str for k in data):
            # YAML allows any key (`1: x`, `~: x`, `true: x`); JSON and the API server only
            # strings. Report each and read on without them, so nothing compares or sorts them.
            for k in data:
                if k.__class__ is not str:
                    self.fail("", f"key {show(k)} is not a string")
            data = {k: v for k, v in data.items() if k.__class__ is str}
        self.data: Mapping[str, Any] = data

    def where(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        if key == "":
            return self.path
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | int, message: str) -> None:
        self.problems.append(Problem(self.kind, self.name, self.where(key), message))

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def get(self, key: str, parse: Callable[[Any], T], default: T) -> T:
        """The field parsed, or `default` when it is absent (or null) or invalid."""
        if not self.has(key):
            return default
        try:
            return parse(self.data[key])
        except ValueError as exc:
            self.fail(key, str(exc))
            return default

    def sub(self, key: str) -> Fields:
        return Fields(self.kind, self.name, self.data.get(key), self.where(key), self.problems)

    def _list(self, key: str) -> list[Any]:
        """The field as a list: absent (or null) is empty, anything else is reported."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"expected a list, got {show(value)}")
            return []
        return value

    def items(self, key: str) -> list[Fields]:
        """The elements of a list of objects, each as its own `Fields`."""
        return [
            Fields(self.kind, self.name, item, f"{self.where(key)}[{i}]", self.problems)
            for i, item in enumerate(self._list(key))
        ]

    def values(self, key: str, parse: Callable[[Any], T]) -> list[T]:
        """The elements of a list of scalars, each parsed; bad ones are reported and dropped."""
        out: list[T] = []
        for i, item in enumerate(self._list(key)):
            try:
                out.append(parse(item))
            except ValueError as exc:
                self.problems.append(
                    Problem(self.kind, self.name, f"{self.where(key)}[{i}]", str(exc))
                )
        return out

    def only(self, allowed: set[str] | frozenset[str]) -> None:
        """Report every field not in `allowed`: a typo must not silently change the config."""
        for key in sorted(set(self.data) - set(allowed)):
            self.fail(key, "unknown field")

    def one_of(self, key: str, choices: tuple[str, ...], default: str) -> str:
        def parse(value: Any) -> str:
            if value not in choices:
                raise ValueError(f"{show(value)} is not one of {', '.join(choices)}")
            return str(value)

        return self.get(key, parse, default)


def label_map(fields: Fields, key: str, read: str | None = None) -> dict[str, str]:
    """Labels or annotations (`key`), with YAML booleans and numbers read as kubectl reads them;
    keys (and label values) the API server would refuse are reported. `read`: the one label
    wanted, when the others are not birdgen's to judge."""
    value = fields.raw(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        fields.fail(key, f"expected a map of strings, got {show(value)}")
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        if read is not None and k != read:
            continue
        if k.__class__ is not str:
            fields.fail(key, f"key {show(k)} is not a string")
            continue
        if isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, float) and not math.isfinite(v):
            fields.fail(f"{key}.{k}", f"{show(v)} is not a finite number")
            continue
        elif isinstance(v, int | float | str):
            text = v if isinstance(v, str) else show(v)
        elif v is None:
            text = ""
        else:
            fields.fail(f"{key}.{k}", f"expected a string, got {show(v)}")
            continue
        try:
            parse_label_key(k)
            out[k] = parse_label_value(text) if key == "labels" else text
        except ValueError as exc:
            fields.fail(f"{key}.{k}" if _printable_key(k) else key, str(exc))
    return out


def _printable_key(key: str) -> bool:
    """A key short and plain enough to stand in a field path as itself."""
    return len(key) <= 100 and key.isprintable() and " " not in key
