"""The two ways the sidecar can make BIRD load a new config: its control socket, or a command.

Place in the pipeline: write -> **reload**. Both implement `birdgen.reload.Reloader`:
`install(candidate, live, commit)` for a new text, `reload(live)` for the live file as it is.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from birdgen.errors import ReloadFailed
from birdgen.reload.control import DEFAULT_TIMEOUT, BirdControl, DaemonUnreachable, quotable, quote
from birdgen.write.check import DEFAULT_TIMEOUT as PARSE_TIMEOUT
from birdgen.write.check import check_file

_TAIL_CHARS = 1000  # enough for BIRD's or birdc's last lines, short enough for a log line


class SocketReloader:
    """Talks to BIRD over its control socket (`bird -s PATH`), without birdc.

    `install` sends `configure "candidate"`: BIRD parses the staged file once and either runs
    it or refuses it (8002) and keeps its running config, exactly as a separate
    `configure check` would have found, so there is none. Only once BIRD runs it is the
    candidate renamed over the live file, so the live file always holds a text BIRD took.
    With no daemon (socket missing or refused, e.g. BIRD not started yet) the candidate is
    checked with `bird -p` instead and renamed into place for the BIRD that starts later, and
    the reload fails. `reload` sends `configure "live"` so BIRD reads exactly that file, not
    whatever `-c` it was started with.

    Paths are made absolute because BIRD resolves them against its own working directory.
    """

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        bird_binary: str = "bird",
        timeout: float = DEFAULT_TIMEOUT,
        parse_timeout: float = PARSE_TIMEOUT,
    ) -> None:
        self.socket_path = os.fspath(socket_path)
        self.bird_binary = bird_binary
        self.timeout = timeout
        self.parse_timeout = parse_timeout

    def install(self, candidate: Path, live: Path, commit: Callable[[], None]) -> str:
        path = os.path.abspath(candidate)
        if quotable(path):
            try:
                with BirdControl(self.socket_path, self.timeout) as bird:
                    summary = bird.configure(path).summary
            except DaemonUnreachable:
                pass  # nothing to ask; the offline parser is the next best judge
            else:
                commit()
                return summary
        # Also reached for a path BIRD's command language cannot quote: argv needs no quoting.
        # The reload then says why BIRD was not told.
        commit_checked(candidate, commit, self.bird_binary, self.parse_timeout)
        return self.reload(live)

    def reload(self, live: Path) -> str:
        path = os.path.abspath(live)
        quote(path)  # an unsendable path is our problem, not the daemon's: say so first
        with BirdControl(self.socket_path, self.timeout) as bird:
            return bird.configure(path).summary


def commit_checked(
    candidate: Path, commit: Callable[[], None], bird_binary: str, timeout: float = PARSE_TIMEOUT
) -> None:
    """Where BIRD cannot load the candidate itself: `bird -p` parses it (ConfigRejected if it
    does not), then it is renamed into place, for BIRD to load from the live file."""
    check_file(candidate, bird=bird_binary, timeout=timeout)
    commit()


class CommandReloader:
    """Runs a command (no shell) to reload BIRD, e.g. `birdc -s SOCK configure`.

    The command is opaque and loads the live file, so `install` checks the candidate with
    `bird -p` before renaming it into place and running the command. `reload` treats a
    non-zero exit as failure (birdc exits 1 when BIRD answers with an error) and returns the
    command's last line of output as the summary.
    """

    def __init__(
        self,
        argv: Sequence[str],
        timeout: float = PARSE_TIMEOUT,
        bird_binary: str = "bird",
    ) -> None:
        if not argv:
            raise ValueError("CommandReloader needs a command to run")
        self.argv = tuple(argv)
        self.timeout = timeout
        self.bird_binary = bird_binary

    def install(self, candidate: Path, live: Path, commit: Callable[[], None]) -> str:
        commit_checked(candidate, commit, self.bird_binary, self.timeout)
        return self.reload(live)

    def reload(self, live: Path) -> str:
        name = self.argv[0]
        try:
            done = subprocess.run(
                self.argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise ReloadFailed(f"reload command {name!r} not found") from None
        except PermissionError as e:
            raise ReloadFailed(f"cannot run reload command {name!r}: {e.strerror}") from None
        except subprocess.TimeoutExpired:
            raise ReloadFailed(
                f"reload command {name!r} did not finish within {self.timeout:g} s"
            ) from None
        if done.returncode != 0:
            tail = _tail(done.stderr) or _tail(done.stdout)
            status = (
                f"killed by signal {-done.returncode}"
                if done.returncode < 0
                else f"exited with status {done.returncode}"
            )
            raise ReloadFailed(f"reload command {name!r} {status}" + (f": {tail}" if tail else ""))
        lines = done.stdout.strip().splitlines()
        return lines[-1].strip() if lines else f"{name} exited 0"


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _TAIL_CHARS else "…" + text[-_TAIL_CHARS:]
