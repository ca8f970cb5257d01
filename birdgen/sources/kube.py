"""sources: read resources from a live cluster, once (`KubeSource.list_all`) or kept current
(`KubeWatcher`, for the `birdgen run` sidecar).

This is the cluster edge of the pipeline. It yields raw objects: plain dicts shaped exactly like
a YAML manifest (`apiVersion`, `kind`, `metadata`, `spec`, `status`), the same shape
`birdgen.sources.files` yields, so nothing downstream can tell a file from a cluster. The
`kubernetes` client is used for transport only: its `ApiClient` makes each request (TLS, proxy,
credentials) and every response is read raw, because the client's generated models are slow,
rename fields to snake_case, and their classes alone would be a fifth of the sidecar's memory
(`KubeSource._get`). For the informers (which have a `transform`), Services and
EndpointSlices — nearly all of a cluster's objects — and v1 Nodes (mostly status, unread) are
decoded by msgspec straight into their typed documents (`birdgen.model.documents`), item by
item, skipping every field birdgen does not read; every other response, and an item whose JSON
is not of its document's shape, is decoded whole by `birdgen.sources.jsontext` (msgspec), the
decoder files are read with.

The watcher is a small informer in the client-go mould, and as gentle on the API server as
client-go's reflector: per resource type, a paginated list (`limit` 500, `continue`; started
again if the token expires), then a watch from the list's resourceVersion with bookmarks; relist
only on `410 Gone` or an error, never periodically; reconnect with capped, jittered exponential
backoff. Legacy Endpoints are read only where EndpointSlices are not served; an absent (or
forbidden) Calico CRD is looked at again every few minutes; Secrets are read one by one by name
(field selector `metadata.name`), only those a BGPPeer or BGPConfiguration names, so the RBAC
can grant them by `resourceNames`. A `transform` turns each object into what the store keeps
(the sidecar keeps parsed records), once, as it arrives; an event that leaves the stored value
as it was notifies no one.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Protocol

import msgspec
import urllib3
from kubernetes import client, config
from msgspec import UNSET

from birdgen.backoff import Backoff
from birdgen.collector import collector_paused
from birdgen.errors import SourceError
from birdgen.model.documents import DOCUMENTS, Document, ObjectMeta, given
from birdgen.model.parse import Parsed, parse_object, referenced_secrets
from birdgen.sources import jsontext

log = logging.getLogger(__name__)

RawObject = dict[str, Any]

CALICO_API_VERSION = "crd.projectcalico.org/v1"
PAGE_SIZE = 500  # client-go's pager default
ENDPOINT_SLICES = "endpointslices.discovery.k8s.io"

# (connect, read) seconds for list requests. Watches get a read timeout derived from their
# server-side timeoutSeconds instead, so a silently dead connection is noticed eventually.
LIST_TIMEOUT = (10.0, 60.0)
WATCH_READ_GRACE = 30.0
_CHANGES = ("ADDED", "MODIFIED", "DELETED")


@dataclass(frozen=True)
class ResourceType:
    """One kind birdgen reads, and where the API serves it."""

    kind: str
    api_version: str
    plural: str
    namespace: str | None = None  # read only this namespace; None means cluster-wide
    object_name: str = ""  # read only the object of this name (field selector metadata.name)
    # Read only where the API does not serve this other type (its `name`): legacy Endpoints
    # where there are no EndpointSlices.
    instead_of: str = ""
    # A CRD that may not be installed: 404 means "there are none", and so does 403 (a cluster
    # without Calico's CRDs often has RBAC without them too), with a warning. A Secret read by
    # name is optional too: one the Role does not grant is as good as absent (a BGPPeer's
    # session is then rendered without its password, as Calico's confd does, and warned of),
    # rather than a sync that never ends and a node that never becomes ready.
    optional: bool = False

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def name(self) -> str:
        """`services`, `nodes.crd.projectcalico.org`: unique, unlike kind (two kinds are Node)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def label(self) -> str:
        """`name`, and the object for a type read by name: what logs and errors call it."""
        if not self.object_name:
            return self.name
        where = f"{self.namespace}/{self.object_name}" if self.namespace else self.object_name
        return f"{self.name} {where}"

    @property
    def field_selector(self) -> str | None:
        return f"metadata.name={self.object_name}" if self.object_name else None

    @property
    def path(self) -> str:
        """The collection's path, as the API lays it out: `/api/v1/...` for the core group,
        `/apis/GROUP/VERSION/...` for the others; `{namespace}` is a path parameter."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{base}{'/namespaces/{namespace}' if self.namespace else ''}/{self.plural}"


def secret_type(namespace: str, name: str) -> ResourceType:
    """One Secret, read by name: what `resourceNames` in deploy/bgp-secrets-rbac.yaml allows."""
    return ResourceType(
        "Secret", "v1", "secrets", namespace=namespace, object_name=name, optional=True
    )


def resource_types() -> tuple[ResourceType, ...]:
    """Every kind birdgen reads from a cluster as a whole (Secrets are read by name)."""
    return (
        ResourceType("Service", "v1", "services"),
        # Served by every Kubernetes since 1.21; optional only so that an older one falls back
        # to Endpoints (listed after it, for list_all).
        ResourceType("EndpointSlice", "discovery.k8s.io/v1", "endpointslices", optional=True),
        ResourceType("Endpoints", "v1", "endpoints", instead_of=ENDPOINT_SLICES),
        ResourceType("Node", "v1", "nodes"),
        ResourceType("BGPConfiguration", CALICO_API_VERSION, "bgpconfigurations", optional=True),
        ResourceType("BGPPeer", CALICO_API_VERSION, "bgppeers", optional=True),
        ResourceType("Node", CALICO_API_VERSION, "nodes", optional=True),
        ResourceType("IPPool", CALICO_API_VERSION, "ippools", optional=True),
        ResourceType("BGPFilter", CALICO_API_VERSION, "bgpfilters", optional=True),
    )


@dataclass(frozen=True)
class Listing:
    """One list of one resource type."""

    items: list[Any]  # each item transformed (by default: kind and apiVersion set on it)
    resource_version: str | None  # the list's, to watch from; None when not installed
    installed: bool = True
    why_absent: str = ""  # for an optional type read as absent: the server's answer
    keys: list[tuple[str, str]] = field(default_factory=list)  # (namespace, name) per item


class _Response(Protocol):
    """The part of urllib3's HTTPResponse this module uses."""

    def stream(self, amt: int | None = ...) -> Iterator[bytes]: ...
    def read(self) -> bytes: ...
    def shutdown(self) -> None: ...
    def close(self) -> None: ...
    def release_conn(self) -> None: ...


