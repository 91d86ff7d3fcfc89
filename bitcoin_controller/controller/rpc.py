"""The controller's connection to the daemons: :class:`BitcoinRPCConnector`.

One :class:`~bitcoin_controller.bitcoin.BitcoinClient` per dialect serves
every node of every network (its connection pools are keyed by TLS
identity), and :meth:`BitcoinRPCConnector.connect` binds it to one node's
address, credentials and pinned certificate.
"""

from __future__ import annotations

from ..bitcoin.client import BitcoinClient, Dialect
from ..bitcoin.config import Config, TLSConfig
from ..bitcoin.errors import RPCTLSError
from ..bitcoin.results import BlockchainInfo, PeerInfo
from ..bitcoin.transport import DEFAULT_CALL_TIMEOUT, DEFAULT_MAX_REPLY_BYTES
from .controller import RPCConnector
from .credentials import Credentials
from .implementations import Implementation

__all__ = ["BitcoinRPCConnector", "NodeSession"]


class NodeSession:
    """A :class:`~.mesh.NodeRPC` for one node: a shared client plus that node's config.

    How a node is "added" differs by dialect, and is decided here:

    * bitcoind: ``addnode add``/``remove`` maintain Core's added-node list;
      Core dials each entry (and redials it after a drop) and ``remove``
      really stops it.
    * btcd: an address added with ``addnode add`` is redialled forever, even
      after ``addnode remove`` (which only finds *connected* peers) -- so the
      old IP of a re-created pod would be dialled for good, and would join
      this network to whichever network's pod gets that IP next.  btcd nodes
      are therefore dialled with ``addnode onetry``, their outbound
      connections are their "added" list, and stale ones are closed with
      ``node disconnect``.  The controller redials missing peers itself on
      every sync, which is level-based anyway.
    """

    def __init__(self, client: BitcoinClient, config: Config) -> None:
        self._client = client
        self._config = config
        self._btcd = client.dialect is Dialect.BTCD

    def get_blockchain_info(self) -> BlockchainInfo:
        return self._client.get_blockchain_info(self._config)

    def get_peer_info(self) -> list[PeerInfo]:
        return self._client.get_peer_info(self._config)

    def added_node_addresses(self) -> list[str]:
        if self._btcd:
            return [p.address for p in self.get_peer_info() if not p.inbound]
        return [n.address for n in self._client.get_added_node_info(self._config)]

    def add_node(self, address: str) -> None:
        if self._btcd:
            self._client.connect_once(address, self._config)
        else:
            self._client.add_node(address, self._config)

    def remove_node(self, address: str) -> None:
        if self._btcd:
            self._client.disconnect_node(address, self._config)
        else:
            self._client.remove_node(address, self._config)

    def block_hash(self, height: int) -> str:
        return self._client.get_block_hash(height, self._config)

    def raw_block(self, block_hash: str) -> str:
        return self._client.get_raw_block(block_hash, self._config)

    def submit_block(self, block_hex: str) -> str | None:
        return self._client.submit_block(block_hex, self._config)

    def restart_stalled_sync(self) -> bool:
        """btcd: disconnect the peer it syncs from (``node disconnect <id>``), so it picks another.

        The controller redials the dropped peer on its next sync (a second
        later while the network is not synced), so the mesh keeps its shape.  Bitcoin Core fetches blocks from any peer
        that announces them and has no such peer: nothing to do.
        """
        if self._client.dialect is not Dialect.BTCD:
            return False
        for peer in self._client.get_peer_info(self._config):
            if peer.raw.get("syncnode") is True:
                self._client.raw_request("node", ["disconnect", str(peer.id)], self._config)
                return True
        return False


class BitcoinRPCConnector(RPCConnector):
    """Connects to nodes with the real JSON-RPC client.

    ``call_timeout`` is each call's total deadline and ``max_reply_bytes``
    the largest reply accepted (the controller's ``--rpc-call-timeout`` and
    ``--rpc-max-reply-bytes``).
    """

    def __init__(
        self,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        self._clients = {
            d: BitcoinClient(
                dialect=d,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                call_timeout=call_timeout,
                max_reply_bytes=max_reply_bytes,
            )
            for d in Dialect
        }

    def client(self, dialect: Dialect | str) -> BitcoinClient:
        """The shared client of one dialect."""
        return self._clients[Dialect(dialect)]

    def connect(
        self, impl: Implementation, host: str, credentials: Credentials, tls_cert_pem: str | None
    ) -> NodeSession:
        """A session for one node.

        Raises :class:`RPCTLSError` if the pinned certificate (from the
        network's status) is not a usable PEM certificate: like any RPC
        failure, the sync reports it in a condition and a Warning Event.
        """
        try:
            tls = TLSConfig(tls_cert_pem) if impl.uses_tls and tls_cert_pem else None
        except ValueError:
            raise RPCTLSError(
                "the RPC certificate recorded in the network's status (status.rpcCertificate) "
                "is not a valid PEM certificate"
            ) from None
        config = Config(host, impl.rpc_port, credentials.user, credentials.password, tls)
        return NodeSession(self.client(impl.rpc_dialect), config)
