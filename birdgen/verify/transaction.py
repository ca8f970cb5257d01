"""verify: reload as a transaction, with BIRD's own `configure … timeout N` / `confirm` / `undo`.

Place in the pipeline: **reload**, when `--verify-timeout N` is above 0. Over one connection:

1. read every protocol (state and "since");
2. `configure "candidate" timeout N`, the candidate staged beside the live file: BIRD parses
   it (once: a text it refuses leaves it on its running config and is reported, 8002) and
   will undo it by itself after N s unless confirmed, so even a birdgen that dies here
   leaves BIRD on its old config;
3. verify, within a deadline well inside N: every BGP session that was Established and whose
   options did not change (same `protocol`/`template` blocks, `birdgen.verify.blocks`) is
   still Established with the same "since"; `svc4`/`svc6` hold as many routes as planned and
   every Established session of the plan is exported as many of them as planned. Counts, not
   listings: a count is ~0.1 s at 100,000 routes where a full listing is ~2 s per peer
   (docs/performance.md), and the sidecar compares in full right after (drift);
4. if it verified, the candidate is renamed over the live file and `configure confirm` sent;
   else `configure undo`, and `NotConfirmed` names the session or the table and why. The live
   file so only ever holds a text BIRD confirmed (or, if the confirm came too late, gets back
   the text BIRD runs again). A text that took sessions down is not tried again until the
   rendered text changes (each try would take them down for a moment); one whose counts did
   not match in time is retried as any failed reload is, with backoff.

With no daemon to ask, the candidate is checked with `bird -p` and renamed into place for the
BIRD that starts later (`reload.reloaders.commit_checked`), and the reload fails.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from birdgen.errors import ConfigRejected, ReloadFailed
from birdgen.pipeline import apply
from birdgen.plan import NodePlan
from birdgen.reload.control import (
    CODE_CONFIG_ERROR,
    CONFIGURE_OK,
    BirdControl,
    DaemonUnreachable,
    quote,
)
from birdgen.reload.reloaders import commit_checked
from birdgen.reload.show import Protocol, read_protocols, read_status
from birdgen.verify.blocks import unchanged_sessions
from birdgen.verify.drift import planned_sessions, table_name
from birdgen.verify.observe import count_exported, count_table

CODE_CONFIRMED = 18
CODE_NOTHING_TO_DO = 19  # `configure confirm` with nothing pending: BIRD already undid it
CODE_UNDO_REQUESTED = 21
POLL = 0.1
SINCE_SLACK = 0.5  # seconds; see same_instant


class NotConfirmed(ReloadFailed):
    """The new config loaded but did not verify; BIRD was told to undo it (or undid it)."""

    def __init__(self, problems: tuple[str, ...], undone: str, *, reset: bool = False) -> None:
        self.problems = problems
        self.reset = reset  # it took sessions down: trying the same text again would too
        super().__init__(f"the new config did not verify, {undone}: " + "; ".join(problems))


@dataclass(frozen=True)
class Expectation:
    """What the verification holds the new config to."""

    plan: NodePlan
    before_text: str | None  # the config BIRD ran before (None: unknown, no session checked)
    after_text: str


def session_problems(
    before: dict[str, Protocol], after: dict[str, Protocol], kept: frozenset[str]
) -> list[str]:
    """Sessions that were Established, kept their options, and did not stay up (pure)."""
    problems = []
    for name in sorted(kept):
        old, new = before.get(name), after.get(name)
        if old is None or not old.established:
            continue
        if new is None or not new.established or not same_instant(old.since, new.since):
            now = "gone" if new is None else f"{_state(new)} since {new.since}"
            problems.append(
                f"session {name} (peer {old.neighbor or '?'}) went down though its options did "
                f"not change: Established since {old.since}, now {now}"
            )
    return problems


def same_instant(a: str, b: str) -> bool:
    """Two of BIRD's since-times for one unchanged state.

    BIRD keeps the instant on its monotonic clock and converts it to wall-clock time each time
    it prints it, so two readings may differ by a millisecond or so. A reset moves it by far
    more: the session comes back no sooner than its connect delay (seconds) later.
    """
    if a == b:
        return True
    try:
        return abs(_seconds(a) - _seconds(b)) <= SINCE_SLACK
    except ValueError:
        return False


def _seconds(since: str) -> float:
    h, m, sec = since.split(":")  # "HH:MM:SS.mmm", BIRD's format for the last 20 hours
    return int(h) * 3600 + int(m) * 60 + float(sec)


def _state(p: Protocol) -> str:
    return p.bgp_state or p.info or p.state


class Transaction:
    """Reloads that BIRD confirms only once they verify; remembers what BIRD runs.

    The reconciler calls `admit(live, text)` before it stages `text`, then
    `install(candidate, live, commit, plan, text)` with the staged candidate, or
    `reload(live, plan, text)` when the live file already holds the text.
    """

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        timeout: int,
        *,
        connect_timeout: float = 10.0,
        bird_binary: str = "bird",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout < 1:
            raise ValueError("the verify timeout is at least 1 s")
        self.socket_path = os.fspath(socket_path)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.bird_binary = bird_binary  # `bird -p`, when no daemon answers
        self.clock = clock
        self.running: str | None = None  # the text BIRD last confirmed; None: not known yet
        self.refused: tuple[str, NotConfirmed] | None = None

    def admit(self, live: Path, text: str) -> None:
        """Before `text` replaces `live`: refuse a text that already failed to verify."""
        if self.refused is not None and self.refused[0] == text:
            raise self.refused[1]
        self.refused = None
        if self.running is None:
            # Not known yet (first apply since start): BIRD runs what the file holds.
            try:
                self.running = live.read_text()
            except (OSError, UnicodeDecodeError):
                self.running = None

    def install(
        self, candidate: Path, live: Path, commit: Callable[[], None], plan: NodePlan, text: str
    ) -> str:
        """`run` the transaction on the staged `candidate` of `text`, committing it (the rename
        over `live`) once it verified, before the confirm."""
        committed = False

        def commit_once() -> None:
            nonlocal committed
            commit()
            committed = True

        try:
            return self._transact(candidate, plan, text, commit_once)
        except DaemonUnreachable:  # raised on connecting, before anything was sent
            commit_checked(candidate, commit, self.bird_binary)  # for the BIRD that starts later
            raise
        except NotConfirmed:
            if committed:  # the confirm came too late: BIRD runs the old text again
                self._restore(live)
            raise

    def reload(self, live: Path, plan: NodePlan, text: str) -> str:
        """`run` the transaction on `live`, which holds `text` already."""
        try:
            return self._transact(live, plan, text, None)
        except NotConfirmed:
            self._restore(live)
            raise

    def _transact(
        self, path: Path, plan: NodePlan, text: str, commit: Callable[[], None] | None
    ) -> str:
        try:
            summary = self.run(path, Expectation(plan, self.running, text), commit)
        except NotConfirmed as exc:
            if exc.reset:
                self.refused = (text, exc)
            raise
        self.running = text
        return summary

    def _restore(self, live: Path) -> None:
        """Put the text BIRD runs back into `live`, where it is known."""
        if self.running is not None:
            restore(live, self.running)

    def run(
        self, config: Path, expect: Expectation, commit: Callable[[], None] | None = None
    ) -> str:
        """Load `config` under `configure … timeout`, verify, and confirm (calling `commit`
        first, if given, and undoing if it raises) or undo."""
        path = os.path.abspath(config)
        command = f"configure {quote(path)} timeout {self.timeout}"
        with BirdControl(self.socket_path, self.connect_timeout) as bird:
            before = read_protocols(bird)
            started = self.clock()
            # Leave a quarter of N (at least half a second) for the confirm to arrive in time.
            deadline = started + max(0.5, self.timeout * 0.75 - 0.5)
            reply = bird.command(command)
            if reply.code == CODE_CONFIG_ERROR:
                raise ConfigRejected(reply.message)
            if reply.code not in CONFIGURE_OK:
                raise ReloadFailed(f"{command}: unexpected reply {reply.summary}")
            kept = (
                unchanged_sessions(expect.before_text, expect.after_text)
                if expect.before_text is not None
                else frozenset()
            )
            problems, reset = self._verify(bird, expect.plan, before, kept, deadline)
            if not problems:
                if commit is not None:
                    try:
                        commit()
                    except BaseException:
                        # The live file cannot take the text: BIRD must not keep running it.
                        bird.command("configure undo")
                        raise
                confirm = bird.command("configure confirm")
                if confirm.code == CODE_CONFIRMED:
                    return f"{reply.summary}; verified and confirmed"
                problems = [
                    f"verification outlasted the {self.timeout} s timeout ({confirm.summary})"
                ]
                raise NotConfirmed(tuple(problems), "BIRD undid it by itself")
            undo = bird.command("configure undo")
            undone = (
                "BIRD undid it"
                if undo.code in {CODE_UNDO_REQUESTED, *CONFIGURE_OK}
                else f"undo answered {undo.summary}; BIRD undoes it after {self.timeout} s"
            )
            raise NotConfirmed(tuple(problems), undone, reset=reset)

    def _verify(
        self,
        bird: BirdControl,
        plan: NodePlan,
        before: dict[str, Protocol],
        kept: frozenset[str],
        deadline: float,
    ) -> tuple[list[str], bool]:
        """The problems found, and whether they are sessions that went down."""
        # Wait for the reconfiguration to finish (protocols to be restarted, removed, added).
        while read_status(bird).reconfiguring and self.clock() < deadline:
            time.sleep(POLL)
        planned = planned_sessions(plan)
        while True:
            after = read_protocols(bird)
            problems = session_problems(before, after, kept)
            if problems:
                return problems, True  # a session that went down does not come back "unreset"
            problems = []
            for fam in plan.families:
                table = table_name(fam)
                if table not in after:
                    continue
                want = len(fam.routes)
                held = count_table(bird, table)
                if held != want:
                    problems.append(f"{table} holds {held} routes, the plan has {want}")
                for name, ps in planned.items():
                    proto = after.get(name)
                    if ps.family is not fam or ps.filtered or proto is None:
                        continue
                    if not proto.established:
                        continue
                    sent = count_exported(bird, name, table)
                    if sent != want:
                        problems.append(
                            f"session {name} is exported {sent} of {table}'s routes, "
                            f"the plan has {want}"
                        )
            if not problems or self.clock() >= deadline:
                return problems, False
            time.sleep(POLL)


def restore(live: Path, text: str) -> None:
    """Put `text` back into `live` atomically (the config BIRD runs after an undo)."""
    apply(text, live)
