"""A real single-node Kubernetes for the local cluster: containerd, kubelet, kube-proxy.

The ``node`` backend of ``LocalCluster`` runs pods the way a user's cluster does:
kubelet (built from the same k8s.io/kubernetes module as the control plane) asks
containerd (Debian's package) to start them with runc, the CNI bridge plugin gives them
addresses on a bridge of ours, and kube-proxy programs Services with iptables.

Networking is closed on purpose (nothing may leave this machine):

* the bridge ``bcn<N>`` holds ``10.<N>.0.1/24``; pods get ``10.<N>.0.10-254`` and a route
  to the service range ``10.<N>.1.0/24`` only: no default route, no masquerade;
* the CNI bridge runs with ``isGateway: false`` (``true`` would switch on the host-wide
  ``net.ipv4.ip_forward``); forwarding is enabled on our bridge alone;
* a FORWARD chain drops anything between the bridge and any other interface;
* the API server listens on the bridge address, so the ``kubernetes`` Service reaches it
  from pods without a relay; host-side clients use the same address.

``N`` is the cluster's claimed network number (100-199, see ``LocalCluster``), so the
bridge, both ranges, the node name and every port differ between clusters. kube-proxy's
iptables chains (KUBE-SERVICES, ...) are host-wide, though, so one real node runs per
machine at a time: a claim file says which, and a second cluster falls back to the kwok
backend with a message (``backend_reason``).

Everything the node changes on the host is recorded first (``host.HostJournal``) and
undone by ``down``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import claims, host

NODE_CLAIM = Path(tempfile.gettempdir()) / "localcluster-real-node.json"
CNI_BIN_DIRS = ["/usr/lib/cni", "/opt/cni/bin"]
RUNTIME_PACKAGES = ["containerd", "runc", "containernetworking-plugins", "iptables", "conntrack", "nftables"]


def local_images(root: Path | None = None) -> dict[str, str]:
    """controller/btcd/pause -> the ref ``scripts/build-images`` gives that image here.

    "localhost/..." can never resolve to a public registry; pods use them with
    ``imagePullPolicy: Never``. The controller's tag follows scripts/version."""
    from . import images

    root = root or Path(__file__).resolve().parents[2]
    builder = images.Builder(root, root / ".local-cluster" / "images", Path(tempfile.gettempdir()), log=lambda _m: None)
    return {
        "controller": images.ref("bitcoin-controller", builder.version()),
        "btcd": images.ref("btcd", builder.btcd_version()),
        "pause": images.ref("pause", images.PAUSE_VERSION),
    }


def layout(n: int) -> dict:
    """Names, ranges and addresses of cluster number ``n`` (its claimed network)."""
    return {
        "node": f"bc-node-{n}",
        "bridge": f"bcn{n}",
        "bridge_ip": f"10.{n}.0.1",
        "pod_network": f"10.{n}.0.0/24",
        "service_cidr": f"10.{n}.1.0/24",
        "cgroup_root": f"bcn{n}",
    }


def cni_bin_dir() -> str | None:
    for d in CNI_BIN_DIRS:
        if os.access(os.path.join(d, "bridge"), os.X_OK):
            return d
    return None


def missing_prerequisites() -> list[str]:
    """Why this machine cannot run a real node (empty when it can).

    Missing runtime packages do not count where ``up`` can apt-get them (root)."""
    if os.geteuid() != 0:
        return ["not root"]
    why = []
    if not shutil.which("apt-get"):
        for tool in ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip"):
            if not shutil.which(tool):
                why.append(f"{tool} not installed")
        if not cni_bin_dir():
            why.append("CNI plugins not installed")
    if not Path("/sys/fs/cgroup").is_dir():
        why.append("no /sys/fs/cgroup")
    if not shutil.which("go"):
        why.append("no Go toolchain (the pause and btcd images are built with it)")
    return why


def install_prerequisites(log: Callable[[str], None]) -> None:
    """apt-get the runtime (the project installs what it needs; root only)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    missing = [p for p in RUNTIME_PACKAGES if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True
    ).stdout.strip() != "install ok installed"]
    if not missing:
        return
    log(f"  installing {' '.join(missing)} (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=True, env=env, capture_output=True)


# ---------------------------------------------------------------------------- the claim


def claim_node(base: Path) -> str | None:
    """Take the machine's real-node slot for ``base``; returns None, or who holds it."""
    return claims.take(NODE_CLAIM, str(base), lambda owner, _claim: claim_stale(owner))


