"""Generate a synthetic cluster's manifests for benchmarking birdgen (deterministic for a seed).

Writes what `kubectl get -o yaml` / `-o json` dumps of a large cluster look like: Kubernetes v1
Nodes carrying calico-node's `projectcalico.org/IPv4Address` annotation, the Calico
BGPConfiguration `default` and one global BGPPeer (the ToR), Services of every type and
EndpointSlices (up to 100 endpoints each, a few endpoints not ready), with the metadata a real
API server adds (uids, resourceVersions, timestamps, ownerReferences, targetRefs, ports), since
that bulk is what a loader has to get through.

Two shapes:

* `--preset cluster` (default): N nodes, S Services, E endpoints spread over the nodes.
  Services are 75% ClusterIP (3% of them headless, 2% with an externalIP), 4% NodePort,
  20% LoadBalancer, 1% ExternalName; `--local-share` of the externally reachable ones
  (NodePort, LoadBalancer, with externalIPs) set `externalTrafficPolicy: Local`. Endpoint counts
  per Service are skewed (log-normal: most have a few, some have hundreds), 2% of the Services
  have none, and ~2% of endpoints are not ready. `--all-local-on NODE` gives every Local
  Service a ready endpoint on NODE (the worst case for that node).
* `--preset routes`: the node `--all-local-on` (default node-0001) advertises `--routes` /32s:
  `routes/2` LoadBalancer Services with `externalTrafficPolicy: Local` and
  `allocateLoadBalancerNodePorts: false`, each with a cluster IP and a load-balancer ingress IP
  and two ready endpoints, one on that node. Calico advertises both addresses of a Local
  Service as /32s from every node that has a ready endpoint, so that node originates
  `routes` /32s. (50,000 Local LoadBalancer Services on one node is an upper bound, not a
  typical node; it is the stress case for planning and rendering.)

Files (a handful of large ones, as a dump is): 00-calico, 10-nodes, 20-services,
30-endpointslices, each `.yaml` (multi-document, kubectl's layout) or `.json` (a kubectl-style
`kind: List`, 4-space indent).

    python bench/gen_cluster.py --nodes 1000 --services 20000 --endpoints 100000 --out DIR --seed 1
    python bench/gen_cluster.py --preset routes --routes 100000 --out DIR --format json
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import random
import re
import string
import sys
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLUSTER_RANGE = ipaddress.IPv4Network("10.96.0.0/12")
EXTERNAL_RANGE = ipaddress.IPv4Network("172.16.0.0/16")
EXTERNAL_SINGLES = [ipaddress.IPv4Address("203.0.113.10"), ipaddress.IPv4Address("203.0.113.11")]
LB_RANGE = ipaddress.IPv4Network("172.20.0.0/16")
LB_RANGE_2 = ipaddress.IPv4Network("172.21.0.0/16")  # used when --routes needs more than 65k
NODE_NET = ipaddress.IPv4Network("10.0.0.0/16")
POD_NET = ipaddress.IPv4Network("10.128.0.0/9")
TOR_IP = "10.0.255.254"
AS_NUMBER = 64512
ZONES = ("zone-a", "zone-b", "zone-c")
WORDS = ("api", "web", "auth", "cart", "search", "db", "cache", "queue", "worker", "billing",
         "mail", "media", "feed", "user", "order", "stock", "report", "gateway", "metrics", "log")  # fmt: skip
MAX_PER_SLICE = 100
CREATED = "2024-05-14T09:12:31Z"


@dataclass(frozen=True)
class Params:
    nodes: int = 1000
    services: int = 20000
    endpoints: int = 100000
    seed: int = 1
    local_share: float = 0.3
    all_local_on: str | None = None
    preset: str = "cluster"
    routes: int = 100000
    headless_cluster_ips: bool = False


def node_name(i: int) -> str:
    return f"node-{i:04d}"


class Gen:
    def __init__(self, p: Params) -> None:
        self.p = p
        self.rng = random.Random(p.seed)
        self.rv = 1000
        n_pow = 1 << max(0, math.ceil(math.log2(max(p.nodes, 1))))
        self.pod_block = max(4, POD_NET.num_addresses // n_pow)
        self.pod_next = [0] * (p.nodes + 1)

    # ---- small helpers -------------------------------------------------------------------
    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def resource_version(self) -> str:
        self.rv += self.rng.randint(1, 50)
        return str(self.rv)

    def suffix(self, n: int = 5) -> str:
        return "".join(self.rng.choice(string.ascii_lowercase + string.digits) for _ in range(n))

    def pod_ip(self, node: int) -> str:
        k = self.pod_next[node]
        self.pod_next[node] += 1
        offset = 1 + k % (self.pod_block - 2)
        return str(POD_NET.network_address + node * self.pod_block + offset)

    # ---- Calico ----------------------------------------------------------------------------
    def calico(self) -> list[dict[str, Any]]:
        config = {
            "apiVersion": "projectcalico.org/v3",
            "kind": "BGPConfiguration",
            "metadata": {"name": "default", "uid": self.uid(), "resourceVersion": self.resource_version(),
                         "creationTimestamp": CREATED},
            "spec": {
                "logSeverityScreen": "Info",
                "nodeToNodeMeshEnabled": False,
                "asNumber": AS_NUMBER,
                "serviceClusterIPs": [{"cidr": str(CLUSTER_RANGE)}],
                "serviceExternalIPs": [{"cidr": str(EXTERNAL_RANGE)}]
                + [{"cidr": f"{ip}/32"} for ip in EXTERNAL_SINGLES],
                "serviceLoadBalancerIPs": [{"cidr": str(LB_RANGE)}, {"cidr": str(LB_RANGE_2)}],
            },
        }  # fmt: skip
        peer = {
            "apiVersion": "projectcalico.org/v3",
            "kind": "BGPPeer",
            "metadata": {"name": "tor", "uid": self.uid(), "resourceVersion": self.resource_version(),
                         "creationTimestamp": CREATED},
            "spec": {"peerIP": TOR_IP, "asNumber": 65000, "keepaliveTime": "10s"},
        }  # fmt: skip
        return [config, peer]

    # ---- Nodes -------------------------------------------------------------------------------
    def nodes(self) -> Iterator[dict[str, Any]]:
        for i in range(1, self.p.nodes + 1):
            name = node_name(i)
            ip = NODE_NET.network_address + (i // 250) * 256 + (i % 250) + 1
            zone = ZONES[i % len(ZONES)]
            yield {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "annotations": {
                        "node.alpha.kubernetes.io/ttl": "0",
                        "projectcalico.org/IPv4Address": f"{ip}/16",
                        "projectcalico.org/IPv4IPIPTunnelAddr": str(POD_NET.network_address + i * self.pod_block),
                        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                    },
                    "creationTimestamp": CREATED,
                    "labels": {
                        "beta.kubernetes.io/arch": "amd64",
                        "beta.kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "node.kubernetes.io/instance-type": "m5.2xlarge",
                        "topology.kubernetes.io/zone": zone,
                    },
                    "name": name,
                    "resourceVersion": self.resource_version(),
                    "uid": self.uid(),
                },
                "spec": {"podCIDR": f"10.244.{i % 256}.0/24", "podCIDRs": [f"10.244.{i % 256}.0/24"]},
                "status": {
                    "addresses": [{"address": str(ip), "type": "InternalIP"}, {"address": name, "type": "Hostname"}],
                    "allocatable": {"cpu": "7910m", "ephemeral-storage": "95551679124", "memory": "31608412Ki", "pods": "110"},
                    "capacity": {"cpu": "8", "ephemeral-storage": "103680036Ki", "memory": "32734812Ki", "pods": "110"},
                    "conditions": [
                        {"lastHeartbeatTime": CREATED, "lastTransitionTime": CREATED, "message": msg,
                         "reason": reason, "status": status, "type": ctype}
                        for ctype, status, reason, msg in (
                            ("NetworkUnavailable", "False", "CalicoIsUp", "Calico is running on this node"),
                            ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                            ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                        )
                    ],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "nodeInfo": {
                        "architecture": "amd64", "bootID": self.uid(), "containerRuntimeVersion": "containerd://1.7.13",
                        "kernelVersion": "6.1.0-18-amd64", "kubeProxyVersion": "v1.29.3", "kubeletVersion": "v1.29.3",
                        "machineID": self.uid().replace("-", ""), "operatingSystem": "linux",
                        "osImage": "Debian GNU/Linux 12 (bookworm)", "systemUUID": self.uid(),
                    },
                },
            }  # fmt: skip

    # ---- Services and their EndpointSlices ---------------------------------------------------
    def plan_services(self) -> list[dict[str, Any]]:
        """One small record per Service: type, addresses, policy, endpoint count."""
        p, rng = self.p, self.rng
        routes_mode = p.preset == "routes"
        count = math.ceil(p.routes / 2) if routes_mode else p.services
        cluster_ips = rng.sample(range(10, CLUSTER_RANGE.num_addresses - 1), count)
        lb_pool = [*LB_RANGE.hosts(), *LB_RANGE_2.hosts()]
        lb_ips = iter(rng.sample(range(len(lb_pool)), min(count, len(lb_pool))))
        ext_ips = iter(
            rng.sample(
                range(1, EXTERNAL_RANGE.num_addresses - 1),
                min(count, EXTERNAL_RANGE.num_addresses - 2),
            )
        )
        node_port = iter(range(30000, 32768))
        n_ns = max(1, count // 100)
        recs = []
        for i in range(count):
            r: dict[str, Any] = {
                "namespace": f"team-{i % n_ns:03d}",
                "name": f"{WORDS[i % len(WORDS)]}-{i:06d}",
                "cluster_ip": str(CLUSTER_RANGE.network_address + cluster_ips[i]),
                "external_ips": [],
                "ingress": None,
                "policy": None,
                "alloc_node_ports": True,
                "headless": False,
            }
            if routes_mode:
                r.update(type="LoadBalancer", policy="Local", alloc_node_ports=False,
                         ingress=str(lb_pool[next(lb_ips)]), n_endpoints=2)  # fmt: skip
                recs.append(r)
                continue
            x = rng.random()
            if x < 0.75:
                r["type"] = "ClusterIP"
                y = rng.random()
                if y < 0.03:
                    r["headless"] = True
                elif y < 0.05:
                    r["external_ips"] = [str(EXTERNAL_RANGE.network_address + next(ext_ips))]
                    if rng.random() < 0.05:  # a few use one of the single /32 entries
                        r["external_ips"] = [str(rng.choice(EXTERNAL_SINGLES))]
            elif x < 0.79:
                r["type"] = "NodePort"
            elif x < 0.99:
                r["type"] = "LoadBalancer"
                r["alloc_node_ports"] = rng.random() < 0.3
                if rng.random() < 0.95:  # the rest are still pending an address
                    r["ingress"] = str(lb_pool[next(lb_ips)])
            else:
                r["type"] = "ExternalName"
            if r["type"] in ("NodePort", "LoadBalancer") or r["external_ips"]:
                r["policy"] = "Local" if rng.random() < p.local_share else "Cluster"
            if r["type"] in ("NodePort", "LoadBalancer") and r["alloc_node_ports"]:
                r["node_port"] = next(node_port, None)
                if r["node_port"] is None:  # the NodePort range is full: no more node ports
                    r["alloc_node_ports"] = False
                    if r["type"] == "NodePort":
                        r["type"] = "LoadBalancer"
            recs.append(r)
        if not routes_mode:
            self._spread_endpoints(recs)
        return recs

    def _spread_endpoints(self, recs: list[dict[str, Any]]) -> None:
        rng = self.rng
        with_eps = [r for r in recs if r["type"] != "ExternalName" and rng.random() >= 0.02]
        for r in recs:
            r["n_endpoints"] = 0
        if not with_eps:
            return
        weights = [rng.lognormvariate(0.0, 1.1) for _ in with_eps]
        total_w = sum(weights)
        budget = max(self.p.endpoints, len(with_eps))
        shares = [max(1, int(w / total_w * budget)) for w in weights]
        diff = budget - sum(shares)
        order = sorted(range(len(with_eps)), key=lambda k: -weights[k])
        k = 0
        while diff != 0:  # hand out (or take back) the rounding remainder, largest first
            idx = order[k % len(order)]
            if diff > 0:
                shares[idx] += 1
                diff -= 1
            elif shares[idx] > 1:
                shares[idx] -= 1
                diff += 1
            k += 1
        for r, n in zip(with_eps, shares, strict=True):
            r["n_endpoints"] = n

    def service(self, r: dict[str, Any]) -> dict[str, Any]:
        labels = {"app.kubernetes.io/name": r["name"], "app.kubernetes.io/part-of": r["namespace"]}
        meta = {"creationTimestamp": CREATED, "labels": labels, "name": r["name"], "namespace": r["namespace"],
                "resourceVersion": self.resource_version(), "uid": self.uid()}  # fmt: skip
        if r["type"] == "ExternalName":
            return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
                    "spec": {"externalName": f"{r['name']}.example.com", "sessionAffinity": "None", "type": "ExternalName"},
                    "status": {"loadBalancer": {}}}  # fmt: skip
        port = {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}
        if r.get("node_port"):
            port["nodePort"] = r["node_port"]
        cip = "None" if r["headless"] else r["cluster_ip"]
        spec: dict[str, Any] = {}
        if r["type"] == "LoadBalancer" and not r["alloc_node_ports"]:
            spec["allocateLoadBalancerNodePorts"] = False
        spec["clusterIP"] = cip
        if not r["headless"] or self.p.headless_cluster_ips:
            # The API server writes `clusterIPs: [None]` for a headless Service; birdgen 0.1.0
            # rejects that ("None" is not an IP address), so it is left out unless asked for.
            spec["clusterIPs"] = [cip]
        if r["external_ips"]:
            spec["externalIPs"] = r["external_ips"]
        if r["policy"]:
            spec["externalTrafficPolicy"] = r["policy"]
        if r["type"] == "LoadBalancer" and r["policy"] == "Local":
            spec["healthCheckNodePort"] = 30000 + self.rng.randrange(2768)
        spec.update({"internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "ports": [port], "selector": {"app.kubernetes.io/name": r["name"]},
                     "sessionAffinity": "None", "type": r["type"]})  # fmt: skip
        status: dict[str, Any] = {"loadBalancer": {}}
        if r["ingress"]:
            status = {"loadBalancer": {"ingress": [{"ip": r["ingress"], "ipMode": "VIP"}]}}
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": spec,
            "status": status,
        }

    def slices(self, r: dict[str, Any], svc_uid: str) -> Iterator[dict[str, Any]]:
        p, rng = self.p, self.rng
        n = r["n_endpoints"]
        target = int(p.all_local_on.rsplit("-", 1)[1]) if p.all_local_on else None
        nodes = [rng.randint(1, p.nodes) for _ in range(n)]
        force_local = target is not None and r["policy"] == "Local"
        if force_local and n:
            nodes[0] = target
            if p.preset == "routes" and n > 1 and nodes[1] == target:
                nodes[1] = target % p.nodes + 1
        for start in range(0, n, MAX_PER_SLICE):
            eps = []
            for j in range(start, min(n, start + MAX_PER_SLICE)):
                node = nodes[j]
                ready = (force_local and j == 0) or p.preset == "routes" or rng.random() >= 0.02
                pod = f"{r['name']}-{self.suffix(10)}-{self.suffix(5)}"
                eps.append({
                    "addresses": [self.pod_ip(node)],
                    "conditions": {"ready": ready, "serving": ready, "terminating": False},
                    "nodeName": node_name(node),
                    "targetRef": {"kind": "Pod", "name": pod, "namespace": r["namespace"], "uid": self.uid()},
                    "zone": ZONES[node % len(ZONES)],
                })  # fmt: skip
            yield {
                "addressType": "IPv4",
                "apiVersion": "discovery.k8s.io/v1",
                "endpoints": eps,
                "kind": "EndpointSlice",
                "metadata": {
                    "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": CREATED},
                    "creationTimestamp": CREATED,
                    "generateName": f"{r['name']}-",
                    "generation": 1 + rng.randrange(20),
                    "labels": {
                        "app.kubernetes.io/name": r["name"],
                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                        "kubernetes.io/service-name": r["name"],
                    },
                    "name": f"{r['name']}-{self.suffix()}",
                    "namespace": r["namespace"],
                    "ownerReferences": [{"apiVersion": "v1", "blockOwnerDeletion": True, "controller": True,
                                         "kind": "Service", "name": r["name"], "uid": svc_uid}],
                    "resourceVersion": self.resource_version(),
                    "uid": self.uid(),
                },
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            }  # fmt: skip

    def services_and_slices(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        services, slices = [], []
        for r in self.plan_services():
            svc = self.service(r)
            services.append(svc)
            if r["type"] != "ExternalName":
                slices.extend(self.slices(r, svc["metadata"]["uid"]))
        return services, slices


# ---- kubectl-style YAML (go-yaml layout: sequences not indented under their key) -------------
_NEEDS_QUOTES = re.compile(
    r"""^(?:|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N"""
    r"""|[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-9_]+)*|[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?"""
    r"""|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|\.(?:inf|Inf|INF))|\.(?:nan|NaN|NAN)|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*"""
    r"""|[-?:,\[\]{}#&*!|>'"%@`\s].*|.*(?::\s|\s#|:$|\s$).*)$"""
)


