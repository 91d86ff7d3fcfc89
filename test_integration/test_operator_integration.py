"""The controller *process* as an operator runs it: metrics, health, logs, leader election, RBAC.

Each test starts the real ``bitcoin-controller`` command (through
:class:`controller_harness.ControllerProcess`: a subprocess acting as its
ServiceAccount by impersonation, JSON logs captured to a file) against the
local cluster and looks at it only from the outside, the way an operator
would: HTTP scrapes of ``/metrics``, ``/healthz`` and ``/readyz``, its log
lines, its exit code, the Lease it holds, the Events it writes -- and the
bitcoin daemons themselves through our own RPC calls.

Every controller here watches only its test's namespace (``--namespace``),
so processes of different tests never reconcile each other's networks.  The
leader-election Lease, though, is one object for the whole cluster
(``bitcoin-controller/bitcoin-controller``, the only name the RBAC allows),
so the tests that elect clear it first and release it at the end.

Leader election runs with the process's fixed periods (15 s lease, 10 s
renew deadline, 2 s retry; no flags change them), so a failover after a
SIGKILL takes up to about 15 s + one retry; a SIGTERM hands the lease over
within a retry.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import controller_harness as harness
import pytest
from controller_harness import (
    CONTROLLER_BIN,
    DEFAULT_SECRET,
    SERVICE_ACCOUNT,
    ControllerProcess,
    NetworkRPC,
    create_credentials_secret,
    create_network,
    events_for,
    new_admin_clientset,
    read_network,
    wait_for,
)
from prometheus_client.parser import text_string_to_metric_families

from bitcoin_controller.apimachinery import errors
from bitcoin_controller.apimachinery.metav1 import ListOptions
from bitcoin_controller.clientgo.kubernetes import Clientset
from bitcoin_controller.clientgo.tools.clientcmd import build_config_from_kubeconfig
from bitcoin_controller.cmd import options

# The harness's fixtures, bound here so that pytest finds them in this module.
crd_and_rbac = harness.crd_and_rbac
admin_client = harness.admin_client
controller_factory = harness.controller_factory

LEASE_NAMESPACE = "bitcoin-controller"
LEASE_NAME = "bitcoin-controller"
#: The process's fixed leader-election periods (cmd/app.py).
LEASE_DURATION = 15.0
RETRY_PERIOD = 2.0
#: A failover after SIGKILL: the lease must expire, then the standby's next
#: retry (jittered up to 1.2x) takes it; the margin covers API latency.
FAILOVER_DEADLINE = LEASE_DURATION + 2 * 1.2 * RETRY_PERIOD + 15.0
#: A hand-over after SIGTERM needs only the standby's next retry; well under
#: the lease duration, which is what shows the lease was released, not expired.
HANDOVER_DEADLINE = 10.0
CONVERGE_TIMEOUT = 60.0

NETWORK = "net"
FORBIDDEN_SECRET = "team-a-rpc"


# --------------------------------------------------------------------------- helpers


def _password() -> str:
    """A password nobody else uses, so finding it anywhere is proof of a leak."""
    return f"op-pw-{uuid.uuid4().hex}"


def _leaks(text: str, password: str) -> list[str]:
    """The forms of ``password`` (plain, base64) that occur in ``text``."""
    forms = {"plain": password, "base64": base64.b64encode(password.encode()).decode()}
    return [name for name, form in forms.items() if form in text]


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A Prometheus text scrape as ``{(sample name, sorted labels): value}``."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def metric_types(text: str) -> dict[str, str]:
    """``{family name: type}`` of a scrape (prometheus_client strips ``_total`` from counter families)."""
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def sample(text: str, metric: str, /, **labels: str) -> float | None:
    """The value of one series in a scrape, or None when the series is absent."""
    return parse_metrics(text).get((metric, tuple(sorted(labels.items()))))


def http_get(host: str, port: int, path: str) -> tuple[int, str]:
    """GET ``http://host:port/path`` -> (status, body); HTTP errors are answers, not exceptions."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def connection_refused(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (a listener bound elsewhere does not count)."""
    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect((host, port))
        except ConnectionRefusedError:
            return True
    return False


def records(proc: ControllerProcess) -> list[dict[str, Any]]:
    return proc.log_records()


def identity(proc: ControllerProcess) -> str:
    """The process's leader-election identity, from its start-up log line."""

    def started() -> str | None:
        for rec in records(proc):
            if rec.get("event") == "bitcoin-controller starting":
                return rec["identity"]
        return None

    return wait_for(started, 30, 0.1, "the start-up log line")


