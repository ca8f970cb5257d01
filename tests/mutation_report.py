"""Per-module figures from the last `./dev mutate` run (mutmut's results under mutants/).

Prints, for each module, the mutants generated and how each checked one ended: killed by a
test (a test failed, or the run crashed), rejected by mypy --strict (mutmut's type-check
pre-filter: `./dev lint` would refuse it before any commit), timed out, survived, or reached by
no selected test; the mutants not checked yet (or whose check was interrupted); the kill ratio,
(killed + mypy + timeout) over the checked ones; and the tests' own ratio, (killed + timeout)
over the checked ones mypy accepts; and the time the mutants' test runs took, in minutes (wall
time of each mutant's child process, summed: with N children a run's wall time is about this
over N). Then that time by outcome, where it shows what a run's length rests on, and the names
of the survivors, for `.venv/bin/mutmut show NAME`.
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


def line(name: str, total: int, row: Counter[str], seconds: float) -> str:
    cells = " ".join(f"{row[c]:>9}" for c in COLUMNS)
    shown = " ".join(f"{r:>6}" for r in ratios(row))
    return f"{name:30} {total:7} {cells} {shown} {seconds / 60:7.1f}"


def main() -> int:
    metas = sorted(MUTANTS.glob("birdgen/**/*.py.meta"))
    if not metas:
        print("mutation_report: no results under mutants/; run ./dev mutate first", file=sys.stderr)
        return 1
    grand: Counter[str] = Counter()
    grand_total = 0
    grand_seconds = 0.0
    by_outcome: Counter[str] = Counter()
    runs: Counter[str] = Counter()
    survivors: list[str] = []
    head = " ".join(f"{c:>9}" for c in COLUMNS)
    print(f"{'module':30} {'mutants':>7} {head}  ratio  tests minutes")
    for meta in metas:
        data = json.loads(meta.read_text())
        codes = data.get("exit_code_by_key", {})
        if not codes:
            continue
        durations = data.get("durations_by_key", {})
        row: Counter[str] = Counter()
        seconds = 0.0
        for name, code in codes.items():
            status = status_by_exit_code[code]
            column = COLUMN.get(status, "unchecked")
            row[column] += 1
            if status == "survived":
                survivors.append(name)
            if column in ("killed", "timeout", "survived") and name in durations:
                seconds += durations[name]
                by_outcome[column] += durations[name]
                runs[column] += 1
        module = str(meta.relative_to(MUTANTS)).removesuffix(".py.meta").removeprefix("birdgen/")
        print(line(module, len(codes), row, seconds))
        grand.update(row)
        grand_total += len(codes)
        grand_seconds += seconds
    print(line("total", grand_total, grand, grand_seconds))
    print("\ntest runs' time by outcome:")
    for column in ("killed", "timeout", "survived"):
        mean = by_outcome[column] / runs[column] if runs[column] else 0.0
        print(
            f"  {column:9} {runs[column]:6} mutants {by_outcome[column] / 60:7.1f} min, mean {mean:5.2f} s"
        )
    print("\nsurvivors:")
    for name in survivors:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
