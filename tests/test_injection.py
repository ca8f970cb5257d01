"""Issue 9 §2: no resource text and no environment variable ever reaches bird.conf as syntax.

Every string and number of every field in `hostile_corpus.corpus()`, every mapping key in it
(labels, annotations, Secret keys and all others) and every environment variable birdgen reads
gets each payload appended. The outcome must be a clean refusal (exit 1, every line
`Kind/name: field: ...`), or a config `bird -p` accepts whose syntax is exactly that of the
same input without the payload: the same tokens once string contents and comments are set
aside, so the same protocols, routes, filters and options. "Without the payload" is the
unchanged input, or the input without that field, for a field birdgen ignores with a warning
(a bad Node annotation) or does not read at all.

The corpus holds every field the model reads: `test_the_corpus_sets_every_field_the_model_reads`
watches the real model and planner read it. By default each field gets one payload, in
rotation, so every payload meets many fields of every kind; `BIRDGEN_FUZZ_SCALE=N` gives each
field N payloads and `BIRDGEN_FUZZ_SCALE=full` all of them (docs/reliability.md has the counts).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from click.testing import CliRunner

from birdgen.cli import main
from birdgen.write.check import check_text
from tests import hostile_corpus as hc
from tests.cli_outcome import PROBLEM_LINE

PAYLOADS = [
    '"', "'", "\n", "\r", "}", ";", "#", "/*", "*/", "%", "\\", "\x00", "\u2028", "\x85",
    "\x1b[31m", "x" * 10_000,
    # the shapes of the attacks in issue 9: a zone, a closing quote, a new protocol
    '%lo as 65001; } protocol bgp evil { neighbor 6.6.6.6 as 666; #',
    '"; } protocol bgp evil { neighbor 6.6.6.6 as 666; } #',
]  # fmt: skip


def per_field() -> int:
    """Payloads per field: 1 by default, N with BIRDGEN_FUZZ_SCALE=N, all of them with =full."""
    scale = os.environ.get("BIRDGEN_FUZZ_SCALE", "")
    if scale == "full":
        return len(PAYLOADS)
    return min(len(PAYLOADS), int(scale)) if scale.isdigit() and int(scale) > 0 else 1


@dataclass(frozen=True)
class Case:
    where: str  # for the test id and messages: "BGPPeer/tor spec.peerIP", "key ...", "env ..."
    payload: int  # index into PAYLOADS
    doc: int = -1
    path: hc.Path = ()
    key: bool = False  # the payload goes into the key at `path`, not the value
    variable: str = ""


def fields() -> Iterator[tuple[str, int, hc.Path, bool, str]]:
    for i, obj in enumerate(hc.corpus()):
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        for path, value in hc.leaves(obj):
            if isinstance(value, str | int) and not isinstance(value, bool):
                yield f"{name} {hc.shape(path)}", i, path, False, ""
        for path in hc.keys(obj):
            yield f"{name} key {hc.shape(path)}", i, path, True, ""
    for variable in hc.ENVIRONMENT:
        yield f"${variable}", -1, (), False, variable


ZONE_ATTACK = 16  # PAYLOADS[16]: what issue 9 found through peerIP and reachableBy


def holds_an_address(doc: int, path: hc.Path) -> bool:
    value = _parent(hc.corpus()[doc], path)[path[-1]]
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_interface(value.strip("[]").split("]:")[0])
    except ValueError:
        return False
    return True


def cases() -> list[Case]:
    """`per_field()` payloads for each field, in rotation; the zone attack on every field that
    holds an address in the corpus (or IPv6 zones would be tried on few of them by default)."""
    out = []
    for n, (where, doc, path, key, variable) in enumerate(fields()):
        chosen = [(n * per_field() + j) % len(PAYLOADS) for j in range(per_field())]
        if not key and not variable and holds_an_address(doc, path) and ZONE_ATTACK not in chosen:
            chosen.append(ZONE_ATTACK)
        for payload in chosen:
            if variable and PAYLOADS[payload] == "\x00":
                payload = (payload + 1) % len(PAYLOADS)  # an environment cannot hold NUL
            out.append(Case(where, payload, doc, path, key, variable))
    return out


# ---- building inputs


def _parent(obj: Any, path: hc.Path) -> Any:
    for step in path[:-1]:
        obj = obj[step]
    return obj


def injected(case: Case) -> tuple[list[Any], dict[str, str]]:
    docs, env = hc.corpus(), dict(hc.ENVIRONMENT)
    payload = PAYLOADS[case.payload]
    if case.variable:
        env[case.variable] += payload
    elif case.key:
        parent, old = _parent(docs[case.doc], case.path), case.path[-1]
        renamed = {(f"{k}{payload}" if k == old else k): v for k, v in parent.items()}
        parent.clear()
        parent.update(renamed)
    else:
        parent = _parent(docs[case.doc], case.path)
        parent[case.path[-1]] = f"{parent[case.path[-1]]}{payload}"
    return docs, env


def without(doc: int, path: hc.Path, variable: str) -> tuple[list[Any], dict[str, str]]:
    """The input without the field (or variable) the payload went into."""
    docs, env = hc.corpus(), dict(hc.ENVIRONMENT)
    if variable:
        del env[variable]
    elif path:
        parent = _parent(docs[doc], path)
        del parent[path[-1]]
    return docs, env


# ---- running birdgen and reading its output


def run(docs: list[Any], env: dict[str, str]) -> tuple[int, str, str]:
    # NODENAME and the rest come from the environment, so they can carry payloads too.
    result = CliRunner().invoke(main, ["render", "-f", "-"], input=json.dumps(docs), env=env)
    if not isinstance(result.exception, SystemExit | None):
        raise AssertionError(
            f"birdgen raised {type(result.exception).__name__}: {result.exception}"
        ) from result.exception
    return result.exit_code, result.stdout, result.stderr


# BIRD's lexer, as far as it matters here: strings have no escapes, symbols may be quoted in
# apostrophes, comments are `#` to the end of the line and `/* ... */`.
_TOKEN = re.compile(
    r'"[^"]*"|\'[^\']*\'|#[^\n]*|/\*.*?\*/|\s+|[{}();,\[\]=~!&|<>+*-]|(?:[^\s"\'#{}();,\[\]=~!&|<>+*/-]|/(?!\*))+|.',
    re.S,
)


def syntax(config: str) -> list[str]:
    """The config's tokens, with every string's content and every comment set aside."""
    out = []
    for m in _TOKEN.finditer(config):
        token = m.group()
        if token.isspace() or token.startswith("#") or token.startswith("/*"):
            continue
        out.append('"…"' if token.startswith('"') and len(token) > 1 else token)
    return out


@cache
def reference(doc: int = -1, path: hc.Path = (), variable: str = "") -> tuple[int, str]:
    """birdgen's exit code and config for the corpus as is (no arguments), or without one field."""
    code, out, _ = run(*without(doc, path, variable))
    return code, out


