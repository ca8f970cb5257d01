"""Per-module figures from the last `./dev mutate` run (mutmut's results under mutants/).

Prints, for each module, the mutants generated, checked, killed (a test failed, or it timed
out), survived and not yet checked, and the kill ratio over the checked ones; then the names of
the survivors, for `.venv/bin/mutmut show NAME`. docs/testing.md records these figures.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

MUTANTS = Path(__file__).resolve().parent.parent / "mutants"
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def main() -> int:
    metas = sorted(MUTANTS.glob("birdgen/**/*.py.meta"))
    if not metas:
        print("mutation_report: no results under mutants/; run ./dev mutate first", file=sys.stderr)
        return 1
    total: Counter[str] = Counter()
    survivors: list[str] = []
    print(f"{'module':32} {'mutants':>7} {'checked':>7} {'killed':>6} {'survived':>8} {'ratio':>6}")
    for meta in metas:
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        if not codes:
            continue
        row: Counter[str] = Counter()
        for name, code in codes.items():
            status = status_by_exit_code[code]
            key = "killed" if status in KILLED else status
            row[key] += 1
            if status == "survived":
                survivors.append(name)
        checked = sum(n for k, n in row.items() if k != "not checked")
        ratio = f"{row['killed'] / checked:.1%}" if checked else "-"
        module = str(meta.relative_to(MUTANTS)).removesuffix(".meta")
        print(
            f"{module:32} {len(codes):7} {checked:7} {row['killed']:6} {row['survived']:8} {ratio:>6}"
        )
        total.update(row)
        total["mutants"] += len(codes)
    checked = total["mutants"] - total["not checked"]
    ratio = f"{total['killed'] / checked:.1%}" if checked else "-"
    print(
        f"{'total':32} {total['mutants']:7} {checked:7} {total['killed']:6} {total['survived']:8} {ratio:>6}"
    )
    print("\nsurvivors:")
    for name in survivors:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
