"""The write stage's edges: a destination that cannot be renamed over (another filesystem, as
a bind-mounted file is), and staged-looking names that are not staged files (a FIFO, a
directory, a symlink) among real leftovers."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from birdgen.pipeline import apply
from birdgen.write.atomic import commit, remove_stale, staged_pattern

SHM = Path("/dev/shm")


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """A directory on another filesystem than `tmp_path`: a rename between them is EXDEV."""
    if not SHM.is_dir() or SHM.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test's temporary directory")
    with tempfile.TemporaryDirectory(dir=SHM) as name:
        yield Path(name)


def test_a_destination_that_cannot_be_renamed_over_is_rewritten_in_place(
    tmp_path: Path, elsewhere: Path
) -> None:
    target = tmp_path / "bird.conf"
    target.write_text("# old, longer than the new text\n" * 100)
    inode = target.stat().st_ino
    staged = elsewhere / ".bird.conf.abcd1234.tmp"
    staged.write_text("# new\n")
    commit(staged, target)
    assert target.read_text() == "# new\n"  # truncated to the new text
    assert target.stat().st_ino == inode  # the same file, rewritten


def test_a_failed_rename_of_another_kind_is_raised(tmp_path: Path) -> None:
    target = tmp_path / "bird.conf"
    target.write_text("# old\n")
    with pytest.raises(FileNotFoundError):
        commit(tmp_path / "gone.tmp", target)
    assert target.read_text() == "# old\n"


def test_remove_stale_in_a_missing_directory_removes_nothing(tmp_path: Path) -> None:
    assert remove_stale(tmp_path / "no-such-dir" / "bird.conf") == []


@pytest.mark.parametrize("odd", ["fifo", "directory", "symlink", "locked"])
def test_staged_looking_names_that_are_not_leftovers_stop_nothing(tmp_path: Path, odd: str) -> None:
    """Each odd entry is left alone, without blocking (a FIFO opened for reading would wait for
    a writer), and every real leftover around them still goes: with three odd entries among
    twelve leftovers, stopping at the first odd one leaves some leftovers behind unless the
    directory lists all three last (one chance in 455)."""
    live = tmp_path / "bird.conf"
    live.write_text("# old\n")
    stale = {f".bird.conf.stale{n:03d}.tmp" for n in range(12)}
    for name in stale:
        (tmp_path / name).write_text("partial")
    odd_names = {f".bird.conf.odd{n:05d}.tmp" for n in range(3)}
    holders = []
    for name in odd_names:
        path = tmp_path / name
        if odd == "fifo":
            os.mkfifo(path)
        elif odd == "directory":
            path.mkdir()
        elif odd == "symlink":
            path.symlink_to("bird.conf")
        else:  # another live render's candidate, locked by it
            path.write_text("another render's candidate")
            holders.append(os.open(path, os.O_RDONLY))
            fcntl.flock(holders[-1], fcntl.LOCK_EX)
    try:
        removed = remove_stale(live)
    finally:
        for fd in holders:
            os.close(fd)
    assert {p.name for p in removed} == stale
    assert set(os.listdir(tmp_path)) == {"bird.conf", *odd_names}


def test_the_candidate_is_staged_beside_the_target_under_the_pattern_cleanup_knows(
    tmp_path: Path,
) -> None:
    """So that a run killed while checking leaves a file the next run recognises and removes,
    and the rename is within one directory (atomic)."""
    live = tmp_path / "bird.conf"
    live.write_text("# old\n")
    seen: list[Path] = []
    apply("# new\n", live, check=seen.append)
    (candidate,) = seen
    assert candidate.parent == tmp_path
    assert staged_pattern(live).fullmatch(candidate.name), candidate.name
    assert live.read_text() == "# new\n" and sorted(os.listdir(tmp_path)) == ["bird.conf"]
