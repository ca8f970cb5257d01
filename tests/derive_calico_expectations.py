"""Record what Calico's own goldens decide, as data for tests/test_calico_corpus.py.

    .venv/bin/python tests/derive_calico_expectations.py GIT_DIR [SCENARIO ...]

GIT_DIR is a clone of projectcalico/calico (a bare one will do). For each scenario in
`SCENARIOS` this copies the corpus inputs (`confd/tests/mock_data/calicoctl/<dir>/`) into
`golden/calico-<name>/input/`, then reads Calico's compiled goldens
(`confd/tests/compiled_templates/<dir>/`) and writes `golden/calico-<name>/expected.json`:

* `sessions`: every BGP session, its local AS and its statements (bird.cfg and bird6.cfg);
* `routes`: the service routes Calico originates (the static routes of bird_aggr.cfg and
  bird6_aggr.cfg after "# Static routes.", i.e. without the IPAM blocks the harness creates);
* `candidates`: routes to decide about, and `export` / `import`: for every session, which of
  them its export (import) filter accepts and with which BGP attributes and preference. These
  come from Calico's filter code itself, run by the real BIRD 2 (Calico writes BIRD 1.x, whose
  filter language BIRD 2 also loads for everything these goldens use), over static twins.

Nothing of Calico's is kept but the inputs and these decisions. Run it again to refresh them
from a newer Calico; review `git diff golden/`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from bird_meaning import (
    Candidate,
    decide,
    functions,
    listen,
    node_settings,
    sessions,
    static_protocol,
    view,
)

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden"
MOCK = "confd/tests/mock_data/calicoctl"
COMPILED = "confd/tests/compiled_templates"


class Scenario(NamedTuple):
    mock: str  # under confd/tests/mock_data/calicoctl/
    compiled: str = ""  # under confd/tests/compiled_templates/; default: the same as `mock`
    node: str = "kube-master"
    env: dict[str, str] = {}  # noqa: RUF012 - never mutated
    step: str = ""  # a daemon-test step: <mock>/<step>/input.yaml applied on top of the base


# golden/calico-<name> -> where its inputs and goldens are in Calico's tree.
SCENARIOS: dict[str, Scenario] = {
    "static-routes": Scenario("mesh/static-routes"),
    "static-routes-exclude-node": Scenario("mesh/static-routes-exclude-node"),
    "communities": Scenario("mesh/communities"),
    "restart-time": Scenario("mesh/restart-time"),
    "route-reflector-mesh-enabled": Scenario("mesh/route-reflector-mesh-enabled"),
    "hash": Scenario("mesh/hash", env={"CALICO_ROUTER_ID": "hash"}),
    "explicit-global": Scenario("explicit_peering/global"),
    "explicit-global-external": Scenario("explicit_peering/global-external"),
    "explicit-global-ipv6": Scenario("explicit_peering/global-ipv6"),
    "explicit-keepnexthop": Scenario("explicit_peering/keepnexthop"),
    "explicit-local-as": Scenario("explicit_peering/local-as"),
    "explicit-route-reflector": Scenario("explicit_peering/route_reflector"),
    "explicit-selectors": Scenario("explicit_peering/selectors"),
    "explicit-specific-node": Scenario("explicit_peering/specific_node"),
    "next-hop-global": Scenario("next_hop_mode/global_peers"),
    "next-hop-route-reflectors": Scenario("next_hop_mode/route_reflectors"),
    "reachable-by-global": Scenario("reachable_by/global_peers"),
    "reachable-by-route-reflectors": Scenario("reachable_by/route_reflectors"),
    "reverse-auto": Scenario("reverse_peering/auto"),
    "reverse-manual": Scenario("reverse_peering/manual"),
    "ttl-explicit-node": Scenario("ttl_security/explicit_node"),
    "ttl-global": Scenario("ttl_security/global"),
    "bgpfilter-as-path-priority": Scenario("bgpfilter/as_path_and_priority"),
    "bgpfilter-communities-operations": Scenario("bgpfilter/communities_and_operations"),
    "bgpfilter-large-community": Scenario("bgpfilter/large_community"),
    "bgpfilter-match-operators": Scenario("bgpfilter/match_operators"),
    "bgpfilter-peer-type": Scenario("bgpfilter/peer_type"),
    "bgpfilter-multi-filter-explicit": Scenario("bgpfilter/multi_filter/explicit_peer"),
    "bgpfilter-kubevirt": Scenario("bgpfilter/kubevirt_live_migration"),
    "bgpfilter-node-mesh": Scenario("bgpfilter/node_mesh"),
    "bgpfilter-export-only-explicit": Scenario("bgpfilter/export_only/explicit_peer"),
    "bgpfilter-export-only-global": Scenario("bgpfilter/export_only/global_peer"),
    "bgpfilter-import-only-explicit": Scenario("bgpfilter/import_only/explicit_peer"),
    "bgpfilter-import-only-global": Scenario("bgpfilter/import_only/global_peer"),
    "bgpfilter-filter-names": Scenario("bgpfilter/filter_names"),
    "bgpfilter-match-interface": Scenario("bgpfilter/match_interface"),
    "bgpfilter-match-source": Scenario("bgpfilter/match_source"),
    "bgpfilter-multi-filter-global": Scenario("bgpfilter/multi_filter/global_peer"),
    "bgpfilter-single-filter-explicit": Scenario("bgpfilter/single_filter/explicit_peer"),
    "bgpfilter-single-filter-global": Scenario("bgpfilter/single_filter/global_peer"),
    "bgpfilter-v4-only-explicit": Scenario("bgpfilter/v4_only/explicit_peer"),
    "bgpfilter-v4-only-global": Scenario("bgpfilter/v4_only/global_peer"),
    "bgpfilter-v6-only-explicit": Scenario("bgpfilter/v6_only/explicit_peer"),
    "bgpfilter-v6-only-global": Scenario("bgpfilter/v6_only/global_peer"),
    "explicit-keepnexthop-global": Scenario("explicit_peering/keepnexthop-global"),
    "explicit-local-as-global": Scenario("explicit_peering/local-as-global"),
    "explicit-local-as-global-ipv6": Scenario("explicit_peering/local-as-global-ipv6"),
    "explicit-local-as-ipv6": Scenario("explicit_peering/local-as-ipv6"),
    "explicit-route-reflector-v6-by-ip": Scenario("explicit_peering/route_reflector_v6_by_ip"),
    "ignored-interfaces": Scenario("ignored_interfaces"),
    "ttl-peer-selector": Scenario("ttl_security/peer_selector"),
    "static-routes-no-ipv4-address": Scenario(
        "mesh/static-routes-no-ipv4-address", env={"CALICO_ROUTER_ID": "10.10.10.10"}
    ),
    "sourceaddr-gracefulrestart": Scenario(
        "sourceaddr_gracefulrestart", compiled="sourceaddr_gracefulrestart/step1", node="node1"
    ),
    "communities-step2": Scenario("mesh/communities", step="step2"),
    "explicit-selectors-step2": Scenario("explicit_peering/selectors", step="step2"),
    "static-routes-step2": Scenario("mesh/static-routes", step="step2"),
    "static-routes-exclude-node-step2": Scenario("mesh/static-routes-exclude-node", step="step2"),
    "password-step1": Scenario("password", compiled="password/step1", node="node1"),
    "password-step3": Scenario("password", compiled="password/step3", node="node1"),
    "password-step6": Scenario("password", compiled="password/step6", node="node1"),
    "mesh-password-step1": Scenario("mesh_password", compiled="mesh/password/step1"),
    "mesh-password-step2": Scenario("mesh_password", compiled="mesh/password/step2"),
    "mesh-password-step3": Scenario("mesh_password", compiled="mesh/password/step3"),
}


def _secret(name: str, data: dict[str, str]) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": name, "namespace": "kube-system"}, "stringData": data},
        sort_keys=False,
    )  # fmt: skip


# The daemon tests (confd/tests/daemon_test.go) create Secrets between steps; each step's state
# as manifests.
_STEP = "# The Secrets of this step of confd/tests/daemon_test.go, as manifests.\n"
EXTRA_INPUTS: dict[str, str] = {
    "password-step3": _STEP
    + _secret("my-secrets-1", {"b": "password-b", "a": "password-a"})
    + "---\n"
    + _secret("my-secrets-2", {"c": "password-c"}),
    "password-step6": _STEP + _secret("my-secrets-1", {"b": "new-password-b"}),
    "mesh-password-step2": _STEP + _secret("my-secrets-1", {"a": "password-a"}),
    "mesh-password-step3": _STEP + _secret("my-secrets-1", {"a": "new-password-a"}),
}

OUTSIDE = {4: "203.0.113.0/24", 6: "2001:db8:ffff::/48"}


def git_show(git_dir: str, path: str) -> str | None:
    done = subprocess.run(
        ["git", "--git-dir", git_dir, "show", f"HEAD:{path}"], capture_output=True, text=True
    )
    return done.stdout if done.returncode == 0 else None


def originated(aggr: str) -> list[str]:
    """The service routes of a Calico _aggr file: the static routes after "# Static routes."."""
    marker = aggr.find("# Static routes.")
    if marker < 0:
        return []
    return re.findall(r"route (\S+) blackhole;", aggr[marker : aggr.index("}", marker)])


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def _upsert(base: list[dict[str, Any]], delta: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(d: dict[str, Any]) -> tuple[str, str]:
        return (str(d.get("kind")), str((d.get("metadata") or {}).get("name")))

    replaced = {key(d) for d in delta}
    return [d for d in base if key(d) not in replaced] + delta


def candidates(inputs: list[dict[str, Any]], own: list[str], family: int) -> list[Candidate]:
    """The routes to decide about: every route Calico originates, a host route inside each
    configured service range that the node does not originate (an address held on an
    interface), a prefix outside every range, and one route per BGPFilter rule shaped to
    match it."""
    out = [Candidate(p, own=True) for p in own]
    seen = set(own)

    def add(c: Candidate) -> None:
        if c.prefix not in seen:
            seen.add(c.prefix)
            out.append(c)

    for doc in inputs:
        spec = doc.get("spec") or {}
        if doc.get("kind") == "BGPConfiguration":
            for key in ("serviceClusterIPs", "serviceExternalIPs", "serviceLoadBalancerIPs"):
                for item in spec.get(key) or []:
                    cidr = (item or {}).get("cidr")
                    if not cidr or ipaddress.ip_network(cidr).version != family:
                        continue
                    net = ipaddress.ip_network(cidr)
                    host = (
                        net.broadcast_address - 1 if net.num_addresses > 2 else net.network_address
                    )
                    add(Candidate(f"{host}/{net.max_prefixlen}"))
        if doc.get("kind") == "BGPFilter":
            for direction in ("import", "export"):
                for rule in spec.get(f"{direction}V{family}") or []:
                    add_rule_candidates(rule, family, len(out), add)
    add(Candidate(OUTSIDE[family]))
    return out


def add_rule_candidates(rule: dict[str, Any], family: int, index: int, add: Any) -> None:
    """Routes shaped to meet `rule`: inside its CIDR (at its minimum prefix length), with its
    AS-path prefix, community and priority (local preference and kernel metric, since the
    export filter derives one from the other); plus the same prefix bare, which must not."""
    cidr = rule.get("cidr")
    if cidr:
        net = ipaddress.ip_network(cidr)
        low = (rule.get("prefixLength") or {}).get("min", net.prefixlen)
        base = str(next(net.subnets(new_prefix=max(low, net.prefixlen))))
    else:
        base = f"198.51.{100 + index}.0/24" if family == 4 else f"2001:db8:{0x100 + index:x}::/48"
    attrs: dict[str, Any] = {}
    if rule.get("asPathPrefix"):
        attrs["as_path"] = tuple(int(a) for a in rule["asPathPrefix"])
    if (rule.get("communities") or {}).get("values"):
        attrs["communities"] = tuple(
            tuple(int(x) for x in v.split(":")) for v in rule["communities"]["values"]
        )
    if rule.get("priority"):
        attrs["local_pref"] = 2147483647 - int(rule["priority"])
        attrs["krt_metric"] = int(rule["priority"])
    add(Candidate(base, **attrs))
    if attrs and not cidr:
        bare = f"198.51.{150 + index}.0/24" if family == 4 else f"2001:db8:{0x150 + index:x}::/48"
        add(Candidate(bare))


def of_family(cands: list[Candidate], family: int) -> list[Candidate]:
    return [c for c in cands if ipaddress.ip_network(c.prefix).version == family]


def calico_decisions(
    files: dict[str, str], family: int, cands: list[Candidate], work: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Calico's filter code with the candidates as static twins: per session, what its export
    filter sends and what its import filter takes (with twins at BGP's preference, 100)."""
    main = files[f"bird{'' if family == 4 else '6'}.cfg"]
    aggr = files[f"bird{'' if family == 4 else '6'}_aggr.cfg"]
    ipam = files[f"bird{'' if family == 4 else '6'}_ipam.cfg"]
    sess = sessions(main)
    head = [f"router id 10.255.255.{family};", "protocol device { scan time 2; }"]
    for text in (main, aggr, ipam):
        head += functions(text)
    out: dict[str, dict[str, Any]] = {"export": {}, "import": {}}
    for direction, twins_pref in (("export", ""), ("import", " { preference 100; }")):
        names = {}
        parts = list(head)
        for i, s in enumerate(sorted(sess)):
            if direction in sess[s].filters:
                names[f"meaning_{direction}_{i}"] = s
                parts.append(f"filter meaning_{direction}_{i} {{{sess[s].filters[direction]}}}")
        if not names or not cands:
            continue
        parts.append(static_protocol("twins", family, cands, twins_pref))
        got = decide("\n".join(parts) + "\n", names, work / direction, min_routes=len(cands))
        out[direction] = {s: got[f] for f, s in names.items()}
    return view(out["export"], "export"), view(out["import"], "import")


