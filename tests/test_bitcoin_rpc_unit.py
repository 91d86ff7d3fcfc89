"""The Bitcoin JSON-RPC client against local fake nodes speaking each dialect.

The fakes model what the client must cope with, as read from the nodes'
sources: Bitcoin Core 28 (legacy JSON-RPC 1.x replies: HTTP 500/404 *with* a
JSON body; HTTP 400 for a non-string ``jsonrpc``; 401 with an empty body)
and btcd v0.24.2 (HTTPS only, HTTP 200 for RPC errors, -8 plus a text for
addnode outcomes, a leading ``dns`` flag on ``getaddednodeinfo``,
``generate`` instead of ``generatetoaddress``, no ``getnetworkinfo``).
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import pytest
import urllib3
from json_rpc_server import JSONRPCServer
from prometheus_client import CollectorRegistry

from bitcoin_controller.bitcoin import (
    AddedNode,
    AuthenticationError,
    BitcoinClient,
    BitcoinRPCError,
    Config,
    Dialect,
    RPCConnectionError,
    RPCError,
    RPCMetrics,
    RPCProtocolError,
    RPCTLSError,
    RPCWarmingUpError,
    TLSConfig,
    Urllib3Transport,
    generate_self_signed_cert,
)
from bitcoin_controller.bitcoin.results import parse_added_nodes

USER = "rpc-user-7f3c"
PASSWORD = "pa55-W0rd-e81d-secret"
TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SECRETS = (USER, PASSWORD, TOKEN)

BLOCK_HASH = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


class NodeError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ----------------------------------------------------------------- fake nodes


class FakeCoreNode:
    """What Bitcoin Core 28 answers for the calls the controller makes."""

    def __init__(self) -> None:
        self.added: list[str] = []
        self.warming_up = False
        self.height = 101

    def call(self, method: str, params: list[Any]) -> Any:
        if self.warming_up:
            raise NodeError(-28, "Loading block index…")
        if method == "addnode":
            node, command = params
            if command == "add":
                if node in self.added:
                    raise NodeError(-23, "Error: Node already added")
                self.added.append(node)
                return None
            if command == "remove":
                if node not in self.added:
                    raise NodeError(
                        -24, "Error: Node could not be removed. It has not been added previously."
                    )
                self.added.remove(node)
                return None
            raise NodeError(-1, 'addnode "node" "command" ( v2transport )\n...help text...')
        if method == "getaddednodeinfo":
            if params:
                raise NodeError(-24, "Error: Node has not been added.")
            return [
                {
                    "addednode": node,
                    "connected": i == 0,
                    "addresses": [{"address": node, "connected": "outbound"}] if i == 0 else [],
                }
                for i, node in enumerate(self.added)
            ]
        if method == "getpeerinfo":
            return [
                {
                    "id": 3,
                    "addr": "10.0.0.7:18444",
                    "inbound": False,
                    "connection_type": "manual",
                    "version": 70016,
                    "subver": "/Satoshi:28.1.0/",
                    "startingheight": 100,
                    "synced_blocks": 101,
                    "transport_protocol_type": "v2",
                }
            ]
        if method == "getblockchaininfo":
            return {
                "chain": "regtest",
                "blocks": self.height,
                "headers": self.height,
                "bestblockhash": BLOCK_HASH,
                "initialblockdownload": False,
                "verificationprogress": 1,
                "warnings": ["This is a pre-release test build"],
            }
        if method == "getnetworkinfo":
            return {
                "version": 280100,
                "subversion": "/Satoshi:28.1.0/",
                "protocolversion": 70016,
                "connections": 3,
                "connections_in": 1,
                "connections_out": 2,
                "networkactive": True,
                "relayfee": 0.00001,
                "warnings": [],
            }
        if method == "getblockcount":
            return self.height
        if method == "generatetoaddress":
            n, _address = params
            self.height += n
            return [BLOCK_HASH] * n
        # Core removed "generate" in 0.19; unknown methods are -32601 (HTTP 404).
        raise NodeError(-32601, "Method not found")


class FakeBtcdNode:
    """What btcd v0.24.2 answers (rpcserver.go / server.go)."""

    def __init__(self) -> None:
        self.permanent: list[str] = []  # btcd lists only connected permanent peers
        self.temporary: list[str] = []  # connections made with addnode onetry
        self.add_reply: str | None = None  # force a -8 text on the next add
        self.height = 0

    @staticmethod
    def _normalise(address: str) -> str:
        return address if ":" in address else f"{address}:18444"

    def call(self, method: str, params: list[Any]) -> Any:
        if method == "addnode":
            address, command = params
            address = self._normalise(address)
            if command == "add":
                if self.add_reply is not None:
                    raise NodeError(-8, self.add_reply)
                if address in self.permanent:
                    raise NodeError(-8, "peer already connected")
                self.permanent.append(address)
                return None
            if command == "remove":
                if address not in self.permanent:
                    raise NodeError(-8, "peer not found")
                self.permanent.remove(address)
                return None
            if command == "onetry":
                if address in self.permanent or address in self.temporary:
                    raise NodeError(-8, "peer already connected")
                self.temporary.append(address)
                return None
            raise NodeError(-8, "invalid subcommand for addnode")
        if method == "node" and params[:1] == ["disconnect"]:
            address = self._normalise(params[1])
            if address not in self.temporary:
                raise NodeError(-8, "peer not found")
            self.temporary.remove(address)
            return None
        if method == "getaddednodeinfo":
            if not params or not isinstance(params[0], bool):
                raise NodeError(-32602, "wrong number of params (expected 1 or 2, received 0)")
            if not params[0]:
                return list(self.permanent)
            return [
                {
                    "addednode": address,
                    "connected": True,
                    "addresses": [{"address": address.rsplit(":", 1)[0], "connected": "outbound"}],
                }
                for address in self.permanent
            ]
        if method == "getpeerinfo":
            return [
                {
                    "id": 1,
                    "addr": "10.0.0.8:18444",
                    "inbound": True,
                    "version": 70016,
                    "subver": "/btcwire:0.5.0/btcd:0.24.2/",
                    "startingheight": 0,
                    "currentheight": 5,
                    "syncnode": False,
                }
            ]
        if method == "getblockchaininfo":
            return {
                "chain": "regtest",
                "blocks": self.height,
                "headers": self.height,
                "bestblockhash": BLOCK_HASH,
                "difficulty": 4.6e-10,
                "pruned": False,
            }
        if method == "getnetworkinfo":
            raise NodeError(-1, "Command unimplemented")
        if method == "getinfo":
            return {
                "version": 240200,
                "protocolversion": 70016,
                "blocks": self.height,
                "timeoffset": 0,
                "connections": 2,
                "proxy": "",
                "difficulty": 4.6e-10,
                "testnet": False,
                "relayfee": 0.00001,
                "errors": "",
            }
        if method == "getblockcount":
            return self.height
        if method == "generate":
            (n,) = params
            self.height += n
            return [BLOCK_HASH] * n
        raise NodeError(-32601, "Method not found")


# ---------------------------------------------------------------- fake server

Override = Callable[[dict[str, Any]], "tuple[int, bytes] | None"]


class FakeRPCServer:
    """An HTTP(S) server on 127.0.0.1:0 answering like one dialect's node."""

    def __init__(self, dialect: str, node: Any, tls: tuple[bytes, bytes] | None, tmp_path) -> None:
        self.dialect = dialect
        self.node = node
        self.override: Override | None = None
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.connections: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

        context = None
        if tls is not None:
            cert_file, key_file = tmp_path / f"{id(self)}.crt", tmp_path / f"{id(self)}.key"
            cert_file.write_bytes(tls[0])
            key_file.write_bytes(tls[1])
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
        self.server = JSONRPCServer(self.respond, context)
        self.port = self.server.port

    def stop(self) -> None:
        self.server.close()

    # -- the node's HTTP behaviour

    def respond(
        self, client: tuple[str, int], headers: dict[str, str], raw: bytes
    ) -> tuple[int, bytes]:
        with self._lock:
            self.connections.add(client)
        request: dict[str, Any] = {"headers": headers, "raw": raw}
        try:
            request.update(json.loads(raw))
        except ValueError:
            pass
        with self._lock:
            self.requests.append(request)
        status, body = self._respond(headers, request)
        with self._lock:
            self.statuses.append(status)
        return status, body

    def _respond(self, headers: dict[str, str], request: dict[str, Any]) -> tuple[int, bytes]:
        if headers.get("Authorization") != f"Basic {TOKEN}":
            # Core: 401 and an empty body.  btcd: 401 and a short text.
            return 401, (b"" if self.dialect == "bitcoind" else b"401 Unauthorized.\n")
        if self.override is not None:
            forced = self.override(request)
            if forced is not None:
                return forced
        if self.dialect == "bitcoind" and not isinstance(request.get("jsonrpc", ""), str):
            # Core >= 28 (PR #27101): a non-string jsonrpc member is an invalid request.
            return 400, _reply(None, -32600, "jsonrpc field must be a string", request.get("id"))
        try:
            result = self.node.call(request["method"], request.get("params") or [])
        except NodeError as exc:
            if self.dialect == "btcd":
                return 200, _reply(None, exc.code, exc.message, request.get("id"))
            status = 404 if exc.code == -32601 else 500  # legacy JSON-RPC 1.x mapping
            return status, _reply(None, exc.code, exc.message, request.get("id"))
        return 200, _reply(result, None, None, request.get("id"))

    def last(self) -> dict[str, Any]:
        with self._lock:
            return self.requests[-1]


