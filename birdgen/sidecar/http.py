"""sidecar: the operator's endpoints, /healthz, /readyz and /metrics (--metrics-addr).

Place in the pipeline: beside it; it only reads state the loop and the reconciler keep.
/healthz answers 200 while the loop is alive, /readyz 200 once BIRD runs a config birdgen
rendered from a complete view (the first successful apply), its body listing the objects held
back from the config (one per line), /metrics the registry in the format the scraper's Accept
header asks for (prometheus-client's negotiation: text 0.0.4 by default, OpenMetrics when asked).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def parse_addr(addr: str) -> tuple[str, int]:
    """`127.0.0.1:9094`, `[::1]:9094` or `:9094` (all interfaces) as (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{addr!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


class OpsServer:
    def __init__(
        self,
        addr: str,
        *,
        healthy: Callable[[], bool],
        ready: Callable[[], bool],
        metrics: CollectorRegistry,
        ready_detail: Callable[[], str] = str,
    ) -> None:
        host, port = parse_addr(addr)

        def scrape(accept: str) -> tuple[int, bytes, str]:
            encode, ctype = choose_encoder(accept)
            return 200, encode(metrics), ctype

        routes: dict[str, Callable[[str], tuple[int, bytes, str]]] = {
            "/healthz": lambda _: (200, b"ok\n", "text/plain") if healthy() else (503, b"loop stalled\n", "text/plain"),
            "/readyz": lambda _: (200, ("ready\n" + ready_detail()).encode(), "text/plain") if ready() else (503, b"not ready\n", "text/plain"),
            "/metrics": scrape,
        }  # fmt: skip

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # scrapes every few seconds would drown the log

            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                accept = self.headers.get("Accept", "")
                code, data, ctype = route(accept) if route else (404, b"not found\n", "text/plain")
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server_class = _V6Server if ":" in host else ThreadingHTTPServer
        self._httpd = server_class((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> OpsServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="ops-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()
