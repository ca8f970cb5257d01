"""The walkthrough "Advertising Kubernetes Service IPs with Calico and BGP", driven step by step.

Shared by the end-to-end tests (tests/e2e/test_walkthrough.py) and `birdgen lab`. It starts from
the walkthrough's manifests (examples/walkthrough/*.yaml) and derives each step's manifests with
small pure functions (`set_traffic_policy`, `use_external_ips`, `place_endpoints`, `add_ipv6`),
renders every node's bird.conf with the real pipeline (`render_objects`), and starts or reloads
the nodes' BIRD daemons in a `Lab`. A reload is always `birdc configure`, never a restart, since
that is what birdgen does in production and what "no session resets" is about.

A `Step` names one state of the cluster; `expected_tor_routes` says what the walkthrough promises
the ToR's kernel holds in that state, so the lab command can wait for convergence before it
prints the routing table. The tests spell their expectations out literally instead.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from birdgen.lab.bird import BirdDaemon
from birdgen.lab.netns import CommandError, LabError, is_root, wait_until
from birdgen.lab.topology import HttpServer, Lab, lab_available
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.sources import files

RawObject = dict[str, Any]

# The walkthrough's numbers.
CLUSTER_RANGE = "10.49.0.0/16"
SERVICE_IP = "10.49.62.131"
EXTERNAL_RANGE = "192.168.3.0/24"
EXTERNAL_IP = "192.168.3.180"
# IPv6 counterparts chosen for the lab: a /112 cluster range and nginx's second cluster IP.
CLUSTER_RANGE6 = "fd00:49::/112"
SERVICE_IP6 = "fd00:49::83"

SERVICE_NAME = ("default", "nginx")
NODES = ("node-1", "node-2", "node-3")

# Every prefix the walkthrough talks about; `expected_tor_routes` says where each must be.
WATCHED_PREFIXES = (
    CLUSTER_RANGE,
    f"{SERVICE_IP}/32",
    EXTERNAL_RANGE,
    f"{EXTERNAL_IP}/32",
    CLUSTER_RANGE6,
    f"{SERVICE_IP6}/128",
)


def default_manifests_dir() -> Path:
    """examples/walkthrough in the source tree this package runs from."""
    return Path(__file__).resolve().parents[2] / "examples" / "walkthrough"


def load_base(directory: Path | None = None) -> list[RawObject]:
    """The walkthrough's manifests, as raw objects."""
    path = directory or default_manifests_dir()
    if not path.is_dir():
        raise LabError(f"walkthrough manifests not found at {path} (pass the directory explicitly)")
    objects = files.load([str(path)])
    if not all(isinstance(obj, dict) for obj in objects):
        # JSON gives typed documents, which the variants below cannot edit.
        raise LabError(
            f"{path}: the walkthrough's manifests are edited as they are: give them as YAML"
        )
    return cast(list[RawObject], objects)


# --- manifest variants: pure functions, raw objects in, new raw objects out -------------------


def _find(objects: Iterable[RawObject], kind: str, name: str | None = None) -> list[RawObject]:
    return [
        o
        for o in objects
        if o.get("kind") == kind and (name is None or o.get("metadata", {}).get("name") == name)
    ]


def _one(objects: Iterable[RawObject], kind: str, name: str) -> RawObject:
    found = _find(objects, kind, name)
    if len(found) != 1:
        raise LabError(f"expected exactly one {kind} {name!r} in the manifests, found {len(found)}")
    return found[0]


def _nginx_slices(objects: Iterable[RawObject]) -> list[RawObject]:
    ns, svc = SERVICE_NAME
    return [
        o
        for o in _find(objects, "EndpointSlice")
        if o.get("metadata", {}).get("namespace", "default") == ns
        and o.get("metadata", {}).get("labels", {}).get("kubernetes.io/service-name") == svc
    ]


