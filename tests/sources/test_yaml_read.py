"""YAML read as kubectl reads it, checked against PyYAML with kubectl's resolvers.

`birdgen.sources.files` reads most YAML with yaml-rs and hands PyYAML what its screen says
YAML 1.1 and 1.2 might read differently, and what yaml-rs rejects. The independent side here is
PyYAML alone, with the same resolver table (`KubeYamlLoader`): on every input the two must give
the same objects, or both an error. Documents are compared as the objects birdgen takes from
them (a bare list is its items), which is all `parse_text` keeps. Beyond hand-written corners of
every difference class, generated documents, damaged kubectl output and block-style lines put
together at random, yaml-rs's resolver is pinned on every short number-like scalar, and
kubectl-style dumps (uids, names, IPs, timestamps, last-applied annotations) must take the fast
path: a realistic file sent to PyYAML is a performance bug.

`BIRDGEN_FUZZ_SCALE=20` runs twenty times the generated examples (a deeper search, minutes).
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from birdgen.errors import SourceError
from birdgen.sources import files
from birdgen.sources.files import parse_text
from birdgen.sources.pyyaml import KubeYamlLoader

ROOT = Path(__file__).resolve().parents[2]
SCALE = int(os.environ.get("BIRDGEN_FUZZ_SCALE", "1"))


def _objects(docs: list[Any]) -> list[Any]:
    out: list[Any] = []
    for doc in docs:
        if isinstance(doc, list):
            out += _objects(doc)
        elif doc is not None:
            out.append(doc)
    return out


def reference(text: str) -> str:
    """PyYAML's reading, as text that tells `True` from `1` and `1.0`, or that it failed."""
    try:
        return repr(_objects(list(yaml.load_all(text, Loader=KubeYamlLoader))))
    except (yaml.YAMLError, ValueError):  # ValueError: an integer of more than 4,300 digits
        return "error"


def birdgen(text: str) -> str:
    """birdgen's reading, as `reference` gives PyYAML's; the same whether the stream is read in
    pieces of a MiB (one, here) or cut at every `---` line, as kubectl cuts it."""
    whole, cut = (_read(text.encode(), piece) for piece in (files._PIECE, 1))
    assert cut == whole, "cut at every `---` line, the stream reads otherwise"
    return whole


def _read(data: bytes, piece: int) -> str:
    try:
        return repr(_objects(files._read_yaml(data, piece)))
    # PyYAML's error as the file source carries it; ValueError: an integer of more than 4,300
    # digits.
    except (files._MalformedYAML, ValueError):
        return "error"


def by_yaml_rs(text: str) -> bool:
    """Whether birdgen reads `text` with yaml-rs (the fast path), not PyYAML."""
    return not files._may_differ(text.encode())


KUBECTL_LIKE = """\
apiVersion: v1
kind: Service
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","kind":"Service","metadata":{"name":"web"}}
    note: |-
      two
        indented

      lines
  creationTimestamp: "2024-05-14T09:12:31Z"
  labels:
    app: web
    enabled: yes
    "quoted": 'it''s'
  name: web
  namespace: default
  resourceVersion: "26660"
spec:
  clusterIP: 10.96.0.10
  clusterIPs:
  - 10.96.0.10
  externalIPs: []
  ports:
  -   name: http
      port: 80
      targetPort: 0x1F
  - name: big
    port: 1_000
  selector: {}
  sessionAffinity: None
  type: ClusterIP
status:
  loadBalancer:
    ingress:
    - ip: 192.0.2.10
      ipMode: VIP
---
# a comment between documents
addressType: IPv4
apiVersion: discovery.k8s.io/v1
endpoints:
- addresses:
  - 10.0.0.1
  conditions:
    ready: true
    serving: ~
    terminating: false
  nodeName: node-1
kind: EndpointSlice
metadata:
  labels:
    kubernetes.io/service-name: web
  name: web-abc
  namespace: default
ports:
-
  port: 8080
  weight: 1.5
  ratio: .5
  off: .inf
---
"""

