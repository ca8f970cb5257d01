"""Golden scenarios: each golden/<scenario>/ renders to exactly its bird.conf and explain.txt,
and the real BIRD accepts every golden config.

A scenario directory holds `input/` (manifests), `node` (the node's name), optionally `env`
(KEY=VALUE lines, e.g. CALICO_ADVERTISE_CLUSTER_IPS), and the expected `bird.conf` and
`explain.txt`. Regenerate after an intended change, then read the diff:

    BIRDGEN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from birdgen.explain import explain
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.sources import files
from birdgen.write.check import check_file

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("BIRDGEN_UPDATE_GOLDEN") == "1"
SCENARIOS = sorted(p.parent for p in GOLDEN.glob("**/node"))


def scenario_env(scenario: Path) -> Environment:
    environ: dict[str, str] = {}
    env_file = scenario / "env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, value = line.partition("=")
                environ[key.strip()] = value.strip()
    return Environment.from_mapping((scenario / "node").read_text().strip(), environ)


def compare(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual)
    assert path.exists(), f"{path} is missing: run with BIRDGEN_UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(), f"{path} differs; BIRDGEN_UPDATE_GOLDEN=1 regenerates it"


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 10


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: str(p.relative_to(GOLDEN)))
def test_golden(scenario: Path) -> None:
    rendered = render_objects(files.load([str(scenario / "input")]), scenario_env(scenario))
    compare(scenario / "bird.conf", rendered.text)
    compare(scenario / "explain.txt", explain(rendered.plan))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: str(p.relative_to(GOLDEN)))
def test_bird_accepts_golden(scenario: Path) -> None:
    check_file(scenario / "bird.conf", display_name=str(scenario / "bird.conf"))
