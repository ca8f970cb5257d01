"""Typed helpers over `ip netns`, veth pairs, bridges, addresses and routes.

Safety rules this module enforces by construction:

* every link, address, route and sysctl is changed with `ip -n NS ...` or `ip netns exec NS ...`
  for a namespace this process created, never in the root namespace;
* namespace names carry a random per-run suffix (`bg-1a2b3c-tor`) and a `NamespaceRegistry`
  deletes exactly the namespaces it created, nothing matched by pattern;
* every subprocess call has a timeout, and every wait is bounded (`wait_until`);
* long-running processes are started through `Namespace.popen`, which remembers them so
  they can be stopped by PID (SIGTERM, then SIGKILL after a bounded wait).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
NAME_PREFIX = "bg-"
# Linux limits interface names to IFNAMSIZ - 1 characters.
IFNAME_MAX = 15


class LabError(Exception):
    """The lab could not be built or driven (as opposed to an assertion about routing)."""


class CommandError(LabError):
    """A command exited non-zero or timed out; the message always includes its stderr."""

    def __init__(
        self, argv: Sequence[str], returncode: int | None, stdout: str, stderr: str, note: str = ""
    ) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        status = "timed out" if returncode is None else f"exited {returncode}"
        detail = stderr.strip() or stdout.strip() or "(no output)"
        extra = f" ({note})" if note else ""
        super().__init__(f"{' '.join(self.argv)}: {status}{extra}: {detail}")


class WaitTimeout(TimeoutError):
    """`wait_until` gave up; says what it waited for and the last value it saw."""

    def __init__(self, what: str, timeout: float, last: object) -> None:
        self.what = what
        self.timeout = timeout
        self.last = last
        super().__init__(f"timed out after {timeout:g}s waiting for {what}; last seen: {last!r}")


def run_cmd(
    argv: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` with a timeout; on failure (if `check`) raise `CommandError` with stderr."""
    try:
        proc = subprocess.run(
            list(argv),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=None if env is None else dict(env),
        )
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.stdout)
        err = _text(exc.stderr)
        raise CommandError(argv, None, out, err, note=f"after {timeout:g}s") from exc
    except FileNotFoundError as exc:
        raise CommandError(argv, 127, "", str(exc)) from exc
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    ok: Callable[[T], bool] = bool,
    ignore: tuple[type[Exception], ...] = (),
) -> T:
    """Call `predicate` until `ok(value)` holds, then return that value.

    Raises `WaitTimeout` (a `TimeoutError`) naming `what` and the last value observed once
    `timeout` seconds have passed. Exceptions of the types in `ignore` count as "not yet" and
    are reported as the last value, so e.g. a socket that does not exist yet can be polled.
    """
    deadline = time.monotonic() + timeout
    last: object = "<never evaluated>"
    while True:
        try:
            value = predicate()
        except ignore as exc:
            last = exc
        else:
            if ok(value):
                return value
            last = value
        if time.monotonic() >= deadline:
            raise WaitTimeout(what, timeout, last)
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def stop_process(proc: subprocess.Popen[Any], *, grace: float = 5.0) -> int | None:
    """Stop one process we started, by PID: SIGTERM, bounded wait, then SIGKILL.

    Returns its exit status, or None if it could not be reaped (should not happen).
    """
    if proc.poll() is not None:
        return proc.returncode
    try:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return proc.poll()
    try:
        proc.kill()
        return proc.wait(timeout=grace)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        return proc.poll()


def normalize_prefix(dst: str, family: int) -> str:
    """`ip -j route` writes host routes without a length and 0/0 as "default"; undo both."""
    if dst == "default":
        return "0.0.0.0/0" if family == 4 else "::/0"
    return str(ipaddress.ip_network(dst, strict=False))


def route_gateways(route: Mapping[str, Any]) -> set[str]:
    """The gateway addresses of one `ip -j route` entry, single-path or multipath."""
    hops: Iterable[Mapping[str, Any]] = route.get("nexthops") or [route]
    return {str(h["gateway"]) for h in hops if "gateway" in h}


