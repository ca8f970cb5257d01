"""model: the environment birdgen reads, as Calico's node agent reads the same variables."""

from __future__ import annotations

from birdgen.model.resources import Environment


def test_the_node_name_is_the_option_else_nodename_else_the_host_name_else_none() -> None:
    assert Environment.from_mapping("a", {"NODENAME": "b"}, "c").node_name == "a"
    assert Environment.from_mapping(None, {"NODENAME": "b"}, "c").node_name == "b"
    assert Environment.from_mapping(None, {"NODENAME": ""}, "c").node_name == "c"
    assert Environment.from_mapping(None, {}).node_name == ""


def test_the_other_variables_and_their_defaults() -> None:
    env = Environment.from_mapping("n", {})
    assert (env.k8s_node_ref, env.router_id, env.advertise_cluster_ips, env.secrets_namespace) == (
        "", "", "", "kube-system",
    )  # fmt: skip
    env = Environment.from_mapping(
        "n",
        {"CALICO_K8S_NODE_REF": "k", "CALICO_ROUTER_ID": "hash",
         "CALICO_ADVERTISE_CLUSTER_IPS": "10.96.0.0/12", "NAMESPACE": "bgp"},
    )  # fmt: skip
    assert (env.k8s_node_ref, env.router_id, env.advertise_cluster_ips, env.secrets_namespace) == (
        "k", "hash", "10.96.0.0/12", "bgp",
    )  # fmt: skip