def lease_spec(client: Clientset) -> dict[str, Any]:
    return client.coordination_v1().leases(LEASE_NAMESPACE).get(LEASE_NAME).get("spec") or {}


def holder(client: Clientset) -> str:
    try:
        return lease_spec(client).get("holderIdentity") or ""
    except errors.NotFoundError:
        return ""


def delete_lease(client: Clientset) -> None:
    try:
        client.coordination_v1().leases(LEASE_NAMESPACE).delete(LEASE_NAME)
    except errors.NotFoundError:
        pass


def service_account_clientset(kubeconfig: str) -> Clientset:
    """Our clientset acting as the controller's ServiceAccount (admin impersonates it)."""
    config = build_config_from_kubeconfig(kubeconfig).copy(
        timeout=30.0, connect_timeout=5.0, impersonate_user=SERVICE_ACCOUNT
    )
    return Clientset(config)


def wait_converged(client: Clientset, namespace: str, name: str, nodes: int, timeout: float = CONVERGE_TIMEOUT):
    def done():
        status = read_network(client, namespace, name)
        assert status.converged and status.ready_nodes == nodes, status.describe()
        return status

    return wait_for(done, timeout, 0.25, f"{namespace}/{name} to converge with {nodes} node(s)")


def about_network(rec: dict[str, Any], namespace: str, name: str) -> bool:
    """Whether a log line is about the network ``namespace/name`` (any field naming it)."""
    key = f"{namespace}/{name}"
    return any(value == key for value in rec.values()) or (
        rec.get("namespace") == namespace and rec.get("network") == name
    )


def event_hosts(client: Clientset, namespace: str, name: str, reason: str | None = None) -> set[str]:
    """The ``source.host`` of the Events about one network: who wrote them."""
    return {
        (e.get("source") or {}).get("host", "")
        for e in events_for(client, namespace, name)
        if reason is None or e.get("reason") == reason
    }


class LeaseWatch:
    """Records every version of the election Lease through a watch, so a short-lived
    state (the empty holder a released lease has until the standby's next retry) cannot
    slip between two polls."""

    def __init__(self, client: Clientset) -> None:
        leases = client.coordination_v1().leases(LEASE_NAMESPACE)
        current = leases.get(LEASE_NAME)
        self.specs: list[dict[str, Any]] = [current.get("spec") or {}]
        self._cond = threading.Condition()
        self._watch = leases.watch(
            ListOptions(
                field_selector=f"metadata.name={LEASE_NAME}",
                resource_version=current["metadata"]["resourceVersion"],
            )
        )
        self._thread = threading.Thread(target=self._run, name="lease-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for event in self._watch:
            with self._cond:
                self.specs.append((event.get("object") or {}).get("spec") or {})
                self._cond.notify_all()

    def wait(self, pred: Callable[[list[dict[str, Any]]], Any], timeout: float, what: str) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: pred(self.specs), timeout):
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; lease specs seen: {self.specs}")
            return pred(self.specs)

    def stop(self) -> None:
        self._watch.stop()
        self._thread.join(10)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def fresh_lease(admin_client: Clientset) -> Iterator[None]:
    """No election Lease before the test (a killed holder from an earlier run would
    otherwise make the first candidate wait out its 15 s), and none left after it.

    Request it first, so that it is torn down last: after the test's processes
    have stopped (and released the Lease they may hold)."""
    delete_lease(admin_client)
    yield
    delete_lease(admin_client)


def _start_replica(controller_factory, namespace: str) -> ControllerProcess:
    return controller_factory(extra_args=("--namespace", namespace, "--leader-elect"))


class Operated:
    """The module's running system: one controller (as its ServiceAccount, watching one
    namespace) and a converged 2-node btcd network with a few blocks mined."""

    def __init__(self, client: Clientset, namespace: str, proc: ControllerProcess, password: str) -> None:
        self.client = client
        self.namespace = namespace
        self.proc = proc
        self.password = password
        self.rpc = NetworkRPC(client, namespace, NETWORK)