def _reply(result: Any, code: int | None, message: str | None, request_id: Any) -> bytes:
    error = None if code is None else {"code": code, "message": message}
    return json.dumps({"result": result, "error": error, "id": request_id}).encode()


# ------------------------------------------------------------------- fixtures


@pytest.fixture
def cert():
    return generate_self_signed_cert()


@pytest.fixture
def servers(tmp_path):
    started: list[FakeRPCServer] = []

    def start(dialect: str, node: Any = None, tls: tuple[bytes, bytes] | None = None):
        if node is None:
            node = FakeCoreNode() if dialect == "bitcoind" else FakeBtcdNode()
        server = FakeRPCServer(dialect, node, tls, tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def transport():
    t = Urllib3Transport()
    yield t
    t.clear()


@pytest.fixture
def metrics():
    return RPCMetrics(CollectorRegistry())


@pytest.fixture
def core(servers, transport, metrics):
    server = servers("bitcoind")
    config = Config("127.0.0.1", server.port, USER, PASSWORD)
    client = BitcoinClient(config, transport, "bitcoind", 2.0, 5.0, metrics=metrics)
    return server, client


@pytest.fixture
def btcd(servers, transport, metrics, cert):
    server = servers("btcd", tls=cert)
    config = Config("127.0.0.1", server.port, USER, PASSWORD, TLSConfig(cert[0].decode()))
    client = BitcoinClient(config, transport, "btcd", 2.0, 5.0, metrics=metrics)
    return server, client


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"credential leaked into: {text!r}"


def exception_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), *map(str, exc.args)]


