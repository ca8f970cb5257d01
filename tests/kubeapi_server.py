"""An in-process Kubernetes API server test double, spoken to over real HTTP on 127.0.0.1.

birdgen's live source (`birdgen.sources.kube`) reads the cluster through the real `kubernetes`
client. Its tests must exercise that client's real HTTP path — URL building, query parameters,
chunked watch streams, error statuses — so instead of patching the client they point it at this
server. It answers the read requests birdgen makes as kube-apiserver does:

- authentication and RBAC from the manifests in `deploy/` (`tests/kubeapi_rbac.py`): 401 for a
  missing or unknown bearer token, 403 for anything the bindings do not grant, resourceNames
  included (checked before a CRD's absence is: a forbidden absent CRD is 403, as for real);
- GET of collections (cluster-wide and per namespace) and of single objects;
- lists with `limit`/`continue` (pages of a consistent snapshot; a continue token from before a
  compaction is 410 Expired), `resourceVersion` and `resourceVersionMatch` (unset: most recent;
  "0": any, served whole as from the watch cache, `limit` ignored; N: not older than N, or exactly
  N when `limit` is set or the match is Exact; 410 below the compaction point; "Too large
  resource version" (504) when N is still in the future after a short wait);
- field selectors on `metadata.name` and `metadata.namespace` (`=`, `==`, `!=`); any other field
  is 400 as on the real server; label selectors are refused (birdgen does not use them);
- `?watch=1&resourceVersion=N` streaming newline-delimited JSON events with chunked transfer
  encoding, `allowWatchBookmarks`, `timeoutSeconds`, `410 Expired` once N is compacted and
  "Too large resource version" from a future N;
- one global, monotonically increasing resourceVersion, as etcd gives the real server.

Tests drive it with `create`/`update`/`patch`/`delete`, break it on purpose with `compact`,
`drop_watches`, `fail_next`, `delay_next` and `set_installed`, and inspect `requests()` (each
with its response size, so benchmarks can count what a client asked of the server).
Only GET is served: birdgen never writes to the cluster.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import copy
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import parse_qs, urlsplit

from kubeapi_rbac import Attributes, Rbac, deploy_rbac, forbidden_message

Obj = dict[str, Any]

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Resource:
    """One REST resource the server knows, e.g. `bgppeers.crd.projectcalico.org`."""

    group: str  # "" for the core API
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def name(self) -> str:
        """The resource's name as kubectl spells it: `services`, `nodes.crd.projectcalico.org`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


CALICO = "crd.projectcalico.org"

RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "services", "Service", namespaced=True),
    Resource("", "v1", "endpoints", "Endpoints", namespaced=True),
    Resource("", "v1", "nodes", "Node", namespaced=False),
    Resource("", "v1", "secrets", "Secret", namespaced=True),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", namespaced=True),
    Resource(CALICO, "v1", "bgpconfigurations", "BGPConfiguration", namespaced=False),
    Resource(CALICO, "v1", "bgppeers", "BGPPeer", namespaced=False),
    Resource(CALICO, "v1", "nodes", "Node", namespaced=False),
    Resource(CALICO, "v1", "ippools", "IPPool", namespaced=False),
    Resource(CALICO, "v1", "bgpfilters", "BGPFilter", namespaced=False),
)