def claim_stale(owner: dict) -> bool:
    """A claim is live while its cluster has state: a journal not yet restored.

    A cluster whose processes were killed (a stopped session, a crash) still holds the
    claim: its host changes are in place until ``down`` restores them, which ``up`` of
    another cluster does first (``LocalCluster.up``)."""
    base = owner.get("base")
    return not base or not (Path(base) / "host-journal.json").exists()


def release_node(base: Path) -> None:
    claims.release(NODE_CLAIM, str(base))


# ---------------------------------------------------------------------------- network


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def setup_network(lay: dict) -> None:
    """Our bridge with its address, forwarding on it alone, and the FORWARD guard."""
    br = lay["bridge"]
    if br not in host.links():
        _ip("link", "add", br, "type", "bridge")
    addr = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", br], capture_output=True, text=True).stdout
    if f" {lay['bridge_ip']}/" not in addr:
        _ip("addr", "add", f"{lay['bridge_ip']}/24", "dev", br)
    _ip("link", "set", br, "up")
    host.write_sysctl(f"net/ipv4/conf/{br}/forwarding", "1")
    # Replies between two pods on the bridge must pass conntrack to undo a Service's DNAT.
    if host.read_sysctl("net/bridge/bridge-nf-call-iptables") not in (None, "1"):
        host.write_sysctl("net/bridge/bridge-nf-call-iptables", "1")
    chain = guard_chain(lay)
    subprocess.run(["iptables", "-N", chain], capture_output=True)
    subprocess.run(["iptables", "-F", chain], check=True, capture_output=True)
    for rule in (["-i", br, "!", "-o", br], ["!", "-i", br, "-o", br]):
        subprocess.run(["iptables", "-A", chain, *rule, "-j", "DROP"], check=True, capture_output=True)
    if subprocess.run(["iptables", "-C", "FORWARD", "-j", chain], capture_output=True).returncode:
        subprocess.run(["iptables", "-I", "FORWARD", "1", "-j", chain], check=True, capture_output=True)


def guard_chain(lay: dict) -> str:
    return f"BCN-GUARD-{lay['bridge'][3:]}"


def cni_config(lay: dict, state: Path) -> dict:
    return {
        "cniVersion": "1.0.0",
        "name": lay["bridge"],
        "plugins": [
            {
                "type": "bridge",
                "bridge": lay["bridge"],
                "isGateway": False,  # true would set the host-wide net.ipv4.ip_forward
                "ipMasq": False,
                "hairpinMode": True,  # a pod reaching itself through a Service
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(state / "cni" / "ipam"),
                    "ranges": [[{
                        "subnet": lay["pod_network"],
                        "rangeStart": lay["bridge_ip"].rsplit(".", 1)[0] + ".10",
                        "gateway": lay["bridge_ip"],
                    }]],
                    # the service range only: pods have no way off this machine
                    "routes": [{"dst": lay["service_cidr"], "gw": lay["bridge_ip"]}],
                },
            }
        ],
    }


# ---------------------------------------------------------------------------- components


def make_kubelet_pki(pki: Path) -> None:
    """A CA whose certificate kubelet trusts for its clients, and the API server's client
    certificate from it (logs, exec and port-forward go API server -> kubelet)."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    if not (pki / "ca.crt").exists():
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
                "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"), "-subj", "/CN=local-node-ca")
    if not (pki / "kubelet-client.crt").exists():
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(pki / "kubelet-client.key"),
                "-out", str(pki / "kubelet-client.csr"),
                "-subj", "/O=system:masters/CN=kube-apiserver-kubelet-client")
        openssl("x509", "-req", "-in", str(pki / "kubelet-client.csr"), "-CA", str(pki / "ca.crt"),
                "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "365",
                "-out", str(pki / "kubelet-client.crt"))
    for key in pki.glob("*.key"):
        os.chmod(key, 0o600)


def make_apiserver_cert(pki: Path, lay: dict) -> None:
    """kube-apiserver's serving certificate from our CA, valid for every address clients
    use: the bridge address (kubelet, kube-proxy, host clients), 127.0.0.1 (tests that
    relay through loopback) and the ``kubernetes`` Service (pods)."""
    import ipaddress

    service_ip = str(next(ipaddress.ip_network(lay["service_cidr"]).hosts()))
    names = ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local", "localhost"]
    sans = ",".join([f"IP:{ip}" for ip in (lay["bridge_ip"], "127.0.0.1", service_ip)]
                    + [f"DNS:{n}" for n in names])
    ext = pki / "apiserver.ext"
    ext.write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(pki / "apiserver.key"),
                    "-out", str(pki / "apiserver.csr"), "-subj", "/CN=kube-apiserver"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(pki / "apiserver.csr"), "-CA", str(pki / "ca.crt"),
                    "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "365", "-extfile", str(ext),
                    "-out", str(pki / "apiserver.crt")], check=True, capture_output=True)
    os.chmod(pki / "apiserver.key", 0o600)


def create_node_cgroups(lay: dict) -> None:
    host.create_cgroups(lay["cgroup_root"])



def containerd_config(base: Path, state: Path, pause_image: str) -> str:
    """containerd's config (version 2): everything under ``base``, CRI for kubelet."""
    root = base / "containerd"
    return f"""version = 2
root = "{root / 'root'}"
state = "{root / 'state'}"
# the plugin that would create /opt/containerd, and snapshotters this node does not use
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{root / 'containerd.sock'}"

[ttrpc]
  address = "{root / 'containerd.sock.ttrpc'}"

[debug]
  level = "warn"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause_image}"
  # this machine has no CAP_SYS_RESOURCE: runc may only raise a process's OOM score
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # network namespaces under our state directory, not /run/netns
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin_dir() or CNI_BIN_DIRS[0]}"
    conf_dir = "{state / 'cni' / 'net.d'}"
"""