def connect(kubeconfig: str | None = None) -> client.ApiClient:
    """An ApiClient for the cluster: from `kubeconfig` if given, else the in-cluster config."""
    try:
        configuration = client.Configuration()
        if kubeconfig:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, client_configuration=configuration
            )
        else:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        # One long-lived watch per resource type plus lists share the pool; the default size
        # (5 x CPUs) can be smaller, and then urllib3 discards connections with a warning.
        configuration.connection_pool_maxsize = max(
            configuration.connection_pool_maxsize or 0, 2 * len(resource_types()) + 4
        )
        return client.ApiClient(configuration)
    except (config.ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
        where = kubeconfig or "in-cluster service account"
        raise SourceError(f"cannot load Kubernetes client configuration ({where}): {exc}") from exc


class KubeSource:
    """Lists and watches the kinds birdgen reads, as raw objects."""

    def __init__(
        self, api_client: client.ApiClient, namespace_for_secrets: str = "kube-system"
    ) -> None:
        self.api_client = api_client
        self.types = resource_types()
        self.secrets_namespace = namespace_for_secrets

    def list_all(self) -> list[RawObject]:
        """Every object of every kind, listed type by type, then each Secret a BGPPeer or
        BGPConfiguration names.

        Each type's list is a consistent snapshot; across types there is no such thing in the
        Kubernetes API, so an object changed between two lists may look inconsistent until the
        next read (the sidecar's watcher converges; a one-shot render is a point-in-time view).
        """
        objects: list[RawObject] = []
        served: set[str] = set()
        for rtype in self.types:
            if rtype.instead_of and rtype.instead_of in served:
                continue
            listing = self.list_type(rtype)
            if listing.installed:
                served.add(rtype.name)
            objects.extend(listing.items)
        for name in sorted(referenced_secrets(parse_object(o) for o in objects)):
            objects.extend(self.list_type(secret_type(self.secrets_namespace, name)).items)
        return objects

    def list_type(
        self, rtype: ResourceType, transform: Callable[[Any], Any] | None = None
    ) -> Listing:
        """One list of `rtype`, page by page, each item transformed as its page arrives (so
        only one page of raw JSON is alive at a time). Raises SourceError unless it worked or
        an optional type is absent.

        With a `transform`, an item of a kind that has a typed document (Services,
        EndpointSlices, v1 Nodes: `birdgen.model.documents`) is decoded straight into it and the
        transform gets the document; any other item, or one whose JSON is not of the
        document's shape, it gets as a raw object. Without one, items are raw objects.

        The cyclic collector is paused meanwhile (`birdgen.collector`): a list builds one
        long-lived record per item and no cycles, and each collection on the way would walk
        every record built so far again."""
        with collector_paused():
            return self._list_type(rtype, transform)

    def _list_type(self, rtype: ResourceType, transform: Callable[[Any], Any] | None) -> Listing:
        items: list[Any] = []
        keys: list[tuple[str, str]] = []
        token: str | None = None
        rv: str | None = None
        restarts = 0
        document = _document(rtype) if transform is not None else None
        while True:
            try:
                data = self._page(rtype, token)
                typed = _decode_page(data) if document is not None else None
                body = jsontext.loads(data) if typed is None else None
            except client.ApiException as exc:
                if exc.status == 410 and token is not None and restarts < 3:
                    # The snapshot the pages come from was compacted: list again from the top
                    # (the reflector's way; the server's inconsistent token is not taken).
                    items, keys, token, restarts = [], [], None, restarts + 1
                    continue
                if exc.status in (403, 404) and rtype.optional and token is None:
                    return Listing([], None, installed=False, why_absent=_describe(exc))
                raise SourceError(f"listing {rtype.label}: {_describe(exc)}") from exc
            except (urllib3.exceptions.HTTPError, OSError, ValueError, RecursionError) as exc:
                # ValueError covers malformed JSON (json.JSONDecodeError is one); RecursionError,
                # JSON nested deeper than Python's stack allows.
                raise SourceError(f"listing {rtype.label}: {_describe(exc)}") from exc
            first = token is None
            if typed is not None:
                assert document is not None and transform is not None
                version, token = given(typed.metadata.resourceVersion), given(typed.metadata.token)  # fmt: skip
                for item in typed.items:
                    key, obj = _read_item(rtype, document, item)
                    keys.append(key)
                    items.append(transform(obj))
                del typed, data
            else:
                if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                    raise SourceError(f"listing {rtype.label}: response is not a {rtype.kind}List")
                meta = body.get("metadata") or {}
                version, token = meta.get("resourceVersion"), meta.get("continue")
                page = body["items"]
                del body, data  # let the page's raw objects go as they are transformed
                page.reverse()
                while page:
                    raw = _stamp(rtype, page.pop())
                    keys.append(_object_key(raw))
                    items.append(transform(raw) if transform is not None else raw)
            if first:
                rv = str(version) if version else None
            token = token or None
            if token is None:
                return Listing(items, rv, keys=keys)

    def _page(self, rtype: ResourceType, token: str | None) -> bytes:
        """One page of the list, as the server sent it."""
        query: list[tuple[str, Any]] = [("limit", PAGE_SIZE)]
        if token is not None:
            query.append(("continue", token))
        if rtype.field_selector:
            query.append(("fieldSelector", rtype.field_selector))
        response = self._get(rtype, query, LIST_TIMEOUT)
        try:
            return response.read()
        finally:
            response.release_conn()

    def watch_type(
        self, rtype: ResourceType, resource_version: str, timeout_seconds: int
    ) -> _Response:
        """Open a watch of `rtype` from `resource_version`: the raw, streaming response.

        Raises the client's ApiException on an HTTP error status (410 when the version is too
        old) and urllib3/OS errors on connection trouble; the informer sorts them out.
        """
        query: list[tuple[str, Any]] = [
            ("watch", True),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", True),
        ]
        if rtype.field_selector:
            query.append(("fieldSelector", rtype.field_selector))
        query.append(("timeoutSeconds", timeout_seconds))
        return self._get(rtype, query, (LIST_TIMEOUT[0], timeout_seconds + WATCH_READ_GRACE))

    def _get(
        self, rtype: ResourceType, query: list[tuple[str, Any]], timeout: tuple[float, float]
    ) -> _Response:
        """GET `rtype`'s collection with `query`: the response, unread (streaming).

        The request is made by the client's `ApiClient` as its generated list methods make
        theirs (`param_serialize`, then `call_api`, with the client's TLS, proxy and bearer
        token, refreshed where the in-cluster config refreshes it), but without those
        methods' classes: `CoreV1Api` alone imports 250 of the client's generated model
        modules (about 20 MiB the sidecar would keep, docs/performance.md), and every
        response is read raw anyway. `tests/sources/test_kube_requests.py` checks that each
        request equals the one the generated method sends, so a client upgrade that changes
        them shows there. A status outside 2xx raises the client's `ApiException`, as those
        methods do with `_preload_content=False`."""
        params = {"namespace": rtype.namespace} if rtype.namespace else None
        request = self.api_client.param_serialize(
            "GET",
            rtype.path,
            path_params=params,
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        answer = self.api_client.call_api(*request, _request_timeout=timeout)
        if not 200 <= answer.status <= 299:
            answer.read()  # type: ignore[no-untyped-call]
            raise client.ApiException(http_resp=answer)
        response: _Response = answer.response
        return response


class _ListMeta(msgspec.Struct):
    resourceVersion: Any = UNSET
    token: Any = msgspec.field(default=UNSET, name="continue")


class _TypedPage(msgspec.Struct):
    """A list page whose items are each decoded on their own (`_read_item`)."""

    items: list[msgspec.Raw]
    metadata: _ListMeta = msgspec.field(default_factory=_ListMeta)


class _TypedEvent(msgspec.Struct):
    type: Any = UNSET
    obj: msgspec.Raw | None = msgspec.field(default=None, name="object")


_PAGE = msgspec.json.Decoder(_TypedPage)
_EVENT = msgspec.json.Decoder(_TypedEvent)


def _document(rtype: ResourceType) -> type[Document] | None:
    return DOCUMENTS.get((rtype.api_version, rtype.kind))


def _decode_page(data: bytes) -> _TypedPage | None:
    """The page, its items still JSON; None if it is not a list page (read it as a whole)."""
    try:
        return _PAGE.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return None


def _read_item(
    rtype: ResourceType, document: type[Document], data: bytes | msgspec.Raw
) -> tuple[tuple[str, str], Any]:
    """One item's key and its document; the raw object where its JSON is not of the
    document's shape (the model's `Fields` reader then says what is wrong with it)."""
    obj = jsontext.read_object(data, document)
    if isinstance(obj, Document):
        meta = obj.metadata or ObjectMeta()
        return _key_of(given(meta.namespace), given(meta.name)), obj
    if not isinstance(obj, dict):
        raise ValueError(f"malformed {rtype.kind}: {bytes(data)[:200]!r}")
    raw = _stamp(rtype, obj)
    return _object_key(raw), raw


def _stamp(rtype: ResourceType, obj: RawObject) -> RawObject:
    # List items come without kind/apiVersion; watch events carry them. Set both either way,
    # first in the dict as in a manifest.
    return {"apiVersion": rtype.api_version, "kind": rtype.kind, **obj}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, client.ApiException):
        reason = exc.reason or ""
        try:
            message = jsontext.loads(exc.body or "{}").get("message", "")
        except (ValueError, AttributeError):
            message = ""
        return f"HTTP {exc.status} {reason}{': ' + message if message else ''}"
    return f"{type(exc).__name__}: {exc}"


def _cause(exc: BaseException) -> str:
    """A short, bounded label for an error, to count errors by."""
    if isinstance(exc, client.ApiException):
        return f"http_{exc.status}"
    if isinstance(exc, _WatchErrorEvent):
        return f"watch_error_{exc.code}"
    if isinstance(exc, _ShortWatch):
        return "short_watch"
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return "timeout"
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
        return "connection"
    if isinstance(exc, SourceError) and exc.__cause__ is not None:
        return _cause(exc.__cause__)
    if isinstance(exc, ValueError):
        return "decode"
    return "other"


class _Relist(Exception):
    """The watch cannot continue from where it is (410 Gone, or the CRD vanished): relist."""


class _ShortWatch(Exception):
    """A watch ended cleanly but at once, with no events."""


class _WatchErrorEvent(Exception):
    def __init__(self, code: Any, message: str) -> None:
        super().__init__(f"watch ERROR event {code}: {message}")
        self.code = code


def _lines(response: _Response) -> Iterator[bytes]:
    """The newline-delimited events of a watch stream, however the chunks split them."""
    buffer = b""
    for chunk in response.stream(None):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from (line for line in lines if line.strip())
    if buffer.strip():
        yield buffer


class Informer:
    """Keeps an in-memory copy of one resource type current: list, watch, relist on 410.

    Runs in its own thread (`start`). The store holds `transform(object)` per object, and is
    only ever replaced or updated whole-value under a lock, so `values()` never sees a
    half-applied relist. Counters are plain attributes, read without locking (ints; a slightly
    stale read is fine for metrics).
    """

    def __init__(
        self,
        source: KubeSource,
        rtype: ResourceType,
        on_change: Callable[[], None],
        *,
        transform: Callable[[RawObject], Any] | None = None,
        watch_timeout_seconds: int = 300,
        backoff_initial: float = 0.2,
        backoff_max: float = 30.0,
        absent_recheck_seconds: float = 300.0,
        instead_of: Informer | None = None,
    ) -> None:
        self.source = source
        self.rtype = rtype
        self._on_change = on_change
        self._transform = transform
        self.watch_timeout_seconds = watch_timeout_seconds
        self.absent_recheck_seconds = absent_recheck_seconds
        self._instead_of = instead_of
        self._backoff = Backoff(backoff_initial, backoff_max, jitter=True)

        self._lock = threading.Lock()
        self._store: dict[tuple[str, str], Any] = {}
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._response: _Response | None = None  # the open watch, for stop() to cut
        self._thread: threading.Thread | None = None

        self.resource_version: str | None = None  # where the next watch resumes
        self._watched_since_list = False
        self.installed = True
        self.why_absent = ""  # an optional type's 403 or 404, while it is read as absent
        self.lists = 0  # initial list, relists after 410, relists after errors
        self.relists = 0  # lists after the first
        self.expirations = 0  # 410 Gone, by ERROR event or HTTP status
        self.watches = 0  # watch requests made
        self.watch_restarts = 0  # watches resumed from a version a previous watch reached
        self.events = 0  # ADDED/MODIFIED/DELETED received
        self.unchanged = 0  # ... of which left the stored value as it was
        self.generation = 0  # counts changes to the store's values
        self.errors: Counter[str] = Counter()  # by cause: http_503, connection, decode, ...
        # What changed since the last `take`: each changed key's value at that take (_GONE: it
        # had none). None until the first take, and again after a relist (a relist replaces
        # the store whole; the next take then says it cannot tell what changed).
        self._before: dict[tuple[str, str], Any] | None = None

    # ---- public ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"informer-{self.rtype.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and cut its open watch; `join` waits for it."""
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            # Shutting the socket down unblocks the thread's read at once, instead of waiting
            # for the next event or the watch's timeout.
            with contextlib.suppress(Exception):
                response.shutdown()

    def join(self, timeout: float) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def synced(self) -> bool:
        """True once the first list completed (or found the type absent or not needed)."""
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._store.values())

    def take_into(self, values: list[Any]) -> Taken | None:
        """The stored values, appended to `values`, and what changed since the last take (None:
        not known, as at the first take and after a relist). Both read at one moment.

        Appended, so that the sidecar's step gathers every type's values in one pass: a copy
        of 41,000 records scattered over the heap costs milliseconds a pass."""
        with self._lock:
            values.extend(self._store.values())
            before, self._before = self._before, {}
            if before is None:
                return None
            store = self._store
            after = [store[k] for k in before if k in store]
            return Taken([v for v in before.values() if v is not _GONE], after)

    def items(self) -> list[tuple[tuple[str, str], Any]]:
        with self._lock:
            return list(self._store.items())

    # ---- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._not_needed():
                    self._stop.wait(self.absent_recheck_seconds)
                    continue
                if self.resource_version is None and not self._relist():
                    # Nothing to watch; look again now and then in case it gets installed.
                    self._stop.wait(self.absent_recheck_seconds)
                    continue
                began, events = time.monotonic(), self.events
                self._watch(self.watch_timeout_seconds)
                if self.events == events and time.monotonic() - began < 0.5:
                    # A server that ends watches at once would otherwise be hammered in a loop.
                    raise _ShortWatch(f"watch ended after {time.monotonic() - began:.2f}s")
            except _Relist:
                # The watch cannot resume from our version: relist straight away (no backoff —
                # this is the normal way back after compaction, not a failure).
                self.resource_version = None
            except Exception as exc:  # the loop must outlive any failure; it is counted
                if self._stop.is_set():
                    break
                cause = _cause(exc)
                self.errors[cause] += 1
                delay = self._backoff.next()
                log.warning("%s: %s; retrying in %.1fs", self.rtype.label, _describe(exc), delay)
                if cause == "other":
                    log.debug("%s: unexpected error", self.rtype.label, exc_info=True)
                self._stop.wait(delay)

    def _not_needed(self) -> bool:
        """For a fallback type (Endpoints): True while the type it stands in for is served."""
        other = self._instead_of
        if other is None:
            return False
        while not other.synced():
            if self._stop.wait(0.05):
                return True
        if not other.installed:
            return False
        if not self._synced.is_set():
            self.installed = False
            self._synced.set()
            self._on_change()
        return True

    def _relist(self) -> bool:
        """List and replace the store; False if the type is absent."""
        listing = self.source.list_type(self.rtype, self._transform)
        if listing.installed and listing.resource_version is None:
            raise SourceError(f"listing {self.rtype.label}: the list has no resourceVersion")
        new = dict(zip(listing.keys, listing.items, strict=True))
        with self._lock:
            # One swap under the lock: readers see the old store or the new one, never a mix,
            # so an object that exists throughout never disappears from a snapshot.
            changed = new != self._store
            self._store = new
            self._before = None
        first = not self._synced.is_set()
        self.lists += 1
        self.relists += 0 if first else 1
        if listing.why_absent and listing.why_absent != self.why_absent:
            # Said once per distinct answer: it is re-checked every absent_recheck_seconds.
            log.warning(
                "%s: treated as absent (%s); looking again every %gs",
                self.rtype.label,
                listing.why_absent,
                self.absent_recheck_seconds,
            )
        self.why_absent = listing.why_absent
        self.installed = listing.installed
        self.resource_version = listing.resource_version
        self._watched_since_list = False
        self._backoff.reset()
        self._synced.set()
        if changed:
            self.generation += 1
        if changed or first:
            # Also on the first list even if empty, so a consumer waiting for synced() hears.
            self._on_change()
        return listing.installed

    def _watch(self, timeout_seconds: int) -> None:
        """One watch request, applying events until the server ends it."""
        assert self.resource_version is not None
        self.watches += 1
        if self._watched_since_list:
            self.watch_restarts += 1
        self._watched_since_list = True
        try:
            response = self.source.watch_type(self.rtype, self.resource_version, timeout_seconds)
        except client.ApiException as exc:
            if exc.status == 410:
                self.expirations += 1
                raise _Relist from exc
            if exc.status in (403, 404) and self.rtype.optional:
                raise _Relist from exc  # the CRD or its grant was removed; the relist says so
            raise
        with self._lock:
            self._response = response
        try:
            if self._stop.is_set():  # stop() ran before the response was published
                return
            for line in _lines(response):
                self._apply_line(line)
                if self._stop.is_set():
                    return
        finally:
            with self._lock:
                self._response = None
            with contextlib.suppress(Exception):
                response.close()
                response.release_conn()

    def _apply_line(self, line: bytes) -> None:
        """One watch event as the server sent it. A change to a kind with a typed document is
        read straight into it (as list items are); anything else is read as a whole."""
        document = _document(self.rtype) if self._transform is not None else None
        if document is not None:
            try:
                event = _EVENT.decode(line)
            except msgspec.DecodeError:
                event = None
            if event is not None and event.type in _CHANGES and event.obj is not None:
                key, obj = _read_item(self.rtype, document, event.obj)
                if isinstance(obj, Document):
                    rv = given((obj.metadata or ObjectMeta()).resourceVersion)
                else:
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                self._change(event.type, key, obj, rv)
                return
        self._apply(jsontext.loads(line))

    def _apply(self, event: Any) -> None:
        kind = event.get("type") if isinstance(event, dict) else None
        obj = event.get("object") if isinstance(event, dict) else None
        if not isinstance(obj, dict):
            raise ValueError(f"malformed watch event: {str(event)[:200]}")
        if kind == "ERROR":
            if obj.get("code") == 410:
                self.expirations += 1
                raise _Relist(obj.get("message", ""))
            raise _WatchErrorEvent(obj.get("code"), str(obj.get("message", "")))
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            # Nothing changed, but a later reconnect may resume from here: less to replay, and
            # less chance the version has been compacted away meanwhile.
            if rv:
                self.resource_version = str(rv)
            return
        if kind not in _CHANGES:
            raise ValueError(f"unknown watch event type {kind!r}")
        obj = _stamp(self.rtype, obj)
        self._change(kind, _object_key(obj), obj, rv)

    def _change(self, kind: str, key: tuple[str, str], obj: Any, rv: Any) -> None:
        """Apply one ADDED, MODIFIED or DELETED of `obj` (a raw object, or its document)."""
        value = self._transform(obj) if self._transform is not None and kind != "DELETED" else obj
        with self._lock:
            was = self._store.get(key, _GONE)
            if kind == "DELETED":
                changed = self._store.pop(key, None) is not None
            else:
                changed = self._store.get(key) != value
                self._store[key] = value
            before = self._before
            if before is not None and key not in before:
                before[key] = was
                if len(before) > len(self._store) // 2 + 64:
                    # No consumer takes often enough for this to help: stop keeping old values.
                    self._before = None
        if rv:
            self.resource_version = str(rv)
        self.events += 1
        self._backoff.reset()  # the connection works; a later drop starts backing off afresh
        if not changed:
            # A Node's status, a Service's annotations: nothing the transform keeps.
            self.unchanged += 1
            return
        self.generation += 1
        self._on_change()


