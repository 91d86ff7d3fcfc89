"""The JSON-RPC client against two real btcd processes (regtest, TLS with our cert).

No cluster is needed: the btcd binary that ``scripts/build-local-cluster``
puts in ``.local-cluster/bin/`` is started directly on 127.0.0.1 with free
ports, RPC served over TLS with a certificate from
:func:`bitcoin_controller.bitcoin.generate_self_signed_cert`.  This pins the
dialect facts the unit tests' fakes assume (error texts, parameter shapes,
``getinfo`` instead of ``getnetworkinfo``) to the real daemon.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from polling import wait_for

from bitcoin_controller.bitcoin import (
    AuthenticationError,
    BitcoinClient,
    Config,
    RPCError,
    RPCTLSError,
    TLSConfig,
    Urllib3Transport,
    generate_self_signed_cert,
)
from bitcoin_controller.controller.implementations import REGTEST_MINING_ADDRESS

ROOT = Path(__file__).resolve().parent.parent
BTCD = ROOT / ".local-cluster" / "bin" / "btcd"
USER = "integration-user"
PASSWORD = "integration-password-3c9e"

pytestmark = pytest.mark.skipif(not BTCD.exists(), reason="btcd not built (make cluster-build)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Btcd:
    process: subprocess.Popen
    config: Config
    p2p_port: int
    log_dir: Path


@pytest.fixture(scope="module")
def cert() -> tuple[bytes, bytes]:
    return generate_self_signed_cert("btcd-integration")


@pytest.fixture(scope="module")
def btcd_nodes(tmp_path_factory, cert) -> Iterator[list[Btcd]]:
    base = tmp_path_factory.mktemp("btcd")
    cert_file, key_file = base / "rpc.cert", base / "rpc.key"
    cert_file.write_bytes(cert[0])
    key_file.write_bytes(cert[1])
    nodes: list[Btcd] = []
    try:
        # Nodes 0 and 1 get connected by the addnode test; node 2 never peers (block relay test).
        for index in range(3):
            home = base / f"node{index}"
            rpc_port, p2p_port = _free_port(), _free_port()
            args = [
                str(BTCD),
                "--regtest",
                f"--datadir={home / 'data'}",
                f"--logdir={home / 'logs'}",
                f"--rpcuser={USER}",
                f"--rpcpass={PASSWORD}",
                f"--rpclisten=127.0.0.1:{rpc_port}",
                f"--rpccert={cert_file}",
                f"--rpckey={key_file}",
                f"--listen=127.0.0.1:{p2p_port}",
                f"--miningaddr={REGTEST_MINING_ADDRESS}",
                "--nobanning",
                "--nostalldetect",
            ]
            process = subprocess.Popen(
                args,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={"HOME": str(home)},
            )
            config = Config("127.0.0.1", rpc_port, USER, PASSWORD, TLSConfig(cert[0]))
            nodes.append(Btcd(process, config, p2p_port, home / "logs"))
        yield nodes
    finally:
        for node in nodes:
            node.process.terminate()
        for node in nodes:
            try:
                node.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(timeout=10)


@pytest.fixture(scope="module")
def client(btcd_nodes) -> Iterator[BitcoinClient]:
    transport = Urllib3Transport()
    client = BitcoinClient(http=transport, dialect="btcd", connect_timeout=2.0, read_timeout=20.0)
    for node in btcd_nodes:
        wait_for(lambda n=node: client.get_block_count(n.config) >= 0, 60, "btcd RPC")
    yield client
    transport.clear()


@pytest.mark.timeout(120)
def test_btcd_info_calls_integration(client, btcd_nodes):
    config = btcd_nodes[0].config
    info = client.get_network_info(config)  # getinfo underneath
    assert info.version == 240200
    assert info.subversion is None
    chain = client.get_blockchain_info(config)
    assert chain.chain == "regtest"
    assert chain.blocks == client.get_block_count(config)
    with pytest.raises(RPCError) as err:
        client.raw_request("getnetworkinfo", [], config)
    assert (err.value.code, err.value.rpc_message) == (-1, "Command unimplemented")
    with pytest.raises(RPCError) as err:
        client.raw_request("generatetoaddress", [1, "x"], config)
    assert err.value.code == -32601  # btcd has no generatetoaddress


@pytest.mark.timeout(120)
def test_btcd_generate_integration(client, btcd_nodes):
    config = btcd_nodes[0].config
    before = client.get_block_count(config)
    hashes = client.generate(3, config=config)
    assert len(hashes) == 3 and all(len(h) == 64 for h in hashes)
    assert client.get_block_count(config) == before + 3
    assert client.get_blockchain_info(config).best_block_hash == hashes[-1]


@pytest.mark.timeout(180)
def test_btcd_addnode_lifecycle_integration(client, btcd_nodes):
    first, second = btcd_nodes[:2]
    target = f"127.0.0.1:{first.p2p_port}"

    assert client.add_node(target, second.config) is True
    added = wait_for(
        lambda: [n for n in client.get_added_node_info(second.config) if n.connected],
        60,
        "the added peer to connect",
    )
    assert [n.address for n in added] == [target]
    assert wait_for(
        lambda: any(p.inbound for p in client.get_peer_info(first.config)),
        60,
        "the inbound peer on the first node",
    )
    # The real texts: "peer already connected" on add, "peer not found" on remove.
    assert client.add_node(target, second.config) is False
    assert client.remove_node(target, second.config) is True
    assert client.remove_node(target, second.config) is False

    # Blocks mined on one node travel to a connected peer.
    client.add_node(target, second.config)
    wait_for(lambda: client.get_added_node_info(second.config), 60, "reconnection")
    height = client.get_block_count(first.config) + 2
    client.generate(2, config=first.config)
    wait_for(lambda: client.get_block_count(second.config) == height, 60, "block relay")


@pytest.mark.timeout(120)
def test_btcd_rejects_wrong_credentials_and_wrong_cert_integration(client, btcd_nodes):
    config = btcd_nodes[0].config
    wrong_password = Config(config.host, config.port, USER, "not-the-password", config.tls)
    with pytest.raises(AuthenticationError) as err:
        client.get_block_count(wrong_password)
    assert err.value.status == 401
    assert "not-the-password" not in repr(err.value)

    other_cert, _ = generate_self_signed_cert("impostor")
    wrong_cert = Config(config.host, config.port, USER, PASSWORD, TLSConfig(other_cert))
    with pytest.raises(RPCTLSError):
        client.get_block_count(wrong_cert)

    strict = Config(
        config.host, config.port, USER, PASSWORD, TLSConfig(config.tls.ca_pem, check_hostname=True)
    )
    assert client.get_block_count(strict) >= 0  # 127.0.0.1 is in the certificate's SANs


@pytest.mark.timeout(180)
def test_blocks_relayed_over_rpc_to_an_unconnected_node_integration(client, btcd_nodes):
    """getblockhash/getblock 0/submitblock move a chain to a node that has no peers.

    The controller relies on this for btcd nodes that P2P sync won't serve
    (btcd takes blocks at the genesis block from one localhost sync peer only).
    """
    source, target = btcd_nodes[0].config, btcd_nodes[2].config
    client.generate(3, config=source)
    height = client.get_block_count(source)
    assert client.get_block_count(target) == 0
    assert client.get_peer_info(target) == []
    for h in range(1, height + 1):
        block = client.get_raw_block(client.get_block_hash(h, source), source)
        assert client.submit_block(block, target) is None
    assert client.get_block_count(target) == height
    assert client.get_blockchain_info(target).best_block_hash == client.get_blockchain_info(source).best_block_hash
    # Handing over a block the node already has is not an error worth stopping for.
    again = client.submit_block(client.get_raw_block(client.get_block_hash(1, source), source), target)
    assert again in (None, "duplicate") or "already" in again
