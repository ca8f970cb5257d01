"""A real BIRD daemon for tests, in a private network namespace (`unshare -n`).

The configs tests give it may hold a kernel protocol or BGP sessions; inside its own empty
namespace neither can touch this machine's routes or send a packet. Its control socket is a
file, so it is reachable from here all the same. Stopped by its own PID only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from birdgen.errors import ReloadFailed
from birdgen.reload.control import BirdControl


def find(name: str) -> str | None:
    return shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )


BIRD = find("bird")


@cache
def netns_problem() -> str | None:
    """Why a real BIRD cannot be run safely here, or None."""
    if BIRD is None:
        return "BIRD 2 is not installed"
    try:
        probe = subprocess.run(
            ["unshare", "-n", "true"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`unshare -n` unavailable ({e}); not running a real BIRD outside a private netns"
    if probe.returncode != 0:
        return (
            f"`unshare -n` failed ({probe.stderr.strip() or probe.returncode}; needs root); "
            "not running a real BIRD outside a private network namespace"
        )
    return None


@dataclass
class BirdDaemon:
    """A BIRD we start and stop, with `conf` as its config and `sock` as its control socket."""

    dir: Path
    conf: Path
    sock: str
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        assert BIRD is not None
        assert len(self.sock) < 100, "UNIX socket paths are limited to 108 bytes"
        log = self.dir / "bird.log"
        with log.open("ab") as out:
            # unshare execs bird in place (-f: no fork), so proc.pid is BIRD's own PID.
            self.proc = subprocess.Popen(
                ["unshare", "-n", BIRD, "-f", "-c", str(self.conf), "-s", self.sock, "-P", str(self.dir / "bird.pid")],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"bird exited with {self.proc.returncode}: {log.read_text()}")
            with contextlib.suppress(ReloadFailed), BirdControl(self.sock, timeout=1.0):
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"bird's control socket did not answer within {timeout} s: {log.read_text()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; by PID only."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        # Should BIRD ever have forked away from unshare, its own pidfile names it.
        with contextlib.suppress(OSError, ValueError, IndexError, ProcessLookupError):
            other = int((self.dir / "bird.pid").read_text().split()[0])
            if other != proc.pid:
                os.kill(other, signal.SIGKILL)

    def control(self) -> BirdControl:
        return BirdControl(self.sock, timeout=5.0)

    def show_route(self) -> str:
        with self.control() as ctl:
            return ctl.command("show route").text
