"""Start, stop and inspect the local cluster: etcd, kube-apiserver, kube-controller-manager
and kube-scheduler as plain processes, plus one node of either backend:

* ``node``: a real node (containerd, kubelet, kube-proxy; see node.py). Pods are real
  containers from images imported into containerd, with addresses on a bridge of ours.
  Needs root and the runtime packages (installed with apt-get when missing).
* ``kwok``: a kwok fake node plus the pod runner, which starts pods' containers as local
  processes on 127.0.N.x (no root, no images; see podrunner.py).

``backend="auto"`` (the default, or ``LOCAL_CLUSTER_BACKEND``) takes the real node where
its prerequisites hold and the machine's real-node slot is free, else kwok, and says why.

Everything lives under ``<repo>/.local-cluster/``::

    bin/         built binaries (symlinks into the per-user cache; scripts/build-local-cluster)
    state/       PKI (service-account key, token file), apiserver cert dir, etcd data, kwok config
    run/         cluster.json (ports, URLs), <component>.pid, pods/*.json (pod runner children)
    logs/        <component>.log, pods/<ns>_<pod>_<container>.log
    pods/        per-pod roots of the pod runner (volumes, HOME)
    containerd/  the real node's containerd root, state and socket
    host-journal.json  the host's state before a real node came up (see host.py)
    kubeconfig   admin kubeconfig (bearer token in system:masters, apiserver cert as CA)

The processes are started in their own sessions, so they outlive the command (or the
pytest run) that started them; ``down`` stops exactly the PIDs recorded in run/ (the
start time from /proc is recorded as well, so a recycled PID is never signalled).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import claims
from . import node as realnode
from .host import HostJournal
from .kube import Kube, KubeError

NODE_NAME = "kwok-node-0"
# Pod IPs: kwok hands out 127.0.<N>.1, .2, ... (the host part of --cidr is kept). N is 100
# unless another local cluster on this machine (another clone, a test run) holds that
# network; then the next free one up to 199 (claims in CIDR_CLAIMS_DIR).
POD_NET_FIRST, POD_NET_LAST = 100, 199
CIDR_CLAIMS_DIR = Path(tempfile.gettempdir()) / "localcluster-pod-networks"
NODE_IP = "127.0.0.1"
SERVICE_CIDR = "10.0.0.0/24"
ADMIN_USER = "local-admin"

BACKENDS = ("node", "kwok")
CONTROL_PLANE = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
# start order per backend; stop order is the reverse
BACKEND_COMPONENTS = {
    "kwok": ["kwok", "pod-runner"],
    "node": ["containerd", "kubelet", "kube-proxy"],
}
COMPONENTS = CONTROL_PLANE + BACKEND_COMPONENTS["kwok"]  # the kwok backend's, as before
BACKEND_BINARIES = {
    "kwok": ["kwok", "btcd", "btcctl"],
    "node": ["kubelet", "kube-proxy", "btcd", "btcctl"],
}
BINARIES = CONTROL_PLANE + BACKEND_BINARIES["kwok"]

# kwok pod stages. The default "fast" stages mark a pod Running and Ready as soon as it
# is bound. Ours only allocate the pod IP and leave the pod Pending / not ready; the pod
# runner then reports what really happens (process started, readiness probe result).
# Deletion waits for the pod runner to stop the pod's processes (it sets the
# LocalRunnerStopped condition), or, if no runner acts, for the grace period to expire,
# like a kubelet would.
KWOK_STAGES = r"""
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-assign-ip
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.podIP'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: {{ if .spec.initContainers }}"False"{{ else }}"True"{{ end }}
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: false
        restartCount: 0
        state:
          waiting:
            reason: ContainerCreating
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        state:
          waiting:
            reason: PodInitializing
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: __POD_IP_TEMPLATE__
      phase: Pending
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete-stopped
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
    - key: '.status.conditions.[].type'
      operator: 'In'
      values:
      - 'LocalRunnerStopped'
  next:
    finalizers:
      empty: true
    delete: true
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete-grace-expired
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
    - key: '.status.conditions.[].type'
      operator: 'NotIn'
      values:
      - 'LocalRunnerStopped'
  delay:
    durationMilliseconds: 0
    durationFrom:
      expressionFrom: '.metadata.deletionTimestamp'
  next:
    finalizers:
      empty: true
    delete: true
""".replace(
    "__POD_IP_TEMPLATE__",
    "{{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid \"\" ) "
    "( or .metadata.name \"\" ) ( or .metadata.namespace \"\" ) | Quote }}",
)


class ClusterError(Exception):
    pass


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _proc_starttime(pid: int) -> str | None:
    """The process start time (clock ticks since boot) or None if it's gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        try:  # reap it if it's our own child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return None
    return fields[19]


