"""Per-module figures from the last `./dev mutate` run (mutmut's results under mutants/).

Prints, for each module, the mutants generated and how each checked one ended: killed (a test
failed, or the run crashed), timed out, survived, or reached by no selected test; the mutants
not checked yet (or whose check was interrupted); and the kill ratio, (killed + timeout) over
the checked ones. Then the names of the survivors, for `.venv/bin/mutmut show NAME`.
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
    "caught by type check": "killed",
    "timeout": "timeout",
    "survived": "survived",
    "no tests": "no tests",
}
COLUMNS = ("killed", "timeout", "survived", "no tests", "unchecked")


def ratio(row: Counter[str]) -> str:
    checked = sum(row[c] for c in COLUMNS if c != "unchecked")
    return f"{(row['killed'] + row['timeout']) / checked:.1%}" if checked else "-"


def line(name: str, total: int, row: Counter[str]) -> str:
    return f"{name:30} {total:7} " + " ".join(f"{row[c]:>9}" for c in COLUMNS) + f" {ratio(row):>6}"


def main() -> int:
    metas = sorted(MUTANTS.glob("birdgen/**/*.py.meta"))
    if not metas:
        print("mutation_report: no results under mutants/; run ./dev mutate first", file=sys.stderr)
        return 1
    grand: Counter[str] = Counter()
    grand_total = 0
    survivors: list[str] = []
    print(f"{'module':30} {'mutants':>7} " + " ".join(f"{c:>9}" for c in COLUMNS) + "  ratio")
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
