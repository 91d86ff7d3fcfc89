"""A tiny HTTP(S) server standing in for the Kubernetes API server in unit tests.

Routes are ``(method, path)`` -> a reply (code, JSON body, headers) or a
function that writes the response itself (for watch streams).  Every request
is recorded with its path, query, headers and body.  Handlers that must hang
(silent watches, stop() tests) wait on :attr:`FakeAPIServer.release`, which
:meth:`close` sets so no server thread outlives the test.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: Any  # email.message.Message: .get(), .get_all()
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    code: int
    body: Any = None  # dict/list -> JSON; bytes -> as is
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[["Handler", Recorded], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        rec = Recorded(self.command, parts.path, query, self.headers, body)
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(rec)
            queue = owner.routes.get((self.command, parts.path))
            route = queue.pop(0) if queue and len(queue) > 1 else (queue[0] if queue else None)
        if route is None:
            status = {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
                      "message": f"no route for {self.command} {parts.path}"}
            self.reply(Reply(404, status))
        elif isinstance(route, Reply):
            self.reply(route)
        else:
            route(self, rec)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    # -- response helpers for routes ---------------------------------------------
    def reply(self, reply: Reply) -> None:
        body = reply.body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            ctype = "application/json"
        else:
            data = body or b""
            ctype = "text/html"
        self.send_response(reply.code)
        self.send_header("Content-Type", reply.headers.get("Content-Type", ctype))
        for name, value in reply.headers.items():
            if name != "Content-Type":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def event(self, event_type: str, obj: dict) -> None:
        self.chunk(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True

    def drop(self) -> None:
        """Close the socket abruptly in the middle of a chunk."""
        self.wfile.write(b"400\r\n{\"type\": \"ADD")  # announces 1024 bytes, sends 13
        self.wfile.flush()
        self.connection.shutdown(2)
        self.close_connection = True

    def hang(self) -> None:
        """Send nothing more until the test ends."""
        self.server.owner.release.wait(30)
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeAPIServer


class FakeAPIServer:
    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.routes: dict[tuple[str, str], list[Reply | Route]] = {}
        self.release = threading.Event()
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.owner = self
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def route(self, method: str, path: str, *replies: Reply | Route) -> None:
        """Answer ``method path`` with ``replies`` in turn; the last one repeats."""
        with self.lock:
            self.routes[(method, path)] = list(replies)

    def last(self) -> Recorded:
        with self.lock:
            return self.requests[-1]

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


def self_signed_cert(directory: str) -> tuple[str, str, bytes]:
    """A certificate for 127.0.0.1 (and its key) in ``directory``; returns paths and the PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-apiserver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = f"{directory}/server.crt", f"{directory}/server.key"
    with open(cert_path, "wb") as f:
        f.write(pem)
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path, pem


def status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "reason": reason, "message": message, "code": code}