@pytest.fixture(scope="module")
def operated(crd_and_rbac: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operated]:
    client = new_admin_clientset(crd_and_rbac)
    namespace = f"operator-it-{uuid.uuid4().hex[:6]}"
    client.core_v1().namespaces().create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    password = _password()
    proc = ControllerProcess(
        crd_and_rbac,
        tmp_path_factory.mktemp("operated") / "controller.log",
        extra_args=("--namespace", namespace),
    )
    try:
        create_credentials_secret(client, namespace, password=password)
        proc.start()
        create_network(client, namespace, NETWORK, 2)
        wait_converged(client, namespace, NETWORK, 2)
        system = Operated(client, namespace, proc, password)
        system.rpc.mine(0, 3)
        for ordinal in (0, 1):
            wait_for(lambda o=ordinal: system.rpc.height(o) == 3, 30, 0.25, f"node {ordinal} at height 3")
        yield system
    finally:
        proc.stop()
        try:
            client.core_v1().namespaces().delete(namespace)
        except errors.NotFoundError:
            pass


# --------------------------------------------------------------------------- flags and environment


def test_help_documents_every_flag_with_its_default_integration():
    # A wide terminal, so argparse does not wrap (it breaks lines at hyphens, too).
    env = {**os.environ, "COLUMNS": "400"}
    env = {k: v for k, v in env.items() if not k.startswith(options.ENV_PREFIX)}
    out = subprocess.run([str(CONTROLLER_BIN), "--help"], capture_output=True, text=True, env=env,
                         timeout=60, check=True).stdout

    entries = dict(re.findall(r"^  (--[a-z-]+)(?: \S+)?\s+(.*)$", out, re.MULTILINE))
    expected_defaults = {
        "--workers": "4",
        "--resync-period": "30s",
        "--leader-elect": "False",
        "--leader-election-id": "bitcoin-controller",
        "--leader-elect-lease-duration": "15s",
        "--leader-elect-renew-deadline": "10s",
        "--leader-elect-retry-period": "2s",
        "--metrics-bind-address": ":8080",
        "--health-probe-bind-address": ":8081",
        "--log-format": "auto",
        "--log-level": "info",
        "--default-image-bitcoind": "docker.io/bitcoin/bitcoin:30.2",
        "--default-image-btcd": "ghcr.io/bitcoin-controller/btcd:v0.24.2",
        "--rpc-call-timeout": "15s",
        "--rpc-max-reply-bytes": "4194304",
        "--mesh-timeout": "30s",
        "--debug": "False",
    }
    described_defaults = ("--kubeconfig", "--namespace", "--leader-election-namespace", "--impersonate")
    flags = [flag for flag, *_ in options._FLAGS]
    assert sorted(entries) == sorted(flags), out
    for flag in flags:
        text = entries[flag]
        assert f"[env {options.ENV_PREFIX}{flag[2:].replace('-', '_').upper()}]" in text, text
        if flag in expected_defaults:
            assert text.endswith(f"(default: {expected_defaults[flag]})"), text
        else:
            assert flag in described_defaults
            # the sentence says what happens without the flag; no empty "(default: )"
            assert re.search(r"\(default: \w[^)]*\)|default: \w", text), text
    assert "(default: )" not in out and "(default: None)" not in out


@pytest.mark.timeout(120)
def test_environment_variables_configure_the_process_integration(controller_factory, namespace, monkeypatch):
    monkeypatch.setenv("BITCOIN_CONTROLLER_WORKERS", "3")
    monkeypatch.setenv("BITCOIN_CONTROLLER_NAMESPACE", namespace)
    # The harness passes --log-format json: the command line beats the environment.
    monkeypatch.setenv("BITCOIN_CONTROLLER_LOG_FORMAT", "console")

    proc = controller_factory()

    lines = records(proc)
    starting = next(r for r in lines if r.get("event") == "bitcoin-controller starting")
    assert (starting["workers"], starting["namespace"], starting["leader_elect"]) == (3, namespace, False)
    assert next(r for r in lines if r.get("event") == "starting controller")["workers"] == 3
    assert proc.stop() == 0, proc.tail()
    assert any(r.get("event") == "bitcoin-controller stopped" for r in records(proc))


# --------------------------------------------------------------------------- health endpoints


