"""Property: the sidecar's incremental store, after any sequence of API events, holds what a
fresh list would give it, and renders exactly the config a full render of a fresh list does.

One API double and one watcher live through every example, so the events of all examples form
one long random history (compactions, hence relists, included). Each example waits until every
informer has caught up with the server, then compares.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubeapi_rbac import deploy_rbac
from kubeapi_server import FakeApiServer, new_api_client

from birdgen.errors import InvalidInput
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.plan.incremental import Feed, Incremental
from birdgen.sidecar.store import Lean
from birdgen.sources.kube import KubeSource, KubeWatcher

CALICO = "crd.projectcalico.org/v1"
NODE = "node-1"
NODES = ("node-1", "node-2", "node-3")
SERVICES = ("a", "b", "c")
SECRETS = ("bgp-secrets", "other")


def meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, **({"namespace": namespace} if namespace else {}), **extra}


def service(name: str, policy: str, ip: int, lb: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "LoadBalancer" if lb else "NodePort",
        "clusterIP": f"10.49.0.{ip}",
    }
    spec["externalTrafficPolicy"] = policy
    status = {"loadBalancer": {"ingress": [{"ip": f"10.50.0.{ip}"}]}} if lb else {}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, "default"), "spec": spec, "status": status}  # fmt: skip


def endpoint_slice(service_name: str, n: int, endpoints: list[tuple[str, bool]]) -> dict[str, Any]:
    labels = {"kubernetes.io/service-name": service_name}
    eps = [{"addresses": [f"10.48.0.{i + 1}"], "nodeName": node, "conditions": {"ready": ready}} for i, (node, ready) in enumerate(endpoints)]  # fmt: skip
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta(f"{service_name}-{n}", "default", labels=labels), "addressType": "IPv4", "endpoints": eps}  # fmt: skip


def node(name: str, heartbeat: int, excluded: bool) -> dict[str, Any]:
    i = NODES.index(name) + 1
    labels = {"node.kubernetes.io/exclude-from-external-load-balancers": "true"} if excluded else {}
    annotations = {"projectcalico.org/IPv4Address": f"192.168.1.{i}/24"}
    status = {"conditions": [{"type": "Ready", "lastHeartbeatTime": f"t{heartbeat}"}]}
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta(name, labels=labels, annotations=annotations), "status": status}  # fmt: skip


def config(aggregate: bool) -> dict[str, Any]:
    spec = {"asNumber": 64512, "serviceClusterIPs": [{"cidr": "10.49.0.0/16"}], "serviceLoadBalancerIPs": [{"cidr": "10.50.0.0/16"}], "serviceLoadBalancerAggregation": "Enabled" if aggregate else "Disabled"}  # fmt: skip
    return {
        "apiVersion": CALICO,
        "kind": "BGPConfiguration",
        "metadata": meta("default"),
        "spec": spec,
    }


def peer(name: str, secret: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"peerIP": f"192.0.2.{len(name)}", "asNumber": 64513}
    if secret:
        spec["password"] = {"secretKeyRef": {"name": secret, "key": "pw"}}
    return {"apiVersion": CALICO, "kind": "BGPPeer", "metadata": meta(name), "spec": spec}


def secret(name: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, "kube-system"), "stringData": {"pw": value}}  # fmt: skip


endpoints = st.lists(st.tuples(st.sampled_from(NODES), st.booleans()), max_size=4)
BAD_VALUE_SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": meta("bad", "default"), "spec": {"clusterIP": "10.49.0.300"}}  # fmt: skip
BAD_SHAPE_SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": meta("bad", "default"), "spec": {"clusterIP": "10.49.0.9", "externalIPs": "10.51.0.1"}}  # fmt: skip
ODD_SERVICE = {**service("odd", "Local", 4, lb=True), "status": {"loadBalancer": {"ingress": [{"ip": "not-an-ip"}, {"ip": "10.50.0.4"}]}}}  # fmt: skip
events = st.one_of(
    st.builds(
        lambda *a: ("put", service(*a)),
        st.sampled_from(SERVICES),
        st.sampled_from(["Local", "Cluster"]),
        st.integers(1, 4),
        st.booleans(),
    ),
    st.builds(
        lambda n, i: ("delete", ("Service", n, "default", "v1")),
        st.sampled_from(SERVICES),
        st.just(0),
    ),
    st.builds(
        lambda *a: ("put", endpoint_slice(*a)),
        st.sampled_from(SERVICES),
        st.integers(1, 2),
        endpoints,
    ),
    st.builds(
        lambda s, n: ("delete", ("EndpointSlice", f"{s}-{n}", "default", "discovery.k8s.io/v1")),
        st.sampled_from(SERVICES),
        st.integers(1, 2),
    ),
    st.builds(
        lambda *a: ("put", node(*a)), st.sampled_from(NODES), st.integers(0, 1000), st.booleans()
    ),
    st.builds(lambda a: ("put", config(a)), st.booleans()),
    st.builds(
        lambda *a: ("put", peer(*a)),
        st.sampled_from(["tor", "spine"]),
        st.sampled_from([None, *SECRETS]),
    ),
    st.builds(
        lambda n: ("delete", ("BGPPeer", n, None, CALICO)), st.sampled_from(["tor", "spine"])
    ),
    st.builds(
        lambda *a: ("put", secret(*a)), st.sampled_from(SECRETS), st.sampled_from(["pw1", "pw2"])
    ),
    st.builds(lambda n: ("delete", ("Secret", n, "kube-system", "v1")), st.sampled_from(SECRETS)),
    # One invalid object at a time, each a different way: a value the model refuses, and
    # shapes the typed documents do not take, so the edge reads them as raw objects (the
    # model names the field either way). One branch for all three, so that most examples
    # still compare rendered configs.
    st.sampled_from(
        [
            ("put", BAD_VALUE_SERVICE),
            ("put", BAD_SHAPE_SERVICE),
            ("put", endpoint_slice("bad", 1, [("node-1", True)]) | {"endpoints": "node-1"}),
        ]
    ),
    st.just(("delete", ("Service", "bad", "default", "v1"))),
    # A valid Service whose document the fast reader steps aside from (an ingress IP Calico
    # skips, with a warning).
    st.just(("put", ODD_SERVICE)),
    st.builds(lambda *a: ("put", endpoint_slice("odd", 1, *a)), endpoints),
    st.just(("delete", ("Service", "odd", "default", "v1"))),
    st.just(("compact", None)),
)


def apply(server: FakeApiServer, event: tuple[str, Any]) -> None:
    op, what = event
    if op == "compact":
        server.compact()
    elif op == "put":
        m = what["metadata"]
        exists = server.get(what["kind"], m["name"], m.get("namespace"), api_version=what["apiVersion"])  # fmt: skip
        (server.update if exists is not None else server.create)(what)
    else:
        kind, name, namespace, api_version = what
        if server.get(kind, name, namespace, api_version=api_version) is not None:
            server.delete(kind, name, namespace, api_version=api_version)


def caught_up(watcher: KubeWatcher, target: int) -> bool:
    if not watcher.synced():
        return False
    return all(
        int(i.resource_version or 0) >= target
        for i in watcher.all_informers()
        if i.installed and i.synced()
    )


def rendered(objects: list[Any], env: Environment, state: Incremental | None = None) -> Any:
    try:
        out = render_objects(objects, env, state)
        return (out.text, out.plan)
    except InvalidInput as exc:
        return str(exc)


def test_incremental_store_equals_a_fresh_list_and_renders_the_same(tmp_path: Path) -> None:
    env = Environment.from_mapping(NODE, {}, NODE)
    rbac = deploy_rbac(secret_names=SECRETS)
    with FakeApiServer(rbac=rbac, bookmark_interval=0.05) as server:
        # A start where every event matters to someone: ranges, a peer with a password, two
        # Services with endpoints here and elsewhere.
        for obj in (
            *(node(name, 0, False) for name in NODES),
            config(aggregate=False),
            peer("tor", "bgp-secrets"),
            secret("bgp-secrets", "pw0"),
            service("a", "Cluster", 1, lb=True),
            service("b", "Local", 2, lb=False),
            endpoint_slice("a", 1, [("node-2", True)]),
            endpoint_slice("b", 1, [("node-1", True), ("node-3", False)]),
        ):
            server.create(obj)
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        source = KubeSource(api_client)
        lean = Lean(env.endpoint_node_name)
        watcher = KubeWatcher(source, transform=lean, backoff_initial=0.02, backoff_max=0.1)
        watcher.start()

        # 40 examples, or fewer where the profile in force asks for fewer: mutmut's budget
        # (tests/mutation_budget.py) cannot reach settings made inside a test body.
        examples = min(40, settings.default.max_examples)

        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(events, min_size=1, max_size=12))
        def check(history: list[tuple[str, Any]]) -> None:
            for event in history:
                apply(server, event)
            target = server.resource_version
            deadline = time.monotonic() + 20
            while not caught_up(watcher, target):
                assert time.monotonic() < deadline, "the watcher did not catch up"
                time.sleep(0.02)
            for informer in watcher.all_informers():
                fresh = source.list_type(informer.rtype, lean)
                if informer.installed:
                    assert dict(informer.items()) == dict(zip(fresh.keys, fresh.items, strict=True)), informer.rtype.name  # fmt: skip
            incremental = rendered(watcher.values(), env)
            want = rendered(source.list_all(), env)
            assert incremental == want
            # As the sidecar's loop steps: the watcher's take, and what it says changed since
            # the last one (nothing after a relist), fed to the plan state of every example.
            objects, taken = watcher.take()
            takes.append(taken is not None)
            feed = None if taken is None else Feed(objects, len(takes) - 1, len(takes), taken.before, taken.after)  # fmt: skip
            state.expect(feed)
            assert rendered(objects, env, state) == want
            valid.append(not isinstance(incremental, str))
            # An invalid object left in place would make every later example compare two equal
            # errors: take it away before the next one.
            apply(server, ("delete", ("Service", "bad", "default", "v1")))
            apply(server, ("delete", ("EndpointSlice", "bad-1", "default", "discovery.k8s.io/v1")))  # fmt: skip

        valid: list[bool] = []
        takes: list[bool] = []  # per example: whether the take said what changed
        state = Incremental()
        try:
            check()
            # Guards against a vacuous run, not a statistic to hold exactly: half to most of the
            # examples end valid and are fed (19-35 and 19-27 of 40 in four runs; one event in 16
            # puts an invalid object, one relists), so "at least half" failed about one run in
            # three; an eighth fails about once in 10^5 runs and still needs several compared
            # configs and fed steps.
            assert sum(valid) >= len(valid) // 8, "examples must compare rendered configs"
            assert sum(takes) >= len(takes) // 8, "examples must feed what changed"
        finally:
            assert watcher.stop(timeout=5)
            api_client.close()
