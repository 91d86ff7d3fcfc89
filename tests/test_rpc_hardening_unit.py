"""One node must never hurt the controller every network shares (issue 11, items 1-6).

Fake daemons on 127.0.0.1 behave as a hostile image could: replies too large,
replies trickling one byte at a time, echoes of the credentials in every
encoding, impossible heights and hashes, JSON nested 100,000 deep.  Each test
failed before the fix it covers.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from controller_fixture import NAMESPACE, Fixture, new_network, new_pod, new_secret, with_certificate
from fake_bitcoin import FakeBitcoinNetwork
from json_rpc_server import JSONRPCServer
from prometheus_client import CollectorRegistry
from waiting import wait_for

from bitcoin_controller.bitcoin import (
    BitcoinClient,
    BitcoinRPCError,
    Config,
    RPCError,
    RPCMetrics,
    RPCProtocolError,
    Urllib3Transport,
)
from bitcoin_controller.bitcoin.errors import RPCDeadlineExceededError, RPCReplyTooLargeError
from bitcoin_controller.bitcoin.results import parse_blockchain_info
from bitcoin_controller.cmd.network import render_status
from bitcoin_controller.cmd.options import parse_options
from bitcoin_controller.controller import SyncError
from bitcoin_controller.controller.controller import STUCK_SYNC_SECONDS
from bitcoin_controller.controller.mesh import DEFAULT_MESH_TIMEOUT, MeshMemory, reconcile_mesh
from bitcoin_controller.controller.rpc import BitcoinRPCConnector, NodeSession
from bitcoin_controller.controller.status import MAX_CONDITION_MESSAGE, MAX_EVENT_MESSAGE, NodeObservation
from bitcoin_controller.logs import configure_logging

USER = "rpc-user-7f3c"
HASH = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


# ------------------------------------------------------------------ fake daemons


class RawServer:
    """A TCP server on 127.0.0.1 whose ``handler(conn)`` writes whatever bytes it likes."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.sent = 0
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            try:
                self.handler(conn)
            except OSError:
                pass  # the client hung up: what these tests want

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.sent += len(data)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


class EchoServer:
    """An HTTP server on 127.0.0.1 answering each request with ``respond(request)``."""

    def __init__(self) -> None:
        self.respond: Callable[[dict[str, Any]], tuple[int, bytes]] = lambda req: (200, b"{}")
        self.server = JSONRPCServer(
            lambda _client, headers, raw: self.respond({"headers": headers, **json.loads(raw)})
        )
        self.port = self.server.port

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def raw_server():
    servers: list[RawServer] = []

    def start(handler: Callable[[RawServer, socket.socket], None]) -> RawServer:
        server = RawServer(lambda conn: handler(server, conn))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def echo_server():
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def metrics():
    return RPCMetrics(CollectorRegistry())


def client_for(port: int, metrics: RPCMetrics, password: str = "pw-0123456789", **kwargs: Any) -> BitcoinClient:
    return BitcoinClient(
        Config("127.0.0.1", port, USER, password), Urllib3Transport(), "bitcoind", 2.0, 2.0, metrics=metrics, **kwargs
    )


def errors_counted(metrics: RPCMetrics, code: str) -> float:
    return metrics.registry.get_sample_value(
        "bitcoin_rpc_errors_total", {"method": "getblockcount", "code": code}
    ) or 0.0


def reply(result: Any, request_id: int = 1) -> bytes:
    return json.dumps({"result": result, "error": None, "id": request_id}).encode()


# -- item 1: reply size ------------------------------------------------------------


