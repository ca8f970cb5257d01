"""sidecar: how the long-lived process has glibc's malloc hold memory.

Measured at 1,000 nodes (docs/performance.md): with glibc's defaults every informer thread
gets a malloc arena of its own, and the mmap threshold grows to the size of the largest block
freed so far — a list page, 0.6 to 1.2 MB — after which every page buffer is carved from those
arenas and the memory stays there once freed: 17 MiB of the sidecar's steady RSS. One arena
(the informer threads take turns on the GIL anyway, so they hardly contend for it) and a fixed
threshold (a page buffer is then mapped and unmapped whole) give it back to the system.
With both, `malloc_trim(0)` after the first apply gave back nothing measurable (102.7 against
102.8 MiB steady at 1,000 nodes), so the sidecar does not call it.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>; setting it also ends the dynamic threshold
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024  # glibc's default before it grows


def tune() -> bool:
    """Call before the threads start. False where the C library is not glibc (nothing done)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    # musl has mallopt too, as a stub that returns 0 (failure): nothing to undo then.
    return bool(mallopt(M_ARENA_MAX, 1)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