CASES = [
    "",
    "\n\n",
    "---\n",
    "---\n---\n",
    "a: 1\n---\n",
    "# only a comment\n---\na: 1\n",
    "a: 1\n...\n",
    "%YAML 1.1\n---\na: 1\n",
    "--- a: 1\n",
    "---  \na: 1\n",
    "a: 1\r\nb: 2\r\n",
    "a:\tb\n",
    "\ufeffa: 1\n",
    "a: b\u2028c\n",
    "- - x\n",
    "- - - x\n  - y\n- -\n",
    "- -   a: 1\n      b: 2\n",
    "-   - x\n    - y\n",
    "- x\n- y\n",
    "-\n  - x\n",
    "key:\n- a\n- b\nother: 1\n",
    "key:\n  - a\n  - b\n",
    "a: 1\n  b: 2\n",
    "a:\n    b: 1\n  c: 2\n",
    "a: x\n  continued\n",
    "a: 'x\n  y'\n",
    'a: "x\\ty"\n',
    'a: "x" # comment\n',
    "a: x # comment\n",
    "a: x#y\n",
    "a: b: c\n",
    "a: [1, 2]\n",
    "a: {b: 1}\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "<<: {a: 1}\n",
    "on: off\nyes: no\n~: null\n",
    "a: 0o17\nb: 010\nc: 0b101\nd: -0x1F\ne: +12\nf: 1e3\ng: 1.5e+3\nh: 12:30\n",
    "a: 2024-05-14\nb: 2024-05-14T09:12:31Z\n",
    "a: |\n  x\n\n\nb: 1\n",
    "a: |-\n  x\n   y\n",
    "a: |\n\n  x\n",
    "a: |\nb: 1\n",
    "a: |\n  x\n      \nb: 1\n",
    "a: |+\n  x\n\n",
    "a: >\n  folded\n  text\n",
    "a: |2\n   x\n",
    "- |\n  in a list\n- b\n",
    "? complex\n: value\n",
    "'a: b': c\n",
    "'a: b': 1\n'a: c': 2\n'a: b': 3\n",
    "- 'a: b'\n- 'a: c'\n- \"x: y\": z\n",
    "'a':b\n",
    "'it'':x': 1\n",
    '"a":\n  b: 1\n',
    "a: ._\nb: 0b_\nc: 0x_\nd: ._5\ne: 0b_1\n",
    '"a": 1\n',
    "a : 1\n",
    ": x\n",
    "- \n",
    "a:\n  b\n",
    "  a: 1\n",
    "plain scalar\n",
    "a: 1\na: 2\n",
    "a: {}\nb: []\nc: '{}'\n",
    "a: -\n",
    "a: -1\nb: -x\nc: ?x\nd: :x\n",
    "a: '@x'\nb: @x\n",
    "a: `x`\n",
    "a: %x\n",
    "a: ü\n",
    "a: 'x' \n",
    "a: x   \n",
    "- a: 1\n  - b\n",
    "- a: 1\n   b: 2\n",
    "----\n",
    "[a, b]\n",
    "a: [1, 2]\n",
    "a: ['x', \"y\"]\n",
    "a: [a,b,]\n",
    "a: [a, , b]\n",
    "a: [,]\n",
    "a: [ ]\n",
    "a: {  }\n",
    "a: {x: 1, y: [2]}\n",
    "a: {x: 1, y: z, 'q': ~}\n",
    "a: {x: 1,}\n",
    "a: {k:v}\n",
    "a: {k}\n",
    "a: [a b, c]\n",
    "a: [yes, 010, ~, '', 1.5]\n",
    "a: [fd00::1]\n",
    "a: [x #c]\n",
    "a: [a, 'b, c']\n",
    "a: [- a]\n",
    "a: [a]]\n",
    "- [a, b]\n- {c: d}\n",
    "[a, b]: c\n",
    "a: 1\n# trailing comment\n",
    # numbers yaml-rs reads where kubectl reads a string or another number
    "a: 09\nb: -010\nc: +010\nd: 0O17\ne: 0X1F\nf: 0B1\n",
    "a: _1\nb: +_1\nc: _.5\nd: 1.5e+1_0\n",
    "a: -.5\nb: +.5\nc: 5.e3\nd: 1.0e3\ne: 1e03\nf: 0e0\ng: 1E3\n",
    "a: .iNf\nb: .nAn\nc: -.nan\nd: +.INF\n",
    "- 010\n- - 1e3\n-   - on\n",
    "010: a\n1e3: b\non: c\n",
    "'a': 08\n\"b c\": on\n",
    "a:\n  # c\n  010\n",
    "a:   # c\n\n  # d\n  yes\n",
    "--- 010\n",
    "a: 1\n--- \n010\n",
    "010\n",
    "yes\n",
    "a: " + "1" * 5000 + "\n",
    "a: 123456789012345678901234567890\n",
    # nesting past libyaml's limit of 1,000 levels, which yaml-rs reads
    "- " * 1000 + "x\n",
    "".join(" " * i + "a:\n" for i in range(1000)) + " " * 1000 + "x\n",
    "".join(" " * (2 * i) + "- a:\n" for i in range(600)) + "x\n",
    # numbers both read alike
    "a: 0\nb: -0\nc: 17\nd: -3\ne: 1.5\nf: 1.\ng: -0.0\nh: 10.0.0.1\ni: 0c105dc7-0a79\n",
    # characters PyYAML refuses or reads as a break, and yaml-rs reads as text
    "a: x\x01y\n",
    "a: x\x7fy\n",
    "a: x\x0cy\n",
    "a: 'x\x0b'\n",
    "a: x\x9fy\n",
    "a: x\ufffey\n",
    "a: |\n  x\x01\n",
    "a: \x85\n",
    "a: 1\n\ufeff",
    "-\t010\n",
    "a:\t010\n",
    "a: 1\rb: 2\r",
    # document markers
    "... \n",
    "a: 1\n... # c\nb: 2\n",
    "a: 1\n...\n010\n",
    "--- |\n  x\n",
    "---\n|\n x\n",
    # block scalars: empty bodies, indentation indicators, headers on their own line
    "a: |\n",
    "a: |\n  \n",
    "a: >\n \n  \n",
    "a: |\n  x",
    "- >\n    x\n    y",
    "- |\n  - - a: {b: 1}\n    - 1.",
    "a: |+\n  x",
    "a: |-\n  x",
    "a: |\n  x\nb: 1",
    "k: >\n  a: b\n     ",
    "- k: |+\n   x\n       ",
    "a: |-2\n  x\n",
    "a: |2-\n   x\n",
    "a: >#c\n  x\n",
    "a:\n  |\n   x\n",
    "a: |\n    x\n  # c\nb: 010\n",
    "- |\n    x\n  y: 010\n",
    'a: |\n  {"b": [1, 2]}\nc: [3]\n',
    "a: |\n  [1, 2]\n",
    "- |\n  {a: 1}\n- [b]\n",
    'k: "x\n  b: |\n  [1, 2]"\n',
    # empty collections followed by more, or as keys
    "{}: a\n",
    "[]: a\n",
    "a: {} x\n",
    "a: [] # c\n",
    # tags, anchors, aliases, reserved indicators at a node's start (and inside scalars)
    "a: !!binary aGVsbG8=\n",
    "a: !x\n",
    "a: x!\nb: x&y\nc: x*y\nd: x@y\ne: x`y\nf: x ?\ng: ?x\n",
    "a: x\n  ? y\n",
    "- ? x\n",
    "@: 1\n",
    "a: %x\n",
    "%x: 1\n",
    "a: - b\n",
    "a: - 010\n",
    "<<: a\n",
    "a: <<\n",
    KUBECTL_LIKE,
]


