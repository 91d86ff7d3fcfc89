"""The operator as users run it: installed by its Helm chart, two replicas, on a real node.

Only on the real-node backend of the local cluster (elsewhere the controller image
cannot run). The controller Pods use in-cluster configuration (projected token, CA,
``KUBERNETES_SERVICE_HOST`` through kube-proxy's rules), run under the ``restricted``
Pod Security Standard, and are observed the way an operator would: the Lease, the API
server's proxy to their ``/metrics`` and probe ports, and ``kubectl logs``.
"""

from __future__ import annotations

from collections.abc import Iterator

import controller_harness as harness
import pytest
from controller_harness import (
    TEST_RPC_PASSWORD,
    create_credentials_secret,
    create_network,
    read_network,
    runs_in_cluster,
    wait_for,
)
from incluster import NAMESPACE, ControllerPod

crd_and_rbac = harness.crd_and_rbac
admin_client = harness.admin_client

CONVERGE = 180.0
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def release(crd_and_rbac: str, cluster, tmp_path_factory) -> Iterator[ControllerPod]:
    if not runs_in_cluster(cluster):
        pytest.skip("needs the real-node backend (the controller runs from its image)")
    pod = ControllerPod(crd_and_rbac, tmp_path_factory.mktemp("incluster") / "controller.log",
                        cluster.local.images, replicas=2)
    pod.start(timeout=180)
    try:
        yield pod
    finally:
        pod.uninstall()


def test_chart_runs_two_restricted_replicas_one_leader_integration(release, admin_client):
    ns = admin_client.core_v1().namespaces().get(NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = release.pods()
    assert len(pods) == 2
    for pod in pods:
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["containers"][0]["imagePullPolicy"] == "Never"
        assert "--impersonate" not in " ".join(spec["containers"][0].get("args", []))
    leader = release.leader()
    assert leader in {p["metadata"]["name"] for p in pods}
    # both answer their probes through the kubelet-run process; a standby counts as ready
    for pod in pods:
        assert release.proxy(8081, "/readyz", pod["metadata"]["name"])[0] == 200
        assert release.proxy(8081, "/healthz", pod["metadata"]["name"])[0] == 200


def test_in_cluster_controller_converges_and_survives_leader_loss_integration(release, admin_client, namespace):
    create_credentials_secret(admin_client, namespace)
    create_network(admin_client, namespace, "net", 3)
    wait_for(lambda: read_network(admin_client, namespace, "net").converged, CONVERGE, 1.0,
             "the network to converge (Ready, Connected, Synced)")
    metrics = release.metrics()
    assert "bitcoin_controller" in metrics or "workqueue_adds_total" in metrics, metrics[:500]

    old_leader = release.leader()
    release.kill()
    wait_for(lambda: release.leader() != old_leader, 120, 1.0, "another Pod to take the Lease")

    client = admin_client.bitcoincontroller_v1().bitcoin_networks(namespace)
    network = client.get("net")
    network["spec"]["nodes"] = 4
    client.update(network)

    def scaled() -> bool:
        status = read_network(admin_client, namespace, "net")
        return status.converged and len(status.nodes) == 4

    wait_for(scaled, CONVERGE, 1.0, "the new leader to finish the scale to 4 nodes")


def test_controller_logs_never_hold_the_password_integration(release):
    logs = release.logs()
    assert "caches synced" in logs or "sync" in logs, "no controller output captured"
    assert TEST_RPC_PASSWORD not in logs
