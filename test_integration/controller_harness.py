"""Harness for end-to-end tests: the real controller process against a real cluster.

The end-to-end tests (``test_e2e_integration.py``, and anyone else's that
want the controller running for real) need the same few things:

* the CRD and the controller's RBAC installed, the CRD *Established* before
  anything creates a network (:func:`install_crd_and_rbac`, fixture
  ``crd_and_rbac``);
* a credential Secret in the test's namespace (:func:`create_credentials_secret`);
* the ``bitcoin-controller`` command running **as its ServiceAccount**
  (``--impersonate``), so the RBAC in ``manifests/rbac.yaml`` is exactly what
  it gets, with JSON logs captured to a file under pytest's tmp dir
  (:class:`ControllerProcess`: ``start``, ``stop`` (SIGTERM), ``kill``
  (SIGKILL), ``restart``, ``logs``; fixtures ``controller`` (one process per
  module) and ``controller_factory`` (extra processes, stopped at teardown));
* :func:`wait_for`: poll a predicate with a deadline.  The cluster and the
  daemons are other processes, so some waits can only poll; the deadline
  bounds the wait, the interval the load -- never a bare sleep;
* :func:`read_network`: the network's status as typed values
  (:class:`NetworkStatus`, :class:`NodeStatus`, :class:`Condition`);
* :class:`NetworkRPC`: talk to a node *ourselves* with
  :class:`bitcoin_controller.bitcoin.BitcoinClient` -- pod IP from the pod,
  credentials from the Secret, the pinned certificate from
  ``status.rpcCertificate`` -- so assertions about heights and peers are
  made by our own RPC calls, not by believing the controller's status.

Use in a test module: pytest finds fixtures among a module's attributes,
so bind the ones you need (plain assignments, so that linters don't take
the test functions' parameters for redefinitions of an import)::

    import controller_harness as harness

    crd_and_rbac = harness.crd_and_rbac
    admin_client = harness.admin_client
    controller = harness.controller

Every helper takes the admin :class:`~bitcoin_controller.clientgo.kubernetes.Clientset`
(fixture ``admin_client``): tests look at the cluster with full rights, while
the controller runs with only its own.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from polling import wait_for as poll

from bitcoin_controller.apimachinery.metav1 import ListOptions
from bitcoin_controller.bitcoin import BitcoinClient, Config, Dialect, TLSConfig
from bitcoin_controller.clientgo.kubernetes import Clientset
from bitcoin_controller.clientgo.tools.clientcmd import build_config_from_kubeconfig
from bitcoin_controller.controller.implementations import P2P_PORT, REGTEST_MINING_ADDRESS, get_implementation

__all__ = [
    "ROOT",
    "SERVICE_ACCOUNT",
    "CONTROLLER_BIN",
    "CRD_NAME",
    "DEFAULT_SECRET",
    "TEST_RPC_USER",
    "TEST_RPC_PASSWORD",
    "wait_for",
    "free_port",
    "kubectl",
    "new_admin_clientset",
    "install_crd_and_rbac",
    "create_credentials_secret",
    "new_network",
    "create_network",
    "Condition",
    "NodeStatus",
    "NetworkStatus",
    "parse_network",
    "read_network",
    "list_names",
    "events_for",
    "NetworkRPC",
    "ControllerProcess",
    "json_log_records",
    "runs_in_cluster",
    "crd_and_rbac",
    "admin_client",
    "controller",
    "controller_factory",
]

ROOT = Path(__file__).resolve().parent.parent
SERVICE_ACCOUNT = "system:serviceaccount:bitcoin-controller:bitcoin-controller"
CONTROLLER_BIN = ROOT / ".venv" / "bin" / "bitcoin-controller"
# the kubectl built with the cluster (make puts .local-cluster/bin first on PATH)
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl") or "kubectl"
CRD_NAME = "bitcoinnetworks.bitcoincontroller.dev"
#: The one credential Secret name the ClusterRole lets the controller read.
DEFAULT_SECRET = "bitcoin-default-secret"
TEST_RPC_USER = "e2e-user"
#: Distinctive, so a test can prove it never shows up in logs or events.
TEST_RPC_PASSWORD = "e2e-pw-7f3c91d2b8a4"

T = TypeVar("T")


# --------------------------------------------------------------------------- waiting


def wait_for(
    predicate: Callable[[], T], timeout: float, interval: float = 0.25, message: str = "condition"
) -> T:
    """Poll ``predicate`` until it returns something truthy and return that; fail at the deadline.

    Exceptions raised by ``predicate`` count as "not yet" (an object still
    being created answers NotFound, a daemon still starting refuses
    connections); the last value or exception is in the failure message, so
    a timeout says what was seen, not only what was hoped for.
    """
    return poll(predicate, timeout, message, interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for the controller's listeners)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- cluster set-up


def kubectl(kubeconfig: str, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run kubectl against the test cluster and return the completed process (text output)."""
    return subprocess.run(
        [KUBECTL, "--kubeconfig", kubeconfig, *args],
        check=check,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def new_admin_clientset(kubeconfig: str) -> Clientset:
    """Our clientset with the kubeconfig's (admin) identity and short request timeouts."""
    config = build_config_from_kubeconfig(kubeconfig).copy(timeout=30.0, connect_timeout=5.0)
    return Clientset(config)


def install_crd_and_rbac(kubeconfig: str, timeout: float = 60) -> None:
    """Apply ``manifests/crd.yaml`` and ``manifests/rbac.yaml``; wait until the CRD is Established.

    Idempotent (``kubectl apply``).  Creating a BitcoinNetwork before the CRD
    is Established gets a 404, hence the wait.
    """
    for manifest in ("crd.yaml", "rbac.yaml"):
        kubectl(kubeconfig, "apply", "-f", str(ROOT / "manifests" / manifest))
    kubectl(
        kubeconfig, "wait", "--for=condition=Established", f"--timeout={int(timeout)}s", f"crd/{CRD_NAME}",
        timeout=timeout + 10,
    )


def create_credentials_secret(
    client: Clientset,
    namespace: str,
    name: str = DEFAULT_SECRET,
    user: str = TEST_RPC_USER,
    password: str = TEST_RPC_PASSWORD,
) -> dict[str, Any]:
    """Create the RPC credential Secret a network names (keys ``BC_RPC_USER``/``BC_RPC_PASSWORD``).

    The controller may only read the names its ClusterRole lists, so the
    default name is :data:`DEFAULT_SECRET`.
    """
    return client.core_v1().secrets(namespace).create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque",
            "data": {
                "BC_RPC_USER": base64.b64encode(user.encode()).decode("ascii"),
                "BC_RPC_PASSWORD": base64.b64encode(password.encode()).decode("ascii"),
            },
        }
    )