def test_the_corpus_renders_a_config_bird_accepts() -> None:
    code, config = reference()
    assert code == 0
    check_text(config, display_name="<corpus>")
    # Every part of the config the payloads could try to add to is there to be compared.
    for part in ("protocol bgp", "password", "route ", "function 'bgp_f1_", "description"):
        assert part in config


def test_the_corpus_sets_every_field_the_model_reads() -> None:
    present = {(obj["kind"], hc.shape(p)) for obj in hc.corpus() for p in hc.keys(obj)}
    assert hc.reads(hc.corpus()) <= present


def test_the_syntax_oracle_sees_an_injection() -> None:
    # The oracle itself must fail on what issue 9 reproduced: a protocol added through a field.
    code, config = reference()
    assert code == 0
    evil = config.replace(
        'description "BGPPeer tor";',
        'description "BGPPeer tor"; } protocol bgp evil { neighbor 6.6.6.6 as 666; #";',
    )
    assert syntax(evil) != syntax(config)
    assert syntax(config.replace('"BGPPeer tor"', '"BGPPeer tor } ;"')) == syntax(config)


CASES = cases()


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c.where}+{PAYLOADS[c.payload][:12]!r}" for c in CASES]
)
def test_no_payload_reaches_the_config_as_syntax(case: Case) -> None:
    code, config, stderr = run(*injected(case))
    if code != 0:
        assert code == 1, stderr
        lines = stderr.splitlines()
        assert lines, "exit 1 without a message"
        for line in lines:
            assert PROBLEM_LINE.fullmatch(line), f"not a `Kind/name: field: ...` line: {line!r}"
        return
    base = reference()[1]
    if syntax(config) != syntax(base):
        # Not the corpus's syntax: then it must be that of the corpus without this field.
        base = reference(case.doc, case.path, case.variable)[1]
        assert base and syntax(config) == syntax(base), (
            f"{case.where}: the payload changed the config's syntax"
        )
    if config != base:
        check_text(config, display_name=f"<{case.where}>")
