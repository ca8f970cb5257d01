"""Which sessions a new config leaves alone, on the configs birdgen renders."""

from __future__ import annotations

from pathlib import Path

from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.sources import files
from birdgen.verify.blocks import bgp_blocks, unchanged_sessions

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = {"Global_192_168_1_1", "Mesh_192_168_1_12", "Mesh_192_168_1_13"}


def text(env: dict[str, str] | None = None, edit: str = "") -> str:
    objects = files.load([str(ROOT / "examples/walkthrough")])
    out = render_objects(objects, Environment.from_mapping("node-1", env or {})).text
    return out.replace(*edit.split("|")) if edit else out


def test_every_session_has_its_template_and_block() -> None:
    blocks = bgp_blocks(text())
    assert set(blocks) == SESSIONS
    assert "template bgp bgp4 {" in blocks["Global_192_168_1_1"]
    assert blocks["Global_192_168_1_1"].rstrip().endswith("}")
    assert "neighbor 192.168.1.1 as 64512;" in blocks["Global_192_168_1_1"]


def test_what_counts_as_unchanged() -> None:
    base = text()
    # A router id change lies outside every block: the sessions' options are unchanged.
    assert unchanged_sessions(base, text({"CALICO_ROUTER_ID": "hash"})) == SESSIONS
    # One session's option changed.
    edited = text(edit="neighbor 192.168.1.1 as 64512;|neighbor 192.168.1.1 as 64513;")
    assert unchanged_sessions(base, edited) == SESSIONS - {"Global_192_168_1_1"}
    # The template changed: every session built from it changed.
    assert (
        unchanged_sessions(base, text(edit="connect retry time 5;|connect retry time 6;")) == set()
    )
    # A route added to svc4 touches no session.
    assert (
        unchanged_sessions(
            base,
            text(
                edit="route 10.49.0.0/16 blackhole;|route 10.49.0.0/16 blackhole;\n  route 10.49.9.9/32 blackhole;"
            ),
        )
        == SESSIONS
    )