@pytest.mark.timeout(120)
def test_start_up_refuses_missing_rights_and_endpoints_bind_where_configured_integration(
    controller_factory, namespace
):
    # An identity without any rights: the start-up check refuses at once, with the exit
    # code for 403 and a line naming the permission to grant (not reflector errors forever).
    nobody = controller_factory(
        start=False,
        impersonate=f"system:serviceaccount:{namespace}:nobody",
        extra_args=("--namespace", namespace),
    )
    nobody.start(wait_ready=False)
    wait_for(lambda: nobody.returncode is not None, 60, 0.1, "the controller without rights to exit")
    assert nobody.returncode == 9, nobody.tail()
    assert "kubectl auth can-i list" in nobody.logs(), nobody.tail()

    # With its rights: each endpoint on its own listener, bound to the configured address only.
    proc = controller_factory(extra_args=("--namespace", namespace))
    assert proc.readyz() == (200, "ok\n")
    assert proc.healthz() == (200, "ok\n")
    metrics_port, health_port = proc.metrics_port, proc.health_port
    assert http_get("127.0.0.1", metrics_port, "/metrics")[0] == 200
    assert http_get("127.0.0.1", metrics_port, "/healthz")[0] == 404
    assert http_get("127.0.0.1", health_port, "/metrics")[0] == 404
    for port in (metrics_port, health_port):
        assert connection_refused("127.0.0.2", port), f"port {port} answers on 127.0.0.2: bound to a wildcard?"
    assert proc.stop() == 0, proc.tail()


@pytest.mark.timeout(60)
def test_health_endpoints_answer_while_working_integration(operated):
    assert operated.proc.healthz() == (200, "ok\n")
    assert operated.proc.readyz() == (200, "ok\n")


# --------------------------------------------------------------------------- metrics


@pytest.mark.timeout(120)
def test_metrics_cover_queue_reflectors_syncs_rpc_and_the_network_integration(operated):
    ns, proc = operated.namespace, operated.proc
    height = operated.rpc.height(0)
    assert height == operated.rpc.height(1) == 3

    # The gauges follow the network as its status does (a resync every 5 s).
    def gauges() -> tuple:
        text = proc.metrics()
        return tuple(sample(text, f"bitcoin_network_{g}", namespace=ns, network=NETWORK)
                     for g in ("nodes_desired", "nodes_ready", "best_height"))

    wait_for(lambda: gauges() == (2.0, 2.0, float(height)), 30, 0.25,
             f"desired/ready/best_height gauges = 2/2/{height}")

    text = proc.metrics()
    queue = {"name": "bitcoinnetworks"}
    # client-go's workqueue metric names and types.
    assert sample(text, "workqueue_adds_total", **queue) >= 1
    assert sample(text, "workqueue_depth", **queue) is not None
    assert sample(text, "workqueue_queue_duration_seconds_count", **queue) >= 1
    assert sample(text, "workqueue_work_duration_seconds_count", **queue) >= 1
    for name in ("workqueue_retries_total", "workqueue_unfinished_work_seconds",
                 "workqueue_longest_running_processor_seconds"):
        assert sample(text, name, **queue) is not None, name
    types = metric_types(text)
    assert types["workqueue_adds"] == "counter" and types["workqueue_depth"] == "gauge"
    assert types["workqueue_queue_duration_seconds"] == types["workqueue_work_duration_seconds"] == "histogram"

    # One reflector per informer, each listed once and watching.
    for informer in ("bitcoinnetworks.bitcoincontroller.dev", "statefulsets.apps", "services", "pods"):
        assert sample(text, "reflector_lists_total", name=informer) >= 1, informer
        assert sample(text, "reflector_watches_total", name=informer) >= 1, informer
    assert sample(text, "reflector_events_total", name="pods") >= 2  # the two node pods at least

    # The controller's own metrics and the RPC client's.
    assert sample(text, "bitcoin_controller_syncs_total", result="success") >= 1
    assert sample(text, "bitcoin_controller_sync_duration_seconds_count", result="success") >= 1
    assert types["bitcoin_controller_sync_duration_seconds"] == "histogram"
    # A btcd network: its added list is read with getpeerinfo, peers dialled with addnode onetry.
    for method in ("getblockchaininfo", "getpeerinfo", "addnode"):
        assert sample(text, "bitcoin_rpc_request_duration_seconds_count", method=method) >= 1, method

    # Without --leader-elect there is no election to report.
    assert not any(name.startswith("leader_election_master_status") for name, _ in parse_metrics(text))
    assert _leaks(text, operated.password) == []