def set_traffic_policy(objects: Sequence[RawObject], policy: str) -> list[RawObject]:
    """nginx with `externalTrafficPolicy: POLICY` ("Cluster" or "Local")."""
    out = copy.deepcopy(list(objects))
    _one(out, "Service", SERVICE_NAME[1])["spec"]["externalTrafficPolicy"] = policy
    return out


def use_external_ips(
    objects: Sequence[RawObject], cidr: str = EXTERNAL_RANGE, ip: str = EXTERNAL_IP
) -> list[RawObject]:
    """The walkthrough's second half: the BGPConfiguration advertises `serviceExternalIPs`
    instead of `serviceClusterIPs`, and nginx gets `externalIPs: [IP]`."""
    out = copy.deepcopy(list(objects))
    spec = _one(out, "BGPConfiguration", "default")["spec"]
    spec.pop("serviceClusterIPs", None)
    spec["serviceExternalIPs"] = [{"cidr": cidr}]
    _one(out, "Service", SERVICE_NAME[1])["spec"]["externalIPs"] = [ip]
    return out


def _pod_ip(node: str, family: int) -> str:
    # One made-up pod address per node, in the pod CIDR the walkthrough uses (10.48.0.0/16);
    # only the nodeName matters to birdgen, the address just has to be well-formed.
    idx = NODES.index(node) if node in NODES else 99
    return f"10.48.{idx}.{5 + idx}" if family == 4 else f"fd00:48::{idx}:{5 + idx}"


def place_endpoints(
    objects: Sequence[RawObject], nodes: Sequence[str], not_ready: Sequence[str] = ()
) -> list[RawObject]:
    """nginx's ready endpoints on exactly `nodes`, plus not-ready ones on `not_ready` (in every
    address family's slice).

    An empty `nodes` keeps the slices but with no ready endpoint, which is what Kubernetes
    leaves behind when the last pod goes away.
    """
    out = copy.deepcopy(list(objects))
    for sl in _nginx_slices(out):
        family = 6 if sl.get("addressType") == "IPv6" else 4
        old = {
            ep.get("nodeName"): ep.get("addresses", [])
            for ep in sl.get("endpoints") or []
            if isinstance(ep, dict)
        }
        sl["endpoints"] = [
            {
                "addresses": old.get(n) or [_pod_ip(n, family)],
                "nodeName": n,
                "conditions": {"ready": ready},
            }
            for n, ready in [*((n, True) for n in nodes), *((n, False) for n in not_ready)]
        ]
    return out


def add_ipv6(
    objects: Sequence[RawObject],
    node_ipv6: Mapping[str, str],
    tor_ipv6: str,
    *,
    cluster_range6: str = CLUSTER_RANGE6,
    service_ip6: str = SERVICE_IP6,
) -> list[RawObject]:
    """Dual stack: IPv6 node addresses, a BGPPeer for the ToR's IPv6 address, a v6 cluster
    range, and nginx as a RequireDualStack Service with an IPv6 EndpointSlice mirroring the
    IPv4 one. `node_ipv6` maps node name to its address with prefix length ("fd00:1::11/64")."""
    out = copy.deepcopy(list(objects))
    for node in _find(out, "Node"):
        name = node["metadata"]["name"]
        if name in node_ipv6:
            node["metadata"].setdefault("annotations", {})["projectcalico.org/IPv6Address"] = (
                node_ipv6[name]
            )
    peer4 = _one(out, "BGPPeer", "tor")
    peer6 = copy.deepcopy(peer4)
    peer6["metadata"]["name"] = "tor-v6"
    peer6["spec"]["peerIP"] = tor_ipv6
    out.append(peer6)
    spec = _one(out, "BGPConfiguration", "default")["spec"]
    spec["serviceClusterIPs"] = [*spec.get("serviceClusterIPs", []), {"cidr": cluster_range6}]
    svc = _one(out, "Service", SERVICE_NAME[1])["spec"]
    svc["clusterIPs"] = [svc["clusterIP"], service_ip6]
    svc["ipFamilies"] = ["IPv4", "IPv6"]
    svc["ipFamilyPolicy"] = "RequireDualStack"
    for sl in _nginx_slices(out):
        if sl.get("addressType", "IPv4") != "IPv4":
            continue
        v6 = copy.deepcopy(sl)
        v6["metadata"]["name"] = f"{sl['metadata']['name']}-v6"
        v6["addressType"] = "IPv6"
        v6["endpoints"] = [
            {**ep, "addresses": [_pod_ip(ep["nodeName"], 6)]} for ep in sl.get("endpoints") or []
        ]
        out.append(v6)
    return out


