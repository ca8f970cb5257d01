"""A valid cluster that sets every field birdgen reads, for the injection and fuzz tests.

`corpus()` is the one input the hostile tests start from; `reads()` finds, by watching the real
model and planner read the corpus, every field path they look up. `test_injection.py` checks
that the corpus holds all of those, so a field the model learns to read is tried with payloads
without anyone keeping a list.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

NODE = "n1"
ENVIRONMENT = {  # the variables birdgen reads, each set to a valid value
    "NODENAME": NODE,
    "CALICO_K8S_NODE_REF": NODE,
    "CALICO_ROUTER_ID": "10.0.0.1",
    "CALICO_ADVERTISE_CLUSTER_IPS": "10.96.0.0/12",
    "NAMESPACE": "kube-system",
}


def _calico(kind: str, name: str, spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "projectcalico.org/v3", "kind": kind,
            "metadata": {"name": name, **meta}, "spec": spec}  # fmt: skip


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _rule(cidr: str, low: int, high: int, operator: str = "In") -> dict[str, Any]:
    """A BGPFilter rule that sets every field a rule has."""
    return {
        "action": "Accept", "matchOperator": operator, "cidr": cidr,
        "prefixLength": {"min": low, "max": high}, "source": "RemotePeers", "interface": "eth*",
        "communities": {"values": ["64512:100"]}, "asPathPrefix": [65000], "priority": 10,
        "peerType": "eBGP",
        "operations": [{"addCommunity": {"value": "64512:300"}},
                       {"prependASPath": {"prefix": [64512]}}, {"setPriority": {"value": 20}}],
    }  # fmt: skip


def corpus() -> list[dict[str, Any]]:
    """Every kind birdgen reads, every field set somewhere; renders for node n1 (v4 and v6)."""
    return [
        _calico("BGPConfiguration", "default", {
            "logSeverityScreen": "Info", "nodeToNodeMeshEnabled": True, "asNumber": 64512,
            "serviceClusterIPs": [{"cidr": "10.96.0.0/12"}, {"cidr": "fd00:96::/112"}],
            "serviceExternalIPs": [{"cidr": "192.0.2.0/24"}, {"cidr": "fd00:50::/64"}],
            "serviceLoadBalancerIPs": [{"cidr": "198.51.100.0/24"}],
            "serviceLoadBalancerAggregation": "Disabled",
            "communities": [{"name": "c1", "value": "64512:100"}],
            "prefixAdvertisements": [{"cidr": "192.0.2.0/24", "communities": ["c1", "64512:200"]}],
            "listenPort": 179, "nodeMeshPassword": {"secretKeyRef": {"name": "bgp", "key": "mesh"}},
            "nodeMeshMaxRestartTime": "120s", "bindMode": "None", "ignoredInterfaces": ["eth9"],
            "localWorkloadPeeringIPV4": "169.254.0.1", "localWorkloadPeeringIPV6": "fd00:ff::1",
            "programClusterRoutes": "Enabled", "ipv4NormalRoutePriority": 1024,
            "ipv6NormalRoutePriority": 1024,
        }),
        _calico("BGPConfiguration", f"node.{NODE}", {"logSeverityScreen": "Debug",
                                                     "listenPort": 1179}),
        _calico("BGPPeer", "tor", {
            "nodeSelector": "rack == 'r1'", "peerIP": "192.168.1.1", "asNumber": 65001,
            "localASNumber": 64513, "nextHopMode": "Self",
            "password": {"secretKeyRef": {"name": "bgp", "key": "tor"}},
            "sourceAddress": "UseNodeIP", "maxRestartTime": "90s", "keepaliveTime": "30s",
            "numAllowedLocalASNumbers": 1, "ttlSecurity": 1, "reachableBy": "10.0.0.254",
            "filters": ["f1"], "reversePeering": "Auto",
        }),
        _calico("BGPPeer", "tor6", {"node": NODE, "peerIP": "[fd00::99]:1179", "asNumber": 65001,
                                    "keepOriginalNextHop": True, "reachableBy": "fd00::fe"}),
        _calico("BGPPeer", "rr", {"nodeSelector": "all()", "peerSelector": "role == 'rr'"}),
        _calico("BGPPeer", "workloads", {"localWorkloadSelector": "app == 'x'",
                                         "asNumber": 65010}),
        _calico("BGPFilter", "f1", {
            "exportV4": [_rule("192.0.2.0/24", 24, 32)],
            "importV4": [_rule("10.0.0.0/8", 8, 24, "NotIn"),
                         {"action": "Reject", "matchOperator": "Equal", "cidr": "10.1.0.0/16"}],
            "exportV6": [_rule("fd00:50::/64", 64, 128, "Equal")],
            "importV6": [_rule("fd00::/8", 8, 64, "NotEqual")],
        }),
        _calico("Node", NODE, {"bgp": {"ipv4Address": "10.0.0.1/24", "ipv6Address": "fd00::1/64",
                                       "asNumber": 64512, "ipv4IPIPTunnelAddr": "10.244.0.1"}},
                labels={"rack": "r1"}),
        _calico("Node", "n2", {"bgp": {"ipv4Address": "10.0.0.2/24",
                                       "routeReflectorClusterID": "224.0.0.1"}},
                labels={"role": "rr"}),
        {"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": "n3", "labels": {"rack": "r2", "topology.kubernetes.io/zone": "z1"},
            "annotations": {"projectcalico.org/IPv4Address": "10.0.0.3/24",
                            "projectcalico.org/IPv6Address": "fd00::3/64",
                            "projectcalico.org/ASNumber": "64512",
                            "projectcalico.org/RouteReflectorClusterID": "224.0.0.3"}}},
        _calico("IPPool", "pool4", {
            "cidr": "10.244.0.0/16", "vxlanMode": "Never", "ipipMode": "Never",
            "natOutgoing": True, "disabled": False, "disableBGPExport": False, "blockSize": 26,
            "nodeSelector": "all()", "allowedUses": ["Workload"],
            "assignmentMode": "Automatic",
        }),
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "bgp", "namespace": "kube-system"},
         "data": {"tor": _b64("t0r-pass")}, "stringData": {"mesh": "m3sh-pass"}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
         "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10",
                  "clusterIPs": ["10.96.0.10", "fd00:96::10"], "ipFamilies": ["IPv4", "IPv6"],
                  "externalIPs": ["192.0.2.10"], "loadBalancerIP": "198.51.100.10",
                  "externalTrafficPolicy": "Local"},
         "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.10"}]}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "default"},
         "spec": {"type": "NodePort", "clusterIP": "10.96.0.20",
                  "externalIPs": ["192.0.2.20"], "externalTrafficPolicy": "Local"}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
         "metadata": {"name": "web-abc", "namespace": "default",
                      "labels": {"kubernetes.io/service-name": "web"}},
         "endpoints": [{"nodeName": NODE, "conditions": {"ready": True}},
                       {"nodeName": "n2", "conditions": {"ready": False}}]},
        {"apiVersion": "v1", "kind": "Endpoints",
         "metadata": {"name": "api", "namespace": "default"},
         "subsets": [{"addresses": [{"ip": "10.244.0.5", "nodeName": NODE}],
                      "notReadyAddresses": [{"ip": "fd00:244::6", "nodeName": "n2"}]}]},
    ]  # fmt: skip


# ---- where the strings and keys are


Path = tuple[str | int, ...]


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every scalar in a document with the path to it."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    else:
        yield path, value


def keys(value: Any, path: Path = ()) -> Iterator[Path]:
    """The path of every mapping key in a document (the key itself last)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*path, k)
            yield from keys(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from keys(v, (*path, i))


def shape(path: Path) -> str:
    """A path with list indices dropped: `spec.exportV4[].operations[].setPriority.value`."""
    return re.sub(r"\.\[\]", "[]", ".".join("[]" if isinstance(p, int) else p for p in path))


# ---- which paths the model reads


class _Watched(dict):  # type: ignore[type-arg]
    """A mapping that records every key looked up in it (present or not)."""

    def __init__(self, data: dict[str, Any], path: Path, seen: set[Path]) -> None:
        super().__init__({k: watch(v, (*path, k), seen) for k, v in data.items()})
        self._path, self._seen = path, seen

    def _saw(self, key: Any) -> None:
        self._seen.add((*self._path, key))

    def __getitem__(self, key: Any) -> Any:
        self._saw(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._saw(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._saw(key)
        return super().__contains__(key)


def watch(value: Any, path: Path, seen: set[Path]) -> Any:
    if isinstance(value, dict):
        return _Watched(value, path, seen)
    if isinstance(value, list):
        return [watch(v, (*path, i), seen) for i, v in enumerate(value)]
    return value


def reads(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(kind, path shape) of every field the model and planner look up, rendering for NODE.

    Watched mappings are no plain dicts, so the fast Service and EndpointSlice readers hand
    them to the `Fields` reader, which reads every field the fast one does and more.
    """
    from birdgen.model.resources import Environment
    from birdgen.pipeline import render_objects

    seen: set[Path] = set()
    watched = [watch(obj, (i,), seen) for i, obj in enumerate(objects)]
    render_objects(watched, Environment.from_mapping(None, ENVIRONMENT))
    return {(objects[int(p[0])]["kind"], shape(p[1:])) for p in seen}