@pytest.mark.timeout(30)
def test_reply_over_the_size_cap_fails_that_call_unit(raw_server, metrics):
    body_size = 8 * 1024 * 1024

    def chunked_flood(server: RawServer, conn: socket.socket) -> None:
        # No Content-Length: the cap must hold while streaming.
        server.send(conn, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b'{"result": "' + b"a" * 65000
        while server.sent < body_size:
            server.send(conn, b"%x\r\n%s\r\n" % (len(piece), piece))
            piece = b"a" * 65000

    server = raw_server(chunked_flood)
    client = client_for(server.port, metrics, max_reply_bytes=1024 * 1024)
    with pytest.raises(RPCReplyTooLargeError, match="more than 1048576 bytes"):
        client.get_block_count()
    assert server.sent < body_size  # the rest was never read
    assert errors_counted(metrics, "too_large") == 1


def test_announced_oversize_reply_fails_before_reading_unit(raw_server, metrics):
    def announce(server: RawServer, conn: socket.socket) -> None:
        server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 188743680\r\n\r\n" + b"[" * 1000)

    server = raw_server(announce)
    with pytest.raises(RPCReplyTooLargeError, match="188743680-byte reply"):
        client_for(server.port, metrics, max_reply_bytes=4096).get_block_count()


def test_reply_under_the_cap_still_works_unit(echo_server, metrics):
    client = client_for(echo_server.port, metrics, max_reply_bytes=1024)
    echo_server.respond = lambda req: (200, reply(7, req["id"]))
    assert client.get_block_count() == 7
    echo_server.respond = lambda req: (200, reply("x" * 2000, req["id"]))
    with pytest.raises(RPCReplyTooLargeError):
        client.get_block_count()
    # The connection with the unread rest was dropped, not handed to the next call.
    echo_server.respond = lambda req: (200, reply(8, req["id"]))
    assert client.get_block_count() == 8


def test_reply_with_too_many_json_values_is_refused_unit(echo_server, metrics):
    # 600 KB that would decode into 200,000 lists: refused before decoding.
    echo_server.respond = lambda req: (200, b'{"result": [' + b"[]," * 200_000 + b'[]], "error": null, "id": 1}')
    with pytest.raises(RPCReplyTooLargeError, match="JSON values"):
        client_for(echo_server.port, metrics).get_block_count()
    assert errors_counted(metrics, "too_large") == 1


def test_limits_are_controller_flags_unit():
    opts = parse_options([], {})
    assert opts.rpc_max_reply_bytes == 4 * 1024 * 1024
    assert opts.rpc_call_timeout == 15.0
    assert opts.mesh_timeout == DEFAULT_MESH_TIMEOUT < STUCK_SYNC_SECONDS
    opts = parse_options(
        ["--rpc-call-timeout", "2s"],
        {"BITCOIN_CONTROLLER_RPC_MAX_REPLY_BYTES": "65536", "BITCOIN_CONTROLLER_MESH_TIMEOUT": "10s"},
    )
    assert (opts.rpc_call_timeout, opts.rpc_max_reply_bytes, opts.mesh_timeout) == (2.0, 65536, 10.0)
    connector = BitcoinRPCConnector(call_timeout=2.0, max_reply_bytes=65536)
    assert connector.client("btcd").max_reply_bytes == 65536
    assert connector.client("bitcoind").call_timeout == 2.0


# -- item 2: deadlines --------------------------------------------------------------


def trickle(head: bytes, body: bytes, pause: float = 0.02):
    def handler(server: RawServer, conn: socket.socket) -> None:
        for byte in head + body:
            server.send(conn, bytes([byte]))
            time.sleep(pause)  # the fake daemon's own pace, not test synchronisation

    return handler


@pytest.mark.timeout(30)
@pytest.mark.parametrize("where", ["body", "headers"])
def test_trickling_reply_hits_the_total_deadline_unit(raw_server, metrics, where):
    body = reply(5) + b" " * 300
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body) + b"X-Pad: " + b"p" * 200 + b"\r\n\r\n"
    server = raw_server(trickle(head, body) if where == "body" else trickle(head, body))
    if where == "body":
        server.handler = lambda conn: (server.send(conn, head), trickle(b"", body)(server, conn))
    # Each byte arrives well within the 2 s read timeout: only a total deadline stops it.
    client = client_for(server.port, metrics, call_timeout=0.5)
    start = time.monotonic()
    with pytest.raises(RPCDeadlineExceededError, match="within 0.5s"):
        client.get_block_count()
    assert time.monotonic() - start < 3.0
    assert errors_counted(metrics, "deadline") == 1


@pytest.mark.timeout(30)
def test_trickling_tls_handshake_hits_the_total_deadline_unit(metrics):
    from bitcoin_controller.bitcoin import TLSConfig, generate_self_signed_cert

    # A TLS record header announcing 16 KB, then one byte at a time.
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)  # the ClientHello
            for byte in b"\x16\x03\x03\x40\x00" + b"\x02" * 2000:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                stop.wait(0.02)  # the fake daemon's pace

    threading.Thread(target=serve, daemon=True).start()
    config = Config("127.0.0.1", listener.getsockname()[1], USER, "pw", TLSConfig(generate_self_signed_cert()[0]))
    client = BitcoinClient(config, Urllib3Transport(), "btcd", 2.0, 2.0, metrics=metrics, call_timeout=0.5)
    start = time.monotonic()
    try:
        with pytest.raises(RPCDeadlineExceededError):
            client.get_block_count()
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - start < 3.0


