"""sources: a fast reader for the block-style YAML that `kubectl get -o yaml` writes.

PyYAML, even on libyaml, builds several Python objects per scalar and reads a cluster dump at
about 4 MiB/s (docs/performance.md). Dumps written by Kubernetes tooling use a small, regular
part of YAML: block mappings and sequences, one `key: value` per line, plain or simply quoted
scalars, `{}`/`[]`, and `|` block scalars. This module reads exactly that part, line by line,
several times faster, and gives up on anything else by raising `Unsupported`; the caller then
hands that document to PyYAML. So PyYAML stays the reference: a document is either read here
into the very same objects PyYAML would build (tests/sources/test_blockyaml.py checks this
against PyYAML on generated and hand-written documents), or PyYAML reads it.

Plain scalars are resolved with the caller's own implicit-resolver table (kubectl-like: no
base-60 numbers, no timestamps) and constructed by PyYAML's own constructor, so `yes`, `0x1F`
or `1_000` mean the same thing on both paths.
"""

from __future__ import annotations

import re
from itertools import chain
from typing import Any

import yaml

__all__ = ["BlockYaml", "Unsupported"]


class Unsupported(Exception):
    """This text uses YAML this reader does not handle; read it with PyYAML instead."""


# Characters PyYAML's reader refuses (yaml.reader.Reader.NON_PRINTABLE), plus the tab, the
# carriage return and the byte-order mark, whose whitespace rules this reader does not model.
# \x85, \u2028 and \u2029 are line breaks to PyYAML.
_AWKWARD = re.compile(
    "[^\x0a\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_ASCII_AWKWARD = bytes([*range(0x0A), *range(0x0B, 0x20), 0x7F])
# Plain scalars this reader can take: no indicator first, no comment, no `: ` inside.
_PLAIN_FIRST_BAD = frozenset("[]{},#&*!|>'\"%@`")
_SIMPLE_TAGS = frozenset(
    (
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    )
)

# A token is one line's worth of structure: (column, is_sequence_item, key, value).
# For a sequence item, key is None; its value is _NESTED when the item's content starts on the
# same line as a mapping ("- name: x", emitted as two tokens) or on the following lines ("-").
# For a mapping key, value is _NESTED when the value is on the following lines ("key:").
_Token = tuple[int, bool, Any, Any]
_NOTHING = object()  # marks "no value on this line" inside the tokenizer
_NESTED = object()  # a token's value: "on the following lines, if any" (`key:`, `-`)
_LITERAL_CLIP = object()  # `|`: a literal block scalar follows, ending with one newline
_LITERAL_STRIP = object()  # `|-`: the same without the final newline
_BLOCK_SCALARS = {"|": _LITERAL_CLIP, "|-": _LITERAL_STRIP}
# Each cache is emptied when it reaches this size: unique lines (uids, IPs) would otherwise fill
# it and crowd out the lines that repeat, which are back after one miss each.
_MAX_CACHED = 50_000


def _scoped(regexp: re.Pattern[str]) -> str:
    """The pattern, with its verbose flag kept to itself, to join with others by `|`."""
    return f"(?x:{regexp.pattern})" if regexp.flags & re.VERBOSE else f"(?:{regexp.pattern})"


def _awkward(text: str) -> bool:
    if text.isascii():  # the usual case, checked at memory speed
        data = text.encode("ascii")
        return len(data.translate(None, _ASCII_AWKWARD)) != len(data)
    return _AWKWARD.search(text) is not None


class BlockYaml:
    """Reads documents with one loader class's resolver table; one instance per loader class."""

    def __init__(self, loader: type[yaml.SafeLoader]) -> None:
        self._loader = loader
        self._resolvers = loader.yaml_implicit_resolvers
        self._constructor = yaml.SafeLoader("")  # only its construct_yaml_* methods are used
        # One pattern matching whatever any resolver matches, each behind its first characters:
        # most new scalars (names, uids, addresses) match none, and one test says so.
        firsts: dict[str, list[str]] = {}
        for first, resolvers in self._resolvers.items():
            for _, regexp in resolvers if first else ():
                firsts.setdefault(_scoped(regexp), []).append(first)
        self._any_resolver = re.compile(
            "|".join(
                f"(?=[{re.escape(''.join(chars))}]){pattern}" for pattern, chars in firsts.items()
            )
            or "(?!)"
        )
        self._scalars: dict[str, Any] = {}  # scalar text -> value
        self._lines: dict[str, tuple[_Token, ...]] = {}  # line -> its tokens
        # `  - key` -> (the tokens before the key's, the key's column, the key)
        self._heads: dict[str, tuple[tuple[_Token, ...], int, Any]] = {}

    def load_all(self, text: str) -> list[Any]:
        """Every document in a YAML stream, exactly as `yaml.load_all(text, loader)` returns them.

        Documents this reader cannot take go to PyYAML one by one; if PyYAML rejects one, it
        reads the whole stream again, so that its error message is the one for the stream.
        """
        try:
            chunks = split_documents(text)
        except Unsupported:
            return list(yaml.load_all(text, Loader=self._loader))
        out: list[Any] = []
        last = len(chunks) - 1
        for index, (explicit, lines) in enumerate(chunks):
            try:
                out.extend(self._chunk(explicit, lines))
                continue
            except Unsupported:
                pass
            # The chunk's own text, byte for byte (a `|+` scalar keeps trailing newlines).
            chunk = "\n".join(lines)
            chunk = chunk[1:] if index == 0 else chunk
            chunk = chunk[:-1] if index == last else chunk + "\n"
            try:
                docs = list(yaml.load_all(chunk, Loader=self._loader))
            except yaml.YAMLError:
                return list(yaml.load_all(text, Loader=self._loader))  # raises for the stream
            out.extend(docs if docs or not explicit else [None])
        return out

    def documents(self, text: str) -> list[Any]:
        """Like `load_all`, but raises `Unsupported` instead of calling PyYAML (for tests)."""
        return [
            doc for explicit, lines in split_documents(text) for doc in self._chunk(explicit, lines)
        ]

    def _chunk(self, explicit: bool, lines: list[str]) -> list[Any]:
        """The document in one chunk: none if nothing but the stream's start, else exactly one."""
        tokens = self._tokens(lines)
        return [self._document(tokens)] if tokens or explicit else []

    def _document(self, tokens: list[_Token]) -> Any:
        if not tokens:
            return None
        if tokens[0][0] != 0:
            raise Unsupported("indented first line")
        value, end = self._block(tokens, 0)
        if end != len(tokens):
            raise Unsupported("content after the document's top-level node")
        return value

    # --- structure ----------------------------------------------------------------------------

    def _block(self, tokens: list[_Token], i: int) -> tuple[Any, int]:
        if tokens[i][1]:
            return self._sequence(tokens, i)
        return self._mapping(tokens, i)

    def _mapping(self, tokens: list[_Token], i: int) -> tuple[dict[Any, Any], int]:
        col = tokens[i][0]
        out: dict[Any, Any] = {}
        n = len(tokens)
        while i < n:
            tcol, is_item, key, value = tokens[i]
            if tcol != col or is_item:
                break
            i += 1
            if value is _NESTED:
                if i < n and (tokens[i][0] > col or (tokens[i][0] == col and tokens[i][1])):
                    value, i = self._block(tokens, i)
                else:
                    value = None  # `key:` and nothing under it
            elif i < n and tokens[i][0] > col:
                raise Unsupported("a scalar continued on the next line")
            out[key] = value
        if i < n and tokens[i][0] > col:
            raise Unsupported("inconsistent indentation")
        return out, i

    def _sequence(self, tokens: list[_Token], i: int) -> tuple[list[Any], int]:
        col = tokens[i][0]
        out: list[Any] = []
        n = len(tokens)
        while i < n:
            tcol, is_item, _, value = tokens[i]
            if tcol != col or not is_item:
                break
            i += 1
            if value is _NESTED:
                if i < n and tokens[i][0] > col:
                    value, i = self._block(tokens, i)
                else:
                    value = None
            elif i < n and tokens[i][0] > col:
                raise Unsupported("a scalar continued on the next line")
            out.append(value)
        if i < n and tokens[i][0] > col:
            raise Unsupported("inconsistent indentation")
        return out, i

    # --- lines --------------------------------------------------------------------------------

    def _tokens(self, lines: list[str]) -> list[_Token]:
        # Cluster dumps repeat most lines (`    ready: true`, `  - IPv4`, ...): look every line up
        # in one C-level pass, then work out only the lines not seen before, in order.
        known, heads = self._lines, self._heads
        heads_get, scalars_get = heads.get, self._scalars.get
        entries: list[tuple[_Token, ...] | None] = list(map(known.get, lines))
        i = 0
        while True:
            try:
                i = entries.index(None, i)
            except ValueError:
                break
            line = lines[i]
            # Lines not seen before mostly have a key seen before (`    uid: <unique>`).
            head, colon, tail = line.partition(": ")
            shape = heads_get(head) if colon else None
            if shape is not None:
                tail = tail.strip(" ")
                if not tail:
                    value = _NESTED
                elif (value := scalars_get(tail, _NOTHING)) is _NOTHING:
                    value = _BLOCK_SCALARS.get(tail) or self._new_scalar(tail)
                toks = (*shape[0], (shape[1], False, shape[2], value))
            elif not colon and (item := _plain_item(line)) is not None:
                # `  - <unique>` (an address, say): a sequence item holding one scalar.
                value = self._value(item[1])
                toks = ((item[0], True, None, value),)
            else:
                toks = self._line(line)
                if not toks:
                    entries[i] = toks
                    i += 1
                    continue
                # The first ": " ends the key unless the key is quoted (`'a: b': c`).
                if colon and not toks[-1][1] and "'" not in head and '"' not in head:
                    if len(heads) >= _MAX_CACHED:
                        heads.clear()
                    heads[head] = (toks[:-1], toks[-1][0], toks[-1][2])
                value = toks[-1][3]
            if value is _LITERAL_CLIP or value is _LITERAL_STRIP:
                last = toks[-1]
                value, end = _block_scalar(lines, i + 1, last[0], value is _LITERAL_CLIP)
                entries[i] = (*toks[:-1], (last[0], last[1], last[2], value))
                entries[i + 1 : end] = [()] * (end - i - 1)  # its content lines are not tokens
                i = end
                continue
            if value.__class__ is not dict and value.__class__ is not list:  # never share those
                if len(known) >= _MAX_CACHED:
                    known.clear()
                known[line] = toks
            entries[i] = toks
            i += 1
        return list(chain.from_iterable(entries))  # type: ignore[arg-type]

    def _line(self, line: str) -> tuple[_Token, ...]:
        """The tokens of one line: none for a blank or comment line, two for `- key: value`."""
        text = line.lstrip(" ")
        if not text or text[0] == "#":
            return ()
        col = len(line) - len(text)
        if text[0] == "-" and (len(text) == 1 or text[1] == " "):
            items: tuple[_Token, ...] = ()
            while text[0] == "-" and (len(text) == 1 or text[1] == " "):  # `- - x` nests
                rest = text[1:].lstrip(" ")
                items += ((col, True, None, _NESTED),)
                if not rest:
                    return items
                col += len(text) - len(rest)
                text = rest
            key, value = self._split(text)
            if key is _NOTHING:
                return (*items[:-1], (items[-1][0], True, None, self._value(value)))
            return (*items, (col, False, key, self._value(value)))
        key, value = self._split(text)
        if key is _NOTHING:
            raise Unsupported("a scalar where a key was expected")
        return ((col, False, key, self._value(value)),)

    def _value(self, text: Any) -> Any:
        if text is _NOTHING:
            return _NESTED
        return _BLOCK_SCALARS.get(text) or self._scalar(text)

    def _split(self, text: str) -> tuple[Any, Any]:
        """(key, value text) of `key: value`, `key:` (value _NOTHING) or a bare scalar (key _NOTHING)."""
        if text[0] == "'" or text[0] == '"':  # a quoted key may hold ": " itself
            end = text.find(text[0] + ":", 1)
            if end < 0:
                return _NOTHING, text.rstrip(" ")
            at = end + 1
            if text[at + 1 : at + 2] not in ("", " "):
                raise Unsupported("a quoted key followed by text")
        else:
            at = text.find(": ")
        if at < 0 or at + 1 == len(text):
            if text.endswith(":"):
                key_text = text[:-1]
                value: Any = _NOTHING
            else:
                return _NOTHING, text.rstrip(" ")
        else:
            key_text = text[:at]
            value = text[at + 2 :].strip(" ")
            if not value:
                value = _NOTHING
        if not key_text or key_text[-1] == " " or (key_text[0] in "?:-" and len(key_text) == 1):
            raise Unsupported("an unusual key")
        key = self._scalar(key_text)
        if isinstance(key, dict | list):
            raise Unsupported("a collection as a key")
        return key, value

    def _scalar(self, text: str) -> Any:
        """The value of one scalar written on one line: plain, quoted, `{}` or `[]`."""
        value = self._scalars.get(text, _NOTHING)
        return self._new_scalar(text) if value is _NOTHING else value

    def _new_scalar(self, text: str) -> Any:
        first = text[0]
        if first == "'":
            inner = text[1:-1]
            if len(text) < 2 or text[-1] != "'" or "'" in inner.replace("''", ""):
                raise Unsupported("a single-quoted scalar this reader does not handle")
            return inner.replace("''", "'")
        if first == '"':
            inner = text[1:-1]
            if len(text) < 2 or text[-1] != '"' or '"' in inner or "\\" in inner:
                raise Unsupported("a double-quoted scalar this reader does not handle")
            return inner
        if first == "[" or first == "{":
            return self._flow(text)
        if (
            first in _PLAIN_FIRST_BAD
            or (first in "-?:" and (len(text) == 1 or text[1] == " "))
            or " #" in text
            or ": " in text
            or text[-1] == ":"
        ):
            raise Unsupported("a plain scalar this reader does not handle")
        value = self._resolve(text)
        if len(self._scalars) >= _MAX_CACHED:
            self._scalars.clear()
        self._scalars[text] = value
        return value

    def _flow(self, text: str) -> Any:
        """`[a, b]` or `{k: v, k2: v2}` on one line, of scalars only (as people write them)."""
        sequence = text[0] == "["
        inner = text[1:-1].strip(" ")
        awkward = "[]{}#:" if sequence else "[]{}#"  # a mapping's colons are checked below
        if text[-1] != ("]" if sequence else "}") or any(c in inner for c in awkward):
            raise Unsupported("a flow collection this reader does not handle")
        items = [item.strip(" ") for item in inner.split(",")] if inner else []
        if items and not items[-1]:
            items.pop()  # a trailing comma
        if any(not item for item in items):
            raise Unsupported("an empty entry in a flow collection")
        if sequence:
            return [self._scalar(item) for item in items]
        out = {}
        for item in items:
            key, colon, value = item.partition(": ")
            if not colon or ":" in key or ":" in value or not value.strip(" "):
                raise Unsupported("a flow mapping entry this reader does not handle")
            k = self._scalar(key.strip(" "))
            if isinstance(k, dict | list):
                raise Unsupported("a collection as a key")
            out[k] = self._scalar(value.strip(" "))
        return out

    def _resolve(self, text: str) -> Any:
        if not self._any_resolver.match(text):
            return text
        for tag, regexp in self._resolvers.get(text[0], ()):
            if regexp.match(text):
                if tag not in _SIMPLE_TAGS:
                    raise Unsupported(f"a plain scalar resolved to {tag}")
                construct = self._constructor.yaml_constructors[tag]
                return construct(self._constructor, yaml.ScalarNode(tag, text))
        return text


def split_documents(text: str) -> list[tuple[bool, list[str]]]:
    """Each document's lines, split at `---` lines, with whether a `---` started it.

    Only the part before the first `---` may be absent (no content: no document); every `---`
    starts a document, even an empty one (None), as PyYAML reads a stream. Directives, `...`,
    anything else on a `---` line, and characters PyYAML treats specially are left to PyYAML.
    """
    if _awkward(text):
        raise Unsupported("characters whose handling this reader does not model")
    framed = "\n" + text + "\n"  # every line, the first and last too, now sits between "\n"s
    if framed.count("\n---") != framed.count("\n---\n") or "\n..." in framed or "\n%" in framed:
        raise Unsupported("a directive, a document end, or content after ---")
    chunks = framed.split("\n---\n")
    return [(i > 0, chunk.split("\n")) for i, chunk in enumerate(chunks)]


def _plain_item(line: str) -> tuple[int, str] | None:
    """(column, scalar text) of a line `<spaces>- <scalar>`, or None for any other line."""
    indent, dash, rest = line.partition("- ")
    if not dash or indent.strip(" ") or not rest or rest[0] in " -?:'\"" or rest[-1] == ":":
        return None
    return len(indent), rest.rstrip(" ")


def _block_scalar(lines: list[str], i: int, parent_col: int, clip: bool) -> tuple[str, int]:
    """A `|` or `|-` literal block scalar starting at lines[i]; (its value, the next line)."""
    n = len(lines)
    start = i
    while i < n and not lines[i].strip(" "):
        i += 1
    if i == n or i > start:
        raise Unsupported("a block scalar that starts with blank lines or is empty")
    first = lines[i]
    indent = len(first) - len(first.lstrip(" "))
    if indent <= parent_col:
        raise Unsupported("an empty block scalar")
    content: list[str] = []
    while i < n:
        line = lines[i]
        stripped = line.lstrip(" ")
        if not stripped:
            if len(line) > indent:
                raise Unsupported("a whitespace line inside a block scalar")
            content.append("")
        elif len(line) - len(stripped) < indent:
            break
        else:
            content.append(line[indent:])
        i += 1
    while content and not content[-1]:
        content.pop()  # trailing blank lines are chomped in both `|` and `|-`
    text = "\n".join(content)
    return (text + "\n" if clip else text), i
