"""``bitcoin-controller network`` / ``kubectl btcnet``: operator commands for a BitcoinNetwork.

Clusters without ``kubectl exec`` into the daemons (the local cluster has
none) still need a way to look at a network and talk to its nodes.  These
commands resolve everything the way the controller does -- pod IPs from the
network's status, credentials from the Secret the network names, the pinned
RPC certificate from the status -- and then call the node's JSON-RPC:

``status [NAME] [-A] [-o json|yaml|wide] [--watch]``
    one network: the node table and the conditions; no NAME: the networks of
    the namespace (``-A``: of all namespaces).  ``--watch`` redraws until
    Ready, Connected and Synced are all True.
``rpc NAME ORDINAL METHOD [PARAMS...]``
    one raw JSON-RPC call; parameters are parsed as JSON where they parse
    (``101``, ``true``, ``"x"``), else passed as strings.
``mine NAME [BLOCKS] [--node N]``
    mine blocks on a node, print the new tip, and wait (``--timeout``) until
    every ready node reports it, with a progress line.
``logs NAME [--node N] [--tail N] [-f]``
    the daemon's log (the pod log of the node's container).
``completion bash|zsh``
    a shell completion script.

The same code is the kubectl plugin ``kubectl-btcnet`` (so ``kubectl btcnet
status NAME`` works) and answers kubectl's plugin completion protocol as
``kubectl_complete-btcnet``.  Flags are kubectl's: ``--kubeconfig``
(one file), ``$KUBECONFIG`` (several files, merged as kubectl merges them),
``--context``, ``-n/--namespace`` (default: the context's namespace),
``--request-timeout``, ``-v``; they may come before or after the
sub-command.  Failures print one ``error:`` line and exit with a code from
:class:`~.cli_errors.ExitCode`; ``--debug``/``-v`` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from ..apimachinery import errors
from ..bitcoin.client import BitcoinClient, Dialect
from ..bitcoin.config import Config, TLSConfig
from ..bitcoin.errors import AuthenticationError, BitcoinRPCError, RPCConnectionError, RPCError, RPCTLSError
from ..bitcoin.transport import HTTPTransport
from ..clientgo.kubernetes import Clientset
from ..clientgo.kubernetes import scheme as k8s_scheme
from ..clientgo.rest import NotInClusterError, in_cluster_config
from ..clientgo.rest.transport import TransportError
from ..clientgo.tools import clientcmd
from ..controller.credentials import CredentialsError, read_credentials
from ..controller.implementations import REGTEST_MINING_ADDRESS, get_implementation
from ..controller.resources import statefulset_name
from .cli_errors import ApiTarget, CLIError, ExitCode, api_call, config_error, run_cli, transport_error
from .options import OneLineErrorParser, _positive_int, parse_duration
from .printers import OUTPUT_FORMATS, dump_json, dump_yaml, host_port

__all__ = [
    "main",
    "plugin_main",
    "plugin_complete_main",
    "render_status",
    "render_list",
    "converged",
    "complete",
    "completion_script",
    "SUBCOMMANDS",
]

PROG = "bitcoin-controller network"
PLUGIN_PROG = "kubectl btcnet"
SUBCOMMANDS = ("status", "rpc", "mine", "logs", "completion")
#: Flags taking a value, for splitting global flags out of argv and for completion.
VALUE_FLAGS = {
    "--kubeconfig", "--context", "-n", "--namespace", "--request-timeout", "--v",
    "-o", "--output", "--timeout", "--node", "--tail",
}
_CONTAINER = "node"  # the daemon's container in a node pod (controller/resources.py)
_RPC_METHODS = ("getblockchaininfo", "getblockcount", "getbestblockhash", "getpeerinfo", "getnetworkinfo",
                "getinfo", "getaddednodeinfo", "getmempoolinfo", "getblockhash", "getblock", "generate",
                "generatetoaddress", "addnode", "disconnectnode", "stop")


# -- flags ---------------------------------------------------------------------------


def _duration(value: str) -> float:
    return parse_duration(value)


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return number


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {value!r}")


def _add_global_flags(parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None:
    """kubectl's global flags.  On sub-commands their default is SUPPRESS, so a
    flag given before the sub-command is not reset by the sub-parser."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if in_subcommand else value

    group = parser.add_argument_group("global flags (before or after the sub-command)")
    group.add_argument("--kubeconfig", default=default(None), metavar="PATH",
                       help="kubeconfig file (default: $KUBECONFIG, several files merged as kubectl does, "
                       "else ~/.kube/config, else the in-cluster config)")
    group.add_argument("--context", default=default(None), metavar="NAME",
                       help="kubeconfig context to use (default: its current-context)")
    group.add_argument("-n", "--namespace", default=default(None), metavar="NS",
                       help="namespace of the network (default: the context's namespace, else 'default')")
    group.add_argument("--request-timeout", type=_duration, default=default(None), metavar="DURATION",
                       help="give up on a single API request after this long (e.g. 10s)")
    group.add_argument("--debug", action="store_true", default=default(False),
                       help="print the traceback of a failure")
    group.add_argument("-v", dest="verbosity", action="count", default=default(0),
                       help="verbose: same as --debug (kubectl's -v=N is accepted too)")
    group.add_argument("--v", dest="verbosity", type=int, default=argparse.SUPPRESS, metavar="N",
                       help=argparse.SUPPRESS)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog=prog,
        description="Look at a BitcoinNetwork and talk to its nodes' JSON-RPC, resolving pod IPs, "
        "credentials and the pinned RPC certificate the way the controller does.",
        epilog=f"""examples:
  {prog} status -A                       list the networks of all namespaces
  {prog} status my-network -o yaml       one network, for scripts (or -o json, -o wide)
  {prog} mine my-network 101             mine on node 0, wait until every ready node has the tip
  {prog} rpc my-network 1 getpeerinfo    one JSON-RPC call on node 1
  {prog} logs my-network --node 2 -f     follow a daemon's log
  source <({prog} completion bash)       shell completion (or zsh)

exit codes: 0 ok, 1 bug, 2 bad flags, 4 kubeconfig, 5 context, 6 API server unreachable,
  7 TLS, 8 unauthorized, 9 forbidden, 10 CRD missing, 11 not found, 12 node not ready,
  13 RPC unreachable, 14 RPC credentials, 15 RPC error, 16 timeout, 17 other API error
  (docs/operations.md)""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_global_flags(parser, in_subcommand=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _add_global_flags(p, in_subcommand=True)
        return p

    status = add("status", "show a network's nodes and conditions, or list networks")
    status.add_argument("name", nargs="?", help="the BitcoinNetwork (omit to list the networks)")
    status.add_argument("-A", "--all-namespaces", action="store_true", help="list networks of all namespaces")
    status.add_argument("-o", "--output", choices=OUTPUT_FORMATS, help="json, yaml, or wide (more columns)")
    status.add_argument("-w", "--watch", action="store_true", help="redraw until the network has converged")
    status.add_argument("--timeout", type=_duration, default=600.0, metavar="DURATION",
                        help="give up watching after this long (default: 10m)")
    rpc = add("rpc", "call one JSON-RPC method on one node")
    rpc.add_argument("name", help="the BitcoinNetwork")
    rpc.add_argument("ordinal", type=_non_negative_int, help="the node (0, 1, ...)")
    rpc.add_argument("method", help="JSON-RPC method, e.g. getblockchaininfo")
    rpc.add_argument("params", nargs="*", help="parameters, as JSON where they parse (101, true, '\"x\"')")
    mine = add("mine", "mine blocks on a node and wait until every ready node has the new tip")
    mine.add_argument("name", help="the BitcoinNetwork")
    mine.add_argument("blocks", type=_positive_int, nargs="?", default=1, help="how many blocks (default: 1)")
    mine.add_argument("--node", type=_non_negative_int, default=0, help="ordinal of the node that mines")
    mine.add_argument("--wait", type=_bool, nargs="?", const=True, default=True, metavar="BOOL",
                      help="wait for every ready node to report the new tip (default: true; --wait=false)")
    mine.add_argument("--timeout", type=_duration, default=60.0, metavar="DURATION",
                      help="how long to wait for the nodes (default: 60s)")
    logs = add("logs", "print a node's daemon log")
    logs.add_argument("name", help="the BitcoinNetwork")
    logs.add_argument("--node", type=_non_negative_int, default=0, help="ordinal of the node")
    logs.add_argument("--tail", type=int, default=-1, metavar="LINES", help="only the last LINES lines")
    logs.add_argument("-f", "--follow", action="store_true", help="keep streaming new lines")
    logs.add_argument("-p", "--previous", action="store_true", help="the log of the previous (crashed) container")
    completion = add("completion", "print a shell completion script (bash or zsh)")
    completion.add_argument("shell", choices=("bash", "zsh"), help="bash or zsh")
    return parser


_SHORT_EQUALS = re.compile(r"^-([A-Za-z])=(.*)$")


def normalize_argv(argv: Sequence[str]) -> list[str]:
    """pflag spellings argparse lacks: ``-n=ns``, ``-o=json``, ``-v=6`` (kubectl accepts them)."""
    out: list[str] = []
    for i, token in enumerate(argv):
        if token == "--":
            return out + list(argv[i:])
        match = _SHORT_EQUALS.match(token)
        if match and match.group(1) == "v":
            out.append(f"--v={match.group(2)}")
        elif match:
            out.extend([f"-{match.group(1)}", match.group(2)])
        else:
            out.append(token)
    return out


# -- connecting ------------------------------------------------------------------------


@dataclass
class _Session:
    """The clientset, the server address for messages, and the namespace to use."""

    clientset: Clientset
    server: str
    namespace: str
    prog: str
    kubeconfig_files: tuple[str, ...] = ()


def _connect(args: argparse.Namespace, prog: str, environ: Mapping[str, str]) -> _Session:
    """kubectl's order: --kubeconfig, else $KUBECONFIG, else ~/.kube/config; in a pod
    without any of them, the in-cluster config and the pod's namespace."""
    namespace = args.namespace
    files: tuple[str, ...] = ()
    try:
        if not args.kubeconfig and not args.context and environ.get("KUBERNETES_SERVICE_HOST") and not (
            environ.get("KUBECONFIG") or os.path.exists(os.path.expanduser(clientcmd.RECOMMENDED_HOME_FILE))
        ):
            try:
                config = in_cluster_config(environ=environ)
            except (NotInClusterError, OSError) as err:
                raise CLIError(ExitCode.KUBECONFIG, f"in-cluster configuration unavailable ({err}): "
                               "pass --kubeconfig PATH", err) from None
            namespace = namespace or _pod_namespace()
        else:
            merged = clientcmd.load_kubeconfig(args.kubeconfig, environ=environ)
            config = clientcmd.config_from_kubeconfig(merged, args.context)
            namespace = namespace or merged.namespace(args.context)
            files = tuple(merged.files)
    except clientcmd.ConfigError as err:
        raise config_error(err) from None
    if args.request_timeout:
        config = config.copy(timeout=args.request_timeout, connect_timeout=args.request_timeout, max_retries=0)
    else:
        # A person is waiting: fail in seconds, not after client-go's 30 s connect timeout.
        config = config.copy(connect_timeout=min(config.connect_timeout, 10.0))
    return _Session(Clientset(config), config.host, namespace or "default", prog, files)