class _Hanging:
    """A NodeRPC whose first call hangs until released."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def get_blockchain_info(self):
        self.release.wait(30)
        return parse_blockchain_info({"chain": "regtest", "blocks": 1, "bestblockhash": HASH})

    def __getattr__(self, name):
        return lambda *args: [] if name in ("get_peer_info", "added_node_addresses") else None


class _Quick(_Hanging):
    def get_blockchain_info(self):
        return parse_blockchain_info({"chain": "regtest", "blocks": 3, "bestblockhash": HASH})


@pytest.mark.timeout(30)
def test_mesh_step_has_an_overall_deadline_unit():
    release = threading.Event()
    nodes = [
        NodeObservation(ordinal=i, pod_name=f"n-{i}", ip=f"10.0.0.{i + 1}", pod_ready=True, dns_name="")
        for i in range(2)
    ]
    daemons = [_Quick(release), _Hanging(release)]
    pool = ThreadPoolExecutor(4)
    try:
        start = time.monotonic()
        result = reconcile_mesh(
            nodes, {}, lambda n: daemons[n.ordinal], pool, 18444, MeshMemory(), timeout=0.3
        )
        assert time.monotonic() - start < 3.0
    finally:
        release.set()
        pool.shutdown(wait=True)
    assert nodes[0].blocks == 3 and nodes[0].rpc_error is None
    assert nodes[1].blocks is None and "deadline" in (nodes[1].rpc_error or "")
    assert result.errors == [f"node 1: {nodes[1].rpc_error}"]


@pytest.mark.timeout(60)
def test_slow_nodes_do_not_stall_other_networks_unit():
    # Two networks with a hanging node each, one healthy network, two workers.
    release = threading.Event()
    f = Fixture()
    specs = {"slow-a": "127.0.101.1", "slow-b": "127.0.102.1", "ok": "127.0.103.1"}
    for name, ip in specs.items():
        network = new_network(name=name, nodes=1, implementation="bitcoind")
        f.seed(network, new_pod(network, 0, ip, uid=f"uid-{name}-0"))
        if name.startswith("slow"):
            f.bitcoin.node(ip, block=release)
    f.seed(new_secret())
    controller = f.new_controller()
    controller.mesh_timeout = 0.3
    workers = [threading.Thread(target=controller._worker_loop, daemon=True) for _ in range(2)]
    try:
        for name in specs:
            controller.workqueue.add(f"{NAMESPACE}/{name}")
        for w in workers:
            w.start()

        def synced(name: str) -> bool:
            return any(
                a.verb == "update" and a.subresource == "status" and a.object["metadata"]["name"] == name
                for a in f.client.actions()
            )

        wait_for(lambda: all(synced(n) for n in specs), "all three networks to be synced", timeout=10)
        wait_for(lambda: controller.workqueue.num_requeues(f"{NAMESPACE}/slow-a") >= 1, "slow-a retried")
        assert controller.stuck_syncs(limit=5.0) == []
    finally:
        release.set()
        controller.workqueue.shut_down()
        for w in workers:
            w.join(10)
        controller.rpc_pool.shutdown(wait=True)
    ok_status = [
        a.object["status"] for a in f.client.actions()
        if a.verb == "update" and a.subresource == "status" and a.object["metadata"]["name"] == "ok"
    ][-1]
    assert ok_status["nodes"][0]["blocks"] == 0


# -- item 3: credentials ------------------------------------------------------------


PASSWORDS = {
    "long": "L0ng-" + "x9Q-" * 40 + "end",
    "short": "q7",
    "escaped": 'p"a\\s\'s\tw€rd',
    "base64ish": "QmFzZTY0LXBhc3M=",
}


def _b64_cores(secret: bytes) -> list[str]:
    """The base64 characters that encode ``secret`` alone, at each byte offset (test's own version)."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"#" * offset + secret + b"#" * 3).decode()
        first = (offset * 8 + 5) // 6
        last = (offset + len(secret)) * 8 // 6
        if last - first >= 4:
            cores.append(encoded[first:last])
    return cores


def forbidden_texts(password: str) -> list[str]:
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    texts = [password, token, token[:45], json.dumps(password)[1:-1], repr(password)[1:-1]]
    texts += _b64_cores(password.encode()) + _b64_cores(f"{USER}:{password}".encode())
    return [t for t in texts if t]


def hostile_replies(password: str) -> list[Callable[[dict[str, Any]], tuple[int, bytes]]]:
    """Ways a hostile node can echo the credentials back at the controller."""
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()

    def rpc_error(message: str, status: int = 500):
        return lambda req: (status, json.dumps({"result": None, "error": {"code": -1, "message": message},
                                                "id": req["id"]}).encode())

    return [
        lambda req: rpc_error(f"bad request {req['headers']} password={password!r}")(req),  # repr-escaped
        rpc_error(f"Authorization: Basic {token[:45]}"),  # cut token
        rpc_error("x" * 100 + f"Authorization: Basic {token}"),  # token past any cut
        rpc_error(base64.b64encode(b"!" + f"{USER}:{password}".encode()).decode()),  # base64 at an offset
        rpc_error(base64.b64encode(b"ab" + password.encode()).decode(), status=200),
        lambda req: (502, f"<html>proxy error for {urllib.parse.quote(password)} {password}</html>".encode()),
        lambda req: (200, json.dumps({"result": 1, "error": None, "id": password}).encode()),
        lambda req: (200, b"{garbage " + json.dumps(password).encode()),
    ]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", sorted(PASSWORDS))
def test_hostile_node_cannot_leak_credentials_in_exceptions_or_logs_unit(echo_server, metrics, caplog, kind):
    password = PASSWORDS[kind]
    caplog.set_level(logging.DEBUG, logger="bitcoin_controller.bitcoin")
    client = client_for(echo_server.port, metrics, password=password)
    texts: list[str] = []
    for respond in hostile_replies(password):
        echo_server.respond = respond
        with pytest.raises(BitcoinRPCError) as info:
            client.get_block_count()
        error = info.value
        texts += [str(error), repr(error), *map(str, error.args), getattr(error, "node_text", "")]
        if isinstance(error, RPCError):
            texts.append(error.rpc_message)
    texts.append(caplog.text)
    for text in texts:
        for secret in forbidden_texts(password):
            assert secret not in text, f"{secret!r} leaked into {text[:300]!r}"
    assert "node said" in caplog.text  # the debug log still says something about the reply


class PortConnector(BitcoinRPCConnector):
    """The real connector, aimed at a fake daemon's port on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        super().__init__(call_timeout=2.0)
        self.port = port

    def connect(self, impl, host, credentials, tls_cert_pem):
        config = Config(host, self.port, credentials.user, credentials.password)
        return NodeSession(self.client(impl.rpc_dialect), config)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", sorted(PASSWORDS))
def test_hostile_node_cannot_leak_credentials_into_status_or_events_unit(echo_server, kind):
    password = PASSWORDS[kind]
    for respond in hostile_replies(password):
        echo_server.respond = respond
        f = Fixture()
        f.bitcoin = PortConnector(echo_server.port)
        network = new_network(nodes=1, implementation="bitcoind")
        f.seed(network, new_secret(user=USER, password=password), new_pod(network, 0, "127.0.0.1"))
        out = io.StringIO()
        configure_logging("json", "debug", stream=out)
        try:
            controller = f.new_controller()
            controller.workqueue.add(f"{NAMESPACE}/net")
            controller.process_next_work_item()
        finally:
            configure_logging("console", "info")
            controller.rpc_pool.shutdown(wait=True)
        events = " ".join(f.events())
        status = json.dumps([a.object for a in f.client.actions() if a.subresource == "status"])
        assert "Warning RPCError" in events and "node 0" in events
        for text in (events, status, out.getvalue()):
            for secret in forbidden_texts(password):
                assert secret not in text, f"{secret!r} leaked into {text[:300]!r}"


# -- item 4: what a daemon reports is checked before it reaches status ---------------


@pytest.mark.parametrize(
    ("blocks", "best"),
    [(-5, HASH), (2**64, HASH), (3, "zz"), (3, "a" * 100), (3, HASH[:-1] + "g")],
)
def test_node_values_are_checked_before_status_unit(blocks, best):
    f = Fixture()
    network = new_network(nodes=2, implementation="bitcoind")
    f.seed(network, new_secret(), new_pod(network, 0, "127.0.100.1"), new_pod(network, 1, "127.0.100.2"))
    f.bitcoin.node("127.0.100.1", blocks=blocks, best_block_hash=best)
    with pytest.raises(SyncError):
        f.sync()
    status = [a.object["status"] for a in f.client.actions() if a.subresource == "status"][-1]
    entry = next(n for n in status["nodes"] if n["ordinal"] == 0)
    assert "blocks" not in entry and "bestBlockHash" not in entry
    assert 0 <= status["bestHeight"] <= 2**63 - 1
    connected = next(c for c in status["conditions"] if c["type"] == "Connected")
    assert connected["status"] == "Unknown" and "node 0" in connected["message"]
    assert any(e.startswith("Warning RPCError") for e in f.events())


@pytest.mark.parametrize(
    "info",
    [
        {"chain": "regtest", "blocks": -1, "bestblockhash": HASH},
        {"chain": "regtest", "blocks": 2**63, "bestblockhash": HASH},
        {"chain": "regtest", "blocks": 1, "headers": -3, "bestblockhash": HASH},
        {"chain": "regtest", "blocks": 1, "bestblockhash": "00" * 40},
    ],
)
def test_client_rejects_impossible_chain_values_unit(info):
    with pytest.raises(RPCProtocolError):
        parse_blockchain_info(info)


def test_long_error_messages_are_bounded_unit():
    from bitcoin_controller.bitcoin.errors import RPCConnectionError

    f = Fixture()
    network = new_network(nodes=1, implementation="bitcoind")
    f.seed(network, new_secret(), new_pod(network, 0, "127.0.100.1"))
    f.bitcoin.node("127.0.100.1", fail=RPCConnectionError("x" * 40_000))
    with pytest.raises(SyncError):
        f.sync()
    status = [a.object["status"] for a in f.client.actions() if a.subresource == "status"][-1]
    assert all(len(c["message"]) <= MAX_CONDITION_MESSAGE for c in status["conditions"])
    assert all(len(e) <= MAX_EVENT_MESSAGE + 100 for e in f.events())


# -- item 5: IPv6 ------------------------------------------------------------------


def _ipv6_fixture(ips: list[str], pod_ips: list[list[str]] | None = None) -> Fixture:
    f = Fixture()
    network = new_network(nodes=len(ips), implementation="bitcoind")
    f.seed(network, new_secret())
    for i, ip in enumerate(ips):
        pod = new_pod(network, i, ip)
        if pod_ips is not None:
            pod["status"]["podIPs"] = [{"ip": a} for a in pod_ips[i]]
        f.seed(pod)
    return f


def test_ipv6_only_network_meshes_with_bracketed_addresses_unit():
    ips = ["fd00::a", "fd00::b", "fd00::c"]
    f = _ipv6_fixture(ips)
    f.sync()
    assert f.bitcoin.nodes["fd00::a"].added == ["[fd00::b]:18444", "[fd00::c]:18444"]
    assert all("[" in a for _, m, args in f.bitcoin.writes() for a in args)
    # Steady state: the second sync adds and removes nothing, and the network is connected.
    f.bitcoin.calls.clear()
    result = f.sync()
    assert f.bitcoin.writes() == []
    status = [a.object["status"] for a in f.client.actions() if a.subresource == "status"][-1]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Connected"] == "True"
    assert result is None
    assert [n["ip"] for n in status["nodes"]] == ips


def test_ipv6_addresses_are_compared_in_canonical_form_unit():
    # The pod IP written in full; the daemons print the compressed form.
    f = _ipv6_fixture(["fd00:0:0:0:0:0:0:a", "fd00::b"])
    f.sync()
    f.bitcoin.calls.clear()
    f.sync()
    assert f.bitcoin.writes() == []


@pytest.mark.parametrize(
    ("primary", "all_ips"),
    [
        (["10.1.0.1", "10.1.0.2"], [["10.1.0.1", "fd00::1"], ["10.1.0.2", "fd00::2"]]),
        (["fd00::1", "fd00::2"], [["fd00::1", "10.1.0.1"], ["fd00::2", "10.1.0.2"]]),
    ],
)
def test_dual_stack_network_meshes_on_the_primary_ip_unit(primary, all_ips):
    f = _ipv6_fixture(primary, all_ips)
    f.sync()
    first = FakeBitcoinNetwork.__module__ and f.bitcoin.nodes[primary[0]].added
    expected = f"[{primary[1]}]:18444" if ":" in primary[1] else f"{primary[1]}:18444"
    assert first == [expected]
    f.sync()
    status = [a.object["status"] for a in f.client.actions() if a.subresource == "status"][-1]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Connected"] == "True"


def test_pod_ip_that_is_no_ip_address_is_not_used_unit():
    f = _ipv6_fixture(["10.0.0.1/../evil", "10.0.0.2"])
    f.sync()
    assert "10.0.0.1/../evil" not in f.bitcoin.nodes
    assert f.bitcoin.nodes["10.0.0.2"].added == []


def test_cli_status_table_fits_ipv6_addresses_unit():
    network = {
        "metadata": {"name": "net", "namespace": "default"},
        "spec": {"nodes": 1},
        "status": {"nodes": [{"ordinal": 0, "ready": True, "ip": "fd00:1234:5678:9abc:def0:1234:5678:9abc",
                              "peers": 3, "blocks": 7, "nodeName": "net-sts-0"}]},
    }
    lines = render_status(network).splitlines()
    header = next(line for line in lines if line.startswith("ORDINAL"))
    row = next(line for line in lines if line.startswith("0"))
    assert row[header.index("PEERS"):].split()[0] == "3"
    assert row[header.index("HEIGHT"):].split()[0] == "7"


def test_config_brackets_ipv6_in_urls_unit():
    assert Config("fd00::b", 18443).url == "http://[fd00::b]:18443/"


# -- item 6: failures outside the RPC call ------------------------------------------


def test_bad_pinned_certificate_is_reported_like_any_rpc_failure_unit():
    f = Fixture()
    f.bitcoin = BitcoinRPCConnector(call_timeout=1.0)
    network = with_certificate(new_network(nodes=1, implementation="btcd"))
    network["status"]["rpcCertificate"] = "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"
    f.seed(network, new_secret(), new_pod(network, 0, "127.0.100.1"))
    f.seed(*_owned(network))
    with pytest.raises(SyncError, match="certificate"):
        f.sync()
    events = f.events()
    assert any(e.startswith("Warning RPCError") and "certificate" in e for e in events), events
    status = [a.object["status"] for a in f.client.actions() if a.subresource == "status"][-1]
    connected = next(c for c in status["conditions"] if c["type"] == "Connected")
    assert (connected["status"], connected["reason"]) == ("Unknown", "RPCError")
    assert "RPCTLSError" in connected["message"]
    f.controller.rpc_pool.shutdown(wait=True)


def _owned(network: dict) -> list[dict]:
    from controller_fixture import desired_objects

    return list(desired_objects(network))


def test_deeply_nested_reply_is_a_protocol_error_and_counted_unit(echo_server, metrics):
    echo_server.respond = lambda req: (200, b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(RPCProtocolError, match="nested too deeply"):
        client_for(echo_server.port, metrics).get_block_count()
    assert errors_counted(metrics, "protocol") == 1


def test_bad_status_line_text_is_not_quoted_unit(raw_server, metrics):
    password = "status-line-secret-0123456789"

    def bad(server: RawServer, conn: socket.socket) -> None:
        # Not a status line: http.client's BadStatusLine (and the int() error
        # behind it) quote it.  The node cut the password itself.
        server.send(conn, f"HTTP/1.1 {password[:20]}\r\n\r\n".encode())

    server = raw_server(bad)
    with pytest.raises(BitcoinRPCError) as info:
        client_for(server.port, metrics, password=password).get_block_count()
    assert "BadStatusLine" in str(info.value)
    assert password[:20] not in str(info.value) and password[:20] not in repr(info.value)
