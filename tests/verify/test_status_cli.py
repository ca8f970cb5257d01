"""`birdgen render --diff` and the exits of `birdgen status` that need no daemon."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from birdgen.cli import main

ROOT = Path(__file__).resolve().parents[2]
WALK = str(ROOT / "examples/walkthrough")


def render(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["render", "-f", WALK, "--node", "node-1", *args])
    return result.exit_code, result.stdout, result.stderr


def test_render_diff_shows_the_change_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "bird.conf"
    assert render("-o", str(out))[0] == 0
    current = out.read_text()
    edited = current.replace("  route 10.49.62.131/32 blackhole;\n", "")
    out.write_text(edited)
    code, diff, _ = render("-o", str(out), "--diff")
    assert code == 0
    assert diff.startswith(f"--- {out}\n+++ {out} (candidate)\n@@ ")
    assert "\n+  route 10.49.62.131/32 blackhole;\n" in diff
    assert sum(line.startswith(("+", "-")) for line in diff.splitlines()) == 3  # 2 headers + 1
    assert out.read_text() == edited  # --diff writes nothing
    out.write_text(current)
    assert render("-o", str(out), "--diff")[:2] == (0, "")  # the same: no diff


def test_render_diff_against_no_file_and_without_output(tmp_path: Path) -> None:
    code, diff, _ = render("-o", str(tmp_path / "absent.conf"), "--diff")
    assert code == 0 and diff.count("\n+") > 100 and not (tmp_path / "absent.conf").exists()
    assert render("--diff")[0] == 2


def test_status_exits_1_when_no_bird_answers(tmp_path: Path) -> None:
    args = ["status", "-f", WALK, "--node", "node-1", "--control-socket", str(tmp_path / "x.ctl")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "no BIRD answers on control socket" in result.stderr