def _pod_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"


def _get_network(session: _Session, namespace: str, name: str) -> dict[str, Any]:
    nets = session.clientset.bitcoincontroller_v1().bitcoin_networks(namespace)
    try:
        return api_call(lambda: nets.get(name), ApiTarget("get", k8s_scheme.BITCOIN_NETWORKS, namespace, name),
                        session.server)
    except errors.NotFoundError:
        pass
    # The API server answers a GET in a namespace that does not exist with the
    # same 404 as for a missing object; telling the two apart saves a user
    # from hunting for a network in a namespace they mistyped.
    namespaces = session.clientset.core_v1().namespaces()
    try:
        api_call(lambda: namespaces.get(namespace), ApiTarget("get", k8s_scheme.NAMESPACES, "", namespace),
                 session.server)
    except errors.NotFoundError:
        raise CLIError(ExitCode.NOT_FOUND, f'namespace "{namespace}" not found: check the name '
                       "(kubectl get namespaces) or pass another with -n") from None
    except CLIError:
        pass  # may not read namespaces: the network message below still holds
    raise CLIError(ExitCode.NOT_FOUND, f'BitcoinNetwork "{name}" not found in namespace "{namespace}": '
                   f"list the networks with '{session.prog} status -A', or pass the namespace with -n")


class _Network:
    """A BitcoinNetwork read from the cluster, with what RPC calls need."""

    def __init__(self, session: _Session, name: str, transport: HTTPTransport | None) -> None:
        self.session = session
        self.namespace = session.namespace
        self.name = name
        self.transport = transport
        self.obj = _get_network(session, self.namespace, name)
        spec = self.obj.get("spec") or {}
        self.impl = get_implementation(spec.get("implementation") or "bitcoind")
        self.secret = spec.get("secret") or "bitcoin-default-secret"
        self.status = self.obj.get("status") or {}
        self._credentials: Any = None

    def node(self, ordinal: int, *, need_ready: bool = True) -> dict[str, Any]:
        for node in self.status.get("nodes") or []:
            if node.get("ordinal") == ordinal:
                if need_ready and (not node.get("ready") or not node.get("ip")):
                    pod = _pod_name(node) or f"{statefulset_name(self.name)}-{ordinal}"
                    raise CLIError(ExitCode.NODE_NOT_READY, f"node {ordinal} of {self.name} is not ready "
                                   f"(pod {pod}): wait for it ('{self.session.prog} status {self.name} --watch'), "
                                   f"read its log ('{self.session.prog} logs {self.name} --node {ordinal}'), "
                                   "or use another node")
                return node
        wanted = (self.obj.get("spec") or {}).get("nodes")
        if need_ready and isinstance(wanted, int) and 0 <= ordinal < wanted:
            raise CLIError(ExitCode.NODE_NOT_READY, f"node {ordinal} of {self.name} has not been observed yet: "
                           f"wait for it ('{self.session.prog} status {self.name} --watch')")
        if not need_ready and isinstance(wanted, int) and 0 <= ordinal < wanted:
            return {"ordinal": ordinal}
        raise CLIError(ExitCode.NOT_FOUND, f"{self.name} has no node {ordinal}: it has {wanted} node(s), "
                       f"use an ordinal from 0 to {(wanted or 1) - 1}")

    def ready_nodes(self) -> list[dict[str, Any]]:
        return [n for n in self.status.get("nodes") or [] if n.get("ready") and n.get("ip")]

    def pod_name(self, ordinal: int) -> str:
        node = self.node(ordinal, need_ready=False)
        return _pod_name(node) or f"{statefulset_name(self.name)}-{ordinal}"

    def client_and_config(self, node: dict[str, Any]) -> tuple[BitcoinClient, Config]:
        if self._credentials is None:
            target = ApiTarget("get", k8s_scheme.SECRETS, self.namespace, self.secret)
            try:
                self._credentials = api_call(
                    lambda: read_credentials(self.session.clientset, self.namespace, self.secret),
                    target, self.session.server)
            except CredentialsError as err:
                if err.reason == "SecretNotFound":
                    raise CLIError(ExitCode.NOT_FOUND, f"{err.message}: create it, or fix spec.secret of "
                                   f"{self.name}") from None
                if err.reason == "SecretForbidden":
                    raise CLIError(ExitCode.FORBIDDEN, f'forbidden: you may not get secrets "{self.secret}" '
                                   f'in namespace "{self.namespace}", which holds the RPC credentials: ask a '
                                   "cluster admin for a Role granting 'get' on it (check with: "
                                   f"{target.can_i()})") from None
                raise CLIError(ExitCode.RPC_AUTH, f"{err.message}: fix the Secret") from None
        tls = None
        if self.impl.uses_tls:
            pem = self.status.get("rpcCertificate")
            if not pem:
                raise CLIError(ExitCode.NODE_NOT_READY, f"{self.name} has no RPC certificate in its status yet: "
                               f"wait for the controller ('{self.session.prog} status {self.name} --watch')")
            tls = TLSConfig(pem)
        creds = self._credentials
        config = Config(node["ip"], self.impl.rpc_port, creds.user, creds.password, tls)
        client = BitcoinClient(http=self.transport, dialect=Dialect(self.impl.rpc_dialect),
                               connect_timeout=5.0, read_timeout=30.0)
        return client, config

    def rpc(self, node: dict[str, Any], call: Callable[[BitcoinClient, Config], Any]) -> Any:
        """One RPC call, its failures turned into what the user should do."""
        client, config = self.client_and_config(node)
        try:
            return call(client, config)
        except BitcoinRPCError as err:
            raise self.rpc_error(node, config, err) from None

    def rpc_error(self, node: dict[str, Any], config: Config, err: BitcoinRPCError) -> CLIError:
        who = f"node {node.get('ordinal')} of {self.name} ({host_port(config.host, config.port)})"
        if isinstance(err, AuthenticationError):
            what = "rejected the RPC credentials" if err.status == 401 else "refused the method for this user"
            return CLIError(ExitCode.RPC_AUTH, f'{who} {what} from Secret "{self.secret}" (HTTP {err.status}): '
                            "the Secret was probably changed after the pod started; restore it, or delete "
                            "the pod so it restarts with the new credentials", err)
        if isinstance(err, RPCTLSError):
            return CLIError(ExitCode.RPC_UNREACHABLE, f"TLS with {who} failed: its certificate is not the one in "
                            f"the network's status; wait for the controller to update it ({err})", err)
        if isinstance(err, RPCConnectionError):
            return CLIError(ExitCode.RPC_UNREACHABLE, f"cannot reach {who}: {err}: check that the pod is running "
                            "and that its IP is reachable from where this command runs", err)
        if isinstance(err, RPCError):
            return CLIError(ExitCode.RPC_ERROR, f"{who} answered: {err.rpc_message} (RPC error {err.code})", err)
        return CLIError(ExitCode.RPC_ERROR, f"{who}: {err}", err)


