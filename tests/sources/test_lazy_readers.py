"""A render of files yaml-rs reads alike never imports PyYAML (`birdgen.sources.pyyaml` is
imported for the files the screen sends there); one that needs it does, and reads them alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "walkthrough"


def imported_modules(*args: str) -> tuple[set[str], str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "birdgen", "render", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NODENAME": "node-1"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    names = {
        line.rpartition("|")[2].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    return names, proc.stdout


def test_plain_yaml_is_read_without_pyyaml(tmp_path: Path) -> None:
    # The example in block style, as kubectl writes it (it has flow mappings, which the
    # screen sends to PyYAML).
    plain = tmp_path / "plain"
    plain.mkdir()
    for file in EXAMPLE.glob("*.yaml"):
        docs = list(yaml.safe_load_all(file.read_text()))
        (plain / file.name).write_text(yaml.safe_dump_all(docs, default_flow_style=False))
    names, text = imported_modules("-f", str(plain))
    assert "yaml_rs" in names
    assert "yaml" not in names and "birdgen.sources.pyyaml" not in names
    assert text == imported_modules("-f", str(EXAMPLE))[1]


def test_yaml_the_screen_sends_to_pyyaml_imports_it(tmp_path: Path) -> None:
    # An anchor: the screen sends the file to PyYAML. Same objects, same config.
    for name in ("bgp.yaml", "nginx.yaml"):
        (tmp_path / name).write_bytes((EXAMPLE / name).read_bytes())
    nodes = (EXAMPLE / "nodes.yaml").read_text()
    (tmp_path / "nodes.yaml").write_text(
        "# anchored\n" + nodes.replace("kind: Node", "kind: &k Node", 1)
    )
    names, text = imported_modules("-f", str(tmp_path))
    assert "birdgen.sources.pyyaml" in names
    assert text == imported_modules("-f", str(EXAMPLE))[1]