@pytest.mark.parametrize("text", CASES, ids=range(len(CASES)))
def test_same_as_pyyaml(text: str) -> None:
    assert birdgen(text) == reference(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: yes\nb: off\nc: 'on'\n", {"a": True, "b": False, "c": "on"}),
        ("a: 010\nb: 0o17\nc: 0x1F\nd: 1_000\n", {"a": 8, "b": "0o17", "c": 31, "d": 1000}),
        ("a: 1e3\nb: 1.5e+3\nc: 12:30\nd: 2024-05-14\n", {"a": "1e3", "b": 1500.0, "c": "12:30", "d": "2024-05-14"}),
        ("yes: 1\n", {True: 1}),
        ("a: [on, '0755', 0755]\n", {"a": [True, "0755", 493]}),
    ],
)  # fmt: skip
def test_yaml_1_1_resolvers_as_kubectl(text: str, expected: dict[Any, Any]) -> None:
    assert files._read_yaml(text.encode()) == [expected]
    assert not by_yaml_rs(text), "YAML 1.2 reads these differently: PyYAML must read them"


def test_nulls_read_alike_in_both() -> None:
    text = "a: ~\nb: null\nc:\nd: NULL\n"
    assert by_yaml_rs(text)
    assert files._read_yaml(text.encode()) == [{"a": None, "b": None, "c": None, "d": None}]


