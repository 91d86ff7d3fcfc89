"""The local cluster itself: control plane up, btcd pods run as real daemons on their pod
IPs, deletion and missing Secrets behave like a kubelet, apiserver restart and etcd
compaction helpers work."""

from __future__ import annotations

import base64
import ipaddress
import json
import shutil
import subprocess
from typing import Any

import pytest
from kubernetes import client
from polling import wait_for

from bitcoin_controller.bitcoin import BitcoinClient, Config, TLSConfig, generate_self_signed_cert
from bitcoin_controller.controller.implementations import REGTEST_MINING_ADDRESS

BTCD_IMAGE = "ghcr.io/bitcoin-controller/btcd:v0.24.2"
RPC_USER = "it-user"
RPC_PASSWORD = "it-password-123"


# ---------------------------------------------------------------------------- helpers


def make_tls_pair(ips: list[str]) -> tuple[bytes, bytes]:
    """A self-signed certificate (its own CA) with the pod IPs as SANs, as the controller issues."""
    return generate_self_signed_cert("btcd regtest (integration)", ip_addresses=ips)


class RPC:
    """JSON-RPC to the btcd pods with the project's client, pinned to one certificate."""

    def __init__(self, cert_pem: bytes):
        self.client = BitcoinClient(dialect="btcd", connect_timeout=2.0, read_timeout=10.0)
        self.tls = TLSConfig(cert_pem)

    def call(self, ip: str, method: str, *params: Any) -> Any:
        return self.client.raw_request(method, list(params), Config(ip, 18334, RPC_USER, RPC_PASSWORD, self.tls))

    def close(self) -> None:
        self.client.http.clear()


def btcd_container(readiness: dict | None = None) -> dict:
    args = [
        "--regtest",
        "--listen=$(POD_IP):18444",
        "--rpclisten=$(POD_IP):18334",
        "--rpcuser=$(BC_RPC_USER)",
        "--rpcpass=$(BC_RPC_PASSWORD)",
        "--rpccert=/etc/btcd/tls/tls.crt",
        "--rpckey=/etc/btcd/tls/tls.key",
        "--datadir=/data",
        "--logdir=/data/logs",
        "--nobanning",
        "--nostalldetect",
        f"--miningaddr={REGTEST_MINING_ADDRESS}",
    ]
    return {
        "name": "btcd",
        "image": BTCD_IMAGE,
        "command": ["btcd"],
        "args": args,
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "envFrom": [{"secretRef": {"name": "btcd-rpc"}}],
        "ports": [{"name": "p2p", "containerPort": 18444}, {"name": "rpc", "containerPort": 18334}],
        "volumeMounts": [
            {"name": "tls", "mountPath": "/etc/btcd/tls", "readOnly": True},
            {"name": "data", "mountPath": "/data"},
        ],
        "readinessProbe": readiness
        or {"tcpSocket": {"port": 18334}, "periodSeconds": 1, "failureThreshold": 3},
    }


def btcd_volumes() -> list[dict]:
    return [
        {"name": "tls", "secret": {"secretName": "btcd-tls"}},
        {"name": "data", "emptyDir": {}},
    ]


def create_secrets(core: client.CoreV1Api, ns: str, cert: bytes, key: bytes) -> None:
    core.create_namespaced_secret(ns, {
        "metadata": {"name": "btcd-tls"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64.b64encode(cert).decode(),
                 "tls.key": base64.b64encode(key).decode()},
    })
    core.create_namespaced_secret(ns, {
        "metadata": {"name": "btcd-rpc"},
        "stringData": {"BC_RPC_USER": RPC_USER, "BC_RPC_PASSWORD": RPC_PASSWORD},
    })


def pod_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def container_pid(pod: Any) -> int | None:
    for cs in pod.status.container_statuses or []:
        if cs.state and cs.state.running and cs.container_id:
            return int(cs.container_id.split("://", 1)[1])
    return None


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------------------- tests


