"""write: put new text at a path atomically, or leave the path exactly as it was.

Stage a temporary file in the destination's directory, fsync it, rename it over the
destination, fsync the directory. A destination that already holds the same bytes is not touched
at all, so "unchanged" is visible to the caller (and BIRD is not asked to reload for nothing).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

DEFAULT_MODE = 0o640


def unchanged(path: Path, text: str) -> bool:
    try:
        return path.read_bytes() == text.encode()
    except FileNotFoundError:
        return False


def stage(path: Path, text: str, mode: int = DEFAULT_MODE) -> Path:
    """A synced temporary file beside `path` holding `text`, with the mode and owner it will have.

    BIRD usually runs as its own user: the staged file takes the destination's owner and group
    (when we may set them) so that BIRD can read the candidate it is asked to check.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode())
            out.flush()
            os.fchmod(out.fileno(), mode)
            with contextlib.suppress(FileNotFoundError, PermissionError):
                st = path.stat()
                os.fchown(out.fileno(), st.st_uid, st.st_gid)
            os.fsync(out.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def commit(staged: Path, path: Path) -> None:
    """Rename `staged` over `path` and make the rename durable."""
    try:
        os.replace(staged, path)
    except OSError as exc:
        if exc.errno not in (errno.EBUSY, errno.EXDEV):
            staged.unlink(missing_ok=True)
            raise
        # A bind-mounted file (a Kubernetes subPath, say) cannot be renamed over: rewrite it in
        # place instead. Not atomic, but BIRD only reads it when told to, after this returns.
        data = staged.read_bytes()
        staged.unlink(missing_ok=True)
        with open(path, "r+b") as out:
            out.write(data)
            out.truncate()
            out.flush()
            os.fsync(out.fileno())
        return
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
