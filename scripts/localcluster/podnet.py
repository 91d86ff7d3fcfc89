"""Pod networks: claiming a free 127.0.N.0/24 for this cluster's pods, so local clusters
on one machine never share one."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from . import claims
from .common import ClusterError
from .processes import _record_alive

# Pod IPs: kwok hands out 127.0.<N>.1, .2, ... (the host part of --cidr is kept). N is 100
# unless another local cluster on this machine (another clone, a test run) holds that
# network; then the next free one up to 199 (claims in CIDR_CLAIMS_DIR).
POD_NET_FIRST, POD_NET_LAST = 100, 199
CIDR_CLAIMS_DIR = Path(tempfile.gettempdir()) / "localcluster-pod-networks"


class PodNetworkMixin:
    """Claims and releases this cluster's pod network (claims in CIDR_CLAIMS_DIR).

    Mixed into :class:`~.cluster.LocalCluster`, whose paths (``base``, ``state_dir``,
    ``run_dir``, ...) and ``config`` it uses.
    """

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
