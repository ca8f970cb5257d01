"""Smoke tests for the network-namespace lab (`birdgen.lab`).

The `netns` tests build the real topology (ToR, nodes, external client in their own network
namespaces), run real BIRD daemons with hand-written minimal node configs, and check ECMP in
the ToR's kernel, HTTP to a Service IP from outside, and that teardown leaves nothing behind:
after a normal exit, an exception in the `with` body, an interrupt while building, and SIGTERM.
The other tests check the pure helpers and need neither root nor namespaces.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from birdgen.lab.bird import BirdError, parse_show_protocols
from birdgen.lab.netns import (
    CommandError,
    WaitTimeout,
    list_namespaces,
    normalize_prefix,
    route_gateways,
    run_cmd,
    wait_until,
)
from birdgen.lab.topology import Lab, lab_available
from birdgen.lab.tor import TorNeighbor, protocol_name, tor_config

REPO = Path(__file__).resolve().parents[2]

SVC4_RANGE = "10.49.0.0/16"
SVC4_IP = "10.49.62.131"
SVC6_RANGE = "fd00:49::/112"
SVC6_IP = "fd00:49::83"


def node_config(
    v4: str, v6: str, *, local_svc: bool, password: str | None = None, ttl: bool = False
) -> str:
    """A hand-written minimal node config: the Service ranges (and, on nodes with a local
    endpoint, the Service /32 and /128) as static blackholes, exported to the ToR over iBGP."""
    svc4 = f"route {SVC4_IP}/32 blackhole;" if local_svc else ""
    svc6 = f"route {SVC6_IP}/128 blackhole;" if local_svc else ""
    extra = ""
    if password is not None:
        extra += f' password "{password}";'
    if ttl:
        extra += " ttl security on; direct;"
    return textwrap.dedent(
        f"""\
        router id {v4};
        protocol device {{ }}
        protocol static svc4 {{ ipv4; route {SVC4_RANGE} blackhole; {svc4} }}
        protocol static svc6 {{ ipv6; route {SVC6_RANGE} blackhole; {svc6} }}
        protocol bgp tor {{
          local {v4} as 64512; neighbor 192.168.1.1 as 64512;{extra}
          ipv4 {{ import all; export where proto = "svc4"; }};
        }}
        protocol bgp tor6 {{
          local {v6} as 64512; neighbor fd00:1::1 as 64512;{extra}
          ipv6 {{ import all; export where proto = "svc6"; }};
        }}
        """
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes mentioning `text` (our run id is in our paths)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(f"{entry.name}: {cmd}")
    return found


def assert_torn_down(names: list[str], pids: list[int], run_id: str) -> None:
    assert names, "the lab should have created namespaces"
    left = set(names) & set(list_namespaces())
    assert not left, f"namespaces left behind: {sorted(left)}"
    assert not [p for p in pids if _pid_alive(p)], "processes left running"
    assert not _processes_mentioning(f"bg-{run_id}-"), "processes of this run left running"


@pytest.fixture(scope="module")
def lab_ok() -> None:
    ok, reason = lab_available()
    if not ok:
        pytest.skip(f"network-namespace lab unavailable: {reason}")


# --- end to end, in namespaces -----------------------------------------------------------------


@pytest.mark.netns
def test_ecmp_and_http_from_outside(lab_ok: None) -> None:
    with Lab() as lab:
        names, run_id = lab.namespace_names(), lab.registry.run_id
        peers = ["node-1", "node-2"]
        tor = lab.start_tor(peers)
        for name in peers:
            n = lab.node(name)
            # Only node-1 has a local endpoint, so only it announces the /32 and /128.
            lab.start_node_bird(name, node_config(n.ipv4, n.ipv6, local_svc=name == "node-1"))
        states = tor.wait_established(lab.tor_protocols(peers), timeout=30)
        assert set(states.values()) == {"Established"}
        assert states.keys() == {"node_1_v4", "node_1_v6", "node_2_v4", "node_2_v6"}

        # ECMP: one kernel next hop per node announcing the range, on the node addresses.
        assert lab.wait_tor_routes(SVC4_RANGE, {"192.168.1.11", "192.168.1.12"}) == {
            "192.168.1.11",
            "192.168.1.12",
        }
        assert lab.wait_tor_routes(SVC6_RANGE, {"fd00:1::11", "fd00:1::12"})
        route = lab.tor.route_for(SVC4_RANGE) if lab.tor else None
        assert route is not None and len(route["nexthops"]) == 2, route
        assert route.get("protocol") == "bird"
        # The more specific Service route only goes to the node with the endpoint.
        assert lab.wait_tor_routes(f"{SVC4_IP}/32", {"192.168.1.11"})
        assert lab.wait_tor_routes(f"{SVC6_IP}/128", {"fd00:1::11"})
        assert lab.tor_routes("10.99.0.0/16") == set()

        # The node's own table is untouched by its BIRD (no kernel protocol in its config).
        defaults = [r for r in lab.node_routes("node-1") if r.get("dst") == "0.0.0.0/0"]
        assert defaults and defaults[0]["gateway"] == "192.168.1.1"

        server4 = lab.serve_http("node-1", SVC4_IP)
        assert lab.http_get(server4.url) == "node-1\n"
        server6 = lab.serve_http("node-1", SVC6_IP)
        assert lab.http_get(server6.url, timeout=5) == "node-1\n"

        # reload(): withdrawing the /32 from node-1 removes it from the ToR's kernel.
        n1 = lab.node("node-1")
        lab.birds["node-1"].reload(node_config(n1.ipv4, n1.ipv6, local_svc=False))
        lab.wait_tor_routes(f"{SVC4_IP}/32", set())

        pids = lab.pids()
        assert len(pids) == 5  # ToR BIRD, two node BIRDs, two HTTP servers
    assert_torn_down(names, pids, run_id)
    assert lab.close() == []  # idempotent


@pytest.mark.netns
def test_password_and_ttl_security(lab_ok: None) -> None:
    with Lab(nodes=["node-1"]) as lab:
        names, run_id = lab.namespace_names(), lab.registry.run_id
        tor = lab.start_tor(password="s3cret", ttl_security=True)
        n = lab.node("node-1")
        lab.start_node_bird(
            "node-1", node_config(n.ipv4, n.ipv6, local_svc=True, password="s3cret", ttl=True)
        )
        try:
            tor.wait_established(lab.tor_protocols(), timeout=20)
        except WaitTimeout as exc:
            log = tor.log.read_text(errors="replace")
            if "TCP_MD5SIG" in log or ("MD5" in log and "not supported" in log.lower()):
                pytest.skip(f"kernel lacks TCP MD5 signatures: {exc}")
            raise
        assert lab.wait_tor_routes(SVC4_RANGE, {"192.168.1.11"})
        pids = lab.pids()
    assert_torn_down(names, pids, run_id)


@pytest.mark.netns
def test_failure_inside_with_tears_down(lab_ok: None) -> None:
    seen: dict[str, Any] = {}
    with pytest.raises(RuntimeError, match="boom"), Lab(nodes=["node-1", "node-2"]) as lab:
        seen["names"], seen["run_id"] = lab.namespace_names(), lab.registry.run_id
        lab.start_tor()
        n = lab.node("node-1")
        lab.start_node_bird("node-1", node_config(n.ipv4, n.ipv6, local_svc=True))
        lab.serve_http("node-1", SVC4_IP)
        seen["pids"] = lab.pids()
        assert len(lab.pids()) == 3
        raise RuntimeError("boom")
    assert_torn_down(seen["names"], seen["pids"], seen["run_id"])


@pytest.mark.netns
def test_bad_node_config_is_reported_and_torn_down(lab_ok: None) -> None:
    with (
        pytest.raises(
            BirdError, match=r"rejected the config.*(syntax error|unknown|expected)"
        ) as info,
        Lab(nodes=["node-1"]) as lab,
    ):
        names, run_id = lab.namespace_names(), lab.registry.run_id
        lab.start_node_bird("node-1", "router id 192.168.1.11;\nprotocol bogus { }\n")
    assert f"bg-{run_id}-node-1" in str(info.value)
    assert_torn_down(names, [], run_id)


@pytest.mark.netns
def test_interrupt_while_building_tears_down(lab_ok: None) -> None:
    seen: dict[str, Any] = {}

    class InterruptedLab(Lab):
        def _build(self) -> None:
            super()._build()
            seen["names"], seen["run_id"] = self.namespace_names(), self.registry.run_id
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), InterruptedLab(nodes=["node-1"]):
        pytest.fail("the body must not run")
    assert seen["names"]
    assert_torn_down(seen["names"], [], seen["run_id"])


_SIGTERM_CHILD = """
import json, sys, time
from birdgen.lab.topology import Lab
with Lab(nodes=["node-1"]) as lab:
    lab.start_tor()
    print(json.dumps({"names": lab.namespace_names(), "pids": lab.pids(),
                      "run_id": lab.registry.run_id}), flush=True)
    time.sleep(60)
