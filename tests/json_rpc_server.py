"""One local HTTP server for the fake JSON-RPC daemons of the unit tests.

``JSONRPCServer(respond)`` listens on 127.0.0.1 with keep-alive (so connection
pooling is observable) and answers every POST with ``respond(client_address,
headers, body) -> (status, reply bytes)``; ``tls`` (a server ``SSLContext``) wraps
the socket. Each fake decides what to answer; this only speaks HTTP.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Respond = Callable[[Any, dict[str, str], bytes], tuple[int, bytes]]


class JSONRPCServer:
    def __init__(self, respond: Respond, tls: ssl.SSLContext | None = None) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10  # idle keep-alive connections end on their own

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, body = respond(self.client_address, dict(self.headers), raw)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
