"""The golden scenarios: where they are and how one is rendered.

A scenario directory holds `input/` (manifests), `node` (the node's name), optionally `env`
(KEY=VALUE lines, e.g. CALICO_ADVERTISE_CLUSTER_IPS), and the expected `bird.conf` and
`explain.txt`. `tests/test_golden.py` compares; `tests/regen_golden.py` (`./dev golden`) writes.
"""

from __future__ import annotations

from pathlib import Path

from birdgen.explain import explain
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.sources import files

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
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


def render_scenario(scenario: Path) -> dict[str, str]:
    """The expected files of a scenario as the code renders them today: {file name: text}."""
    rendered = render_objects(files.load([str(scenario / "input")]), scenario_env(scenario))
    return {"bird.conf": rendered.text, "explain.txt": explain(rendered.plan)}
