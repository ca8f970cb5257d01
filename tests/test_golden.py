"""Golden scenarios: each golden/<scenario>/ renders to exactly its bird.conf and explain.txt,
and the real BIRD accepts every golden config.

This test only compares; it never writes. After an intended change, regenerate with
`./dev golden` (tests/regen_golden.py) and read `git diff golden/`: the reviewed diff, not the
code that wrote it, is what makes a golden an oracle.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from golden_scenarios import GOLDEN, SCENARIOS, render_scenario

from birdgen.write.check import check_file

IDS = [str(p.relative_to(GOLDEN)) for p in SCENARIOS]


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 10


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_golden(scenario: Path) -> None:
    for name, actual in render_scenario(scenario).items():
        path = scenario / name
        assert path.exists(), f"{path} is missing: `./dev golden` creates it"
        assert actual == path.read_text(), f"{path} differs; `./dev golden` regenerates it"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_bird_accepts_golden(scenario: Path) -> None:
    check_file(scenario / "bird.conf", display_name=str(scenario / "bird.conf"))
