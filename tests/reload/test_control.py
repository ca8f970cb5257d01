"""The control-socket client and the reloaders, against canned bytes and a real BIRD daemon.

The daemon runs with a config of a device protocol and one static blackhole route only (no
kernel, no BGP protocol), inside a private network namespace (`unshare -n`), so it can neither
touch this machine's routing table nor send a packet. It is stopped by its PID at teardown.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bird_daemon import BIRD, BirdDaemon, find, netns_problem
from waiting import wait_for

from birdgen.errors import BirdNotRun, ConfigRejected, ReloadFailed
from birdgen.pipeline import install
from birdgen.reload import CommandReloader, Reloader, SocketReloader
from birdgen.reload.control import (
    MAX_COMMAND_BYTES,
    BirdControl,
    DaemonUnreachable,
    Reply,
    parse_line,
    quotable,
    quote,
)
from birdgen.verify.transaction import Transaction

BIRDC = find("birdc")

BASE = """\
router id 192.0.2.1;
protocol device {}
protocol static svc {
  ipv4;
  route 10.49.0.1/32 blackhole;
}
"""
CHANGED = BASE.replace(
    "route 10.49.0.1/32 blackhole;",
    "route 10.49.0.1/32 blackhole;\n  route 10.49.0.2/32 blackhole;",
)
INVALID = BASE.replace("10.49.0.1/32", "10.49.0.1/33")  # semantic error, line 5
SYNTAX = BASE.replace("protocol static", "protocl static")  # syntax error, line 3


# --- the parser, over a socketpair with canned bytes ----------------------------------------

GREETING = b"0001 BIRD 2.0.12 ready.\n"


def canned(
    *chunks: bytes, timeout: float = 2.0, delay: float = 0.0
) -> tuple[BirdControl, socket.socket]:
    """A BirdControl whose peer sends `chunks` (from a thread, `delay` apart) and nothing more."""
    ours, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def feed() -> None:
        for chunk in chunks:
            peer.sendall(chunk)
            if delay:
                time.sleep(delay)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    ctl = BirdControl.over(ours, timeout)
    return ctl, peer


def sent(peer: socket.socket) -> bytes:
    peer.settimeout(0.5)
    return peer.recv(4096)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("0001 BIRD 2.0.12 ready.", (1, True, "BIRD 2.0.12 ready.")),
        ("0002-Reading configuration from /x", (2, False, "Reading configuration from /x")),
        (" Hostname is vm", (None, False, "Hostname is vm")),
        ("1006-", (1006, False, "")),
        ("0000 ", (0, True, "")),
        ("0000", (0, True, "")),
        ("8002 /x:4:3 syntax error", (8002, True, "/x:4:3 syntax error")),
    ],
)
def test_parse_line(line: str, expected: tuple[int | None, bool, str]) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize("line", ["BIRD ready", "12 x", "00012 x", "", "abcd efg"])
def test_parse_line_rejects_garbage(line: str) -> None:
    with pytest.raises(ReloadFailed, match="unexpected line"):
        parse_line(line)


def test_reply_with_continuations_and_notices_in_the_middle() -> None:
    ctl, peer = canned(
        GREETING,
        b"+Config timeout expired, starting undo\n"  # left over from before the command
        b"1000-BIRD 2.0.12\n"
        b"1011-Router ID is 192.0.2.1\n"
        b" Hostname is vm\n"
        b"+Reconfigured\n"  # a notice between continuation lines
        b" Last reconfiguration on 2026-11-21 06:02:34.172\n"
        b"0013 Daemon is up and running\n",
    )
    with ctl:
        assert ctl.greeting == Reply(1, ("BIRD 2.0.12 ready.",))
        reply = ctl.show_status()
        assert sent(peer) == b"show status\n"
    assert reply.code == 13 and reply.ok and not reply.is_error
    assert reply.lines == (
        "BIRD 2.0.12",
        "Router ID is 192.0.2.1",
        "Hostname is vm",
        "Last reconfiguration on 2026-11-21 06:02:34.172",
        "Daemon is up and running",
    )
    assert reply.notices == ("Config timeout expired, starting undo", "Reconfigured")
    assert ctl.notices == list(reply.notices)
    assert reply.summary == "0013 Daemon is up and running"


def test_reply_split_across_many_reads() -> None:
    data = b"0002-Reading configuration from /etc/bird.conf\n+notice\n0003 Reconfigured\n"
    ctl, _ = canned(GREETING, *[data[i : i + 1] for i in range(len(data))], delay=0.001)
    with ctl:
        reply = ctl.configure("/etc/bird.conf")
    assert reply.summary == "0003 Reconfigured"
    assert reply.lines == ("Reading configuration from /etc/bird.conf", "Reconfigured")
    assert reply.notices == ("notice",)


def test_two_replies_in_one_read_are_kept_apart() -> None:
    ctl, _ = canned(GREETING + b"1007-Table master4:\n 10.49.0.1/32 blackhole\n0000 \n0013 Up\n")
    with ctl:
        first = ctl.command("show route")
        second = ctl.command("show status")
    assert first == Reply(0, ("Table master4:", "10.49.0.1/32 blackhole", ""))
    assert second == Reply(13, ("Up",))


def test_line_overflow_inside_a_successful_reply() -> None:
    # Measured: a reply line longer than BIRD's buffer becomes "8000-<line overflow>".
    ctl, _ = canned(GREETING, b"8000-<line overflow>\n0003 Reconfigured\n")
    with ctl:
        assert ctl.configure("/x").code == 3


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (b"0002-Reading configuration from /x\n0003 Reconfigured\n", 3),
        (b"0002-Reading configuration from /x\n0004 Reconfiguration in progress\n", 4),
        (b"0005 Reconfiguration already in progress, queueing new config\n", 5),
    ],
)
def test_configure_success_codes(answer: bytes, code: int) -> None:
    ctl, peer = canned(GREETING, answer)
    with ctl:
        assert ctl.configure("/x").code == code
        assert sent(peer) == b'configure "/x"\n'


def test_configure_without_path_reloads_the_startup_file() -> None:
    ctl, peer = canned(GREETING, b"0003 Reconfigured\n")
    with ctl:
        ctl.configure()
        assert sent(peer) == b"configure\n"


def test_8002_is_config_rejected_with_birds_message() -> None:
    ctl, _ = canned(
        GREETING,
        b"0002-Reading configuration from /x\n"
        b"8002 /x:4:3 syntax error, unexpected CF_SYM_UNDEFINED\n",
    )
    with ctl, pytest.raises(ConfigRejected) as err:
        ctl.configure("/x")
    assert err.value.detail == "/x:4:3 syntax error, unexpected CF_SYM_UNDEFINED"


def test_other_errors_are_reload_failed() -> None:
    ctl, _ = canned(GREETING, b"9001 syntax error, unexpected CF_SYM_UNDEFINED\n")
    with ctl, pytest.raises(ReloadFailed, match="9001 syntax error"):
        ctl.configure("/x")


def test_silent_daemon_times_out() -> None:
    ctl, _ = canned(GREETING, timeout=0.2)
    start = time.monotonic()
    with ctl, pytest.raises(ReloadFailed, match=r"no answer within 0\.2 s"):
        ctl.show_status()
    assert time.monotonic() - start < 30  # not hung: the 0.2 s timeout fired (load may delay it)


def test_silent_daemon_times_out_before_greeting() -> None:
    with pytest.raises(ReloadFailed, match=r"no answer within 0\.2 s"):
        canned(timeout=0.2)


def test_connection_closed_mid_reply() -> None:
    ctl, peer = canned(GREETING, b"0002-Reading configuration from /x\n")
    with ctl:
        ctl._connected().sendall  # noqa: B018 - connected
        time.sleep(0.05)
        peer.shutdown(socket.SHUT_WR)
        with pytest.raises(ReloadFailed, match="closed the control connection"):
            ctl.configure("/x")


def test_bad_greeting() -> None:
    with pytest.raises(ReloadFailed, match="bad greeting 8003"):
        canned(b"8003 Access denied\n")


def test_overlong_command_is_refused_before_sending() -> None:
    ctl, peer = canned(GREETING)
    with ctl, pytest.raises(ReloadFailed, match="too long"):
        ctl.configure("/" + "x" * MAX_COMMAND_BYTES)
    # The connection is closed now; nothing was sent (BIRD would have dropped the connection).
    assert sent(peer) == b""


def test_quote() -> None:
    assert quote("/etc/bird/my dir/b\\c.conf") == '"/etc/bird/my dir/b\\c.conf"'
    for bad in ['/a"b', "/a\nb", "/a\rb"]:
        assert not quotable(bad)
        with pytest.raises(ReloadFailed, match="double quote"):
            quote(bad)


def test_missing_socket_is_daemon_unreachable(tmp_path: Path) -> None:
    with pytest.raises(DaemonUnreachable, match="No such file or directory"):
        BirdControl(str(tmp_path / "bird.ctl")).connect()


def test_stale_socket_is_daemon_unreachable(tmp_path: Path) -> None:
    # A socket file nobody listens on, as a BIRD that crashed leaves behind.
    path = str(tmp_path / "bird.ctl")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    try:
        with pytest.raises(DaemonUnreachable, match="refused"), BirdControl(path, 1.0):
            pass
    finally:
        stale.close()


# --- a real BIRD ------------------------------------------------------------------------------


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[BirdDaemon]:
    problem = netns_problem()
    if problem:
        pytest.skip(problem)
    conf = tmp_path / "bird.conf"
    conf.write_text(BASE)
    bird = BirdDaemon(tmp_path, conf, str(tmp_path / "b.ctl"))
    try:
        bird.start()
        yield bird
    finally:
        bird.stop()


def test_real_greeting_and_status(daemon: BirdDaemon) -> None:
    with daemon.control() as ctl:
        assert ctl.greeting is not None
        assert ctl.greeting.code == 1
        assert ctl.greeting.message.startswith("BIRD 2.") and ctl.greeting.message.endswith(
            "ready."
        )
        status = ctl.show_status()
    assert status.code == 13 and status.message == "Daemon is up and running"
    assert "Router ID is 192.0.2.1" in status.lines


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SYNTAX, ":3:1 syntax error, unexpected CF_SYM_UNDEFINED"),
        (INVALID, ":5:19 Invalid prefix length 33"),
    ],
)
def test_real_configure_refuses_what_it_cannot_parse_and_keeps_running(
    daemon: BirdDaemon, text: str, message: str
) -> None:
    # What the sidecar relies on to load a candidate without a `configure check` first: BIRD
    # parses the file, refuses it with the message a check would give (8002), and the config
    # it ran stays in force, as if it had never been asked.
    candidate = daemon.dir / "candidate.conf"
    candidate.write_text(CHANGED)
    with daemon.control() as ctl:
        ctl.configure(str(candidate))
    wait_for(lambda: "10.49.0.2/32" in daemon.show_route(), what="the candidate's route")
    candidate.write_text(text)
    with daemon.control() as ctl:
        with pytest.raises(ConfigRejected) as err:
            ctl.configure(str(candidate))
        status = ctl.show_status()
    assert err.value.detail == f"{candidate}{message}"
    assert status.message == "Daemon is up and running"
    routes = daemon.show_route()
    assert "10.49.0.1/32" in routes and "10.49.0.2/32" in routes


def test_real_timed_configure_of_a_refused_file_schedules_no_undo(daemon: BirdDaemon) -> None:
    # The transaction's load, refused: the old config stays, nothing waits to be confirmed or
    # undone, and the transaction never renames the candidate into place.
    candidate = daemon.dir / ".bird.conf.refused1.tmp"
    candidate.write_text(INVALID)
    commits: list[str] = []
    tx = Transaction(daemon.sock, 5)
    tx.admit(daemon.conf, INVALID)
    with pytest.raises(ConfigRejected) as err:
        tx.install(candidate, daemon.conf, lambda: commits.append("commit"), plan=None, text=INVALID)  # type: ignore[arg-type]  # fmt: skip
    assert err.value.detail == f"{candidate}:5:19 Invalid prefix length 33"
    assert commits == [] and daemon.conf.read_text() == BASE
    with daemon.control() as ctl:
        assert ctl.command("configure confirm").summary == "0019 Nothing to do"
    assert "10.49.0.1/32" in daemon.show_route()


def test_real_configure_of_another_file_does_not_change_the_startup_file(
    daemon: BirdDaemon,
) -> None:
    # The sidecar has BIRD load a staged candidate beside the live file, then renames it: a
    # later `configure` without a name (an operator's `birdc configure`, a SIGHUP) must read
    # the file BIRD was started with, not the candidate's name.
    candidate = daemon.dir / "candidate.conf"
    candidate.write_text(CHANGED)
    with daemon.control() as ctl:
        assert ctl.configure(str(candidate)).code in (3, 4)
    wait_for(lambda: "10.49.0.2/32" in daemon.show_route(), what="the candidate's route")
    candidate.unlink()
    with daemon.control() as ctl:
        reply = ctl.configure()
    assert reply.lines[0] == f"Reading configuration from {daemon.conf}"
    wait_for(lambda: "10.49.0.2/32" not in daemon.show_route(), what="the startup file's routes")


def test_real_configure_path_with_space_and_backslash(daemon: BirdDaemon) -> None:
    weird = daemon.dir / "my dir\\x"
    weird.mkdir()
    (weird / "b c.conf").write_text(CHANGED)
    with daemon.control() as ctl:
        assert ctl.configure(str(weird / "b c.conf")).code in (3, 4)
    wait_for(lambda: "10.49.0.2/32" in daemon.show_route(), what="the route of the odd path")


def test_real_configure_applies_changed_config(daemon: BirdDaemon) -> None:
    assert "10.49.0.2/32" not in daemon.show_route()
    new = daemon.dir / "new.conf"
    new.write_text(CHANGED)
    with daemon.control() as ctl:
        reply = ctl.configure(str(new))
    assert reply.code in (3, 4)
    # 0004 means BIRD finishes in the background.
    wait_for(lambda: "10.49.0.2/32" in daemon.show_route(), what="the new route in BIRD")
    assert "10.49.0.1/32" in daemon.show_route()


def test_real_configure_without_path_rereads_startup_file(daemon: BirdDaemon) -> None:
    daemon.conf.write_text(CHANGED)
    with daemon.control() as ctl:
        assert ctl.configure().summary == "0003 Reconfigured"
    assert "10.49.0.2/32" in daemon.show_route()


def test_real_configure_broken_file_keeps_old_config(daemon: BirdDaemon) -> None:
    daemon.conf.write_text(
        INVALID.replace("route 10.49.0.1/33", "route 10.49.0.3/32 blackhole;\n  route 10.49.0.1/33")
    )
    with daemon.control() as ctl:
        with pytest.raises(ConfigRejected, match="Invalid prefix length 33"):
            ctl.configure(str(daemon.conf))
        with pytest.raises(ConfigRejected, match="No such file or directory"):
            ctl.configure(str(daemon.dir / "missing.conf"))
        assert ctl.show_status().code == 13  # the connection is still usable
    routes = daemon.show_route()
    assert "10.49.0.1/32" in routes and "10.49.0.3/32" not in routes


def test_real_notice_arrives_before_next_reply(daemon: BirdDaemon) -> None:
    # `configure ... timeout N` schedules an undo; when it fires BIRD pushes a `+` notice.
    with daemon.control() as ctl:
        reply = ctl.command(f'configure "{daemon.conf}" timeout 1')
        assert reply.lines[-2:] == ("Undo scheduled in 1 s", "Reconfigured")
        statuses = []
        # The undo fires after 1 s; the notice then comes ahead of the next reply.
        wait_for(
            lambda: statuses.append(ctl.show_status()) or statuses[-1].notices,
            what="the undo notice",
            interval=0.05,
        )
        status = statuses[-1]
    assert status.code == 13
    assert status.notices == ("Config timeout expired, starting undo",)


# --- the reloaders ----------------------------------------------------------------------------


def installing(reloader: Reloader, text: str, live: Path) -> str:
    """`text` through the sidecar's write path: staged beside `live`, handed to `reloader`."""
    return install(text, live, lambda c, commit: reloader.install(c, live, commit)).reload_summary


