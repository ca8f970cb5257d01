"""`Lab`: the walkthrough topology ("Advertising Kubernetes Service IPs with Calico and BGP").

    ext (192.168.2.2, fd00:2::2)
     | eth0                                         one namespace each; the bridge lives in
     | ext0                                         the "sw" namespace, never in the root one
    tor (192.168.2.1 / 192.168.1.1, fd00:2::1 / fd00:1::1)   BIRD, AS 64512, ECMP to kernel
     | lan0
    sw: br0 ---- p1 ---- eth0 node-1 (192.168.1.11, fd00:1::11)
            ---- p2 ---- eth0 node-2 (192.168.1.12, fd00:1::12)
            ---- p3 ---- eth0 node-3 (192.168.1.13, fd00:1::13)

Nodes and the client have static default routes to the ToR, so traffic from `ext` to a
Service IP goes ext -> ToR -> (ECMP) node, and replies come back the same way. Node BIRD
configs come from the caller (they are what birdgen renders).

`Lab` is a context manager. Teardown stops every process it started (by PID), deletes every
namespace it created and removes its work directory; it is idempotent and also runs on a
failing `with` body, KeyboardInterrupt, interpreter exit (atexit) and SIGTERM.
"""

from __future__ import annotations

import atexit
import ipaddress
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from birdgen.lab.bird import BirdDaemon
from birdgen.lab.netns import (
    CommandError,
    LabError,
    Namespace,
    NamespaceRegistry,
    add_veth,
    attach_to_bridge,
    read_tail,
    route_gateways,
    run_cmd,
    stop_process,
    wait_until,
)
from birdgen.lab.tor import TorNeighbor, tor_config, tor_protocol_names

DEFAULT_NODES = ("node-1", "node-2", "node-3")
# Where Service IPs live on a node, as with kube-proxy in IPVS mode (see `Lab.serve_http`).
IPVS_IFACE = "kube-ipvs0"
ASN = 64512

# One ICMP echo request over a raw socket, answered within a second -> exit 0.
_PING_PY = """
import os, socket, struct, sys, time
dst = sys.argv[1]
v6 = ":" in dst
ident = os.getpid() & 0xFFFF
if v6:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    pkt = struct.pack("!BBHHH", 128, 0, 0, ident, 1) + b"birdgen"  # kernel fills checksum
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"birdgen\\0"
    c = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    c = (c >> 16) + (c & 0xFFFF)
    c = ~(c + (c >> 16)) & 0xFFFF
    pkt = hdr[:2] + struct.pack("!H", c) + hdr[4:]
s.settimeout(1.0)
s.sendto(pkt, (dst, 0))
end = time.monotonic() + 1.0
while time.monotonic() < end:
    try:
        data, addr = s.recvfrom(2048)
    except socket.timeout:
        break
    off = 0 if v6 else (data[0] & 0x0F) * 4
    want = 129 if v6 else 0
    got_id = struct.unpack("!H", data[off + 4:off + 6])[0]
    if addr[0] == dst and data[off] == want and got_id == ident:
        sys.exit(0)
sys.exit(1)
"""

# A tiny HTTP server answering every GET with a fixed body. Not `python -m http.server`:
# its server_bind() calls socket.getfqdn(), a reverse DNS lookup that stalls for seconds in a
# namespace with no resolver reachable.
_HTTP_PY = """
import http.server, socket, socketserver, sys
ip, port, body = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    allow_reuse_address = True
    daemon_threads = True
Server((ip, port), Handler).serve_forever()
"""

_SignalHandler = Callable[[int, types.FrameType | None], Any] | int | signal.Handlers | None


@dataclass(frozen=True)
class LabNode:
    """A node namespace and its addresses on the node LAN."""

    name: str
    ns: Namespace
    ipv4: str
    ipv6: str
    iface: str = "eth0"


