"""JSON files read straight into the typed documents (`birdgen.sources.files`, through
`birdgen.sources.jsontext.read_object`) against the standard library's `json` as the oracle.

The property: for any JSON text, the model gets the same thing from `parse_text` as from the
objects `json.loads` gives, flattened by hand here as kubectl flattens lists: the same key,
record, problems and notices for each object, in the same order; and where `json` refuses the
text, `parse_text` refuses it naming the file. The texts are the hostile corpus (every kind,
every field the model reads) as one `List` or one object per file, with one to three nodes
replaced by what msgspec and `json` might read differently: integers beyond 64 bits and beyond
Python's limit, NaN, lone surrogates, bytes that are not UTF-8, nesting near the recursion
limit, duplicate keys, and values of the wrong type.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from birdgen.errors import SourceError
from birdgen.model.documents import Document, EndpointSliceDocument, NodeDocument, ServiceDocument
from birdgen.model.parse import Parsed, parse_object
from birdgen.sources.files import parse_text
from birdgen.sources.jsontext import _has_long_digits, typed_alike
from tests import hostile_corpus as hc


def flattened(value: Any) -> list[Any]:
    """The objects of a JSON value as kubectl lists them (written here, not birdgen's; without
    recursion, as deep nesting is among the inputs)."""
    out: list[Any] = []
    todo = [value]
    while todo:
        value = todo.pop()
        if value is None:
            continue
        if isinstance(value, list):
            todo += reversed(value)
            continue
        if not isinstance(value, dict):
            raise SourceError("not an object")
        kind = value.get("kind")
        if not (isinstance(kind, str) and kind.endswith("List") and isinstance(value.get("items"), list)):  # fmt: skip
            out.append(value)
            continue
        items = value["items"]
        if kind != "List":
            stamp = {"apiVersion": value.get("apiVersion"), "kind": kind[:-4]}
            items = [{**stamp, **i} if isinstance(i, dict) and "kind" not in i else i for i in items]  # fmt: skip
        todo += reversed(items)
    return out


def oracle(data: bytes) -> list[Parsed] | None:
    """What the model makes of the text as `json` reads it; None where `json` refuses it."""
    try:
        value = json.loads(data.decode())
        return [parse_object(obj) for obj in flattened(value)]
    except (ValueError, RecursionError, SourceError):
        return None


def read(data: bytes) -> list[Parsed] | None:
    try:
        return [parse_object(obj) for obj in parse_text(data, "x.json")]
    except SourceError as exc:
        assert str(exc).startswith("x.json")
        return None


def dump(value: Any) -> bytes:
    return json.dumps(value, indent=1).encode()


# ---- hand-written corners


def test_a_list_gives_documents_for_the_typed_kinds_and_mappings_for_the_rest() -> None:
    objects = hc.corpus()
    got = parse_text(dump({"apiVersion": "v1", "kind": "List", "items": objects}), "x.json")
    kinds = (ServiceDocument, EndpointSliceDocument, NodeDocument)
    typed = [next(k for k in kinds if isinstance(obj, k)) for obj in got if isinstance(obj, Document)]  # fmt: skip
    assert set(typed) == set(kinds)
    assert [o["kind"] for o in got if isinstance(o, dict)] == [
        o["kind"] for o in objects if o["kind"] not in ("Service", "EndpointSlice")
        and (o["apiVersion"], o["kind"]) != ("v1", "Node")
    ]  # fmt: skip
    assert read(dump({"kind": "List", "items": objects})) == oracle(dump({"kind": "List", "items": objects}))  # fmt: skip


def test_items_without_kind_take_the_lists() -> None:
    text = '{"apiVersion": "v1", "kind": "ServiceList", "items": [{"metadata": {"name": "a"}},'
    text += ' {"apiVersion": "discovery.k8s.io/v1", "metadata": {"name": "b"}},'
    text += ' {"kind": "Service", "metadata": {"name": "c"}}]}'
    got = parse_text(text, "x.json")
    assert isinstance(got[0], ServiceDocument) and got[0].metadata.name == "a"  # type: ignore[union-attr]
    # Its own apiVersion is kept: no Service there; and a kind without apiVersion is no kind.
    assert got[1] == {"apiVersion": "discovery.k8s.io/v1", "kind": "Service", "metadata": {"name": "b"}}  # fmt: skip
    assert got[2] == {"kind": "Service", "metadata": {"name": "c"}}
    assert read(text.encode()) == oracle(text.encode())


NODE = {"apiVersion": "v1", "kind": "Node"}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
           "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}}  # fmt: skip


REPLACED = [
    (b'"s"', b'"s", "x": NaN'), (b'"s"', b"NaN"), (b'"10.96.0.10"', b"Infinity"),
    (b'"10.96.0.10"', b"1e400"), (b"53", b"18446744073709551616"),
    (b'"10.96.0.10"', b"18446744073709551616"), (b"53", b"9" * 5000),
    (b"53", b"-" + b"9" * 4300), (b'"10.96.0.10"', b"9" * 4301),
    (b"53", b'"' + b"9" * 5000 + b'"'), (b"53", b'"\\ud800"'), (b'"ns"', b'"\\udc00"'),
    (b"53", b'"\xff"'), (b"53", b'"\xed\xa0\x80"'), (b'"ns"', b'"\xc0\x80"'),
    (b'"ns"', b'"n\\u0000s"'),
    # msgspec once raised UnicodeEncodeError naming such a string in its error.
    (b'"ns"', b'{"a": "\\ud800"}'),
]  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        dump(SERVICE),
        dump({"kind": "List", "items": [SERVICE, SERVICE]}),
        dump([SERVICE, [SERVICE], None]),
        dump({"kind": "List", "items": [SERVICE, 5]}),
        dump({"kind": "List", "items": [SERVICE, [SERVICE, "x"]]}),
        dump({"kind": "List", "items": {"a": SERVICE}}),
        dump({"kind": "List", "items": None}),
        dump({"kind": "Service", "apiVersion": "v1", "items": [SERVICE], "metadata": {"name": "i"}}),
        dump({"kind": "List", "items": [{**SERVICE, "kind": "List", "items": [SERVICE]}]}),
        b'{"kind": "List", "items": [' + dump(SERVICE)[:-1] + b', "kind": "Node"}]}',
        b'{"kind": "List", "kind": "x", "items": [' + dump(SERVICE) + b"]}",
        dump(SERVICE)[:-1] + b', "spec": {"clusterIP": "10.96.0.11"}, "spec": 5}',
        dump(SERVICE)[:-1] + b', "spec": 5, "spec": {"clusterIP": "10.96.0.11"}}',
        # One value of the Service replaced (its port 53 is in a field birdgen does not read).
        *(dump(SERVICE).replace(old, new) for old, new in REPLACED),
        dump({"kind": "List", "items": [NODE | {"metadata": {"name": "n", "labels": "\ud800"}}]}),
        b"\xef\xbb\xbf" + dump(SERVICE),
        dump(SERVICE) + b" x",
        dump(SERVICE)[:-3],
        # Nesting well within Python's recursion limit, and past it (where exactly it is
        # reached depends on the depth of the stack the reading starts from).
        *(dump(SERVICE).replace(b"53", b"[" * n + b"]" * n) for n in (800, 1030, 5000)),
        *(dump({"kind": "List", "items": [SERVICE]}).replace(b"53", b"[" * n + b"]" * n)
          for n in (800, 1030)),
    ],
)  # fmt: skip
def test_corners_read_as_json_reads_them(text: bytes) -> None:
    assert read(text) == oracle(text)


def test_a_hostile_text_is_read_the_whole_way_with_jsons_errors() -> None:
    big = dump(SERVICE).replace(b"53", b"9" * 5000)
    with pytest.raises(SourceError, match=r"^x\.json: cannot read: Exceeds the limit \(4300"):
        parse_text(big, "x.json")
    with pytest.raises(SourceError, match=r"^x\.json: cannot read: 'utf-8' codec"):
        parse_text(dump(SERVICE).replace(b"53", b'"\xff"'), "x.json")
    with pytest.raises(SourceError, match=r"^x\.json: line 1: malformed JSON: Unexpected UTF-8"):
        parse_text(b"\xef\xbb\xbf" + dump(SERVICE), "x.json")
    # What msgspec refuses and `json` reads is read by `json`: the mapping, not a document.
    [nan] = parse_text(dump(SERVICE).replace(b'"s"', b'"s", "x": NaN'), "x.json")
    assert isinstance(nan, dict) and nan["metadata"]["x"] != nan["metadata"]["x"]


@pytest.mark.parametrize("at", [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20])
def test_bytes_that_are_not_utf8_are_found_anywhere(at: int) -> None:
    # Characters of two bytes, one across the end of each MiB (read a MiB at a time).
    good = (b"a" + ("é" * (2 << 20)).encode())[: (3 << 20) + 1]
    assert typed_alike(good)
    assert not typed_alike(good[:at] + b"\xff" + good[at:])
    assert not typed_alike(good[:-1])  # cut short in the last character


@given(st.integers(640, 5000), st.binary(max_size=300), st.integers(0, 3000), st.binary(max_size=300))  # fmt: skip
def test_long_digit_runs_are_found_as_a_regex_finds_them(
    limit: int, before: bytes, run: int, after: bytes
) -> None:
    data = before + b"7" * run + after
    assert _has_long_digits(data, limit) == bool(re.search(rb"[0-9]{%d}" % (limit + 1), data))


# ---- generated: the hostile corpus with one to three nodes replaced


def node_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += node_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += node_paths(item, (*path, index))
    return out


CORPUS = hc.corpus()
PATHS = [p for p in node_paths(CORPUS) if p]
NASTY = st.sampled_from(
    [None, True, 0, -1, 2**63, 2**64, -(2**64), 10**30, 1.5, -0.0, float("nan"), float("inf"),
     "", "x", "\ud800", "\udc00x", "a\u0000b", "é", [], {}, [1, "a"], {"a": 1}, {"kind": "List"},
     "10.96.0.1", "fd00::1", "Local", "Cluster", "LoadBalancer", "IPv4", "IPv6", "n1"]
)  # fmt: skip
# Replaced by nesting after dumping: well within Python's recursion limit, or past it.
DEEP = st.one_of(st.integers(1, 800), st.integers(1100, 1200)).map(lambda n: f"DEEP{n}")
BYTES = st.sampled_from(["NOTUTF8", "LONGINT"])


def mutate(objects: list[Any], path: tuple[Any, ...], value: Any) -> None:
    *parents, last = path
    node: Any = objects
    for step in parents:
        node = node[step]
    node[last] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(PATHS), st.one_of(NASTY, DEEP, BYTES)), min_size=1, max_size=3
    ),
    st.booleans(),
    st.sampled_from(["List", "ServiceList", "objects"]),
)
def test_mutated_corpus_reads_as_json_reads_it(
    changes: list[tuple[tuple[Any, ...], Any]], drop_kinds: bool, shape: str
) -> None:
    objects = copy.deepcopy(CORPUS)
    for path, value in changes:
        with contextlib.suppress(KeyError, IndexError, TypeError):
            mutate(objects, path, value)  # (unless an earlier change removed the way there)
    if drop_kinds:  # as the API server lists them: a ServiceList's Services without kind
        for obj in objects:
            if isinstance(obj, dict) and obj.get("kind") == "Service":
                del obj["kind"]
    if shape == "objects":
        texts = [dump(obj) for obj in objects]
    else:
        texts = [dump({"apiVersion": "v1", "kind": shape, "items": objects})]
    for text in texts:
        text = re.sub(rb'"DEEP(\d+)"', lambda m: b"[" * int(m[1]) + b"]" * int(m[1]), text)
        text = text.replace(b'"NOTUTF8"', b'"\xff"').replace(b'"LONGINT"', b"1" * 4400)
        assert read(text) == oracle(text)