# ------------------------------------------------------------- Bitcoin Core


def test_core_request_format_unit(core):
    server, client = core
    assert client.get_block_count() == 101
    request = server.last()
    assert request["jsonrpc"] == "1.0"  # a string: Core 28 rejects the number 1
    assert isinstance(request["id"], int)
    assert request["method"] == "getblockcount"
    assert request["params"] == []
    assert request["headers"]["Content-Type"] == "application/json"
    assert base64.b64decode(request["headers"]["Authorization"].split()[1]).decode() == (
        f"{USER}:{PASSWORD}"
    )


def test_core_fake_rejects_numeric_jsonrpc_like_core28_unit(core):
    # Proves the check in the fake is live, so the test above means something:
    # the original Go client's {"jsonrpc": 1} fails against Core 28.
    server, _ = core
    body = json.dumps({"jsonrpc": 1, "id": "0", "method": "getblockcount", "params": []})
    response = urllib3.request(
        "POST",
        f"http://127.0.0.1:{server.port}/",
        body=body,
        headers={"Authorization": f"Basic {TOKEN}"},
        retries=False,
    )
    assert response.status == 400
    assert json.loads(response.data)["error"]["code"] == -32600


def test_core_request_ids_increase_and_must_be_echoed_unit(core):
    server, client = core
    client.get_block_count()
    client.get_block_count()
    first, second = server.requests[-2:]
    assert second["id"] > first["id"]

    server.override = lambda req: (200, _reply(5, None, None, req["id"] + 1000))
    with pytest.raises(RPCProtocolError, match="does not match request id"):
        client.get_block_count()


