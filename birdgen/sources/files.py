"""sources: read manifests from files, directories and standard input.

Yields raw objects, plain dicts shaped exactly as the API server would return them, so the model
cannot tell a file from a cluster. Lists (`kind: List`, `ServiceList`, ...) are flattened.

YAML is read as kubectl reads it, with YAML 1.1's resolvers (`yes`/`no`/`on`/`off` are
booleans, `010` is octal, `~` is null) but without base-60 numbers or timestamps. Two
libraries do the reading:

- `yaml-rs` (Rust) reads most files, about three times faster than libyaml through PyYAML. It
  resolves plain scalars by YAML 1.2's core schema, which differs from YAML 1.1 only on a
  known set of plain scalars;
- PyYAML (libyaml when built with it) with kubectl's resolver table reads every file in which
  `_may_differ` finds such a scalar, or anything else that YAML 1.1 and 1.2 read differently,
  and every file `yaml-rs` rejects (so errors keep PyYAML's wording).

`_may_differ` is a screen, not a parser: it looks for the places a plain scalar can start,
errs on the side of PyYAML, and `tests/sources/test_yaml_read.py` checks both paths against
PyYAML on hand-written, generated and damaged YAML. JSON is read by orjson, and by the
standard library's `json` when orjson refuses it (integers beyond 64 bits; error wording).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import orjson
import yaml
import yaml_rs

from birdgen.errors import SourceError

RawObject = dict[str, Any]

_SUFFIXES = (".yaml", ".yml", ".json")


# libyaml's parser when PyYAML was built with it: several times faster on cluster-sized dumps.
# The resolver stays PyYAML's Python one, so the adjustments below apply to both.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _KubeYamlLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """YAML as kubectl reads it: no base-60 numbers, no timestamps, no `=` value tag.

    PyYAML follows YAML 1.1 to the letter, so an unquoted community `65000:10` would become the
    integer 3900010 and a date would become a `datetime`; kubectl's parser does neither.
    """


_KubeYamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag
        not in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:timestamp",
            "tag:yaml.org,2002:value",
        )
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

# ---- the screen: where YAML 1.1 (kubectl, PyYAML) and 1.2 (yaml-rs) may read differently ----

# The end of a plain scalar: the line's end, a comment, a flow indicator or a key's colon.
_END = r"(?=[ \t]*(?:\r?\n|\Z|#|[,\]}]|:(?:[ \t\r\n]|\Z)))"
# Numbers both read alike: 0, 17, -3, 1.5. Any other number-like scalar goes to PyYAML.
_SAME_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?" + _END
_NUMBER = (
    r"[-+]?(?:(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+|_[0-9_.]*)(?:[eE][-+]?[0-9_]+)?"
    r"|0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|\.(?:inf|Inf|INF|nan|NaN|NAN))"
)
_SCALAR = "|".join(
    [
        r"(?:[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF|<<)" + _END,  # 1.1 booleans; a merge key
        rf"(?!{_SAME_NUMBER}){_NUMBER}{_END}",
        r"[!?@`&*]",  # a tag; an explicit key; reserved characters; an anchor or alias
        r":(?=[ \t\r\n]|\Z)",  # an empty key
    ]
)
# A plain scalar starts after one of these. Each pattern begins with a literal, which the regex
# engine finds at C speed.
# The scalar may follow on a later line, past blank and comment lines.
_GAP = r"(?:[ \t]*(?:#[^\r\n]*)?\r?\n)*[ \t]*"
_AFTER_INDICATOR = [
    re.compile(f"(?:{before}){_GAP}(?:{_SCALAR})")
    for before in (
        r":(?=[ \t\r\n])",
        r"-(?=[ \t\r\n])",
        r"\?(?=[ \t\r\n])",
        r"&\S+(?=[ \t\r\n])",
        r"(?:---|\.\.\.)(?=[ \t\r\n])",
        r"[\"']:",
    )
]
# A block mapping's key, at a line's start or after "- ": a 1.1 boolean, anything starting like
# a number, or none. (Keys elsewhere are in flow collections or after `?`, both screened above.)
_KEY = re.compile(
    r"(?:\n|- )[ \t]*+(?:[oO]n|ON|[nN]o|NO|<<|[yY]es|YES|[oO]ff|OFF|[-+]?[0-9._][^\s:]*+|)"
    r":(?=[ \t\r\n]|\Z)"
)
# A non-empty flow collection (`[a, b]`, `{a: 1}`): the two versions differ in many corners
# of flow syntax, and kubectl writes flow style only for `[]` and `{}`, so PyYAML reads these.
_FLOW = re.compile(r"(?:[:\-?][ \t]+|^[ \t]*)[\[{](?![ \t]*[\]}])", re.MULTILINE)
_ROOT_SCALAR = re.compile(rf"[ \t]*(?:{_SCALAR})")
# Anywhere: a collection as a key, an explicit key, reserved indicators, and the characters
# YAML 1.1 takes as line breaks (and a byte-order mark). One literal-led pattern or string
# search each: a character class at a pattern's start would make the engine try every position.
_OTHER = [re.compile(rf"{c}[ \t]*:(?=[ \t\r\n]|\Z)") for c in (r"\]", r"\}")] + [
    re.compile(r"\?(?=[ \t\r\n]|\Z)")
]
_OTHER_TEXT = ("\n%", "@", "`", "\x85", "\u2028", "\u2029", "\ufeff")
_OPENERS = [re.compile(r"\[(?![ \t]*\])"), re.compile(r"\{(?![ \t]*\})")]
_BLOCK_SCALAR = re.compile(
    rf"(?:[:\-?]|---|&\S+)(?=[ \t\r\n]){_GAP}[|>][-+0-9]*[ \t]*(?:#[^\r\n]*)?(?:\r?\n|\Z)"
)
_CONTENT = re.compile(r"(?:[ \t]*\r?\n)*( *)\S")
_MARKER = re.compile(r"^(?:---|\.\.\.)(?:[ \t\r\n]|$)", re.MULTILINE)
_ALIKE = yaml_rs.DuplicateKeyPolicy.LastWins  # as PyYAML: a later key replaces an earlier one


def _may_differ(text: str) -> bool:
    """Whether YAML 1.1 and 1.2 might read `text` differently (False: they read it alike)."""
    return bool(
        any(part in text for part in _OTHER_TEXT)
        or text.startswith("%")
        or any(p.search(text) for p in _OTHER)
        or any(p.search(text) for p in _AFTER_INDICATOR)
        or _KEY.search("\n" + text)
        or _ROOT_SCALAR.match(text)
        or _empty_block_scalar(text)
        or _flow_outside_block_scalars(text)
    )


def _block_scalars(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every `|` or `>` block scalar's body; an empty body is (end, end)."""
    for header in _BLOCK_SCALAR.finditer(text):
        line_start = text.rfind("\n", 0, header.start()) + 1
        line = text[line_start : header.start()]
        # The node's own column: past the indentation and any "- " of sequences holding it.
        column = len(line) - len(line.lstrip(" -"))
        end = start = header.end()
        while end < len(text):
            content = _CONTENT.match(text, end)
            if content is None or len(content.group(1)) <= column:
                break
            newline = text.find("\n", content.end())
            end = len(text) if newline < 0 else newline + 1
        yield start, end