def derive(git_dir: str, name: str) -> None:
    mock, compiled, node, env, step = SCENARIOS[name]
    compiled = compiled or (f"{mock}/{step}" if step else mock)
    dest = GOLDEN / f"calico-{name}"
    inputs_dir = dest / "input"
    if inputs_dir.exists():
        shutil.rmtree(inputs_dir)
    inputs_dir.mkdir(parents=True)
    inputs: list[dict[str, Any]] = []
    copied = []
    for fname in ("input.yaml", "kubectl-input.yaml"):
        text = git_show(git_dir, f"{MOCK}/{mock}/{fname}")
        if text is not None:
            (inputs_dir / fname).write_text(text)
            inputs += _docs(text)
            copied.append(fname)
    if step:
        # Named to sort after the base files: a later document replaces an earlier one.
        text = git_show(git_dir, f"{MOCK}/{mock}/{step}/input.yaml")
        assert text is not None, f"{mock}/{step}/input.yaml"
        (inputs_dir / f"{step}-input.yaml").write_text(text)
        inputs = _upsert(inputs, _docs(text))
        copied.append(f"{step}-input.yaml")
    if name in EXTRA_INPUTS:
        (inputs_dir / "secrets.yaml").write_text(EXTRA_INPUTS[name])
        copied.append("secrets.yaml")
    (dest / "node").write_text(node + "\n")
    if env:
        (dest / "env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    files = {}
    for fam_suffix in ("", "6"):
        for kind in ("", "_aggr", "_ipam"):
            fname = f"bird{fam_suffix}{kind}.cfg"
            text = git_show(git_dir, f"{COMPILED}/{compiled}/{fname}")
            if text is None:
                raise SystemExit(f"{compiled}/{fname} not found in {git_dir}")
            files[fname] = text
    expected: dict[str, Any] = {
        "origin": {
            "inputs": [
                "confd/tests/daemon_test.go"
                if f == "secrets.yaml"
                else f"{MOCK}/{mock}/{step}/input.yaml"
                if step and f == f"{step}-input.yaml"
                else f"{MOCK}/{mock}/{f}"
                for f in copied
            ],
            "goldens": f"{COMPILED}/{compiled}/",
            "commit": subprocess.run(
                ["git", "--git-dir", git_dir, "rev-parse", "HEAD"],
                capture_output=True, text=True, check=True,
            ).stdout.strip(),
        },
        "node": {
            **node_settings(files["bird.cfg"]),
            "listen v4": listen(files["bird.cfg"], 4),
            "listen v6": listen(files["bird6.cfg"], 6),
        },
        "sessions": {},
        "routes": {},
        "candidates": {},
        "export": {},
        "import": {},
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="calico-derive-") as tmp:
        for family in (4, 6):
            suffix = "" if family == 4 else "6"
            sess = sessions(files[f"bird{suffix}.cfg"])
            expected["sessions"].update({k: v.summary() for k, v in sess.items()})
            own = originated(files[f"bird{suffix}_aggr.cfg"])
            expected["routes"][str(family)] = own
            cands = of_family(candidates(inputs, own, family), family)
            expected["candidates"][str(family)] = [c.to_json() for c in cands]
            export, imported = calico_decisions(files, family, cands, Path(tmp) / str(family))
            expected["export"].update(export)
            expected["import"].update(imported)
    (dest / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    listed = ", ".join(f"`{f}`" for f in copied if f != "secrets.yaml")
    if step:
        listed = listed.replace(
            f"`{step}-input.yaml`", f"`{step}/input.yaml` (as `{step}-input.yaml`)"
        )
    secrets = (
        "; `secrets.yaml`: the Secrets this step of `confd/tests/daemon_test.go` creates, "
        "written as manifests"
        if "secrets.yaml" in copied
        else ""
    )
    (dest / "README.md").write_text(
        f"# calico-{name}\n\n"
        f"A scenario of Calico's confd test corpus (projectcalico/calico at "
        f"{expected['origin']['commit'][:12]}).\n\n"
        f"* `input/`: {listed} of `{MOCK}/{mock}/`, unchanged{secrets}.\n"
        f"* `expected.json`: what Calico's goldens in `{expected['origin']['goldens']}` mean "
        "(sessions, service routes, and each session's filter decisions over `candidates`, run "
        "by BIRD 2), recorded by `tests/derive_calico_expectations.py`.\n"
        "* `bird.conf`, `explain.txt`: what birdgen renders (tests/test_golden.py).\n\n"
        "tests/test_calico_corpus.py compares birdgen's meaning with `expected.json`; "
        "`divergences.json`, where present, lists what differs on purpose and why.\n"
    )
    print(f"calico-{name}: {len(expected['sessions'])} sessions, "
          f"{sum(len(v) for v in expected['routes'].values())} routes")  # fmt: skip


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    git_dir, names = argv[0], argv[1:] or sorted(SCENARIOS)
    for name in names:
        derive(git_dir, name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