@pytest.mark.timeout(120)
def test_network_gauges_disappear_with_the_network_integration(operated):
    ns, proc, client = operated.namespace, operated.proc, operated.client
    create_network(client, ns, "short-lived", 1)
    wait_for(lambda: sample(proc.metrics(), "bitcoin_network_nodes_ready", namespace=ns, network="short-lived") == 1,
             CONVERGE_TIMEOUT, 0.25, "the short-lived network's ready gauge = 1")

    client.bitcoincontroller_v1().bitcoin_networks(ns).delete("short-lived")

    def gone() -> bool:
        return not any(("network", "short-lived") in labels for _, labels in parse_metrics(proc.metrics()))

    wait_for(gone, 30, 0.25, "every series of the deleted network to disappear")
    assert sample(proc.metrics(), "bitcoin_network_nodes_ready", namespace=ns, network=NETWORK) == 2


# --------------------------------------------------------------------------- structured logs


@pytest.mark.timeout(60)
def test_json_logs_name_the_network_and_never_the_password_integration(operated):
    ns, proc = operated.namespace, operated.proc
    raw = proc.logs()
    assert _leaks(raw, operated.password) == []

    lines = [line for line in raw.splitlines() if line and not line.startswith("--- start #")]
    parsed = proc.log_records()
    assert len(parsed) == len(lines), [line for line in lines if not line.startswith("{")][:5]
    for rec in parsed:
        assert {"event", "level", "timestamp"} <= rec.keys(), rec

    mine = [rec for rec in parsed if about_network(rec, ns, NETWORK)]
    reasons = {rec.get("reason") for rec in mine}
    assert {"ServiceCreated", "StatefulSetCreated", "Synced"} <= reasons, reasons
    for rec in mine:
        assert (rec.get("namespace"), rec.get("network"), rec.get("key")) == (ns, NETWORK, f"{ns}/{NETWORK}"), rec


# --------------------------------------------------------------------------- RBAC


@pytest.mark.timeout(60)
def test_the_service_accounts_rbac_is_sufficient_integration(operated):
    # The module's controller acts as the ServiceAccount and nothing else...
    argv = operated.proc.argv()
    assert argv[argv.index("--impersonate") + 1] == SERVICE_ACCOUNT
    # ...and with that it converged a network: Service, StatefulSet, TLS Secret, status, events.
    status = read_network(operated.client, operated.namespace, NETWORK)
    assert status.converged and status.ready_nodes == 2, status.describe()
    assert status.rpc_certificate, "the TLS Secret was created and its certificate recorded"
    reasons = {e.get("reason") for e in events_for(operated.client, operated.namespace, NETWORK)}
    assert {"ServiceCreated", "TLSSecretCreated", "StatefulSetCreated", "PeersAdded", "Synced"} <= reasons, reasons
    forbidden = [r for r in records(operated.proc) if "forbidden" in str(r.get("event", "")).lower()
                 and r.get("key") == f"{operated.namespace}/{NETWORK}"]
    assert forbidden == [], forbidden


@pytest.mark.timeout(60)
def test_service_account_may_read_only_the_allowed_credential_secret_integration(operated, crd_and_rbac):
    ns, admin = operated.namespace, operated.client
    create_credentials_secret(admin, ns, name="not-for-the-controller", password=_password())
    as_sa = service_account_clientset(crd_and_rbac)
    secrets = as_sa.core_v1().secrets(ns)

    with pytest.raises(errors.ForbiddenError) as listing:
        secrets.list()
    assert 'cannot list resource "secrets"' in str(listing.value)
    with pytest.raises(errors.ForbiddenError):
        as_sa.core_v1().secrets("").list()  # all namespaces
    with pytest.raises(errors.ForbiddenError):
        secrets.watch(ListOptions())
    with pytest.raises(errors.ForbiddenError):
        secrets.get("not-for-the-controller")

    allowed = secrets.get(DEFAULT_SECRET)
    assert base64.b64decode(allowed["data"]["BC_RPC_PASSWORD"]).decode() == operated.password
    # The credential cache's single-object list (and watch): resourceNames allows
    # them only with the metadata.name field selector, and only for that name.
    named = secrets.list(ListOptions(field_selector=f"metadata.name={DEFAULT_SECRET}"))
    assert [s["metadata"]["name"] for s in named["items"]] == [DEFAULT_SECRET]
    with pytest.raises(errors.ForbiddenError):
        secrets.list(ListOptions(field_selector="metadata.name=not-for-the-controller"))

    # The rest of what it may not do, so "minimal" is checked and not only claimed.
    with pytest.raises(errors.ForbiddenError):
        as_sa.core_v1().config_maps(ns).list()
    network = as_sa.bitcoincontroller_v1().bitcoin_networks(ns).get(NETWORK)  # get: allowed
    network["spec"]["nodes"] = 5
    with pytest.raises(errors.ForbiddenError):
        as_sa.bitcoincontroller_v1().bitcoin_networks(ns).update(network)
    with pytest.raises(errors.ForbiddenError):
        as_sa.bitcoincontroller_v1().bitcoin_networks(ns).delete(NETWORK)
    with pytest.raises(errors.ForbiddenError):
        as_sa.coordination_v1().leases(ns).create(
            {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "x"}, "spec": {}}
        )
    with pytest.raises(errors.ForbiddenError):
        as_sa.core_v1().pods(ns).delete(f"{NETWORK}-sts-0")


