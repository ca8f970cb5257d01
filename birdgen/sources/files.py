"""sources: read manifests from files, directories and standard input.

Yields raw objects, plain dicts shaped exactly as the API server would return them, so the model
cannot tell a file from a cluster. Lists (`kind: List`, `ServiceList`, ...) are flattened.

YAML is read as kubectl reads it, with YAML 1.1's resolvers (`yes`/`no`/`on`/`off` are
booleans, `010` is octal, `~` is null) but without base-60 numbers or timestamps. Two
libraries do the reading:

- `yaml-rs` (Rust) reads most files, several times faster than libyaml through PyYAML. Its
  resolver for plain scalars is YAML 1.2's core schema widened (underscores in numbers, `0b`,
  signed hexadecimal), so it parts from YAML 1.1 only on a known set of plain scalars:
  `yes`/`no`/`on`/`off` (strings to it), leading zeros (`010` is 10 to it, 8 to kubectl),
  `0o17`, `0X1F`, exponents without a dot or a sign (`1e3`), a sign before a leading dot
  (`-.5`), a leading underscore (`_1`) and `.iNf`-style spellings (numbers to it, strings to
  kubectl); and on an empty block scalar at the stream's end, the merge key `<<`, an empty key,
  control characters and YAML 1.1's extra line breaks;
- PyYAML (libyaml when built with it) with kubectl's resolver table (`birdgen.sources.pyyaml`,
  imported only then) reads every file in which
  `_may_differ` finds one of those, or a tag, an anchor, a non-empty flow collection, a tab or a
  carriage return, and every file `yaml-rs` rejects (so errors keep PyYAML's wording).

`_may_differ` is a screen, not a parser: one pass of RE2 over the bytes finds where nodes can
start in block context and what starts there, and errs on the side of PyYAML;
`tests/sources/test_yaml_read.py` checks both paths against PyYAML on hand-written, generated
and damaged YAML, and pins yaml-rs's resolver scalar by scalar. Files are read as bytes: RE2,
yaml-rs and msgspec take UTF-8 bytes without a decoded copy. A big stream that passed the screen
is cut at its `---` lines, as kubectl cuts every stream before it decodes it, and its pieces are
read by yaml-rs in two threads (`_pieces`).

JSON is read by `birdgen.sources.jsontext` (msgspec, and the standard library's `json` for what
msgspec refuses, with `json`'s values and error wording), as list pages and watch events are:
a Service, EndpointSlice or v1 Node, alone or an item of a list, is decoded straight into its
typed document (`birdgen.model.documents`; a list's items by `jsontext.read_items`, which tells
each one's apiVersion and kind without a second decoding where it is of the item before it);
anything else as a whole. `tests/sources/test_json_read.py` checks the model gets
from it what it gets from `json.loads`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import msgspec
import re2
import yaml_rs
from msgspec import UNSET, UnsetType

from birdgen.errors import SourceError
from birdgen.model.documents import Document, given
from birdgen.sources import jsontext

RawObject = dict[str, Any]
# What a file gives: a raw object, or (from JSON) a Service's, EndpointSlice's or v1 Node's
# typed document, as the cluster edge gives them; the model reads both alike.
Manifest = RawObject | Document

_SUFFIXES = (".yaml", ".yml", ".json")


# ---- the screen: where YAML 1.1 (kubectl, PyYAML) and yaml-rs may read differently ----
#
# One pass of RE2 (a linear-time automaton: the whole pattern costs one scan of the bytes, where
# Python's `re` pays for every alternative at every line) finds the start of every node in block
# context, at a line's start past its indentation and "- " entries, or after a key's ": ", and
# checks what starts there. The forms below are every way the two readers part (yaml-rs's own
# resolver: `birdgen.sources` documents it and the tests pin it), widened where that is simpler.

# The end of a plain scalar in block context (zero-width: a match never takes a line break).
_END = r"[ ]*(?:$|#|:(?:[ ]|$))"
_DECIMAL = r"[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]*)?"
_MANTISSA = r"(?:[0-9_]*[0-9][0-9_]*(?:\.[0-9_]*)?|[0-9_]*\.[0-9_]*[0-9][0-9_]*)"
# Plain scalars that one of the two reads as a number and the other does not, or as another
# number. Only `-?(0|[1-9][0-9]*)(\.[0-9]*)?` (what kubectl writes) reads the same in both.
_NUMBER = "|".join(
    [
        r"[-+]?0(?:[xX][0-9a-fA-F_]*|[oO][0-7_]*|[bB][01_]*)",  # 0o17: 15 / "0o17"; 0X1F
        r"[-+]?0[0-9_]" + _DECIMAL,  # 010: 10 / 8 (octal); 09: 9 / "09"
        r"[-+0-9.eE]*_[-+0-9_.eE]*",  # _1: 1 / "_1" (both drop inner underscores)
        r"[-+]?" + _MANTISSA + r"[eE][-+]?[0-9_]*",  # 1e3, 1.5e3: floats / strings
        r"[-+]?\.(?:[0-9_]*(?:[eE][-+]?[0-9_]*)?|[a-zA-Z]{3})",  # -.5, +.5, .iNf
        r"\+" + _DECIMAL,
    ]
)
# YAML 1.1's booleans beyond true/false (yaml-rs reads strings), and the merge key.
_WORD = r"[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF|<<"
_NODE = "|".join(
    [
        f"(?:{_NUMBER}|{_WORD}){_END}",
        r"[!&*?%@`]",  # a tag, an anchor, an alias, an explicit key, reserved indicators
        r"[:?](?:[ ]|$)",  # an empty key ({None: ...} in yaml-rs, an error in PyYAML)
        r"[\[{][ ]*[\]}][ ]*[^ \n#]",  # an empty collection as a key, or followed by more
        r"[|>][-+]?[0-9]",  # a block scalar with an indentation indicator
    ]
)
_LINE = r"^[ ]*(?:-[ ]+)*"
_DIFFER = "|".join(
    [
        rf"(?:{_LINE}|:[ ]+)(?:{_NODE})",
        r"^---[ ]+[^ \n#]",  # a node on the document marker's line
        r"^\.\.\.",  # a document end marker (yaml-rs reads one where PyYAML fails, and more)
        # Characters PyYAML refuses (controls, non-characters) or reads as a line break or a
        # byte-order mark where yaml-rs reads content; tabs and carriage returns, which this
        # screen does not follow.
        r"[\x00-\x09\x0b-\x1f\x7f\x{80}-\x{9f}\x{2028}\x{2029}\x{feff}\x{fffe}\x{ffff}]",
        r"[0-9]{1000}",  # towards integers of more than 4,300 digits, which Python refuses
        # Nesting towards libyaml's limit of 1,000 levels (yaml-rs has none): in block style a
        # level takes a column or a "- ", so such depth needs a line indented this far.
        r"^[ -]{500}",
    ]
)
# What needs a second look: a block scalar (its body may be empty, which yaml-rs reads as "\n"
# at the stream's end, or end the stream without a line break, which yaml-rs adds; a flow
# collection in its body is text) and a non-empty flow collection
# (`[a, b]`, `{a: 1}`: the two differ in corners of flow syntax, and kubectl writes flow style
# only for `[]` and `{}`, so PyYAML reads these).
_SCREEN = re2.compile(
    (
        rf"(?m)(?P<differ>{_DIFFER})"
        rf"|(?:^(?P<indent>[ ]*(?:-[ ]+)*)|(?P<colon>:)[ ]+)"
        r"(?:(?P<block>[|>])|(?P<flow>[\[{])(?:[ ]*[^ \]}\n]|[ ]*$))"
    ).encode()
)
_CONTENT = re.compile(rb"(?:[ ]*\n)*( *)\S")
_MARKER = re.compile(rb"(?:---|\.\.\.)(?:[ \t\r\n]|\Z)")
_ALIKE = yaml_rs.DuplicateKeyPolicy.LastWins  # as PyYAML: a later key replaces an earlier one


def _may_differ(data: bytes) -> bool:
    """Whether YAML 1.1 and yaml-rs might read `data` differently (False: they read it alike)."""
    body_end = 0  # the end of the last block scalar's body: what lies before it is text
    for match in _SCREEN.finditer(data):
        at = match.start()
        if match.group(b"differ") is not None:
            return True
        if at < body_end:
            continue
        if match.group(b"flow") is not None:
            return True
        # A block scalar's header. Its body is every following line indented past the column
        # of the node holding it: the key's column, or the column of the "- " entry.
        line_start = data.rfind(b"\n", 0, at) + 1
        if match.group(b"colon") is not None:
            line = data[line_start:at]
            column = len(line) - len(line.lstrip(b" -"))
        else:
            entries = match.group(b"indent")
            if b"-" not in entries:
                return True  # the header on a line of its own: its node starts lines above
            column = entries.rindex(b"-")
        start = data.find(b"\n", at) + 1 or len(data)
        body_end = _body_end(data, start, column)
        if body_end == start or not data.endswith(b"\n"):
            return True  # empty, or maybe the stream's end without a line break: yaml-rs adds one
    return False


def _body_end(data: bytes, start: int, column: int) -> int:
    """Where a block scalar's body that starts at `start` ends (`start` for an empty body)."""
    end = start
    while end < len(data):
        content = _CONTENT.match(data, end)
        if content is None or len(content.group(1)) <= column:
            break
        newline = data.find(b"\n", content.end())
        end = len(data) if newline < 0 else newline + 1
    return end


