"""The command line as a new user meets it: every failure is one ``error:`` line naming what
to do, with its own exit code, and no traceback unless ``--debug``/``-v``.

One table per command (the controller, each ``network`` sub-command, the
kubectl plugin), run against the fake API server and a fake RPC layer over
the fake bitcoin network.  Nothing here sleeps: waits use ``--timeout 0``.
"""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass, field

import pytest
import yaml
from fake_apiserver import FakeAPIServer, Reply, self_signed_cert, status
from fake_bitcoin import FakeBitcoinNetwork, FakeRPCTransport, unreachable

from bitcoin_controller.cmd import main as main_module
from bitcoin_controller.cmd import network
from bitcoin_controller.cmd.cli_errors import ExitCode

NS = "default"
NET_PATH = f"/apis/bitcoincontroller.dev/v1/namespaces/{NS}/bitcoinnetworks/net"
LIST_PATH = f"/apis/bitcoincontroller.dev/v1/namespaces/{NS}/bitcoinnetworks"
SECRET_PATH = f"/api/v1/namespaces/{NS}/secrets/net-secret"
IPS = ("127.0.100.1", "127.0.100.2")


def network_object(ready=(True, True), generation=1, observed=1) -> dict:
    return {
        "apiVersion": "bitcoincontroller.dev/v1", "kind": "BitcoinNetwork",
        "metadata": {"name": "net", "namespace": NS, "generation": generation},
        "spec": {"nodes": 2, "implementation": "bitcoind", "secret": "net-secret"},
        "status": {
            "observedGeneration": observed, "readyNodes": sum(ready), "bestHeight": 0,
            "nodes": [{"ordinal": i, "ready": r, "ip": IPS[i] if r else None, "peers": 1, "blocks": 0,
                       "nodeName": f"net-sts-{i}"} for i, r in enumerate(ready)],
            "conditions": [{"type": t, "status": "True", "reason": "R", "message": "m"}
                           for t in ("Ready", "Connected", "Synced")],
        },
    }


SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "net-secret", "namespace": NS},
          "data": {"BC_RPC_USER": base64.b64encode(b"alice").decode(),
                   "BC_RPC_PASSWORD": base64.b64encode(b"s3cret").decode()}}


def kubeconfig_doc(server: str, *, ca_pem: bytes | None = None, current: str | None = "main",
                   namespace: str | None = None) -> dict:
    cluster: dict = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    context: dict = {"cluster": "c", "user": "u"}
    if namespace:
        context["namespace"] = namespace
    doc = {"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "c", "cluster": cluster}],
           "users": [{"name": "u", "user": {"token": "tok"}}],
           "contexts": [{"name": "main", "context": context}]}
    if current is not None:
        doc["current-context"] = current
    return doc


@dataclass
class World:
    """A fake cluster with network "net" (2 bitcoind nodes) and its RPC layer."""

    tmp_path: object
    api: FakeAPIServer
    rpc_net: FakeBitcoinNetwork
    transport: FakeRPCTransport
    kubeconfig: str = ""
    extra_servers: list = field(default_factory=list)

    def write_kubeconfig(self, doc: dict | str, name: str = "config") -> str:
        path = self.tmp_path / name
        path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
        return str(path)

    def serve_network(self, obj: dict | None = None) -> None:
        self.api.route("GET", NET_PATH, Reply(200, obj or network_object()))
        self.api.route("GET", LIST_PATH, Reply(200, {"kind": "BitcoinNetworkList", "items": [obj or network_object()],
                                                     "metadata": {}}))
        self.api.route("GET", SECRET_PATH, Reply(200, SECRET))


@pytest.fixture
def world(tmp_path):
    api = FakeAPIServer()
    rpc_net = FakeBitcoinNetwork()
    for ip in IPS:
        rpc_net.node(ip)
    w = World(tmp_path, api, rpc_net, FakeRPCTransport(rpc_net, "alice", "s3cret"))
    w.kubeconfig = w.write_kubeconfig(kubeconfig_doc(api.url))
    w.serve_network()
    yield w
    for srv in [api, *w.extra_servers]:
        srv.close()


