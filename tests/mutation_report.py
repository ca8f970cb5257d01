"""Per-module figures from the last `./dev mutate` run (mutmut's results under mutants/).

Prints, for each module, the mutants generated and how each checked one ended: killed by a
test (a test failed, or the run crashed), rejected by mypy --strict (mutmut's type-check
pre-filter: `./dev lint` would refuse it before any commit), timed out, survived, or reached by
no selected test; the mutants not checked yet (or whose check was interrupted); the kill ratio,
(killed + mypy + timeout) over the checked ones; and the tests' own ratio, (killed + timeout)
over the checked ones mypy accepts. Then the names of the survivors, for
`.venv/bin/mutmut show NAME`.
docs/testing.md records these figures.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

MUTANTS = Path(__file__).resolve().parent.parent / "mutants"
# How mutmut's statuses are counted here. Anything else ("not checked", "check was
# interrupted by user", "suspicious": an exit code mutmut does not know, such as the SIGTERM of
# a run stopped by hand) has no verdict yet.
COLUMN = {
    "killed": "killed",
    "segfault": "killed",
    "caught by type check": "mypy",
    "timeout": "timeout",
    "survived": "survived",
    "no tests": "no tests",
}
COLUMNS = ("killed", "mypy", "timeout", "survived", "no tests", "unchecked")


def percent(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def ratios(row: Counter[str]) -> tuple[str, str]:
    """The kill ratio over every checked mutant, and the tests' over those mypy accepts."""
    by_tests = row["killed"] + row["timeout"]
    tested = by_tests + row["survived"] + row["no tests"]
    return percent(by_tests + row["mypy"], tested + row["mypy"]), percent(by_tests, tested)


def line(name: str, total: int, row: Counter[str]) -> str:
    cells = " ".join(f"{row[c]:>9}" for c in COLUMNS)
    return f"{name:30} {total:7} {cells} " + " ".join(f"{r:>6}" for r in ratios(row))


def main() -> int:
    metas = sorted(MUTANTS.glob("birdgen/**/*.py.meta"))
    if not metas:
        print("mutation_report: no results under mutants/; run ./dev mutate first", file=sys.stderr)
        return 1
    grand: Counter[str] = Counter()
    grand_total = 0
    survivors: list[str] = []
    print(
        f"{'module':30} {'mutants':>7} " + " ".join(f"{c:>9}" for c in COLUMNS) + "  ratio  tests"
    )
    for meta in metas:
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        if not codes:
            continue
        row: Counter[str] = Counter()
        for name, code in codes.items():
            status = status_by_exit_code[code]
            row[COLUMN.get(status, "unchecked")] += 1
            if status == "survived":
                survivors.append(name)
        module = str(meta.relative_to(MUTANTS)).removesuffix(".py.meta").removeprefix("birdgen/")
        print(line(module, len(codes), row))
        grand.update(row)
        grand_total += len(codes)
    print(line("total", grand_total, grand))
    print("\nsurvivors:")
    for name in survivors:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
