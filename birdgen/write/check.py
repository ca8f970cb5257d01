"""Check a candidate config with BIRD's own parser (`bird -p`) before it goes anywhere near BIRD.

Place in the pipeline: render -> **write (check)** -> rename -> reload. `render -o --check`
asks this module whether BIRD will accept the text *before* renaming it over the live file, so
a rejected config never replaces a working one. The sidecar has the running BIRD load the
staged file itself (its `configure` refuses what it cannot load); it uses `check_file` where no
daemon answers on the control socket, and before a reload command, which loads the live file.

`bird -p` parses and exits; it opens no socket, touches no routing table and sends nothing.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from birdgen.errors import BirdNotRun, ConfigRejected

DEFAULT_BIRD = "bird"
DEFAULT_TIMEOUT = 60.0  # `bird -p` takes ~85 ms at 100,000 routes; 60 s only catches a hang

# BIRD prefixes every fatal message with this fixed string (not argv[0]); it tells the operator
# nothing once the message is wrapped in ConfigRejected, so it is dropped.
_BIRD_PREFIX = "bird: "


def check_file(
    path: str | os.PathLike[str],
    *,
    bird: str = DEFAULT_BIRD,
    timeout: float = DEFAULT_TIMEOUT,
    display_name: str | None = None,
) -> None:
    """Parse the config file at `path` with `bird -p -c path`; raise ConfigRejected if BIRD won't,
    BirdNotRun if BIRD cannot be run at all.

    `display_name` replaces `path` in BIRD's message (the file checked may be a staging copy
    whose name means nothing to the operator). Relative `include`s resolve against the file's
    own directory, as they will when BIRD loads it, so stage the file beside its destination.
    """
    path = os.fspath(path)
    argv = [bird, "-p", "-c", path]
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",  # a path in the message may not be UTF-8; never fail on decoding
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise BirdNotRun(
            f"{bird!r} not found (install bird2, or give the bird binary's path with --bird)"
        ) from None
    except OSError as e:  # not executable, not a program, ...
        raise BirdNotRun(f"cannot run {bird!r}: {e.strerror or e}") from None
    except subprocess.TimeoutExpired:
        # Unchecked is as bad as rejected: the candidate must not be installed.
        raise BirdNotRun(f"`{bird} -p` did not finish within {timeout:g} s") from None
    if done.returncode == 0:
        return
    raise ConfigRejected(
        _readable(done.stderr or done.stdout, path, display_name)
        or f"`{bird} -p` exited with status {done.returncode} and no message"
    )


def check_text(
    text: str,
    *,
    display_name: str = "<candidate>",
    bird: str = DEFAULT_BIRD,
    timeout: float = DEFAULT_TIMEOUT,
    directory: str | os.PathLike[str] | None = None,
) -> None:
    """Parse config `text` with `bird -p`; raise ConfigRejected with BIRD's message if it fails.

    The text goes to a temporary file in `directory` (default: the system temp dir), removed
    afterwards. Pass the destination's directory when the config has relative `include`s.
    BIRD's message names `display_name` (e.g. the destination path) instead of the temp file.
    """
    fd, tmp = tempfile.mkstemp(prefix=".birdgen-check-", suffix=".conf", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        check_file(tmp, bird=bird, timeout=timeout, display_name=display_name)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _readable(message: str, path: str, display_name: str | None) -> str:
    """BIRD's message, stripped of its `bird: ` prefix, naming `display_name` instead of `path`."""
    lines = []
    for line in message.strip().splitlines():
        line = line.removeprefix(_BIRD_PREFIX)
        if display_name is not None:
            line = line.replace(path, display_name)
        lines.append(line)
    return "\n".join(lines)