def test_socket_reloader_against_daemon(
    daemon: BirdDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reloader: Reloader = SocketReloader(daemon.sock, bird_binary=BIRD or "bird", timeout=5.0)
    # A relative path is made absolute: BIRD would resolve it against its own cwd.
    monkeypatch.chdir(tmp_path)
    live = Path("bird.conf")
    assert installing(reloader, CHANGED, live) == "0003 Reconfigured"
    assert "10.49.0.2/32" in daemon.show_route() and live.read_text() == CHANGED
    # Refused: BIRD keeps what it ran, the live file keeps its text, no staged file is left.
    with pytest.raises(ConfigRejected, match=r"/\.bird\.conf\.\w{8}\.tmp:5:19 Invalid prefix length 33"):  # fmt: skip
        installing(reloader, INVALID, live)
    assert "10.49.0.2/32" in daemon.show_route() and live.read_text() == CHANGED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.ctl", "bird.conf", "bird.log", "bird.pid"]  # fmt: skip
    daemon.conf.write_text(BASE)
    assert reloader.reload(live) == "0003 Reconfigured"
    assert "10.49.0.2/32" not in daemon.show_route()
    bad = tmp_path / "bad.conf"
    bad.write_text(INVALID)
    with pytest.raises(ConfigRejected):
        reloader.reload(bad)


def test_socket_reloader_loads_the_candidate_before_renaming_it(daemon: BirdDaemon) -> None:
    # One parse: BIRD reads the staged file (the live one still holds the old text), and the
    # rename follows BIRD's answer.
    seen: list[tuple[str, bool]] = []

    def commit() -> None:
        seen.append((daemon.conf.read_text(), "10.49.0.2/32" in daemon.show_route()))

    reloader = SocketReloader(daemon.sock, timeout=5.0)
    candidate = daemon.dir / "candidate.conf"
    candidate.write_text(CHANGED)
    assert reloader.install(candidate, daemon.conf, commit) == "0003 Reconfigured"
    assert seen == [(BASE, True)]
    candidate.write_text(INVALID)
    with pytest.raises(ConfigRejected):
        reloader.install(candidate, daemon.conf, commit)
    assert len(seen) == 1, "a refused candidate is never committed"


def test_socket_reloader_falls_back_to_bird_p_without_daemon(tmp_path: Path) -> None:
    if BIRD is None:
        pytest.skip("BIRD 2 (`bird`) is not installed")
    live = tmp_path / "bird.conf"
    live.write_text(BASE)
    reloader = SocketReloader(tmp_path / "no.ctl", bird_binary=BIRD, timeout=1.0)
    # Checked offline and renamed into place for a BIRD that starts later; the reload fails.
    with pytest.raises(DaemonUnreachable, match="No such file or directory"):
        installing(reloader, CHANGED, live)
    assert live.read_text() == CHANGED
    with pytest.raises(ConfigRejected) as err:
        installing(reloader, INVALID, live)
    assert re.fullmatch(
        r".*/\.bird\.conf\.\w{8}\.tmp:5:19 Invalid prefix length 33", err.value.detail
    )
    assert live.read_text() == CHANGED
    # Proof that the fallback is what answered: with no bird binary it cannot check at all.
    nobird = SocketReloader(tmp_path / "no.ctl", bird_binary=str(tmp_path / "nobird"))
    with pytest.raises(BirdNotRun, match="not found"):
        installing(nobird, BASE, live)
    assert live.read_text() == CHANGED
    with pytest.raises(ReloadFailed, match="No such file or directory"):
        reloader.reload(live)


def test_socket_reloader_checks_unquotable_path_with_bird_p(tmp_path: Path) -> None:
    if BIRD is None:
        pytest.skip("BIRD 2 (`bird`) is not installed")
    odd = tmp_path / 'a"b.conf'
    reloader = SocketReloader(tmp_path / "no.ctl", bird_binary=BIRD)
    with pytest.raises(ConfigRejected, match="Invalid prefix length"):
        installing(reloader, INVALID, odd)
    assert not odd.exists()
    with pytest.raises(ReloadFailed, match="double quote"):
        installing(reloader, BASE, odd)
    assert odd.read_text() == BASE
    with pytest.raises(ReloadFailed, match="double quote"):
        reloader.reload(odd)


def test_command_reloader_with_birdc(daemon: BirdDaemon) -> None:
    if BIRDC is None:
        pytest.skip("birdc is not installed")
    reloader: Reloader = CommandReloader([BIRDC, "-s", daemon.sock, "configure"], timeout=10)
    assert installing(reloader, CHANGED, daemon.conf) == "Reconfigured"
    assert "10.49.0.2/32" in daemon.show_route()
    with pytest.raises(ConfigRejected):
        installing(reloader, INVALID, daemon.conf)
    assert daemon.conf.read_text() == CHANGED, "checked with bird -p before the rename"
    daemon.conf.write_text(INVALID)
    # birdc exits 1 when BIRD answers 8002, and prints the message on stdout.
    with pytest.raises(
        ReloadFailed, match=r"(?s)exited with status 1: .*Invalid prefix length 33$"
    ):
        reloader.reload(daemon.conf)


def test_command_reloader_success_and_failure(tmp_path: Path) -> None:
    ok = CommandReloader([sys.executable, "-c", "print('starting'); print('0003 Reconfigured')"])
    assert ok.reload(tmp_path) == "0003 Reconfigured"
    assert CommandReloader(["true"]).reload(tmp_path) == "true exited 0"
    failing = CommandReloader(
        [
            sys.executable,
            "-c",
            "import sys; print('noise', file=sys.stdout); sys.exit('daemon is down')",
        ]
    )
    with pytest.raises(ReloadFailed, match=r"exited with status 1: daemon is down$"):
        failing.reload(tmp_path)
    with pytest.raises(ReloadFailed, match="not found"):
        CommandReloader([str(tmp_path / "no-such-command")]).reload(tmp_path)
    with pytest.raises(ReloadFailed, match=r"did not finish within 0\.3 s"):
        CommandReloader(["sleep", "30"], timeout=0.3).reload(tmp_path)
    with pytest.raises(ValueError):
        CommandReloader([])
