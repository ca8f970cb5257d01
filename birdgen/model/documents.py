"""model: the lean typed documents Services, EndpointSlices and v1 Nodes are decoded into.

Services and EndpointSlices are nearly all of a cluster's objects (39,000 of 41,000 at 1,000
nodes), and a v1 Node is mostly status birdgen never reads. Each is read into one of these
`msgspec` Structs, which declare only the fields birdgen reads: from JSON bytes (a list page's
item, a watch event's object, a JSON file's object: `decode`) msgspec builds the document in C
and skips everything else unread, and from a mapping (a YAML file's object, or JSON that was
decoded as a whole) `msgspec.convert` does the same. `birdgen.model.kube` then makes
the record from the document, so files, list pages and watch events share one reader.

What the documents check is shape only: that `spec` is a mapping, `endpoints` a list of
mappings. Leaves are `Any` and the reader checks them, so a document holds the values exactly as
written; absent fields stay `UNSET` (an explicit null is None), so `as_mapping` gives back
exactly the declared fields that were present. An object whose shape or values surprise the
reader is read again by the `Fields` reader from that mapping, which names kind, name and
field in every error (the same as for any other kind). Field names are the API's (camelCase):
msgspec matches them by name.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from msgspec import UNSET, Struct, UnsetType


class ObjectMeta(Struct):
    name: Any = UNSET
    namespace: Any = UNSET
    resourceVersion: Any = UNSET  # where a watch resumes; no record keeps it


class LabelledMeta(ObjectMeta):
    labels: dict[str, Any] | UnsetType | None = UNSET


class NodeMeta(ObjectMeta):
    labels: dict[str, Any] | UnsetType | None = UNSET
    annotations: dict[str, Any] | UnsetType | None = UNSET


class ServiceSpec(Struct):
    type: Any = UNSET
    clusterIP: Any = UNSET
    clusterIPs: list[Any] | UnsetType | None = UNSET
    ipFamilies: list[Any] | UnsetType | None = UNSET
    externalTrafficPolicy: Any = UNSET
    externalIPs: list[Any] | UnsetType | None = UNSET
    loadBalancerIP: Any = UNSET


class LoadBalancerIngress(Struct):
    ip: Any = UNSET


class LoadBalancerStatus(Struct):
    ingress: list[LoadBalancerIngress | None] | UnsetType | None = UNSET


class ServiceStatus(Struct):
    loadBalancer: LoadBalancerStatus | UnsetType | None = UNSET


class Document(Struct):
    """One object of a kind read through a document (its kind as birdgen names it)."""

    KIND: ClassVar[str]
    API_VERSION: ClassVar[str]
    metadata: ObjectMeta | UnsetType | None = UNSET


class ServiceDocument(Document):
    KIND: ClassVar[str] = "Service"
    API_VERSION: ClassVar[str] = "v1"
    spec: ServiceSpec | UnsetType | None = UNSET
    status: ServiceStatus | UnsetType | None = UNSET


class EndpointConditions(Struct):
    ready: Any = UNSET


class SliceEndpoint(Struct):
    nodeName: Any = UNSET
    conditions: EndpointConditions | UnsetType | None = UNSET


class EndpointSliceDocument(Document):
    KIND: ClassVar[str] = "EndpointSlice"
    API_VERSION: ClassVar[str] = "discovery.k8s.io/v1"
    metadata: LabelledMeta | UnsetType | None = UNSET
    addressType: Any = UNSET
    endpoints: list[SliceEndpoint] | UnsetType | None = UNSET


class NodeDocument(Document):
    """A v1 Node: its labels and annotations; its status (most of its bytes, and what every
    kubelet heartbeat changes) is skipped unread."""

    KIND: ClassVar[str] = "Node"
    API_VERSION: ClassVar[str] = "v1"
    metadata: NodeMeta | UnsetType | None = UNSET


DOCUMENTS: dict[tuple[str, str], type[Document]] = {
    (d.API_VERSION, d.KIND): d for d in (ServiceDocument, EndpointSliceDocument, NodeDocument)
}
_DECODERS = {d: msgspec.json.Decoder(d) for d in DOCUMENTS.values()}


def decode(document: type[Document], data: bytes | msgspec.Raw) -> Document | None:
    """One object's JSON as its document; None when it is not JSON of that shape (read it as
    a mapping then: the reader of that path names what is wrong)."""
    try:
        return _DECODERS[document].decode(data)
    except (msgspec.DecodeError, RecursionError):  # ValidationError included; deep nesting
        return None


def from_mapping(document: type[Document], obj: dict[str, Any]) -> Document | None:
    """A mapping (a file's object) as its document; None when its shape is not the document's."""
    try:
        return msgspec.convert(obj, document)
    except (msgspec.ValidationError, UnicodeEncodeError):
        # The latter: msgspec naming a string with a lone surrogate (JSON can carry one) in
        # the error it was raising.
        return None


def given(value: Any) -> Any:
    """A document's value, None where the field was absent (as `dict.get` gives it)."""
    return None if value is UNSET else value


def as_mapping(doc: Document) -> dict[str, Any]:
    """The declared fields that were present, as written: what the `Fields` reader reads."""
    out = msgspec.to_builtins(doc)
    assert isinstance(out, dict)
    return out