# -- rendering ---------------------------------------------------------------------------


def converged(network: dict[str, Any]) -> bool:
    """Ready, Connected and Synced all True for the current generation."""
    status = network.get("status") or {}
    if status.get("observedGeneration") != (network.get("metadata") or {}).get("generation"):
        return False
    true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    return {"Ready", "Connected", "Synced"} <= true


def _table(rows: list[list[str]]) -> list[str]:
    """kubectl's column layout: left-aligned, three spaces between columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def render_status(network: dict[str, Any], wide: bool = False) -> str:
    """The node table and conditions as text (``wide``: RPC endpoint, DNS name, best block)."""
    meta = network.get("metadata") or {}
    spec = network.get("spec") or {}
    status = network.get("status") or {}
    impl_name = spec.get("implementation", "bitcoind")
    try:
        rpc_port = get_implementation(impl_name).rpc_port
    except (KeyError, ValueError):
        rpc_port = None
    lines = [
        f"BitcoinNetwork {meta.get('namespace')}/{meta.get('name')}: "
        f"{spec.get('nodes')} node(s), {impl_name}, "
        f"{status.get('readyNodes', 0)} ready, best height {status.get('bestHeight', 0)}",
        "",
    ]
    header = ["ORDINAL", "READY", "IP", "PEERS", "HEIGHT", "POD"]
    if wide:
        header += ["RPC", "BEST BLOCK", "DNS"]
    rows = [header]
    for node in status.get("nodes") or []:
        row = [str(node.get("ordinal", "")), "yes" if node.get("ready") else "no", node.get("ip") or "-",
               str(node.get("peers", "-")), str(node.get("blocks", "-")), _pod_name(node)]
        if wide:
            rpc = host_port(node["ip"], rpc_port) if node.get("ip") and rpc_port else "-"
            row += [rpc, node.get("bestBlockHash") or "-", node.get("dnsName") or "-"]
        rows.append(row)
    lines += _table(rows)
    lines.append("")
    for cond in status.get("conditions") or []:
        since = f" (since {cond.get('lastTransitionTime')})" if wide and cond.get("lastTransitionTime") else ""
        lines.append(f"{cond.get('type'):<10}{cond.get('status'):<8}{cond.get('reason')}: {cond.get('message')}"
                     + since)
    return "\n".join(lines)


def _condition(network: dict[str, Any], type_: str) -> str:
    for cond in (network.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return str(cond.get("status"))
    return "-"


def render_list(items: list[dict[str, Any]], all_namespaces: bool, wide: bool = False) -> str:
    """``kubectl get``-style table of networks."""
    header = (["NAMESPACE"] if all_namespaces else []) + ["NAME", "IMPLEMENTATION", "NODES", "READY", "HEIGHT"]
    header += ["CONNECTED", "SYNCED"] if wide else []
    rows = [header]
    for net in items:
        meta, spec, status = net.get("metadata") or {}, net.get("spec") or {}, net.get("status") or {}
        row = ([meta.get("namespace", "")] if all_namespaces else []) + [
            meta.get("name", ""), spec.get("implementation", "bitcoind"), str(spec.get("nodes", "-")),
            f"{status.get('readyNodes', 0)}/{spec.get('nodes', '-')}", str(status.get("bestHeight", 0))]
        if wide:
            row += [_condition(net, "Connected"), _condition(net, "Synced")]
        rows.append(row)
    return "\n".join(_table(rows))


def _emit(obj: Any, output: str | None, out: TextIO) -> bool:
    """Print ``obj`` as json/yaml if asked; False when the caller should print a table."""
    if output == "json":
        print(dump_json(obj), file=out, flush=True)
    elif output == "yaml":
        out.write(dump_yaml(obj))
        out.flush()
    else:
        return False
    return True


# -- commands ---------------------------------------------------------------------------


def _status(session: _Session, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.name is None:
        namespace = "" if args.all_namespaces else session.namespace
        nets = session.clientset.bitcoincontroller_v1().bitcoin_networks(namespace)
        result = api_call(nets.list, ApiTarget("list", k8s_scheme.BITCOIN_NETWORKS, namespace), session.server)
        items = sorted(result.get("items") or [], key=lambda n: (n["metadata"].get("namespace", ""),
                                                                  n["metadata"].get("name", "")))
        if _emit({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {}}, args.output, out):
            return 0
        if not items:
            where = "any namespace" if args.all_namespaces else f'namespace "{namespace}"'
            print(f"No BitcoinNetworks found in {where}.", file=err)
            return 0
        print(render_list(items, args.all_namespaces, args.output == "wide"), file=out)
        return 0
    if args.all_namespaces:
        raise CLIError(ExitCode.USAGE, "a network NAME and -A do not go together: pass -n NAMESPACE instead")
    network = _get_network(session, session.namespace, args.name)
    wide = args.output == "wide"
    if not args.watch:
        if not _emit(network, args.output, out):
            print(render_status(network, wide), file=out)
        return 0
    deadline = time.monotonic() + args.timeout
    last = None
    pause = threading.Event()
    while True:
        text = dump_json(network) if args.output in ("json", "yaml") else render_status(network, wide)
        if text != last:
            if args.output in ("json", "yaml"):
                if args.output == "yaml" and last is not None:
                    out.write("---\n")
                _emit(network, args.output, out)
            else:
                print(("\033[2J\033[H" if out.isatty() else "\n") + text, file=out, flush=True)
            last = text
        if converged(network):
            return 0
        if time.monotonic() >= deadline:
            raise CLIError(ExitCode.TIMEOUT, f"{args.name} did not converge within {args.timeout:g}s: read its "
                           "conditions above and the controller's events (kubectl get events -n "
                           f"{session.namespace})")
        pause.wait(1.0)  # a person-facing redraw interval, not synchronisation
        network = _get_network(session, session.namespace, args.name)


def _param(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _rpc(session: _Session, args: argparse.Namespace, transport: HTTPTransport | None, out: TextIO) -> int:
    network = _Network(session, args.name, transport)
    node = network.node(args.ordinal)
    params = [_param(p) for p in args.params]
    result = network.rpc(node, lambda client, config: client.raw_request(args.method, params, config))
    print(json.dumps(result, indent=2, default=str), file=out)
    return 0


def _mine(session: _Session, args: argparse.Namespace, transport: HTTPTransport | None,
          out: TextIO, err: TextIO) -> int:
    network = _Network(session, args.name, transport)
    miner = network.node(args.node)
    hashes = network.rpc(miner, lambda client, config: client.generate(args.blocks, REGTEST_MINING_ADDRESS,
                                                                      config=config))
    info = network.rpc(miner, lambda client, config: client.get_blockchain_info(config))
    tip, height = (hashes[-1] if hashes else info.best_block_hash), info.blocks
    print(f"mined {len(hashes)} block(s) on node {args.node}: new tip {tip} at height {height}", file=out, flush=True)
    if not args.wait:
        return 0
    return _wait_for_tip(network, tip, height, args.timeout, out, err)


def _wait_for_tip(network: _Network, tip: str, height: int, timeout: float, out: TextIO, err: TextIO) -> int:
    """Poll every ready node until each reports ``tip`` (or a later block), with a progress line."""
    nodes = network.ready_nodes()
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    tty = err.isatty()
    last_line = ""
    while True:
        behind: dict[int, str] = {}  # short, for the progress line
        problems: dict[int, str] = {}  # the whole story, for the final error
        for node in nodes:
            ordinal = node.get("ordinal")
            try:
                info = network.rpc(node, lambda client, config: client.get_blockchain_info(config))
            except CLIError as failure:
                if failure.code == ExitCode.RPC_AUTH:
                    raise
                behind[ordinal], problems[ordinal] = "not answering", failure.message
                continue
            if info.best_block_hash != tip and info.blocks <= height:
                behind[ordinal] = problems[ordinal] = f"at height {info.blocks}"
        done = len(nodes) - len(behind)
        line = f"waiting for the tip: {done}/{len(nodes)} ready node(s) have it" + (
            "; " + ", ".join(f"node {o} {why}" for o, why in sorted(behind.items())) if behind else "")
        if line != last_line:
            print(("\r\033[K" if tty else "") + line, end="" if tty else "\n", file=err, flush=True)
            last_line = line
        if not behind:
            if tty:
                print(file=err)
            print(f"all {len(nodes)} ready node(s) report the tip {tip}", file=out)
            return 0
        if time.monotonic() >= deadline:
            if tty:
                print(file=err)
            details = "; ".join(f"node {o}: {why}" for o, why in sorted(problems.items()))
            raise CLIError(ExitCode.TIMEOUT, f"not every ready node reports the new tip after {timeout:g}s "
                           f"({details}): check their peers with '{network.session.prog} status {network.name}'")
        pause.wait(0.5)  # polling interval of a person-facing wait


def _logs(session: _Session, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    network = _Network(session, args.name, None)
    pod = network.pod_name(args.node)
    params: dict[str, Any] = {"container": _CONTAINER}
    if args.tail >= 0:
        params["tailLines"] = args.tail
    if args.follow:
        params["follow"] = "true"
    if args.previous:
        params["previous"] = "true"
    request = session.clientset.rest_client.get().abs_path(
        k8s_scheme.PODS.path(session.namespace, pod, "log")).params(params)
    target = ApiTarget("get", k8s_scheme.ResourceInfo("", "v1", "pods/log", "Pod"), session.namespace, pod)
    try:
        chunks = api_call(request.stream, target, session.server)
        for chunk in chunks:
            out.write(chunk.decode("utf-8", "replace"))
            out.flush()
    except errors.NotFoundError:
        raise CLIError(ExitCode.NOT_FOUND, f'pod "{pod}" of {args.name} does not exist (yet): check '
                       f"'{session.prog} status {args.name}'") from None
    except TransportError as failure:  # the stream broke after it started
        raise transport_error(failure, session.server) from None
    except CLIError as failure:
        if failure.code != ExitCode.API_ERROR:
            raise
        # 400: the container has not started yet; 5xx: the API server could
        # not reach the node's kubelet.  The local cluster's kwok nodes have
        # none: its pod runner writes each container's log to a file next to
        # the cluster's kubeconfig, which is read instead when it is there.
        name = f"{session.namespace}_{pod}_{_CONTAINER}.log"
        for kubeconfig in session.kubeconfig_files:
            path = os.path.join(os.path.dirname(os.path.abspath(kubeconfig)), "logs", "pods", name)
            if os.path.isfile(path):
                print(f"(the API server cannot serve this log; reading the local cluster's {path})", file=err)
                return _print_log_file(path, args.tail, args.follow, out)
        raise CLIError(ExitCode.API_ERROR, f"{failure.message}: the log is served by the node's kubelet; on the "
                       f"local cluster read .local-cluster/logs/pods/{name} instead", failure.original) from None
    return 0


def _print_log_file(path: str, tail: int, follow: bool, out: TextIO) -> int:
    """``tail [-n N] [-f] path``: the local cluster's pod log, as ``logs`` would show it."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
        out.writelines(lines if tail < 0 else lines[len(lines) - tail:] if tail else [])
        out.flush()
        pause = threading.Event()
        while follow:  # until Ctrl-C, like logs -f
            chunk = f.read()
            if chunk:
                out.write(chunk)
                out.flush()
            else:
                pause.wait(0.5)  # polling a growing file
    return 0