def _scalar(v: Any) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, int | float):
        return str(v)
    s = str(v)
    return json.dumps(s) if _NEEDS_QUOTES.match(s) else s


def _emit(obj: Any, pad: str, out: list[str]) -> None:
    for k, v in obj.items():
        if isinstance(v, dict):
            if v:
                out.append(f"{pad}{k}:\n")
                _emit(v, pad + "  ", out)
            else:
                out.append(f"{pad}{k}: {{}}\n")
        elif isinstance(v, list):
            if not v:
                out.append(f"{pad}{k}: []\n")
                continue
            out.append(f"{pad}{k}:\n")
            for item in v:
                if isinstance(item, dict) and item:
                    sub: list[str] = []
                    _emit(item, pad + "  ", sub)
                    sub[0] = pad + "- " + sub[0][len(pad) + 2 :]
                    out.extend(sub)
                else:
                    out.append(f"{pad}- {_scalar(item)}\n")
        else:
            out.append(f"{pad}{k}: {_scalar(v)}\n")


def to_yaml_docs(objects: Iterable[dict[str, Any]]) -> str:
    out: list[str] = []
    for obj in objects:
        out.append("---\n")
        _emit(obj, "", out)
    return "".join(out)


def to_json_list(objects: Iterable[dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "items": list(objects), "kind": "List",
                       "metadata": {"resourceVersion": ""}}, indent=4) + "\n"  # fmt: skip


