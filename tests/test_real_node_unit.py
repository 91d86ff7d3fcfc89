"""The real node's configuration and host bookkeeping (scripts/localcluster/node.py, host.py),
checked without root: what each component is told, and what ``down`` would undo."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from localcluster import LocalCluster, host, node  # noqa: E402

LAY = node.layout(101)
CFG = {"ports": {"kubelet": 10250, "kubelet_healthz": 10248, "proxy_healthz": 10256, "proxy_metrics": 10249}}


def test_two_clusters_share_no_name_range_or_root_unit():
    a, b = node.layout(100), node.layout(101)
    for key in a:
        assert a[key] != b[key], key
    assert len(a["bridge"]) <= 15  # a Linux interface name


def test_pods_get_a_route_to_the_service_range_only_unit(tmp_path):
    conf = node.cni_config(LAY, tmp_path)
    bridge = conf["plugins"][0]
    assert bridge["isGateway"] is False, "isGateway would switch on the host-wide net.ipv4.ip_forward"
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["routes"] == [{"dst": LAY["service_cidr"], "gw": LAY["bridge_ip"]}]
    assert bridge["ipam"]["dataDir"].startswith(str(tmp_path)), "IPAM state stays in the cluster's directory"
    assert [p["type"] for p in conf["plugins"]] == ["bridge"], "no portmap: it would add host iptables rules"


def test_kubelet_is_told_what_this_host_needs_unit(tmp_path):
    cfg = node.kubelet_config(LAY, CFG, tmp_path, tmp_path / "state")
    assert cfg["cgroupDriver"] == "cgroupfs"
    assert cfg["failCgroupV1"] is False
    assert cfg["failSwapOn"] is False
    assert cfg["resolvConf"] == ""
    assert cfg["imageGCHighThresholdPercent"] == 100
    assert cfg["address"] == LAY["bridge_ip"]
    assert cfg["cgroupRoot"] == f"/{LAY['cgroup_root']}"
    assert cfg["authentication"]["anonymous"]["enabled"] is False
    assert cfg["containerRuntimeEndpoint"] == f"unix://{tmp_path / 'containerd' / 'containerd.sock'}"


def test_kube_proxy_leaves_host_ports_and_conntrack_alone_unit(tmp_path):
    cfg = node.kube_proxy_config(LAY, CFG, tmp_path)
    assert cfg["mode"] == "iptables"
    assert cfg["nodePortAddresses"] == [f"{LAY['bridge_ip']}/32"]
    assert cfg["iptables"]["localhostNodePorts"] is False
    assert cfg["conntrack"]["maxPerCore"] == 0 and cfg["conntrack"]["min"] == 0


def test_containerd_keeps_everything_under_the_cluster_unit(tmp_path):
    text = node.containerd_config(tmp_path, tmp_path / "state", "localhost/x/pause:1")
    assert "restrict_oom_score_adj = true" in text  # no CAP_SYS_RESOURCE on this machine
    assert f'address = "{tmp_path}/containerd/containerd.sock"' in text
    assert f'root = "{tmp_path}/containerd/root"' in text
    assert '"io.containerd.internal.v1.opt"' in text  # would create /opt/containerd
    assert 'sandbox_image = "localhost/x/pause:1"' in text


IPTABLES_BEFORE = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 192.0.2.9/32 -j DROP
COMMIT
"""
IPTABLES_AFTER = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:BCN-GUARD-101 - [0:0]
:KUBE-FORWARD - [0:0]
-A INPUT -s 192.0.2.9/32 -j DROP
-A FORWARD -j BCN-GUARD-101
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A BCN-GUARD-101 -i bcn101 ! -o bcn101 -j DROP
COMMIT
"""


def test_restore_removes_only_what_the_node_added_unit(monkeypatch):
    saves = iter([IPTABLES_BEFORE, IPTABLES_AFTER])
    calls: list[list[str]] = []

    class Done:
        def __init__(self, out: str = "") -> None:
            self.stdout, self.returncode = out, 0

    def run(argv: list[str], check: bool = False) -> Done:
        if argv[0] == "iptables-save":
            return Done(next(saves))
        calls.append(argv)
        return Done()

    monkeypatch.setattr(host, "_run", run)
    monkeypatch.setattr(host.shutil, "which", lambda tool: "/usr/sbin/" + tool)
    before = host.iptables_rules("ip")
    host.restore_iptables("ip", before)
    deletes = [c for c in calls if "-D" in c]
    assert ["iptables", "-t", "filter", "-D", "FORWARD", "-j", "BCN-GUARD-101"] in deletes
    assert ["iptables", "-t", "filter", "-D", "FORWARD", "-m", "comment", "--comment",
            "kubernetes forwarding rules", "-j", "KUBE-FORWARD"] in deletes
    assert not any("192.0.2.9/32" in c for c in calls), "a rule that was there before is never touched"
    removed = {c[-1] for c in calls if c[3] == "-X"}
    assert removed == {"BCN-GUARD-101", "KUBE-FORWARD"}
    flushed_first = [c[3] for c in calls if c[-1] == "KUBE-FORWARD" and c[3] in ("-F", "-X")]
    assert flushed_first == ["-F", "-X"]


def test_without_root_the_kwok_backend_is_chosen_and_says_why_unit(monkeypatch, tmp_path):
    monkeypatch.setattr(node.os, "geteuid", lambda: 1000)
    cluster = LocalCluster(ROOT, base=tmp_path / "lc", bin_dir=tmp_path / "bin", backend="auto")
    assert cluster.choose_backend() == "kwok"
    assert "not root" in cluster.backend_reason


def test_unknown_backend_is_refused_unit(tmp_path):
    from localcluster import ClusterError

    with pytest.raises(ClusterError, match="unknown backend"):
        LocalCluster(ROOT, base=tmp_path, backend="docker")


def test_a_claim_is_held_until_released_or_stale_unit(tmp_path):
    from localcluster import claims

    slot = tmp_path / "slot"
    assert claims.take(slot, "/a", lambda owner, path: False) is None
    assert claims.take(slot, "/a", lambda owner, path: False) is None  # ours already
    assert claims.take(slot, "/b", lambda owner, path: False) == "/a"  # held by a live cluster
    assert claims.take(slot, "/b", lambda owner, path: owner["base"] == "/a") is None  # stale: taken over
    claims.release(slot, "/a")  # not the holder any more: nothing happens
    assert claims.read(slot)["base"] == "/b"
    claims.release(slot, "/b")
    assert not slot.exists()
