"""`LastValid`: which version of each object goes into the sidecar's config when some are
invalid, decided by the real pipeline. These pin the behaviour an incremental store reusing it
must keep."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from birdgen.errors import InvalidInput, Problem
from birdgen.model.resources import Environment
from birdgen.pipeline import Rendered, render_objects
from birdgen.sidecar.holding import Held, LastValid, bird_problems, blame
from birdgen.sources import files

WALKTHROUGH = Path(__file__).parents[2] / "examples" / "walkthrough"
ENV = Environment.from_mapping("node-1", {}, "node-1")
CALICO = "projectcalico.org/v3"


def render(objects: list[dict[str, Any]]) -> Rendered:
    return render_objects(objects, ENV)


def peer(name: str, ip: str, asn: Any = 64512) -> dict[str, Any]:
    spec = {"peerIP": ip, "asNumber": asn}
    return {"apiVersion": CALICO, "kind": "BGPPeer", "metadata": {"name": name}, "spec": spec}


def service(name: str, ip: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "ClusterIP", "clusterIP": ip},
    }


def base() -> list[dict[str, Any]]:
    return files.load([str(WALKTHROUGH)])


def resolve(holder: LastValid, objects: list[dict[str, Any]]) -> tuple[str, tuple[Held, ...]]:
    resolution = holder.resolve(objects, render)
    holder.accept(resolution)
    return resolution.result.text, resolution.held


def test_all_valid_renders_as_birdgen_render_does() -> None:
    objects = [*base(), peer("extra", "192.168.1.50")]
    text, held = resolve(LastValid(), objects)
    assert held == () and text == render(objects).text


def test_an_object_turned_invalid_is_held_at_its_last_valid_version() -> None:
    holder = LastValid()
    resolve(holder, [*base(), peer("extra", "192.168.1.50")])
    text, held = resolve(holder, [*base(), peer("extra", "192.168.1.51", asn=-1), service("new", "10.49.7.7")])  # fmt: skip
    assert [(h.kind, h.name, h.state) for h in held] == [("BGPPeer", "extra", "held")]
    assert "asNumber" in held[0].reason
    assert "neighbor 192.168.1.50 as 64512" in text and "192.168.1.51" not in text
    assert text == render([*base(), peer("extra", "192.168.1.50"), service("new", "10.49.7.7")]).text  # fmt: skip


def test_an_object_never_valid_is_left_out() -> None:
    holder = LastValid()
    text, held = resolve(holder, [*base(), peer("bad", "1.2.3")])
    assert [(h.kind, h.name, h.state) for h in held] == [("BGPPeer", "bad", "left out")]
    assert str(held[0]).startswith("BGPPeer/bad: left out") and "spec.peerIP" in str(held[0])
    assert text == render(base()).text


def test_a_fixed_object_is_released_and_becomes_its_new_last_valid_version() -> None:
    holder = LastValid()
    resolve(holder, [*base(), peer("extra", "192.168.1.50")])
    resolve(holder, [*base(), peer("extra", "192.168.1.51", asn=-1)])
    text, held = resolve(holder, [*base(), peer("extra", "192.168.1.52")])
    assert held == () and "192.168.1.52" in text
    _, held = resolve(holder, [*base(), peer("extra", "192.168.1.53", asn=-1)])
    assert held[0].state == "held"
    assert "192.168.1.52" in resolve(holder, [*base(), peer("extra", "192.168.1.53", asn=-1)])[0]


def test_a_deleted_object_is_forgotten_not_held() -> None:
    holder = LastValid()
    resolve(holder, [*base(), peer("extra", "192.168.1.50")])
    resolve(holder, base())  # deleted
    text, held = resolve(holder, [*base(), peer("extra", "192.168.1.51", asn=-1)])
    assert [h.state for h in held] == ["left out"] and "192.168.1.50" not in text


def test_unaccepted_versions_do_not_become_last_valid() -> None:
    # A resolution whose config BIRD then refused is never accepted: the version before stays.
    holder = LastValid()
    resolve(holder, [*base(), peer("extra", "192.168.1.50")])
    holder.resolve([*base(), peer("extra", "192.168.1.60")], render)  # not accepted
    text, held = resolve(holder, [*base(), peer("extra", "192.168.1.61", asn=-1)])
    assert held[0].state == "held" and "192.168.1.50" in text and "192.168.1.60" not in text


def test_a_problem_naming_no_present_object_fails_the_whole_render() -> None:
    holder = LastValid()
    nodes_gone = [o for o in base() if o["kind"] != "Node"]
    with pytest.raises(InvalidInput) as info:
        holder.resolve([*nodes_gone, peer("bad", "1.2.3")], render)
    assert any(p.kind == "Node" and p.name == "node-1" for p in info.value.problems)


def test_blamed_problems_hold_then_leave_out() -> None:
    holder = LastValid()
    resolve(holder, [*base(), peer("extra", "192.168.1.50")])
    objects = [*base(), peer("extra", "192.168.1.51")]
    blamed = Problem("BGPPeer", "extra", "", "BIRD refuses the config it makes")
    once = holder.resolve(objects, render, [blamed])
    assert [h.state for h in once.held] == ["held"] and "192.168.1.50" in once.result.text
    twice = holder.resolve(objects, render, [blamed, blamed])
    assert [h.state for h in twice.held] == ["left out"] and "192.168.1.5" not in twice.result.text
    with pytest.raises(InvalidInput):
        holder.resolve(objects, render, [blamed, blamed, blamed])


def test_objects_without_a_usable_name_are_left_out_and_reported() -> None:
    nameless = {"apiVersion": CALICO, "kind": "BGPPeer", "metadata": {}, "spec": {}}
    text, held = resolve(LastValid(), [*base(), nameless])
    assert [(h.kind, h.state) for h in held] == [("BGPPeer", "left out")]
    assert text == render(base()).text


def test_blame_maps_problems_to_keys_as_the_model_keys_objects() -> None:
    present = {("Service", "web", "nginx"), ("Node", "", "n1"), ("KubeNode", "", "n1"), ("BGPPeer", "", "x")}  # fmt: skip
    assert blame(Problem("Service", "web/nginx", "spec", "m"), present) == {("Service", "web", "nginx")}  # fmt: skip
    assert blame(Problem("Node", "n1", "", "m"), present) == {("Node", "", "n1"), ("KubeNode", "", "n1")}  # fmt: skip
    assert blame(Problem("BGPPeer", "x", "", "m"), present) == {("BGPPeer", "", "x")}
    assert blame(Problem("environment", "CALICO_ROUTER_ID", "", "m"), present) == set()
    assert blame(Problem("Service", "nginx", "", "m"), present) == set()


def test_input_objects_are_not_modified() -> None:
    objects = [*base(), peer("bad", "1.2.3")]
    before = copy.deepcopy(objects)
    resolve(LastValid(), objects)
    assert objects == before


# ---- tracing BIRD's refusal to an object -------------------------------------------------------

LOCAL = """
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: web}
spec: {type: NodePort, clusterIP: 10.49.3.3, externalTrafficPolicy: Local}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: shop-1, namespace: web, labels: {kubernetes.io/service-name: shop}}
addressType: IPv4
endpoints: [{addresses: [10.48.0.1], nodeName: node-1, conditions: {ready: true}}]
"""


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_bird_refusing_a_service_route_names_the_service() -> None:
    rendered = render([*base(), *files.parse_text(LOCAL, "<local>")])
    n = line_of(rendered.text, "route 10.49.3.3/32 blackhole;")
    problems = bird_problems(f"/run/.bird.conf.x.tmp:{n}:11 syntax error", rendered.text, rendered.plan)  # fmt: skip
    assert [(p.kind, p.name) for p in problems] == [("Service", "web/shop")]
    assert f"line {n}: syntax error" in problems[0].message


def test_bird_refusing_a_session_line_names_the_peer() -> None:
    rendered = render(base())
    start = line_of(rendered.text, "protocol bgp Global_192_168_1_1")
    problems = bird_problems(f"f:{start + 1}:3 bad", rendered.text, rendered.plan)
    assert [(p.kind, p.name) for p in problems] == [("BGPPeer", "tor")]


@pytest.mark.parametrize("where", ["router id", "function birdgen_priority_v4", "protocol kernel"])
def test_bird_refusing_anything_else_names_nothing(where: str) -> None:
    rendered = render(base())
    n = line_of(rendered.text, where)
    assert bird_problems(f"f:{n + 1}:1 bad", rendered.text, rendered.plan) == []
    assert bird_problems("no position at all", rendered.text, rendered.plan) == []
    assert bird_problems("f:99999:1 beyond the end", rendered.text, rendered.plan) == []


def test_an_object_of_no_kind_birdgen_reads_is_noticed_whether_or_not_one_is_held() -> None:
    # The usual step renders the objects as given; a step holding one indexes them. An
    # object birdgen skips (a ConfigMap in a -f file) must be said to be skipped either way.
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "d"}}
    holder = LastValid()
    plain = holder.resolve([*base(), other], render)
    holder.accept(plain)
    holding = holder.resolve([*base(), other, peer("bad", "1.2.3")], render)
    assert [h.state for h in holding.held] == ["left out"]
    skipped = [n for n in render([*base(), other]).notices if "ConfigMap" in n]
    assert skipped
    assert [n for n in plain.result.notices if "ConfigMap" in n] == skipped
    assert [n for n in holding.result.notices if "ConfigMap" in n] == skipped
