"""`birdgen lab`, the operator's one-command lab, run as an operator would run it.

The command runs as a subprocess (`python -m birdgen lab`), so what is checked is its real
output and exit status, and that it leaves nothing behind: no namespace of its run, no process
(BIRD, HTTP server) whose command line names its run's work directory.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from birdgen.cli import main
from birdgen.lab.netns import list_namespaces
from birdgen.lab.topology import lab_available

REPO = Path(__file__).resolve().parents[2]


def run_lab(*args: str) -> subprocess.CompletedProcess[str]:
    ok, reason = lab_available()
    if not ok:
        pytest.skip(f"network-namespace lab unavailable: {reason}")
    return subprocess.run(
        [sys.executable, "-m", "birdgen", "lab", *args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,  # no terminal: --pause must not wait
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def sections(stdout: str) -> list[str]:
    """The output split at each "## N." step heading (index 0 is the preamble)."""
    return re.split(r"^## \d+\. ", stdout, flags=re.MULTILINE)


def nexthops(section: str, dst: str) -> list[str]:
    """The `nexthop via X` addresses under `dst` in one `ip route` listing."""
    m = re.search(rf"^{re.escape(dst)} proto bird[^\n]*\n((?:\s+nexthop[^\n]*\n?)+)", section, re.M)
    return re.findall(r"nexthop via (\S+)", m.group(1)) if m else []


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(f"{entry.name}: {cmd}")
    return found


def assert_left_nothing(stdout: str) -> None:
    m = re.search(r"^# namespaces: (.+)$", stdout, re.M)
    assert m, stdout
    names = m.group(1).split()
    assert len(names) == 6 and all(n.startswith("bg-") for n in names), names
    assert not set(names) & set(list_namespaces()), "namespaces left behind"
    run_id = names[0].split("-")[1]
    assert not processes_mentioning(f"bg-{run_id}-"), "processes of the lab left running"
    assert stdout.rstrip().endswith("namespaces deleted")


@pytest.mark.netns
def test_lab_prints_the_tor_routes_step_by_step() -> None:
    res = run_lab()
    assert res.returncode == 0, res.stderr
    assert "teardown" not in res.stderr, res.stderr
    pre, cluster, local, external = sections(res.stdout)
    assert "node-1 192.168.1.11" in pre

    # 1. serviceClusterIPs with externalTrafficPolicy: Cluster: the range via every node.
    assert cluster.startswith("serviceClusterIPs: 10.49.0.0/16")
    assert nexthops(cluster, "10.49.0.0/16") == ["192.168.1.11", "192.168.1.12", "192.168.1.13"]
    assert "10.49.62.131" not in cluster

    # 2. Local: the /32 only via the nodes with endpoints, and it answers from outside.
    assert nexthops(local, "10.49.62.131") == ["192.168.1.11", "192.168.1.12"]
    assert re.search(r"^node-[12]\s+\(answered by that node\)$", local, re.M), local

    # 3. External IPs: cluster routes gone (and unanswered), external ones in place.
    assert "10.49." not in external.split("$ curl")[0]
    assert nexthops(external, "192.168.3.0/24") == [
        "192.168.1.11",
        "192.168.1.12",
        "192.168.1.13",
    ]
    assert nexthops(external, "192.168.3.180") == ["192.168.1.11", "192.168.1.12"]
    cluster_curl, external_curl = external.split("$ curl ")[1:]
    assert cluster_curl.startswith("http://10.49.62.131/") and "no answer" in cluster_curl
    assert external_curl.startswith("http://192.168.3.180/") and "answered by" in external_curl
    assert_left_nothing(res.stdout)


@pytest.mark.netns
def test_lab_ipv6_and_pause_without_a_terminal() -> None:
    res = run_lab("--ipv6", "--pause")
    assert res.returncode == 0, res.stderr
    _, cluster, local, external = sections(res.stdout)
    assert "$ ip -6 route" in cluster
    assert nexthops(cluster, "fd00:49::/112") == ["fd00:1::11", "fd00:1::12", "fd00:1::13"]
    assert nexthops(local, "fd00:49::83") == ["fd00:1::11", "fd00:1::12"]
    assert re.search(r"curl http://\[fd00:49::83\]/.*\nnode-[12]\s+\(answered", local), local
    assert "fd00:49:" not in external
    assert_left_nothing(res.stdout)


def test_lab_refuses_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # In process, pretending not to be root: runs everywhere, root or not.
    monkeypatch.setattr("birdgen.lab.walkthrough.is_root", lambda: False)
    res = CliRunner().invoke(main, ["lab"])
    assert res.exit_code == 1
    assert "birdgen: lab: needs root" in res.output