def test_core_add_node_is_idempotent_unit(core):
    server, client = core
    assert client.add_node("10.0.0.5:18444") is True
    assert client.add_node("10.0.0.5:18444") is False  # -23 "already added" is success
    assert server.node.added == ["10.0.0.5:18444"]
    assert server.last()["params"] == ["10.0.0.5:18444", "add"]
    assert server.statuses[-1] == 500  # the -23 came as HTTP 500 + JSON body


def test_core_remove_node_is_idempotent_unit(core):
    server, client = core
    assert client.remove_node("10.0.0.9:18444") is False  # -24 "not added" is success
    client.add_node("10.0.0.9:18444")
    assert client.remove_node("10.0.0.9:18444") is True
    assert server.node.added == []
    assert server.last()["params"] == ["10.0.0.9:18444", "remove"]


def test_core_other_rpc_errors_raise_with_code_unit(core):
    server, client = core
    with pytest.raises(RPCError) as info:
        client.raw_request("addnode", ["10.0.0.5", "bogus"])
    assert info.value.code == -1
    assert "help text" in info.value.rpc_message
    assert info.value.method == "addnode"
    assert server.statuses[-1] == 500

    with pytest.raises(RPCError) as info:
        client.raw_request("nosuchmethod")
    assert info.value.code == -32601
    assert server.statuses[-1] == 404  # legacy 1.x: method not found is HTTP 404 with a body
    assert not isinstance(info.value, RPCWarmingUpError)


def test_core_warming_up_is_a_distinct_error_unit(core):
    server, client = core
    server.node.warming_up = True
    with pytest.raises(RPCWarmingUpError) as info:
        client.get_block_count()
    assert isinstance(info.value, RPCError)  # still catchable as an RPC error
    assert info.value.code == -28
    server.node.warming_up = False
    assert client.get_block_count() == 101


def test_core_added_node_info_unit(core):
    server, client = core
    client.add_node("10.0.0.5:18444")
    client.add_node("10.0.0.6:18444")
    nodes = client.get_added_node_info()
    assert server.last()["params"] == []  # Core takes no dns flag
    assert [n.address for n in nodes] == ["10.0.0.5:18444", "10.0.0.6:18444"]
    assert [n.connected for n in nodes] == [True, False]
    assert nodes[0].addresses[0].direction == "outbound"
    assert nodes[1].addresses == ()


def test_core_generate_uses_generatetoaddress_unit(core):
    server, client = core
    assert client.generate(3, "bcrt1qexampleaddress") == [BLOCK_HASH] * 3
    assert server.last()["method"] == "generatetoaddress"
    assert server.last()["params"] == [3, "bcrt1qexampleaddress"]
    assert client.get_block_count() == 104

    calls = len(server.requests)
    with pytest.raises(ValueError, match="address"):
        client.generate(1)
    with pytest.raises(ValueError):
        client.generate(0, "bcrt1qexampleaddress")
    assert len(server.requests) == calls  # refused before any request went out


def test_core_info_calls_unit(core):
    server, client = core
    info = client.get_network_info()
    assert server.last()["method"] == "getnetworkinfo"
    assert (info.version, info.subversion, info.connections) == (280100, "/Satoshi:28.1.0/", 3)
    assert (info.connections_in, info.connections_out, info.network_active) == (1, 2, True)
    assert info.warnings == ()

    chain = client.get_blockchain_info()
    assert (chain.chain, chain.blocks, chain.best_block_hash) == ("regtest", 101, BLOCK_HASH)
    assert chain.warnings == ("This is a pre-release test build",)  # Core 28: a list
    assert chain.initial_block_download is False

    (peer,) = client.get_peer_info()
    assert (peer.id, peer.address, peer.inbound) == (3, "10.0.0.7:18444", False)
    assert peer.connection_type == "manual"
    assert peer.height == 101
    assert peer.raw["transport_protocol_type"] == "v2"  # unmodelled fields kept


# -------------------------------------------------------------------- btcd