def _record_alive(rec: dict | None) -> bool:
    return bool(rec) and _proc_starttime(rec["pid"]) == rec.get("starttime")


def terminate_recorded(rec: dict, grace: float, *, group: bool = True) -> None:
    """SIGTERM the recorded process (and its process group), SIGKILL after ``grace`` seconds."""
    if not _record_alive(rec):
        return
    pid = rec["pid"]

    def send(sig: int) -> None:
        try:
            if group and os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    send(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _record_alive(rec):
            return
        time.sleep(0.05)
    send(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _record_alive(rec):
        time.sleep(0.05)


def wait_for(
    cond: Callable[[], Any],
    timeout: float,
    what: str,
    *,
    interval: float = 0.1,
    check: Callable[[], None] | None = None,
) -> Any:
    """Poll ``cond`` until it returns something truthy; raise ClusterError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        if check:
            check()
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - polled conditions may fail while starting
            last_exc = e
        if time.monotonic() > deadline:
            extra = f" (last error: {last_exc})" if last_exc else ""
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


class LocalCluster:
    """The local cluster rooted at ``<root>/.local-cluster``.

    ``root`` is the repository root (or any directory); ``base`` overrides the state
    directory. ``bin_dir`` defaults to ``<base>/bin`` (filled by scripts/build-local-cluster).
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        base: str | os.PathLike | None = None,
        bin_dir: str | os.PathLike | None = None,
        extra_apiserver_args: list[str] | None = None,
        log: Callable[[str], None] | None = None,
        backend: str | None = None,
    ):
        if root is None:
            root = Path(__file__).resolve().parents[2]
        self.root = Path(root).resolve()
        self.base = Path(base).resolve() if base else self.root / ".local-cluster"
        self.bin_dir = Path(bin_dir).resolve() if bin_dir else self.base / "bin"
        self.state_dir = self.base / "state"
        self.run_dir = self.base / "run"
        self.log_dir = self.base / "logs"
        self.pods_dir = self.base / "pods"
        self.kubeconfig_path = self.base / "kubeconfig"
        self.extra_apiserver_args = list(extra_apiserver_args or [])
        self._log = log or (lambda msg: print(msg, flush=True))
        self.requested_backend = backend or os.environ.get("LOCAL_CLUSTER_BACKEND") or "auto"
        if self.requested_backend not in (*BACKENDS, "auto"):
            raise ClusterError(
                f"unknown backend {self.requested_backend!r} (LOCAL_CLUSTER_BACKEND: node, kwok or auto)"
            )
        self.backend_reason = ""

    # ------------------------------------------------------------------ properties

    @property
    def kubeconfig(self) -> str:
        """Path of the admin kubeconfig (exists while the cluster is up)."""
        return str(self.kubeconfig_path)

    @property
    def config(self) -> dict:
        p = self.run_dir / "cluster.json"
        if not p.exists():
            raise ClusterError(f"the local cluster is not set up ({p} missing)")
        return json.loads(p.read_text())

    @property
    def server(self) -> str:
        return self.config["server"]

    @property
    def etcd_url(self) -> str:
        return self.config["etcd_url"]

    @property
    def ca_file(self) -> str:
        """The CA clients trust: kube-apiserver's self-signed certificate (kwok backend), or
        the CA that signed its serving certificate (real node: SANs for the bridge address,
        127.0.0.1 and the ``kubernetes`` Service, so in-cluster clients verify it too)."""
        ours = self.state_dir / "pki" / "ca.crt"
        if ours.exists():
            return str(ours)
        return str(self.state_dir / "apiserver" / "apiserver.crt")

    @property
    def backend(self) -> str:
        """The running cluster's backend ("node" or "kwok"); before up, the one up would pick."""
        try:
            return self.config.get("backend", "kwok")
        except ClusterError:
            return self.choose_backend()

    def choose_backend(self) -> str:
        """Resolve "auto": the real node where it can run here, else kwok (reason in
        ``backend_reason``)."""
        if self.requested_backend != "auto":
            return self.requested_backend
        why = realnode.missing_prerequisites()
        missing_bins = [b for b in BACKEND_BINARIES["node"] if not os.access(self.bin_dir / b, os.X_OK)]
        if missing_bins:
            why.append(f"{', '.join(missing_bins)} not built")
        holder = None if why else _real_node_holder(self.base)
        if holder:
            why.append(f"this machine's real node is in use by the cluster in {holder}")
        if why:
            self.backend_reason = "kwok backend: no real node (" + "; ".join(why) + ")"
            return "kwok"
        self.backend_reason = "real node backend (containerd, kubelet, kube-proxy)"
        return "node"

    @property
    def node_name(self) -> str:
        try:
            return self.config.get("node", NODE_NAME)
        except ClusterError:
            return NODE_NAME

    @property
    def layout(self) -> dict:
        """The real node's names and ranges (bridge, pod and service CIDRs, node name)."""
        return realnode.layout(self.config["pod_net"])

    @property
    def images(self) -> dict[str, str]:
        """controller/btcd/pause -> the ref imported into this cluster's containerd by ``up``
        (the controller's tag follows the commit it was built from, so ask the cluster)."""
        index = self.base / "images" / "images.json"
        try:
            entries = json.loads(index.read_text())
        except (OSError, ValueError):
            return realnode.local_images(self.root)
        names = {"bitcoin-controller": "controller"}
        return {names.get(name, name): entry["ref"] for name, entry in entries.items()}

    @property
    def containerd_address(self) -> str:
        return realnode.containerd_address(self.base)

    @property
    def pod_cidr(self) -> str:
        """kwok's --cidr, e.g. "127.0.100.1/24" (first pod IP 127.0.100.1)."""
        return self.config["pod_cidr"]

    @property
    def pod_network(self) -> str:
        """The pod IP network, e.g. "127.0.100.0/24"."""
        return self.config["pod_network"]

    # ------------------------------------------------------------------ pod network claims

    def _claim_pod_network(self) -> int:
        CIDR_CLAIMS_DIR.mkdir(parents=True, exist_ok=True)
        for n in range(POD_NET_FIRST, POD_NET_LAST + 1):
            if claims.take(CIDR_CLAIMS_DIR / f"127.0.{n}.0", str(self.base), self._claim_stale) is None:
                return n
        raise ClusterError(
            f"no free pod network 127.0.{POD_NET_FIRST}-{POD_NET_LAST}.0/24 "
            f"(claims in {CIDR_CLAIMS_DIR})"
        )

    @staticmethod
    def _claim_stale(owner: dict, claim: Path) -> bool:
        """A claim is live while its cluster's etcd runs (or during its first 2 minutes), or
        while a real node of it has host changes to undo (its number names its bridge)."""
        try:
            if time.time() - claim.stat().st_mtime < 120:
                return False
        except OSError:
            return True
        base = owner.get("base")
        if not base:
            return True
        if (Path(base) / "host-journal.json").exists():
            return False
        try:
            rec = json.loads((Path(base) / "run" / "etcd.pid").read_text())
        except (OSError, ValueError):
            return True
        return not _record_alive(rec)

    def _release_pod_network(self) -> None:
        try:
            n = self.config["pod_net"]
        except (ClusterError, KeyError, ValueError):
            return
        claims.release(CIDR_CLAIMS_DIR / f"127.0.{n}.0", str(self.base))

    def token(self) -> str:
        return self.config["token"]

    def kube(self) -> Kube:
        """A small stdlib REST client authenticated as the cluster admin."""
        return Kube(self.server, self.token(), self.ca_file)

    # ------------------------------------------------------------------ process records

    def _pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def _record(self, name: str) -> dict | None:
        try:
            return json.loads(self._pidfile(name).read_text())
        except (OSError, ValueError):
            return None

    def component_running(self, name: str) -> bool:
        return _record_alive(self._record(name))

    def component_names(self) -> list[str]:
        return CONTROL_PLANE + BACKEND_COMPONENTS[self.backend]

    def components(self) -> dict[str, bool]:
        return {c: self.component_running(c) for c in self.component_names()}

    def is_running(self) -> bool:
        """True if every component process is alive (it does not probe the API)."""
        return all(self.components().values())

    def _spawn(self, name: str, argv: list[str], env: dict | None = None) -> dict:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as logf:
            logf.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n".encode())
            logf.flush()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=str(self.base),
                env=env,
                start_new_session=True,
            )
        rec = {"pid": proc.pid, "starttime": None, "argv0": argv[0]}
        for _ in range(100):
            rec["starttime"] = _proc_starttime(proc.pid)
            if rec["starttime"]:
                break
            time.sleep(0.01)
        self._pidfile(name).write_text(json.dumps(rec))
        return rec

    def _check_alive(self, name: str) -> Callable[[], None]:
        def check() -> None:
            if not self.component_running(name):
                raise ClusterError(
                    f"{name} exited during start-up; last log lines:\n{self.log_tail(name)}"
                )

        return check

    def log_tail(self, name: str, lines: int = 25) -> str:
        try:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # ------------------------------------------------------------------ HTTP helpers

    def _ssl_ctx(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _api_ok(self, path: str, timeout: float = 3) -> bool:
        req = urllib.request.Request(
            self.server + path, headers={"Authorization": f"Bearer {self.token()}"}
        )
        try:
            with urllib.request.urlopen(req, context=self._ssl_ctx(), timeout=timeout) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, ssl.SSLError):
            return False

    def readyz(self) -> bool:
        return self._api_ok("/readyz")

    def _etcd_post(self, path: str, body: dict, timeout: float = 10) -> dict:
        req = urllib.request.Request(
            self.etcd_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"{}")

    # ------------------------------------------------------------------ component args

    def _bin(self, name: str) -> str:
        return str(self.bin_dir / name)

    def _etcd_argv(self, cfg: dict) -> list[str]:
        p = cfg["ports"]
        data = self.state_dir / "etcd"
        return [
            self._bin("etcd"),
            "--name=local",
            f"--data-dir={data}",
            f"--listen-client-urls=http://127.0.0.1:{p['etcd']}",
            f"--advertise-client-urls=http://127.0.0.1:{p['etcd']}",
            f"--listen-peer-urls=http://127.0.0.1:{p['etcd_peer']}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{p['etcd_peer']}",
            f"--initial-cluster=local=http://127.0.0.1:{p['etcd_peer']}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]

    def _apiserver_argv(self, cfg: dict) -> list[str]:
        port = cfg["ports"]["apiserver"]
        host = cfg.get("apiserver_host", "127.0.0.1")
        pki = self.state_dir / "pki"
        if cfg.get("backend") == "node":
            # The kubernetes Service's endpoint is the bridge address (reachable from
            # pods); kubelets are authorised by the Node authorizer and NodeRestriction.
            node_flags = [
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                "--endpoint-reconciler-type=lease",
                f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'kubelet-client.key'}",
                "--kubelet-preferred-address-types=InternalIP",
            ]
        else:
            node_flags = ["--authorization-mode=RBAC", "--endpoint-reconciler-type=none"]
        return [
            self._bin("kube-apiserver"),
            f"--etcd-servers={cfg['etcd_url']}",
            f"--cert-dir={self.state_dir / 'apiserver'}",
            f"--secure-port={port}",
            f"--bind-address={host}",
            f"--advertise-address={host}",
            f"--service-cluster-ip-range={cfg.get('service_cidr', SERVICE_CIDR)}",
            f"--service-account-issuer=https://{host}:{port}",
            f"--service-account-key-file={pki / 'sa.key'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            *node_flags,
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--allow-privileged=true",
            "--enable-priority-and-fairness=false",
            "--max-requests-inflight=0",
            "--max-mutating-requests-inflight=0",
            "--profiling=false",
            "--v=1",
            *cfg.get("extra_apiserver_args", []),
        ]

    def _control_plane_flags(self) -> list[str]:
        """Flags kube-controller-manager and kube-scheduler share: one instance each, loopback
        only, no serving port to collide on, and no client-side throttling."""
        return [
            f"--kubeconfig={self.state_dir / 'components.kubeconfig'}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            "--kube-api-qps=500",
            "--kube-api-burst=1000",
            "--profiling=false",
            "--v=1",
        ]

    def _kcm_argv(self, cfg: dict) -> list[str]:
        pki = self.state_dir / "pki"
        # kwok pods have no real IPs to route to; a real node needs EndpointSlices
        controllers = "*" if cfg.get("backend") == "node" else (
            "*,-endpoints-controller,-endpointslice-controller,-endpointslice-mirroring-controller"
        )
        return [
            self._bin("kube-controller-manager"),
            *self._control_plane_flags(),
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={self.ca_file}",
            f"--controllers={controllers}",
        ]

    def _scheduler_argv(self, cfg: dict) -> list[str]:
        return [self._bin("kube-scheduler"), *self._control_plane_flags()]

    def _kwok_argv(self, cfg: dict) -> list[str]:
        return [
            self._bin("kwok"),
            f"--kubeconfig={self.state_dir / 'components.kubeconfig'}",
            f"--config={self.state_dir / 'kwok.yaml'}",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--cidr={cfg['pod_cidr']}",
            f"--node-ip={NODE_IP}",
            "--node-lease-duration-seconds=40",
            "--node-port=0",
        ]

    def _runner_argv(self, cfg: dict) -> tuple[list[str], dict]:
        env = dict(os.environ)
        scripts_dir = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = scripts_dir + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
        )
        env["PYTHONUNBUFFERED"] = "1"
        argv = [
            sys.executable,
            "-m",
            "localcluster.podrunner",
            f"--base={self.base}",
            f"--bin-dir={self.bin_dir}",
            f"--node={NODE_NAME}",
        ]
        return argv, env

    # ------------------------------------------------------------------ files

    def _write_kubeconfig(self, path: Path, cfg: dict, ca_data: bool, user: str = ADMIN_USER) -> None:
        cluster: dict[str, Any] = {"server": cfg["server"]}
        if ca_data:
            cluster["certificate-authority-data"] = base64.b64encode(
                Path(self.ca_file).read_bytes()
            ).decode()
        else:
            cluster["certificate-authority"] = self.ca_file
        kc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": cluster}],
            "users": [{"name": user, "user": {"token": cfg["token"]}}],
            "contexts": [
                {"name": "local", "context": {"cluster": "local", "user": user}}
            ],
            "current-context": "local",
            "preferences": {},
        }
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(kc, f, indent=2)  # JSON is valid YAML; kubectl and the client read it
        os.replace(tmp, path)

    def _prepare(self, backend: str) -> dict:
        for d in (self.state_dir, self.run_dir, self.log_dir, self.pods_dir):
            d.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.log_dir / "pods", ignore_errors=True)  # fresh logs per cluster
        (self.log_dir / "pods").mkdir(exist_ok=True)
        (self.run_dir / "pods").mkdir(exist_ok=True)
        for c in CONTROL_PLANE + BACKEND_COMPONENTS[backend]:  # fresh logs per cluster
            (self.log_dir / f"{c}.log").unlink(missing_ok=True)
        pki = self.state_dir / "pki"
        pki.mkdir(exist_ok=True)
        os.chmod(pki, 0o700)
        sa_key = pki / "sa.key"
        if not sa_key.exists():
            subprocess.run(
                ["openssl", "genrsa", "-out", str(sa_key), "2048"],
                check=True,
                capture_output=True,
            )
            os.chmod(sa_key, 0o600)
        token = secrets.token_hex(24)
        tokens = [f'{token},{ADMIN_USER},{ADMIN_USER},"system:masters"']
        etcd_port, etcd_peer, api_port, *node_ports = _free_ports(7)
        net = self._claim_pod_network()
        cfg = {
            "backend": backend,
            "ports": {"etcd": etcd_port, "etcd_peer": etcd_peer, "apiserver": api_port},
            "etcd_url": f"http://127.0.0.1:{etcd_port}",
            "server": f"https://127.0.0.1:{api_port}",
            "token": token,
            "node": NODE_NAME,
            "pod_net": net,
            "pod_cidr": f"127.0.{net}.1/24",
            "pod_network": f"127.0.{net}.0/24",
            "extra_apiserver_args": self.extra_apiserver_args,
        }
        if backend == "node":
            lay = realnode.layout(net)
            names = ("kubelet", "kubelet_healthz", "proxy_healthz", "proxy_metrics")
            cfg["ports"].update(zip(names, node_ports, strict=True))
            cfg.update(
                node=lay["node"],
                pod_network=lay["pod_network"],
                pod_cidr=lay["pod_network"],
                service_cidr=lay["service_cidr"],
                apiserver_host=lay["bridge_ip"],
                server=f"https://{lay['bridge_ip']}:{api_port}",
                node_token=secrets.token_hex(24),
                proxy_token=secrets.token_hex(24),
            )
            tokens.append(f'{cfg["node_token"]},system:node:{lay["node"]},{lay["node"]},"system:nodes"')
            tokens.append(f'{cfg["proxy_token"]},system:kube-proxy,system:kube-proxy')
            realnode.make_kubelet_pki(pki)
            realnode.make_apiserver_cert(pki, lay)
        else:
            (self.state_dir / "kwok.yaml").write_text(KWOK_STAGES.lstrip())
        fd = os.open(pki / "tokens.csv", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(tokens) + "\n")
        self._save_config(cfg)
        return cfg

    def _save_config(self, cfg: dict) -> None:
        p = self.run_dir / "cluster.json"
        fd = os.open(p.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f, indent=2)
        os.replace(p.with_suffix(".tmp"), p)

    def missing_binaries(self, backend: str = "kwok") -> list[str]:
        needed = CONTROL_PLANE + BACKEND_BINARIES[backend]
        return [b for b in needed if not os.access(self.bin_dir / b, os.X_OK)]

    # ------------------------------------------------------------------ lifecycle

    def up(self, timeout: float = 180) -> bool:
        """Start the cluster; returns False if it was already running (then nothing changes)."""
        if self.is_running() and self.readyz():
            self._log(f"local cluster already running at {self.server} ({self.backend} backend)")
            return False
        if any(self.components().values()) or (self.base / "host-journal.json").exists():
            self._log("local cluster partially running; stopping the rest and starting afresh")
            self.down(quiet=True)
        backend = self.choose_backend()
        missing = self.missing_binaries(backend)
        if missing:
            raise ClusterError(
                f"missing binaries in {self.bin_dir}: {', '.join(missing)}; "
                "run scripts/build-local-cluster (or make cluster-build) first"
            )
        if self.backend_reason:
            self._log(f"  {self.backend_reason}")
        t0 = time.monotonic()
        deadline = t0 + timeout

        def left() -> float:
            return max(1.0, deadline - time.monotonic())

        if backend == "node":
            realnode.install_prerequisites(self._log)
            self._reclaim_abandoned_node()
            holder = realnode.claim_node(self.base)
            if holder:
                raise ClusterError(f"the real node slot is taken by the cluster in {holder}")
            # before anything touches the host: what to put back on down
            HostJournal(self.base / "host-journal.json").record()
        cfg = self._prepare(backend)
        if backend == "node":
            realnode.setup_network(self.layout)
        self._spawn("etcd", self._etcd_argv(cfg))
        wait_for(
            lambda: self._etcd_post("/v3/kv/range", {"key": "AA==", "limit": 1}, timeout=1),
            left(),
            "etcd",
            check=self._check_alive("etcd"),
        )
        self._log(f"  etcd ready ({time.monotonic() - t0:.1f}s)")
        self._start_apiserver(cfg, left())
        self._log(f"  kube-apiserver ready at {cfg['server']} ({time.monotonic() - t0:.1f}s)")
        self._write_kubeconfig(self.state_dir / "components.kubeconfig", cfg, ca_data=False)
        self._write_kubeconfig(self.kubeconfig_path, cfg, ca_data=True)
        self._spawn("kube-controller-manager", self._kcm_argv(cfg))
        self._spawn("kube-scheduler", self._scheduler_argv(cfg))
        kube = self.kube()
        if backend == "node":
            self._start_real_node(cfg, left)
        else:
            self._spawn("kwok", self._kwok_argv(cfg))
            argv, env = self._runner_argv(cfg)
            self._spawn("pod-runner", argv, env)
            self._create_node(kube)
        node_name = cfg["node"]

        def node_ready() -> bool:
            node = kube.get(f"/api/v1/nodes/{node_name}", ok_404=True) or {}
            conds = node.get("status", {}).get("conditions") or []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

        def check_all() -> None:
            for c in self.component_names():
                self._check_alive(c)()

        wait_for(node_ready, left(), f"node {node_name} Ready", interval=0.2, check=check_all)
        wait_for(
            lambda: kube.get(
                "/api/v1/namespaces/default/serviceaccounts/default", ok_404=True
            ),
            left(),
            "the default ServiceAccount",
            interval=0.2,
            check=check_all,
        )
        self._log(
            f"local cluster up in {time.monotonic() - t0:.1f}s ({backend} backend): {cfg['server']}, "
            f"pod IPs from {cfg['pod_network']} (export KUBECONFIG={self.kubeconfig})"
        )
        return True

    def _reclaim_abandoned_node(self) -> None:
        """A real node whose processes are gone (its session was killed) still holds the
        machine's slot and its host changes: put the host back before taking the slot."""
        holder = _real_node_owner(self.base)
        if holder and not _node_alive(holder):
            self._log(f"  the real node of {holder} was abandoned; restoring the host first")
            LocalCluster(self.root, base=holder, bin_dir=self.bin_dir, log=self._log).down(quiet=True)

    def _start_real_node(self, cfg: dict, left: Callable[[], float]) -> None:
        """containerd (with our images imported), then kubelet and kube-proxy."""
        lay = self.layout
        state = self.state_dir
        (self.base / "containerd").mkdir(exist_ok=True)
        (state / "cni" / "net.d").mkdir(parents=True, exist_ok=True)
        realnode.write_yaml_as_json(state / "cni" / "net.d" / "10-bitcoin-controller.conflist",
                                    realnode.cni_config(lay, state))
        (state / "containerd.toml").write_text(
            realnode.containerd_config(self.base, state, realnode.local_images(self.root)["pause"])
        )
        self._spawn("containerd", ["containerd", f"--config={state / 'containerd.toml'}"])
        sock = Path(self.containerd_address)
        wait_for(sock.exists, left(), "containerd's socket", check=self._check_alive("containerd"))
        self.import_images()
        realnode.create_node_cgroups(lay)
        for name, token in (("kubelet", cfg["node_token"]), ("kube-proxy", cfg["proxy_token"])):
            self._write_kubeconfig(state / f"{name}.kubeconfig", dict(cfg, token=token), ca_data=False,
                                   user=name)
        realnode.write_yaml_as_json(state / "kubelet.yaml", realnode.kubelet_config(lay, cfg, self.base, state))
        realnode.write_yaml_as_json(state / "kube-proxy.yaml", realnode.kube_proxy_config(lay, cfg, state))
        self._spawn("kubelet", [
            self._bin("kubelet"),
            f"--config={state / 'kubelet.yaml'}",
            f"--kubeconfig={state / 'kubelet.kubeconfig'}",
            f"--root-dir={state / 'kubelet'}",
            f"--cert-dir={state / 'kubelet' / 'pki'}",
            f"--hostname-override={lay['node']}",
            f"--node-ip={lay['bridge_ip']}",
            "--v=1",
        ])
        self._spawn("kube-proxy", [self._bin("kube-proxy"), f"--config={state / 'kube-proxy.yaml'}", "--v=1"])

    def tag_image(self, source: str, target: str) -> None:
        """Give an image in the real node's containerd another name (``ctr images tag``),
        e.g. a registry name that this machine cannot pull, so pods naming it run."""
        proc = subprocess.run(
            ["ctr", "--address", self.containerd_address, "-n", "k8s.io", "images", "tag", "--force", source, target],
            capture_output=True, text=True,
        )
        if proc.returncode:
            raise ClusterError(f"ctr images tag {source} {target}: {proc.stderr.strip()}")

    def import_images(self) -> None:
        """Build (cached by content) and import the local images into the node's containerd."""
        argv = [str(self.root / "scripts" / "build-images"), "--import", "--address", self.containerd_address,
                "--out", str(self.base / "images")]
        t0 = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode:
            raise ClusterError(f"building/importing the local images failed:\n{proc.stdout}{proc.stderr}")
        self._log(f"  images imported into containerd ({time.monotonic() - t0:.1f}s)")

    def _start_apiserver(self, cfg: dict, timeout: float) -> None:
        self._spawn("kube-apiserver", self._apiserver_argv(cfg))
        check = self._check_alive("kube-apiserver")
        if cfg.get("backend") != "node":  # the real node's certificate is ours, written before
            wait_for(lambda: Path(self.ca_file).exists(), timeout, "apiserver certificate", check=check)
        wait_for(self.readyz, timeout, "kube-apiserver /readyz", interval=0.2, check=check)

    def _create_node(self, kube: Kube) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "annotations": {
                    "kwok.x-k8s.io/node": "fake",
                    "node.alpha.kubernetes.io/ttl": "0",
                },
                "labels": {
                    "kubernetes.io/hostname": NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
            },
            "spec": {},
        }
        try:
            kube.post("/api/v1/nodes", node)
        except KubeError as e:
            if e.status != 409:
                raise

    def stop_component(self, name: str, grace: float = 10) -> None:
        rec = self._record(name)
        if rec:
            terminate_recorded(rec, grace)
        self._pidfile(name).unlink(missing_ok=True)

    def down(self, quiet: bool = False) -> None:
        """Stop every process this cluster started and remove its state (logs are kept).

        A real node also gets its pods' processes, mounts and every host change undone."""
        try:
            cfg = self.config
        except ClusterError:
            cfg = {}
        journal = self.base / "host-journal.json"
        backend = cfg.get("backend") or ("node" if journal.exists() else "kwok")
        stopped = []
        for name in reversed(CONTROL_PLANE + BACKEND_COMPONENTS[backend]):
            if self.component_running(name):
                stopped.append(name)
            grace = {"pod-runner": 40, "kube-apiserver": 1.5, "kubelet": 5}.get(name, 10)
            self.stop_component(name, grace=grace)
        # children of the pod runner that survived it (e.g. the runner was SIGKILLed)
        pods_run = self.run_dir / "pods"
        if pods_run.is_dir():
            for p in pods_run.glob("*.json"):
                try:
                    terminate_recorded(json.loads(p.read_text()), 5)
                except (OSError, ValueError):
                    pass
        if backend == "node" and "pod_net" in cfg:
            realnode.teardown(self.base, realnode.layout(cfg["pod_net"]), self._log)
        self._release_pod_network()
        for d in (self.state_dir, self.run_dir, self.pods_dir, self.base / "containerd"):
            shutil.rmtree(d, ignore_errors=True)
        self.kubeconfig_path.unlink(missing_ok=True)
        if not quiet:
            self._log(
                f"local cluster stopped ({', '.join(stopped)})" if stopped else
                "local cluster was not running; state cleaned"
            )

    def status(self) -> dict:
        comps = self.components()
        out: dict[str, Any] = {"components": comps, "running": all(comps.values())}
        try:
            cfg = self.config
            out["backend"] = cfg.get("backend", "kwok")
            out["node"] = cfg.get("node")
            out["server"] = cfg["server"]
            out["etcd"] = cfg["etcd_url"]
            out["kubeconfig"] = self.kubeconfig
            out["pod_network"] = cfg.get("pod_network")
            out["ready"] = comps["kube-apiserver"] and self.readyz()
        except ClusterError:
            out["ready"] = False
        return out

    # ------------------------------------------------------------------ test helpers

    def stop_apiserver(self, grace: float = 1.5) -> None:
        """Stop kube-apiserver (SIGTERM, then SIGKILL); etcd and everything else keep running.

        The apiserver stops listening at once on SIGTERM but its process lingers for ~10 s
        of shutdown hooks, hence the short default grace before SIGKILL."""
        self.stop_component("kube-apiserver", grace)

    def start_apiserver(
        self,
        timeout: float = 60,
        extra_args: list[str] | None = None,
        reconnect_control_plane: bool = True,
    ) -> None:
        """Start kube-apiserver again on the same port with the same state and certificate.

        ``extra_args`` (if given) replaces the extra apiserver flags from now on, e.g.
        ``["--watch-cache=false"]`` so that watches are served from etcd directly.

        ``reconnect_control_plane``: also restart kube-controller-manager, kube-scheduler
        and kwok once the apiserver is ready. Their client-go reflectors back off
        exponentially (up to about a minute) on every outage, so after a few apiserver
        restarts new namespaces would wait long for their ServiceAccount and new pods for
        scheduling. The pod runner and your own clients are left alone.
        """
        cfg = self.config
        if extra_args is not None:
            cfg["extra_apiserver_args"] = list(extra_args)
            self._save_config(cfg)
        if self.component_running("kube-apiserver"):
            raise ClusterError("kube-apiserver is already running")
        wait_for(
            lambda: _port_free(cfg["ports"]["apiserver"], cfg.get("apiserver_host", "127.0.0.1")),
            30,
            "the apiserver port to be free",
        )
        self._start_apiserver(cfg, timeout)
        if reconnect_control_plane:
            self.restart_control_plane_clients()

    def restart_control_plane_clients(self) -> None:
        """Restart kube-controller-manager, kube-scheduler and kwok (those that run)."""
        cfg = self.config
        argvs = {
            "kube-controller-manager": self._kcm_argv,
            "kube-scheduler": self._scheduler_argv,
            "kwok": self._kwok_argv,
        }
        for name, argv in argvs.items():
            if self.component_running(name):
                self.stop_component(name, grace=5)
                self._spawn(name, argv(cfg))

    def restart_apiserver(
        self,
        downtime: float = 0,
        timeout: float = 60,
        extra_args: list[str] | None = None,
        reconnect_control_plane: bool = True,
    ) -> None:
        """Stop kube-apiserver, keep it down for ``downtime`` seconds, start it again
        (see start_apiserver for the arguments)."""
        self.stop_apiserver()
        if downtime:
            time.sleep(downtime)
        self.start_apiserver(timeout, extra_args, reconnect_control_plane)

    def etcd_revision(self) -> int:
        """The current etcd revision (what resourceVersions are derived from)."""
        r = self._etcd_post("/v3/kv/range", {"key": "AA==", "limit": 1})
        return int(r["header"]["revision"])

    def compact_etcd(self, revision: int | None = None) -> int:
        """Compact etcd up to ``revision`` (default: the current revision); returns it.

        Watches and lists that reach etcd with an older resourceVersion then fail with
        410 Gone. The apiserver's watch cache still serves recent history from memory;
        start the apiserver with ``--watch-cache=false`` (see start_apiserver) to make
        every watch hit etcd.
        """
        rev = revision if revision is not None else self.etcd_revision()
        try:
            self._etcd_post("/v3/kv/compaction", {"revision": str(rev), "physical": True})
        except urllib.error.HTTPError as e:
            body = e.read().decode(errors="replace")
            if "compacted" not in body:  # already compacted that far: fine
                raise ClusterError(f"etcd compaction failed: {body}") from e
        return rev


def _real_node_owner(base: Path) -> str | None:
    """The base of the cluster that holds this machine's real node, if not ``base``."""
    owner = claims.read(realnode.NODE_CLAIM)
    if owner.get("base") == str(base) or realnode.claim_stale(owner):
        return None
    return owner.get("base")


def _node_alive(base: str) -> bool:
    """Whether the real node of the cluster in ``base`` still runs (containerd or kubelet)."""
    run = Path(base) / "run"
    for name in ("containerd", "kubelet"):
        try:
            if _record_alive(json.loads((run / f"{name}.pid").read_text())):
                return True
        except (OSError, ValueError):
            pass
    return False


def _real_node_holder(base: Path) -> str | None:
    """The base of a *running* cluster that holds this machine's real node (an abandoned
    one does not count: ``up`` restores its host changes and takes over)."""
    owner = _real_node_owner(base)
    return owner if owner and _node_alive(owner) else None


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()
