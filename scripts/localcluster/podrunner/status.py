"""Pod status: phase, container statuses and conditions, patched on the status subresource."""

from __future__ import annotations

import http.client
import json
from typing import TYPE_CHECKING, Any

from ..kube import KubeError
from .common import MAX_GRACE, log, now_iso

if TYPE_CHECKING:
    from .containers import Container


class StatusMixin:
    """Pod status: phase, container statuses and conditions, patched on the status subresource.

    Mixed into :class:`~.worker.PodWorker`, whose state (``pod``, ``kube``, ``root``,
    ``volumes``, ...) it reads and writes; kept apart so each job reads on its own.
    """

    def grace(self) -> float:
        meta, spec = self.pod["metadata"], self.pod["spec"]
        g = meta.get("deletionGracePeriodSeconds")
        if g is None:
            g = spec.get("terminationGracePeriodSeconds", 30)
        return float(min(max(g, 1), MAX_GRACE))

    def container_status(self, c: Container) -> dict:
        if c.running:
            state = {"running": {"startedAt": c.started_at}, "waiting": None, "terminated": None}
        elif c.terminated and (c.done or not c.waiting[0]):
            state = {"terminated": c.terminated, "waiting": None, "running": None}
        else:
            reason, msg = c.waiting
            w = {"reason": reason or "ContainerCreating"}
            if msg:
                w["message"] = msg
            state = {"waiting": w, "running": None, "terminated": None}
        st = {
            "name": c.name,
            "image": c.spec.get("image", ""),
            "imageID": "",
            "ready": c.ready,
            "started": c.started,
            "restartCount": c.restart_count,
            "state": state,
        }
        if c.running:
            st["containerID"] = f"local://{c.proc.pid}"
        if c.last_terminated and (c.running or not c.done):
            st["lastState"] = {"terminated": c.last_terminated}
        return st

    def condition(self, ctype: str, ok: bool, reason: str = "", message: str = "") -> dict:
        status = "True" if ok else "False"
        prev = self.cond_times.get(ctype)
        if prev is None or prev[0] != status:
            self.cond_times[ctype] = (status, now_iso())
        d = {"type": ctype, "status": status,
             "lastTransitionTime": self.cond_times[ctype][1], "lastProbeTime": None}
        d["reason"] = reason if reason and not ok else None
        d["message"] = message if message and not ok else None
        return d

    def desired_status(self) -> dict:
        main = self.containers
        all_ready = bool(main) and all(c.ready for c in main)
        not_ready = [c.name for c in main if not c.ready]
        if self.failed:
            phase = "Failed"
        elif all(c.done for c in main) and main:
            phase = "Succeeded" if all(c.exit_code == 0 for c in main) else "Failed"
        elif self.init_done and any(c.running or c.restart_count or c.terminated for c in main):
            phase = "Running"
        else:
            phase = "Pending"
        gates_ok = True
        existing = {c["type"]: c for c in self.pod.get("status", {}).get("conditions") or []}
        for g in self.pod["spec"].get("readinessGates") or []:
            if existing.get(g["conditionType"], {}).get("status") != "True":
                gates_ok = False
        msg = f"containers with unready status: [{' '.join(not_ready)}]" if not_ready else ""
        conds = [
            self.condition("Initialized", self.init_done, "ContainersNotInitialized",
                           "containers with incomplete status: "
                           f"[{' '.join(c.name for c in self.init_containers if not c.done)}]"),
            self.condition("ContainersReady", all_ready, "ContainersNotReady", msg),
            self.condition("Ready", all_ready and gates_ok,
                           "ContainersNotReady" if not all_ready else "ReadinessGatesNotReady",
                           msg or "the status of pod readiness gates is not \"True\""),
        ]
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": conds,
            "containerStatuses": [self.container_status(c) for c in main],
        }
        if self.init_containers:
            status["initContainerStatuses"] = [
                self.container_status(c) for c in self.init_containers]
        return status

    def patch_status(self, status: dict, force: bool = False) -> None:
        # compare without timestamps that don't change the meaning
        key = json.dumps(status, sort_keys=True)
        if key == self.last_status and not force:
            return
        try:
            self.kube.patch_status(self.ns, self.pod_name, status)
            self.last_status = key
            self.patch_failing = False
            return
        except KubeError as e:
            if e.status == 404:
                self.last_status = key
                return
            err: Exception = e
        except (OSError, http.client.HTTPException) as e:
            err = e
        # retried next round; warn once per outage, not every round
        if not self.patch_failing:
            log.warning("%s/%s: status patch failed (will retry): %s", self.ns, self.pod_name, err)
        self.patch_failing = True
