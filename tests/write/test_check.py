"""check.py against the real `bird -p`: accepts good text, rejects bad text by a readable name."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from birdgen.errors import BirdNotRun, ConfigRejected
from birdgen.write.check import check_file, check_text

BIRD = shutil.which("bird") or ("/usr/sbin/bird" if os.path.exists("/usr/sbin/bird") else None)
needs_bird = pytest.mark.skipif(BIRD is None, reason="BIRD 2 (`bird`) is not installed")

GOOD = """\
router id 192.0.2.1;
protocol device {}
protocol static svc {
  ipv4;
  route 10.49.0.1/32 blackhole;
}
"""
# Line 5: a /33 is a semantic error BIRD reports with file:line:column.
BAD = GOOD.replace("10.49.0.1/32", "10.49.0.1/33")
SYNTAX = GOOD.replace("protocol static", "protocl static")


@needs_bird
def test_check_text_accepts_valid_config(tmp_path: Path) -> None:
    assert BIRD is not None
    check_text(GOOD, bird=BIRD, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []  # the temp file is gone


@needs_bird
@pytest.mark.parametrize(
    ("text", "expected"),
    [(BAD, ":5:19 Invalid prefix length 33"), (SYNTAX, ":3:1 syntax error")],
)
def test_check_text_rejects_with_display_name(tmp_path: Path, text: str, expected: str) -> None:
    assert BIRD is not None
    with pytest.raises(ConfigRejected) as err:
        check_text(text, bird=BIRD, display_name="/etc/bird/bird.conf", directory=tmp_path)
    detail = err.value.detail
    assert detail.startswith("/etc/bird/bird.conf" + expected), detail
    assert ".birdgen-check-" not in detail and str(tmp_path) not in detail
    assert not detail.startswith("bird: ")
    assert list(tmp_path.iterdir()) == []  # removed even when rejected


@needs_bird
def test_check_file_accepts_and_rejects(tmp_path: Path) -> None:
    assert BIRD is not None
    good, bad = tmp_path / "good.conf", tmp_path / "bad.conf"
    good.write_text(GOOD)
    bad.write_text(BAD)
    check_file(good, bird=BIRD)
    with pytest.raises(ConfigRejected) as err:
        check_file(bad, bird=BIRD)
    assert err.value.detail == f"{bad}:5:19 Invalid prefix length 33"
    with pytest.raises(ConfigRejected) as err:
        check_file(bad, bird=BIRD, display_name="bird.conf")
    assert err.value.detail == "bird.conf:5:19 Invalid prefix length 33"


@needs_bird
def test_check_file_missing_file(tmp_path: Path) -> None:
    assert BIRD is not None
    with pytest.raises(ConfigRejected, match="No such file or directory"):
        check_file(tmp_path / "nope.conf", bird=BIRD)


@needs_bird
def test_relative_include_resolves_beside_the_file(tmp_path: Path) -> None:
    assert BIRD is not None
    (tmp_path / "svc.conf").write_text(
        "protocol static svc { ipv4; route 10.49.0.1/32 blackhole; }\n"
    )
    check_text('router id 192.0.2.1;\ninclude "svc.conf";\n', bird=BIRD, directory=tmp_path)


def test_missing_binary_says_bird_could_not_run_not_that_it_rejected(tmp_path: Path) -> None:
    with pytest.raises(BirdNotRun) as err:
        check_text(GOOD, bird=str(tmp_path / "no-such-bird"), directory=tmp_path)
    assert "not found" in err.value.detail and "no-such-bird" in err.value.detail
    assert str(err.value).startswith("BIRD could not be run to check the configuration: ")
    assert "rejected" not in str(err.value)


def test_a_binary_that_is_not_executable_could_not_be_run(tmp_path: Path) -> None:
    fake = tmp_path / "bird"
    fake.write_text("not a program\n")
    with pytest.raises(BirdNotRun, match=r"cannot run .*Permission denied"):
        check_text(GOOD, bird=str(fake), directory=tmp_path)


def test_hanging_parser_times_out(tmp_path: Path) -> None:
    fake = tmp_path / "bird"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    with pytest.raises(BirdNotRun, match=r"did not finish within 0\.3 s"):
        check_text(GOOD, bird=str(fake), timeout=0.3, directory=tmp_path)


def test_silent_failure_still_explains(tmp_path: Path) -> None:
    fake = tmp_path / "bird"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(ConfigRejected, match="exited with status 3"):
        check_text(GOOD, bird=str(fake), directory=tmp_path)
