"""The process's HTTP endpoints: ``/metrics`` and ``/healthz`` + ``/readyz``.

Two listeners, as controller-runtime managers have, so a NetworkPolicy or a
Service can expose metrics without exposing probes and vice versa.  Checks
are callables returning ``None`` when healthy or a short reason when not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["Check", "HTTPEndpoints", "parse_bind_address"]

Check = Callable[[], "str | None"]


def parse_bind_address(address: str) -> tuple[str, int] | None:
    """``":8080"`` → ``("", 8080)``; ``"127.0.0.1:0"``; ``"0"`` disables (returns None)."""
    if address in ("0", ""):
        return None
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        route = self.server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            self._reply(404, b"not found\n", "text/plain")
            return
        status, body, content_type = route()
        self._reply(status, body, content_type)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: stay quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Callable[[], tuple[int, bytes, str]]]


def _checks_route(checks: dict[str, Check]) -> Callable[[], tuple[int, bytes, str]]:
    def route() -> tuple[int, bytes, str]:
        failures = []
        for name, check in checks.items():
            try:
                problem = check()
            except Exception as err:  # a broken check is a failed check
                problem = f"check raised {type(err).__name__}"
            if problem:
                failures.append(f"[-]{name} failed: {problem}")
        if failures:
            return 500, ("\n".join(failures) + "\n").encode(), "text/plain; charset=utf-8"
        return 200, b"ok\n", "text/plain; charset=utf-8"

    return route


class HTTPEndpoints:
    """Serves metrics from ``registry`` and the health checks, each on its own address."""

    def __init__(
        self,
        registry: CollectorRegistry,
        metrics_address: str,
        health_address: str,
        healthz: dict[str, Check],
        readyz: dict[str, Check],
    ) -> None:
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        metrics_bind = parse_bind_address(metrics_address)
        health_bind = parse_bind_address(health_address)
        if metrics_bind is not None:
            server = _Server(metrics_bind, _Handler)
            server.routes = {"/metrics": lambda: (200, generate_latest(registry), CONTENT_TYPE_LATEST)}
            self._servers.append(server)
        if health_bind is not None:
            server = _Server(health_bind, _Handler)
            server.routes = {"/healthz": _checks_route(healthz), "/readyz": _checks_route(readyz)}
            self._servers.append(server)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [s.server_address[:2] for s in self._servers]

    def start(self) -> None:
        for server in self._servers:
            t = threading.Thread(target=server.serve_forever, name="http", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