# -- completion ---------------------------------------------------------------------------


def completion_script(shell: str, prog: str) -> str:
    """A completion script that asks ``prog __complete WORDS...`` for candidates (as cobra does)."""
    # The plugin must not take over kubectl's own completion: its script is for
    # the kubectl-btcnet executable; "kubectl btcnet <TAB>" is completed by
    # kubectl itself (1.26+), which runs kubectl_complete-btcnet.
    command = "kubectl-btcnet" if prog == PLUGIN_PROG else prog.split()[0]
    func = "_" + re.sub(r"[^A-Za-z0-9_]", "_", command) + "_complete"
    if shell == "bash":
        return f"""# bash completion for {command}; load with: source <({prog} completion bash)
{func}() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}"
    local IFS=$'\\n'
    local candidates
    candidates=$("{command}" __complete "${{COMP_WORDS[@]:1:COMP_CWORD}}" 2>/dev/null | grep -v '^:')
    COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}}
complete -o default -F {func} {command}
"""
    return f"""#compdef {command}
# zsh completion for {command}; load with: source <({prog} completion zsh)
{func}() {{
    local -a candidates
    candidates=("${{(@f)$("{command}" __complete "${{(@)words[2,CURRENT]}}" 2>/dev/null | grep -v '^:')}}")
    compadd -- "${{candidates[@]}}"
}}
compdef {func} {command}
"""