"""


@pytest.mark.netns
def test_sigterm_tears_down(lab_ok: None) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", _SIGTERM_CHILD],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 30)
        assert ready, "child did not build its lab within 30s"
        info = json.loads(child.stdout.readline())
        assert set(info["names"]) <= set(list_namespaces())
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    assert code == 128 + signal.SIGTERM, child.stderr.read() if child.stderr else ""
    assert_torn_down(info["names"], info["pids"], info["run_id"])


# --- pure helpers (no root needed) ---------------------------------------------------------


def test_parse_show_protocols() -> None:
    text = textwrap.dedent(
        """\
        BIRD 2.0.12 ready.
        Name       Proto      Table      State  Since         Info
        device1    Device     ---        up     06:01:02.123
        svc4       Static     master4    up     06:01:02.123
        node_1_v4  BGP        ---        up     06:01:03.456  Established
        node_2_v4  BGP        ---        start  06:01:03.456  Active   Socket: Connection refused
        """
    )
    rows = parse_show_protocols(text)
    assert rows["node_1_v4"].bgp_state == "Established"
    assert rows["node_2_v4"].bgp_state == "Active"
    assert rows["node_2_v4"].info.endswith("Connection refused")
    assert rows["device1"].state == "up" and rows["device1"].bgp_state == ""


def test_tor_config_has_ecmp_and_direct_gateways() -> None:
    text = tor_config(
        router_id="192.168.1.1",
        asn=64512,
        local_ipv4="192.168.1.1",
        local_ipv6="fd00:1::1",
        neighbors=[
            TorNeighbor("node-1", "192.168.1.11", "fd00:1::11", password="pw", ttl_security=True),
            TorNeighbor("node-2", "192.168.1.12", None),
        ],
    )
    assert text.count("merge paths on;") == 2
    assert text.count("gateway direct;") == 3
    assert "protocol bgp node_1_v6 {" in text and "node_2_v6" not in text
    assert 'password "pw";' in text and "ttl security on;" in text
    assert protocol_name("1st", 4) == "n_1st_v4"
    with pytest.raises(ValueError):
        tor_config(
            router_id="192.168.1.1",
            asn=64512,
            local_ipv4="192.168.1.1",
            local_ipv6=None,
            neighbors=[TorNeighbor("n", "192.168.1.11", "fd00:1::11")],
        )


def test_tor_config_parses_with_bird(tmp_path: Path) -> None:
    if not os.path.exists("/usr/sbin/bird"):
        pytest.skip("bird is not installed")
    conf = tmp_path / "tor.conf"
    conf.write_text(
        tor_config(
            router_id="192.168.1.1",
            asn=64512,
            local_ipv4="192.168.1.1",
            local_ipv6="fd00:1::1",
            neighbors=[TorNeighbor("node-1", "192.168.1.11", "fd00:1::11", "pw", True)],
        )
    )
    # `bird -p` only parses the file: no sockets, no routes, no namespace needed.
    run_cmd(["/usr/sbin/bird", "-p", "-c", str(conf)], timeout=10)


def test_wait_until_reports_what_and_last_value() -> None:
    values = iter(range(1000))
    with pytest.raises(WaitTimeout) as info:
        wait_until(
            lambda: next(values),
            timeout=0.2,
            interval=0.05,
            what="a big number",
            ok=lambda v: v > 10_000,
        )
    assert isinstance(info.value, TimeoutError)
    assert "a big number" in str(info.value) and isinstance(info.value.last, int)
    assert wait_until(lambda: "x", timeout=1, what="x") == "x"


def test_command_errors_carry_stderr() -> None:
    # A namespace that does not exist: `ip` fails before touching any network state.
    with pytest.raises(CommandError) as info:
        run_cmd(["ip", "-n", "bg-000000-does-not-exist", "link", "show"], timeout=5)
    assert "bg-000000-does-not-exist" in str(info.value)
    assert info.value.stderr and info.value.stderr.strip() in str(info.value)
    with pytest.raises(CommandError, match="timed out"):
        run_cmd(["sleep", "5"], timeout=0.2)


def test_route_helpers() -> None:
    assert normalize_prefix("default", 4) == "0.0.0.0/0"
    assert normalize_prefix("10.49.62.131", 4) == "10.49.62.131/32"
    assert normalize_prefix("fd00:49::83", 6) == "fd00:49::83/128"
    multi = {"dst": "10.49.0.0/16", "nexthops": [{"gateway": "a"}, {"gateway": "b"}]}
    assert route_gateways(multi) == {"a", "b"}
    assert route_gateways({"dst": "x", "gateway": "c"}) == {"c"}
    assert route_gateways({"dst": "x", "dev": "lo"}) == set()


def test_lab_available_names_every_missing_program_and_its_package(tmp_path: Path) -> None:
    # A PATH that has the real ip, ss, bird and birdc but no sysctl, as on a minimal Debian
    # without procps: the check must say so instead of letting a namespace step fail later.
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("ip", "ss", "bird", "birdc"):
        found = shutil.which(tool, path=os.environ["PATH"] + ":/usr/sbin:/sbin")
        if found is None:
            pytest.skip(f"{tool} is not installed")
        (tools / tool).symlink_to(found)
    ok, reason = lab_available(path=str(tools))
    assert not ok
    assert reason == "not installed: sysctl (on Debian: apt-get install procps)"
    ok, reason = lab_available(path=str(tmp_path / "empty"))
    assert not ok
    assert reason == (
        "not installed: ip, ss, sysctl, bird, birdc (on Debian: apt-get install iproute2 procps bird2)"
    )
