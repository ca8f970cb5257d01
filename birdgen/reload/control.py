"""A client for BIRD's control socket: the last edge of the pipeline, no `birdc` needed.

Place in the pipeline: render -> write -> **reload**. The sidecar asks the running daemon,
over the UNIX socket `bird -s` listens on, to load a file (`configure "file"`, which parses it
and refuses it, keeping the running config, if it cannot load it), and reads BIRD's answer.

The protocol (measured on BIRD 2.0.12, see docs/bird-facts.md):

    0001 BIRD 2.0.12 ready.             greeting, sent on connect
    DDDD-text                           a reply line; more follow
     text                               (leading space) another line with the previous code
    DDDD text                           the last line of a reply; DDDD is the reply's code
    +text                               an asynchronous notice, may arrive at any time

Codes: 0xxx success, 1xxx/2xxx data, 8xxx runtime or config error, 9xxx command parse error.
Every read is bounded by the timeout, so a daemon that hangs cannot hang the sidecar.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from birdgen.errors import ConfigRejected, ReloadFailed

DEFAULT_TIMEOUT = 10.0

CODE_GREETING = 1
CODE_READING = 2  # 0002 Reading configuration from …
CODE_RECONFIGURED = 3
CODE_IN_PROGRESS = 4  # a protocol restarts or is removed; BIRD finishes it in the background
CODE_QUEUED = 5  # a reconfiguration was running; this config is parsed and will follow it
CODE_CONFIG_ERROR = 8002  # the file could not be read or parsed; the old config stays active
# The codes that mean `configure` was accepted; the new config is (or will become) active.
CONFIGURE_OK = frozenset({CODE_RECONFIGURED, CODE_IN_PROGRESS, CODE_QUEUED})

# BIRD reads commands into a 1024-byte buffer; a line of 1023 bytes or more (with its newline)
# makes it drop the connection with a reset rather than answer, so refuse such commands here.
MAX_COMMAND_BYTES = 1022

_LINE = re.compile(r"(\d{4})([ -]?)(.*)", re.DOTALL)


@dataclass(frozen=True)
class Reply:
    """One complete reply: its final `code` and the text of each line, codes stripped.

    `notices` holds the asynchronous `+` lines (e.g. "Config timeout expired, starting undo")
    that arrived while this reply was being read; they are not part of the reply.
    """

    code: int
    lines: tuple[str, ...]
    notices: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """0xxx: the command succeeded."""
        return 0 <= self.code < 1000

    @property
    def is_error(self) -> bool:
        """8xxx (runtime or config error) or 9xxx (the command itself did not parse)."""
        return 8000 <= self.code < 10000

    @property
    def message(self) -> str:
        """The text of the final line, which carries the reply's verdict."""
        return self.lines[-1] if self.lines else ""

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def summary(self) -> str:
        """A short human summary such as `0003 Reconfigured`."""
        return f"{self.code:04d} {self.message}".rstrip()


def parse_line(line: str) -> tuple[int | None, bool, str]:
    """Classify one protocol line (without its newline) as (code, last, text).

    `code` is None for a continuation line (leading space); `last` says the line ends a reply.
    Notices (`+`) are not handled here. Raises ReloadFailed on anything else.
    """
    if line.startswith(" "):
        return None, False, line[1:]
    m = _LINE.fullmatch(line)
    if m is None:
        raise ReloadFailed(f"unexpected line from BIRD's control socket: {line!r}")
    code, sep, text = m.groups()
    if not sep and text:  # "0000x": four digits must be followed by ' ', '-' or nothing
        raise ReloadFailed(f"unexpected line from BIRD's control socket: {line!r}")
    # A bare "DDDD" (no separator) can only be a final line with empty text.
    return int(code), sep != "-", text