def _denied_create(admin: Clientset, as_sa: Clientset, secret: dict[str, Any]) -> errors.ForbiddenError:
    """Create ``secret`` as the ServiceAccount and return the refusal.

    An admission policy takes effect a moment after it is created, so a create
    that slips through (cleaned up at once by the admin) is retried briefly; a
    policy that never denies fails the test.
    """
    ns = secret["metadata"]["namespace"]

    def attempt() -> errors.ForbiddenError | None:
        try:
            as_sa.core_v1().secrets(ns).create(secret)
        except errors.ForbiddenError as err:
            return err
        admin.core_v1().secrets(ns).delete(secret["metadata"]["name"])
        return None

    what = f"the create of {secret['type']} Secret {secret['metadata']['name']} to be denied"
    return wait_for(attempt, 15, 0.5, what)


@pytest.mark.timeout(120)
def test_service_account_cannot_create_or_read_a_token_secret_integration(operated, crd_and_rbac):
    # The path RBAC alone left open: "get bitcoin-default-secret in every
    # namespace" + "create Secrets anywhere" = create a ServiceAccount-token
    # Secret under that name and read the minted token back.  The controller
    # itself converged a btcd network with its TLS Secret under the same rules
    # (test_the_service_accounts_rbac_is_sufficient_integration).
    ns, admin = operated.namespace, operated.client
    as_sa = service_account_clientset(crd_and_rbac)
    tls_secret = admin.core_v1().secrets(ns).get(f"{NETWORK}-rpc-tls")
    assert tls_secret["type"] == "kubernetes.io/tls"  # created by the controller, as itself

    def secret(namespace: str, name: str, type_: str, **meta: Any) -> dict[str, Any]:
        obj = {"apiVersion": "v1", "kind": "Secret", "type": type_,
               "metadata": {"name": name, "namespace": namespace, **meta}}
        if type_ == "kubernetes.io/tls":  # else the API server's validation refuses it first
            obj["data"] = {"tls.crt": base64.b64encode(b"x").decode(), "tls.key": base64.b64encode(b"x").decode()}
        return obj

    token_annotation = {"kubernetes.io/service-account.name": "default"}
    for namespace in (ns, "kube-system"):
        denied = _denied_create(admin, as_sa, secret(
            namespace, DEFAULT_SECRET, "kubernetes.io/service-account-token", annotations=token_annotation))
        assert "kubernetes.io/tls" in str(denied)
    # Nor any other Secret it could read back: not under a readable name, not
    # without a BitcoinNetwork owning it, not of another type.
    assert "kubernetes.io/tls" in str(_denied_create(admin, as_sa, secret(ns, DEFAULT_SECRET, "Opaque")))
    assert "-rpc-tls" in str(_denied_create(admin, as_sa, secret(ns, DEFAULT_SECRET, "kubernetes.io/tls")))
    assert "BitcoinNetwork" in str(_denied_create(admin, as_sa, secret(ns, "x-rpc-tls", "kubernetes.io/tls")))

    # And a token Secret that exists (made by an admin) cannot be read.
    admin.core_v1().secrets(ns).create(secret(ns, "a-token", "kubernetes.io/service-account-token",
                                              annotations=token_annotation))
    wait_for(lambda: (admin.core_v1().secrets(ns).get("a-token").get("data") or {}).get("token"), 30, 0.25,
             "the token controller to fill the token Secret")
    with pytest.raises(errors.ForbiddenError):
        as_sa.core_v1().secrets(ns).get("a-token")
    with pytest.raises(errors.ForbiddenError):
        as_sa.core_v1().secrets(ns).get(tls_secret["metadata"]["name"])  # not even its own

    # The verbs dropped as unused stay dropped.
    with pytest.raises(errors.ForbiddenError):
        as_sa.apps_v1().stateful_sets(ns).get(f"{NETWORK}-sts")
    with pytest.raises(errors.ForbiddenError):
        as_sa.apps_v1().stateful_sets(ns).delete(f"{NETWORK}-sts")
    with pytest.raises(errors.ForbiddenError):
        as_sa.core_v1().services(ns).delete(f"{NETWORK}-svc")
    with pytest.raises(errors.ForbiddenError):
        as_sa.core_v1().pods(ns).get(f"{NETWORK}-sts-0")
    with pytest.raises(errors.ForbiddenError):
        as_sa.bitcoincontroller_v1().bitcoin_networks(ns).patch(
            NETWORK, {"status": {"message": "x"}}, subresource="status")