_FLAG_CHOICES = {"-o": OUTPUT_FORMATS, "--output": OUTPUT_FORMATS, "--wait": ("true", "false")}
_COMMAND_FLAGS = {
    "status": ["-A", "--all-namespaces", "-o", "--output", "-w", "--watch", "--timeout"],
    "rpc": [],
    "mine": ["--node", "--wait", "--timeout"],
    "logs": ["--node", "--tail", "-f", "--follow", "-p", "--previous"],
    "completion": [],
}
_GLOBAL_FLAGS = ["--kubeconfig", "--context", "-n", "--namespace", "--request-timeout", "--debug", "-v"]


def complete(words: Sequence[str], environ: Mapping[str, str] | None = None,
             lister: Callable[[argparse.Namespace, str], list[str]] | None = None) -> list[str]:
    """Candidates for the last of ``words`` (the words after the program name).

    Network names, namespaces and node ordinals come from the cluster
    (``lister``), best effort: completion must never print an error.
    """
    environ = os.environ if environ is None else environ
    words = list(words) or [""]
    current, before = words[-1], words[:-1]
    positionals: list[str] = []
    flags: dict[str, str] = {}
    i = 0
    while i < len(before):
        token = before[i]
        if token.startswith("-"):
            name, eq, value = token.partition("=")
            if not eq and name in VALUE_FLAGS:
                if i + 1 == len(before):
                    return _flag_values(name, current, flags, environ, lister)
                value = before[i + 1]
                i += 1
            flags[name] = value
        else:
            positionals.append(token)
        i += 1
    command = positionals[0] if positionals else None
    if current.startswith("-"):
        candidates = _GLOBAL_FLAGS + _COMMAND_FLAGS.get(command or "", [])
        return [f for f in candidates if f.startswith(current)]
    if command is None:
        return [c for c in SUBCOMMANDS if c.startswith(current)]
    if command == "completion":
        return [s for s in ("bash", "zsh") if s.startswith(current)] if len(positionals) == 1 else []
    if len(positionals) == 1:
        return [n for n in _list(lister, flags, "networks", environ) if n.startswith(current)]
    if command == "rpc" and len(positionals) == 2:
        return [o for o in _list(lister, flags, f"ordinals:{positionals[1]}", environ) if o.startswith(current)]
    if command == "rpc" and len(positionals) == 3:
        return [m for m in _RPC_METHODS if m.startswith(current)]
    return []