@pytest.mark.timeout(30)
def test_btcd_add_node_texts_are_success_unit(btcd):
    server, client = btcd
    assert client.add_node("10.0.0.5:18444") is True
    assert client.add_node("10.0.0.5:18444") is False  # -8 "peer already connected"
    assert server.statuses[-1] == 200  # btcd reports RPC errors with HTTP 200

    server.node.add_reply = "peer exists as a permanent peer"
    assert client.add_node("10.0.0.6:18444") is False

    server.node.add_reply = "max peers reached"  # a real failure, same code -8
    with pytest.raises(RPCError) as info:
        client.add_node("10.0.0.7:18444")
    assert info.value.code == -8
    assert info.value.rpc_message == "max peers reached"


@pytest.mark.timeout(30)
def test_btcd_connect_once_and_disconnect_unit(btcd):
    server, client = btcd
    assert client.connect_once("10.0.0.5:18444") is True
    assert client.connect_once("10.0.0.5:18444") is False  # -8 "peer already connected"
    assert server.node.temporary == ["10.0.0.5:18444"] and server.node.permanent == []
    assert client.disconnect_node("10.0.0.5:18444") is True
    assert client.disconnect_node("10.0.0.5:18444") is False  # -8 "peer not found"
    assert server.node.temporary == []


@pytest.mark.timeout(30)
def test_btcd_remove_node_not_found_is_success_unit(btcd):
    server, client = btcd
    assert client.remove_node("10.0.0.5:18444") is False  # -8 "peer not found"
    client.add_node("10.0.0.5")
    assert client.remove_node("10.0.0.5:18444") is True
    assert server.node.permanent == []


@pytest.mark.timeout(30)
def test_btcd_added_node_info_sends_dns_flag_unit(btcd):
    server, client = btcd
    client.add_node("10.0.0.5")  # btcd stores and reports host:port
    (node,) = client.get_added_node_info()
    assert server.last()["params"] == [True]
    assert node.address == "10.0.0.5:18444"
    assert node.connected is True
    assert node.addresses[0].address == "10.0.0.5"
    assert node.addresses[0].direction == "outbound"


@pytest.mark.timeout(30)
def test_added_node_info_both_shapes_normalise_alike_unit(btcd):
    server, client = btcd
    client.add_node("10.0.0.5:18444")
    client.add_node("10.0.0.6:18444")
    as_strings = parse_added_nodes(client.raw_request("getaddednodeinfo", [False]))
    as_objects = client.get_added_node_info()
    assert [n.address for n in as_strings] == [n.address for n in as_objects]
    assert as_strings[0] == AddedNode("10.0.0.5:18444", connected=None)  # shape says nothing


@pytest.mark.timeout(30)
def test_btcd_generate_and_info_calls_unit(btcd):
    server, client = btcd
    assert client.generate(2) == [BLOCK_HASH] * 2
    assert (server.last()["method"], server.last()["params"]) == ("generate", [2])
    client.generate(1, "bcrt1qignored")  # btcd pays its --miningaddr
    assert (server.last()["method"], server.last()["params"]) == ("generate", [1])
    assert client.get_block_count() == 3

    info = client.get_network_info()
    assert server.last()["method"] == "getinfo"  # btcd: getnetworkinfo is unimplemented
    assert (info.version, info.protocol_version, info.connections) == (240200, 70016, 2)
    assert info.subversion is None and info.connections_in is None
    assert info.warnings == ()  # "errors": "" means none

    chain = client.get_blockchain_info()
    assert (chain.blocks, chain.warnings) == (3, ())
    (peer,) = client.get_peer_info()
    assert peer.connection_type is None and peer.inbound is True
    assert peer.height == 5  # btcd's currentheight


@pytest.mark.timeout(30)
def test_btcd_pinned_certificate_required_unit(servers, transport, metrics, cert):
    server = servers("btcd", tls=cert)
    other_cert, _ = generate_self_signed_cert()
    wrong = Config("127.0.0.1", server.port, USER, PASSWORD, TLSConfig(other_cert.decode()))
    client = BitcoinClient(wrong, transport, "btcd", 2.0, 5.0, metrics=metrics)
    with pytest.raises(RPCTLSError) as info:
        client.get_block_count()
    assert isinstance(info.value, RPCConnectionError)
    assert_no_secrets(*exception_texts(info.value))

    right = wrong.with_host("127.0.0.1")
    right = Config(right.host, right.port, USER, PASSWORD, TLSConfig(cert[0]))
    assert client.get_block_count(right) == 0

    plain = Config("127.0.0.1", server.port, USER, PASSWORD)  # http to an https server
    with pytest.raises(BitcoinRPCError):
        client.get_block_count(plain)