def new_network(
    name: str,
    nodes: int,
    *,
    implementation: str = "btcd",
    secret: str | None = None,
    image: str | None = None,
    resources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A BitcoinNetwork object (the spec fields left out are left to the CRD's defaults)."""
    spec: dict[str, Any] = {"nodes": nodes, "implementation": implementation}
    if secret is not None:
        spec["secret"] = secret
    if image is not None:
        spec["image"] = image
    if resources is not None:
        spec["resources"] = resources
    return {
        "apiVersion": "bitcoincontroller.dev/v1",
        "kind": "BitcoinNetwork",
        "metadata": {"name": name},
        "spec": spec,
    }


def create_network(client: Clientset, namespace: str, name: str, nodes: int, **spec: Any) -> dict[str, Any]:
    """Create a BitcoinNetwork (see :func:`new_network` for ``spec``) and return it."""
    obj = new_network(name, nodes, **spec)
    obj["metadata"]["namespace"] = namespace
    return client.bitcoincontroller_v1().bitcoin_networks(namespace).create(obj)


# --------------------------------------------------------------------------- reading status


@dataclass(frozen=True)
class Condition:
    """One entry of ``status.conditions`` (metav1.Condition's shape)."""

    type: str
    status: str
    reason: str
    message: str
    observed_generation: int | None = None


@dataclass(frozen=True)
class NodeStatus:
    """One entry of ``status.nodes``."""

    ordinal: int
    ready: bool
    ip: str
    pod_name: str
    dns_name: str
    blocks: int | None
    best_block_hash: str | None
    peers: int | None


@dataclass(frozen=True)
class NetworkStatus:
    """A BitcoinNetwork's metadata.generation and status, typed."""

    name: str
    namespace: str
    generation: int
    observed_generation: int | None
    ready_nodes: int
    best_height: int
    nodes: tuple[NodeStatus, ...]
    conditions: dict[str, Condition]
    rpc_certificate: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    def condition(self, type_: str) -> Condition | None:
        return self.conditions.get(type_)

    def is_true(self, type_: str) -> bool:
        cond = self.conditions.get(type_)
        return cond is not None and cond.status == "True"

    @property
    def current(self) -> bool:
        """The status was computed for the spec as it is now (observedGeneration == generation)."""
        return self.observed_generation == self.generation

    @property
    def converged(self) -> bool:
        """Ready, Connected and Synced all True for the current generation."""
        return self.current and all(self.is_true(t) for t in ("Ready", "Connected", "Synced"))

    def node(self, ordinal: int) -> NodeStatus | None:
        return next((n for n in self.nodes if n.ordinal == ordinal), None)

    def describe(self) -> str:
        """One line for failure messages."""
        conds = ", ".join(f"{c.type}={c.status}({c.reason})" for c in self.conditions.values())
        nodes = ", ".join(
            f"{n.ordinal}:{'R' if n.ready else '-'}@{n.ip or '?'}/h{n.blocks}/p{n.peers}" for n in self.nodes
        )
        return f"gen {self.generation}/obs {self.observed_generation} [{conds}] nodes [{nodes}]"


def parse_network(obj: dict[str, Any]) -> NetworkStatus:
    """:class:`NetworkStatus` from a BitcoinNetwork dict."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    nodes = tuple(
        NodeStatus(
            ordinal=int(n.get("ordinal", -1)),
            ready=bool(n.get("ready")),
            ip=n.get("ip") or "",
            pod_name=n.get("podName") or n.get("nodeName") or "",
            dns_name=n.get("dnsName") or "",
            blocks=n.get("blocks"),
            best_block_hash=n.get("bestBlockHash"),
            peers=n.get("peers"),
        )
        for n in status.get("nodes") or []
    )
    conditions = {
        c["type"]: Condition(
            type=c["type"],
            status=c.get("status", ""),
            reason=c.get("reason", ""),
            message=c.get("message", ""),
            observed_generation=c.get("observedGeneration"),
        )
        for c in status.get("conditions") or []
    }
    return NetworkStatus(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", ""),
        generation=int(meta.get("generation") or 0),
        observed_generation=status.get("observedGeneration"),
        ready_nodes=int(status.get("readyNodes") or 0),
        best_height=int(status.get("bestHeight") or 0),
        nodes=nodes,
        conditions=conditions,
        rpc_certificate=status.get("rpcCertificate"),
        raw=obj,
    )


def read_network(client: Clientset, namespace: str, name: str) -> NetworkStatus:
    """GET the network and return its status typed (raises NotFoundError when it is gone)."""
    return parse_network(client.bitcoincontroller_v1().bitcoin_networks(namespace).get(name))


def list_names(client: Clientset, resource: str, namespace: str) -> list[str]:
    """Names of the objects of ``resource`` (``statefulsets``, ``services``, ``secrets``, ``pods``)."""
    core, apps = client.core_v1(), client.apps_v1()
    lister = {
        "statefulsets": lambda: apps.stateful_sets(namespace),
        "services": lambda: core.services(namespace),
        "secrets": lambda: core.secrets(namespace),
        "pods": lambda: core.pods(namespace),
    }[resource]()
    return sorted(item["metadata"]["name"] for item in lister.list()["items"])


def events_for(client: Clientset, namespace: str, name: str) -> list[dict[str, Any]]:
    """Events whose involved object is named ``name`` in ``namespace``."""
    opts = ListOptions(field_selector=f"involvedObject.name={name}")
    return client.core_v1().events(namespace).list(opts)["items"]


# --------------------------------------------------------------------------- our own RPC


class NetworkRPC:
    """Talks to a network's nodes with our own :class:`BitcoinClient` -- not via the controller.

    Each call resolves afresh: the pod's current IP from the pod
    (``<network>-sts-<ordinal>``), the credentials from the Secret the
    network names (read with admin rights), and the certificate to pin from
    ``status.rpcCertificate`` (btcd).  A node whose pod was re-created is
    therefore reached at its new address.
    """

    def __init__(self, client: Clientset, namespace: str, network: str, read_timeout: float = 10.0) -> None:
        self.client = client
        self.namespace = namespace
        self.network = network
        self._read_timeout = read_timeout

    def _network(self) -> dict[str, Any]:
        return self.client.bitcoincontroller_v1().bitcoin_networks(self.namespace).get(self.network)

    def pod_ip(self, ordinal: int) -> str:
        pod = self.client.core_v1().pods(self.namespace).get(f"{self.network}-sts-{ordinal}")
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            raise AssertionError(f"pod {self.network}-sts-{ordinal} has no IP yet")
        return ip

    def _credentials(self, secret_name: str) -> tuple[str, str]:
        data = self.client.core_v1().secrets(self.namespace).get(secret_name).get("data") or {}
        return (
            base64.b64decode(data["BC_RPC_USER"]).decode(),
            base64.b64decode(data["BC_RPC_PASSWORD"]).decode(),
        )

    def session(self, ordinal: int, ip: str | None = None) -> tuple[BitcoinClient, Config]:
        """A client and config for node ``ordinal`` (at ``ip`` if given, else the pod's IP now)."""
        network = self._network()
        spec = network.get("spec") or {}
        impl = get_implementation(spec.get("implementation") or "bitcoind")
        user, password = self._credentials(spec.get("secret") or DEFAULT_SECRET)
        tls = None
        if impl.uses_tls:
            pem = (network.get("status") or {}).get("rpcCertificate")
            if not pem:
                raise AssertionError(f"{self.network} has no rpcCertificate in its status yet")
            tls = TLSConfig(pem)
        config = Config(ip or self.pod_ip(ordinal), impl.rpc_port, user, password, tls)
        client = BitcoinClient(dialect=Dialect(impl.rpc_dialect), connect_timeout=2.0, read_timeout=self._read_timeout)
        return client, config

    def call(self, ordinal: int, method: str, *params: Any) -> Any:
        """One raw JSON-RPC call on node ``ordinal``."""
        client, config = self.session(ordinal)
        return client.raw_request(method, list(params), config)

    def height(self, ordinal: int) -> int:
        client, config = self.session(ordinal)
        return client.get_block_count(config)

    def best_block_hash(self, ordinal: int) -> str:
        client, config = self.session(ordinal)
        return client.get_blockchain_info(config).best_block_hash

    def added_nodes(self, ordinal: int) -> set[str]:
        """The peers the controller made the node dial, as ``ip:port`` strings.

        Bitcoin Core: its added-node list (``getaddednodeinfo``).  btcd: its
        outbound connections (``getpeerinfo``), because the controller dials
        btcd peers with ``addnode onetry`` -- an ``addnode add`` entry would be
        redialled forever after its pod is gone (see controller/rpc.py).
        """
        client, config = self.session(ordinal)
        if client.dialect is Dialect.BTCD:
            return {p.address for p in client.get_peer_info(config) if not p.inbound}
        return {n.address for n in client.get_added_node_info(config)}

    def peer_addresses(self, ordinal: int) -> set[str]:
        """Addresses of the node's connected peers (``getpeerinfo``)."""
        client, config = self.session(ordinal)
        return {p.address for p in client.get_peer_info(config)}

    def mine(self, ordinal: int, blocks: int) -> list[str]:
        """Mine ``blocks`` blocks on node ``ordinal`` (btcd pays its ``--miningaddr``)."""
        client, config = self.session(ordinal)
        return client.generate(blocks, REGTEST_MINING_ADDRESS, config=config)

    def p2p_address(self, ordinal: int) -> str:
        return f"{self.pod_ip(ordinal)}:{P2P_PORT}"


# --------------------------------------------------------------------------- the controller process


def json_log_records(text: str) -> list[dict[str, Any]]:
    """The JSON lines of a controller's output, decoded (other lines are skipped)."""
    records = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                pass
    return records


class ControllerProcess:
    """The ``bitcoin-controller`` command as a child process, acting as its ServiceAccount.

    Output (JSON log lines on stdout and stderr) is appended to
    ``log_path``, one file across restarts, so a failing test can show the
    whole story.  Ports for ``/metrics`` and ``/healthz``/``/readyz`` are
    chosen free at each start.
    """

    def __init__(
        self,
        kubeconfig: str,
        log_path: Path,
        *,
        resync_period: str = "5s",
        impersonate: str | None = SERVICE_ACCOUNT,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = Path(log_path)
        self.resync_period = resync_period
        self.impersonate = impersonate
        self.extra_args = tuple(extra_args)
        self.proc: subprocess.Popen | None = None
        self.metrics_port = 0
        self.health_port = 0
        self.starts = 0

    def argv(self) -> list[str]:
        argv = [
            str(CONTROLLER_BIN),
            "--kubeconfig", self.kubeconfig,
            "--log-format", "json",
            "--resync-period", self.resync_period,
            "--metrics-bind-address", f"127.0.0.1:{self.metrics_port}",
            "--health-probe-bind-address", f"127.0.0.1:{self.health_port}",
        ]
        if self.impersonate:
            argv += ["--impersonate", self.impersonate]
        return argv + list(self.extra_args)

    def start(self, wait_ready: bool = True, timeout: float = 60) -> ControllerProcess:
        """Start the process; with ``wait_ready`` wait until ``/readyz`` says the caches synced."""
        if self.running:
            raise RuntimeError("the controller is already running")
        self.metrics_port, self.health_port = free_port(), free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start #{self.starts}: {' '.join(self.argv())}\n".encode())
            log.flush()
            # Its own session: a Ctrl-C on pytest must not reach it before the fixture stops it.
            self.proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        if wait_ready:
            self.wait_ready(timeout)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def _get(self, port: int, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def readyz(self) -> tuple[int, str]:
        return self._get(self.health_port, "/readyz")

    def healthz(self) -> tuple[int, str]:
        return self._get(self.health_port, "/healthz")

    def metrics(self) -> str:
        return self._get(self.metrics_port, "/metrics")[1]

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            if not self.running:
                raise RuntimeError(f"the controller exited with {self.returncode}:\n{self.tail()}")
            return self.readyz()[0] == 200

        try:
            wait_for(ready, timeout, 0.2, "the controller's /readyz")
        except AssertionError as err:
            raise AssertionError(f"{err}\n--- controller log tail:\n{self.tail()}") from None

    def stop(self, timeout: float = 40) -> int | None:
        """SIGTERM and wait for the exit (SIGKILL after ``timeout``); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> int | None:
        """SIGKILL (no drain, no lease release, no event flush) and reap; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        return self.proc.returncode

    def restart(self, wait_ready: bool = True, timeout: float = 60) -> ControllerProcess:
        """Stop gracefully (if running) and start again."""
        self.stop()
        return self.start(wait_ready=wait_ready, timeout=timeout)

    def logs(self) -> str:
        """Everything the process wrote so far (all starts)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines, decoded (other lines are skipped)."""
        return json_log_records(self.logs())

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    def __enter__(self) -> ControllerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def crd_and_rbac(kubeconfig: str) -> str:
    """The CRD (Established) and the controller's RBAC, installed once per session."""
    install_crd_and_rbac(kubeconfig)
    return kubeconfig


@pytest.fixture(scope="session")
def admin_client(kubeconfig: str) -> Clientset:
    """Our clientset with admin rights: how tests look at (and poke) the cluster."""
    return new_admin_clientset(kubeconfig)


def runs_in_cluster(cluster: Any) -> bool:
    """True where the controller runs as a Pod from the Helm chart: the real-node backend
    of the local cluster (a kwok node cannot run the controller's image)."""
    if os.environ.get("BITCOIN_CONTROLLER_E2E_PROCESS"):
        return False
    return cluster.local is not None and cluster.local.backend == "node"


@pytest.fixture(scope="module")
def controller(
    crd_and_rbac: str, cluster: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerProcess]:
    """One controller for the whole module (``--resync-period 5s``), stopped at the end.

    On the real node it is the chart's Deployment (:class:`incluster.ControllerPod`,
    same interface), elsewhere a process acting as its ServiceAccount. A test that stops
    or kills it should start it again before it ends; the module's own tests can also
    depend on a fixture that checks ``running``.
    """
    log_path = tmp_path_factory.mktemp("controller") / "controller.log"
    if runs_in_cluster(cluster):
        from incluster import ControllerPod

        pod = ControllerPod(crd_and_rbac, log_path, cluster.local.images)
        pod.start()
        try:
            yield pod  # type: ignore[misc]
        finally:
            pod.uninstall()
        return
    proc = ControllerProcess(crd_and_rbac, log_path)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def controller_factory(
    crd_and_rbac: str, tmp_path: Path
) -> Iterator[Callable[..., ControllerProcess]]:
    """Start extra controller processes (same arguments as :class:`ControllerProcess`); all stopped at teardown."""
    started: list[ControllerProcess] = []

    def make(*, start: bool = True, **kwargs: Any) -> ControllerProcess:
        proc = ControllerProcess(crd_and_rbac, tmp_path / f"controller-{len(started)}.log", **kwargs)
        started.append(proc)
        if start:
            proc.start()
        return proc

    try:
        yield make
    finally:
        for proc in started:
            proc.stop()