@dataclass
class Namespace:
    """One network namespace this process created; runs commands and processes inside it."""

    name: str
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
        input_text: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside the namespace (`ip netns exec`), bounded by `timeout`."""
        return run_cmd(
            ["ip", "netns", "exec", self.name, *argv],
            timeout=timeout,
            check=check,
            input_text=input_text,
            env=env,
        )

    def ip(self, *args: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Run `ip -n NAME ARGS` (cheaper than `ip netns exec ... ip`); returns stdout."""
        return run_cmd(["ip", "-n", self.name, *args], timeout=timeout).stdout

    def ip_json(self, *args: str, timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
        """Run `ip -j -n NAME ARGS` and parse the JSON list it prints."""
        out = run_cmd(["ip", "-j", "-n", self.name, *args], timeout=timeout).stdout.strip()
        if not out:
            return []
        data = json.loads(out)
        if not isinstance(data, list):
            raise LabError(f"ip -j {' '.join(args)} in {self.name}: expected a list, got {data!r}")
        return [d for d in data if isinstance(d, dict)]

    def popen(
        self,
        argv: Sequence[str],
        *,
        stdout: IO[Any] | int | None = subprocess.DEVNULL,
        stderr: IO[Any] | int | None = subprocess.STDOUT,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[Any]:
        """Start a long-running process inside the namespace and remember it.

        `ip netns exec` execs the command after entering the namespace, so the PID we get is
        the process itself and stopping it by PID is exact. A new session keeps a Ctrl-C at
        the terminal from reaching it before our own teardown runs in order.
        """
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.name, *argv],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=None if env is None else dict(env),
            start_new_session=True,
        )
        self.processes.append(proc)
        return proc

    def stop_processes(self, *, grace: float = 5.0) -> None:
        """Stop every process started with `popen`, newest first, by PID."""
        for proc in reversed(self.processes):
            stop_process(proc, grace=grace)
        self.processes.clear()

    def pids(self) -> list[int]:
        """PIDs of every process living in this namespace (`ip netns pids`)."""
        out = run_cmd(["ip", "netns", "pids", self.name], check=False).stdout
        return [int(p) for p in out.split() if p.isdigit()]

    def sysctl(self, key: str, value: str | int) -> None:
        """Set a sysctl inside the namespace (net.* sysctls are per namespace)."""
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    def enable_forwarding(self) -> None:
        """Route between interfaces, for both families."""
        self.sysctl("net.ipv4.ip_forward", 1)
        self.sysctl("net.ipv6.conf.all.forwarding", 1)

    def disable_dad(self) -> None:
        """Skip IPv6 duplicate address detection so addresses are usable at once.

        Set on `default` before links are created (so new links, and their link-local
        addresses, inherit it) and on `all`; `add_address` also passes `nodad`.
        """
        self.sysctl("net.ipv6.conf.default.accept_dad", 0)
        self.sysctl("net.ipv6.conf.all.accept_dad", 0)

    def link_up(self, dev: str) -> None:
        self.ip("link", "set", "dev", dev, "up")

    def add_address(self, dev: str, cidr: str) -> None:
        """Add a v4 or v6 address; v6 ones with `nodad` so they are not "tentative"."""
        iface = ipaddress.ip_interface(cidr)
        extra = ["nodad"] if iface.version == 6 else []
        self.ip("addr", "add", str(iface), "dev", dev, *extra)

    def add_route(self, dst: str, *args: str, family: int | None = None) -> None:
        """`ip -4|-6 route replace DST ARGS`; the family comes from DST unless it is "default"."""
        if family is None:
            if dst == "default":
                raise ValueError("pass family=4 or family=6 for a default route")
            family = ipaddress.ip_network(dst, strict=False).version
        self.ip(f"-{family}", "route", "replace", dst, *args)

    def create_bridge(self, name: str) -> None:
        """A bridge inside this namespace, forwarding at once (no STP, no snooping)."""
        _check_ifname(name)
        # STP off: ports forward immediately. Multicast snooping off: with no querier on the
        # segment, snooping can stop flooding IPv6 neighbour solicitations to some ports.
        self.ip(
            "link",
            "add",
            "name",
            name,
            "type",
            "bridge",
            "stp_state",
            "0",
            "mcast_snooping",
            "0",
        )
        self.link_up(name)

    def routes(self, family: int = 4, table: str = "main") -> list[dict[str, Any]]:
        """`ip -j -4|-6 route show table TABLE`, parsed; `dst` normalized to a CIDR."""
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        routes = self.ip_json(f"-{family}", "route", "show", "table", table)
        for r in routes:
            if "dst" in r:
                r["dst"] = normalize_prefix(str(r["dst"]), family)
        return routes

    def route_for(self, prefix: str, table: str = "main") -> dict[str, Any] | None:
        """The unicast route for exactly `prefix` in `table`, or None."""
        net = ipaddress.ip_network(prefix, strict=False)
        for r in self.routes(net.version, table):
            if r.get("dst") == str(net) and r.get("type", "unicast") == "unicast":
                return r
        return None


