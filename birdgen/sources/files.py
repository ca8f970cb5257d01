"""sources: read manifests from files, directories and standard input.

Yields raw objects, plain dicts shaped exactly as the API server would return them, so the model
cannot tell a file from a cluster. Lists (`kind: List`, `ServiceList`, ...) are flattened.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import yaml

from birdgen.errors import SourceError
from birdgen.sources import halves
from birdgen.sources.blockyaml import BlockYaml

RawObject = dict[str, Any]

_SUFFIXES = (".yaml", ".yml", ".json")


# libyaml's parser when PyYAML was built with it: several times faster on cluster-sized dumps.
# The resolver stays PyYAML's Python one, so the adjustments below apply to both.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _KubeYamlLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """YAML as kubectl reads it: no base-60 numbers and no timestamps.

    PyYAML follows YAML 1.1 to the letter, so an unquoted community `65000:10` would become the
    integer 3900010 and a date would become a `datetime`; kubectl's parser does neither.
    """


_KubeYamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag
        not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_KubeYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    # Every form needs a digit: PyYAML's own `0b[0-1_]+` takes `0b_` and then int() raises.
    re.compile(
        r"^(?:[-+]?0b_*[0-1][0-1_]*|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)"
        r"|[-+]?0x_*[0-9a-fA-F][0-9a-fA-F_]*)$"
    ),
    list("-+0123456789"),
)
_KubeYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]*[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def load(
    paths: Sequence[str], stdin: IO[str] | None = None, parallel: bool = False
) -> list[RawObject]:
    """Every object in the given files and directories, in the order given (`-` is stdin).

    `parallel`: read big YAML files as two halves side by side when there are two CPUs (see
    `halves`); only for single-threaded callers.
    """
    objects: list[RawObject] = []
    for path in paths:
        if path == "-":
            objects.extend(parse_text((stdin or sys.stdin).read(), "<stdin>", parallel))
            continue
        for file in _expand(Path(path)):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SourceError(f"{file}: cannot read: {exc}") from exc
            objects.extend(parse_text(text, str(file), parallel))
    return objects


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    return [path]


def parse_text(text: str, origin: str, parallel: bool = False) -> list[RawObject]:
    """The objects in one YAML (multi-document) or JSON text."""
    try:
        docs = _read_json_or_yaml(text, origin, parallel)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{origin}: line {exc.lineno}: malformed JSON: {exc.msg}") from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"{origin}: malformed YAML: {_yaml_message(exc)}") from exc
    except RecursionError:
        raise SourceError(f"{origin}: nested too deeply to read") from None
    except ValueError as exc:  # an integer of more than 4,300 digits, which Python refuses
        raise SourceError(f"{origin}: cannot read: {str(exc).split(';')[0]}") from None
    objects: list[RawObject] = []
    for index, doc in enumerate(docs):
        objects.extend(_flatten(doc, f"{origin} document {index + 1}"))
    return objects


def _read_json_or_yaml(text: str, origin: str, parallel: bool) -> list[Any]:
    if origin.endswith(".json"):
        return [json.loads(text)]
    if text.lstrip().startswith(("{", "[")):
        try:
            return [json.loads(text)]
        except json.JSONDecodeError:
            pass  # YAML in flow style (`{kind: Service}`), or YAML documents after one: as YAML
    return _read_yaml(text, parallel)


def _read_yaml(text: str, parallel: bool, min_size: int = halves.MIN_SIZE) -> list[Any]:
    if parallel and len(text) >= min_size and halves.cpus() > 1:
        docs = halves.read_in_two(text, _read_yaml_serially)
        if docs is not None:
            return docs
    return _read_yaml_serially(text)


def _read_yaml_serially(text: str) -> list[Any]:
    # The fast reader gives exactly what PyYAML gives, and hands it what it cannot read.
    return BlockYaml(_KubeYamlLoader).load_all(text)


def _flatten(doc: Any, where: str) -> Iterator[RawObject]:
    if doc is None:
        return
    if isinstance(doc, list):  # a bare JSON array of objects
        for item in doc:
            yield from _flatten(item, where)
        return
    if not isinstance(doc, dict):
        raise SourceError(
            f"{where}: expected an object with apiVersion and kind, got {type(doc).__name__}"
        )
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        item_kind = kind[: -len("List")]
        for item in doc["items"]:
            if isinstance(item, dict) and item_kind and "kind" not in item:
                # The API server omits kind/apiVersion on list items; restore them.
                item = {"apiVersion": doc.get("apiVersion"), "kind": item_kind, **item}
            yield from _flatten(item, where)
        return
    yield doc


def _yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)
