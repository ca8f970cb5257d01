"""A BIRD 2 daemon running inside a lab namespace, driven through birdc.

The daemon runs in the foreground (`bird -f`) inside the namespace, so the PID we hold is
BIRD itself and stopping it is a signal to that PID. Its control socket is a file in the
daemon's work directory on the shared filesystem, so `birdc -s SOCK` works from any
namespace, the root one included: it only talks over that unix socket.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from birdgen.lab.netns import (
    CommandError,
    LabError,
    Namespace,
    WaitTimeout,
    read_tail,
    run_cmd,
    stop_process,
    wait_until,
)
from birdgen.reload.show import parse_protocols

BIRD = "bird"
BIRDC = "birdc"
# sockaddr_un.sun_path is 108 bytes including the terminating NUL.
SUN_PATH_MAX = 107


class BirdError(LabError):
    """BIRD refused a config, died, or did not answer."""


@dataclass(frozen=True)
class ProtocolStatus:
    """One row of `show protocols`."""

    name: str
    proto: str
    table: str
    state: str  # "up", "down", "start", ...
    since: str
    info: str  # for BGP: "Established", "Active  Socket: Connection refused", ...

    @property
    def bgp_state(self) -> str:
        """The BGP FSM state (first word of Info), or "" for non-BGP protocols."""
        if self.proto != "BGP":
            return ""
        return self.info.split()[0] if self.info else ""


def parse_show_protocols(text: str) -> dict[str, ProtocolStatus]:
    """Parse `birdc show protocols` output into rows keyed by protocol name (the parser is
    birdgen's own, `birdgen.reload.show`, which reads the control socket's replies)."""
    return {
        name: ProtocolStatus(p.name, p.proto, p.table, p.state, p.since, p.info)
        for name, p in parse_protocols(text).items()
    }


class BirdDaemon:
    """`bird -f -c CONF -s SOCK -P PID` inside `ns`, with files in `workdir`.

    `config` is the config text (str) or a file to copy (Path). The config is checked with
    `bird -p` before the daemon starts, so a syntax error is reported as BIRD's message
    rather than as "the control socket never appeared".
    """

    def __init__(
        self,
        ns: Namespace,
        config: str | Path,
        workdir: Path,
        *,
        name: str = "bird",
        start_timeout: float = 10.0,
    ) -> None:
        self.ns = ns
        self.name = name
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf = self.workdir / f"{name}.conf"
        self.sock = self.workdir / f"{name}.ctl"
        self.pidfile = self.workdir / f"{name}.pid"
        self.log = self.workdir / f"{name}.log"
        if len(os.fsencode(self.sock)) > SUN_PATH_MAX:
            raise BirdError(f"control socket path too long for a unix socket: {self.sock}")
        text = config.read_text() if isinstance(config, Path) else config
        self.check_config(text)
        self.conf.write_text(text)
        self._log_fh: IO[Any] | None = self.log.open("ab")
        self.proc: subprocess.Popen[Any] | None = None
        try:
            self.proc = ns.popen(
                [BIRD, "-f", "-c", str(self.conf), "-s", str(self.sock), "-P", str(self.pidfile)],
                stdout=self._log_fh,
                stderr=subprocess.STDOUT,
            )
            self._wait_ready(start_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_config(self, text: str) -> None:
        """`bird -p` on `text`; raises `BirdError` with BIRD's complaint if it is rejected."""
        candidate = self.workdir / f"{self.name}.candidate.conf"
        candidate.write_text(text)
        try:
            # Run inside the namespace too: parsing never touches the network, but keeping
            # every bird invocation in the lab namespace makes that obvious.
            self.ns.run([BIRD, "-p", "-c", str(candidate)], timeout=10)
        except CommandError as exc:
            raise BirdError(
                f"{self.name} in {self.ns.name}: BIRD rejected the config: {exc.stderr.strip()}"
            ) from exc
        finally:
            candidate.unlink(missing_ok=True)

    def _wait_ready(self, timeout: float) -> None:
        def ready() -> bool:
            if not self.running():
                code = self.proc.returncode if self.proc is not None else None
                raise BirdError(
                    f"{self.name} in {self.ns.name} exited ({code}) before its control socket "
                    f"answered; log:\n{read_tail(self.log)}"
                )
            if not self.sock.exists():
                return False
            return self.birdc("show status", timeout=2).find("Daemon is up") >= 0

        try:
            wait_until(
                ready,
                timeout=timeout,
                interval=0.05,
                what=f"{self.name} control socket {self.sock}",
                ignore=(CommandError,),
            )
        except WaitTimeout as exc:
            raise BirdError(f"{exc}; log:\n{read_tail(self.log)}") from exc

    def birdc(self, cmd: str, *, timeout: float = 5.0) -> str:
        """Run one birdc command (`birdc -s SOCK CMD`) and return its output."""
        # birdc joins its arguments with spaces, so one argv element holding the whole
        # command line is equivalent to splitting it (and keeps quoted filters intact).
        return run_cmd([BIRDC, "-s", str(self.sock), cmd], timeout=timeout).stdout

    def protocol_table(self) -> dict[str, ProtocolStatus]:
        return parse_show_protocols(self.birdc("show protocols"))

    def protocols(self) -> dict[str, str]:
        """Protocol name -> state: the BGP state ("Established", "Active", ...) for BGP
        protocols, the State column ("up", "down", ...) for the others."""
        return {
            name: (row.bgp_state or row.state) if row.proto == "BGP" else row.state
            for name, row in self.protocol_table().items()
        }

    def wait_established(self, names: Iterable[str], *, timeout: float = 30.0) -> dict[str, str]:
        """Wait (bounded) until every named BGP protocol is Established; returns the states."""
        wanted = sorted(set(names))

        def states() -> dict[str, str]:
            if not self.running():
                raise BirdError(f"{self.name} in {self.ns.name} died; log:\n{read_tail(self.log)}")
            current = self.protocols()
            return {n: current.get(n, "<no such protocol>") for n in wanted}

        return wait_until(
            states,
            timeout=timeout,
            interval=0.2,
            what=f"{self.name}: BGP sessions {', '.join(wanted)} Established",
            ok=lambda s: all(v == "Established" for v in s.values()),
            ignore=(CommandError,),
        )

    def reload(self, new_config: str | Path, *, timeout: float = 10.0) -> str:
        """Check and write the new config, then `birdc configure`; returns birdc's answer."""
        text = new_config.read_text() if isinstance(new_config, Path) else new_config
        self.check_config(text)
        self.conf.write_text(text)
        out = self.birdc("configure", timeout=timeout)
        # birdc exits 0 even when BIRD refuses; the text is the only signal.
        if "Reconfigured" not in out and "Reconfiguration in progress" not in out:
            raise BirdError(f"{self.name} in {self.ns.name}: configure failed: {out.strip()}")
        return out

    def show_route(self, args: str = "") -> str:
        return self.birdc(f"show route {args}".strip())

    def stop(self, *, grace: float = 5.0) -> None:
        """SIGTERM by PID, SIGKILL after `grace` seconds; idempotent."""
        if self.proc is not None:
            stop_process(self.proc, grace=grace)
            if self.proc in self.ns.processes:
                self.ns.processes.remove(self.proc)
            self.proc = None
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        self.sock.unlink(missing_ok=True)

    def __enter__(self) -> BirdDaemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"BirdDaemon({self.name!r}, ns={self.ns.name!r}, pid={self.pid})"
