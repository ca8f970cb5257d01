"""sources: read resources from a live cluster, once (`KubeSource.list_all`) or kept current
(`KubeWatcher`, for the `birdgen run` sidecar).

This is the cluster edge of the pipeline. It yields raw objects: plain dicts shaped exactly like
a YAML manifest (`apiVersion`, `kind`, `metadata`, `spec`, `status`), the same shape
`birdgen.sources.files` yields, so nothing downstream can tell a file from a cluster. The
`kubernetes` client is used for transport only: every response is read raw
(`_preload_content=False`) and parsed with `json.loads`, because the client's generated models
are slow and rename fields to snake_case.

The watcher is a small informer in the client-go mould: per resource type, list, then watch
from the list's resourceVersion; keep a store; relist on `410 Gone` and periodically; reconnect
with capped, jittered exponential backoff on anything else.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import urllib3
from kubernetes import client, config

from birdgen.backoff import Backoff
from birdgen.errors import SourceError

log = logging.getLogger(__name__)

RawObject = dict[str, Any]

CALICO_API_VERSION = "crd.projectcalico.org/v1"

# (connect, read) seconds for list requests. Watches get a read timeout derived from their
# server-side timeoutSeconds instead, so a silently dead connection is noticed eventually.
LIST_TIMEOUT = (10.0, 60.0)
WATCH_READ_GRACE = 30.0


@dataclass(frozen=True)
class ResourceType:
    """One kind birdgen reads, and where the API serves it."""

    kind: str
    api_version: str
    plural: str
    namespace: str | None = None  # read only this namespace; None means cluster-wide
    # A CRD that may not be installed: 404 means "there are none", and so does 403 (a cluster
    # without Calico's CRDs often has RBAC without them too), with a warning.
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


def resource_types(namespace_for_secrets: str = "kube-system") -> tuple[ResourceType, ...]:
    """Every kind birdgen reads from a cluster."""
    return (
        ResourceType("Service", "v1", "services"),
        ResourceType("Endpoints", "v1", "endpoints"),
        ResourceType("Node", "v1", "nodes"),
        # BGP passwords live in Secrets; reading one namespace keeps the RBAC grant narrow.
        ResourceType("Secret", "v1", "secrets", namespace=namespace_for_secrets),
        ResourceType("EndpointSlice", "discovery.k8s.io/v1", "endpointslices"),
        ResourceType("BGPConfiguration", CALICO_API_VERSION, "bgpconfigurations", optional=True),
        ResourceType("BGPPeer", CALICO_API_VERSION, "bgppeers", optional=True),
        ResourceType("Node", CALICO_API_VERSION, "nodes", optional=True),
        ResourceType("IPPool", CALICO_API_VERSION, "ippools", optional=True),
        ResourceType("BGPFilter", CALICO_API_VERSION, "bgpfilters", optional=True),
    )


@dataclass(frozen=True)
class Listing:
    """One list of one resource type."""

    items: list[RawObject]  # kind and apiVersion set on every item
    resource_version: str | None  # the list's, to watch from; None when not installed
    installed: bool = True
    why_absent: str = ""  # for an optional type read as absent: the server's answer


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
        self.types = resource_types(namespace_for_secrets)
        core = client.CoreV1Api(api_client)
        discovery = client.DiscoveryV1Api(api_client)
        custom = client.CustomObjectsApi(api_client)
        ns = namespace_for_secrets

        def crd(plural: str) -> Callable[..., Any]:
            return lambda **kw: custom.list_cluster_custom_object(
                "crd.projectcalico.org", "v1", plural, **kw
            )

        # One list-or-watch call per type; the client's generated methods build the paths.
        self._calls: dict[str, Callable[..., Any]] = {
            "services": core.list_service_for_all_namespaces,
            "endpoints": core.list_endpoints_for_all_namespaces,
            "nodes": core.list_node,
            "secrets": lambda **kw: core.list_namespaced_secret(ns, **kw),
            "endpointslices.discovery.k8s.io": discovery.list_endpoint_slice_for_all_namespaces,
            **{t.name: crd(t.plural) for t in self.types if t.group == "crd.projectcalico.org"},
        }

    def list_all(self) -> list[RawObject]:
        """Every object of every kind, listed type by type.

        Each type's list is a consistent snapshot; across types there is no such thing in the
        Kubernetes API, so an object changed between two lists may look inconsistent until the
        next read (the sidecar's watcher converges; a one-shot render is a point-in-time view).
        """
        objects: list[RawObject] = []
        for rtype in self.types:
            objects.extend(self.list_type(rtype).items)
        return objects

    def list_type(self, rtype: ResourceType) -> Listing:
        """One list of `rtype`. Raises SourceError unless it worked or the CRD is absent."""
        try:
            response: _Response = self._calls[rtype.name](
                _preload_content=False, _request_timeout=LIST_TIMEOUT
            )
            try:
                body = json.loads(response.read())
            finally:
                response.release_conn()
        except client.ApiException as exc:
            if exc.status in (403, 404) and rtype.optional:
                return Listing([], None, installed=False, why_absent=_describe(exc))
            raise SourceError(f"listing {rtype.name}: {_describe(exc)}") from exc
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            # ValueError covers malformed JSON (json.JSONDecodeError is one).
            raise SourceError(f"listing {rtype.name}: {_describe(exc)}") from exc
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise SourceError(f"listing {rtype.name}: response is not a {rtype.kind}List")
        items = [_stamp(rtype, item) for item in body["items"]]
        rv = (body.get("metadata") or {}).get("resourceVersion")
        return Listing(items, str(rv) if rv else None)

    def watch_type(
        self, rtype: ResourceType, resource_version: str, timeout_seconds: int
    ) -> _Response:
        """Open a watch of `rtype` from `resource_version`: the raw, streaming response.

        Raises the client's ApiException on an HTTP error status (410 when the version is too
        old) and urllib3/OS errors on connection trouble; the informer sorts them out.
        """
        response: _Response = self._calls[rtype.name](
            watch=True,
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout_seconds,
            _preload_content=False,
            _request_timeout=(LIST_TIMEOUT[0], timeout_seconds + WATCH_READ_GRACE),
        )
        return response


def _stamp(rtype: ResourceType, obj: RawObject) -> RawObject:
    # List items come without kind/apiVersion; watch events carry them. Set both either way,
    # first in the dict as in a manifest.
    return {"apiVersion": rtype.api_version, "kind": rtype.kind, **obj}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, client.ApiException):
        reason = exc.reason or ""
        try:
            message = json.loads(exc.body or "{}").get("message", "")
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

    Runs in its own thread (`start`). The store is only ever replaced or updated whole-object
    under a lock, so `objects()` never sees a half-applied relist. Counters are plain attributes,
    read without locking (ints; a slightly stale read is fine for metrics).
    """

    def __init__(
        self,
        source: KubeSource,
        rtype: ResourceType,
        on_change: Callable[[], None],
        *,
        resync_seconds: float = 600.0,
        watch_timeout_seconds: int = 300,
        backoff_initial: float = 0.2,
        backoff_max: float = 30.0,
        absent_recheck_seconds: float = 300.0,
    ) -> None:
        self.source = source
        self.rtype = rtype
        self._on_change = on_change
        self.resync_seconds = resync_seconds
        self.watch_timeout_seconds = watch_timeout_seconds
        self.absent_recheck_seconds = absent_recheck_seconds
        self._backoff = Backoff(backoff_initial, backoff_max, jitter=True)

        self._lock = threading.Lock()
        self._store: dict[tuple[str, str], RawObject] = {}
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._response: _Response | None = None  # the open watch, for stop() to cut
        self._thread: threading.Thread | None = None

        self.resource_version: str | None = None  # where the next watch resumes
        self._watched_since_list = False
        self.installed = True
        self.why_absent = ""  # an optional type's 403 or 404, while it is read as absent
        self.lists = 0  # initial list, relists after 410, resyncs, relists after errors
        self.relists = 0  # lists after the first
        self.expirations = 0  # 410 Gone, by ERROR event or HTTP status
        self.watches = 0  # watch requests made
        self.watch_restarts = 0  # watches resumed from a version a previous watch reached
        self.events = 0  # ADDED/MODIFIED/DELETED applied
        self.errors: Counter[str] = Counter()  # by cause: http_503, connection, decode, ...

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
        """True once the first list completed (or found the CRD absent)."""
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def objects(self) -> list[RawObject]:
        with self._lock:
            return list(self._store.values())

    # ---- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        next_resync = 0.0  # list first
        while not self._stop.is_set():
            try:
                if self.resource_version is None or time.monotonic() >= next_resync:
                    installed = self._relist()
                    next_resync = time.monotonic() + self.resync_seconds
                    if not installed:
                        # Nothing to watch; look again now and then in case it gets installed.
                        self._stop.wait(min(self.absent_recheck_seconds, self.resync_seconds))
                        next_resync = 0.0
                        continue
                timeout = max(
                    1, min(self.watch_timeout_seconds, int(next_resync - time.monotonic()))
                )
                began, events = time.monotonic(), self.events
                self._watch(timeout)
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
                log.warning("%s: %s; retrying in %.1fs", self.rtype.name, _describe(exc), delay)
                if cause == "other":
                    log.debug("%s: unexpected error", self.rtype.name, exc_info=True)
                self._stop.wait(delay)

    def _relist(self) -> bool:
        """List and replace the store; False if the type's CRD is not installed."""
        listing = self.source.list_type(self.rtype)
        if listing.installed and listing.resource_version is None:
            raise SourceError(f"listing {self.rtype.name}: the list has no resourceVersion")
        new = {_object_key(obj): obj for obj in listing.items}
        with self._lock:
            # One swap under the lock: readers see the old store or the new one, never a mix,
            # so an object that exists throughout never disappears from a snapshot.
            changed = new != self._store
            self._store = new
        first = not self._synced.is_set()
        self.lists += 1
        self.relists += 0 if first else 1
        if listing.why_absent and listing.why_absent != self.why_absent:
            # Said once per distinct answer: it is re-checked every absent_recheck_seconds.
            log.warning(
                "%s: treated as absent (%s); looking again every %gs",
                self.rtype.name,
                listing.why_absent,
                self.absent_recheck_seconds,
            )
        self.why_absent = listing.why_absent
        self.installed = listing.installed
        self.resource_version = listing.resource_version
        self._watched_since_list = False
        self._backoff.reset()
        self._synced.set()
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
                self._apply(json.loads(line))
                if self._stop.is_set():
                    return
        finally:
            with self._lock:
                self._response = None
            with contextlib.suppress(Exception):
                response.close()
                response.release_conn()

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
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            raise ValueError(f"unknown watch event type {kind!r}")
        obj = _stamp(self.rtype, obj)
        key = _object_key(obj)
        with self._lock:
            if kind == "DELETED":
                self._store.pop(key, None)
            else:
                self._store[key] = obj
        if rv:
            self.resource_version = str(rv)
        self.events += 1
        self._backoff.reset()  # the connection works; a later drop starts backing off afresh
        self._on_change()


