"""The kube source's requests are the ones the client's generated API methods make.

`KubeSource` builds its lists and watches with the client's `ApiClient` (`param_serialize`,
`call_api`) instead of the generated `CoreV1Api`, `DiscoveryV1Api` and `CustomObjectsApi`,
whose modules import hundreds of model classes the sidecar would keep in memory for nothing
(it reads every response raw). Here both make the same request against the API double, over
real HTTP with birdgen's ServiceAccount token and the RBAC of `deploy/`, and the double's log
must show the same method, path, query and answer: a client upgrade that changes how the
generated methods build requests fails here rather than in a cluster.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubeapi_server import FakeApiServer, new_api_client
from kubernetes import client

from birdgen.sources.kube import KubeSource, ResourceType, resource_types, secret_type

CALICO = ("crd.projectcalico.org", "v1")


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=60) as srv:
        srv.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "default"}, "spec": {}})  # fmt: skip
        srv.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bgp-secrets", "namespace": "kube-system"}, "data": {}})  # fmt: skip
        yield srv


@pytest.fixture
def api_client(server: FakeApiServer, tmp_path: Path) -> Iterator[Any]:
    api = new_api_client(server.kubeconfig(tmp_path / "kubeconfig"))
    yield api
    api.close()


def generated(api_client: Any, rtype: ResourceType) -> Callable[..., Any]:
    """The generated list method for `rtype`, as birdgen called it before."""
    core, discovery = client.CoreV1Api(api_client), client.DiscoveryV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    methods: dict[str, Callable[..., Any]] = {
        "services": core.list_service_for_all_namespaces,
        "endpoints": core.list_endpoints_for_all_namespaces,
        "nodes": core.list_node,
        "endpointslices.discovery.k8s.io": discovery.list_endpoint_slice_for_all_namespaces,
    }
    if rtype.plural == "secrets":
        return lambda **kw: core.list_namespaced_secret(rtype.namespace, **kw)
    if rtype.group == CALICO[0]:
        return lambda **kw: custom.list_cluster_custom_object(*CALICO, rtype.plural, **kw)
    return methods[rtype.name]


TYPES = [*resource_types(), secret_type("kube-system", "bgp-secrets")]


def last_request(server: FakeApiServer, make: Callable[[], Any]) -> tuple[str, str, dict[str, str], int]:  # fmt: skip
    before = len(server.requests())
    with contextlib.suppress(client.ApiException):
        response = make()
        if hasattr(response, "release_conn"):  # a watch's stream: the request is logged
            response.close()
            response.release_conn()
    made = server.requests()[before:]
    assert len(made) == 1, made
    r = made[0]
    return r.method, r.path, r.query, r.status


@pytest.mark.parametrize("rtype", TYPES, ids=lambda t: t.name)
def test_list_pages_are_the_generated_methods_requests(
    server: FakeApiServer, api_client: Any, rtype: ResourceType
) -> None:
    source, call = KubeSource(api_client), generated(api_client, rtype)
    for token in (None, "some-token"):
        kwargs: dict[str, Any] = {"limit": 500}
        if token is not None:
            kwargs["_continue"] = token
        if rtype.field_selector:
            kwargs["field_selector"] = rtype.field_selector
        ours = last_request(server, lambda t=token: source._page(rtype, t))  # type: ignore[misc]
        theirs = last_request(
            server,
            lambda kw=kwargs: call(_preload_content=False, _request_timeout=(5, 5), **kw),  # type: ignore[misc]
        )
        assert ours == theirs
    assert ours[3] != 401, "the request carries the ServiceAccount's token"


@pytest.mark.parametrize("rtype", TYPES, ids=lambda t: t.name)
def test_watches_are_the_generated_methods_requests(
    server: FakeApiServer, api_client: Any, rtype: ResourceType
) -> None:
    source = KubeSource(api_client)
    rv = str(server.resource_version)
    ours = last_request(server, lambda: source.watch_type(rtype, rv, 1))
    kwargs: dict[str, Any] = {"watch": True, "resource_version": rv, "allow_watch_bookmarks": True}
    if rtype.field_selector:
        kwargs["field_selector"] = rtype.field_selector
    call = generated(api_client, rtype)
    theirs = last_request(
        server,
        lambda: call(timeout_seconds=1, _preload_content=False, _request_timeout=(5, 31), **kwargs),
    )
    assert ours == theirs
    assert ours[2]["watch"] in ("true", "True", "1")


def test_an_error_status_raises_the_clients_exception(
    server: FakeApiServer, tmp_path: Path
) -> None:
    """As the generated methods do with `_preload_content=False`: the status, the reason and
    the server's Status body are on the exception (birdgen's messages quote them)."""
    api = new_api_client(server.kubeconfig(tmp_path / "kc", token=None))  # no credentials
    try:
        with pytest.raises(client.ApiException) as err:
            KubeSource(api)._get(resource_types()[0], [("limit", 500)], (5, 5))
        assert err.value.status == 401
        assert err.value.reason
        assert '"kind":"Status"' in (err.value.body or "").replace(" ", "")
    finally:
        api.close()
