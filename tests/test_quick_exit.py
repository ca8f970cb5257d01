"""The console script ends a one-shot command with `os._exit` (`birdgen.quick_exit`): what a
normal exit gives must still be there — all of stdout and stderr, the exit status, the atexit
handlers — and commands that keep nothing end as usual.

Each case runs the real entry point (`python -m birdgen` and the `birdgen.cli:entry` it calls) in a
fresh process; `CliRunner` calls `main`, which never ends the process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from birdgen.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "walkthrough"
ENV = {**os.environ, "NODENAME": "node-1"}


def birdgen(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "birdgen", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
        **kwargs,  # type: ignore[call-overload]
    )


def test_stdout_through_a_pipe_is_whole() -> None:
    # A pipe is block-buffered, and `os._exit` flushes nothing: the whole config must arrive.
    expected = CliRunner().invoke(main, ["render", "-f", str(EXAMPLE)], env=ENV)
    assert expected.exit_code == 0, expected.output
    proc = birdgen("render", "-f", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected.stdout
    assert proc.stdout.endswith("# IPv6 BGP is disabled: this node has no IPv6 address.\n")


def test_explain_output_is_whole() -> None:
    expected = CliRunner().invoke(main, ["explain", "-f", str(EXAMPLE)], env=ENV)
    proc = birdgen("explain", "-f", str(EXAMPLE))
    assert (proc.returncode, proc.stdout) == (0, expected.stdout)


def test_written_file_and_message(tmp_path: Path) -> None:
    out = tmp_path / "bird.conf"
    proc = birdgen("render", "-f", str(EXAMPLE), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"birdgen: {out}: written\n"
    assert out.read_text() == birdgen("render", "-f", str(EXAMPLE)).stdout
    again = birdgen("render", "-f", str(EXAMPLE), "-o", str(out))
    assert (again.returncode, again.stderr) == (0, f"birdgen: {out}: unchanged\n")


def test_invalid_input_exits_1_with_its_message(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: p}\n"
        "spec: {peerIP: 300.1.1.1, asNumber: 65001}\n"
    )
    (tmp_path / "node.yaml").write_text(
        "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\n"
        "status: {addresses: [{type: InternalIP, address: 10.0.0.1}]}\n"
    )
    out = tmp_path / "bird.conf"
    out.write_text("old\n")
    proc = birdgen("render", "-f", str(tmp_path), "-o", str(out))
    assert proc.returncode == 1
    assert "BGPPeer/p" in proc.stderr and "spec.peerIP" in proc.stderr
    assert out.read_text() == "old\n"


def test_usage_error_exits_2(tmp_path: Path) -> None:
    proc = birdgen("render", "-f", str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr


def test_atexit_handlers_run(tmp_path: Path) -> None:
    # The kubernetes client removes the certificate files it wrote for a kubeconfig in an
    # atexit handler; any handler registered before the end must run as on a normal exit.
    marker = tmp_path / "ran"
    script = textwrap.dedent(
        f"""
        import atexit, sys
        atexit.register(lambda: open({str(marker)!r}, "w").write("yes"))
        sys.argv = ["birdgen", "render", "-f", {str(EXAMPLE)!r}]
        from birdgen.cli import entry
        entry()
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert marker.read_text() == "yes"
    assert "router id 192.168.1.11;" in proc.stdout


def test_a_closed_stdout_ends_without_a_traceback() -> None:
    # The reader goes away before the config is written out: the process must still end,
    # with a status that is not success and no traceback.
    proc = subprocess.Popen(
        [sys.executable, "-m", "birdgen", "render", "-f", str(EXAMPLE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    try:
        err = proc.stderr.read().decode()
        status = proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert status != 0
    assert "Traceback" not in err


def test_commands_that_keep_nothing_end_as_usual() -> None:
    proc = birdgen("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("birdgen, version ")
    helped = birdgen("render", "--help")
    assert helped.returncode == 0 and "--output" in helped.stdout