def test_kubectl_output_takes_the_fast_path() -> None:
    plain = KUBECTL_LIKE.replace("enabled: yes", "enabled: true").replace("0x1F", "31")
    plain = (
        plain.replace("1_000", "1000")
        .replace("ratio: .5", "ratio: 0.5")
        .replace("off: .inf", "of: 2.5")
    )
    assert by_yaml_rs(plain)
    assert birdgen(plain) == reference(plain)


def test_every_bundled_manifest_reads_the_same() -> None:
    paths = sorted(
        p
        for folder in ("golden", "examples")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in (".yaml", ".yml")
    )
    assert len(paths) > 40
    for path in paths:
        text = path.read_text()
        assert birdgen(text) == reference(text), path


def test_generated_cluster_dumps_take_the_fast_path(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gen_cluster.py"), "--nodes", "20",
         "--services", "300", "--endpoints", "1500", "--seed", "7", "--out", str(tmp_path)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    paths = sorted(tmp_path.glob("*.yaml"))
    assert [p.name for p in paths] == [
        "00-calico.yaml",
        "10-nodes.yaml",
        "20-services.yaml",
        "30-endpointslices.yaml",
    ]
    for path in paths:
        text = path.read_text()
        assert by_yaml_rs(text), path
        assert birdgen(text) == reference(text), path
        # Read in pieces of every size, through the two threads: the same documents, in order.
        data = path.read_bytes()
        whole = list(yaml.load_all(text, Loader=KubeYamlLoader))
        for piece in (1, 4096, 1 << 16, len(data) + 1):
            assert files._read_yaml(data, piece) == whole, (path, piece)


@pytest.mark.parametrize("piece", [files._PIECE, 1])
def test_errors_keep_pyyaml_wording_and_name_the_line_in_the_whole_stream(piece: int) -> None:
    text = "a: 1\n---\nb: 2\n---\nc: [1,\nd: 2\n---\ne: 3\n"
    with pytest.raises(files._MalformedYAML) as piece_err:
        files._read_yaml(text.encode(), piece)
    with pytest.raises(SourceError) as err:
        parse_text(text, "x.yaml")
    assert str(err.value) == f"x.yaml: malformed YAML: {piece_err.value}"
    with pytest.raises(yaml.MarkedYAMLError) as pyyaml_err:
        list(yaml.load_all(text, Loader=KubeYamlLoader))
    mark = pyyaml_err.value.problem_mark
    assert mark is not None and mark.line + 1 > 4, "a line of the whole stream, not a document's"
    assert str(err.value) == (
        f"x.yaml: malformed YAML: line {mark.line + 1}, column {mark.column + 1}: "
        f"{pyyaml_err.value.problem}"
    )


def test_json_is_read_with_the_line_of_an_error() -> None:
    assert parse_text('{"kind": "A", "n": 1.5}', "x.json") == [{"kind": "A", "n": 1.5}]
    with pytest.raises(SourceError, match=r"^x\.json: line 2: malformed JSON: "):
        parse_text('{"kind": "A",\n "n": }', "x.json")


def test_mutable_values_are_never_shared() -> None:
    docs = files._read_yaml(b"a: {}\n---\na: {}\n")
    assert docs == [{"a": {}}, {"a": {}}]
    assert docs[0]["a"] is not docs[1]["a"]


# --- kubectl's framing: a stream cut at its `---` lines ------------------------------------------


def test_a_stream_is_cut_only_before_lines_that_are_the_marker_alone() -> None:
    data = (
        b"a: 1\n---\nb: 2\n--- # c\nc: 3\n---  \nd: 4\n ---\n----\n---x\n"
        b"e: |\n  ---\n---\nf: 5\n---\n"
    )
    pieces = files._pieces(data, 1)
    assert b"".join(pieces) == data
    assert [p.split(b"\n", 1)[0] for p in pieces] == [b"a: 1", b"---", b"---", b"---"]
    assert files._pieces(data, len(data)) == [data]
    assert files._pieces(b"", 1) == [b""]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([b"a: 1\n", b"---\n", b"--- # c\n", b"b: |\n  x\n"])),
    st.integers(1, 40),
)
def test_every_piece_but_the_last_is_as_long_as_asked(lines: list[bytes], size: int) -> None:
    data = b"".join(lines)
    pieces = files._pieces(data, size)
    assert b"".join(pieces) == data
    assert all(len(p) >= size for p in pieces[:-1])
    assert all(p.startswith(b"---\n") for p in pieces[1:])