def _check_ifname(name: str) -> None:
    if not name or len(name) > IFNAME_MAX or "/" in name or " " in name:
        raise LabError(f"invalid interface name {name!r} (1..{IFNAME_MAX} chars, no / or space)")


def add_veth(a: Namespace, a_if: str, b: Namespace, b_if: str) -> None:
    """A veth pair with one end in each namespace, both up.

    Created inside `a` with its peer placed straight into `b`, so neither end ever
    exists in the root namespace (where its name could collide with a real interface).
    """
    _check_ifname(a_if)
    _check_ifname(b_if)
    a.ip("link", "add", "name", a_if, "type", "veth", "peer", "name", b_if, "netns", b.name)
    a.link_up(a_if)
    b.link_up(b_if)


def attach_to_bridge(ns: Namespace, dev: str, bridge: str) -> None:
    ns.ip("link", "set", "dev", dev, "master", bridge)
    ns.link_up(dev)


def list_namespaces() -> list[str]:
    """Names from `ip netns list` (for checks; never used to choose what to delete)."""
    out = run_cmd(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


class NamespaceRegistry:
    """Creates namespaces named `bg-<6 hex>-<role>` and deletes exactly those it created."""

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id or secrets.token_hex(3)
        self.created: dict[str, Namespace] = {}

    def name_for(self, role: str) -> str:
        return f"{NAME_PREFIX}{self.run_id}-{role}"

    def create(self, role: str) -> Namespace:
        """Create the namespace for `role`, bring its `lo` up, and register it."""
        if not role or "/" in role or " " in role:
            raise LabError(f"invalid namespace role {role!r}")
        name = self.name_for(role)
        if name in self.created:
            raise LabError(f"namespace {name} already created in this run")
        run_cmd(["ip", "netns", "add", name])
        ns = Namespace(name)
        # Register before anything else can fail, so cleanup still finds it.
        self.created[name] = ns
        ns.link_up("lo")
        return ns

    def delete_all(self, *, grace: float = 5.0) -> list[str]:
        """Stop our processes, then delete our namespaces; idempotent. Returns problems seen."""
        problems: list[str] = []
        for ns in list(self.created.values()):
            try:
                ns.stop_processes(grace=grace)
            except Exception as exc:  # keep going: the other namespaces still need cleanup
                problems.append(f"{ns.name}: stopping processes: {exc}")
        for name, ns in list(self.created.items()):
            try:
                _kill_leftovers(ns, grace)
                res = run_cmd(["ip", "netns", "del", name], check=False)
                if res.returncode != 0 and name in list_namespaces():
                    problems.append(f"{name}: ip netns del: {res.stderr.strip()}")
                    continue
            except Exception as exc:
                problems.append(f"{name}: {exc}")
                continue
            del self.created[name]
        return problems


def _kill_leftovers(ns: Namespace, grace: float) -> None:
    """Kill, by PID, processes still inside a namespace of ours.

    Only our own commands can be in it (its random name was made this run), e.g. a child
    some daemon forked. A namespace is not destroyed while a process still lives in it, so
    deleting the name alone would leak it.
    """
    pids = [p for p in ns.pids() if p != os.getpid()]
    if not pids:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.05)
        pids = [p for p in pids if _alive(p)]
        if not pids:
            return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def is_root() -> bool:
    return os.geteuid() == 0


def netns_supported() -> tuple[bool, str]:
    """Whether we can create a namespace here; the reason when not (for test skips)."""
    if not is_root():
        return False, "needs root to create network namespaces"
    probe = NamespaceRegistry()
    try:
        probe.create("probe")
    except LabError as exc:
        return False, f"`ip netns add` failed: {exc}"
    finally:
        probe.delete_all()
    return True, ""


def read_tail(path: Path, limit: int = 4000) -> str:
    """The last `limit` characters of a log file, for error messages."""
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""
