"""A sidecar killed between renaming the new config into place and `configure`: the next one
must make BIRD load the file, without resetting anything when BIRD already runs it.

`birdgen run` is a real process here, and the fault is injected at that exact seam: its reload
command (run right after the rename) reports its parent's PID and waits; the test then kills
that process, which it started itself, with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from bird_daemon import BIRD
from conftest import NODE, Bird
from seam import pausing_program
from test_cli_run import MANIFEST, PROXY_VARS
from waiting import wait_for

RANGE = "10.49.0.0/16"


def sidecar(bird: Bird, manifests: Path, stderr: Path, *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "birdgen", "run", "-f", str(manifests), "-o", str(bird.conf),
            "--node", NODE, "--control-socket", bird.sock, "--bird", BIRD or "bird",
            "--metrics-addr", "", "--log-format", "json", *extra]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS} | {
        "BIRDGEN_DEBOUNCE": "0.05"
    }
    with stderr.open("wb") as err:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)  # fmt: skip


def events(stderr: Path) -> list[str]:
    lines = [line for line in stderr.read_text().splitlines() if line.startswith("{")]
    return [str(json.loads(line).get("event", "")) for line in lines]


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def protocols(bird: Bird) -> list[list[str]]:
    """Each protocol's name, kind, table, state and the time (in ms) it entered that state.

    The info column is left out: an unconnected BGP session's socket error comes and goes.
    """
    with bird.control() as ctl:
        rows = ctl.command("show protocols").text.splitlines()[1:]
    return [row.split()[:5] for row in rows if row.strip()]


def test_a_sidecar_killed_before_configure_is_made_good_by_the_next_one(
    bird: Bird, tmp_path: Path
) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "cluster.yaml").write_text(MANIFEST)
    reached, release = tmp_path / "reload-reached", tmp_path / "release"
    # Runs right after the rename: says whose child it is, then waits (bounded) and fails.
    dying_reload = pausing_program(tmp_path / "reload-then-wait", reached, release, exit_code=1)
    boot = bird.conf.read_text()

    first = sidecar(bird, manifests, tmp_path / "first.err", "--reload-command", str(dying_reload))
    try:
        wait_for(lambda: reached.exists(), timeout=30, what="the first sidecar's reload")
        assert int(reached.read_text()) == first.pid
        first.send_signal(signal.SIGKILL)  # the container restarts before BIRD was told
        first.wait(10)
    finally:
        release.touch()
        stop(first)
    live = bird.conf.read_text()
    assert live != boot and "10.49.0.0/16" in live, "the new config was renamed into place"
    assert RANGE not in bird.routes(), "BIRD still runs the boot config"

    second_err = tmp_path / "second.err"
    second = sidecar(bird, manifests, second_err)
    try:
        wait_for(lambda: RANGE in bird.routes(), timeout=30, what="BIRD loading the live file")
        wait_for(lambda: "applied" in events(second_err), what="the reload logged")
    finally:
        stop(second)
    assert bird.conf.read_text() == live, "the file was already right; only BIRD was stale"

    # BIRD runs the file now. A third start still reloads once, and that resets nothing: every
    # protocol keeps the state and the time it entered it (`configure` of an unchanged file).
    before = protocols(bird)
    assert len(before) >= 5 and all(len(row) == 5 for row in before)
    third_err = tmp_path / "third.err"
    third = sidecar(bird, manifests, third_err)
    try:
        wait_for(lambda: "applied" in events(third_err), timeout=30, what="the third's reload")
    finally:
        stop(third)
    assert protocols(bird) == before
    assert RANGE in bird.routes()
