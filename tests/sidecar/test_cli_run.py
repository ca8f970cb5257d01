"""The command line: `birdgen render --kubeconfig` (one-shot, against FakeApiServer) and
`birdgen run` as a real process (files source, real BIRD, SIGTERM)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import NODE, Bird, populate
from kubeapi_server import FakeApiServer
from waiting import wait_for

from birdgen.cli import main

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


def test_render_kubeconfig_one_shot(
    api: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in PROXY_VARS:  # the test server is on 127.0.0.1; never route to it via a proxy
        monkeypatch.delenv(var, raising=False)
    populate(api)
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    result = CliRunner().invoke(main, ["render", "--kubeconfig", str(kubeconfig), "--node", NODE])
    assert result.exit_code == 0, result.output
    assert "route 10.49.0.10/32 blackhole;" in result.stdout
    assert "192.168.1.1" in result.stdout  # the BGPPeer from the CRD
    assert {r.resource for r in api.requests(watch=False)} >= {"services", "bgppeers.crd.projectcalico.org"}  # fmt: skip
    assert not api.requests(watch=True), "a one-shot render lists and never watches"


NODE_DOC = """\
apiVersion: v1
kind: Node
metadata:
  name: node-1
  annotations: {projectcalico.org/IPv4Address: 192.168.1.11/24}
"""
CONFIG_DOC = """\
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec:
  asNumber: 64512
  serviceClusterIPs: [%s]
"""
MANIFEST = NODE_DOC + CONFIG_DOC % "{cidr: 10.49.0.0/16}"
EDITED = NODE_DOC + CONFIG_DOC % "{cidr: 10.49.0.0/16}, {cidr: 10.50.0.0/16}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def readyz(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


def test_run_follows_file_edits_and_stops_cleanly_on_sigterm(bird: Bird, tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "cluster.yaml").write_text(MANIFEST)
    port = free_port()
    argv = [sys.executable, "-m", "birdgen", "run", "-f", str(manifests), "-o", str(bird.conf),
            "--node", NODE, "--control-socket", bird.sock, "--bird", "/usr/sbin/bird",
            "--metrics-addr", f"127.0.0.1:{port}", "--log-format", "json"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS} | {
        "BIRDGEN_DEBOUNCE": "0.05"
    }
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)  # fmt: skip
    try:
        wait_for(lambda: "10.49.0.0/16" in bird.routes(), timeout=20, what="BIRD routes the range")
        url = f"http://127.0.0.1:{port}"
        # Ready once the first apply is confirmed, a moment after BIRD has the routes.
        wait_for(lambda: readyz(url) == 200, what="/readyz answers 200")
        # The file changes (replaced whole, as editors and ConfigMaps do): BIRD follows.
        (manifests / "cluster.yaml.new").write_text(EDITED)
        os.replace(manifests / "cluster.yaml.new", manifests / "cluster.yaml")
        wait_for(lambda: "10.50.0.0/16" in bird.routes(), what="BIRD routes the new range")

        def metrics() -> str:
            with urllib.request.urlopen(url + "/metrics", timeout=2) as response:
                return str(response.read().decode())

        # BIRD shows the route before the sidecar has counted the reload that brought it.
        two_reloads = 'birdgen_reloads_total{result="success"} 2'
        wait_for(lambda: two_reloads in metrics(), what="the second reload counted")
        assert 'birdgen_reloads_total{result="success"} 3' not in metrics()
        conf = bird.conf.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert bird.conf.read_text() == conf, "stopping must not touch the config"
        assert {"10.49.0.0/16", "10.50.0.0/16"} <= bird.routes()
        lines = [json.loads(line) for line in stderr.read_text().splitlines() if line.strip()]
        events = [line.get("event") for line in lines]
        assert "applied" in events and events[-1] == "stopped"
        assert all({"ts", "level", "msg"} <= line.keys() for line in lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
