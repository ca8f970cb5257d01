"""sources: read one big YAML stream as two halves, one in a forked child process.

A cluster dump is tens of megabytes of documents that do not depend on each other, and reading
YAML is pure Python: on a machine with two CPUs, two halves read side by side take about half
the time. The child sends its documents back through a pipe with `marshal` (pickle when
marshal cannot write them), a fraction of the time it took to read them. Anything unusual (an error in either half, a child that dies) makes the caller read the
whole stream the ordinary way, so results and error messages are the same as reading it at once.

Only `birdgen render` and `explain` ask for this, and it forks only while the process runs a
single thread (a fork copies no other thread, and whatever lock one held would stay held in the
child). The sidecar, with its watcher, informers and HTTP server, reads serially.
"""

from __future__ import annotations

import marshal
import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import Any

# Below this size a fork and a serialization round trip cost more than they save.
MIN_SIZE = 4 << 20
# Percent of the text the parent reads: a little more than half, because the child also has to
# serialize its documents, which takes longer than the parent's loading them.
_PARENT_SHARE = 53


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def split_stream(text: str) -> tuple[str, str] | None:
    """Two YAML streams whose documents, one after the other, are `text`'s; None if there is no
    safe place to split (no `---` line, or directives and `...` markers, which tie documents)."""
    if text.startswith(("%", "...")) or "\n%" in text or "\n..." in text:
        return None
    middle = len(text) * _PARENT_SHARE // 100
    at = text.find("\n---\n", middle)
    if at < 0:
        at = text.rfind("\n---\n")
    if at < 0:
        return None
    # "a\n---\nb" -> "a" and "---\nb": the second half's first document stays an explicit one.
    return text[:at], text[at + 1 :]


def read_in_two(
    text: str, read: Callable[[str], list[Any]], *, other_threads_ok: bool = False
) -> list[Any] | None:
    """`read(first) + read(second)` for the two halves of `text`, the second read in a child
    process; None when `text` does not split or either half fails (the caller then reads it
    whole, and reports the error for the whole stream), and when other threads run, unless
    `other_threads_ok` (tests, whose leftover threads hold no lock the child needs)."""
    halves = split_stream(text)
    if halves is None or (threading.active_count() > 1 and not other_threads_ok):
        return None
    first, second = halves
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: read the second half, send it, and leave without cleanup
        status = 1
        try:
            os.close(r)
            payload = _dumps(read(second))
            with os.fdopen(w, "wb") as out:
                out.write(payload)
            status = 0
        finally:
            # No atexit handlers, no flushing of the parent's buffered output.
            os._exit(status)
    os.close(w)
    try:
        documents = read(first)
    except Exception:
        os.kill(pid, signal.SIGKILL)  # our own child: its half no longer matters
        os.close(r)
        os.waitpid(pid, 0)
        return None
    with os.fdopen(r, "rb") as inp:
        payload = inp.read()  # ends when the child exits, whatever happens to it
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    rest: list[Any] = _loads(payload)
    return documents + rest


def _dumps(documents: list[Any]) -> bytes:
    # marshal writes plain data (what YAML gives, nearly always) five times as fast as pickle;
    # pickle takes the rest (a `!!timestamp` tag gives a datetime). The first byte says which.
    try:
        return b"m" + marshal.dumps(documents)
    except ValueError:
        return b"p" + pickle.dumps(documents, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(payload: bytes) -> Any:
    # Only ever bytes from our own child process, never from outside.
    body = memoryview(payload)[1:]
    return marshal.loads(body) if payload[:1] == b"m" else pickle.loads(body)