def kubelet_config(lay: dict, cfg: dict, base: Path, state: Path) -> dict:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": lay["bridge_ip"],  # serve logs/exec on our bridge only
        "port": cfg["ports"]["kubelet"],
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": cfg["ports"]["kubelet_healthz"],
        "containerRuntimeEndpoint": f"unix://{base / 'containerd' / 'containerd.sock'}",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": "/" + lay["cgroup_root"],
        "failCgroupV1": False,  # this host is cgroup v1
        "failSwapOn": False,
        "resolvConf": "",  # no cluster DNS; pods get an empty resolv.conf, not the host's
        "podLogsDirectory": str(state / "pod-logs"),
        "volumePluginDir": str(state / "volume-plugins"),
        "imageGCHighThresholdPercent": 100,  # images are imported, never pulled: keep them
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(state / "pki" / "ca.crt")},
        },
        # only the API server holds a certificate of our CA
        "authorization": {"mode": "AlwaysAllow"},
        "serializeImagePulls": False,
        "registerNode": True,
        "maxPods": 250,
        "nodeStatusReportFrequency": "10s",
        "syncFrequency": "10s",
        "fileCheckFrequency": "0s",
        "staticPodPath": "",
        "localStorageCapacityIsolation": True,
    }


def kube_proxy_config(lay: dict, cfg: dict, state: Path) -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(state / "kube-proxy.kubeconfig")},
        "hostnameOverride": lay["node"],
        "mode": "iptables",
        "bindAddress": lay["bridge_ip"],
        "clusterCIDR": lay["pod_network"],
        "healthzBindAddress": f"127.0.0.1:{cfg['ports']['proxy_healthz']}",
        "metricsBindAddress": f"127.0.0.1:{cfg['ports']['proxy_metrics']}",
        "nodePortAddresses": [f"{lay['bridge_ip']}/32"],
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False, "syncPeriod": "30s",
                     "minSyncPeriod": "0s"},
        # leave the host's conntrack table size and timeouts alone
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                      "tcpCloseWaitTimeout": "0s"},
    }


def write_yaml_as_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2))  # JSON is YAML


def containerd_address(base: Path) -> str:
    return str(base / "containerd" / "containerd.sock")


def kill_shims(base: Path) -> int:
    """SIGKILL the containerd shims of this node (they outlive containerd by design)."""
    addr = containerd_address(base)
    n = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"containerd-shim-runc-v2") and addr.encode() in cmd:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
                n += 1
            except ProcessLookupError:
                pass
    return n


def teardown(base: Path, lay: dict, log: Callable[[str], None]) -> None:
    """After kubelet, kube-proxy and containerd have stopped: the pods' processes, the
    shims, the mounts, and every host change recorded on up."""
    for _ in range(20):
        if not host.kill_cgroup_processes(lay["cgroup_root"]) and not kill_shims(base):
            break
        time.sleep(0.1)
    host.unmount_under(str(base))
    journal = host.HostJournal(base / "host-journal.json")
    done = journal.restore(cgroup_name=lay["cgroup_root"], bridge=lay["bridge"])
    if done:
        log(f"  host restored: {', '.join(done)}")
    release_node(base)
