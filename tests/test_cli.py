"""The `birdgen render` / `explain` command-line contract, bad input first.

Every failure must exit 1 with a message naming kind, name and field, and leave an existing
output file exactly as it was.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from birdgen.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "walkthrough"
PREVIOUS = "# the previous, good config\n"


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin, env=env or {})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    """A copy of the walkthrough example that a test may add broken documents to."""
    out = tmp_path / "in"
    out.mkdir()
    for f in EXAMPLE.glob("*.yaml"):
        (out / f.name).write_text(f.read_text())
    return out


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    out = tmp_path / "bird.conf"
    out.write_text(PREVIOUS)
    return out


def add(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(textwrap.dedent(text))


BAD_INPUTS = [
    pytest.param(
        "peer.yaml",
        """
        apiVersion: projectcalico.org/v3
        kind: BGPPeer
        metadata: {name: tor-1}
        spec: {peerIP: 1.2.3, asNumber: 64512}
        """,
        ['BGPPeer/tor-1: spec.peerIP: "1.2.3" is not an IP address'],
        id="bad-ip",
    ),
    pytest.param(
        "peer.yaml",
        """
        apiVersion: projectcalico.org/v3
        kind: BGPPeer
        metadata: {name: tor-ll}
        spec: {peerIP: "fe80::1", asNumber: 64512}
        """,
        ["BGPPeer/tor-ll: spec.peerIP: fe80::1 is an IPv6 link-local address"],
        id="link-local-peer",
    ),
    pytest.param(
        "bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: x\n",
        ["bad.yaml: malformed YAML: line"],
        id="malformed-yaml",
    ),
    pytest.param(
        "bad.json",
        '{"apiVersion": "v1", "kind": "Service",',
        ["bad.json: line 1: malformed JSON"],
        id="malformed-json",
    ),
    pytest.param(
        "peer.yaml",
        """
        apiVersion: projectcalico.org/v3
        kind: BGPPeer
        metadata: {name: tor-2}
        spec: {peerIP: 192.168.1.2, asNumber: 64512, password: {secretRef: {name: a, key: b}}, peerIPs: []}
        """,
        [
            "BGPPeer/tor-2: spec.peerIPs: unknown field",
            "BGPPeer/tor-2: spec.password.secretRef: unknown field",
        ],
        id="unknown-fields",
    ),
    pytest.param(
        "bgp.yaml",
        """
        apiVersion: projectcalico.org/v3
        kind: BGPConfiguration
        metadata: {name: default}
        spec:
          serviceClusterIPs: [{cidr: 10.49.0.0/33}, {cidr: 10.49.0.1/16}, {cidr: 10.49.0.1}]
          serviceExternalIPs: [{cidr: banana/24}]
        """,
        [
            'BGPConfiguration/default: spec.serviceClusterIPs[0].cidr: "10.49.0.0/33" is not a CIDR',
            'BGPConfiguration/default: spec.serviceClusterIPs[1].cidr: "10.49.0.1/16" has host bits set',
            'BGPConfiguration/default: spec.serviceClusterIPs[2].cidr: "10.49.0.1" is not a CIDR',
            'BGPConfiguration/default: spec.serviceExternalIPs[0].cidr: "banana/24" is not a CIDR',
        ],
        id="bad-cidrs",
    ),
    pytest.param(
        "peer.yaml",
        """
        apiVersion: projectcalico.org/v3
        kind: BGPPeer
        metadata: {name: tor-3}
        spec: {peerIP: 192.168.1.3, asNumber: 4294967296, localASNumber: "70000.1"}
        """,
        [
            "BGPPeer/tor-3: spec.asNumber: 4294967296 is out of range",
            'BGPPeer/tor-3: spec.localASNumber: "70000.1" is out of range',
        ],
        id="as-out-of-range",
    ),
    pytest.param(
        "svc.yaml",
        """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec: {clusterIP: 10.49.0.300, externalIPs: [not-an-ip], externalTrafficPolicy: Sometimes}
        """,
        [
            'Service/shop/web: spec.clusterIP: "10.49.0.300" is not an IP address',
            'Service/shop/web: spec.externalIPs[0]: "not-an-ip" is not an IP address',
            'Service/shop/web: spec.externalTrafficPolicy: "Sometimes" is not Local or Cluster',
        ],
        id="bad-service",
    ),
    pytest.param(
        "bgp.yaml",
        """
        apiVersion: projectcalico.org/v3
        kind: BGPConfiguration
        metadata: {name: default}
        spec:
          ignoredInterfaces: ['eth0"; protocol static evil { ipv4; route 0.0.0.0/0 blackhole; }']
        """,
        ["BGPConfiguration/default: spec.ignoredInterfaces[0]:"],
        id="interface-injection",
    ),
    pytest.param(
        "peer.yaml",
        """
        apiVersion: projectcalico.org/v3
        kind: BGPPeer
        metadata: {name: 'tor"; } protocol bgp evil {'}
        spec: {peerIP: 192.168.1.4, asNumber: 64512}
        """,
        # The name is shown quoted in the message, not as the object's name: it holds spaces.
        ['BGPPeer/?: metadata.name: "tor\\"; } protocol bgp evil {" is not a valid name'],
        id="name-injection",
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD_INPUTS)
def test_bad_input_is_reported_and_output_untouched(
    manifests: Path, existing: Path, name: str, text: str, expected: list[str]
) -> None:
    add(manifests, name, text)
    before = existing.stat()
    code, _, err = run("render", "-f", str(manifests), "--node", "node-1", "-o", str(existing))
    assert code == 1, err
    for line in expected:
        assert line in err
    assert existing.read_text() == PREVIOUS
    assert existing.stat().st_mtime_ns == before.st_mtime_ns
    assert not [p for p in existing.parent.iterdir() if p.name.startswith(".bird.conf.")], (
        "staged file left behind"
    )


def test_missing_node(manifests: Path, existing: Path) -> None:
    code, _, err = run("render", "-f", str(manifests), "--node", "node-9", "-o", str(existing))
    assert code == 1
    assert "Node/node-9: not found" in err
    assert existing.read_text() == PREVIOUS


# Every character BIRD cannot hold in a quoted string: it has no escapes, so `"` ends the string,
# a backslash is taken literally by some versions and not others, and control characters break
# lines or the parser.
UNQUOTABLE_PASSWORDS = [
    'x"; } protocol bgp evil { neighbor 10.6.6.6 as 666; #',
    "back\\slash",
    "trailing\\",
    "new\nline",
    "carriage\rreturn",
    "nul\x00byte",
    "tab\tchar",
    "del\x7fchar",
    "ansi\x1b[31mred",
]


@pytest.mark.parametrize("field", ["stringData", "data"])
@pytest.mark.parametrize("secret", UNQUOTABLE_PASSWORDS)
def test_password_bird_cannot_quote_is_rejected_without_echoing_it(
    manifests: Path, existing: Path, secret: str, field: str
) -> None:
    value = base64.b64encode(secret.encode()).decode() if field == "data" else secret
    add(
        manifests,
        "peer.yaml",
        """
        apiVersion: projectcalico.org/v3
        kind: BGPPeer
        metadata: {name: tor}
        spec: {peerIP: 192.168.1.1, asNumber: 64512, password: {secretKeyRef: {name: bgp, key: tor}}}
        """,
    )
    # JSON, so that every character reaches birdgen exactly as written.
    (manifests / "secret.json").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "bgp", "namespace": "kube-system"}, field: {"tor": value},
    }))  # fmt: skip
    result = CliRunner().invoke(
        main, ["render", "-f", str(manifests), "--node", "node-1", "-o", str(existing)]
    )
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.exit_code == 1
    assert (
        f"Secret/kube-system/bgp: {field}.tor: the BGP password contains a character BIRD cannot quote"
        in result.stderr
    )
    shown = secret.encode("unicode_escape").decode()
    for text in (result.stdout, result.stderr):
        assert secret not in text and shown not in text and "evil" not in text
    assert existing.read_text() == PREVIOUS


def test_every_problem_is_reported_at_once(manifests: Path) -> None:
    add(
        manifests,
        "peers.yaml",
        """
        apiVersion: projectcalico.org/v3
        kind: BGPPeer
        metadata: {name: a}
        spec: {peerIP: 1.2.3, asNumber: 1}
        ---
        apiVersion: projectcalico.org/v3
        kind: BGPPeer
        metadata: {name: b}
        spec: {peerIP: 10.0.0.1, asNumber: 1, keepOriginalNextHop: true, nextHopMode: Self}
        """,
    )
    code, _, err = run("render", "-f", str(manifests), "--node", "node-1")
    assert code == 1
    assert "BGPPeer/a: spec.peerIP" in err
    assert (
        "BGPPeer/b: spec.keepOriginalNextHop: cannot be set together with spec.nextHopMode" in err
    )


def test_render_writes_atomically_with_mode_0640_and_skips_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "bird.conf"
    code, _, err = run("render", "-f", str(EXAMPLE), "--node", "node-1", "-o", str(out))
    assert code == 0, err
    assert "written" in err
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert "route 10.49.62.131/32 blackhole;" in out.read_text()
    inode, mtime = out.stat().st_ino, out.stat().st_mtime_ns
    code, _, err = run("render", "-f", str(EXAMPLE), "--node", "node-1", "-o", str(out))
    assert code == 0
    assert "unchanged" in err
    assert (out.stat().st_ino, out.stat().st_mtime_ns) == (inode, mtime)


def test_check_runs_the_real_bird(tmp_path: Path) -> None:
    out = tmp_path / "bird.conf"
    code, _, err = run("render", "-f", str(EXAMPLE), "--node", "node-2", "-o", str(out), "--check")
    assert code == 0, err
    code, stdout, err = run("render", "-f", str(EXAMPLE), "--node", "node-2", "--check")
    assert code == 0, err
    assert stdout == out.read_text()


def test_check_failure_leaves_output_untouched(tmp_path: Path, existing: Path) -> None:
    # A BIRD that refuses everything: birdgen's own configs are always valid by construction,
    # so this is how the rejection path is reached. (tests/write covers real rejections.)
    fake = tmp_path / "refusing-bird"
    fake.write_text(
        '#!/bin/sh\necho "bird: $3:3:1 syntax error, unexpected CF_SYM_UNDEFINED" >&2\nexit 1\n'
    )
    fake.chmod(0o755)
    code, _, err = run(
        "render",
        "-f",
        str(EXAMPLE),
        "--node",
        "node-1",
        "-o",
        str(existing),
        "--check",
        "--bird",
        str(fake),
    )
    assert code == 1
    assert "BIRD rejected the generated configuration" in err
    assert f"{existing}:3:1 syntax error" in err
    assert existing.read_text() == PREVIOUS


def test_missing_bird_binary_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run(
        "render",
        "-f",
        str(EXAMPLE),
        "--node",
        "node-1",
        "--check",
        "--bird",
        str(tmp_path / "nope"),
    )
    assert code == 1
    assert "nope" in err
    # Nothing was rejected: BIRD never ran.
    assert err.startswith("birdgen: BIRD could not be run to check the configuration: ")
    assert "rejected" not in err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("render", "--node", "node-1")[0] == 2
    assert run("render", "--bogus")[0] == 2
    code, _, err = run("render", "-f", str(tmp_path / "nowhere"), "--node", "node-1")
    assert code == 2 and "does not exist" in err
    code, _, err = run("explain", "-f", str(tmp_path / "nowhere"), "--node", "node-1")
    assert code == 2 and "does not exist" in err


def test_no_manifest_read_is_said(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a manifest\n")
    code, out, err = run("render", "-f", str(empty), "--node", "node-1")
    assert code == 1 and out == ""
    assert f"birdgen: no manifest was read from {empty}: a directory is searched for" in err
    assert "Node/node-1" not in err


def test_stdin_and_node_from_environment() -> None:
    text = "\n---\n".join(p.read_text() for p in sorted(EXAMPLE.glob("*.yaml")))
    code, out, err = run("render", "-f", "-", stdin=text, env={"NODENAME": "node-3"})
    assert code == 0, err
    assert "router id 192.168.1.13;" in out
    assert "10.49.62.131/32" not in out  # node-3 has no nginx endpoint


def test_other_kinds_are_skipped_with_a_notice(manifests: Path) -> None:
    add(manifests, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n")
    code, _, err = run("render", "-f", str(manifests), "--node", "node-1")
    assert code == 0
    assert "skipping ConfigMap/settings (v1): not a kind birdgen reads" in err


def test_later_document_replaces_earlier(manifests: Path) -> None:
    add(
        manifests,
        "zz-override.yaml",
        """
        apiVersion: projectcalico.org/v3
        kind: BGPConfiguration
        metadata: {name: default}
        spec: {asNumber: 64512, serviceClusterIPs: [{cidr: 10.50.0.0/16}]}
        """,
    )
    code, out, _ = run("render", "-f", str(manifests), "--node", "node-1")
    assert code == 0
    assert "route 10.50.0.0/16 blackhole;" in out
    assert "10.49.0.0/16" not in out


def test_yaml_booleans_in_labels_read_as_kubectl_reads_them(manifests: Path) -> None:
    nodes = (
        (manifests / "nodes.yaml")
        .read_text()
        .replace(
            "  name: node-1\n",
            "  name: node-1\n  labels:\n    node.kubernetes.io/exclude-from-external-load-balancers: yes\n",
        )
    )
    (manifests / "nodes.yaml").write_text(nodes)
    code, out, _ = run("render", "-f", str(manifests), "--node", "node-1")
    assert code == 0
    assert "route 10.49" not in out  # yes -> "true": the node is excluded


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CALICO_ROUTER_ID": "hash", "NODENAME": "node-1"}, "router id 53.151.27.230;"),
        ({"CALICO_ROUTER_ID": "10.10.10.10", "NODENAME": "node-1"}, "router id 10.10.10.10;"),
        (
            {"CALICO_ADVERTISE_CLUSTER_IPS": "10.48.0.0/16", "NODENAME": "node-1"},
            "route 10.48.0.0/16 blackhole;",
        ),
    ],
)
def test_calico_environment_variables(env: dict[str, str], expected: str) -> None:
    code, out, err = run("render", "-f", str(EXAMPLE), env=env)
    assert code == 0, err
    assert expected in out


def test_bad_environment_variable() -> None:
    code, _, err = run(
        "render",
        "-f",
        str(EXAMPLE),
        "--node",
        "node-1",
        env={"CALICO_ADVERTISE_CLUSTER_IPS": "10.48.0.0"},
    )
    assert code == 1
    assert "CALICO_ADVERTISE_CLUSTER_IPS" in err


def test_explain_names_the_causes_and_hides_secrets(manifests: Path) -> None:
    add(
        manifests,
        "secret.yaml",
        """
        apiVersion: projectcalico.org/v3
        kind: BGPPeer
        metadata: {name: tor}
        spec: {peerIP: 192.168.1.1, asNumber: 64512, password: {secretKeyRef: {name: bgp, key: tor}}}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: bgp, namespace: kube-system}
        data: {tor: czNjcjN0LXZhbHVl}
        """,
    )
    code, out, err = run("explain", "-f", str(manifests), "--node", "node-1")
    assert code == 0, err
    assert (
        "10.49.62.131/32  Service default/nginx: externalTrafficPolicy=Local, ready endpoint on this node; within serviceClusterIPs 10.49.0.0/16"
        in out
    )
    assert "password from Secret kube-system/bgp key tor" in out
    assert "s3cr3t-value" not in out + err
    code, rendered, _ = run("render", "-f", str(manifests), "--node", "node-1")
    assert 'password "s3cr3t-value";' in rendered


def test_explain_prefix_filter() -> None:
    code, out, _ = run("explain", "-f", str(EXAMPLE), "--node", "node-3", "10.49.62.131")
    assert code == 0
    assert "not advertised: externalTrafficPolicy=Local, no ready endpoint on this node" in out
    assert "BGP sessions" not in out
    assert run("explain", "-f", str(EXAMPLE), "--node", "node-3", "banana")[0] == 2


def test_explain_says_a_prefix_is_outside_every_configured_range() -> None:
    code, out, _ = run("explain", "-f", str(EXAMPLE), "--node", "node-1", "172.16.0.1")
    assert code == 0
    assert (
        "  (none: 172.16.0.1/32 is outside every configured service range; ranges: 10.49.0.0/16)"
        in out.splitlines()
    )
    # Inside a range but matching no Service: a plain "(none)" would be wrong here too, as the
    # range itself is advertised; outside the walkthrough's ranges in IPv6 likewise says so.
    code, out, _ = run("explain", "-f", str(EXAMPLE), "--node", "node-1", "10.49.0.5")
    assert "10.49.0.0/16" in out and "outside" not in out
    code, out, _ = run("explain", "-f", str(EXAMPLE), "--node", "node-1", "fd00::1")
    assert "(none: fd00::1/128 is outside every configured service range" in out


def test_python_dash_m_is_the_same_command(tmp_path: Path) -> None:
    env = {**os.environ, "NODENAME": "node-1"}
    proc = subprocess.run(
        [sys.executable, "-m", "birdgen", "render", "-f", str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "router id 192.168.1.11;" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "birdgen", "render", "-f", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 2  # a usage error, as click reports them
    assert "does not exist" in bad.stderr


def test_hashed_router_id_matches_calico() -> None:
    from birdgen.model.values import hashed_router_id

    assert hashed_router_id("kube-master") == "25.79.212.8"  # Calico's test mesh/hash