def _flag_values(flag: str, current: str, flags: dict[str, str], environ: Mapping[str, str],
                 lister: Callable[[argparse.Namespace, str], list[str]] | None) -> list[str]:
    if flag in _FLAG_CHOICES:
        return [c for c in _FLAG_CHOICES[flag] if c.startswith(current)]
    if flag in ("-n", "--namespace"):
        return [n for n in _list(lister, flags, "namespaces", environ) if n.startswith(current)]
    if flag == "--context":
        try:
            merged = clientcmd.load_kubeconfig(flags.get("--kubeconfig"), environ=environ)
        except clientcmd.ConfigError:
            return []
        return sorted(c for c in merged.entries["contexts"] if c.startswith(current))
    return []


def _list(lister: Callable[[argparse.Namespace, str], list[str]] | None, flags: dict[str, str], what: str,
          environ: Mapping[str, str]) -> list[str]:
    args = argparse.Namespace(kubeconfig=flags.get("--kubeconfig"), context=flags.get("--context"),
                              namespace=flags.get("-n") or flags.get("--namespace"), request_timeout=3.0)
    try:
        return (lister or _cluster_lister(environ))(args, what)
    except Exception:  # completion is best effort: no output beats a traceback in the shell
        return []


def _cluster_lister(environ: Mapping[str, str]) -> Callable[[argparse.Namespace, str], list[str]]:
    def lister(args: argparse.Namespace, what: str) -> list[str]:
        session = _connect(args, PROG, environ)
        if what == "namespaces":
            return sorted(n["metadata"]["name"] for n in session.clientset.core_v1().namespaces().list()["items"])
        nets = session.clientset.bitcoincontroller_v1().bitcoin_networks(session.namespace)
        if what == "networks":
            return sorted(n["metadata"]["name"] for n in nets.list()["items"])
        status = nets.get(what.split(":", 1)[1]).get("status") or {}
        return [str(n.get("ordinal")) for n in status.get("nodes") or []]

    return lister