def test_dialects_do_not_borrow_each_others_rules_unit(core):
    server, client = core
    server.override = lambda req: (500, _reply(None, -8, "peer already connected", req["id"]))
    with pytest.raises(RPCError):  # btcd's text means nothing to a Core client
        client.add_node("10.0.0.5:18444")
    btcd_client = client.with_dialect("btcd")
    server.override = lambda req: (200, _reply(None, -23, "Error: Node already added", req["id"]))
    with pytest.raises(RPCError):  # and Core's code means nothing to a btcd client
        btcd_client.add_node("10.0.0.5:18444")


# ----------------------------------------------------------- HTTP failures


def test_unauthorized_with_empty_body_unit(servers, transport, metrics):
    server = servers("bitcoind")
    client = BitcoinClient(
        Config("127.0.0.1", server.port, USER, "wrong-password"), transport, metrics=metrics
    )
    with pytest.raises(AuthenticationError) as info:
        client.get_block_count()
    assert info.value.status == 401
    assert "credentials rejected" in str(info.value)
    assert "wrong-password" not in repr(info.value)


@pytest.mark.timeout(30)
def test_btcd_unauthorized_with_text_body_unit(servers, transport, metrics, cert):
    server = servers("btcd", tls=cert)
    config = Config("127.0.0.1", server.port, "someone", "else", TLSConfig(cert[0]))
    client = BitcoinClient(config, transport, "btcd", metrics=metrics)
    with pytest.raises(AuthenticationError) as info:
        client.get_block_count()
    assert info.value.status == 401


def test_forbidden_is_an_authentication_error_unit(core):
    server, client = core
    server.override = lambda req: (403, b"")  # Core: method outside -rpcwhitelist
    with pytest.raises(AuthenticationError) as info:
        client.get_peer_info()
    assert info.value.status == 403


def test_malformed_replies_are_protocol_errors_unit(core):
    server, client = core
    cases = [
        (200, b'{"result": 5, "error": nul'),
        (502, b"<html><body>Bad Gateway</body></html>"),
        (200, b"[1, 2, 3]"),
        (200, b'{"error": null, "id": 1}'),
        (500, b'{"result": null, "error": null, "id": 1}'),
        (200, b'{"result": null, "error": {"code": "x", "message": "m"}, "id": 1}'),
        (200, b"\xff\xfe\x00"),
    ]
    for status, body in cases:
        server.override = lambda req, status=status, body=body: (status, body)
        with pytest.raises(RPCProtocolError):
            client.get_block_count()
    server.override = lambda req: (502, b"<html>Bad Gateway</html>")
    with pytest.raises(RPCProtocolError, match="HTTP 502"):
        client.get_block_count()
    server.override = lambda req: (200, _reply("not a number", None, None, req["id"]))
    with pytest.raises(RPCProtocolError):
        client.get_block_count()
    server.override = lambda req: (200, _reply({"chain": "regtest"}, None, None, req["id"]))
    with pytest.raises(RPCProtocolError, match="blocks"):
        client.get_blockchain_info()


@pytest.mark.timeout(30)
def test_server_that_never_answers_times_out_unit(transport, metrics):
    # A listening socket that nobody accepts from: the kernel completes the
    # TCP handshake, the request is sent, no reply ever comes.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        client = BitcoinClient(
            Config("127.0.0.1", port, USER, PASSWORD),
            transport,
            "bitcoind",
            2.0,
            0.3,
            metrics=metrics,
        )
        with pytest.raises(RPCConnectionError) as info:
            client.get_block_count()
    assert not isinstance(info.value, RPCTLSError)
    assert "timed out" in str(info.value)


def test_connection_refused_unit(transport, metrics):
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    # The port is free again: nothing listens there.
    client = BitcoinClient(Config("127.0.0.1", port, USER, PASSWORD), transport, metrics=metrics)
    with pytest.raises(RPCConnectionError) as info:
        client.get_block_count()
    assert f"127.0.0.1:{port}" in str(info.value)


