"""sources: the one JSON decoder of every edge — manifests, list pages, watch events.

msgspec reads JSON several times faster than the standard library's `json`, which matters at
the cluster edge (one node's initial sync reads 54 MiB of list pages) and for a cluster's dump
in files. What msgspec refuses (NaN and infinities, lone surrogates, nesting near Python's
recursion limit; and text that is not JSON at all) is read again by `json`, so every input
gives what `json.loads` gives: its values (integers of any size exactly), or its error and
wording. (orjson, once used here, reads integers beyond 64 bits as inexact floats.)

Objects of the kinds with a typed document (Services, EndpointSlices, v1 Nodes:
`birdgen.model.documents`) are read straight into it (`read_object`; a list's items,
`read_items`), skipping every field birdgen does not read; `peek` tells an object's apiVersion
and kind without building it. In what it skips unread msgspec takes more than `json` does:
bytes that are not UTF-8 and integers too long for Python, so `typed_alike` says whether a text
is free of both (read it with `loads` otherwise).
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from typing import Any, cast

import msgspec
from msgspec import UNSET

from birdgen.model.documents import DOCUMENTS, Document, decode


def loads(data: bytes | str) -> Any:
    """The value of one JSON text; raises `json.JSONDecodeError` (a ValueError) as `json` does."""
    try:
        return msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError):
        # Bytes as UTF-8 (what msgspec and the API server speak), not `json`'s guess at UTF-16
        # or UTF-32; a byte that is not UTF-8 is a UnicodeDecodeError, a ValueError too.
        return json.loads(data.decode() if isinstance(data, bytes) else data)


class _Peek(msgspec.Struct):
    apiVersion: Any = UNSET
    kind: Any = UNSET


_PEEK = msgspec.json.Decoder(_Peek)
# Every _STRIDE-th byte of a text: a run of n digits holds n // _STRIDE of them in a row (at
# least 10: Python's limit is 640 digits or more), so runs of digits too long for Python are
# looked for in that sample, a 64th of the bytes, and in the text only where the sample has one.
_STRIDE = 64


def typed_alike(data: bytes) -> bool:
    """Whether msgspec reads `data` as `json` would, fields it skips included: all UTF-8, and
    no integer too long for Python (`json` refuses one, msgspec skips it unread)."""
    if not data.isascii() and not _is_utf8(data):
        return False
    return not _has_long_digits(data, sys.get_int_max_str_digits())


def _is_utf8(data: bytes) -> bool:
    # A MiB at a time: a decoded copy of a whole cluster dump would take up to four times its
    # size in memory.
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for at in range(0, len(data), 1 << 20):
            decoder.decode(view[at : at + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _has_long_digits(data: bytes, limit: int) -> bool:
    """Whether `data` has a run of more than `limit` digits (0: no limit). A string or a
    fraction with one is harmless, and is only read the slower way."""
    if limit <= 0:
        return False
    # Only files are screened (`birdgen.sources.files`): the cluster's sidecar, which decodes
    # every response here too, never loads the library (2.4 MiB resident).
    import re2

    least = (limit + 1) // _STRIDE
    run = re.compile(rb"[0-9]{%d}" % (limit + 1))
    for sampled in re2.finditer(rb"[0-9]{%d,}" % least, data[::_STRIDE]):
        first, end = sampled.span()
        if run.search(data, max(0, (first - 1) * _STRIDE + 1), end * _STRIDE):
            return True
    return False


def peek(data: bytes | msgspec.Raw) -> tuple[Any, Any] | None:
    """An object's apiVersion and kind as written (`UNSET` where absent), read without building
    the rest; None when `data` is not a JSON object msgspec reads."""
    try:
        head = _PEEK.decode(data)
    except (msgspec.DecodeError, RecursionError):  # ValidationError included
        return None
    return head.apiVersion, head.kind


def read_object(data: bytes | msgspec.Raw, document: type[Document] | None) -> Any:
    """One object's JSON (a list item, a watch event's object, a file) as `document` where it
    has that document's shape, else as `loads` gives it (the model's `Fields` reader then says
    what is wrong with it; a text `loads` refuses raises its error)."""
    doc = decode(document, data) if document is not None else None
    return doc if doc is not None else loads(bytes(data))


def read_items(items: list[msgspec.Raw], list_api: Any, item_kind: str) -> list[Any]:
    """A list's items, each read as `read_object` reads it with the document its apiVersion and
    kind name (an item without kind is the list's `item_kind` of the list's apiVersion, as the
    API server writes them; a `List` has no `item_kind`).

    An item is first tried with the document of the item before it, in a variant that reads
    apiVersion and kind as well, and kept if they name that document: a list of one kind
    (a cluster's dump has little else) costs one decoding per item, not a peek and one."""
    out: list[Any] = []
    guess: type[Document] | None = None
    for item in items:
        if guess is not None:
            doc = _headed(guess, item)
            if (
                doc is not None
                and document_for(doc.apiVersion, doc.kind, list_api, item_kind) is guess
            ):
                out.append(doc)
                continue
        head = peek(item)
        document = document_for(*head, list_api, item_kind) if head is not None else None
        doc = _headed(document, item) if document is not None else None
        out.append(loads(bytes(item)) if doc is None else doc)
        guess = None if doc is None else document
    return out


def document_for(
    api: Any, kind: Any, list_api: Any = None, item_kind: str = ""
) -> type[Document] | None:
    """The typed document of an object with this apiVersion and kind (`UNSET` where absent),
    if any; of an item of a list with `list_api` and `item_kind` (see `read_items`)."""
    if kind is UNSET:  # as kubectl restores it
        api, kind = (list_api if api is UNSET else api), item_kind
    if isinstance(api, str) and isinstance(kind, str):
        return DOCUMENTS.get((api, kind))
    return None


def _with_head(document: type[Document]) -> type[Document]:
    """`document` reading apiVersion and kind too (as `_Peek` does), for `read_items`."""
    fields = [("apiVersion", Any, UNSET), ("kind", Any, UNSET)]
    return cast(type[Document], msgspec.defstruct(document.__name__, fields, bases=(document,)))


_HEADED = {d: msgspec.json.Decoder(_with_head(d)) for d in DOCUMENTS.values()}


def _headed(document: type[Document], data: msgspec.Raw) -> Any:
    """The item as `document` with its apiVersion and kind; None if not of its shape."""
    try:
        return _HEADED[document].decode(data)
    except (msgspec.DecodeError, RecursionError):  # ValidationError included
        return None