@dataclass
class Request:
    """One request as the server saw it, for tests to assert on."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    resource: str | None  # Resource.name, or None when the path matched nothing
    at: float  # time.monotonic() when it arrived
    sent: int = 0  # response body bytes; a watch's grows while it streams

    @property
    def watch(self) -> bool:
        return _truthy(self.query.get("watch"))


@dataclass
class _Fault:
    remaining: int
    resource: str | None
    watch: bool | None
    status: int = 0  # 0: a delay, not a failure
    delay: float = 0.0

    def matches(self, resource: str | None, watch: bool) -> bool:
        return (self.resource is None or self.resource == resource) and (
            self.watch is None or self.watch == watch
        )


# Sentinels put on a watch's queue by the control methods.
_EXPIRE = object()
_DROP = object()


@dataclass(eq=False)
class _Watch:
    resource: Resource
    namespace: str | None
    sock: socket.socket
    selector: _FieldSelector
    events: queue.Queue[object] = field(default_factory=queue.Queue)
    entry: Request | None = None  # its line in the request log, whose byte count it keeps

    def send(self, h: _Handler, data: bytes) -> None:
        sent = h.send_chunk(data)
        if self.entry is not None:
            self.entry.sent += sent


class _BadRequest(Exception):
    pass


@dataclass(frozen=True)
class _FieldSelector:
    """`metadata.name=x,metadata.namespace!=y`: the fields every resource supports."""

    terms: tuple[tuple[str, str, str], ...] = ()  # (field, "=" or "!=", value)

    @classmethod
    def parse(cls, text: str | None) -> _FieldSelector:
        terms = []
        for part in (text or "").split(","):
            if not part.strip():
                continue
            op = "!=" if "!=" in part else "==" if "==" in part else "="
            fld, _, value = part.partition(op)
            fld = fld.strip()
            if fld not in ("metadata.name", "metadata.namespace"):
                raise _BadRequest(f"field label not supported: {fld}")
            terms.append((fld, "!=" if op == "!=" else "=", value.strip()))
        return cls(tuple(terms))

    def exact_name(self) -> str:
        """The name it pins (RequestInfo's name for a list or watch), or ""."""
        names = {v for f, op, v in self.terms if f == "metadata.name" and op == "="}
        return names.pop() if len(names) == 1 else ""

    def matches(self, obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        for fld, op, value in self.terms:
            actual = meta.get(fld.removeprefix("metadata."), "") or ""
            if (actual == value) != (op == "="):
                return False
        return True


def _encode_continue(rv: int, after: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(after)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (binascii.Error, ValueError, KeyError, IndexError, TypeError):
        raise _BadRequest("continue key is not valid") from None


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true")


def _status(code: int, reason: str, message: str, **extra: Any) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
        **extra,
    }


def _too_large(rv: int, current: int) -> Obj:
    # kube-apiserver's watch cache waits up to 3 s for a version it has not seen, then says this.
    return _status(
        504,
        "Timeout",
        f"Too large resource version: {rv}, current: {current}",
        details={
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
    )


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta["name"])


class _HTTPServer(ThreadingHTTPServer):
    # Handler threads are tracked by FakeApiServer and joined with a deadline; the stdlib's
    # block_on_close would join them without one, and an idle keep-alive connection keeps its
    # thread blocked in recv() until the socket is shut down.
    daemon_threads = True
    block_on_close = False

    def __init__(self, api: FakeApiServer) -> None:
        self.api = api
        super().__init__((LOOPBACK, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Headers and body go out in separate writes; with Nagle's algorithm on, the second
        # waits for the client's delayed ACK (~40 ms a request on Linux).
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="fake-apiserver-conn",
            daemon=True,
        )
        with self.api._lock:
            self.api._conns.add(request)
            self.api._threads = [t for t in self.api._threads if t.is_alive()]
            self.api._threads.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self.api._lock:
            self.api._conns.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked encoding, as the real server
    timeout = 30  # an idle keep-alive connection is closed eventually, not kept forever
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is in FakeApiServer.requests()

    def do_GET(self) -> None:
        self.server.api._serve(self)

    def _not_allowed(self) -> None:
        self.server.api._log(self.command, self.path, {}, 405, None)
        self.send_json(405, _status(405, "MethodNotAllowed", "the fake serves GET only"))

    do_POST = do_PUT = do_PATCH = do_DELETE = _not_allowed

    def send_json(
        self, code: int, body: Obj | bytes, logged: Callable[[int], object] = lambda size: None
    ) -> int:
        """Send `body` (or its JSON, already encoded); `logged(size)` runs before anything is
        written, so that a client that has its answer finds the request in the log."""
        data = body if isinstance(body, bytes) else _dumps(body)
        logged(len(data))
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return len(data)

    def send_chunk(self, data: bytes) -> int:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
        return len(data)


class FakeApiServer:
    """A Kubernetes API server double on 127.0.0.1 (see the module docstring).

    Use as a context manager, or call `start()` and `stop()`. Thread-safe: tests mutate it
    while client threads list and watch.
    """

    def __init__(
        self,
        *,
        missing: Iterable[str] = (),
        bookmark_interval: float = 1.0,
        expired_watch: Literal["event", "http"] = "event",
        rbac: Iterable[Obj] | Literal["deploy"] | None = "deploy",
        too_large_wait: float = 3.0,
    ) -> None:
        """`missing`: resource names (`bgpfilters.crd.projectcalico.org`) whose CRD is not
        installed, so every request for them is 404. `bookmark_interval`: seconds between
        BOOKMARK events on watches that allow them (the real server sends one about a minute).
        `expired_watch`: how a watch from a compacted resourceVersion fails — "event" sends
        HTTP 200 and an ERROR event with a 410 Status, as kube-apiserver's watch cache does;
        "http" answers HTTP 410 outright. `rbac`: the RBAC objects to enforce; "deploy" (the
        default) is the shipped manifests with the Secrets Role in kube-system
        (`kubeapi_rbac.deploy_rbac()`), None lets every request through unauthenticated.
        `too_large_wait`: how long a request for a future resourceVersion waits for it before
        "Too large resource version" (kube-apiserver: 3 s)."""
        self._lock = threading.Lock()
        self._advanced = threading.Condition(self._lock)  # notified on every write
        self._objects: dict[Resource, dict[tuple[str, str], Obj]] = {r: {} for r in RESOURCES}
        self._sorted: dict[Resource, list[tuple[str, str]]] = {}  # sorted keys, until a write
        self._history: list[tuple[int, Resource, str, Obj]] = []
        # The objects at the compaction point: with the history after it, any version since
        # can be rebuilt (exact lists, continued lists).
        self._base: dict[Resource, dict[tuple[str, str], Obj]] = {r: {} for r in RESOURCES}
        self._states: dict[tuple[Resource, int], dict[tuple[str, str], Obj]] = {}
        # Each stored object's JSON as a list item, encoded once when it is written: a list is
        # then a join of bytes, so the double's own encoding (on the CPUs the client under
        # test uses) stays out of what a benchmark measures, as a real API server's would be.
        # Keyed by id(); the entry holds the object, so the id is not reused while it is there.
        self._encoded: dict[int, tuple[Obj, bytes]] = {}
        self._rv = 1
        self._compacted = 0  # a watch or list from a resourceVersion below this gets 410
        self.rbac = Rbac(deploy_rbac() if rbac == "deploy" else rbac) if rbac is not None else None
        self.too_large_wait = too_large_wait
        self._installed = {r: True for r in RESOURCES}
        for name in missing:
            self._installed[self._by_name(name)] = False
        self._watches: set[_Watch] = set()
        self._faults: list[_Fault] = []
        self._log_entries: list[Request] = []
        self._conns: set[Any] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.bookmark_interval = bookmark_interval
        self.expired_watch = expired_watch
        self._httpd: _HTTPServer | None = None
        self._serve_thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeApiServer:
        self._httpd = _HTTPServer(self)
        self._serve_thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-apiserver",
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and end every connection; returns within about `timeout` seconds."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._httpd is None:
            return
        self._httpd.shutdown()  # returns within one poll_interval
        with self._lock:
            conns = list(self._conns)
            threads = list(self._threads)
        for conn in conns:
            # Unblocks handler threads sitting in recv() on idle keep-alive connections.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        for thread in [*threads, self._serve_thread]:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def token(self, namespace: str = "kube-system", name: str = "birdgen") -> str:
        """A ServiceAccount's bearer token (birdgen's, by default)."""
        return self.rbac.token_for(namespace, name) if self.rbac is not None else "fake-token"

    def kubeconfig(self, path: str | Path, token: str | None = "") -> Path:
        """Write a kubeconfig pointing at this server (plain HTTP) that authenticates with
        `token`: "" means birdgen's ServiceAccount, None no credentials at all."""
        user = {"token": token or self.token()} if token is not None else {}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": user}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "current-context": "fake",
        }
        path = Path(path)
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML, which kubeconfig is
        return path

    # ---- objects ---------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def create(self, obj: Obj) -> Obj:
        """Store a new object (ADDED); returns it as stored, with server-set metadata."""
        res = self._by_object(obj)
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            meta.setdefault("namespace", "default")
        elif "namespace" in meta:
            raise ValueError(f"{res.kind} is cluster-scoped; no metadata.namespace")
        with self._lock:
            if _key(obj) in self._objects[res]:
                raise ValueError(f"{res.name} {_key(obj)} already exists")
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self._commit(res, "ADDED", obj)
            return copy.deepcopy(obj)

    def update(self, obj: Obj) -> Obj:
        """Replace an existing object (MODIFIED), keeping its uid and creationTimestamp."""
        res = self._by_object(obj)
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            meta.setdefault("namespace", "default")
        with self._lock:
            old = self._objects[res].get(_key(obj))
            if old is None:
                raise KeyError(f"{res.name} {_key(obj)} does not exist")
            meta["uid"] = old["metadata"]["uid"]
            meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            self._commit(res, "MODIFIED", obj)
            return copy.deepcopy(obj)

    def patch(
        self,
        kind: str,
        name: str,
        namespace: str | None,
        fn: Callable[[Obj], Obj | None],
        *,
        api_version: str | None = None,
    ) -> Obj:
        """Update an object with `fn`, which gets a copy and mutates it or returns a new one."""
        current = self.get(kind, name, namespace, api_version=api_version)
        if current is None:
            raise KeyError(f"{kind} {namespace}/{name} does not exist")
        result = fn(current)
        return self.update(current if result is None else result)

    def delete(
        self, kind: str, name: str, namespace: str | None = None, *, api_version: str | None = None
    ) -> None:
        """Remove an object (DELETED; the event carries the deletion's resourceVersion)."""
        res = self._by_kind(kind, api_version)
        with self._lock:
            obj = self._objects[res].get((namespace or "", name))
            if obj is None:
                raise KeyError(f"{kind} {namespace}/{name} does not exist")
            self._commit(res, "DELETED", copy.deepcopy(obj))

    def get(
        self, kind: str, name: str, namespace: str | None = None, *, api_version: str | None = None
    ) -> Obj | None:
        res = self._by_kind(kind, api_version)
        with self._lock:
            obj = self._objects[res].get((namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def _commit(self, res: Resource, event: str, obj: Obj) -> None:
        # Caller holds the lock. One resourceVersion per write, shared by all resources.
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        if event == "DELETED":
            del self._objects[res][_key(obj)]
        else:
            self._objects[res][_key(obj)] = obj
        self._sorted.pop(res, None)
        if event != "DELETED":
            self._item_json(obj)
        # Stored objects are never mutated in place (writes replace them), so history, watch
        # queues and list snapshots can share them.
        self._history.append((self._rv, res, event, obj))
        for watch in self._watches:
            if (
                watch.resource == res
                and watch.namespace in (None, _key(obj)[0])
                and watch.selector.matches(obj)
            ):
                watch.events.put((event, obj))
        self._advanced.notify_all()

    # ---- faults ----------------------------------------------------------------------------

    def compact(self, *, expire_watches: bool = True) -> int:
        """Forget history: every resourceVersion handed out so far becomes too old.

        A later watch from one gets 410 Expired (see `expired_watch`), as does a list that asks
        for one. With `expire_watches`, open watches also get an ERROR 410 event and end, as when
        kube-apiserver's watch cache falls too far behind. Returns the new compaction point."""
        with self._lock:
            self._rv += 1
            self._compacted = self._rv
            self._history.clear()
            self._states.clear()
            self._base = {r: dict(objs) for r, objs in self._objects.items()}
            alive = {id(o) for objs in self._objects.values() for o in objs.values()}
            self._encoded = {i: e for i, e in self._encoded.items() if i in alive}
            self._advanced.notify_all()
            if expire_watches:
                for watch in self._watches:
                    watch.events.put(_EXPIRE)
            return self._compacted

    def drop_watches(self) -> int:
        """Abruptly close every open watch connection (no final chunk); returns how many."""
        with self._lock:
            watches = list(self._watches)
            self._watches.clear()
        for watch in watches:
            watch.events.put(_DROP)
            with contextlib.suppress(OSError):
                watch.sock.shutdown(socket.SHUT_RDWR)
        return len(watches)

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        resource: str | None = None,
        watch: bool | None = None,
    ) -> None:
        """Answer the next `n` matching requests with `status` and a Status body.

        `resource` (a Resource.name such as `bgppeers.crd.projectcalico.org`) and `watch`
        narrow which requests match; None matches any."""
        with self._lock:
            self._faults.append(_Fault(n, resource, watch, status=status))

    def clear_faults(self) -> None:
        """Forget every pending fault: requests are answered normally again."""
        with self._lock:
            self._faults.clear()

    def delay_next(
        self,
        n: int = 1,
        seconds: float = 0.5,
        *,
        resource: str | None = None,
        watch: bool | None = None,
    ) -> None:
        """Hold the next `n` matching requests for `seconds` before answering them."""
        with self._lock:
            self._faults.append(_Fault(n, resource, watch, delay=seconds))

    def set_installed(self, resource: str, installed: bool) -> None:
        """Install or remove a resource's CRD; while removed, its requests get 404."""
        res = self._by_name(resource)
        with self._lock:
            self._installed[res] = installed
            if not installed:
                self._objects[res].clear()
                dropped = [w for w in self._watches if w.resource == res]
            else:
                dropped = []
        for watch in dropped:
            watch.events.put(_DROP)

    # ---- inspection ------------------------------------------------------------------------

    def requests(
        self, *, resource: str | None = None, watch: bool | None = None, since: float = 0.0
    ) -> list[Request]:
        """Requests received so far (optionally those for one resource, watches or lists only,
        or arrived at or after `since`, a time.monotonic() value)."""
        with self._lock:
            entries = list(self._log_entries)
        return [
            r
            for r in entries
            if (resource is None or r.resource == resource)
            and (watch is None or r.watch == watch)
            and r.at >= since
        ]

    def open_watches(self, resource: str | None = None) -> int:
        with self._lock:
            return sum(1 for w in self._watches if resource in (None, w.resource.name))

    # ---- HTTP ------------------------------------------------------------------------------

    def _log(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        status: int,
        res: Resource | None,
        sent: int = 0,
    ) -> Request:
        entry = Request(
            method, path, query, status, res.name if res else None, time.monotonic(), sent
        )
        with self._lock:
            self._log_entries.append(entry)
        return entry

    def _route(self, path: str) -> tuple[Resource, str | None, str | None] | None:
        """Map a path to (resource, namespace, name); None when nothing matches."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if len(rest) not in (1, 2):
            return None
        for res in RESOURCES:
            if (res.group, res.version, res.plural) == (group, version, rest[0]):
                if namespace is not None and not res.namespaced:
                    return None
                return res, namespace, rest[1] if len(rest) == 2 else None
        return None

    def _serve(self, h: _Handler) -> None:
        url = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        route = self._route(url.path)
        res = route[0] if route else None
        watch = _truthy(query.get("watch"))

        def refuse(code: int, body: Obj) -> None:
            h.send_json(code, body, lambda n: self._log("GET", url.path, query, code, res, n))

        user = None
        if self.rbac is not None:
            user = self.rbac.authenticate(h.headers.get("Authorization"))
            if user is None:
                refuse(401, _status(401, "Unauthorized", "Unauthorized"))
                return
        try:
            selector = _FieldSelector.parse(query.get("fieldSelector"))
        except _BadRequest as exc:
            refuse(400, _status(400, "BadRequest", str(exc)))
            return
        if user is not None and route is not None:
            assert self.rbac is not None
            resource, namespace, name = route
            attrs = Attributes(
                verb="get" if name is not None else "watch" if watch else "list",
                group=resource.group,
                resource=resource.plural,
                namespace=namespace or "",
                name=name if name is not None else selector.exact_name(),
            )
            if not self.rbac.allowed(user, attrs):
                refuse(403, _status(403, "Forbidden", forbidden_message(user, attrs)))
                return

        fault = self._take_fault(res.name if res else None, watch)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status:
            refuse(fault.status, _status(fault.status, "Injected", "fail_next"))
            return
        if route is None or not self._installed[route[0]]:
            refuse(
                404, _status(404, "NotFound", "the server could not find the requested resource")
            )
            return
        if unsupported := sorted({"labelSelector", "sendInitialEvents"} & query.keys()):
            # birdgen does not use these; refuse rather than silently ignore them.
            refuse(400, _status(400, "BadRequest", f"the double does not support {unsupported}"))
            return

        res, namespace, name = route
        try:
            if name is not None:
                self._serve_get(h, url.path, query, res, namespace, name)
            elif watch:
                self._serve_watch(h, url.path, query, res, namespace, selector)
            else:
                self._serve_list(h, url.path, query, res, namespace, selector)
        except _BadRequest as exc:
            refuse(400, _status(400, "BadRequest", str(exc)))

    def _take_fault(self, resource: str | None, watch: bool) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(resource, watch):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _serve_get(
        self,
        h: _Handler,
        path: str,
        query: dict[str, str],
        res: Resource,
        namespace: str | None,
        name: str,
    ) -> None:
        with self._lock:
            obj = self._objects[res].get((namespace or "", name))
        if obj is None:
            body = _status(404, "NotFound", f'{res.name} "{name}" not found')
            h.send_json(404, body, lambda n: self._log("GET", path, query, 404, res, n))
            return
        h.send_json(200, obj, lambda n: self._log("GET", path, query, 200, res, n))

    def _too_old(self, rv: str | None) -> bool:
        # Caller holds the lock. "" and "0" mean "any version", never too old.
        return rv not in (None, "", "0") and int(rv) < self._compacted

    def _wait_for(self, rv: int) -> bool:
        """Whether version `rv` exists, waiting a little for it as the watch cache does.
        Caller holds the lock."""
        return self._advanced.wait_for(lambda: self._rv >= rv, timeout=self.too_large_wait)

    def _keys(self, res: Resource) -> list[tuple[str, str]]:
        # Caller holds the lock.
        keys = self._sorted.get(res)
        if keys is None:
            keys = self._sorted[res] = sorted(self._objects[res])
        return keys

    def _state_at(self, res: Resource, rv: int) -> tuple[dict[tuple[str, str], Obj], list[Any]]:
        """The objects of `res` at version `rv` and their sorted keys. Caller holds the lock."""
        if rv >= self._rv:
            return self._objects[res], self._keys(res)
        state = self._states.get((res, rv))
        if state is None:
            state = dict(self._base[res])
            for erv, r, event, obj in self._history:
                if erv > rv:
                    break
                if r is res:
                    if event == "DELETED":
                        state.pop(_key(obj), None)
                    else:
                        state[_key(obj)] = obj
            if len(self._states) >= 16:
                self._states.pop(next(iter(self._states)))
            self._states[(res, rv)] = state
        return state, sorted(state)

    def _serve_list(
        self,
        h: _Handler,
        path: str,
        query: dict[str, str],
        res: Resource,
        namespace: str | None,
        selector: _FieldSelector,
    ) -> None:
        rv_param = query.get("resourceVersion") or ""
        match = query.get("resourceVersionMatch") or ""
        token = query.get("continue") or ""
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise _BadRequest("limit: not an integer") from None
        if match and match not in ("Exact", "NotOlderThan"):
            raise _BadRequest(f'resourceVersionMatch: unsupported value "{match}"')
        if match and not rv_param:
            raise _BadRequest(
                "resourceVersionMatch is forbidden unless resourceVersion is provided"
            )
        if match == "Exact" and rv_param == "0":
            raise _BadRequest('resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
        if token and (rv_param or match):
            raise _BadRequest("specifying resource version is not allowed when using continue")
        with self._lock:
            code, body = self._list_body(res, namespace, selector, rv_param, match, token, limit)
        h.send_json(code, body, lambda n: self._log("GET", path, query, code, res, n))

    def _list_body(
        self,
        res: Resource,
        namespace: str | None,
        selector: _FieldSelector,
        rv_param: str,
        match: str,
        token: str,
        limit: int,
    ) -> tuple[int, Obj | bytes]:
        """A list's status code and body (a page's JSON, or a Status). Caller holds the lock."""
        after: tuple[str, str] | None = None
        if token:
            at, after = _decode_continue(token)
            if at < self._compacted:
                # etcd compacted the snapshot the pages come from; the real server offers a
                # token to go on inconsistently, which a careful client does not take.
                msg = (
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use "
                    "the continue token in this response to retrieve the remainder of the "
                    "results. Continuing with the provided token results in an inconsistent "
                    "list - objects that were created, modified, or deleted between the time "
                    "the first chunk was returned and now may show up in the list."
                )
                inconsistent = _encode_continue(self._rv, after)
                return 410, _status(410, "Expired", msg, metadata={"continue": inconsistent})
        elif rv_param in ("", "0"):
            at = self._rv
            if rv_param == "0" and match != "Exact":
                limit = 0  # served from the watch cache, which does not paginate
        else:
            try:
                wanted = int(rv_param)
            except ValueError:
                raise _BadRequest(f"resourceVersion: invalid value {rv_param!r}") from None
            exact = match == "Exact" or (not match and limit > 0)
            if exact and wanted < self._compacted:
                return 410, self._expired_status(rv_param)
            if not self._wait_for(wanted):
                return 504, _too_large(wanted, self._rv)
            at = wanted if exact else self._rv
        state, keys = self._state_at(res, at)
        start = 0 if after is None else bisect.bisect_right(keys, after)
        items: list[bytes] = []
        next_key: tuple[str, str] | None = None
        remaining = 0
        for i in range(start, len(keys)):
            key = keys[i]
            if namespace not in (None, key[0]):
                continue
            obj = state[key]
            if not selector.matches(obj):
                continue
            if limit and len(items) == limit:
                next_key = keys[i - 1]
                if namespace is None and not selector.terms:
                    remaining = len(keys) - i
                else:
                    remaining = sum(
                        1
                        for k in keys[i:]
                        if namespace in (None, k[0]) and selector.matches(state[k])
                    )
                break
            items.append(self._item_json(obj))
        meta: Obj = {"resourceVersion": str(at)}
        if next_key is not None:
            meta["continue"] = _encode_continue(at, next_key)
            meta["remainingItemCount"] = remaining
        head = _dumps({"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta})
        return 200, head[:-1] + b',"items":[' + b",".join(items) + b"]}"

    def _item_json(self, obj: Obj) -> bytes:
        """`obj` as a list item (real list items carry kind/apiVersion only on the list
        itself), encoded once. Caller holds the lock."""
        entry = self._encoded.get(id(obj))
        if entry is None or entry[0] is not obj:
            item = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
            entry = self._encoded[id(obj)] = (obj, _dumps(item))
        return entry[1]

    def _expired_status(self, rv: str) -> Obj:
        msg = f"too old resource version: {rv} ({self._compacted})"
        return _status(410, "Expired", msg)

    def _serve_watch(
        self,
        h: _Handler,
        path: str,
        query: dict[str, str],
        res: Resource,
        namespace: str | None,
        selector: _FieldSelector,
    ) -> None:
        rv = query.get("resourceVersion")
        if query.get("resourceVersionMatch"):
            raise _BadRequest("resourceVersionMatch is forbidden for watch")
        if rv not in (None, "", "0") and not rv.isdigit():
            raise _BadRequest(f"resourceVersion: invalid value {rv!r}")
        bookmarks = _truthy(query.get("allowWatchBookmarks"))
        timeout = float(query["timeoutSeconds"]) if "timeoutSeconds" in query else None
        watch = _Watch(res, namespace, h.connection, selector)
        with self._lock:
            expired = self._too_old(rv)
            if expired:
                error = self._expired_status(rv or "")
            elif rv not in (None, "", "0") and not self._wait_for(int(rv)):
                error = _too_large(int(rv), self._rv)
            else:
                error = {}
                if rv in (None, "", "0"):
                    # No starting point: synthetic ADDED events for what exists now.
                    backlog = [
                        ("ADDED", o)
                        for k, o in sorted(self._objects[res].items())
                        if namespace in (None, k[0])
                    ]
                else:
                    backlog = [
                        (event, o)
                        for erv, r, event, o in self._history
                        if erv > int(rv or 0) and r == res and namespace in (None, _key(o)[0])
                    ]
                for event, obj in backlog:
                    if selector.matches(obj):
                        watch.events.put((event, obj))
                self._watches.add(watch)
        if error and (error["code"] != 410 or self.expired_watch == "http"):
            h.send_json(
                error["code"], error, lambda n: self._log("GET", path, query, error["code"], res, n)
            )
            return

        watch.entry = self._log("GET", path, query, 200, res)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        try:
            if expired:
                watch.send(h, json.dumps({"type": "ERROR", "object": error}).encode() + b"\n")
            elif not self._stream(h, watch, bookmarks, timeout):
                h.close_connection = True
                return  # dropped: no terminating chunk, the client sees a broken stream
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except OSError:
            h.close_connection = True
        finally:
            with self._lock:
                self._watches.discard(watch)

    def _stream(self, h: _Handler, watch: _Watch, bookmarks: bool, timeout: float | None) -> bool:
        """Send events until the timeout or an expiry (True), or a drop or stop (False)."""
        deadline = time.monotonic() + timeout if timeout is not None else None
        last_bookmark = time.monotonic()
        while True:
            if self._stopping.is_set():
                return False
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return True
            wait = 0.05 if deadline is None else min(0.05, deadline - now)
            try:
                item = watch.events.get(timeout=wait)
            except queue.Empty:
                if bookmarks and now - last_bookmark >= self.bookmark_interval:
                    last_bookmark = now
                    self._send_bookmark(h, watch)
                continue
            if item is _DROP:
                return False
            if item is _EXPIRE:
                error = {"type": "ERROR", "object": self._expired_status("")}
                watch.send(h, json.dumps(error).encode() + b"\n")
                return True
            event, obj = cast(tuple[str, Obj], item)
            line = json.dumps({"type": event, "object": obj}, separators=(",", ":")).encode()
            watch.send(h, line + b"\n")

    def _send_bookmark(self, h: _Handler, watch: _Watch) -> None:
        with self._lock:
            # Every event up to the current version was queued under this lock; if the queue is
            # empty they have all been sent, so the bookmark may claim the current version.
            if not watch.events.empty():
                return
            rv = str(self._rv)
        res = watch.resource
        obj = {"kind": res.kind, "apiVersion": res.api_version, "metadata": {"resourceVersion": rv}}
        watch.send(h, json.dumps({"type": "BOOKMARK", "object": obj}).encode() + b"\n")

    # ---- lookups ---------------------------------------------------------------------------

    @staticmethod
    def _by_name(name: str) -> Resource:
        for res in RESOURCES:
            if res.name == name:
                return res
        raise KeyError(f"unknown resource {name!r}")

    @staticmethod
    def _by_object(obj: Obj) -> Resource:
        for res in RESOURCES:
            if (res.api_version, res.kind) == (obj.get("apiVersion"), obj.get("kind")):
                return res
        raise ValueError(f"unknown apiVersion/kind {obj.get('apiVersion')}/{obj.get('kind')}")

    @staticmethod
    def _by_kind(kind: str, api_version: str | None) -> Resource:
        found = [r for r in RESOURCES if r.kind == kind and api_version in (None, r.api_version)]
        if len(found) != 1:
            raise ValueError(f"kind {kind!r} (apiVersion {api_version}) matches {len(found)}")
        return found[0]


def new_api_client(kubeconfig: str | Path) -> Any:
    """A real `kubernetes` ApiClient loaded from `kubeconfig`, with proxies switched off.

    The client takes HTTP(S)_PROXY from the environment; a proxy there would carry test traffic
    off the machine, so the configuration pins "no proxy" before the host is set.
    """
    from kubernetes import client, config

    configuration = client.Configuration()
    configuration.proxy = None  # the setter also stops the host setter re-reading the env
    return config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), client_configuration=configuration
    )