# ------------------------------------------------------------------ secrets


@pytest.mark.timeout(60)
def test_credentials_never_leak_unit(servers, transport, metrics, cert, caplog):
    caplog.set_level(logging.DEBUG, logger="bitcoin_controller.bitcoin")
    core_server = servers("bitcoind")
    config = Config("127.0.0.1", core_server.port, USER, PASSWORD)
    client = BitcoinClient(config, transport, "bitcoind", 2.0, 0.3, metrics=metrics)
    errors: list[BaseException] = []

    def collect(call: Callable[[], Any]) -> None:
        with pytest.raises(BitcoinRPCError) as info:
            call()
        errors.append(info.value)

    # A hostile or buggy node that echoes the request (with our header) back.
    def echo(req: dict[str, Any]) -> tuple[int, bytes]:
        leaked = f"bad request {req['headers']} user={USER} password={PASSWORD}"
        return 500, _reply(None, -1, leaked, req["id"])

    core_server.override = echo
    collect(client.get_block_count)
    core_server.override = lambda req: (502, f"proxy error for {PASSWORD}".encode())
    collect(client.get_block_count)
    core_server.override = lambda req: (401, b"")
    collect(client.get_block_count)
    core_server.override = lambda req: (403, b"")
    collect(client.get_block_count)
    core_server.override = lambda req: (200, b"{garbage")
    collect(client.get_block_count)
    core_server.override = None
    core_server.node.warming_up = True
    collect(client.get_block_count)

    with socket.create_server(("127.0.0.1", 0)) as silent:
        collect(
            lambda: client.get_block_count(config.with_host("127.0.0.1", silent.getsockname()[1]))
        )
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        free_port = placeholder.getsockname()[1]
    collect(lambda: client.get_block_count(config.with_host("127.0.0.1", free_port)))

    btcd_server = servers("btcd", tls=cert)
    other_cert, _ = generate_self_signed_cert()
    tls_config = Config("127.0.0.1", btcd_server.port, USER, PASSWORD, TLSConfig(other_cert))
    collect(lambda: client.get_block_count(tls_config))

    assert len(errors) == 9
    assert {type(e) for e in errors} >= {
        RPCError,
        RPCProtocolError,
        AuthenticationError,
        RPCWarmingUpError,
        RPCConnectionError,
        RPCTLSError,
    }
    for error in errors:
        assert_no_secrets(*exception_texts(error))
        if isinstance(error, RPCError):
            assert_no_secrets(error.rpc_message)
    assert_no_secrets(repr(config), repr(tls_config), repr(client), caplog.text)
    assert "failed" in caplog.text  # the failures were logged, just without secrets


# ------------------------------------------------------------------ metrics


def test_metrics_count_calls_and_errors_by_bounded_labels_unit(core, metrics):
    server, client = core
    client.get_block_count()
    client.add_node("10.0.0.5:18444")
    client.add_node("10.0.0.5:18444")  # -23: success for us, an error on the wire
    with pytest.raises(RPCError):
        client.raw_request("whatever-a-user-typed")
    server.override = lambda req: (401, b"")
    with pytest.raises(AuthenticationError):
        client.get_block_count()

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert value("bitcoin_rpc_request_duration_seconds_count", method="getblockcount") == 2
    assert value("bitcoin_rpc_request_duration_seconds_count", method="addnode") == 2
    assert value("bitcoin_rpc_errors_total", method="addnode", code="-23") == 1
    assert value("bitcoin_rpc_errors_total", method="getblockcount", code="auth") == 1
    # Unknown method names collapse into "other": no label per typo.
    assert value("bitcoin_rpc_errors_total", method="other", code="-32601") == 1
    assert (
        value("bitcoin_rpc_request_duration_seconds_count", method="whatever-a-user-typed") is None
    )


def test_default_registry_is_used_without_explicit_metrics_unit(core):
    from bitcoin_controller.bitcoin.metrics import REGISTRY

    server, _ = core
    client = BitcoinClient(Config("127.0.0.1", server.port, USER, PASSWORD))
    before = (
        REGISTRY.get_sample_value(
            "bitcoin_rpc_request_duration_seconds_count", {"method": "getblockcount"}
        )
        or 0.0
    )
    client.get_block_count()
    after = REGISTRY.get_sample_value(
        "bitcoin_rpc_request_duration_seconds_count", {"method": "getblockcount"}
    )
    assert after == before + 1
    client.http.clear()