def test_control_plane_up_integration(cluster, k8s_api, kubeconfig):
    """Works on every backend; checks the local specifics only on the local one."""
    assert client.VersionApi(k8s_api).get_code().git_version
    core = client.CoreV1Api(k8s_api)
    nodes = core.list_node().items
    ready = [n.metadata.name for n in nodes
             if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
    assert ready
    assert core.read_namespaced_service_account("default", "default")
    if cluster.local is not None:
        assert cluster.local.readyz()
        assert cluster.local.node_name in ready
        version = client.VersionApi(k8s_api).get_code()
        assert version.git_version.startswith("v1.34."), version.git_version
    kubectl = shutil.which("kubectl")
    if kubectl:
        out = subprocess.run(
            [kubectl, "--kubeconfig", kubeconfig, "get", "nodes", "-o", "json"],
            check=True, capture_output=True, text=True, timeout=60,
        )
        names = [n["metadata"]["name"] for n in json.loads(out.stdout)["items"]]
        assert set(ready) <= set(names)
        readyz = subprocess.run(
            [kubectl, "--kubeconfig", kubeconfig, "get", "--raw", "/readyz"],
            check=True, capture_output=True, text=True, timeout=60,
        )
        assert readyz.stdout.strip() == "ok"


def test_btcd_statefulset_integration(kwok_cluster, k8s_api, namespace):
    core = client.CoreV1Api(k8s_api)
    apps = client.AppsV1Api(k8s_api)
    pod_net = ipaddress.ip_network(kwok_cluster.pod_network)
    ips = [str(ip) for ip in pod_net.hosts()] + ["127.0.0.1"]
    cert, key = make_tls_pair(ips)
    create_secrets(core, namespace, cert, key)
    labels = {"app": "btcd-it"}
    apps.create_namespaced_stateful_set(namespace, {
        "metadata": {"name": "btc"},
        "spec": {
            "replicas": 3,
            "serviceName": "btc",
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 10,
                    "containers": [btcd_container()],
                    "volumes": btcd_volumes(),
                },
            },
        },
    })

    def ready_pods():
        pods = core.list_namespaced_pod(namespace, label_selector="app=btcd-it").items
        ready = [p for p in pods if pod_ready(p) and p.metadata.deletion_timestamp is None]
        return sorted(ready, key=lambda p: p.metadata.name) if len(ready) == 3 else None

    pods = wait_for(ready_pods, 120, "3 ready btcd pods")
    pod_ips = [p.status.pod_ip for p in pods]
    assert len(set(pod_ips)) == 3
    assert all(ipaddress.ip_address(ip) in pod_net for ip in pod_ips)
    pids = [container_pid(p) for p in pods]
    assert all(pids) and all(pid_alive(pid) for pid in pids)

    rpc = RPC(cert)
    try:
        for ip in pod_ips:
            assert rpc.call(ip, "getblockcount") == 0
            assert rpc.call(ip, "getblockchaininfo")["chain"] == "regtest"

        # peer node 0 with nodes 1 and 2
        for ip in pod_ips[1:]:
            rpc.call(pod_ips[0], "addnode", f"{ip}:18444", "add")

        def peered():
            added = rpc.call(pod_ips[0], "getaddednodeinfo", False)
            peers = rpc.call(pod_ips[0], "getpeerinfo")
            want = {f"{ip}:18444" for ip in pod_ips[1:]}
            return want <= set(added) and want <= {p["addr"] for p in peers}

        wait_for(peered, 60, "node 0 connected to nodes 1 and 2")
        for ip in pod_ips[1:]:
            wait_for(lambda ip=ip: len(rpc.call(ip, "getpeerinfo")) >= 1, 30,
                       f"inbound peer on {ip}")

        # blocks mined on node 0 reach the others
        hashes_ = rpc.call(pod_ips[0], "generate", 3)
        assert len(hashes_) == 3
        for ip in pod_ips[1:]:
            wait_for(lambda ip=ip: rpc.call(ip, "getblockcount") == 3, 60,
                       f"block height 3 on {ip}")

        # deleting a pod stops its daemon; the recreated pod gets a running daemon
        victim = pods[1]
        old_pid = pids[1]
        core.delete_namespaced_pod(victim.metadata.name, namespace)
        wait_for(lambda: not pid_alive(old_pid), 30, "the deleted pod's btcd to exit")

        def recreated():
            p = core.read_namespaced_pod(victim.metadata.name, namespace)
            return p if p.metadata.uid != victim.metadata.uid and pod_ready(p) else None

        new = wait_for(recreated, 90, "the recreated pod to be ready")
        new_pid = container_pid(new)
        assert new_pid and new_pid != old_pid and pid_alive(new_pid)
        assert rpc.call(new.status.pod_ip, "getblockcount") == 0  # fresh emptyDir

        log = kwok_cluster.log_dir / "pods" / f"{namespace}_{victim.metadata.name}_btcd.log"
        assert log.exists() and "starting" in log.read_text()
    finally:
        rpc.close()


