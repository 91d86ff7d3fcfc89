"""How the controller's RPC session maps mesh operations onto each dialect."""

from __future__ import annotations

import pytest

from bitcoin_controller.bitcoin.client import Dialect
from bitcoin_controller.bitcoin.results import AddedNode, PeerInfo
from bitcoin_controller.controller.rpc import NodeSession


class RecordingClient:
    """Stands in for BitcoinClient: records the calls a NodeSession makes."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.calls: list[tuple] = []

    def get_peer_info(self, config):
        self.calls.append(("get_peer_info",))
        return [
            PeerInfo(id=1, address="127.0.100.2:18444", inbound=False),
            PeerInfo(id=2, address="127.0.0.1:51234", inbound=True),
        ]

    def get_added_node_info(self, config):
        self.calls.append(("get_added_node_info",))
        return [AddedNode(address="127.0.100.3:18444", connected=False)]

    def __getattr__(self, name):
        def record(*args):
            self.calls.append((name, *args[:-1]))  # drop the config
            return True

        return record


def test_btcd_dials_once_and_counts_outbound_connections_as_added_unit():
    client = RecordingClient(Dialect.BTCD)
    session = NodeSession(client, config=object())
    # btcd would redial an "addnode add" entry forever, even after remove;
    # so its outbound connections are the list, and peers are dialled once.
    assert session.added_node_addresses() == ["127.0.100.2:18444"]
    session.add_node("127.0.100.4:18444")
    session.remove_node("127.0.100.2:18444")
    assert client.calls[1:] == [
        ("connect_once", "127.0.100.4:18444"),
        ("disconnect_node", "127.0.100.2:18444"),
    ]


@pytest.mark.parametrize("dialect", [Dialect.BITCOIND])
def test_bitcoind_keeps_its_added_node_list_unit(dialect):
    client = RecordingClient(dialect)
    session = NodeSession(client, config=object())
    assert session.added_node_addresses() == ["127.0.100.3:18444"]
    session.add_node("127.0.100.4:18444")
    session.remove_node("127.0.100.3:18444")
    assert client.calls[1:] == [("add_node", "127.0.100.4:18444"), ("remove_node", "127.0.100.3:18444")]