# -- case setups: each changes the world and returns the flags to add ------------------------


def kubeconfig_missing(w: World) -> list[str]:
    return ["--kubeconfig", str(w.tmp_path / "absent")]


def kubeconfig_malformed(w: World) -> list[str]:
    return ["--kubeconfig", w.write_kubeconfig("clusters: [\n  {name: c, cluster: {server: x}\n", "broken")]


def no_current_context(w: World) -> list[str]:
    return ["--kubeconfig", w.write_kubeconfig(kubeconfig_doc(w.api.url, current=None), "nocontext")]


def unknown_context(w: World) -> list[str]:
    return ["--kubeconfig", w.kubeconfig, "--context", "nope"]


def api_unreachable(w: World) -> list[str]:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return ["--kubeconfig", w.write_kubeconfig(kubeconfig_doc(f"http://127.0.0.1:{port}"), "down")]


def api_tls_failure(w: World) -> list[str]:
    server_dir, other_dir = w.tmp_path / "server", w.tmp_path / "other"
    server_dir.mkdir()
    other_dir.mkdir()
    cert, key, _ = self_signed_cert(str(server_dir))
    _, _, wrong_ca = self_signed_cert(str(other_dir))
    tls_api = FakeAPIServer(tls=(cert, key))
    w.extra_servers.append(tls_api)
    return ["--kubeconfig", w.write_kubeconfig(kubeconfig_doc(tls_api.url, ca_pem=wrong_ca), "tls")]


def unauthorized(w: World) -> list[str]:
    for path in (NET_PATH, LIST_PATH):
        w.api.route("GET", path, Reply(401, status(401, "Unauthorized", "Unauthorized")))
    return ["--kubeconfig", w.kubeconfig]


def forbidden(w: World) -> list[str]:
    msg = ('bitcoinnetworks.bitcoincontroller.dev is forbidden: User "bob" cannot get resource "bitcoinnetworks" '
           'in API group "bitcoincontroller.dev" in the namespace "default"')
    for path in (NET_PATH, LIST_PATH):
        w.api.route("GET", path, Reply(403, status(403, "Forbidden", msg)))
    return ["--kubeconfig", w.kubeconfig]


def crd_missing(w: World) -> list[str]:
    w.api.routes.clear()  # the fake answers unknown paths like an API server without the CRD
    return ["--kubeconfig", w.kubeconfig]


def unknown_network(w: World) -> list[str]:
    w.api.route("GET", NET_PATH, Reply(404, {**status(404, "NotFound", 'bitcoinnetworks "net" not found'),
                                             "details": {"name": "net", "kind": "bitcoinnetworks"}}))
    w.api.route("GET", f"/api/v1/namespaces/{NS}", Reply(200, {"kind": "Namespace", "metadata": {"name": NS}}))
    return ["--kubeconfig", w.kubeconfig]


def unknown_namespace(w: World) -> list[str]:
    w.api.route("GET", "/apis/bitcoincontroller.dev/v1/namespaces/nope/bitcoinnetworks/net",
                Reply(404, {**status(404, "NotFound", 'bitcoinnetworks "net" not found'),
                            "details": {"name": "net", "kind": "bitcoinnetworks"}}))
    w.api.route("GET", "/api/v1/namespaces/nope",
                Reply(404, {**status(404, "NotFound", 'namespaces "nope" not found'), "details": {"name": "nope"}}))
    return ["--kubeconfig", w.kubeconfig, "-n", "nope"]


def node_not_ready(w: World) -> list[str]:
    w.serve_network(network_object(ready=(True, False)))
    return ["--kubeconfig", w.kubeconfig]


def rpc_refused(w: World) -> list[str]:
    w.rpc_net.nodes[IPS[0]].fail = unreachable(IPS[0])
    return ["--kubeconfig", w.kubeconfig]


