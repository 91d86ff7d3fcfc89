"""``bitcoin-controller network``: operator commands for a BitcoinNetwork.

Clusters without ``kubectl exec`` into the daemons (the local cluster has
none) still need a way to look at a network and talk to its nodes.  These
commands resolve everything the way the controller does -- pod IPs from the
network's status, credentials from the Secret the network names, the pinned
RPC certificate from the status -- and then call the node's JSON-RPC:

``status NAME [--watch]``
    the node table (ordinal, ready, IP, peers, height) and the conditions;
    ``--watch`` redraws it until Ready, Connected and Synced are all True.
``rpc NAME ORDINAL METHOD [PARAMS...]``
    one raw JSON-RPC call; parameters are parsed as JSON where they parse
    (``101``, ``true``, ``"x"``), else passed as strings.
``mine NAME [BLOCKS]``
    mine blocks on a node (default node 0, 1 block).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from ..apimachinery import errors
from ..bitcoin.client import BitcoinClient, Dialect
from ..bitcoin.config import Config, TLSConfig
from ..bitcoin.errors import AuthenticationError, BitcoinRPCError, RPCError
from ..clientgo.kubernetes import Clientset
from ..clientgo.tools import clientcmd
from ..controller.credentials import CredentialsError, read_credentials
from ..controller.implementations import REGTEST_MINING_ADDRESS, get_implementation

__all__ = ["main", "NetworkCommandError", "render_status", "converged"]


class NetworkCommandError(Exception):
    """A problem the user can act on; printed without a traceback."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bitcoin-controller network",
        description="Look at a BitcoinNetwork and talk to its nodes' JSON-RPC, resolving pod IPs, "
        "credentials and the pinned RPC certificate the way the controller does.",
    )
    parser.add_argument(
        "--kubeconfig",
        help="kubeconfig to use (default: the in-cluster config in a pod, else $KUBECONFIG or ~/.kube/config)",
    )
    parser.add_argument("-n", "--namespace", default="default", help="namespace of the network")
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status", help="show nodes and conditions")
    status.add_argument("name")
    status.add_argument("--watch", action="store_true", help="redraw until the network has converged")
    status.add_argument("--timeout", type=float, default=600.0, help="give up watching after this many seconds")
    rpc = sub.add_parser("rpc", help="call one JSON-RPC method on one node")
    rpc.add_argument("name")
    rpc.add_argument("ordinal", type=int)
    rpc.add_argument("method")
    rpc.add_argument("params", nargs="*")
    mine = sub.add_parser("mine", help="mine blocks on a node")
    mine.add_argument("name")
    mine.add_argument("blocks", type=int, nargs="?", default=1)
    mine.add_argument("--node", type=int, default=0, help="ordinal of the node that mines")
    return parser


