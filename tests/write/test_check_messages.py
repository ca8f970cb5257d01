"""What `bird -p`'s check hands the operator, word for word, and where its candidate lives.

A stand-in `bird` (a shell script) says exactly what a parser can say: several lines, bytes
that are not UTF-8, nothing at all; and records how it was called and what it was given.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from birdgen.errors import BirdNotRun, ConfigRejected
from birdgen.write.check import check_file, check_text

BIRD = shutil.which("bird") or ("/usr/sbin/bird" if os.path.exists("/usr/sbin/bird") else None)
needs_bird = pytest.mark.skipif(BIRD is None, reason="BIRD 2 (`bird`) is not installed")

CONFIG = "router id 192.0.2.1;\nprotocol device {}\n"


def fake_bird(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-bird"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


@needs_bird
def test_without_a_display_name_the_candidate_is_called_candidate(tmp_path: Path) -> None:
    assert BIRD is not None
    with pytest.raises(ConfigRejected) as err:
        check_text(
            CONFIG + "protocol static { ipv4; route 10.0.0.1/33 blackhole; }\n",
            bird=BIRD,
            directory=tmp_path,
        )
    assert err.value.detail == "<candidate>:3:40 Invalid prefix length 33"


def test_the_candidate_is_a_hidden_conf_file_in_the_given_directory(tmp_path: Path) -> None:
    """Hidden, so that no live `include "dir/*.conf"` picks a half-checked candidate up, and
    in `directory`, so that its relative includes resolve as the destination's will."""
    record = tmp_path / "record"
    bird = fake_bird(tmp_path, f'printf "%s\\n" "$@" > {record}; cat "$3" >> {record}\n')
    directory = tmp_path / "etc"
    directory.mkdir()
    check_text(CONFIG, bird=bird, directory=directory)
    flag, option, candidate, *text = record.read_text().splitlines()
    assert (flag, option) == ("-p", "-c")
    assert Path(candidate).parent == directory
    assert re.fullmatch(r"\.birdgen-check-[a-z0-9_]{8}\.conf", Path(candidate).name), candidate
    assert "\n".join(text) + "\n" == CONFIG
    assert list(directory.iterdir()) == []


def test_every_line_of_the_message_loses_birds_prefix_and_the_staged_name(tmp_path: Path) -> None:
    bird = fake_bird(
        tmp_path,
        'echo "bird: $3:4:2 first problem" >&2\n'
        'echo "bird: $3:9:1 second problem, in $3" >&2\n'
        "exit 1\n",
    )
    with pytest.raises(ConfigRejected) as err:
        check_text(CONFIG, bird=bird, display_name="/etc/bird/bird.conf", directory=tmp_path)
    assert err.value.detail == (
        "/etc/bird/bird.conf:4:2 first problem\n"
        "/etc/bird/bird.conf:9:1 second problem, in /etc/bird/bird.conf"
    )


def test_a_message_on_stdout_is_used_when_stderr_is_empty(tmp_path: Path) -> None:
    conf = tmp_path / "bird.conf"
    conf.write_text(CONFIG)
    bird = fake_bird(tmp_path, 'echo "bird: $3:1:1 said on stdout"\nexit 1\n')
    with pytest.raises(ConfigRejected) as err:
        check_file(conf, bird=bird, display_name="bird.conf")
    assert err.value.detail == "bird.conf:1:1 said on stdout"


def test_bytes_that_are_not_utf8_in_the_message_are_replaced_not_fatal(tmp_path: Path) -> None:
    bird = fake_bird(tmp_path, "printf 'bird: caf\\351: no such file\\n' >&2\nexit 1\n")
    with pytest.raises(ConfigRejected) as err:
        check_text(CONFIG, bird=bird, directory=tmp_path)
    assert err.value.detail == "caf\ufffd: no such file"


def test_a_silent_failure_says_so_whole(tmp_path: Path) -> None:
    bird = fake_bird(tmp_path, "exit 3\n")
    with pytest.raises(ConfigRejected) as err:
        check_text(CONFIG, bird=bird, directory=tmp_path)
    assert err.value.detail == f"`{bird} -p` exited with status 3 and no message"


def test_a_bird_that_cannot_be_run_is_named_with_the_systems_reason(tmp_path: Path) -> None:
    fake = tmp_path / "bird"
    fake.write_text("not a program\n")
    with pytest.raises(BirdNotRun) as err:
        check_text(CONFIG, bird=str(fake), directory=tmp_path)
    assert err.value.detail == f"cannot run {str(fake)!r}: Permission denied"


def test_a_missing_bird_is_named_with_how_to_fix_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-bird")
    with pytest.raises(BirdNotRun) as err:
        check_text(CONFIG, bird=missing, directory=tmp_path)
    assert err.value.detail == (
        f"{missing!r} not found (install bird2, or give the bird binary's path with --bird)"
    )


def test_a_hanging_bird_is_named_with_the_timeout(tmp_path: Path) -> None:
    bird = fake_bird(tmp_path, "exec sleep 30\n")
    with pytest.raises(BirdNotRun) as err:
        check_text(CONFIG, bird=bird, timeout=0.25, directory=tmp_path)
    assert err.value.detail == f"`{bird} -p` did not finish within 0.25 s"