# --- steps --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One state of the walkthrough's cluster, as the manifests describe it."""

    title: str = "serviceClusterIPs: 10.49.0.0/16, nginx externalTrafficPolicy: Local"
    policy: str = "Local"
    external: bool = False  # serviceExternalIPs + nginx externalIPs instead of serviceClusterIPs
    endpoints: tuple[str, ...] = ("node-1", "node-2")  # nodes with a ready nginx endpoint
    not_ready: tuple[str, ...] = ()  # nodes with an nginx endpoint that is not ready
    ipv6: bool = False

    def but(self, title: str, **changes: Any) -> Step:
        return replace(self, title=title, **changes)


BASE = Step()


def step_manifests(base: Sequence[RawObject], step: Step, lab: Lab) -> list[RawObject]:
    """The walkthrough's manifests changed as `step` says."""
    objects = set_traffic_policy(base, step.policy)
    objects = place_endpoints(objects, step.endpoints, step.not_ready)
    if step.ipv6:
        prefix6 = lab.lan6.prefixlen
        objects = add_ipv6(
            objects,
            {n: f"{lab.node_addresses[n][1]}/{prefix6}" for n in lab.node_names},
            lab.tor_ipv6,
        )
    if step.external:
        objects = use_external_ips(objects)
    return objects


def expected_tor_routes(step: Step, lab: Lab) -> dict[str, set[str]]:
    """What the walkthrough says the ToR's kernel holds in `step`: every watched prefix
    mapped to its next hops (empty when it must be absent).

    Written from the walkthrough's rules, not from birdgen's plan, so the lab command waits
    for what an operator expects rather than for whatever birdgen happens to do.
    """
    v4 = {n: lab.node_addresses[n][0] for n in lab.node_names}
    v6 = {n: lab.node_addresses[n][1] for n in lab.node_names}
    want = {p: set[str]() for p in WATCHED_PREFIXES}
    # Per-service routes only exist for Local services, only via nodes with a ready endpoint.
    local4 = {v4[n] for n in step.endpoints} if step.policy == "Local" else set()
    local6 = {v6[n] for n in step.endpoints} if step.policy == "Local" else set()
    if step.external:
        want[EXTERNAL_RANGE] = set(v4.values())
        want[f"{EXTERNAL_IP}/32"] = local4
    else:
        want[CLUSTER_RANGE] = set(v4.values())
        want[f"{SERVICE_IP}/32"] = local4
        if step.ipv6:
            want[CLUSTER_RANGE6] = set(v6.values())
            want[f"{SERVICE_IP6}/128"] = local6
    return want


# --- driving a lab ------------------------------------------------------------------------------


