"""Start, stop and inspect the local cluster: etcd, kube-apiserver, kube-controller-manager
and kube-scheduler as plain processes, plus one node of either backend:

* ``node``: a real node (containerd, kubelet, kube-proxy; see node.py). Pods are real
  containers from images imported into containerd, with addresses on a bridge of ours.
  Needs root and the runtime packages (installed with apt-get when missing).
* ``kwok``: a kwok fake node plus the pod runner, which starts pods' containers as local
  processes on 127.0.N.x (no root, no images; see podrunner/).

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

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import node as realnode
from .common import (
    ADMIN_USER,
    BACKEND_BINARIES,
    BACKEND_COMPONENTS,
    BACKENDS,
    BINARIES,
    COMPONENTS,
    CONTROL_PLANE,
    NODE_IP,
    NODE_NAME,
    SERVICE_CIDR,
    ClusterError,
)
from .config import ConfigMixin
from .controlplane import ControlPlaneMixin
from .host import HostJournal
from .kube import Kube
from .kwok import KWOK_STAGES, KwokBackendMixin
from .nodebackend import NodeBackendMixin, _node_alive, _real_node_holder, _real_node_owner
from .podnet import CIDR_CLAIMS_DIR, POD_NET_FIRST, POD_NET_LAST, PodNetworkMixin
from .processes import (
    ProcessesMixin,
    _free_ports,
    _port_free,
    _proc_starttime,
    _record_alive,
    terminate_recorded,
    wait_for,
)

# the names this module had before its jobs moved to their own modules (kept importable)
__all__ = [
    "ADMIN_USER", "BACKENDS", "BACKEND_BINARIES", "BACKEND_COMPONENTS", "BINARIES",
    "CIDR_CLAIMS_DIR", "COMPONENTS", "CONTROL_PLANE", "KWOK_STAGES", "NODE_IP", "NODE_NAME",
    "POD_NET_FIRST", "POD_NET_LAST", "SERVICE_CIDR", "ClusterError", "LocalCluster",
    "_free_ports", "_node_alive", "_port_free", "_proc_starttime", "_real_node_holder",
    "_real_node_owner", "_record_alive", "terminate_recorded", "wait_for",
]


class LocalCluster(
    ProcessesMixin, PodNetworkMixin, ConfigMixin, ControlPlaneMixin, KwokBackendMixin,
    NodeBackendMixin,
):
    """The local cluster rooted at ``<root>/.local-cluster``.

    The public API (up, down, status, the properties, the test helpers) is here; each job
    is a mixin in its own module: processes (spawn, pid records, stop), podnet (pod network
    claims), config (PKI, tokens, cluster.json, kubeconfigs), controlplane (argv, apiserver
    and etcd calls), kwok and nodebackend (the two node backends).

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

    # ------------------------------------------------------------------ clients

    def token(self) -> str:
        return self.config["token"]

    def kube(self) -> Kube:
        """A small stdlib REST client authenticated as the cluster admin."""
        return Kube(self.server, self.token(), self.ca_file)

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