@dataclass(frozen=True)
class HttpServer:
    node: str
    ip: str
    port: int
    proc: subprocess.Popen[Any]

    @property
    def url(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"http://{host}:{self.port}/"


class Lab:
    """Build the topology on `__enter__`, tear it down on `__exit__` (or `close()`)."""

    def __init__(
        self,
        nodes: Sequence[str] = DEFAULT_NODES,
        *,
        asn: int = ASN,
        lan4: str = "192.168.1.0/24",
        lan6: str = "fd00:1::/64",
        ext4: str = "192.168.2.0/24",
        ext6: str = "fd00:2::/64",
        workdir: Path | None = None,
        keep_workdir: bool = False,
        run_id: str | None = None,
    ) -> None:
        if not nodes or len(set(nodes)) != len(nodes):
            raise ValueError(f"need one or more distinct node names, got {list(nodes)!r}")
        if len(nodes) > 200:
            raise ValueError("at most 200 nodes (addresses are .11 upwards in one /24)")
        self.node_names = tuple(nodes)
        self.asn = asn
        self.lan4 = ipaddress.IPv4Network(lan4)
        self.lan6 = ipaddress.IPv6Network(lan6)
        self.ext4 = ipaddress.IPv4Network(ext4)
        self.ext6 = ipaddress.IPv6Network(ext6)
        # The walkthrough's numbering: the router is .1 / ::1, nodes .11, .12, ...
        self.tor_ipv4 = str(self.lan4.network_address + 1)
        self.tor_ipv6 = str(self.lan6.network_address + 1)
        self.tor_ext_ipv4 = str(self.ext4.network_address + 1)
        self.tor_ext_ipv6 = str(self.ext6.network_address + 1)
        self.ext_ipv4 = str(self.ext4.network_address + 2)
        self.ext_ipv6 = str(self.ext6.network_address + 2)
        self.node_addresses = {
            name: (
                str(self.lan4.network_address + 11 + i),
                str(self.lan6.network_address + 0x11 + i),
            )
            for i, name in enumerate(self.node_names)
        }
        self.registry = NamespaceRegistry(run_id)
        self._workdir_arg = workdir
        self._keep_workdir = keep_workdir
        self.workdir: Path | None = None
        self.tor: Namespace | None = None
        self.switch: Namespace | None = None
        self.ext: Namespace | None = None
        self.nodes: dict[str, LabNode] = {}
        self.birds: dict[str, BirdDaemon] = {}
        self.http_servers: list[HttpServer] = []
        self._closed = True
        self._prev_sigterm: _SignalHandler = None
        self._sigterm_installed = False

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> Lab:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> Lab:
        """Build everything; on any failure (or interrupt) tear down what was built."""
        if not self._closed:
            raise LabError("lab already open")
        self._closed = False
        atexit.register(self.close)
        self._install_sigterm()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> list[str]:
        """Stop our processes, delete our namespaces and work directory; idempotent.

        Returns the problems met (also printed to stderr), so a caller can assert on them.
        """
        if self._closed:
            return []
        self._closed = True
        # Hold off SIGINT/SIGTERM until teardown is complete: a second Ctrl-C or a SIGTERM
        # arriving mid-teardown would otherwise abort it and leak namespaces. They are
        # delivered (to the restored handlers) as soon as the mask is lifted below.
        masked = threading.current_thread() is threading.main_thread()
        old_mask = (
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            if masked
            else set()
        )
        problems: list[str] = []
        try:
            for bird in list(self.birds.values()):
                try:
                    bird.stop()
                except Exception as exc:  # keep tearing down; report at the end
                    problems.append(f"{bird.name} in {bird.ns.name}: {exc}")
            self.birds.clear()
            self.http_servers.clear()
            problems += self.registry.delete_all()
            if self.workdir is not None and not self._keep_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
            self._restore_sigterm()
            atexit.unregister(self.close)
            for p in problems:
                print(f"birdgen lab teardown: {p}", file=sys.stderr)
        finally:
            if masked:
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        return problems

    def _install_sigterm(self) -> None:
        # Signal handlers can only be set from the main thread; elsewhere we rely on the
        # context manager and atexit alone.
        if threading.current_thread() is not threading.main_thread():
            return
        self._prev_sigterm = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        self._sigterm_installed = True

    def _restore_sigterm(self) -> None:
        if self._sigterm_installed and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._prev_sigterm)
            self._sigterm_installed = False

    def _on_sigterm(self, signum: int, frame: types.FrameType | None) -> None:
        prev = self._prev_sigterm
        self.close()
        if callable(prev):
            prev(signum, frame)
        elif prev == signal.SIG_IGN:
            return
        # Default disposition: exit as if killed by SIGTERM, unwinding `with` blocks.
        raise SystemExit(128 + signum)

    # --- building -------------------------------------------------------------------------

    def _build(self) -> None:
        if self._workdir_arg is not None:
            self.workdir = Path(self._workdir_arg)
            self.workdir.mkdir(parents=True, exist_ok=True)
        else:
            # Short path under /tmp: BIRD control sockets must fit in 107 bytes.
            self.workdir = Path(tempfile.mkdtemp(prefix=f"bg-{self.registry.run_id}-"))
        reg = self.registry

        self.tor = tor = reg.create("tor")
        self.switch = sw = reg.create("sw")
        self.ext = ext = reg.create("ext")
        node_ns = {name: reg.create(name) for name in self.node_names}
        for ns in (tor, sw, ext, *node_ns.values()):
            # Before any link exists, so every new interface inherits "no DAD".
            ns.disable_dad()
        # The switch only bridges; it must not answer or route anything itself.
        sw.sysctl("net.ipv6.conf.all.disable_ipv6", 1)
        sw.create_bridge("br0")

        # ToR <-> switch, ToR <-> ext.
        add_veth(tor, "lan0", sw, "p0")
        attach_to_bridge(sw, "p0", "br0")
        add_veth(tor, "ext0", ext, "eth0")
        tor.enable_forwarding()
        tor.add_address("lan0", f"{self.tor_ipv4}/{self.lan4.prefixlen}")
        tor.add_address("lan0", f"{self.tor_ipv6}/{self.lan6.prefixlen}")
        tor.add_address("ext0", f"{self.tor_ext_ipv4}/{self.ext4.prefixlen}")
        tor.add_address("ext0", f"{self.tor_ext_ipv6}/{self.ext6.prefixlen}")

        ext.add_address("eth0", f"{self.ext_ipv4}/{self.ext4.prefixlen}")
        ext.add_address("eth0", f"{self.ext_ipv6}/{self.ext6.prefixlen}")
        ext.add_route("default", "via", self.tor_ext_ipv4, family=4)
        ext.add_route("default", "via", self.tor_ext_ipv6, family=6)

        for i, name in enumerate(self.node_names, start=1):
            ns = node_ns[name]
            v4, v6 = self.node_addresses[name]
            port = f"p{i}"
            add_veth(ns, "eth0", sw, port)
            attach_to_bridge(sw, port, "br0")
            ns.add_address("eth0", f"{v4}/{self.lan4.prefixlen}")
            ns.add_address("eth0", f"{v6}/{self.lan6.prefixlen}")
            # Static defaults to the ToR so replies to `ext` find their way back.
            ns.add_route("default", "via", self.tor_ipv4, family=4)
            ns.add_route("default", "via", self.tor_ipv6, family=6)
            self.nodes[name] = LabNode(name, ns, v4, v6)

        # Bounded sanity check that the LAN forwards before anyone starts BGP on it.
        first = self.nodes[self.node_names[0]]
        self.ping(first.name, self.tor_ipv4)
        self.ping(first.name, self.tor_ipv6)

    # --- handles ------------------------------------------------------------------------

    def namespace(self, role: str) -> Namespace:
        """The namespace for "tor", "ext", "sw" or a node name."""
        fixed = {"tor": self.tor, "ext": self.ext, "sw": self.switch}
        ns = fixed.get(role) or (self.nodes[role].ns if role in self.nodes else None)
        if ns is None:
            raise LabError(f"no namespace {role!r} in this lab (is it open?)")
        return ns

    def node(self, name: str) -> LabNode:
        try:
            return self.nodes[name]
        except KeyError:
            raise LabError(f"no node {name!r}; nodes are {sorted(self.nodes)}") from None

    def _dir(self, sub: str) -> Path:
        if self.workdir is None:
            raise LabError("lab is not open")
        d = self.workdir / sub
        d.mkdir(parents=True, exist_ok=True)
        return d

    # --- BIRD -----------------------------------------------------------------------------

    def tor_neighbors(
        self,
        nodes: Sequence[str] | None = None,
        *,
        password: str | None = None,
        ttl_security: bool = False,
    ) -> list[TorNeighbor]:
        chosen = self.node_names if nodes is None else tuple(nodes)
        return [
            TorNeighbor(n, self.node(n).ipv4, self.node(n).ipv6, password, ttl_security)
            for n in chosen
        ]

    def tor_config(
        self,
        nodes: Sequence[str] | None = None,
        *,
        password: str | None = None,
        ttl_security: bool = False,
        passive: bool = False,
    ) -> str:
        return tor_config(
            router_id=self.tor_ipv4,
            asn=self.asn,
            local_ipv4=self.tor_ipv4,
            local_ipv6=self.tor_ipv6,
            neighbors=self.tor_neighbors(nodes, password=password, ttl_security=ttl_security),
            passive=passive,
        )

    def start_tor(
        self,
        nodes: Sequence[str] | None = None,
        *,
        password: str | None = None,
        ttl_security: bool = False,
        passive: bool = False,
        config: str | None = None,
    ) -> BirdDaemon:
        """Start the ToR's BIRD (peering with `nodes`, default all) or with `config` as is."""
        text = (
            config
            if config is not None
            else self.tor_config(
                nodes, password=password, ttl_security=ttl_security, passive=passive
            )
        )
        return self._start_bird("tor", self.namespace("tor"), text)

    def tor_protocols(self, nodes: Sequence[str] | None = None) -> list[str]:
        """The ToR's BGP protocol names for `nodes` (default all), e.g. `node_1_v4`."""
        return tor_protocol_names(self.tor_neighbors(nodes))

    def start_node_bird(self, name: str, config_text: str | Path) -> BirdDaemon:
        """Start BIRD with the caller's config (birdgen's output) in node `name`."""
        return self._start_bird(name, self.node(name).ns, config_text)

    def _start_bird(self, key: str, ns: Namespace, config: str | Path) -> BirdDaemon:
        old = self.birds.get(key)
        if old is not None and old.running():
            raise LabError(f"BIRD already running for {key}")
        if old is not None:
            old.stop()  # it died; release its log file before starting afresh
        bird = BirdDaemon(ns, config, self._dir(key), name="bird")
        self.birds[key] = bird
        return bird

    def stop_http(self, server: HttpServer) -> None:
        """Stop one HTTP server started by `serve_http` (by PID); its address stays put."""
        stop_process(server.proc)
        ns = self.node(server.node).ns
        if server.proc in ns.processes:
            ns.processes.remove(server.proc)
        if server in self.http_servers:
            self.http_servers.remove(server)

    def stop_bird(self, key: str) -> None:
        bird = self.birds.pop(key, None)
        if bird is not None:
            bird.stop()

    # --- routes ---------------------------------------------------------------------------

    def tor_routes(self, prefix: str) -> set[str]:
        """The ToR kernel's next-hop gateways for exactly `prefix` (empty if no route)."""
        route = self.namespace("tor").route_for(prefix)
        return route_gateways(route) if route is not None else set()

    def wait_tor_routes(
        self, prefix: str, expected: set[str], *, timeout: float = 15.0
    ) -> set[str]:
        """Wait (bounded) until the ToR routes `prefix` via exactly `expected`."""
        return wait_until(
            lambda: self.tor_routes(prefix),
            timeout=timeout,
            interval=0.2,
            what=f"ToR kernel route {prefix} via {sorted(expected)}",
            ok=lambda got: got == expected,
        )

    def node_routes(self, node: str, family: int = 4) -> list[dict[str, Any]]:
        return self.node(node).ns.routes(family)

    # --- traffic --------------------------------------------------------------------------

    def ping(self, from_ns: str, ip: str, *, timeout: float = 5.0) -> None:
        """ICMP echo from a lab namespace until one is answered (bounded by `timeout`).

        Uses a raw socket from Python rather than `ping(8)`, which is not always installed.
        """
        ns = self.namespace(from_ns)
        argv = [sys.executable, "-c", _PING_PY, ip]
        wait_until(
            lambda: ns.run(argv, timeout=3, check=False),
            timeout=timeout,
            interval=0.1,
            what=f"ICMP echo reply from {ip} to {ns.name}",
            ok=lambda res: res.returncode == 0,
        )

    def serve_http(
        self,
        node: str,
        ip: str,
        *,
        port: int = 80,
        timeout: float = 10.0,
        iface: str = IPVS_IFACE,
    ) -> HttpServer:
        """Make `ip` local on the node (as kube-proxy/IPVS does) and serve the node name on it.

        The address goes on the node's `iface` as a /32 or /128: by default `kube-ipvs0`,
        where kube-proxy in IPVS mode puts Service IPs, so the node accepts packets for it;
        the ToR reaches it through the BGP next hop (the node's LAN address), never by ARP/ND
        for the Service IP itself. `iface="lo"` holds it where an LB agent or a DSR setup
        would, in sight of BIRD's `protocol direct`. The server answers every GET with
        "<node>\n".
        """
        lab_node = self.node(node)
        if iface == IPVS_IFACE:
            self._ensure_ipvs_iface(lab_node)
        self.hold_address(node, ip, iface)
        addr = ipaddress.ip_address(ip)
        logpath = self._dir("http") / f"{node}-{addr}-{port}.log".replace(":", "_")
        log = logpath.open("ab")
        try:
            proc = lab_node.ns.popen(
                [sys.executable, "-c", _HTTP_PY, str(addr), str(port), f"{node}\n"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()  # the child has its own copy of the descriptor
        server = HttpServer(node, str(addr), port, proc)
        self.http_servers.append(server)
        needle = f"[{addr}]:{port}" if addr.version == 6 else f"{addr}:{port}"

        def listening() -> bool:
            if proc.poll() is not None:
                raise LabError(
                    f"http server on {node} exited ({proc.returncode}): {read_tail(logpath)}"
                )
            out = lab_node.ns.run(["ss", "-Hltn"], timeout=5).stdout
            return any(needle in line.split()[3:4] for line in out.splitlines() if line.split())

        wait_until(
            listening, timeout=timeout, interval=0.05, what=f"http server {needle} on {node}"
        )
        return server

    def hold_address(self, node: str, ip: str, iface: str) -> None:
        """Put `ip` on the node's `iface` as a /32 or /128, unless it is there already."""
        ns = self.node(node).ns
        addr = ipaddress.ip_address(ip)
        existing = ns.ip_json("addr", "show", "dev", iface)
        if str(addr) not in {a.get("local") for i in existing for a in i.get("addr_info", [])}:
            ns.add_address(iface, f"{addr}/{32 if addr.version == 4 else 128}")

    def release_address(self, node: str, ip: str, iface: str) -> None:
        """Take `ip` off the node's `iface` again (no error if it is not there)."""
        addr = ipaddress.ip_address(ip)
        plen = 32 if addr.version == 4 else 128
        self.node(node).ns.run(["ip", "addr", "del", f"{addr}/{plen}", "dev", iface], check=False)

    @staticmethod
    def _ensure_ipvs_iface(lab_node: LabNode) -> None:
        """Create the node's `kube-ipvs0` once. kube-proxy uses a dummy link; kernels without
        the dummy driver (it is a module, and CI images often lack it) do have veth, so this
        is a veth pair with both ends in the node and both names matching "kube-ipvs*"."""
        links = {link.get("ifname") for link in lab_node.ns.ip_json("link", "show")}
        if IPVS_IFACE in links:
            return
        lab_node.ns.ip(
            "link", "add", "name", IPVS_IFACE, "type", "veth", "peer", "name", f"{IPVS_IFACE}p"
        )
        lab_node.ns.link_up(f"{IPVS_IFACE}p")
        lab_node.ns.link_up(IPVS_IFACE)

    def http_get(self, url: str, *, from_ns: str = "ext", timeout: float = 5.0) -> str:
        """GET `url` from inside a lab namespace (default the external client); the body."""
        ns = self.namespace(from_ns)
        if shutil.which("curl"):
            # --noproxy: a proxy from the environment is not reachable from the lab.
            argv = [
                "curl",
                "-sS",
                "--fail",
                "-g",
                "--noproxy",
                "*",
                "--max-time",
                f"{timeout:g}",
                url,
            ]
        else:
            code = (
                "import sys, urllib.request as u;"
                "o = u.build_opener(u.ProxyHandler({}));"
                "sys.stdout.write(o.open(sys.argv[1], timeout=float(sys.argv[2]))"
                ".read().decode())"
            )
            argv = [sys.executable, "-c", code, url, f"{timeout:g}"]
        return ns.run(argv, timeout=timeout + 5).stdout

    # --- inspection -----------------------------------------------------------------------

    def namespace_names(self) -> list[str]:
        return sorted(self.registry.created)

    def pids(self) -> list[int]:
        """PIDs of the processes this lab started and still holds."""
        return [p.pid for ns in self.registry.created.values() for p in ns.processes]


# Every program the lab runs, with the Debian package that has it. `curl` is used when present
# (a Python GET stands in for it) and `unshare` comes with util-linux, which Debian always has.
LAB_TOOLS = {
    "ip": "iproute2",
    "ss": "iproute2",
    "sysctl": "procps",
    "bird": "bird2",
    "birdc": "bird2",
}


def missing_tools(path: str | None = None) -> dict[str, str]:
    """The lab's programs not found on `path` (default $PATH), with their Debian packages."""
    return {tool: pkg for tool, pkg in LAB_TOOLS.items() if shutil.which(tool, path=path) is None}


def lab_available(path: str | None = None) -> tuple[bool, str]:
    """Whether a lab can be built here (root, `ip netns add`, every program in LAB_TOOLS);
    else why not, naming every missing program and the packages that have them."""
    from birdgen.lab.netns import netns_supported

    missing = missing_tools(path)
    if missing:
        packages = " ".join(dict.fromkeys(missing.values()))
        return False, (
            f"not installed: {', '.join(missing)} (on Debian: apt-get install {packages})"
        )
    try:
        run_cmd(["bird", "--version"], timeout=5)
    except CommandError as exc:
        return False, f"bird does not run: {exc}"
    return netns_supported()