def _param(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


class _Network:
    """A BitcoinNetwork read from the cluster, with what RPC calls need."""

    def __init__(self, clientset: Clientset, namespace: str, name: str) -> None:
        self.clientset = clientset
        self.namespace = namespace
        self.name = name
        try:
            self.obj = clientset.bitcoincontroller_v1().bitcoin_networks(namespace).get(name)
        except errors.NotFoundError:
            raise NetworkCommandError(f'BitcoinNetwork "{name}" not found in namespace "{namespace}"') from None
        spec = self.obj.get("spec") or {}
        self.impl = get_implementation(spec.get("implementation") or "bitcoind")
        self.secret = spec.get("secret") or "bitcoin-default-secret"
        self.status = self.obj.get("status") or {}

    def node(self, ordinal: int) -> dict[str, Any]:
        for node in self.status.get("nodes") or []:
            if node.get("ordinal") == ordinal:
                if not node.get("ready") or not node.get("ip"):
                    pod = node.get("nodeName")
                    raise NetworkCommandError(f"node {ordinal} of {self.name} is not ready (pod {pod})")
                return node
        wanted = (self.obj.get("spec") or {}).get("nodes")
        raise NetworkCommandError(f"{self.name} has no node {ordinal} (it wants {wanted} node(s); see 'status')")

    def client_and_config(self, ordinal: int) -> tuple[BitcoinClient, Config]:
        node = self.node(ordinal)
        try:
            creds = read_credentials(self.clientset, self.namespace, self.secret)
        except CredentialsError as err:
            raise NetworkCommandError(err.message) from None
        tls = None
        if self.impl.uses_tls:
            pem = self.status.get("rpcCertificate")
            if not pem:
                raise NetworkCommandError(f"{self.name} has no RPC certificate in its status yet")
            tls = TLSConfig(pem)
        config = Config(node["ip"], self.impl.rpc_port, creds.user, creds.password, tls)
        return BitcoinClient(dialect=Dialect(self.impl.rpc_dialect)), config


def converged(network: dict[str, Any]) -> bool:
    """Ready, Connected and Synced all True for the current generation."""
    status = network.get("status") or {}
    if status.get("observedGeneration") != (network.get("metadata") or {}).get("generation"):
        return False
    true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    return {"Ready", "Connected", "Synced"} <= true


def render_status(network: dict[str, Any]) -> str:
    """The node table and conditions as text."""
    meta = network.get("metadata") or {}
    spec = network.get("spec") or {}
    status = network.get("status") or {}
    lines = [
        f"BitcoinNetwork {meta.get('namespace')}/{meta.get('name')}: "
        f"{spec.get('nodes')} node(s), {spec.get('implementation', 'bitcoind')}, "
        f"{status.get('readyNodes', 0)} ready, best height {status.get('bestHeight', 0)}",
        "",
    ]
    nodes = status.get("nodes") or []
    # IPv6 pod addresses are up to 39 characters: the column fits the longest.
    width = max([17, *(len(str(n.get("ip") or "")) + 2 for n in nodes)])
    lines.append(f"{'ORDINAL':<8}{'READY':<7}{'IP':<{width}}{'PEERS':<7}{'HEIGHT':<8}POD")
    for node in nodes:
        lines.append(
            f"{node.get('ordinal', ''):<8}{'yes' if node.get('ready') else 'no':<7}{node.get('ip') or '-':<{width}}"
            f"{node.get('peers', '-'):<7}{node.get('blocks', '-'):<8}{node.get('nodeName', '')}"
        )
    lines.append("")
    for cond in status.get("conditions") or []:
        lines.append(f"{cond.get('type'):<10}{cond.get('status'):<8}{cond.get('reason')}: {cond.get('message')}")
    return "\n".join(lines)


def _status(net_client: Any, args: argparse.Namespace, out: TextIO) -> int:
    def fetch() -> dict[str, Any]:
        try:
            return net_client.get(args.name)
        except errors.NotFoundError:
            message = f'BitcoinNetwork "{args.name}" not found in namespace "{args.namespace}"'
            raise NetworkCommandError(message) from None

    network = fetch()
    if not args.watch:
        print(render_status(network), file=out)
        return 0
    deadline = time.monotonic() + args.timeout
    last = None
    while True:
        text = render_status(network)
        if text != last:
            print(("\033[2J\033[H" if out.isatty() else "\n") + text, file=out, flush=True)
            last = text
        if converged(network):
            return 0
        if time.monotonic() > deadline:
            print(f"gave up after {args.timeout:.0f} s", file=out)
            return 1
        time.sleep(1.0)  # a person-facing redraw interval, not synchronisation
        network = fetch()


def main(argv: Sequence[str], out: TextIO = sys.stdout) -> int:
    args = _parser().parse_args(list(argv))
    try:
        clientset = Clientset(clientcmd.load_config(args.kubeconfig))
        if args.command == "status":
            return _status(clientset.bitcoincontroller_v1().bitcoin_networks(args.namespace), args, out)
        network = _Network(clientset, args.namespace, args.name)
        if args.command == "rpc":
            client, config = network.client_and_config(args.ordinal)
            result = client.raw_request(args.method, [_param(p) for p in args.params], config)
        else:
            client, config = network.client_and_config(args.node)
            result = client.generate(args.blocks, REGTEST_MINING_ADDRESS, config=config)
        print(json.dumps(result, indent=2, default=str), file=out)
        return 0
    except NetworkCommandError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except AuthenticationError as err:
        print(f"error: the node rejected the credentials from the network's Secret: {err}", file=sys.stderr)
        return 1
    except RPCError as err:
        # The node's own words (redacted) for the operator, who asked for them;
        # they are kept out of the exception text, which status and Events show.
        print(f"error: {err}: {err.rpc_message}", file=sys.stderr)
        return 1
    except BitcoinRPCError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except errors.StatusError as err:
        print(f"error: the API server said: {err}", file=sys.stderr)
        return 1
