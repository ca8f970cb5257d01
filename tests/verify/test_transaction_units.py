"""The verdict on sessions after a reload, on canned protocol tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from bird_daemon import BIRD

from birdgen.errors import ConfigRejected
from birdgen.reload.control import DaemonUnreachable
from birdgen.reload.show import Protocol
from birdgen.verify.transaction import (
    Expectation,
    NotConfirmed,
    Transaction,
    same_instant,
    session_problems,
)


def bgp(name: str, state: str, since: str) -> Protocol:
    up = state == "Established"
    return Protocol(
        name,
        "BGP",
        "---",
        "up" if up else "start",
        since,
        state,
        bgp_state=state,
        neighbor="192.168.1.1",
    )


def test_a_kept_session_must_stay_established_since_the_same_instant() -> None:
    before = {"A": bgp("A", "Established", "20:41:40.007"), "B": bgp("B", "Established", "20:41:40.100"),
              "C": bgp("C", "Active", "20:41:40.100"), "D": bgp("D", "Established", "20:41:40.100")}  # fmt: skip
    after = {"A": bgp("A", "Established", "20:41:40.008"),  # the same instant, printed anew
             "B": bgp("B", "Established", "20:41:43.366"),  # reset and back up
             "C": bgp("C", "Active", "20:41:44.000"),  # was not up: not ours to judge
             "D": bgp("D", "Active", "20:41:43.366")}  # fmt: skip
    problems = session_problems(before, after, frozenset({"A", "B", "C", "D"}))
    assert len(problems) == 2
    assert problems[0].startswith("session B (peer 192.168.1.1) went down")
    assert "now Active since 20:41:43.366" in problems[1]
    # D's options changed: BIRD was entitled to restart it.
    assert len(session_problems(before, after, frozenset({"A", "B"}))) == 1
    assert "gone" in session_problems(before, {}, frozenset({"A"}))[0]


def test_same_instant() -> None:
    assert same_instant("20:41:40.007", "20:41:40.009")
    assert not same_instant("20:41:40.007", "20:41:42.007")
    assert same_instant("2026-11-30", "2026-11-30") and not same_instant(
        "2026-11-30", "20:41:40.007"
    )


class Undone(Transaction):
    """A transaction whose verification fails as told (the BIRD side is tested end to end)."""

    def __init__(self, reset: bool) -> None:
        super().__init__("/nonexistent.ctl", 5)
        self.reset = reset

    def run(
        self, config: Path, expect: Expectation, commit: Callable[[], None] | None = None
    ) -> str:
        raise NotConfirmed(("a problem",), "BIRD undid it", reset=self.reset)


@pytest.mark.parametrize("reset", [True, False])
def test_an_undone_text_is_put_back_and_refused_only_if_it_reset_sessions(
    tmp_path: Path, reset: bool
) -> None:
    live = tmp_path / "bird.conf"
    live.write_text("old\n")
    tx = Undone(reset)
    tx.admit(live, "new\n")
    assert tx.running == "old\n"  # what BIRD runs, read before the rename
    live.write_text("new\n")  # the reconciler renames the candidate into place
    with pytest.raises(NotConfirmed):
        tx.reload(live, plan=None, text="new\n")  # type: ignore[arg-type]
    assert live.read_text() == "old\n"  # the file says again what BIRD runs
    if reset:
        with pytest.raises(NotConfirmed):
            tx.admit(live, "new\n")  # not tried again: it would take the sessions down again
    else:
        tx.admit(live, "new\n")  # counts that did not match in time: tried again
    tx.admit(live, "newer\n")  # another text is always tried


def test_an_undone_candidate_never_reaches_the_live_file(tmp_path: Path) -> None:
    # The candidate is renamed into place only once it verified: undone, nothing is put back
    # because nothing was replaced, and the text that reset sessions is still not tried again.
    live, candidate = tmp_path / "bird.conf", tmp_path / ".bird.conf.candidate.tmp"
    live.write_text("old\n")
    candidate.write_text("new\n")
    tx = Undone(reset=True)
    tx.admit(live, "new\n")
    commits: list[str] = []
    with pytest.raises(NotConfirmed):
        tx.install(candidate, live, lambda: commits.append("commit"), plan=None, text="new\n")  # type: ignore[arg-type]
    assert commits == [] and live.read_text() == "old\n" and tx.running == "old\n"
    with pytest.raises(NotConfirmed):
        tx.admit(live, "new\n")


def test_without_a_daemon_the_candidate_is_checked_offline_and_put_in_place(
    tmp_path: Path,
) -> None:
    # For the BIRD that starts later (it reads the live file); the reload itself fails.
    live, candidate = tmp_path / "bird.conf", tmp_path / "candidate.conf"
    live.write_text("old\n")
    candidate.write_text("router id 192.0.2.1;\nprotocol device {}\n")
    commits: list[str] = []
    if BIRD is None:
        pytest.skip("BIRD 2 (`bird`) is not installed")
    tx = Transaction(tmp_path / "no.ctl", 5, bird_binary=BIRD)
    with pytest.raises(DaemonUnreachable):
        tx.install(candidate, live, lambda: commits.append("commit"), plan=None, text="x")  # type: ignore[arg-type]
    assert commits == ["commit"]
    candidate.write_text("router id 192.0.2.300;\nprotocol device {}\n")
    with pytest.raises(ConfigRejected):
        tx.install(candidate, live, lambda: commits.append("commit"), plan=None, text="y")  # type: ignore[arg-type]
    assert commits == ["commit"], "a text bird -p refuses is not put in place"
