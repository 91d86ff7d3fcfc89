"""Cluster fixtures for the integration tests.

Backends (``--cluster``):

* ``local`` (default): the local cluster from ``scripts/local-cluster`` (etcd,
  kube-apiserver, kube-controller-manager, kube-scheduler and a node: the real one —
  containerd, kubelet, kube-proxy — where it can run, else kwok and the pod runner that
  runs btcd pods as local processes; ``LOCAL_CLUSTER_BACKEND=node|kwok`` chooses).
  Brought up by the fixture if it isn't running and then torn down at the end of the
  session; a cluster that was already running (e.g. ``make cluster-up``) is used as is
  and left running.
* ``existing``: any cluster, given with ``--kubeconfig PATH`` (implies this backend).
* ``kind``: a throw-away kind cluster via pytest-kind (skipped when Docker or
  pytest-kind is not available).

Fixtures:

* ``cluster`` (session): a ``ClusterInfo`` with ``backend``, ``kubeconfig`` (path) and
  ``local`` (the ``LocalCluster`` object for the local backend, else None).
* ``kubeconfig`` (session): the kubeconfig path.
* ``local_cluster`` (session): the ``LocalCluster``; skips the test on other backends.
* ``kwok_cluster`` (session): the same, only on its kwok backend (pod runner specifics).
  It offers ``restart_apiserver()``, ``stop_apiserver()``/``start_apiserver()``,
  ``compact_etcd()``, ``etcd_revision()``, ``kube()`` and the paths of logs/state.
* ``k8s_api`` (session): a ``kubernetes.client.ApiClient`` for the cluster.
* ``namespace`` (function): a fresh namespace, deleted after the test.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from localcluster import ClusterError, LocalCluster  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cluster", "integration test cluster")
    group.addoption(
        "--cluster",
        choices=["local", "existing", "kind"],
        default=None,
        help="cluster backend for integration tests (default: local; "
        "--kubeconfig implies existing)",
    )
    group.addoption(
        "--kubeconfig",
        default=None,
        help="use the existing cluster of this kubeconfig",
    )


@dataclass
class ClusterInfo:
    backend: str
    kubeconfig: str
    local: LocalCluster | None = None


def _backend(config: pytest.Config) -> str:
    backend = config.getoption("--cluster")
    if backend is None:
        backend = "existing" if config.getoption("--kubeconfig") else "local"
    return backend


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[ClusterInfo]:
    backend = _backend(request.config)
    if backend == "existing":
        path = request.config.getoption("--kubeconfig") or os.environ.get("KUBECONFIG")
        if not path or not Path(path).exists():
            pytest.fail("--cluster existing needs --kubeconfig PATH (or KUBECONFIG)")
        yield ClusterInfo("existing", str(Path(path).resolve()))
        return
    if backend == "kind":
        if shutil.which("docker") is None:
            pytest.skip("kind backend: no docker CLI on this machine")
        try:
            from pytest_kind import KindCluster  # type: ignore[import-not-found]
        except ImportError:
            pytest.skip("kind backend: pytest-kind is not installed (pip install '.[kind]')")
        kind = KindCluster("bitcoin-controller-it")
        kind.create()
        try:
            yield ClusterInfo("kind", str(kind.kubeconfig_path))
        finally:
            kind.delete()
        return

    # LOCAL_CLUSTER_BASE gives a test session a private cluster (state, ports, pod
    # network), so several sessions on one machine don't share or stop each other's.
    local = LocalCluster(
        ROOT, base=os.environ.get("LOCAL_CLUSTER_BASE") or None, bin_dir=ROOT / ".local-cluster" / "bin"
    )
    missing = local.missing_binaries(local.choose_backend())
    if missing:
        pytest.fail(
            f"local cluster binaries missing ({', '.join(missing)}); "
            "run `make cluster-build` (scripts/build-local-cluster) first"
        )
    started = False
    try:
        started = local.up()
    except ClusterError as e:
        pytest.fail(f"could not start the local cluster: {e}")
    if local.backend == "node":
        # Controllers started as local processes use the published default image names,
        # which nothing here can pull: give the local btcd image that name too.
        from bitcoin_controller.controller.implementations import BTCD

        local.tag_image(local.images["btcd"], BTCD.default_image)
    try:
        yield ClusterInfo("local", local.kubeconfig, local)
    finally:
        if started and not os.environ.get("LOCAL_CLUSTER_KEEP"):
            local.down()


@pytest.fixture(scope="session")
def kubeconfig(cluster: ClusterInfo) -> str:
    return cluster.kubeconfig


@pytest.fixture(scope="session")
def local_cluster(cluster: ClusterInfo) -> LocalCluster:
    if cluster.local is None:
        pytest.skip(f"needs the local cluster backend (running on {cluster.backend})")
    return cluster.local


@pytest.fixture(scope="session")
def kwok_cluster(local_cluster: LocalCluster) -> LocalCluster:
    """The local cluster on its kwok backend (the pod runner's processes, logs and
    per-pod directories); skips on the real node, whose pods are containers."""
    if local_cluster.backend != "kwok":
        pytest.skip("tests the kwok backend's pod runner (the real node runs containers)")
    return local_cluster


@pytest.fixture(scope="session")
def k8s_api(cluster: ClusterInfo):
    from kubernetes import config

    api = config.new_client_from_config(config_file=cluster.kubeconfig)
    yield api
    api.close()


@pytest.fixture
def namespace(k8s_api, request: pytest.FixtureRequest) -> Iterator[str]:
    from kubernetes import client

    core = client.CoreV1Api(k8s_api)
    base = request.node.name.lower().replace("_", "-")[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # the ServiceAccount admission plugin rejects pods until the default SA exists
    # After an API server restart the controller manager can take over a minute to
    # resume creating ServiceAccounts; wait long enough for that.
    deadline = time.monotonic() + 120
    while True:
        try:
            core.read_namespaced_service_account("default", name)
            break
        except client.ApiException as e:
            if e.status != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.1)
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except client.ApiException as e:
            if e.status != 404:
                raise
