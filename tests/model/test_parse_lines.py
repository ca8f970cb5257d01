"""model/parse: what is said about objects that are not read (a notice naming kind, name and
apiVersion), objects that cannot even be named (a problem), and the Secrets a cluster's peers
take passwords from (what birdgen must be granted). Written by hand, compared whole."""

from __future__ import annotations

from typing import Any

import pytest

from birdgen.errors import InvalidInput
from birdgen.model.parse import index, parse_cluster, parse_object, referenced_secrets

CALICO = "projectcalico.org/v3"


@pytest.mark.parametrize(
    ("obj", "notice"),
    [
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
         "skipping ConfigMap/cm (v1): not a kind birdgen reads"),
        # an apiVersion with its group, as nearly all have, is shown as it is
        ({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
         "skipping Deployment/d (apps/v1): not a kind birdgen reads"),
        ({"apiVersion": "projectcalico.org/v2", "kind": "BGPPeer", "metadata": {"name": "p"}},
         "skipping BGPPeer/p (projectcalico.org/v2): not a kind birdgen reads"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": "x"},
         "skipping ConfigMap/? (v1): not a kind birdgen reads"),
        ({"apiVersion": "v1", "kind": "Foo bar", "metadata": {"name": "a b"}},
         "skipping ?/? (v1): not a kind birdgen reads"),
        ({"apiVersion": "a (b)", "kind": "X/Y", "metadata": {"name": "n:1"}},
         "skipping ?/? (?): not a kind birdgen reads"),
        ({"apiVersion": 5, "kind": ["x"]}, "skipping ?/? (?): not a kind birdgen reads"),
        # one character, up to 100 characters, an "X": itself; empty or longer: "?"
        ({"apiVersion": "v1", "kind": "XRD", "metadata": {"name": "a"}},
         "skipping XRD/a (v1): not a kind birdgen reads"),
        ({"apiVersion": "v1", "kind": "K" * 100, "metadata": {"name": "n"}},
         f"skipping {'K' * 100}/n (v1): not a kind birdgen reads"),
        ({"apiVersion": "v1", "kind": "K" * 101, "metadata": {"name": "n"}},
         "skipping ?/n (v1): not a kind birdgen reads"),
        ({"apiVersion": "v1", "kind": "", "metadata": {"name": "n"}},
         "skipping ?/n (v1): not a kind birdgen reads"),
        ("just text", "skipping ?/? (?): not a kind birdgen reads"),
        ({"apiVersion": CALICO, "kind": "BGPConfiguration", "metadata": {"name": "other"}, "spec": {}},
         'BGPConfiguration/other: ignored: only "default" and "node.<node name>" are used'),
    ],
)  # fmt: skip
def test_an_object_not_read_is_named_in_a_notice(obj: Any, notice: str) -> None:
    assert list(parse_cluster([obj]).warnings) == [notice]


@pytest.mark.parametrize(
    ("obj", "line"),
    [
        ({"apiVersion": "v1", "kind": "Service"}, "Service/?: metadata: is required"),
        ({"apiVersion": "v1", "kind": "Node", "metadata": None}, "Node/?: metadata: is required"),
        ({"apiVersion": CALICO, "kind": "BGPPeer", "metadata": {"name": "Bad_Name"}},
         'BGPPeer/Bad_Name: metadata.name: "Bad_Name" is not a valid name (lower-case RFC 1123 subdomain)'),
        ({"apiVersion": CALICO, "kind": "BGPPeer", "metadata": {"name": "x" * 300}},
         f'BGPPeer/?: metadata.name: "{"x" * 100}"... (300 characters) is not a valid name (lower-case RFC 1123 subdomain)'),
        ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "Bad_NS"}},
         'Service/s: metadata.namespace: "Bad_NS" is not a valid name (lower-case RFC 1123 subdomain)'),
        ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": 5}},
         "Service/s: metadata.namespace: 5 is not a valid name"),
    ],
)  # fmt: skip
def test_an_object_that_cannot_be_named_is_refused_with_this_line(obj: Any, line: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_cluster([obj])
    assert [str(p) for p in info.value.problems] == [line]


def service(name: str, ip: str, namespace: str | None = None) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {"clusterIP": ip}}


def test_a_service_without_namespace_is_in_default_and_a_later_one_replaces_it() -> None:
    cluster = parse_cluster(
        [
            service("s", "10.0.0.1"),
            service("s", "10.0.0.2", "default"),
            service("s", "10.0.0.3", "b"),
        ]
    )
    assert [(s.namespace, s.name, s.cluster_ip) for s in cluster.services] == [
        ("b", "s", "10.0.0.3"),
        ("default", "s", "10.0.0.2"),
    ]


def peer(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": CALICO, "kind": "BGPPeer", "metadata": {"name": name},
            "spec": {"peerIP": "10.0.0.9", "asNumber": 65001, **spec}}  # fmt: skip


def config(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": CALICO, "kind": "BGPConfiguration", "metadata": {"name": name},
            "spec": spec}  # fmt: skip


def test_the_secrets_referenced_are_those_of_peers_and_of_the_default_mesh_password() -> None:
    def ref(name: str) -> dict[str, Any]:
        return {"secretKeyRef": {"name": name, "key": "k"}}

    objects = [
        peer("a", password=ref("peer-a")),
        peer("b"),
        peer("c", password=ref("shared")),
        peer("d", password=ref("shared")),
        peer("bad", password=ref("never"), asNumber="x"),  # refused: its Secret is not needed
        config("default", nodeMeshPassword=ref("mesh")),
        config("node.n1", nodeMeshPassword=ref("not-read")),  # refused: the default's field only
        service("s", "10.0.0.1"),
    ]
    assert referenced_secrets(parse_object(o) for o in objects) == {"peer-a", "shared", "mesh"}


def test_index_keys_raw_and_parsed_objects_alike_and_collects_what_has_no_key() -> None:
    """The sidecar's holding keys its objects with `index`: a later object replaces an
    earlier one of the same key, whether raw or parsed; one without a key is said."""
    raw = service("s", "10.0.0.1")
    parsed = parse_object(service("s", "10.0.0.2", "default"))
    problems: list[Any] = []
    notices: list[str] = []
    objects = [
        raw,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
        parsed,
        parse_object({"apiVersion": "v1", "kind": "Service"}),
        parse_object({"apiVersion": "v1", "kind": "Other", "metadata": {"name": "o"}}),
        service("t", "10.0.0.3", "b"),
    ]
    out = index(objects, problems, notices)
    assert list(out.items()) == [
        (("Service", "default", "s"), parsed),
        (("Service", "b", "t"), objects[-1]),
    ]
    assert [str(p) for p in problems] == ["Service/?: metadata: is required"]
    assert notices == [
        "skipping ConfigMap/c (v1): not a kind birdgen reads",
        "skipping Other/o (v1): not a kind birdgen reads",
    ]
