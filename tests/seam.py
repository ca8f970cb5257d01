"""A program that stops a process at a seam of ours: it says it got there, then waits.

Given to birdgen as its BIRD binary or reload command, it runs at the exact point a fault is
to be injected (during the check, right after the rename). It writes the PID of the process
that ran it to `reached` (atomically, so the test never reads half of it), waits until the
test creates `release` (at most `limit` seconds, so an orphan always ends), then exits.
"""

from __future__ import annotations

from pathlib import Path


def pausing_program(path: Path, reached: Path, release: Path, *, exit_code: int = 0, limit: float = 30.0) -> Path:  # fmt: skip
    rounds = int(limit / 0.05)
    path.write_text(
        f'#!/bin/sh\necho $PPID > "{reached}.part" && mv "{reached}.part" "{reached}"\ni=0\n'
        f'while [ ! -e "{release}" ] && [ $i -lt {rounds} ]; do sleep 0.05; i=$((i+1)); done\n'
        f"exit {exit_code}\n"
    )
    path.chmod(0o755)
    return path