def test_missing_secret_blocks_container_integration(kwok_cluster, k8s_api, namespace):
    core = client.CoreV1Api(k8s_api)
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "needs-secret"},
        "spec": {
            "terminationGracePeriodSeconds": 2,
            "containers": [{
                "name": "main",
                "image": BTCD_IMAGE,
                "command": ["sleep", "600"],
                "envFrom": [{"secretRef": {"name": "not-yet"}}],
            }],
        },
    })

    def waiting_reason():
        p = core.read_namespaced_pod("needs-secret", namespace)
        cs = (p.status.container_statuses or [None])[0]
        if cs and cs.state and cs.state.waiting:
            return cs.state.waiting.reason
        return None

    wait_for(lambda: waiting_reason() == "CreateContainerConfigError", 60,
               "CreateContainerConfigError")
    p = core.read_namespaced_pod("needs-secret", namespace)
    assert p.status.phase == "Pending"
    assert container_pid(p) is None
    assert not pod_ready(p)

    # once the Secret exists the runner starts the container
    core.create_namespaced_secret(namespace, {
        "metadata": {"name": "not-yet"}, "stringData": {"X": "1"}})

    def running():
        p = core.read_namespaced_pod("needs-secret", namespace)
        return p if container_pid(p) and pod_ready(p) and p.status.phase == "Running" else None

    p = wait_for(running, 60, "the container to start once the Secret exists")
    pid = container_pid(p)
    with open(f"/proc/{pid}/environ", "rb") as f:
        assert b"X=1" in f.read().split(b"\0")
    core.delete_namespaced_pod("needs-secret", namespace)
    wait_for(lambda: not pid_alive(pid), 30, "the container process to stop")


def test_unknown_image_reported_integration(kwok_cluster, k8s_api, namespace):
    core = client.CoreV1Api(k8s_api)
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "unknown-image"},
        "spec": {"containers": [{"name": "main", "image": "docker.io/library/nginx:1.27"}]},
    })

    def reason():
        p = core.read_namespaced_pod("unknown-image", namespace)
        cs = (p.status.container_statuses or [None])[0]
        return cs and cs.state.waiting and cs.state.waiting.reason

    wait_for(lambda: reason() == "ErrImagePull", 60, "ErrImagePull for an unknown image")
    assert kwok_cluster.component_running("pod-runner")


def test_readiness_follows_probe_integration(kwok_cluster, k8s_api, namespace):
    """An exec readiness probe decides Ready; kwok does not override it."""
    core = client.CoreV1Api(k8s_api)
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "probe"},
        "spec": {
            "terminationGracePeriodSeconds": 2,
            "containers": [{
                "name": "main",
                "image": BTCD_IMAGE,
                "command": ["sh", "-c", "sleep 600"],
                "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                "readinessProbe": {
                    "exec": {"command": ["test", "-f", "/scratch/ready"]},
                    "periodSeconds": 1, "failureThreshold": 1,
                },
            }],
            "volumes": [{"name": "scratch", "emptyDir": {}}],
        },
    })

    def status():
        p = core.read_namespaced_pod("probe", namespace)
        return p.status.phase, pod_ready(p), p

    phase, ready, p = wait_for(lambda: status()[0] == "Running" and status(), 60, "Running")
    assert not ready
    scratch = next(kwok_cluster.pods_dir.glob(f"{namespace}_probe_{p.metadata.uid}"))
    (scratch / "volumes" / "scratch" / "ready").write_text("ok")
    wait_for(lambda: status()[1], 30, "Ready after the probe passes")
    (scratch / "volumes" / "scratch" / "ready").unlink()
    wait_for(lambda: not status()[1], 30, "not Ready after the probe fails")


def test_apiserver_restart_and_compaction_integration(local_cluster, k8s_api, namespace):
    core = client.CoreV1Api(k8s_api)
    cm = core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "c"}, "data": {"v": "0"}})
    old_rv = cm.metadata.resource_version
    for i in range(1, 4):
        core.patch_namespaced_config_map("c", namespace, {"data": {"v": str(i)}})

    local_cluster.restart_apiserver()
    assert local_cluster.readyz()
    assert core.read_namespaced_config_map("c", namespace).data["v"] == "3"

    rev = local_cluster.compact_etcd()
    assert rev >= int(old_rv)
    assert local_cluster.etcd_revision() >= rev
    # a list at an exact, compacted revision has to go to etcd and fails with 410 Gone
    with pytest.raises(client.ApiException) as exc:
        core.list_namespaced_config_map(
            namespace, resource_version=old_rv, resource_version_match="Exact")
    assert exc.value.status == 410
