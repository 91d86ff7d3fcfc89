"""What differs between the bitcoin daemons a network can run.

A :class:`Implementation` knows the daemon's default image, its ports, the
container command line, the readiness probe and whether its RPC needs TLS.
The controller and the RPC client ask it instead of branching on names.

* **bitcoind** (Bitcoin Core): regtest RPC on 18443, P2P on 18444.  Core
  reads no environment variables, so the controller writes the node's
  ``bitcoin.conf`` itself (:mod:`.nodeconfig`: regtest, the ``[regtest]``
  section with RPC bind/port/allow, and a salted ``rpcauth`` line -- never
  the password), mounts it read-only from a Secret it owns and starts
  ``bitcoind -conf=...`` directly.  Any image with ``bitcoind`` and
  ``bitcoin-cli`` on ``PATH`` works: the default is the stock
  ``bitcoin/bitcoin`` image from Docker Hub, whose root entrypoint (chown,
  gosu) is bypassed by setting ``command`` explicitly; the project's
  ``build/bitcoind`` image works the same way.  The readiness probe uses
  the daemon's cookie file, so it needs no credentials at all, and the pod
  never sees the credential Secret.
* **btcd**: regtest RPC on 18334, P2P on 18444.  btcd refuses plain-text RPC
  unless it listens on loopback only, so its pods get a per-network
  certificate mounted from the ``<network>-rpc-tls`` Secret, and the
  controller pins that certificate when it connects.  btcd has no rpcauth
  and no cookie: credentials reach its pods as the environment variables
  ``BC_RPC_USER`` and ``BC_RPC_PASSWORD`` (``envFrom`` the network's
  Secret), and its flags take ``$(BC_RPC_USER)``/``$(BC_RPC_PASSWORD)``
  references that the kubelet expands, which makes the values visible to
  processes inside the pod -- which hold the Secret anyway.  The pod spec
  itself never contains a credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Implementation",
    "BITCOIND",
    "BTCD",
    "IMPLEMENTATIONS",
    "P2P_PORT",
    "DATA_DIR",
    "TLS_DIR",
    "CONF_DIR",
    "CONF_FILE",
    "CONF_PATH",
    "CONF_VOLUME",
    "REGTEST_MINING_ADDRESS",
    "get_implementation",
]

#: P2P port of regtest in both implementations.
P2P_PORT = 18444
#: Where the chain lives inside the container (an emptyDir volume).
DATA_DIR = "/data"
#: Where btcd finds its RPC certificate and key (the TLS Secret's volume).
TLS_DIR = "/etc/btcd/tls"
#: Where bitcoind finds the bitcoin.conf the controller renders (a Secret
#: volume named CONF_VOLUME; see nodeconfig).
CONF_DIR = "/etc/bitcoin"
CONF_FILE = "bitcoin.conf"
CONF_PATH = f"{CONF_DIR}/{CONF_FILE}"
CONF_VOLUME = "bitcoin-conf"

#: A valid regtest P2PKH address that btcd pays block rewards to when a test
#: mines with ``generate``.  Nobody holds its key; regtest coins are worthless.
REGTEST_MINING_ADDRESS = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"


@dataclass(frozen=True)
class Implementation:
    """One bitcoin daemon implementation and how to run it in a pod."""

    name: str
    default_image: str
    rpc_port: int
    uses_tls: bool
    rpc_dialect: str
    #: The pods get the credential Secret as environment variables (btcd);
    #: otherwise the controller renders a config file (bitcoind, nodeconfig).
    credentials_in_env: bool = False

    def command(self) -> list[str]:
        """The container command, always explicit: no image entrypoint runs.

        The stock bitcoin/bitcoin entrypoint runs as root to chown the data
        directory and drop privileges with gosu, which the pods' restricted
        security context does not allow.
        """
        return [self.name]

    def args(self) -> list[str]:
        """The daemon's flags; ``$(VAR)`` references are expanded by the kubelet."""
        if self.name == "btcd":
            return [
                "--regtest",
                f"--listen=$(POD_IP):{P2P_PORT}",
                f"--rpclisten=$(POD_IP):{self.rpc_port}",
                "--rpcuser=$(BC_RPC_USER)",
                "--rpcpass=$(BC_RPC_PASSWORD)",
                f"--rpccert={TLS_DIR}/tls.crt",
                f"--rpckey={TLS_DIR}/tls.key",
                f"--datadir={DATA_DIR}/chain",
                f"--logdir={DATA_DIR}/logs",
                # Every pod-to-pod connection may come from one source address
                # (a node's IP in a flat network, 127.0.0.1 on the local
                # cluster); banning by IP would cut the whole mesh off.
                "--nobanning",
                "--nostalldetect",
                f"--miningaddr={REGTEST_MINING_ADDRESS}",
            ]
        # Everything else is in the rendered bitcoin.conf (nodeconfig).
        return [f"-datadir={DATA_DIR}", f"-conf={CONF_PATH}"]

    def readiness_probe(self) -> dict[str, Any]:
        """A probe that passes only once the RPC server answers.

        bitcoind: a real RPC call authenticated with the daemon's cookie file
        (answers only after warm-up).  btcd: its image is distroless and btcd
        has no cookie, so the probe checks that the TLS RPC listener accepts
        connections; the controller's own RPC calls then confirm each node
        before it counts in the mesh.
        """
        if self.name == "btcd":
            handler: dict[str, Any] = {"tcpSocket": {"port": "rpc"}}
        else:
            handler = {
                "exec": {
                    "command": ["bitcoin-cli", f"-datadir={DATA_DIR}", "-regtest", "getblockchaininfo"]
                }
            }
        return {**handler, "initialDelaySeconds": 1, "periodSeconds": 2, "timeoutSeconds": 5,
                "failureThreshold": 3, "successThreshold": 1}


BITCOIND = Implementation(
    name="bitcoind",
    # The stock image (Debian, verified release binaries; bitcoind and
    # bitcoin-cli on PATH).  The project's build/bitcoind image also works.
    default_image="docker.io/bitcoin/bitcoin:30.2",
    rpc_port=18443,
    uses_tls=False,
    rpc_dialect="bitcoind",
)
BTCD = Implementation(
    name="btcd",
    default_image="ghcr.io/bitcoin-controller/btcd:v0.24.2",
    rpc_port=18334,
    uses_tls=True,
    rpc_dialect="btcd",
    credentials_in_env=True,
)
IMPLEMENTATIONS: dict[str, Implementation] = {i.name: i for i in (BITCOIND, BTCD)}


def get_implementation(name: str) -> Implementation:
    """The implementation called ``name``; ``ValueError`` if there is none."""
    try:
        return IMPLEMENTATIONS[name]
    except KeyError:
        raise ValueError(f"unknown implementation {name!r}") from None
