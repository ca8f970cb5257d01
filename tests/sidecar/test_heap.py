"""`birdgen.sidecar.heap.tune`: the sidecar's threads share one glibc malloc arena.

Counted by glibc itself (`malloc_stats` prints one "Arena N:" block per arena), in a fresh
interpreter whose threads allocate at the same time; without `tune` the same program has more
than one arena, so the check can fail.
"""

from __future__ import annotations

import ctypes
import platform
import subprocess
import sys

import pytest

PROGRAM = """
import ctypes, sys, threading
from birdgen.sidecar import heap
if sys.argv[1] == "tuned":
    assert heap.tune()
ready = threading.Barrier(4)
def work():
    ready.wait()  # all four alive at once, each needing an arena
    blocks = [bytearray(4096) for _ in range(2000)]
    ready.wait()
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()
"""


def arenas(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or not hasattr(ctypes.CDLL(None), "malloc_stats"),
    reason="glibc's malloc only",
)
def test_the_threads_share_one_arena() -> None:
    assert arenas("default") > 1
    assert arenas("tuned") == 1
