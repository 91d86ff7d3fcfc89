"""A fake Bitcoin network for controller unit tests: records RPC calls, simulates peering.

Each :class:`FakeNode` answers the calls the controller makes
(:class:`bitcoin_controller.controller.mesh.NodeRPC`).  ``addnode add`` opens
a simulated outbound connection at once (so ``getpeerinfo`` reflects it), the
way btcd does for a reachable peer.  A node can be told to fail, or to hang
(``block``: every call waits for that event).  Addresses are ``ip:port`` with
IPv6 in brackets, as the daemons print them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from bitcoin_controller.bitcoin.errors import RPCConnectionError
from bitcoin_controller.bitcoin.results import BlockchainInfo, PeerInfo
from bitcoin_controller.controller import RPCConnector

P2P = 18444


@dataclass
class FakeNode:
    ip: str
    added: list[str] = field(default_factory=list)
    blocks: int = 0
    best_block_hash: str = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    fail: Exception | None = None
    block: threading.Event | None = None


class FakeBitcoinNetwork(RPCConnector):
    """Nodes by IP, and the log of every call as ``(ip, method, args)``."""

    def __init__(self) -> None:
        self.nodes: dict[str, FakeNode] = {}
        self.calls: list[tuple[str, str, tuple]] = []
        self.connects: list[tuple[str, str, str, str | None]] = []
        self._lock = threading.Lock()

    def node(self, ip: str, **kwargs) -> FakeNode:
        node = self.nodes.get(ip)
        if node is None:
            node = self.nodes[ip] = FakeNode(ip, **kwargs)
        return node

    def connect(self, impl, host, credentials, tls_cert_pem):
        with self._lock:
            self.connects.append((impl.name, host, credentials.user, tls_cert_pem))
        return _Session(self, self.node(host))

    def record(self, ip: str, method: str, *args) -> None:
        with self._lock:
            self.calls.append((ip, method, args))

    def writes(self) -> list[tuple[str, str, tuple]]:
        return [c for c in self.calls if c[1] in ("add_node", "remove_node")]

    def peers_of(self, ip: str) -> list[PeerInfo]:
        """Outbound links from ``ip``'s added list plus inbound links from others."""
        me = _join(ip, P2P)
        peers = []
        for address in self.nodes[ip].added:
            target = address.rsplit(":", 1)[0].strip("[]")
            if target in self.nodes and self.nodes[target].fail is None:
                peers.append(PeerInfo(id=len(peers), address=address, inbound=False))
        for other in self.nodes.values():
            if other.ip != ip and me in other.added and other.fail is None:
                peers.append(PeerInfo(id=len(peers), address=_join(other.ip, 50000), inbound=True))
        return peers


def _join(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class _Session:
    def __init__(self, net: FakeBitcoinNetwork, node: FakeNode) -> None:
        self.net = net
        self.node = node

    def _call(self, method: str, *args) -> None:
        self.net.record(self.node.ip, method, *args)
        if self.node.block is not None:
            self.node.block.wait(30)
        if self.node.fail is not None:
            raise self.node.fail

    def get_blockchain_info(self) -> BlockchainInfo:
        self._call("get_blockchain_info")
        return BlockchainInfo(chain="regtest", blocks=self.node.blocks, headers=self.node.blocks,
                              best_block_hash=self.node.best_block_hash)

    def get_peer_info(self) -> list[PeerInfo]:
        self._call("get_peer_info")
        return self.net.peers_of(self.node.ip)

    def added_node_addresses(self) -> list[str]:
        self._call("added_node_addresses")
        return list(self.node.added)

    def add_node(self, address: str) -> None:
        self._call("add_node", address)
        if address not in self.node.added:
            self.node.added.append(address)

    def remove_node(self, address: str) -> None:
        self._call("remove_node", address)
        if address in self.node.added:
            self.node.added.remove(address)

    def restart_stalled_sync(self) -> bool:
        self._call("restart_stalled_sync")
        return False

    def block_hash(self, height: int) -> str:
        self._call("block_hash", height)
        return f"block-{height}"

    def raw_block(self, block_hash: str) -> str:
        self._call("raw_block", block_hash)
        return block_hash

    def submit_block(self, block_hex: str) -> None:
        self._call("submit_block", block_hex)
        self.node.blocks = max(self.node.blocks, int(block_hex.rsplit("-", 1)[1]))


def unreachable(ip: str) -> Exception:
    return RPCConnectionError(f"cannot connect to {ip}:18443: connection refused")


class FakeRPCTransport:
    """The HTTP layer of :class:`~bitcoin_controller.bitcoin.client.BitcoinClient` over a
    :class:`FakeBitcoinNetwork`, for code that makes raw JSON-RPC calls (the CLI).

    Requests are answered from the node whose IP is the URL's host: a failing
    node raises its ``fail`` exception, wrong basic-auth credentials get 401,
    unknown methods the JSON-RPC error -32601.  Mining on one node raises the
    height of every node not listed in ``lagging``, as a connected network
    would relay the blocks.
    """

    def __init__(self, net: FakeBitcoinNetwork, user: str, password: str) -> None:
        self.net = net
        self.user = user
        self.password = password
        self.lagging: set[str] = set()
        self.requests: list[tuple[str, str, dict]] = []

    def request(self, method, url, body, headers, timeout, tls=None, total_timeout=None, max_reply_bytes=None):
        import base64
        import json
        from urllib.parse import urlsplit

        ip = urlsplit(url).hostname
        call = json.loads(body)
        self.requests.append((ip, call["method"], headers))
        node = self.net.nodes.get(ip)
        if node is None:
            raise unreachable(ip)
        if node.fail is not None:
            raise node.fail
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, b""
        method_name, params = call["method"], call["params"]
        if method_name == "getblockchaininfo":
            result = {"chain": "regtest", "blocks": node.blocks, "headers": node.blocks,
                      "bestblockhash": node.best_block_hash}
        elif method_name == "getblockcount":
            result = node.blocks
        elif method_name in ("generate", "generatetoaddress"):
            result = []
            for _ in range(params[0]):
                node.blocks += 1
                node.best_block_hash = f"{node.blocks:064x}"
                result.append(node.best_block_hash)
            for other in self.net.nodes.values():
                if other is not node and other.ip not in self.lagging and other.fail is None:
                    other.blocks, other.best_block_hash = node.blocks, node.best_block_hash
        else:
            reply = {"result": None, "error": {"code": -32601, "message": "Method not found"}, "id": call["id"]}
            return 404, json.dumps(reply).encode()
        return 200, json.dumps({"result": result, "error": None, "id": call["id"]}).encode()