class Walkthrough:
    """The walkthrough's cluster on a `Lab`: a ToR plus one birdgen-configured BIRD per node."""

    def __init__(self, lab: Lab, base: Sequence[RawObject] | None = None) -> None:
        self.lab = lab
        self.base = list(base) if base is not None else load_base()
        self.step: Step | None = None  # what the nodes were last configured for
        self.configs: dict[str, str] = {}
        self.servers: list[HttpServer] = []

    @property
    def tor(self) -> BirdDaemon:
        return self.lab.birds["tor"]

    def render(self, node: str, step: Step) -> str:
        """bird.conf for `node` in `step`, exactly as `birdgen render --node NODE` makes it."""
        objects = step_manifests(self.base, step, self.lab)
        return render_objects(objects, Environment.from_mapping(node, {})).text

    def start(self, step: Step = BASE, *, timeout: float = 30.0) -> None:
        """Start the ToR and every node's BIRD with `step`'s configs; wait for the sessions."""
        self.lab.start_tor()
        for node in self.lab.node_names:
            text = self.render(node, step)
            self.lab.start_node_bird(node, text)
            self.configs[node] = text
        self.step = step
        self.wait_sessions(step, timeout=timeout)

    def wait_sessions(self, step: Step, *, timeout: float = 30.0) -> None:
        """The ToR's sessions to every node Established (IPv6 ones too when `step.ipv6`)."""
        names = [p for p in self.lab.tor_protocols() if step.ipv6 or p.endswith("_v4")]
        self.tor.wait_established(names, timeout=timeout)

    def apply(self, step: Step) -> dict[str, str]:
        """Re-render every node for `step` and `birdc configure` those whose config changed.

        Returns BIRD's answer per reloaded node.
        """
        answers: dict[str, str] = {}
        for node in self.lab.node_names:
            text = self.render(node, step)
            if self.configs.get(node) == text:
                continue
            answers[node] = self.lab.birds[node].reload(text)
            self.configs[node] = text
        self.step = step
        return answers

    def wait_tor(self, expected: Mapping[str, set[str]], *, timeout: float = 15.0) -> None:
        """Wait (bounded) until the ToR's kernel routes the given prefixes exactly so."""

        def now() -> dict[str, set[str]]:
            return {p: self.lab.tor_routes(p) for p in expected}

        wait_until(
            now,
            timeout=timeout,
            interval=0.2,
            what=f"ToR kernel routes {dict(expected)}",
            ok=lambda got: got == dict(expected),
        )

    def converge(self, step: Step, *, timeout: float = 15.0) -> None:
        """Apply `step` and wait until the ToR's kernel shows what the walkthrough promises."""
        self.apply(step)
        self.wait_tor(expected_tor_routes(step, self.lab), timeout=timeout)

    def bgp_sessions(self) -> dict[str, tuple[str, str]]:
        """Every BGP protocol of every daemon ("tor/node_1_v4", "node-1/Global_192_168_1_1")
        -> (BGP state, since). `since` only changes when the session goes down or up, so two
        equal snapshots around a reload mean no session was reset."""
        out: dict[str, tuple[str, str]] = {}
        for key, bird in self.lab.birds.items():
            for name, row in bird.protocol_table().items():
                if row.proto == "BGP":
                    out[f"{key}/{name}"] = (row.bgp_state or row.state, row.since)
        return out

    # --- traffic ----------------------------------------------------------------------------

    def serve(self, ip: str, nodes: Iterable[str]) -> list[HttpServer]:
        """Serve HTTP on `ip` on each of `nodes`, standing in for kube-proxy there."""
        started = [self.lab.serve_http(n, ip) for n in nodes]
        self.servers += started
        return started

    def serve_on(self, ip: str, node: str, *, iface: str) -> HttpServer:
        """Serve HTTP on `ip` on `node`, the address held on `iface` (e.g. "lo")."""
        server = self.lab.serve_http(node, ip, iface=iface)
        self.servers.append(server)
        return server

    def stop_serving(self) -> None:
        for server in self.servers:
            self.lab.stop_http(server)
        self.servers.clear()

    def get(self, ip: str, *, timeout: float = 5.0) -> str:
        """GET http://IP/ from the external namespace; the body (the answering node's name)."""
        host = f"[{ip}]" if ipaddress.ip_address(ip).version == 6 else ip
        return self.lab.http_get(f"http://{host}/", timeout=timeout)

    def get_fails(self, ip: str, *, timeout: float = 2.0) -> bool:
        """Whether GET http://IP/ from the external namespace fails within `timeout`."""
        try:
            self.get(ip, timeout=timeout)
        except CommandError:
            return True
        return False

    def tor_ip_route(self, family: int = 4) -> str:
        """`ip route` (or `ip -6 route`) in the ToR namespace, as an operator would type it
        (minus the trailing blanks `ip` leaves on every line)."""
        text = self.lab.namespace("tor").ip(f"-{family}", "route")
        return "\n".join(line.rstrip() for line in text.splitlines())


