"""A real node's ``down`` leaves the host exactly as its ``up`` found it.

The real-node backend changes host-wide state (iptables and nftables rules, a bridge,
mounts, cgroups, sysctls, well-known directories). This test brings up a private real-node
cluster, runs a pod on it (so containerd, the CNI plugin, kubelet and kube-proxy all leave
their marks), takes it down, and compares the host with what it was before. It needs the
machine's real-node slot, so ``make test`` runs it on its own before the other suites.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from polling import wait_for

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from localcluster import LocalCluster, host  # noqa: E402
from localcluster.node import missing_prerequisites  # noqa: E402

pytestmark = pytest.mark.timeout(600)


def test_real_node_down_restores_the_host_integration(tmp_path: Path) -> None:
    why = missing_prerequisites()
    if why:
        pytest.skip(f"no real node on this machine: {'; '.join(why)}")
    cluster = LocalCluster(ROOT, base=tmp_path / "lc", bin_dir=ROOT / ".local-cluster" / "bin", backend="node")
    before = host.snapshot()
    assert before["sysctls"]["net/ipv4/ip_forward"] == "0", "the host forwards already; nothing to prove here"
    cluster.up()
    try:
        kube = cluster.kube()
        kube.post("/api/v1/namespaces/default/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
            "spec": {"containers": [{"name": "c", "image": cluster.images["btcd"], "imagePullPolicy": "Never",
                                     "args": ["--regtest", "--datadir=/data/chain", "--logdir=/data/logs",
                                              "--rpcuser=u", "--rpcpass=p", "--notls", "--rpclisten=127.0.0.1"]}],
                     "securityContext": {"runAsUser": 10001}},
        })

        def running() -> bool:
            pod = kube.get("/api/v1/namespaces/default/pods/probe")
            return pod.get("status", {}).get("phase") == "Running" and pod["status"].get("podIP")

        wait_for(running, 120, "the probe pod to run", 0.5)
        during = host.snapshot()
        # the node really changed the host (so the comparison below proves something) ...
        assert cluster.layout["bridge"] in during["links"]
        assert "KUBE-SERVICES" in during["iptables"].get("nat", {})
        assert any(m.startswith(str(tmp_path)) for m in during["mounts"])
        # ... but never switched on forwarding for the whole host
        assert during["sysctls"]["net/ipv4/ip_forward"] == "0"
    finally:
        cluster.down()
    after = host.snapshot()
    for key in before:
        assert after[key] == before[key], f"{key} differs after down"
