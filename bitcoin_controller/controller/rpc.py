"""The controller's connection to the daemons: :class:`BitcoinRPCConnector`.

One :class:`~bitcoin_controller.bitcoin.BitcoinClient` per dialect serves
every node of every network (its connection pools are keyed by TLS
identity), and :meth:`BitcoinRPCConnector.connect` binds it to one node's
address, credentials and pinned certificate.
"""

from __future__ import annotations

from ..bitcoin.client import BitcoinClient, Dialect
from ..bitcoin.config import Config, TLSConfig
from ..bitcoin.results import BlockchainInfo, PeerInfo
from .controller import RPCConnector
from .credentials import Credentials
from .implementations import Implementation

__all__ = ["BitcoinRPCConnector", "NodeSession"]


class NodeSession:
    """A :class:`~.mesh.NodeRPC` for one node: a shared client plus that node's config."""

    def __init__(self, client: BitcoinClient, config: Config) -> None:
        self._client = client
        self._config = config
        # btcd's getaddednodeinfo omits peers it is still dialling.
        self.lists_pending_adds = client.dialect is not Dialect.BTCD

    def get_blockchain_info(self) -> BlockchainInfo:
        return self._client.get_blockchain_info(self._config)

    def get_peer_info(self) -> list[PeerInfo]:
        return self._client.get_peer_info(self._config)

    def added_node_addresses(self) -> list[str]:
        return [n.address for n in self._client.get_added_node_info(self._config)]

    def add_node(self, address: str) -> None:
        self._client.add_node(address, self._config)

    def remove_node(self, address: str) -> None:
        self._client.remove_node(address, self._config)

    def restart_stalled_sync(self) -> bool:
        """btcd: disconnect the peer it syncs from (``node disconnect <id>``), so it picks another.

        An added peer is redialled by btcd itself a few seconds later, so
        the mesh keeps its shape.  Bitcoin Core fetches blocks from any peer
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
    """Connects to nodes with the real JSON-RPC client."""

    def __init__(self, connect_timeout: float = 3.0, read_timeout: float = 10.0) -> None:
        self._clients = {
            d: BitcoinClient(dialect=d, connect_timeout=connect_timeout, read_timeout=read_timeout)
            for d in Dialect
        }

    def connect(
        self, impl: Implementation, host: str, credentials: Credentials, tls_cert_pem: str | None
    ) -> NodeSession:
        tls = TLSConfig(tls_cert_pem) if impl.uses_tls and tls_cert_pem else None
        config = Config(host, impl.rpc_port, credentials.user, credentials.password, tls)
        return NodeSession(self._clients[Dialect(impl.rpc_dialect)], config)
