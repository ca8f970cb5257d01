"""The end of a one-shot command: the process ends without freeing its objects one by one.

A render of one node of a 1,000-node cluster holds millions of objects (yaml-rs builds about
6 million for 56 MiB of YAML); freeing them as they go out of use and at interpreter shutdown
took 0.35 s of a 3.4 s render, 0.19 s of a 1.8 s one from JSON (docs/performance.md). The kernel
reclaims a process's memory in one step when it ends, so the console script (`birdgen.cli.entry`)
keeps what a command loaded until then (`keep`), and when the command is done it flushes
standard output and error, runs the `atexit` handlers (logging's flush, the kubernetes client's
removal of the certificate files it wrote, ...) and ends the process with `os._exit`.

Only a command that kept something ends so; one that kept nothing (the sidecar, whose threads
the interpreter joins at exit, the lab, `--help`) ends as usual. Called as a library (the tests'
`CliRunner`, `birdgen.cli.main`), nothing is kept and nothing changes.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import Any, NoReturn

# What the running command keeps until the process ends; None: not the console script.
_kept: list[Any] | None = None


def start() -> None:
    """Called once by the console script before the command runs."""
    global _kept
    _kept = []


def keep(obj: Any) -> None:
    """Keep `obj` alive until the process ends (when run as the console script)."""
    if _kept is not None:
        _kept.append(obj)
        # Out of the cyclic collector's sight too: its next collection would walk every one
        # of them (0.4 s for YAML's 6 million), to free none. Called while the collector is
        # paused (`birdgen.collector`), so that none has walked them yet.
        gc.freeze()


def end(code: object) -> None:
    """End the process now with `sys.exit(code)`'s status if the command kept anything;
    return (for a normal exit) if it kept nothing."""
    if not _kept:
        return
    _exit(code)


def _exit(code: object) -> NoReturn:
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # as `sys.exit("message")`: the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            # As the interpreter's own shutdown does when stdout cannot be flushed (a closed
            # pipe): status 120.
            status = status or 120
    os._exit(status)