def _object_key(obj: RawObject) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _sort_key(obj: RawObject) -> tuple[str, str, str, str]:
    namespace, name = _object_key(obj)
    # apiVersion breaks the tie between the two kinds called Node.
    return (str(obj.get("kind")), namespace, name, str(obj.get("apiVersion")))


class KubeWatcher:
    """Keeps every kind birdgen reads current, one informer thread per resource type.

    `on_change()` is called after every change to the store: each watch event, each list that
    changed something, and each informer's first list. It runs on the informer's thread, never
    two at once (calls are serialised), so it should be quick — e.g. set an Event that a render
    loop waits on and debounces. An exception from it is logged and counted, not fatal.
    """

    def __init__(
        self,
        source: KubeSource,
        on_change: Callable[[], None] = lambda: None,
        *,
        resync_seconds: float = 600.0,
        watch_timeout_seconds: int = 300,
        backoff_initial: float = 0.2,
        backoff_max: float = 30.0,
        absent_recheck_seconds: float = 300.0,
    ) -> None:
        self._on_change = on_change
        self._notify_lock = threading.Lock()
        self.on_change_errors = 0
        self.informers: dict[str, Informer] = {
            rtype.name: Informer(
                source,
                rtype,
                self._notify,
                resync_seconds=resync_seconds,
                watch_timeout_seconds=watch_timeout_seconds,
                backoff_initial=backoff_initial,
                backoff_max=backoff_max,
                absent_recheck_seconds=absent_recheck_seconds,
            )
            for rtype in source.types
        }

    def start(self) -> KubeWatcher:
        for informer in self.informers.values():
            informer.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """End every informer thread; True if all ended within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for informer in self.informers.values():
            informer.stop()
        return all(
            informer.join(max(0.0, deadline - time.monotonic()))
            for informer in self.informers.values()
        )

    def __enter__(self) -> KubeWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def synced(self) -> bool:
        """True once every informer's first list completed."""
        return all(informer.synced() for informer in self.informers.values())

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for informer in self.informers.values():
            if not informer.wait_synced(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def snapshot(self) -> list[RawObject]:
        """Every object now known, sorted by kind, namespace, name; deep copies, free to mutate.

        Each type is read atomically; types are read one after another, so a snapshot may mix
        a Service from one moment with EndpointSlices from the next (as list_all does).
        """
        objects = [obj for inf in self.informers.values() for obj in inf.objects()]
        return copy.deepcopy(sorted(objects, key=_sort_key))

    # ---- metrics ---------------------------------------------------------------------------

    @property
    def relists(self) -> int:
        return sum(i.relists for i in self.informers.values())

    @property
    def watch_restarts(self) -> int:
        return sum(i.watch_restarts for i in self.informers.values())

    @property
    def expirations(self) -> int:
        return sum(i.expirations for i in self.informers.values())

    @property
    def errors(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for informer in self.informers.values():
            total.update(informer.errors)
        if self.on_change_errors:
            total["on_change"] += self.on_change_errors
        return total

    def _notify(self) -> None:
        with self._notify_lock:
            try:
                self._on_change()
            except Exception:  # a consumer's bug must not stop the informers
                self.on_change_errors += 1
                log.exception("on_change callback failed")