@pytest.mark.timeout(120)
def test_network_naming_a_forbidden_secret_is_told_how_to_allow_it_integration(operated):
    ns, admin, proc = operated.namespace, operated.client, operated.proc
    password = _password()
    create_credentials_secret(admin, ns, name=FORBIDDEN_SECRET, password=password)
    create_network(admin, ns, "forbidden", 1, secret=FORBIDDEN_SECRET)

    def reported():
        status = read_network(admin, ns, "forbidden")
        ready = status.condition("Ready")
        assert ready is not None and (ready.status, ready.reason) == ("False", "SecretForbidden"), status.describe()
        return ready

    ready = wait_for(reported, 30, 0.25, "condition Ready=False reason SecretForbidden")
    assert FORBIDDEN_SECRET in ready.message and "rbac.credentialSecretNames" in ready.message

    warnings = wait_for(
        lambda: [e for e in events_for(admin, ns, "forbidden") if e.get("reason") == "SecretForbidden"],
        30, 0.25, "a SecretForbidden event",
    )
    assert warnings[0]["type"] == "Warning"
    message = warnings[0]["message"]
    assert FORBIDDEN_SECRET in message and "RBAC allows" in message and "rbac.credentialSecretNames" in message

    # No StatefulSet is made with credentials the controller could not read.
    with pytest.raises(errors.NotFoundError):
        admin.apps_v1().stateful_sets(ns).get("forbidden-sts")

    # The retries are logged about the network, without its password.
    failures = wait_for(
        lambda: [r for r in records(proc) if r.get("event") == "sync failed; requeued with backoff"
                 and r.get("key") == f"{ns}/forbidden"],
        30, 0.25, "a 'sync failed' log line for the network",
    )
    assert (failures[0]["namespace"], failures[0]["network"]) == (ns, "forbidden")
    assert _leaks(proc.logs(), password) == []
    admin.bitcoincontroller_v1().bitcoin_networks(ns).delete("forbidden")


# --------------------------------------------------------------------------- leader election