# ------------------------------------------------------ client and transport


def test_connections_are_pooled_and_reused_unit(core, transport):
    server, client = core
    for _ in range(5):
        client.get_block_count()
    assert len(server.requests) == 5
    assert len(server.connections) == 1  # one keep-alive connection for five calls

    tls_a = TLSConfig(generate_self_signed_cert()[0])
    tls_a_again = TLSConfig(tls_a.ca_pem)
    tls_b = TLSConfig(generate_self_signed_cert()[0])
    assert transport.pool_for(tls_a) is transport.pool_for(tls_a_again)
    assert transport.pool_for(tls_a) is not transport.pool_for(tls_b)
    assert transport.pool_for(None) is not transport.pool_for(tls_a)


def test_pool_managers_are_bounded_least_recently_used_first_unit():
    transport = Urllib3Transport(max_identities=2)
    a, b, c = (TLSConfig(generate_self_signed_cert()[0]) for _ in range(3))
    pool_a = transport.pool_for(a)
    pool_b = transport.pool_for(b)
    assert transport.pool_for(a) is pool_a  # a is now the most recently used
    transport.pool_for(c)  # evicts b, the least recently used
    assert transport.pool_for(a) is pool_a
    assert transport.pool_for(b) is not pool_b  # b had to be rebuilt
    transport.clear()


@pytest.mark.timeout(60)
def test_one_client_serves_many_threads_unit(core):
    server, client = core
    failures: list[BaseException] = []
    results: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(10):
                height = client.get_block_count()
                with lock:
                    results.append(height)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=50)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    assert results == [101] * 80
    ids = [r["id"] for r in server.requests]
    assert len(set(ids)) == 80  # every request had its own id


class RecordingTransport:
    """An injected HTTP layer: proves the client depends only on the protocol."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body
        self.calls: list[tuple[Any, ...]] = []

    def request(self, method, url, body, headers, timeout, tls=None, **limits):
        self.calls.append((method, url, json.loads(body), timeout, tls))
        request_id = json.loads(body)["id"]
        return self.status, self.body.replace(b'"ID"', str(request_id).encode())


def test_injected_transport_gets_url_timeouts_and_tls_unit(metrics, cert):
    http = RecordingTransport(200, b'{"result": 7, "error": null, "id": "ID"}')
    tls = TLSConfig(cert[0])
    config = Config("fd00::5", 18334, USER, PASSWORD, tls)
    client = BitcoinClient(
        config, http, "btcd", connect_timeout=1.5, read_timeout=9.0, metrics=metrics
    )
    assert client.get_block_count() == 7
    ((method, url, body, timeout, used_tls),) = http.calls
    assert (method, url) == ("POST", "https://[fd00::5]:18334/")
    assert timeout == (1.5, 9.0)
    assert used_tls is tls
    assert body["method"] == "getblockcount"


def test_per_call_config_overrides_default_unit(servers, transport, metrics):
    first, second = servers("bitcoind"), servers("bitcoind")
    second.node.height = 7
    client = BitcoinClient(
        Config("127.0.0.1", first.port, USER, PASSWORD), transport, metrics=metrics
    )
    assert client.get_block_count() == 101
    assert client.get_block_count(client.config.with_host("127.0.0.1", second.port)) == 7

    bare = BitcoinClient(http=transport, metrics=metrics)
    with pytest.raises(ValueError, match="no Config"):
        bare.get_block_count()


def test_client_arguments_are_checked_unit(transport):
    with pytest.raises(ValueError):
        BitcoinClient(http=transport, read_timeout=0)
    with pytest.raises(ValueError):
        BitcoinClient(http=transport, dialect="litecoind")
    with pytest.raises(ValueError, match="PEM"):
        TLSConfig("not a certificate")
    client = BitcoinClient(http=transport, dialect="btcd")
    assert client.dialect is Dialect.BTCD
    other = client.with_dialect(Dialect.BITCOIND)
    assert other.dialect is Dialect.BITCOIND and other.http is transport