# -- entry points ---------------------------------------------------------------------------


def main(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None, *, prog: str = PROG,
         transport: HTTPTransport | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run one command; return its exit code.  ``transport`` replaces the RPC HTTP layer (tests)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    environ = os.environ if environ is None else environ
    argv = normalize_argv(argv)
    if argv and argv[0] == "__complete":
        for candidate in complete(argv[1:], environ):
            print(candidate, file=out)
        print(":4", file=out)  # cobra's ShellCompDirectiveNoFileComp, as kubectl plugins answer
        return 0
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    debug = bool(args.debug or args.verbosity)

    def run() -> int:
        if args.command == "completion":
            out.write(completion_script(args.shell, prog))
            return 0
        session = _connect(args, prog, environ)
        if args.command == "status":
            return _status(session, args, out, err)
        if args.command == "rpc":
            return _rpc(session, args, transport, out)
        if args.command == "mine":
            return _mine(session, args, transport, out, err)
        return _logs(session, args, out, err)

    return run_cli(run, debug=debug, err=err)


def plugin_main(argv: Sequence[str] | None = None) -> int:
    """``kubectl-btcnet``: found by kubectl's plugin discovery, run as ``kubectl btcnet ...``."""
    return main(sys.argv[1:] if argv is None else argv, prog=PLUGIN_PROG)


def plugin_complete_main(argv: Sequence[str] | None = None) -> int:
    """``kubectl_complete-btcnet``: kubectl (1.26+) runs it to complete ``kubectl btcnet <TAB>``."""
    return main(["__complete", *(sys.argv[1:] if argv is None else argv)], prog=PLUGIN_PROG)


def _pod_name(node: dict[str, Any]) -> str:
    """A ``status.nodes`` entry's pod: ``podName``, or ``nodeName`` as controllers before it wrote."""
    return node.get("podName") or node.get("nodeName") or ""
