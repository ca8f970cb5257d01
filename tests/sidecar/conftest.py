"""Fixtures for the sidecar tests: a real BIRD in a private network namespace, the in-process
Kubernetes API double, and a `Sidecar` running in a thread between them.

BIRD runs with `unshare -n` (the rendered configs hold a kernel protocol and BGP sessions; in an
empty network namespace they can touch nothing) and is stopped by its PID at teardown.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bird_daemon import BIRD, BirdDaemon, netns_problem
from kubeapi_server import FakeApiServer, new_api_client

from birdgen.model.resources import Environment
from birdgen.reload import SocketReloader
from birdgen.sidecar.loop import Sidecar
from birdgen.sidecar.reconcile import Reconciler
from birdgen.sources.kube import KubeSource

CALICO = "crd.projectcalico.org/v1"
NODE = "node-1"

# What BIRD runs before birdgen's first apply: no routes at all.
BOOT_CONF = "router id 192.0.2.1;\nprotocol device {}\n"

_ROUTE = re.compile(r"^(\d+\.\d+\.\d+\.\d+/\d+|[0-9a-f:]+/\d+)\s", re.MULTILINE)


class Bird(BirdDaemon):
    """The sidecar tests' BIRD: its routes as a set of prefixes."""

    def routes(self) -> set[str]:
        """The prefixes BIRD lists. A listing BIRD ends with an error is asked for again:
        "8004 Stopped due to reconfiguration" ends one that a `configure` interrupts, with the
        routes untouched, and read as a listing it would show none of them (or hide a route
        a test waits to see withdrawn)."""
        for _ in range(50):
            with self.control() as ctl:
                reply = ctl.command("show route")
            if not reply.is_error:
                return set(_ROUTE.findall(reply.text))
            time.sleep(0.01)
        raise AssertionError(f"BIRD answered `show route` with an error 50 times: {reply.summary}")


@pytest.fixture
def bird() -> Iterator[Bird]:
    problem = netns_problem()
    if problem:
        pytest.skip(problem)
    # A short directory: UNIX socket paths are limited to 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="bgsc-"))
    conf = directory / "bird.conf"
    conf.write_text(BOOT_CONF)
    daemon = Bird(directory, conf, str(directory / "bird.ctl"))
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=60) as server:
        yield server


def obj(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **body: Any,
) -> Any:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


def service(name: str, ip: str) -> Any:
    # Local traffic policy: the /32 is advertised only while this node has a ready endpoint.
    spec = {"type": "NodePort", "clusterIP": ip, "externalTrafficPolicy": "Local", "ports": [{"port": 80}]}  # fmt: skip
    return obj("v1", "Service", name, "default", spec=spec)


def endpoint_slice(service_name: str, nodes: list[str], name: str | None = None) -> Any:
    endpoints = [
        {"addresses": [f"10.48.{i // 250}.{i % 250 + 1}"], "nodeName": n, "conditions": {"ready": True}}
        for i, n in enumerate(nodes)
    ]  # fmt: skip
    return obj(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        name or f"{service_name}-1",
        "default",
        labels={"kubernetes.io/service-name": service_name},
        addressType="IPv4",
        endpoints=endpoints,
        ports=[{"port": 80}],
    )


def populate(api: FakeApiServer) -> None:
    """A small cluster: node-1 peers with a ToR and advertises 10.49.0.0/16 and web's /32."""
    api.create(obj(CALICO, "BGPConfiguration", "default", spec={"asNumber": 64512, "serviceClusterIPs": [{"cidr": "10.49.0.0/16"}]}))  # fmt: skip
    api.create(obj(CALICO, "BGPPeer", "tor", spec={"peerIP": "192.168.1.1", "asNumber": 64512}))
    for i in (1, 2):
        address = {"projectcalico.org/IPv4Address": f"192.168.1.1{i}/24"}
        api.create(obj("v1", "Node", f"node-{i}", annotations=address))
    api.create(service("web", "10.49.0.10"))
    api.create(endpoint_slice("web", [NODE]))


@dataclass
class Running:
    """A Sidecar running in a thread against `api` and `bird`."""

    sidecar: Sidecar
    thread: threading.Thread
    output: Path
    api_client: Any
    stopped: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> Any:
        return self.sidecar.metrics

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.sidecar.stop()
        self.thread.join(10)
        assert not self.thread.is_alive(), "the sidecar did not stop within 10 s"
        self.api_client.close()


@pytest.fixture
def start_sidecar(
    api: FakeApiServer, bird: Bird, tmp_path: Path
) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(
        debounce: float = 0.02, max_delay: float = 0.5, backoff: float = 0.1, **options: Any
    ) -> Running:
        api_client = new_api_client(api.kubeconfig(tmp_path / "kubeconfig"))
        reconciler = Reconciler(
            bird.conf,
            Environment.from_mapping(NODE, {}, NODE),
            SocketReloader(bird.sock, bird_binary=BIRD or "bird", timeout=5.0),
            backoff_initial=backoff,
            backoff_max=1.0,
        )
        sidecar = Sidecar(
            reconciler,
            kube=KubeSource(api_client),
            debounce=debounce,
            max_delay=max_delay,
            watch_options={"backoff_initial": 0.05, "backoff_max": 0.5},
            **options,
        )
        thread = threading.Thread(target=sidecar.run, name="sidecar", daemon=True)
        thread.start()
        running = Running(sidecar, thread, bird.conf, api_client)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
