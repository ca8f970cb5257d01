"""Run `birdgen render` as the console script does and classify the outcome, for the hostile
input tests: a run either renders (exit 0) or refuses cleanly (exit 1, every error line naming
an object), and never ends in a Python exception.

`click.testing.CliRunner` calls the same `birdgen.cli:main` the console script calls, in this
process: an exception that would print a traceback reaches `result.exception` as itself rather
than as `SystemExit`, which is what the tests look for (and a subprocess per example would make
the fuzz tests ten times slower).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from birdgen.cli import main

# `Kind/name: field: message` or, for the object as a whole, `Kind/name: message`; namespaced
# names are `namespace/name`. "environment" problems name the variable instead of an object.
PROBLEM_LINE = re.compile(
    r"(?:birdgen: )?(?:[A-Z][A-Za-z]+/[^ :]+(?:/[^ :]+)?|environment/[A-Z0-9_]+): .+"
)
# A document that is no object at all has no kind or name: the file and document are named.
DOCUMENT_LINE = re.compile(r"birdgen: \S+ document [0-9]+: expected an object .+")


@dataclass(frozen=True)
class Outcome:
    code: int
    config: str  # what render wrote (exit 0)
    errors: list[str]  # stderr lines (exit 1)
    stderr: str


def write_documents(directory: Path, docs: list[Any]) -> Path:
    """`docs` as one JSON file (a list), so every string and key reaches birdgen as written."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "input.json"
    path.write_text(json.dumps(docs, allow_nan=True))
    return path


def render(input_path: Path, node: str, env: dict[str, str] | None = None, *extra: str) -> Outcome:
    result = CliRunner().invoke(
        main, ["render", "-f", str(input_path), "--node", node, *extra], env=env or {}
    )
    if not isinstance(result.exception, SystemExit | None):
        raise AssertionError(
            f"birdgen raised {type(result.exception).__name__}: {result.exception}"
        ) from result.exception
    if result.exit_code == 0:
        return Outcome(0, result.stdout, [], result.stderr)
    # One problem a line; the first carries the `birdgen: ` prefix.
    return Outcome(result.exit_code, "", result.stderr.splitlines(), result.stderr)


def assert_clean_refusal(outcome: Outcome) -> None:
    """Exit 1, and each error line names kind, name (and field): nothing else on stderr."""
    assert outcome.code == 1, outcome
    assert outcome.errors, outcome
    for line in outcome.errors:
        assert PROBLEM_LINE.fullmatch(line), f"not a `Kind/name: field: ...` line: {line!r}"
