"""write: put new text at a path atomically, or leave the path exactly as it was.

Stage a temporary file in the destination's directory; when it is to replace the destination
(`commit`), fsync it, rename it over the destination, fsync the directory. The fsyncs come only
then, so that whatever reads the staged file first (BIRD's parse) is not kept waiting for the
disk: the page cache serves it, and only the rename needs the data durable. A destination that
already holds the same bytes is not touched at all, so "unchanged" is visible to the caller
(and BIRD is not asked to reload for nothing).

Three things a rewrite never does:
* widen the permissions: the new file gets the old one's mode intersected with 0640 (a 0600
  file holding BGP passwords stays 0600); a new file gets 0640;
* replace a symlink: `-o` naming a link replaces the file the link resolves to, staged beside
  that file (a rename is only atomic within one directory), and the link stays a link;
* leave a staged file behind for good: a run killed between staging and rename leaves
  `.<name>.XXXXXXXX.tmp`; the next run removes every such file that no live process holds.

Two renders racing on one destination: each staged file carries an exclusive `flock` from its
creation to its rename or removal, and the kernel drops that lock when its holder dies, SIGKILL
included. A render removes a staged file of the same pattern only when it can take that lock,
so it never removes another live render's candidate, however slow that render's check is, and
needs no age threshold or PID (which a PID namespace would hide). The one window, between
`mkstemp` creating the file and the creator locking it, is closed on the creator's side: it
checks that its locked file still has its name and stages again if a cleaner removed it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

DEFAULT_MODE = 0o640
_STAGE_ATTEMPTS = 5  # each retry means a cleaner removed our file in a microseconds-wide window
_RANDOM = "[a-z0-9_]{8}"  # what tempfile.mkstemp puts between prefix and suffix


def unchanged(path: Path, text: str) -> bool:
    try:
        return path.read_bytes() == text.encode()
    except FileNotFoundError:
        return False


def destination(path: Path) -> Path:
    """The file a write to `path` replaces: `path` itself, or where its symlinks lead."""
    return Path(os.path.realpath(path))


def staged_pattern(target: Path) -> re.Pattern[str]:
    """The names of birdgen's staged copies of `target`, and nothing else."""
    return re.compile(rf"\.{re.escape(target.name)}\.{_RANDOM}\.tmp")


@contextlib.contextmanager
def staged(target: Path, text: str) -> Iterator[Path]:
    """A locked temporary file beside `target` holding `text`, with the mode and owner it will
    have; removed on exit unless `commit` made it durable and renamed it into place meanwhile.

    BIRD usually runs as its own user: the staged file takes the destination's owner and group
    (when we may set them) so that BIRD can read the candidate it is asked to check.
    """
    fd, tmp = _create_locked(target)
    try:
        try:
            st: os.stat_result | None = target.stat()
        except FileNotFoundError:
            st = None
        _write(fd, text.encode())
        os.fchmod(fd, DEFAULT_MODE if st is None else stat.S_IMODE(st.st_mode) & DEFAULT_MODE)
        if st is not None:
            with contextlib.suppress(PermissionError):
                os.fchown(fd, st.st_uid, st.st_gid)
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)
        os.close(fd)  # releases the lock only now: a cleaner never sees our file unlocked


def commit(staged_file: Path, target: Path) -> None:
    """Make `staged_file` durable, rename it over `target` and make the rename durable."""
    _fsync_path(staged_file)  # before the rename: a crash must leave the old text or the new
    try:
        os.replace(staged_file, target)
    except OSError as exc:
        if exc.errno not in (errno.EBUSY, errno.EXDEV):
            raise
        # A bind-mounted file (a Kubernetes subPath, say) cannot be renamed over: rewrite it in
        # place instead. Not atomic, but BIRD only reads it when told to, after this returns.
        data = staged_file.read_bytes()
        with open(target, "r+b") as out:
            out.write(data)
            out.truncate()
            out.flush()
            os.fsync(out.fileno())
        return
    _fsync_path(target.parent, os.O_DIRECTORY)


def _fsync_path(path: Path, flags: int = 0) -> None:
    fd = os.open(path, os.O_RDONLY | flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale(target: Path) -> list[Path]:
    """Remove the staged copies of `target` that no live process holds; return what went.

    Only regular files whose whole name matches `staged_pattern(target)` are considered, so an
    operator's own `.bird.conf.bak` or another tool's temp file is never touched.
    """
    pattern = staged_pattern(target)
    removed: list[Path] = []
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return removed
    for name in names:
        if pattern.fullmatch(name) is None:
            continue
        candidate = target.parent / name
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue  # gone meanwhile, a symlink, or not ours to open: leave it
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live render holds it
            if _same_file(fd, candidate):
                candidate.unlink(missing_ok=True)
                removed.append(candidate)
        finally:
            os.close(fd)
    return removed


def _create_locked(target: Path) -> tuple[int, Path]:
    for _ in range(_STAGE_ATTEMPTS):
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        tmp = Path(name)
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits only for a cleaner that grabbed it first
        if _same_file(fd, tmp):
            return fd, tmp
        os.close(fd)  # a cleaner removed it between mkstemp and flock: stage again
    raise OSError(errno.EAGAIN, f"could not stage a copy of {target}: removed while staging")


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.lstat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