_GONE = object()  # in `Informer._before`: the key had no value


@dataclass(frozen=True)
class Taken:
    """What changed in one store between two takes: the values replaced or removed, and the
    values now in their place or added."""

    before: list[Any]
    after: list[Any]


def _object_key(obj: RawObject) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return _key_of(meta.get("namespace"), meta.get("name"))


def _key_of(namespace: Any, name: Any) -> tuple[str, str]:
    # A cluster has few namespaces and thousands of objects in each: one string per namespace.
    return (sys.intern(str(namespace or "")), str(name or ""))


def _sort_key(obj: RawObject) -> tuple[str, str, str, str]:
    namespace, name = _object_key(obj)
    # apiVersion breaks the tie between the two kinds called Node.
    return (str(obj.get("kind")), namespace, name, str(obj.get("apiVersion")))


def _parsed(value: Any) -> Parsed:
    return value if isinstance(value, Parsed) else parse_object(value)


class KubeWatcher:
    """Keeps every kind birdgen reads current, one informer thread per resource type, plus one
    per Secret that a BGPPeer or BGPConfiguration names.

    `on_change()` is called after every change to a store: each watch event that changed a
    stored value, each list that changed something, and each informer's first list. It runs on
    the informer's thread, never two at once (calls are serialised), so it should be quick —
    e.g. set an Event that a render loop waits on and debounces. An exception from it is logged
    and counted, not fatal. `transform` (default: the raw object) is what the stores keep.
    """

    def __init__(
        self,
        source: KubeSource,
        on_change: Callable[[], None] = lambda: None,
        *,
        transform: Callable[[RawObject], Any] | None = None,
        watch_timeout_seconds: int = 300,
        backoff_initial: float = 0.2,
        backoff_max: float = 30.0,
        absent_recheck_seconds: float = 300.0,
    ) -> None:
        self.source = source
        self._on_change = on_change
        self._notify_lock = threading.Lock()
        self._secrets_lock = threading.Lock()
        self._started = False
        self.on_change_errors = 0
        self._options: dict[str, Any] = {
            "transform": transform,
            "watch_timeout_seconds": watch_timeout_seconds,
            "backoff_initial": backoff_initial,
            "backoff_max": backoff_max,
            "absent_recheck_seconds": absent_recheck_seconds,
        }
        self.informers: dict[str, Informer] = {}
        for rtype in source.types:  # a fallback comes after the type it stands in for
            self.informers[rtype.name] = Informer(
                source,
                rtype,
                self._notifier(rtype.name),
                instead_of=self.informers[rtype.instead_of] if rtype.instead_of else None,
                **self._options,
            )
        self.secret_informers: dict[str, Informer] = {}  # by Secret name
        self._taken_names: list[str] = []  # the informers of the last `take`

    def start(self) -> KubeWatcher:
        self._started = True
        for informer in self.informers.values():
            informer.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """End every informer thread; True if all ended within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._secrets_lock:
            self._started = False
            every = [*self.informers.values(), *self.secret_informers.values()]
        for informer in every:
            informer.stop()
        return all(informer.join(max(0.0, deadline - time.monotonic())) for informer in every)

    def __enter__(self) -> KubeWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def synced(self) -> bool:
        """True once every informer's first list completed, each named Secret's included."""
        if not all(informer.synced() for informer in self.informers.values()):
            return False
        wanted = self._wanted_secrets()
        with self._secrets_lock:
            return all(
                n in self.secret_informers and self.secret_informers[n].synced() for n in wanted
            )

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.synced():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def all_informers(self) -> list[Informer]:
        with self._secrets_lock:
            return [*self.informers.values(), *self.secret_informers.values()]

    def values(self) -> list[Any]:
        """Every stored value (what `transform` made of each object), type after type."""
        # Chained in C: the sidecar calls this every step, over every object in the cluster.
        return list(chain.from_iterable(informer.values() for informer in self.all_informers()))

    def take(self) -> tuple[list[Any], Taken | None]:
        """`values()`, and what changed in them since the last take (None: not known: the
        first take, a relist since, a Secret's informer started or stopped since). Each type
        is read at one moment, as in `values()`, together with its changes."""
        informers = self.all_informers()
        names = [informer.rtype.name for informer in informers]
        values: list[Any] = []  # one list, filled in one pass over each store
        takes = [informer.take_into(values) for informer in informers]
        known = names == self._taken_names and all(t is not None for t in takes)
        self._taken_names = names
        if not known:
            return values, None
        changed = [t for t in takes if t is not None]
        return values, Taken(
            [v for t in changed for v in t.before], [v for t in changed for v in t.after]
        )

    @property
    def generation(self) -> int:
        """Grows with every change to any store: equal generations, equal contents."""
        return sum(informer.generation for informer in self.all_informers())

    def snapshot(self) -> list[RawObject]:
        """Every object now known, sorted by kind, namespace, name; deep copies, free to mutate.
        Only without a `transform` (the stores then hold raw objects).

        Each type is read atomically; types are read one after another, so a snapshot may mix
        a Service from one moment with EndpointSlices from the next (as list_all does).
        """
        return copy.deepcopy(sorted(self.values(), key=_sort_key))

    # ---- Secrets, by name ------------------------------------------------------------------

    def _wanted_secrets(self) -> set[str]:
        holders = ("bgppeers.crd.projectcalico.org", "bgpconfigurations.crd.projectcalico.org")
        values = [v for name in holders for v in self.informers[name].values()]
        return referenced_secrets(map(_parsed, values))

    def _refresh_secrets(self) -> None:
        wanted = self._wanted_secrets()
        with self._secrets_lock:
            if not self._started:
                return
            gone = [self.secret_informers.pop(n) for n in set(self.secret_informers) - wanted]
            for name in sorted(wanted - set(self.secret_informers)):
                rtype = secret_type(self.source.secrets_namespace, name)
                informer = Informer(self.source, rtype, self._notifier(rtype.name), **self._options)
                self.secret_informers[name] = informer
                informer.start()
        for informer in gone:
            informer.stop()  # its thread ends on its own; nothing waits for it here
        if gone:
            self._notify_consumer()  # a Secret no longer named left the stores

    # ---- metrics ---------------------------------------------------------------------------

    @property
    def relists(self) -> int:
        return sum(i.relists for i in self.all_informers())

    @property
    def watch_restarts(self) -> int:
        return sum(i.watch_restarts for i in self.all_informers())

    @property
    def expirations(self) -> int:
        return sum(i.expirations for i in self.all_informers())

    @property
    def errors(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for informer in self.all_informers():
            total.update(informer.errors)
        if self.on_change_errors:
            total["on_change"] += self.on_change_errors
        return total

    def _notifier(self, name: str) -> Callable[[], None]:
        refresh = name in (
            "bgppeers.crd.projectcalico.org",
            "bgpconfigurations.crd.projectcalico.org",
        )

        def notify() -> None:
            if refresh:
                self._refresh_secrets()
            self._notify_consumer()

        return notify

    def _notify_consumer(self) -> None:
        with self._notify_lock:
            try:
                self._on_change()
            except Exception:  # a consumer's bug must not stop the informers
                self.on_change_errors += 1
                log.exception("on_change callback failed")
