"""The real-node backend's start-up as LocalCluster drives it: containerd with our images,
kubelet, kube-proxy, and taking over an abandoned real node (the node's own jobs: node.py)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from . import claims
from . import node as realnode
from .common import ClusterError
from .processes import _record_alive, wait_for


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


class NodeBackendMixin:
    """Starts the real node (containerd, images, kubelet, kube-proxy).

    Mixed into :class:`~.cluster.LocalCluster`, whose paths (``base``, ``state_dir``,
    ``run_dir``, ...) and ``config`` it uses.
    """

    def _reclaim_abandoned_node(self) -> None:
        """A real node whose processes are gone (its session was killed) still holds the
        machine's slot and its host changes: put the host back before taking the slot."""
        holder = _real_node_owner(self.base)
        if holder and not _node_alive(holder):
            self._log(f"  the real node of {holder} was abandoned; restoring the host first")
            type(self)(self.root, base=holder, bin_dir=self.bin_dir, log=self._log).down(quiet=True)

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