@pytest.mark.parametrize(
    "text",
    [
        'a: "x\n---\ny"\n',  # a marker line in a quoted scalar: PyYAML refuses it
        "a: 'x\n---\ny'\n",
        "a: |\n  x\n---\nb: 1\n",  # a block scalar ends before it
        "a: >\n  x\n\n---\n  y\n",
        "a: b\n  c\n---\n  d\n",  # so does a plain scalar
        "# only a comment\n---\na: 1\n",  # a piece without a document
        "a: 1\n---\n---\nb: 2\n",  # an empty document between two
        "---\n- a: 1\n- b: 2\n---\nc: 3\n",  # a document that is a list
        "a: 1\n---\n",
    ],
)
def test_a_stream_cut_at_its_markers_reads_as_pyyaml_reads_it_whole(text: str) -> None:
    assert _read(text.encode(), 1) == reference(text)


# --- generated documents ----------------------------------------------------------------------

TRICKY = [
    "yes", "No", "on", "OFF", "true", "~", "null", "", " ", "0x1F", "1_000", "010", "0o17", "+1",
    "-1", ".inf", "-.inf", ".nan", "1e3", "1.5e+3", "12:30", "2024-05-14",
    "2024-05-14T09:12:31Z", "- x", "-", "a: b", "a:", "#x", "x #y", "x#y", "'q'", '"d"', "{}",
    "[]", "|", ">", "?", "? x", "<<", "=", "@a", "`b", "%p", "!t", "&a", "*a", "two\nlines",
    "trailing ", " leading", "tab\there", "ü", "a\u2028b", "---", "...", "it's", 'say "hi"',
    "back\\slash", "10.0.0.1", "fd00::1", "65000:100", "node-0001",
]  # fmt: skip
KEYS = st.sampled_from(["a", "name", "spec", "on", "yes", "1", "x y", "k:v", "-k", "ready", ""])
PLAIN_KEYS = st.sampled_from(["a", "name", "spec", "on", "yes", "1", "x y", "-k", "ready"])
SCALARS = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet="ab -:#'\"\\|>{}[],&*!%@`?\t\nü0159.exn", max_size=12),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
SAFE_SCALARS = st.one_of(
    st.sampled_from([t for t in TRICKY if "\n" not in t and "\u2028" not in t and "\t" not in t]),
    st.text(alphabet="abz019.-_/", min_size=1, max_size=12),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.none(),
)


def trees(
    scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[str] = KEYS
) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=20,
    )


DOCS = st.lists(
    st.one_of(st.dictionaries(KEYS, trees(SCALARS), min_size=1), trees(SCALARS)), max_size=3
)


@settings(max_examples=300 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    DOCS, st.sampled_from([2, 4]), st.sampled_from([20, 80, 10_000]), st.booleans(), st.booleans()
)
def test_generated_yaml_reads_as_pyyaml_reads_it(
    docs: list[Any], indent: int, width: int, explicit_start: bool, flow: bool
) -> None:
    text = yaml.safe_dump_all(
        docs,
        default_flow_style=flow,
        sort_keys=False,
        indent=indent,
        width=width,
        allow_unicode=True,
        explicit_start=explicit_start,
    )
    assert birdgen(text) == reference(text)


@settings(max_examples=300 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(TRICKY) | st.text(alphabet="0123456789._-+eExXoObB_yesnoYESNOf~", max_size=8), min_size=1, max_size=4),
    st.sampled_from(["a: {}\n", "- {}\n", "{}: a\n", "a: [{}, x]\n", "a: {{b: {}}}\n", "a:\n  {}\n", "&x {}\n"]),
)  # fmt: skip
def test_every_plain_scalar_reads_as_kubectl_reads_it(scalars: list[str], shape: str) -> None:
    # Scalars written unquoted where a plain scalar can start: where yaml-rs would read one
    # differently, the screen must have sent the text to PyYAML.
    text = "".join(shape.replace("{}", s) for s in scalars)
    assert birdgen(text) == reference(text)


