"""The control plane's command lines (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler), starting the apiserver, and the HTTP calls that check and drive it."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from .common import SERVICE_CIDR, ClusterError
from .processes import wait_for


class ControlPlaneMixin:
    """Builds the control plane's argv and talks to the running apiserver and etcd.

    Mixed into :class:`~.cluster.LocalCluster`, whose paths (``base``, ``state_dir``,
    ``run_dir``, ...) and ``config`` it uses.
    """

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

    def _start_apiserver(self, cfg: dict, timeout: float) -> None:
        self._spawn("kube-apiserver", self._apiserver_argv(cfg))
        check = self._check_alive("kube-apiserver")
        if cfg.get("backend") != "node":  # the real node's certificate is ours, written before
            wait_for(lambda: Path(self.ca_file).exists(), timeout, "apiserver certificate", check=check)
        wait_for(self.readyz, timeout, "kube-apiserver /readyz", interval=0.2, check=check)

    # ------------------------------------------------------------------ HTTP to apiserver and etcd

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