# --- the operator's lab ------------------------------------------------------------------------


def operator_steps(ipv6: bool = False) -> list[Step]:
    """The walkthrough, in order, as `birdgen lab` shows it."""
    first = BASE.but(
        "serviceClusterIPs: 10.49.0.0/16, nginx with externalTrafficPolicy: Cluster",
        policy="Cluster",
        ipv6=ipv6,
    )
    local = first.but(
        "nginx gets externalTrafficPolicy: Local (its endpoints are on node-1 and node-2)",
        policy="Local",
    )
    external = local.but(
        "BGPConfiguration switched to serviceExternalIPs: 192.168.3.0/24, "
        "nginx gets externalIPs: [192.168.3.180]",
        external=True,
    )
    return [first, local, external]


def run_walkthrough(
    out: Callable[[str], None],
    *,
    ipv6: bool = False,
    pause: Callable[[], None] | None = None,
    manifests: Path | None = None,
) -> None:
    """Build the lab, walk through the steps printing the ToR's routes, then tear down.

    Each step re-renders every node's bird.conf from the changed manifests and reloads BIRD
    with `birdc configure`; the ToR's table is printed once it shows what the walkthrough
    promises (bounded wait). `pause`, if given, is called before teardown while the lab is
    still up. Raises `LabError` when the lab cannot be built here (not root, no netns, no
    BIRD) and `WaitTimeout` when routes do not converge; the lab is torn down either way.
    """
    if not is_root():
        raise LabError("needs root: it creates network namespaces and runs BIRD in them")
    ok, reason = lab_available()
    if not ok:
        raise LabError(reason)
    base = load_base(manifests)
    steps = operator_steps(ipv6)
    with Lab(NODES) as lab:
        walk = Walkthrough(lab, base)
        out('# The walkthrough "Advertising Kubernetes Service IPs with Calico and BGP", live.')
        out(f"# namespaces: {' '.join(lab.namespace_names())}")
        nodes = ", ".join(f"{n} {lab.node_addresses[n][0]}" for n in lab.node_names)
        out(f"# ToR {lab.tor_ipv4} (BIRD, AS {lab.asn}, ECMP); {nodes}; client {lab.ext_ipv4}")
        out("# Each node runs BIRD with the config `birdgen render --node NAME` makes.")
        walk.start(steps[0])
        for number, step in enumerate(steps, start=1):
            walk.converge(step)
            out("")
            out(f"## {number}. {step.title}")
            _show_cmd(out, "ip route", "on the ToR")
            out(walk.tor_ip_route(4))
            if step.ipv6:
                _show_cmd(out, "ip -6 route", "on the ToR")
                out(walk.tor_ip_route(6))
            if step.policy != "Local":
                continue
            # The nodes with endpoints serve HTTP on the Service IPs, standing in for
            # kube-proxy; the client's request crosses the ToR's ECMP route.
            ips = [SERVICE_IP, *([SERVICE_IP6] if step.ipv6 and not step.external else [])]
            if step.external:
                ips.append(EXTERNAL_IP)
            for ip in ips:
                if not any(s.ip == ip for s in walk.servers):
                    walk.serve(ip, step.endpoints)
                _show_http(out, walk, ip)
        if pause is not None:
            pause()
    out("")
    out("# torn down: BIRD daemons and HTTP servers stopped, namespaces deleted")


def _show_cmd(out: Callable[[str], None], cmd: str, where: str) -> None:
    out(f"$ {cmd:<30}# {where}")


def _show_http(out: Callable[[str], None], walk: Walkthrough, ip: str) -> None:
    host = f"[{ip}]" if ":" in ip else ip
    _show_cmd(out, f"curl http://{host}/", "from the external client")
    try:
        out(f"{walk.get(ip, timeout=3).strip()}   (answered by that node)")
    except CommandError:
        out("curl: no answer: the ToR has no route to it")