class BirdControl:
    """A connection to a running BIRD's control socket.

    with BirdControl("/run/bird/bird.ctl") as bird:
        print(bird.configure("/etc/bird/bird.conf").summary)

    Paths are sent as given: BIRD resolves a relative path against *its* working directory, and
    reads the file in *its* mount namespace and as *its* user, so pass absolute paths that the
    daemon can see and read.
    """

    def __init__(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self.greeting: Reply | None = None
        self.notices: list[str] = []  # every notice seen on this connection, in order
        self._sock: socket.socket | None = None
        self._buf = b""
        self._pos = 0  # where the next line starts in _buf (a listing is 100,000 lines)

    @classmethod
    def over(cls, sock: socket.socket, timeout: float = DEFAULT_TIMEOUT) -> BirdControl:
        """Speak the protocol over an already connected socket (reads the greeting)."""
        ctl = cls("<socket>", timeout)
        ctl._attach(sock)
        return ctl

    def __enter__(self) -> Self:
        if self._sock is None:
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Connect and read the greeting; raise DaemonUnreachable if nobody listens."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            # No socket file, or a stale one left by a BIRD that died: no daemon is running.
            sock.close()
            raise DaemonUnreachable(
                f"no BIRD answers on control socket {self.path}: {e.strerror}"
            ) from e
        except TimeoutError as e:
            # The socket exists but its backlog is full: a daemon is there but not answering.
            sock.close()
            raise ReloadFailed(
                f"BIRD control socket {self.path}: connect timed out after {self.timeout:g} s"
            ) from e
        except OSError as e:
            sock.close()
            raise ReloadFailed(f"cannot connect to BIRD control socket {self.path}: {e}") from e
        self._attach(sock)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def command(self, text: str) -> Reply:
        """Send one command line and return BIRD's reply, whatever its code."""
        if "\n" in text or "\r" in text:
            raise ReloadFailed(f"a BIRD command is one line: {text!r}")
        data = text.encode() + b"\n"
        if len(data) - 1 > MAX_COMMAND_BYTES:
            raise ReloadFailed(
                f"BIRD command too long ({len(data) - 1} bytes; BIRD accepts {MAX_COMMAND_BYTES})"
            )
        sock = self._connected()
        try:
            sock.sendall(data)
        except TimeoutError as e:
            raise ReloadFailed(f"BIRD control socket {self.path}: send timed out") from e
        except OSError as e:
            raise ReloadFailed(f"BIRD control socket {self.path}: send failed: {e}") from e
        return self._read_reply()

    def show_status(self) -> Reply:
        """`show status`: 0013 Daemon is up and running (or shutting down / reconfiguring)."""
        return self._expect_ok(self.command("show status"), "show status")

    def configure(self, path: str | None = None) -> Reply:
        """Load `path` (or, with None, the file BIRD was started with) as the new config.

        Returns the reply when the config was accepted: 0003 Reconfigured, 0004 in progress or
        0005 queued. Raises ConfigRejected (8002: the old config stays active) or ReloadFailed.
        """
        reply = self.command("configure" if path is None else f"configure {quote(path)}")
        if reply.code in CONFIGURE_OK:
            return reply
        if reply.code == CODE_CONFIG_ERROR:
            raise ConfigRejected(reply.message)
        raise ReloadFailed(f"configure: unexpected reply {reply.summary}")

    # --- protocol ---------------------------------------------------------------------------

    def _attach(self, sock: socket.socket) -> None:
        sock.settimeout(self.timeout)
        self._sock = sock
        self._buf, self._pos = b"", 0
        try:
            greeting = self._read_reply()
        except BaseException:
            self.close()
            raise
        if greeting.code != CODE_GREETING:
            self.close()
            raise ReloadFailed(f"BIRD control socket {self.path}: bad greeting {greeting.summary}")
        self.greeting = greeting

    def _connected(self) -> socket.socket:
        if self._sock is None:
            raise ReloadFailed("not connected to BIRD's control socket")
        return self._sock

    def _read_reply(self) -> Reply:
        lines: list[str] = []
        notices: list[str] = []
        while True:
            line = self._read_line()
            if line.startswith("+"):
                notices.append(line[1:])
                self.notices.append(line[1:])
                continue
            code, last, text = parse_line(line)
            lines.append(text)
            if last and code is not None:
                return Reply(code, tuple(lines), tuple(notices))

    def _read_line(self) -> str:
        sock = self._connected()
        while (end := self._buf.find(b"\n", self._pos)) < 0:
            try:
                chunk = sock.recv(65536)
            except TimeoutError as e:
                raise ReloadFailed(
                    f"BIRD control socket {self.path}: no answer within {self.timeout:g} s"
                ) from e
            except OSError as e:
                raise ReloadFailed(f"BIRD control socket {self.path}: read failed: {e}") from e
            if not chunk:
                raise ReloadFailed(
                    f"BIRD closed the control connection {self.path} in the middle of a reply"
                )
            # Keep only the unread tail: slicing it off after every line would copy the whole
            # buffer once per line.
            self._buf, self._pos = self._buf[self._pos :] + chunk, 0
        raw, self._pos = self._buf[self._pos : end], end + 1
        # Paths in replies are bytes to BIRD; never fail on a name that isn't UTF-8.
        return raw.decode("utf-8", errors="replace")

    def _expect_ok(self, reply: Reply, what: str) -> Reply:
        if not reply.ok:
            raise ReloadFailed(f"{what}: {reply.summary}")
        return reply


class DaemonUnreachable(ReloadFailed):
    """Nothing listens on the control socket (no socket file, or connection refused)."""


def quotable(path: str) -> bool:
    """Whether `path` can be sent as a BIRD string literal.

    BIRD 2.0.12 reads a string as `"[^"\\n]*"` with no escapes (a backslash is a literal
    backslash), so a double quote or a line break cannot be expressed at all.
    """
    return not any(c in path for c in '"\n\r\0')


def quote(path: str) -> str:
    """`path` as a BIRD string literal; ReloadFailed if it cannot be one (see `quotable`)."""
    if not quotable(path):
        raise ReloadFailed(
            f"cannot name {path!r} to BIRD: its command strings cannot contain a double quote, "
            "a line break or a NUL"
        )
    return f'"{path}"'