EDITS = [" ", "  ", "- ", ": ", "#", " #", "'", '"', "|", "|-", ">", "{", "[", "&a ", "*a",
         "!", "%", "---", "...", "\t", "\r", "? ", "-", ":", "\\", "yes", "0", "on"]  # fmt: skip


@settings(max_examples=400 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(1, 4))
def test_damaged_kubectl_output_reads_or_fails_as_pyyaml(rng: random.Random, edits: int) -> None:
    lines = KUBECTL_LIKE.split("\n")
    for _ in range(edits):
        i = rng.randrange(len(lines))
        line = lines[i]
        action = rng.randrange(4)
        if action == 0:
            at = rng.randrange(len(line) + 1)
            lines[i] = line[:at] + rng.choice(EDITS) + line[at:]
        elif action == 1 and line:
            at = rng.randrange(len(line))
            lines[i] = line[:at] + line[at + 1 :]
        elif action == 2:
            lines.insert(i, line)
        else:
            lines[i] = line.lstrip(" ") if rng.random() < 0.5 else " " + line
    text = "\n".join(lines)
    assert birdgen(text) == reference(text)


def test_json_integers_beyond_64_bits_are_read_exactly() -> None:
    # The model, not the reader, refuses such a number (orjson read it as an inexact float).
    [obj] = parse_text('{"kind": "A", "n": 18446744073709551617, "m": -1e400}', "x.json")
    assert obj == {"kind": "A", "n": 18446744073709551617, "m": -float("inf")}
    assert type(obj["n"]) is int


# Lines in block style put together at random from tokens that each read differently somewhere:
# every place a node can start in block context, with the values that end there.
LINE_TOKENS = [*TRICKY, "0X1", "1.5e3", "-.5", "_1", ".iNf", "0c105dc7-0a79", "8bf3e21", "1.",
               "|2", "|-", "[a]", "{a: 1}", "!!str", "x:y", "...", "1" * 5, "a\tb"]  # fmt: skip


HEADERS = ["|", "|-", "|+", ">", ">-", ">+", "| #c", "|2", ">1-"]
BODIES = ["x", '{"a": [1, 2]}', "[a, b]", "010", "yes", "a: b", "- x", "# c", "", "  ", "'q", '"d']


@settings(max_examples=500 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(1, 6), st.sampled_from(["\n", "", "\n\n"]))
def test_block_lines_read_as_pyyaml_reads_them(rng: random.Random, count: int, last: str) -> None:
    lines = []
    for _ in range(count):
        indent = " " * rng.choice([0, 0, 1, 2, 2, 4, 6])
        entries = rng.choice(["", "", "- ", "- - ", "-   "])
        shape = rng.random()
        if shape < 0.15:  # a block scalar and a body that may be empty, short, or odd
            lines.append(f"{indent}{entries}{rng.choice(['', 'k: '])}{rng.choice(HEADERS)}")
            for _ in range(rng.randint(0, 3)):
                lines.append(" " * (len(indent) + rng.choice([0, 1, 2, 4, 7])) + rng.choice(BODIES))
        elif shape < 0.2:
            lines.append(rng.choice(["---", "--- # c", "...", "--- x", "---  ", '"a', "b'"]))
        elif shape < 0.5:
            space = rng.choice([" ", "  ", ""])
            lines.append(
                f"{indent}{entries}{rng.choice(LINE_TOKENS)}:{space}{rng.choice(LINE_TOKENS)}"
            )
        elif shape < 0.8:
            lines.append(f"{indent}{entries}{rng.choice(LINE_TOKENS)}")
        elif shape < 0.9:
            lines.append(f"{indent}# {rng.choice(LINE_TOKENS)}")
        else:
            lines.append(indent)
    text = "\n".join(lines) + last
    assert birdgen(text) == reference(text)


# --- yaml-rs's resolver, scalar by scalar -------------------------------------------------------

