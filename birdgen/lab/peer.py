"""One node's BIRD and the eBGP peer its plan names, each in a namespace, joined by a veth.

The smallest lab that shows what a node's config makes BIRD send a peer: the node runs the
config birdgen rendered, the peer (a plain BIRD that imports everything and exports nothing)
answers the plan's one IPv4 session. The addresses are the plan's own: the node's BGP address
and the peer's, on one veth, in the smallest subnet that holds both. Used by the end-to-end
test of what one change sends (tests/e2e/test_one_update.py) and by bench/verify_bench.py.

    with NodeAndPeer(rendered.text, rendered.plan, workdir) as lab:
        lab.node.birdc("configure")
        lab.peer_session().channels[0].changes  # what the peer was sent, counted by BIRD
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from birdgen.lab.bird import BirdDaemon
from birdgen.lab.netns import LabError, NamespaceRegistry, add_veth
from birdgen.plan import NodePlan
from birdgen.reload.show import Protocol, parse_protocols

PEER_PROTOCOL = "node"  # the peer's name for its session to the node


def peer_config(peer_ip: str, peer_as: int, node_ip: str, node_as: int) -> str:
    # Short connect timers: the session comes up in a second, not after BIRD's 5 s default.
    return f"""router id {peer_ip};
protocol device {{}}
protocol bgp {PEER_PROTOCOL} {{
  local {peer_ip} as {peer_as};
  neighbor {node_ip} as {node_as};
  connect delay time 1; connect retry time 1;
  ipv4 {{ import all; export none; }};
}}
"""


def shared_subnet(a: str, b: str) -> int:
    """The longest prefix length whose subnet holds both addresses (IPv4)."""
    for length in range(31, 0, -1):
        if ipaddress.ip_address(b) in ipaddress.ip_network(f"{a}/{length}", strict=False):
            return length
    raise LabError(f"{a} and {b} share no IPv4 subnet")


class NodeAndPeer:
    """The node's BIRD on `config` and the peer of `plan`'s one IPv4 session, started on
    entry (`start_timeout` bounds each daemon's start: a config of 100,000 routes takes a
    while); on exit, or when starting fails, both stopped by PID and both namespaces deleted."""

    def __init__(
        self, config: str, plan: NodePlan, workdir: Path, *, start_timeout: float = 10.0
    ) -> None:
        if plan.v4.address is None or len(plan.v4.sessions) != 1:
            raise LabError("the node's plan must have an IPv4 address and one IPv4 session")
        [self.session] = plan.v4.sessions
        self.node_ip, self.peer_ip = str(plan.v4.address), str(self.session.peer_ip)
        self.peer_conf = peer_config(self.peer_ip, self.session.peer_as, self.node_ip,
                                     plan.local_as)  # fmt: skip
        self.config, self.workdir, self.start_timeout = config, workdir, start_timeout
        self.registry = NamespaceRegistry()

    def __enter__(self) -> NodeAndPeer:
        try:
            node_ns, peer_ns = self.registry.create("node"), self.registry.create("peer")
            add_veth(node_ns, "eth0", peer_ns, "eth0")
            length = shared_subnet(self.node_ip, self.peer_ip)
            node_ns.add_address("eth0", f"{self.node_ip}/{length}")
            peer_ns.add_address("eth0", f"{self.peer_ip}/{length}")
            self.node = BirdDaemon(node_ns, self.config, self.workdir / "node",
                                   start_timeout=self.start_timeout)  # fmt: skip
            self.peer = BirdDaemon(peer_ns, self.peer_conf, self.workdir / "peer")
        except BaseException:
            self.registry.delete_all()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for bird in (getattr(self, "peer", None), getattr(self, "node", None)):
            if bird is not None:
                bird.stop()
        self.registry.delete_all()

    def node_session(self) -> Protocol:
        """The node's side of the session, as `show protocols all` shows it."""
        return _session(self.node, self.session.name)

    def peer_session(self) -> Protocol:
        """The peer's side of the session."""
        return _session(self.peer, PEER_PROTOCOL)


def _session(bird: BirdDaemon, protocol: str) -> Protocol:
    shown = parse_protocols(bird.birdc(f"show protocols all {protocol}"))
    if protocol not in shown:
        raise LabError(f"{bird.name} in {bird.ns.name}: no protocol {protocol}")
    return shown[protocol]