def generate(p: Params, out: Path, fmt: str = "yaml") -> dict[str, int]:
    """Write the manifests into `out` (created); returns counts for the caller to print."""
    if p.preset == "routes" and not p.all_local_on:
        p = Params(**{**p.__dict__, "all_local_on": node_name(1)})
    if p.all_local_on and not re.fullmatch(r"node-[0-9]+", p.all_local_on):
        raise SystemExit("--all-local-on takes a generated node name such as node-0001")
    g = Gen(p)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*"):
        if stale.suffix in (".yaml", ".yml", ".json"):
            stale.unlink()
    calico = g.calico()
    nodes = list(g.nodes())
    services, slices = g.services_and_slices()
    write = to_json_list if fmt == "json" else to_yaml_docs
    ext = "json" if fmt == "json" else "yaml"
    size = 0
    for name, objs in (
        ("00-calico", calico),
        ("10-nodes", nodes),
        ("20-services", services),
        ("30-endpointslices", slices),
    ):
        text = write(objs)
        (out / f"{name}.{ext}").write_text(text, encoding="utf-8")
        size += len(text)
    return {
        "nodes": len(nodes),
        "services": len(services),
        "endpointslices": len(slices),
        "endpoints": sum(len(s["endpoints"]) for s in slices),
        "bytes": size,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", choices=("cluster", "routes"), default="cluster")
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--services", type=int, default=20000, help="cluster preset")
    ap.add_argument("--endpoints", type=int, default=100000, help="cluster preset: total endpoints")
    ap.add_argument(
        "--routes", type=int, default=100000, help="routes preset: /32s the node advertises"
    )
    ap.add_argument(
        "--local-share",
        type=float,
        default=0.3,
        help="share of NodePort/LoadBalancer/externalIP Services with externalTrafficPolicy: Local",
    )
    ap.add_argument(
        "--all-local-on", metavar="NODE", help="every Local Service gets a ready endpoint on NODE"
    )
    ap.add_argument(
        "--headless-cluster-ips",
        action="store_true",
        help="write clusterIPs: [None] on headless Services, as the API server does",
    )
    ap.add_argument("--format", choices=("yaml", "json"), default="yaml")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, type=Path)
    a = ap.parse_args(argv)
    p = Params(nodes=a.nodes, services=a.services, endpoints=a.endpoints, seed=a.seed, local_share=a.local_share,
               all_local_on=a.all_local_on, preset=a.preset, routes=a.routes,
               headless_cluster_ips=a.headless_cluster_ips)  # fmt: skip
    counts = generate(p, a.out, a.format)
    print(", ".join(f"{k} {v:,}" for k, v in counts.items()) + f" -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