def load(paths: Sequence[str], stdin: IO[str] | None = None) -> list[Manifest]:
    """Every object in the given files and directories, in the order given (`-` is stdin)."""
    objects: list[Manifest] = []
    for path in paths:
        if path == "-":
            objects.extend(parse_text((stdin or sys.stdin).read(), "<stdin>"))
            continue
        for file in _expand(Path(path)):
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise SourceError(f"{file}: cannot read: {exc}") from exc
            objects.extend(parse_text(data, str(file)))
    return objects


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    return [path]


def parse_text(text: str | bytes, origin: str) -> list[Manifest]:
    """The objects in one YAML (multi-document) or JSON text: a file's bytes (UTF-8) or a str."""
    try:
        docs = _read_json_or_yaml(text.encode() if isinstance(text, str) else text, origin)
    except UnicodeError as exc:
        raise SourceError(f"{origin}: cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SourceError(f"{origin}: line {exc.lineno}: malformed JSON: {exc.msg}") from exc
    except _MalformedYAML as exc:
        raise SourceError(f"{origin}: malformed YAML: {exc}") from exc
    except RecursionError:
        raise SourceError(f"{origin}: nested too deeply to read") from None
    except ValueError as exc:  # an integer of more than 4,300 digits, which Python refuses
        raise SourceError(f"{origin}: cannot read: {str(exc).split(';')[0]}") from None
    objects: list[Manifest] = []
    for index, doc in enumerate(docs):
        objects.extend(_flatten(doc, f"{origin} document {index + 1}"))
    return objects


class _Top(msgspec.Struct):
    """A JSON file's object, its list items (if any) still JSON."""

    apiVersion: Any = UNSET
    kind: Any = UNSET
    items: list[msgspec.Raw] | UnsetType = UNSET


_TOP = msgspec.json.Decoder(_Top)


def _read_json(data: bytes) -> Any:
    """A JSON file's value, as `json` reads it, except that each object of a kind with a
    typed document (alone, or an item of a list: nearly all of a cluster dump) is that
    document; of a list, only apiVersion, kind and items are kept (all `_flatten` reads)."""
    if jsontext.typed_alike(data):
        try:
            top = _TOP.decode(data)
        except (msgspec.DecodeError, RecursionError):
            pass  # not an object, or one msgspec does not read: as a whole
        else:
            kind = top.kind
            if top.items is UNSET or not (isinstance(kind, str) and kind.endswith("List")):
                return jsontext.read_object(data, jsontext.document_for(top.apiVersion, kind))
            api = given(top.apiVersion)
            items = jsontext.read_items(top.items, api, kind[: -len("List")])
            return {"apiVersion": api, "kind": kind, "items": items}
    return jsontext.loads(data)  # as a whole: `json`'s values, or its error and wording


_JSON_START = re.compile(rb"\s*[\[{]")


def _read_json_or_yaml(data: bytes, origin: str) -> list[Any]:
    if origin.endswith(".json"):
        return [_read_json(data)]
    if _JSON_START.match(data):
        try:
            return [_read_json(data)]
        except json.JSONDecodeError:
            pass  # YAML in flow style (`{kind: Service}`), or YAML documents after one: as YAML
    return _read_yaml(data)


# ---- kubectl's framing: a stream cut at its `---` lines, the pieces read side by side ----
#
# kubectl never gives a YAML library a whole stream: apimachinery's YAMLReader cuts it at every
# line that starts with `---` and decodes each document alone. A `---` line is a document marker
# wherever it stands (YAML ends a block scalar before it, and allows it inside no quoted scalar or
# flow collection: PyYAML refuses both, and so does yaml-rs reading the piece), so the pieces of
# a stream cut only at lines that are exactly `---` read as the stream does. The cut pays
# twice (docs/performance.md): what yaml-rs holds of a piece while it builds the Python objects
# is reused by the next piece, where a 41 MiB file's costs fresh memory (the 56 MiB dump's
# parse: 1.27 s in pieces, 1.81 s whole); and yaml-rs parses without the GIL, building the
# objects with it, so a second thread overlaps one piece's parse with another's building
# (0.98 s). Nothing else of YAML is looked at here: the screen has passed the whole stream,
# and any piece yaml-rs refuses, or whose documents cannot be told, sends the whole stream to
# PyYAML.

_PIECE = 1 << 20  # bytes; a cluster dump of 56 MiB is about 56 pieces, a small file one
_MARKER_LINE = b"\n---\n"
# The second CPU, where the process may use one (its affinity, where the platform has one):
# more threads were not measured.
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
_READERS = min(2, _CPUS or 1)


def _pieces(data: bytes, size: int) -> list[bytes]:
    """`data` cut before `---` lines, every piece but the last at least `size` bytes long."""
    pieces: list[bytes] = []
    start = 0
    while (cut := data.find(_MARKER_LINE, start + size - 1)) >= 0:
        pieces.append(data[start : cut + 1])
        start = cut + 1
    pieces.append(data[start:] if start else data)
    return pieces


def _read_pieces(pieces: list[bytes]) -> list[Any] | None:
    """The documents of the pieces of one stream, in order; None when yaml-rs refuses a piece
    or a piece's documents cannot be told (PyYAML reads the whole stream then)."""
    if len(pieces) == 1 or _READERS == 1:
        return _joined(pieces, map(_yaml_rs, pieces))
    pool = ThreadPoolExecutor(_READERS, thread_name_prefix="birdgen-yaml")
    try:
        return _joined(pieces, pool.map(_yaml_rs, pieces))
    finally:
        # A piece refused: the rest are not read (the whole stream goes to PyYAML).
        pool.shutdown(cancel_futures=True)


def _yaml_rs(piece: bytes) -> Any:
    try:
        return yaml_rs.load(
            piece, parse_datetime=False, duplicate_key_policy=_ALIKE, encoder_errors="strict"
        )
    except yaml_rs.YAMLDecodeError:
        return _REFUSED  # PyYAML reads it again: for its wording of the error, or because it can


_REFUSED = object()


def _joined(pieces: list[bytes], reads: Iterator[Any]) -> list[Any] | None:
    docs: list[Any] = []
    for piece, read in zip(pieces, reads, strict=True):
        # None: a piece with no document at all, or an empty document, which yaml-rs
        # does not tell apart; the stream read whole says which.
        if read is _REFUSED or (read is None and len(pieces) > 1):
            return None
        piece_docs = _documents(piece, read)
        if piece_docs is None:
            return None
        docs += piece_docs
    return docs


def _read_yaml(data: bytes, piece: int = _PIECE) -> list[Any]:
    """The documents of a YAML stream (UTF-8), read as kubectl reads them; `piece`: the size
    from which a stream is cut at its `---` lines (see `_pieces`)."""
    if not _may_differ(data):
        docs = _read_pieces(_pieces(data, piece))
        if docs is not None:
            return docs
    # Imported here: a render of files yaml-rs reads alike never needs PyYAML.
    from birdgen.sources import pyyaml

    try:
        return pyyaml.load_all(data.decode())
    except pyyaml.YAMLError as exc:
        raise _MalformedYAML(pyyaml.message(exc)) from exc


class _MalformedYAML(Exception):
    """PyYAML's error, in its words (`pyyaml.message`)."""


def _documents(data: bytes, read: Any) -> list[Any] | None:
    """`yaml_rs.load`'s result as a list of documents; None when that cannot be told.

    yaml-rs returns a stream of several documents as their list, one document as itself, and
    none as None. Without a `---` line there is one document. With one, a list of
    mappings is taken as documents: a single document holding that list would give the same
    objects (lists are flattened); anything else is left to PyYAML.
    """
    if not isinstance(read, list) or not _has_marker(data):
        return [read]
    return read if all(isinstance(doc, dict) for doc in read) else None


def _has_marker(data: bytes) -> bool:
    """Whether a line of `data` is a `---` document marker (the screen sends `...` to PyYAML)."""
    if _MARKER.match(data):
        return True
    at = -1  # the line break before the line looked at
    while (at := data.find(b"\n---", at + 1)) >= 0:
        if _MARKER.match(data, at + 1):
            return True
    return False


def _flatten(doc: Any, where: str) -> Iterator[Manifest]:
    if doc is None:
        return
    if isinstance(doc, Document):
        yield doc
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
