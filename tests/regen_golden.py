"""Rewrite the golden files from the code as it is: `./dev golden [scenario ...]`.

It never asserts anything: it writes, says which files changed, and leaves judging the change
to the person who reads `git diff golden/`. Scenarios are named as under golden/
(`services/mesh-on`); none named means all.
"""

from __future__ import annotations

import sys

from golden_scenarios import GOLDEN, SCENARIOS, render_scenario


def main(names: list[str]) -> int:
    known = {str(s.relative_to(GOLDEN)): s for s in SCENARIOS}
    unknown = [n for n in names if n.strip("/") not in known]
    if unknown:
        print(f"regen_golden: no such scenario: {', '.join(unknown)}", file=sys.stderr)
        return 2
    chosen = [known[n.strip("/")] for n in names] if names else SCENARIOS
    changed = 0
    for scenario in chosen:
        for name, text in render_scenario(scenario).items():
            path = scenario / name
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                changed += 1
                print(f"wrote {path.relative_to(GOLDEN.parent)}")
    print(f"regen_golden: {len(chosen)} scenarios, {changed} files rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
