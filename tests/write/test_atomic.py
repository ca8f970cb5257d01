"""Writing the live file: atomic replacement, permissions never widened, symlinks kept, staged
files of killed runs removed (and a live run's never)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from seam import pausing_program

from birdgen.pipeline import apply
from birdgen.write.atomic import remove_stale, staged_pattern

OLD = "# old\n" + "protocol device {}\n" * 20_000  # big enough that a rewrite takes several writes
NEW = "# new\n" + "protocol device { scan time 10; }\n" * 20_000


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def strays(directory: Path) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


# ---- atomicity ---------------------------------------------------------------------------------


def test_a_reader_never_sees_a_partial_file_during_many_rewrites(tmp_path: Path) -> None:
    live = tmp_path / "bird.conf"
    live.write_text(OLD)
    seen: dict[str, int] = {"reads": 0, "bad": 0}
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            data = live.read_text()  # opens the name afresh each time, as BIRD's `configure` does
            seen["reads"] += 1
            if data not in (OLD, NEW):
                seen["bad"] += 1

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        for i in range(60):
            apply(NEW if i % 2 == 0 else OLD, live)
    finally:
        stop.set()
        thread.join(10)
    assert seen["reads"] > 0
    assert seen["bad"] == 0, f"{seen['bad']} of {seen['reads']} reads saw a partial file"


def test_the_old_file_stays_whole_for_a_reader_that_opened_it(tmp_path: Path) -> None:
    # A rename replaces the name; the inode an earlier open() holds keeps the old text in full.
    # Truncating and rewriting in place would hand that reader the new text or a torn mix.
    live = tmp_path / "bird.conf"
    live.write_text(OLD)
    before = live.stat().st_ino
    with live.open() as held:
        assert apply(NEW, live).changed
        assert held.read() == OLD
    assert live.read_text() == NEW
    assert live.stat().st_ino != before
    assert strays(tmp_path) == []


def test_the_live_file_is_untouched_while_the_candidate_is_checked(tmp_path: Path) -> None:
    live = tmp_path / "bird.conf"
    live.write_text(OLD)

    def check(candidate: Path) -> None:
        assert candidate.parent == tmp_path and candidate.read_text() == NEW
        assert live.read_text() == OLD

    apply(NEW, live, check=check)
    assert live.read_text() == NEW


# ---- permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "after"), [(0o600, 0o600), (0o640, 0o640), (0o644, 0o640), (0o400, 0o400)])  # fmt: skip
def test_a_rewrite_never_widens_the_mode(tmp_path: Path, before: int, after: int) -> None:
    live = tmp_path / "bird.conf"
    live.write_text(OLD)
    live.chmod(before)
    apply(NEW, live)
    assert live.read_text() == NEW
    assert mode(live) == after


def test_a_new_file_gets_0640_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        apply(NEW, tmp_path / "bird.conf")
    finally:
        os.umask(old)
    assert mode(tmp_path / "bird.conf") == 0o640


def test_the_candidate_has_the_final_mode_when_it_is_checked(tmp_path: Path) -> None:
    live = tmp_path / "bird.conf"
    live.write_text(OLD)
    live.chmod(0o600)
    modes: list[int] = []
    apply(NEW, live, check=lambda candidate: modes.append(mode(candidate)))
    assert modes == [0o600]


# ---- symlinks ----------------------------------------------------------------------------------


def test_a_symlink_is_kept_and_its_target_replaced_atomically(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "bird.conf"
    target.write_text(OLD)
    target.chmod(0o600)
    link_dir = tmp_path / "etc"
    link_dir.mkdir()
    link = link_dir / "bird.conf"
    link.symlink_to(Path("..") / "real" / "bird.conf")  # relative, as `ln -s` is often used
    candidates: list[Path] = []

    inode = target.stat().st_ino
    assert apply(NEW, link, check=candidates.append).changed
    assert link.is_symlink() and os.readlink(link) == str(Path("..") / "real" / "bird.conf")
    assert target.read_text() == NEW and target.stat().st_ino != inode
    assert mode(target) == 0o600
    # Staged beside the target: a rename across directories (file systems) would not be atomic.
    assert [c.parent for c in candidates] == [real_dir]
    assert strays(real_dir) == [] and strays(link_dir) == []
    assert not apply(NEW, link).changed


def test_a_chain_of_symlinks_and_a_dangling_one(tmp_path: Path) -> None:
    target = tmp_path / "bird.conf"
    (tmp_path / "one").symlink_to("bird.conf")
    (tmp_path / "two").symlink_to("one")
    apply(NEW, tmp_path / "two")  # the target does not exist yet: it is created there
    assert (tmp_path / "two").is_symlink() and (tmp_path / "one").is_symlink()
    assert target.read_text() == NEW and mode(target) == 0o640


# ---- staged files left by killed runs ----------------------------------------------------------


def test_stale_staged_files_of_our_pattern_are_removed_and_nothing_else(tmp_path: Path) -> None:
    live = tmp_path / "bird.conf"
    live.write_text(OLD)
    stale = [".bird.conf.abcd1234.tmp", ".bird.conf.x_9y8z7w.tmp"]
    others = [
        ".bird.conf.bak",
        ".bird.conf.abc.tmp",  # not mkstemp's eight characters
        ".bird.conf.ABCD1234.tmp",  # mkstemp never uses capitals
        ".bird.conf.abcd1234.tmp.keep",
        ".bird.confx.abcd1234.tmp",
        ".other.conf.abcd1234.tmp",
        "bird.conf.abcd1234.tmp",
    ]
    for name in stale + others:
        (tmp_path / name).write_text("partial")
    os.mkdir(tmp_path / ".bird.conf.dir12345.tmp")  # not a regular file
    (tmp_path / ".bird.conf.link1234.tmp").symlink_to("bird.conf")
    apply(NEW, live)
    left = set(os.listdir(tmp_path))
    assert not left & set(stale)
    assert set(others) | {"bird.conf", ".bird.conf.dir12345.tmp", ".bird.conf.link1234.tmp"} == left
    assert live.read_text() == NEW


def test_stale_files_go_even_when_the_text_is_unchanged(tmp_path: Path) -> None:
    # A run killed after its rename leaves the new text in place: the next run finds it
    # unchanged, and must still clean up.
    live = tmp_path / "bird.conf"
    live.write_text(NEW)
    (tmp_path / ".bird.conf.abcd1234.tmp").write_text("partial")
    inode = live.stat().st_ino
    assert not apply(NEW, live).changed
    assert strays(tmp_path) == [] and live.stat().st_ino == inode


def test_a_live_renders_candidate_is_never_removed(tmp_path: Path) -> None:
    # Two renders racing: while one checks its candidate, the other writes and cleans up.
    live = tmp_path / "bird.conf"
    live.write_text(OLD)
    survived: list[bool] = []

    def slow_check(candidate: Path) -> None:
        assert remove_stale(live) == []  # the racing render's cleanup, at the worst moment
        survived.append(candidate.exists() and candidate.read_text() == NEW)

    apply(NEW, live, check=slow_check)
    assert survived == [True] and live.read_text() == NEW


def test_a_staged_file_held_by_another_live_process_is_kept(tmp_path: Path) -> None:
    live = tmp_path / "bird.conf"
    live.write_text(OLD)
    held = tmp_path / ".bird.conf.held1234.tmp"
    held.write_text("another render's candidate")
    code = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(held)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        apply(NEW, live)
        assert held.exists()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
    # Its holder is gone: the next write removes it.
    apply(OLD, live)
    assert not held.exists() and strays(tmp_path) == []


def test_a_render_killed_while_checking_leaves_a_file_the_next_render_removes(
    tmp_path: Path,
) -> None:
    """The real CLI, killed with SIGKILL between staging and rename (during `--check`)."""
    example = Path(__file__).parents[2] / "examples" / "walkthrough"
    out = tmp_path / "bird.conf"
    out.write_text(OLD)
    checking, release = tmp_path / "checking", tmp_path / "release"
    # As `bird -p`: says the check started, then waits (bounded) to be released; exits 0.
    fake_bird = pausing_program(tmp_path / "slow-bird", checking, release)
    argv = [sys.executable, "-m", "birdgen", "render", "-f", str(example), "--node", "node-1"]
    proc = subprocess.Popen([*argv, "-o", str(out), "--check", "--bird", str(fake_bird)])
    try:
        deadline = time.monotonic() + 30
        while not checking.exists():
            assert proc.poll() is None, "render ended before its check"
            assert time.monotonic() < deadline, "the check never started"
            time.sleep(0.02)
        left = strays(tmp_path)
        assert len(left) == 1 and staged_pattern(out).fullmatch(left[0])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        release.touch()  # lets the orphaned fake bird finish on its own
    assert out.read_text() == OLD
    assert len(strays(tmp_path)) == 1  # the killed run's candidate, still there
    done = subprocess.run([*argv, "-o", str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert strays(tmp_path) == []
    assert "route 10.49.62.131/32 blackhole;" in out.read_text()


def test_racing_writers_never_fail_each_other_and_leave_nothing_behind(tmp_path: Path) -> None:
    # Each write cleans up before staging: without the locks, one writer removes the other's
    # candidate and the other's rename fails.
    live = tmp_path / "bird.conf"
    live.write_text(OLD)
    errors: list[BaseException] = []

    def writer(texts: tuple[str, str]) -> None:
        try:
            for i in range(40):
                apply(texts[i % 2] + "\n" * (i + 1), live)
        except BaseException as exc:  # reported below, with the other thread's
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in ((OLD, NEW), (NEW, OLD))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert live.read_text().rstrip("\n") in (OLD.rstrip("\n"), NEW.rstrip("\n"))
    assert strays(tmp_path) == []
