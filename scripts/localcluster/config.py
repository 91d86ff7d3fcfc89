"""Cluster configuration on disk: PKI, the token file, cluster.json and kubeconfigs."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

from . import node as realnode
from .common import ADMIN_USER, BACKEND_COMPONENTS, CONTROL_PLANE, NODE_NAME
from .kwok import KWOK_STAGES
from .processes import _free_ports


class ConfigMixin:
    """Writes a new cluster's state: keys, tokens, ports (cluster.json), kubeconfigs.

    Mixed into :class:`~.cluster.LocalCluster`, whose paths (``base``, ``state_dir``,
    ``run_dir``, ...) and ``config`` it uses.
    """

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