def _empty_block_scalar(text: str) -> bool:
    """Whether a block scalar has no content (yaml-rs then reads "\n" where YAML says "")."""
    if "|" not in text and ">" not in text:
        return False
    return any(start == end for start, end in _block_scalars(text))


def _flow_outside_block_scalars(text: str) -> bool:
    if not any(p.search(text) for p in _OPENERS):
        return False
    flows = [m.start() for m in _FLOW.finditer(text)]
    if not flows:
        return False
    bodies = list(_block_scalars(text))
    return any(not any(start <= at < end for start, end in bodies) for at in flows)


def load(paths: Sequence[str], stdin: IO[str] | None = None) -> list[RawObject]:
    """Every object in the given files and directories, in the order given (`-` is stdin)."""
    objects: list[RawObject] = []
    for path in paths:
        if path == "-":
            objects.extend(parse_text((stdin or sys.stdin).read(), "<stdin>"))
            continue
        for file in _expand(Path(path)):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SourceError(f"{file}: cannot read: {exc}") from exc
            objects.extend(parse_text(text, str(file)))
    return objects


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    return [path]


def parse_text(text: str, origin: str) -> list[RawObject]:
    """The objects in one YAML (multi-document) or JSON text."""
    try:
        docs = _read_json_or_yaml(text, origin)
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


def _read_json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # The standard library reads it again: integers beyond 64 bits (which the model then
        # refuses field by field), and its wording and limits for what is really malformed.
        return json.loads(text)


def _read_json_or_yaml(text: str, origin: str) -> list[Any]:
    if origin.endswith(".json"):
        return [_read_json(text)]
    if text.lstrip().startswith(("{", "[")):
        try:
            return [_read_json(text)]
        except json.JSONDecodeError:
            pass  # YAML in flow style (`{kind: Service}`), or YAML documents after one: as YAML
    return _read_yaml(text)


def _read_yaml(text: str) -> list[Any]:
    """The documents of a YAML stream, read as kubectl reads them."""
    if not _may_differ(text):
        try:
            read = yaml_rs.loads(text, parse_datetime=False, duplicate_key_policy=_ALIKE)
        except yaml_rs.YAMLDecodeError:
            pass  # PyYAML reads it again: for its wording of the error, or because it can
        else:
            docs = _documents(text, read)
            if docs is not None:
                return docs
    return list(yaml.load_all(text, Loader=_KubeYamlLoader))


def _documents(text: str, read: Any) -> list[Any] | None:
    """`yaml_rs.loads`' result as a list of documents; None when that cannot be told.

    yaml-rs returns a stream of several documents as their list, one document as itself, and
    none as None. Without a `---` or `...` line there is one document. With one, a list of
    mappings is taken as documents: a single document holding that list would give the same
    objects (lists are flattened); anything else is left to PyYAML.
    """
    if not _MARKER.search(text):
        return [read]
    if not isinstance(read, list):
        return [read]
    return read if all(isinstance(doc, dict) for doc in read) else None


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