def rpc_wrong_credentials(w: World) -> list[str]:
    w.transport.password = "rotated"
    return ["--kubeconfig", w.kubeconfig]


def secret_forbidden(w: World) -> list[str]:
    w.api.route("GET", SECRET_PATH, Reply(403, status(403, "Forbidden", "secrets is forbidden")))
    return ["--kubeconfig", w.kubeconfig]


def nodes_lag(w: World) -> list[str]:
    w.transport.lagging.add(IPS[1])
    return ["--kubeconfig", w.kubeconfig]


def fine(w: World) -> list[str]:
    return ["--kubeconfig", w.kubeconfig]


# (id, setup, expected exit code, text the error line must contain)
CLUSTER_CASES = [
    ("kubeconfig-missing", kubeconfig_missing, ExitCode.KUBECONFIG, "check the path given to --kubeconfig"),
    ("kubeconfig-malformed", kubeconfig_malformed, ExitCode.KUBECONFIG, "is not valid YAML"),
    ("no-current-context", no_current_context, ExitCode.CONTEXT, "kubectl config use-context"),
    ("unknown-context", unknown_context, ExitCode.CONTEXT, 'context "nope" is not in'),
    ("api-unreachable", api_unreachable, ExitCode.UNREACHABLE, "cannot reach the API server"),
    ("api-tls", api_tls_failure, ExitCode.TLS, "certificate-authority"),
    ("401", unauthorized, ExitCode.UNAUTHORIZED, "rejected your credentials"),
    ("403", forbidden, ExitCode.FORBIDDEN, 'user "bob" may not get bitcoinnetworks.bitcoincontroller.dev'),
    ("crd-missing", crd_missing, ExitCode.CRD_MISSING, "kubectl apply -f manifests/crd.yaml"),
    ("unknown-network", unknown_network, ExitCode.NOT_FOUND, 'BitcoinNetwork "net" not found in namespace "default"'),
    ("unknown-namespace", unknown_namespace, ExitCode.NOT_FOUND, 'namespace "nope" not found'),
]
RPC_CASES = [
    ("node-not-ready", node_not_ready, ExitCode.NODE_NOT_READY, "node 1 of net is not ready (pod net-sts-1)"),
    ("rpc-refused", rpc_refused, ExitCode.RPC_UNREACHABLE, "cannot reach node 0 of net (127.0.100.1:18443)"),
    ("rpc-credentials", rpc_wrong_credentials, ExitCode.RPC_AUTH,
     'rejected the RPC credentials from Secret "net-secret"'),
    ("secret-forbidden", secret_forbidden, ExitCode.FORBIDDEN, 'may not get secrets "net-secret"'),
]


def run_network(world: World, setup, argv: list[str], capsys, *, prog_main=None) -> tuple[int, str, str]:
    flags = setup(world)
    capsys.readouterr()
    if prog_main is None:
        code = network.main([*argv[:1], *flags, *argv[1:]], transport=world.transport, environ={})
    else:
        code = prog_main([*argv[:1], *flags, *argv[1:]])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, expected_code: int, text: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == expected_code, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and text in lines[0], lines[0]
    assert "Traceback" not in err


# -- network status ---------------------------------------------------------------------------

STATUS_CASES = [*CLUSTER_CASES,
                ("bad-output", fine, ExitCode.USAGE, "invalid choice: 'xml'"),
                ("name-and-A", fine, ExitCode.USAGE, "-A do not go together")]