# Every string of up to four of these characters, and a few longer spellings: wherever yaml-rs
# reads one as kubectl does not, the screen must have sent the text to PyYAML.
NUMBER_CHARS = "019._-+eExoXbB"
NUMBER_SPELLINGS = ["0o17", "0X1F", "0B11", "1.5e3", "1.5e+3", "5.e3", "1.0e3", "1e03", ".iNf",
                    "-.inf", "+.INF", ".nAn", "-.nan", "1_0.5", "1.5e+1_0", "0x_1", "0b_1",
                    "12:30", "010.5", "00.5", "yes", "No", "oN", "OFF", "y", "n", "~", "<<"]  # fmt: skip


def test_every_short_plain_scalar_is_read_as_kubectl_reads_it() -> None:
    tokens = {t for n in range(1, 4) for t in itertools.product(NUMBER_CHARS, repeat=n)}
    spellings = sorted({"".join(t) for t in tokens} | set(NUMBER_SPELLINGS))
    through = 0
    for token in spellings:
        for text in (f"a: {token}\n", f"- {token}\n", f"{token}: a\n", f"a:\n  {token}\n"):
            if by_yaml_rs(text):
                through += 1
                assert birdgen(text) == reference(text), text
    assert through > 1000, "the screen must not send every number-like scalar to PyYAML"


# --- realistic dumps take the fast path ---------------------------------------------------------

LAST_APPLIED = (
    '{"apiVersion":"v1","kind":"Service","metadata":{"annotations":{},"name":"web",'
    '"namespace":"default"},"spec":{"ports":[{"port":80,"targetPort":8080}],'
    '"selector":{"app":"web"}}}'
)


def _service(uid: str, ip: str, name: str, port: int, note: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "annotations": {"example.com/note": note, "example.com/url": "https://x/?a=1&b=*"},
            "creationTimestamp": "2024-05-14T09:12:31Z",
            "labels": {"app": name, "enabled": "true", "zone": "on", "ttl": "0"},
            "name": name,
            "namespace": "default",
            "resourceVersion": "26660",
            "uid": uid,
        },
        "spec": {
            "clusterIP": ip,
            "clusterIPs": [ip, "fd00::1"],
            "externalIPs": [],
            "ports": [{"name": "http", "port": port, "targetPort": 8080, "weight": 1.5}],
            "selector": {"app": name},
            "type": "ClusterIP",
        },
        "status": {"loadBalancer": {}},
    }


def _kubectl_yaml(obj: dict[str, Any]) -> str:
    """`obj` as `kubectl get -o yaml` writes it, with a last-applied-configuration block."""
    text = yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=10_000)
    return text.replace(
        "  annotations:\n",
        "  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n"
        f"      {LAST_APPLIED}\n",
        1,
    )


NOTES = st.sampled_from([
    "Calico is running on this node!", "50% of pods", "a -> b", "x|y", "x[0] {y}", "ticket #12",
    "a: b", "user@example.com", "`cmd`", "it's", "say \"hi\"", "ü", "node-0001", "v1.29.3",
    "sha256:0b21fbac78254d6887923986bb968a43", "registry/x@sha256:0123abcd",
])  # fmt: skip


@settings(max_examples=100 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.uuids().map(str),
    st.ip_addresses(v=4).map(str),
    st.from_regex(r"[a-z]{3,6}-[0-9a-z]{5,10}-[0-9a-z]{5}", fullmatch=True),
    st.integers(1, 65535),
    NOTES,
)
def test_realistic_dumps_take_the_fast_path(
    uid: str, ip: str, name: str, port: int, note: str
) -> None:
    # uids, pod names, IPs, timestamps, ports, URLs and messages as kubectl writes them: a file
    # of these that the screen sent to PyYAML would be a performance bug.
    text = "---\n" + "---\n".join(_kubectl_yaml(_service(uid, ip, name, port, note)) for _ in "ab")
    assert by_yaml_rs(text), text
    assert birdgen(text) == reference(text)


def test_kubectl_style_list_output_takes_the_fast_path() -> None:
    items = [_service(f"0c105dc7-0a79-464f-bd30-97234{i:07d}", f"10.0.{i}.1", f"web-{i}", 80, "")
             for i in range(3)]  # fmt: skip
    text = yaml.safe_dump({"apiVersion": "v1", "items": items, "kind": "List"}, sort_keys=True)
    assert by_yaml_rs(text)
    assert birdgen(text) == reference(text)
