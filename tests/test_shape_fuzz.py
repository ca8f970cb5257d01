"""Issue 9 §3: no input shape gives a traceback.

Starting from `hostile_corpus.corpus()` (every kind, every field the model reads), each example
changes one to three nodes of the document trees: a node replaced by a value of another type
(null, booleans, huge, negative and non-finite numbers, text, lists, mappings with keys of
any type, nesting a hundred levels deep), a key deleted, or a key added (a string or not). The
documents go to `birdgen render` as YAML, the only format that can carry keys that are not
strings, through the CLI's own entry point. Every outcome is exit 0 with a config `bird -p`
accepts, or exit 1 with each line `Kind/name: field: ...` (or, for a document that is no object
at all, one line naming the file and the document); nothing else.

`BIRDGEN_FUZZ_SCALE=N` runs N times the default examples (`=full`: 20 times).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from birdgen.cli import main
from birdgen.write.check import check_text
from tests import hostile_corpus as hc
from tests.cli_outcome import DOCUMENT_LINE, PROBLEM_LINE

EXAMPLES = 150


def budget() -> int:
    scale = os.environ.get("BIRDGEN_FUZZ_SCALE", "")
    factor = 20 if scale == "full" else int(scale) if scale.isdigit() and int(scale) > 0 else 1
    return EXAMPLES * factor


def node_paths() -> list[hc.Path]:
    """(document index, *path) of every node of every document, documents themselves included."""
    out: list[hc.Path] = []

    def walk(value: Any, path: hc.Path) -> None:
        out.append(path)
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*path, i))

    for i, doc in enumerate(hc.corpus()):
        walk(doc, (i,))
    return out


PATHS = node_paths()
numbers = st.one_of(
    st.sampled_from([0, -1, 1, 2**31, 2**32, 2**63, -(2**63), 2**64, 10**30, -(10**30)]),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -0.0, 0.5, -1.5]),
    st.integers(),
    st.floats(),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20))
keys = st.one_of(st.text(max_size=12), st.none(), st.booleans(), st.integers(-5, 5),
                 st.floats(allow_nan=False))  # fmt: skip


def nested(depth: int) -> Any:
    value: Any = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(keys, scalars, max_size=3),
    st.integers(20, 100).map(nested),
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=2)
                 | st.dictionaries(keys, inner, max_size=2), max_leaves=6),
)  # fmt: skip
mutations = st.one_of(
    st.tuples(st.just("replace"), st.sampled_from(PATHS), values),
    st.tuples(st.just("delete"), st.sampled_from(PATHS), st.none()),
    st.tuples(st.just("add"), st.sampled_from(PATHS), st.tuples(keys, values)),
)


def mutate(docs: list[Any], kind: str, path: hc.Path, arg: Any) -> None:
    parent: Any = docs
    for step in path[:-1]:
        parent = parent[step]
    target = parent[path[-1]]
    if kind == "replace":
        parent[path[-1]] = arg
    elif kind == "delete":
        del parent[path[-1]]
    elif isinstance(target, dict):
        target[arg[0]] = arg[1]
    elif isinstance(target, list):
        target.append(arg[1])
    else:
        parent[path[-1]] = {arg[0]: arg[1]}


class _Dumper(yaml.SafeDumper):
    """YAML that keeps every key and value as it is (no anchors for shared values)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@settings(max_examples=budget(), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(st.lists(mutations, min_size=1, max_size=3))
def test_no_input_shape_ends_in_a_traceback(changes: list[tuple[str, hc.Path, Any]]) -> None:
    docs: list[Any] = hc.corpus()
    for kind, path, arg in changes:
        # (an earlier change may have removed or replaced what this one would change)
        with contextlib.suppress(KeyError, IndexError, TypeError):
            mutate(docs, kind, path, arg)
    text = yaml.dump_all([d for d in docs if d is not None], Dumper=_Dumper)
    result = CliRunner().invoke(main, ["render", "-f", "-"], input=text, env=hc.ENVIRONMENT)
    if not isinstance(result.exception, SystemExit | None):
        raise AssertionError(
            f"birdgen raised {type(result.exception).__name__}: {result.exception}"
        ) from result.exception
    event(f"exit {result.exit_code}")  # the split, with --hypothesis-show-statistics
    if result.exit_code == 0:
        check_text(result.stdout, display_name="<fuzzed>")
        return
    assert result.exit_code == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "exit 1 without a message"
    if len(lines) == 1 and DOCUMENT_LINE.fullmatch(lines[0]):
        return
    for line in lines:
        assert PROBLEM_LINE.fullmatch(line), f"not a `Kind/name: field: ...` line: {line!r}"