@pytest.mark.parametrize(("case", "setup", "code", "text"), STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_status_failures_unit(world, capsys, case, setup, code, text):
    extra = {"bad-output": ["-o", "xml"], "name-and-A": ["-A"]}.get(case, [])
    got, _, err = run_network(world, setup, ["status", "net", *extra], capsys)
    assert_one_line_error(got, err, code, text)


def test_status_watch_gives_up_at_its_deadline_unit(world, capsys):
    world.serve_network(network_object(generation=2, observed=1))
    got, out, err = run_network(world, fine, ["status", "net", "--watch", "--timeout", "0"], capsys)
    assert_one_line_error(got, err, ExitCode.TIMEOUT, "did not converge within 0s")
    assert "BitcoinNetwork default/net" in out


# -- network rpc -----------------------------------------------------------------------------

RPC_TABLE = [*CLUSTER_CASES, *RPC_CASES,
             ("rpc-error", fine, ExitCode.RPC_ERROR, "Method not found (RPC error -32601)"),
             ("no-such-node", fine, ExitCode.NOT_FOUND, "net has no node 5"),
             ("bad-ordinal", fine, ExitCode.USAGE, "argument ordinal: invalid _non_negative_int value: 'x'")]


@pytest.mark.parametrize(("case", "setup", "code", "text"), RPC_TABLE, ids=[c[0] for c in RPC_TABLE])
def test_rpc_failures_unit(world, capsys, case, setup, code, text):
    ordinal = {"node-not-ready": "1", "no-such-node": "5", "bad-ordinal": "x"}.get(case, "0")
    method = "nosuchmethod" if case == "rpc-error" else "getblockcount"
    got, _, err = run_network(world, setup, ["rpc", "net", ordinal, method], capsys)
    assert_one_line_error(got, err, code, text)


# -- network mine ----------------------------------------------------------------------------

MINE_TABLE = [*CLUSTER_CASES, *RPC_CASES,
              ("bad-blocks", fine, ExitCode.USAGE, "argument blocks: must be at least 1"),
              ("bad-timeout", fine, ExitCode.USAGE, "invalid duration 'soon'")]


@pytest.mark.parametrize(("case", "setup", "code", "text"), MINE_TABLE, ids=[c[0] for c in MINE_TABLE])
def test_mine_failures_unit(world, capsys, case, setup, code, text):
    argv = {"node-not-ready": ["mine", "net", "1", "--node", "1"], "bad-blocks": ["mine", "net", "0"],
            "bad-timeout": ["mine", "net", "--timeout", "soon"]}.get(case, ["mine", "net", "3"])
    got, _, err = run_network(world, setup, argv, capsys)
    assert_one_line_error(got, err, code, text)


def test_mine_waits_until_every_ready_node_reports_the_tip_unit(world, capsys):
    got, out, err = run_network(world, fine, ["mine", "net", "3"], capsys)
    tip = f"{3:064x}"
    assert got == 0, err
    assert f"mined 3 block(s) on node 0: new tip {tip} at height 3" in out
    assert "waiting for the tip: 2/2 ready node(s) have it" in err
    assert f"all 2 ready node(s) report the tip {tip}" in out
    assert world.rpc_net.nodes[IPS[1]].blocks == 3


def test_mine_times_out_naming_the_lagging_node_unit(world, capsys):
    got, out, err = run_network(world, nodes_lag, ["mine", "net", "2", "--timeout", "0"], capsys)
    assert got == ExitCode.TIMEOUT
    assert "waiting for the tip: 1/2 ready node(s) have it; node 1 at height 0" in err
    assert err.splitlines()[-1].startswith("error: not every ready node reports the new tip after 0s (node 1:")
    assert "new tip" in out and "Traceback" not in err


# -- network logs ----------------------------------------------------------------------------

LOGS_TABLE = [*CLUSTER_CASES,
              ("pod-missing", fine, ExitCode.NOT_FOUND, 'pod "net-sts-0" of net does not exist'),
              ("no-such-node", fine, ExitCode.NOT_FOUND, "net has no node 7"),
              ("bad-tail", fine, ExitCode.USAGE, "argument --tail: invalid int value")]


@pytest.mark.parametrize(("case", "setup", "code", "text"), LOGS_TABLE, ids=[c[0] for c in LOGS_TABLE])
def test_logs_failures_unit(world, capsys, case, setup, code, text):
    if case == "pod-missing":
        world.api.route("GET", f"/api/v1/namespaces/{NS}/pods/net-sts-0/log",
                        Reply(404, {**status(404, "NotFound", 'pods "net-sts-0" not found'),
                                    "details": {"name": "net-sts-0"}}))
    extra = {"no-such-node": ["--node", "7"], "bad-tail": ["--tail", "many"]}.get(case, [])
    got, _, err = run_network(world, setup, ["logs", "net", *extra], capsys)
    assert_one_line_error(got, err, code, text)


def test_logs_prints_the_pod_log_of_the_node_unit(world, capsys):
    world.api.route("GET", f"/api/v1/namespaces/{NS}/pods/net-sts-1/log", Reply(200, b"line 1\nline 2\n"))
    got, out, _ = run_network(world, fine, ["logs", "net", "--node", "1", "--tail", "2"], capsys)
    assert got == 0 and out == "line 1\nline 2\n"
    assert world.api.last().query == {"container": "node", "tailLines": "2"}


# -- the kubectl plugin ----------------------------------------------------------------------

PLUGIN_TABLE = [*CLUSTER_CASES, *RPC_CASES,
                ("bad-flag", fine, ExitCode.USAGE, "error: kubectl btcnet: unrecognized arguments: --bogus")]


@pytest.mark.parametrize(("case", "setup", "code", "text"), PLUGIN_TABLE, ids=[c[0] for c in PLUGIN_TABLE])
def test_plugin_failures_unit(world, capsys, monkeypatch, case, setup, code, text):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    # The plugin goes through plugin_main, as kubectl runs it; the RPC layer is the fake one.
    monkeypatch.setattr(network, "main", _with_transport(network.main, world.transport))
    argv = ["rpc", "net", "1" if case == "node-not-ready" else "0", "getblockcount"]
    if case == "bad-flag":
        argv.append("--bogus")
    got, _, err = run_network(world, setup, argv, capsys, prog_main=network.plugin_main)
    assert_one_line_error(got, err, code, text)


def _with_transport(main, transport):
    def patched(argv, *args, **kwargs):
        kwargs.setdefault("transport", transport)
        return main(argv, *args, **kwargs)

    return patched


# -- the controller command ------------------------------------------------------------------

CONTROLLER_TABLE = [
    ("kubeconfig-missing", kubeconfig_missing, ExitCode.KUBECONFIG, "check the path given to --kubeconfig"),
    ("kubeconfig-malformed", kubeconfig_malformed, ExitCode.KUBECONFIG, "is not valid YAML"),
    ("no-current-context", no_current_context, ExitCode.CONTEXT, "kubectl config use-context"),
    ("api-unreachable", api_unreachable, ExitCode.UNREACHABLE, "cannot reach the API server"),
    ("api-tls", api_tls_failure, ExitCode.TLS, "certificate-authority"),
    ("401", unauthorized, ExitCode.UNAUTHORIZED, "rejected your credentials"),
    ("403", forbidden, ExitCode.FORBIDDEN,
     "may not list bitcoinnetworks.bitcoincontroller.dev in namespace \"default\""),
    ("crd-missing", crd_missing, ExitCode.CRD_MISSING, "kubectl apply -f manifests/crd.yaml"),
    ("bad-flag", fine, ExitCode.USAGE, "error: bitcoin-controller: argument --workers: must be at least 1"),
]


@pytest.mark.parametrize(("case", "setup", "code", "text"), CONTROLLER_TABLE, ids=[c[0] for c in CONTROLLER_TABLE])
def test_controller_start_up_failures_unit(world, capsys, monkeypatch, case, setup, code, text):
    from bitcoin_controller.cmd import app

    monkeypatch.setattr(app, "STARTUP_API_WAIT", 0.0)
    for name in list(__import__("os").environ):
        if name.startswith("BITCOIN_CONTROLLER_"):
            monkeypatch.delenv(name)
    flags = setup(world)
    if case in ("401", "403"):  # the controller lists, in the namespace it watches
        world.api.route("GET", LIST_PATH, *world.api.routes[("GET", NET_PATH)])
    capsys.readouterr()
    extra = ["--workers", "0"] if case == "bad-flag" else []
    got = main_module.main([*flags, "--namespace", NS, "--log-format", "json", *extra])
    err = capsys.readouterr().err
    assert_one_line_error(got, err, code, text)


# -- --debug, -v, and global flags anywhere ---------------------------------------------------


@pytest.mark.parametrize("flag", ["--debug", "-v", "-v=6", "--v=6"])
def test_debug_flags_add_the_traceback_unit(world, capsys, flag):
    got, _, err = run_network(world, api_unreachable, ["status", "net", flag], capsys)
    assert got == ExitCode.UNREACHABLE
    assert "Traceback" in err and err.splitlines()[-1].startswith("error: cannot reach the API server")


def test_unexpected_errors_are_one_line_saying_so_unit(world, capsys, monkeypatch):
    def boom(*_args, **_kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(network, "render_status", boom)
    got, _, err = run_network(world, fine, ["status", "net"], capsys)
    assert_one_line_error(got, err, ExitCode.ERROR, "unexpected ZeroDivisionError")
    assert "rerun with --debug" in err


@pytest.mark.parametrize("order", ["before-network", "after-network", "after-command", "at-end"])
def test_global_flags_before_or_after_the_sub_command_unit(world, capsys, monkeypatch, order):
    monkeypatch.setattr(network, "main", _with_transport(network.main, world.transport))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    flags = ["--kubeconfig", world.kubeconfig, "-n", NS]
    argv = {
        "before-network": [*flags, "network", "mine", "net", "2"],
        "after-network": ["network", *flags, "mine", "net", "2"],
        "after-command": ["network", "mine", *flags, "net", "2"],
        "at-end": ["network", "mine", "net", "2", *flags],
    }[order]
    capsys.readouterr()
    assert main_module.main(argv) == 0, capsys.readouterr().err
    assert "new tip" in capsys.readouterr().out


def test_namespace_defaults_to_the_contexts_then_default_unit(world, capsys):
    path = world.write_kubeconfig(kubeconfig_doc(world.api.url, namespace="btc"), "ns")
    world.api.route("GET", "/apis/bitcoincontroller.dev/v1/namespaces/btc/bitcoinnetworks/net",
                    Reply(200, network_object()))
    code = network.main(["--kubeconfig", path, "status", "net"], environ={})
    assert code == 0 and world.api.last().path.endswith("/namespaces/btc/bitcoinnetworks/net")
    assert network.main(["--kubeconfig", path, "-n=default", "status", "net"], environ={}) == 0
    assert world.api.last().path == NET_PATH


def test_kubeconfig_list_in_the_environment_is_merged_like_kubectl_unit(world, capsys):
    # The first file sets current-context "main" but lacks it; the second defines it.
    first = world.write_kubeconfig({"apiVersion": "v1", "kind": "Config", "current-context": "main"}, "first")
    environ = {"KUBECONFIG": f"{world.tmp_path / 'absent'}:{first}:{world.kubeconfig}"}
    assert network.main(["status", "net"], environ=environ) == 0
    assert "BitcoinNetwork default/net" in capsys.readouterr().out


# -- what a script consumes: -o json|yaml, listing -----------------------------------------------


def test_status_json_and_yaml_are_the_object_unit(world, capsys):
    for output, load in (("json", __import__("json").loads), ("yaml", yaml.safe_load)):
        got, out, _ = run_network(world, fine, ["status", "net", "-o", output], capsys)
        assert got == 0 and load(out) == network_object()


def test_status_without_a_name_lists_like_kubectl_get_unit(world, capsys):
    got, out, _ = run_network(world, fine, ["status"], capsys)
    assert got == 0 and out.split("\n")[1].split() == ["net", "bitcoind", "2", "2/2", "0"]
    world.api.route("GET", "/apis/bitcoincontroller.dev/v1/bitcoinnetworks",
                    Reply(200, {"kind": "BitcoinNetworkList", "items": [network_object()], "metadata": {}}))
    got, out, _ = run_network(world, fine, ["status", "-A", "-o", "yaml"], capsys)
    listed = yaml.safe_load(out)
    assert got == 0 and listed["kind"] == "List" and listed["items"] == [network_object()]
    assert world.api.last().path == "/apis/bitcoincontroller.dev/v1/bitcoinnetworks"
    world.api.route("GET", LIST_PATH, Reply(200, {"kind": "BitcoinNetworkList", "items": [], "metadata": {}}))
    got, out, err = run_network(world, fine, ["status"], capsys)
    assert (got, out, err) == (0, "", 'No BitcoinNetworks found in namespace "default".\n')


def test_status_list_forbidden_names_the_list_verb_unit(world, capsys):
    world.api.route("GET", "/apis/bitcoincontroller.dev/v1/bitcoinnetworks",
                    Reply(403, status(403, "Forbidden", "forbidden")))
    got, _, err = run_network(world, fine, ["status", "-A"], capsys)
    assert_one_line_error(got, err, ExitCode.FORBIDDEN,
                          "may not list bitcoinnetworks.bitcoincontroller.dev in all namespaces")
    assert "kubectl auth can-i list bitcoinnetworks.bitcoincontroller.dev -A" in err


def test_rpc_prints_the_result_and_never_the_password_unit(world, capsys):
    got, out, _ = run_network(world, fine, ["rpc", "net", "1", "getblockchaininfo"], capsys)
    assert got == 0 and __import__("json").loads(out)["chain"] == "regtest"
    assert world.transport.requests[-1][0] == IPS[1]
    got, out, err = run_network(world, rpc_wrong_credentials, ["rpc", "net", "0", "getblockcount"], capsys)
    assert got == ExitCode.RPC_AUTH
    assert "s3cret" not in out + err and "rotated" not in out + err and "alice" not in out + err


def test_rpc_tls_failure_is_an_rpc_connection_problem_unit(world, capsys):
    from bitcoin_controller.bitcoin.errors import RPCTLSError

    world.rpc_net.nodes[IPS[0]].fail = RPCTLSError("TLS handshake with 127.0.100.1:18443 failed: bad cert")
    got, _, err = run_network(world, fine, ["rpc", "net", "0", "getblockcount"], capsys)
    assert_one_line_error(got, err, ExitCode.RPC_UNREACHABLE, "its certificate is not the one in the network's status")


def test_logs_follow_streams_unit(world, capsys):
    world.api.route("GET", f"/api/v1/namespaces/{NS}/pods/net-sts-0/log", Reply(200, b"a\nb\n"))
    got, out, _ = run_network(world, fine, ["logs", "net", "-f", "-p"], capsys)
    assert got == 0 and out == "a\nb\n"
    assert world.api.last().query == {"container": "node", "follow": "true", "previous": "true"}


def test_mine_without_waiting_unit(world, capsys):
    world.transport.lagging.add(IPS[1])
    got, out, err = run_network(world, fine, ["mine", "net", "--wait=false"], capsys)
    assert got == 0 and "new tip" in out and "waiting" not in err


def test_logs_without_a_kubelet_point_at_the_local_clusters_log_files_unit(world, capsys):
    msg = 'Get "https://127.0.0.1:10250/containerLogs/default/net-sts-0/node": connect: connection refused'
    world.api.route("GET", f"/api/v1/namespaces/{NS}/pods/net-sts-0/log",
                    Reply(500, status(500, "InternalError", msg)))
    got, _, err = run_network(world, fine, ["logs", "net"], capsys)
    assert_one_line_error(got, err, ExitCode.API_ERROR, "could not get pods/log \"net-sts-0\" in namespace")
    assert ".local-cluster/logs/pods/default_net-sts-0_node.log" in err
    # Next to the local cluster's kubeconfig, the pod runner's log file is read instead.
    (world.tmp_path / "logs" / "pods").mkdir(parents=True)
    (world.tmp_path / "logs" / "pods" / "default_net-sts-0_node.log").write_text("one\ntwo\nthree\n")
    got, out, err = run_network(world, fine, ["logs", "net", "--tail", "2"], capsys)
    assert (got, out) == (0, "two\nthree\n") and "reading the local cluster's" in err


def test_controller_forbidden_hint_names_the_impersonated_user_unit(world, capsys, monkeypatch):
    from bitcoin_controller.cmd import app

    monkeypatch.setattr(app, "STARTUP_API_WAIT", 0.0)
    world.api.route("GET", "/apis/bitcoincontroller.dev/v1/bitcoinnetworks",
                    Reply(403, status(403, "Forbidden", 'User "system:serviceaccount:x:y" cannot list')))
    got = main_module.main(["--kubeconfig", world.kubeconfig, "--impersonate", "system:serviceaccount:x:y",
                            "--log-format", "json"])
    err = capsys.readouterr().err
    assert_one_line_error(got, err, ExitCode.FORBIDDEN, 'user "system:serviceaccount:x:y" may not list')
    assert "kubectl auth can-i list bitcoinnetworks.bitcoincontroller.dev -A --as system:serviceaccount:x:y" in err
    assert world.api.last().headers["Impersonate-User"] == "system:serviceaccount:x:y"


def test_controller_preflight_waits_out_a_starting_api_server_unit(world, capsys, monkeypatch):
    from bitcoin_controller.cmd import app

    monkeypatch.setattr(app, "PREFLIGHT_RETRY_PAUSE", 0.0)
    list_path = "/apis/bitcoincontroller.dev/v1/bitcoinnetworks"
    world.api.route("GET", list_path, Reply(503, status(503, "ServiceUnavailable", "starting")),
                    Reply(403, status(403, "Forbidden", "forbidden")))
    got = main_module.main(["--kubeconfig", world.kubeconfig, "--log-format", "json"])
    assert got == ExitCode.FORBIDDEN  # got past the 503, stopped at the first permanent answer
    assert [r.path for r in world.api.requests].count(list_path) == 2


def test_mine_progress_names_a_node_that_stops_answering_unit(world, capsys):
    transport = world.transport
    original = transport.request

    def request(method, url, body, headers, timeout, tls=None, **limits):
        reply = original(method, url, body, headers, timeout, tls, **limits)
        if b"generate" in body:  # node 1 goes away right after the blocks are mined
            world.rpc_net.nodes[IPS[1]].fail = unreachable(IPS[1])
        return reply

    transport.request = request
    got, _, err = run_network(world, fine, ["mine", "net", "--timeout", "0"], capsys)
    assert got == ExitCode.TIMEOUT
    assert "1/2 ready node(s) have it; node 1 not answering" in err
    assert "(node 1: cannot reach node 1 of net (127.0.100.2:18443)" in err.splitlines()[-1]


# -- network completion: no cluster involved, only its arguments can be wrong ---------------------

COMPLETION_TABLE = [
    ("unknown-shell", ["completion", "fish"], ExitCode.USAGE, "argument shell: invalid choice: 'fish'"),
    ("missing-shell", ["completion"], ExitCode.USAGE, "the following arguments are required: shell"),
    ("unknown-command", ["complete", "bash"], ExitCode.USAGE, "invalid choice: 'complete'"),
]


@pytest.mark.parametrize(("case", "argv", "code", "text"), COMPLETION_TABLE, ids=[c[0] for c in COMPLETION_TABLE])
def test_completion_failures_unit(capsys, case, argv, code, text):
    got = network.main(argv, environ={})
    assert_one_line_error(got, capsys.readouterr().err, code, text)


def test_in_a_pod_without_a_service_account_token_unit(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config either
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    got = network.main(["status", "net"], environ=environ)
    err = capsys.readouterr().err
    assert_one_line_error(got, err, ExitCode.KUBECONFIG, "in-cluster configuration unavailable")