@pytest.mark.timeout(240)
def test_two_replicas_one_leads_and_a_killed_leaders_scale_is_finished_integration(
    fresh_lease, admin_client, controller_factory, namespace
):
    create_credentials_secret(admin_client, namespace, password=_password())
    first = _start_replica(controller_factory, namespace)
    first_id = identity(first)
    wait_for(lambda: holder(admin_client) == first_id, 30, 0.2, "the first replica to take the lease")
    second = _start_replica(controller_factory, namespace)  # /readyz 200 as a standby, too
    second_id = identity(second)
    assert first_id != second_id

    create_network(admin_client, namespace, NETWORK, 1)
    wait_converged(admin_client, namespace, NETWORK, 1)

    # Exactly one is active: the lease, the leader gauge, the work done, who wrote the Events.
    assert holder(admin_client) == first_id
    leading, standing_by = first.metrics(), second.metrics()
    assert sample(leading, "leader_election_master_status", name=LEASE_NAME) == 1
    assert sample(standing_by, "leader_election_master_status", name=LEASE_NAME) == 0
    assert sample(leading, "bitcoin_controller_syncs_total", result="success") >= 1
    assert sample(standing_by, "workqueue_adds_total", name="bitcoinnetworks") == 0
    assert sample(standing_by, "bitcoin_controller_syncs_total", result="success") is None
    assert not any(name.startswith("reflector_lists") for name, _ in parse_metrics(standing_by)), \
        "a standby keeps no informers"
    assert not any(r.get("event") == "starting controller" for r in records(second))
    wait_for(lambda: event_hosts(admin_client, namespace, NETWORK, "Synced"), 30, 0.25, "a Synced event")
    assert event_hosts(admin_client, namespace, NETWORK) == {first_id}
    assert second.readyz() == (200, "ok\n") and first.readyz() == (200, "ok\n")

    # Scale, and kill the leader before it can finish: no drain, no release.
    network = admin_client.bitcoincontroller_v1().bitcoin_networks(namespace)
    network.patch(NETWORK, {"spec": {"nodes": 3}})
    killed_at = time.monotonic()
    assert first.kill() == -9

    wait_for(lambda: holder(admin_client) == second_id, FAILOVER_DEADLINE, 0.2,
             "the standby to take over the expired lease")
    took_over = time.monotonic() - killed_at
    print(f"failover after SIGKILL: the standby held the lease {took_over:.1f}s after the kill")
    # (the gauge is set just after the lease write the test saw)
    wait_for(lambda: sample(second.metrics(), "leader_election_master_status", name=LEASE_NAME) == 1, 10, 0.1,
             "the new leader's leader_election_master_status = 1")

    # The new leader finishes the scale: 3 ready nodes, every one peered with the others.
    status = wait_converged(admin_client, namespace, NETWORK, 3)
    rpc = NetworkRPC(admin_client, namespace, NETWORK)
    addresses = {i: rpc.p2p_address(i) for i in range(3)}
    for i in range(3):
        others = {a for j, a in addresses.items() if j != i}
        wait_for(lambda i=i, others=others: others <= rpc.added_nodes(i), 30, 0.25,
                 f"node {i} peered with {sorted(others)}")
    assert {n.ordinal for n in status.nodes if n.ready} == {0, 1, 2}
    # Events are posted in the background: wait for the new leader's word that it connected the new nodes.
    wait_for(lambda: second_id in event_hosts(admin_client, namespace, NETWORK, "PeersAdded"), 30, 0.25,
             "a PeersAdded event from the new leader")
    assert second.healthz() == (200, "ok\n")
    wait_for(lambda: second.readyz() == (200, "ok\n"), 30, 0.2, "the new leader's caches to sync")

    # Clean up: a SIGTERM releases the lease.
    assert second.stop() == 0, second.tail()
    assert holder(admin_client) == ""


@pytest.mark.timeout(180)
def test_sigterm_releases_the_lease_and_the_standby_takes_over_at_once_integration(
    fresh_lease, admin_client, controller_factory, namespace
):
    create_credentials_secret(admin_client, namespace, password=_password())
    first = _start_replica(controller_factory, namespace)
    first_id = identity(first)
    wait_for(lambda: holder(admin_client) == first_id, 30, 0.2, "the first replica to take the lease")
    second = _start_replica(controller_factory, namespace)
    second_id = identity(second)
    wait_for(lambda: any("attempting to acquire" in str(r.get("event")) for r in records(second)), 30, 0.1,
             "the standby to try for the lease")

    lease = LeaseWatch(admin_client)
    try:
        stopped_at = time.monotonic()
        assert first.stop() == 0, first.tail()
        # The leader wrote an empty holder on its way out...
        released = lease.wait(lambda specs: next((s for s in specs if not s.get("holderIdentity")), None),
                              HANDOVER_DEADLINE, "the lease to be released")
        assert released.get("leaseDurationSeconds") == 1
        # ...so the standby took it on its next retry, not after the 15 s lease duration.
        lease.wait(lambda specs: any(s.get("holderIdentity") == second_id for s in specs),
                   HANDOVER_DEADLINE, "the standby to take the released lease")
        print(f"hand-over after SIGTERM: {time.monotonic() - stopped_at:.1f}s")
    finally:
        lease.stop()
    assert not any("Failed to release" in str(r.get("event")) for r in records(first))
    wait_for(lambda: sample(second.metrics(), "leader_election_master_status", name=LEASE_NAME) == 1, 10, 0.1,
             "the new leader's leader_election_master_status = 1")

    # The new leader works: it converges a network.
    create_network(admin_client, namespace, NETWORK, 1)
    wait_converged(admin_client, namespace, NETWORK, 1)
    hosts = wait_for(lambda: event_hosts(admin_client, namespace, NETWORK, "Synced"), 30, 0.25, "a Synced event")
    assert hosts == {second_id} and event_hosts(admin_client, namespace, NETWORK) == {second_id}

    # The last replica's SIGTERM: exit 0 and the lease left free for whoever comes next.
    assert second.stop() == 0, second.tail()
    spec = lease_spec(admin_client)
    assert spec.get("holderIdentity", "") == "" and spec.get("leaseDurationSeconds") == 1, spec
    assert any(r.get("event") == "bitcoin-controller stopped" for r in records(second))
