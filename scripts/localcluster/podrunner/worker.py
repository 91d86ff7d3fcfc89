"""PodWorker: runs one pod's containers; the orchestrator over the per-job mixins."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .commands import CommandsMixin
from .common import STOPPED_CONDITION, TICK, ConfigError, log, now_iso
from .containers import Container
from .env import EnvMixin
from .lifecycle import LifecycleMixin
from .probes import ProbesMixin
from .status import StatusMixin
from .volumes import VolumesMixin

if TYPE_CHECKING:
    from .runner import Runner


class PodWorker(
    EnvMixin, VolumesMixin, CommandsMixin, LifecycleMixin, ProbesMixin, StatusMixin,
    threading.Thread,
):
    """Runs one pod (identified by UID) on one pod IP until it should stop.

    Each job lives in its own module (env, volumes, commands, lifecycle, probes, status);
    this class holds the pod's state and the loop that drives them, like a kubelet's
    pod worker driving its runtime, prober and status manager.
    """

    def __init__(self, runner: Runner, pod: dict):
        meta = pod["metadata"]
        super().__init__(name=f"pod-{meta['namespace']}/{meta['name']}", daemon=True)
        self.runner = runner
        self.kube = runner.kube
        self.uid = meta["uid"]
        self.ns = meta["namespace"]
        self.pod_name = meta["name"]
        self.ip = pod["status"]["podIP"]
        self.pod = pod
        self.root = runner.base / "pods" / f"{self.ns}_{self.pod_name}_{self.uid}"
        self.stop_requested = threading.Event()
        spec = pod["spec"]
        self.restart_policy = spec.get("restartPolicy") or "Always"
        self.init_containers = [Container(c, init=True) for c in spec.get("initContainers") or []]
        self.containers = [Container(c) for c in spec.get("containers") or []]
        self.init_done = not self.init_containers
        self.failed = False
        self.volumes: dict[str, Path] = {}
        self.volumes_ok = False
        self.volume_error = ""
        self.next_volume_sync = 0.0
        self.last_status: str | None = None
        self.patch_failing = False
        self.cond_times: dict[str, tuple[str, str]] = {}
        self.finished = False

    # ------------------------------------------------------------------ helpers

    def plog(self, container: str, msg: str) -> None:
        """A line in the container's log file (and the runner log)."""
        path = self.runner.base / "logs" / "pods" / f"{self.ns}_{self.pod_name}_{container}.log"
        with open(path, "a") as f:
            f.write(f"[pod-runner {now_iso()}] {msg}\n")
        log.info("%s/%s[%s]: %s", self.ns, self.pod_name, container, msg)

    def event(self, reason: str, message: str, kind: str = "Normal", container: str = "") -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{self.pod_name}.", "namespace": self.ns},
            "involvedObject": {
                "apiVersion": "v1", "kind": "Pod", "name": self.pod_name,
                "namespace": self.ns, "uid": self.uid,
                **({"fieldPath": f"spec.containers{{{container}}}"} if container else {}),
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "source": {"component": "local-pod-runner", "host": self.runner.node},
            "firstTimestamp": now_iso(),
            "lastTimestamp": now_iso(),
            "count": 1,
        }
        try:
            self.kube.post(f"/api/v1/namespaces/{self.ns}/events", body, timeout=5)
        except Exception as e:  # noqa: BLE001 - events are best effort
            log.debug("event failed: %s", e)

    # ------------------------------------------------------------------ main loop

    def should_stop(self) -> str:
        pod = self.runner.current(self.uid)
        if pod is None:
            return "pod deleted"
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            return "pod is being deleted"
        if pod.get("status", {}).get("podIP") != self.ip:
            return f"pod IP changed from {self.ip} to {pod.get('status', {}).get('podIP')}"
        if self.stop_requested.is_set():
            return "pod runner shutting down"
        return ""

    def run(self) -> None:
        try:
            self._run()
        except Exception:  # noqa: BLE001 - a worker must never take the runner down
            log.exception("%s/%s: worker failed", self.ns, self.pod_name)
            for c in self.init_containers + self.containers:
                self.kill(c, 2, "worker failed")
        finally:
            self.runner.release_ip(self.ip, self.uid)
            self.finished = True

    def _run(self) -> None:
        # another pod (e.g. a deleted predecessor) may still hold this IP; host-network
        # pods all share the node IP, so they don't queue for it
        host_network = bool(self.pod["spec"].get("hostNetwork"))
        while not host_network and not self.runner.acquire_ip(self.ip, self.uid):
            reason = self.should_stop()
            if reason:
                self.shutdown(reason)
                return
            time.sleep(TICK)
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            reason = self.should_stop()
            if reason:
                self.shutdown(reason)
                return
            try:
                self.step()
            except Exception:  # noqa: BLE001 - keep the pod's processes; retry next tick
                log.exception("%s/%s: step failed; retrying", self.ns, self.pod_name)
                self.stop_requested.wait(1)
            if self.failed or (self.containers and all(c.done for c in self.containers)):
                for c in self.init_containers + self.containers:
                    self.kill(c, self.grace(), "pod finished")
                self.patch_status(self.desired_status())
                self.plog(self.containers[0].name if self.containers else "pod",
                          f"pod finished ({self.desired_status()['phase']})")
                return
            self.stop_requested.wait(TICK)

    def step(self) -> None:
        now = time.monotonic()
        if now >= self.next_volume_sync:
            try:
                self.sync_volumes()
                self.volumes_ok = True
                self.volume_error = ""
                self.next_volume_sync = now + 10
            except ConfigError as e:
                if self.volume_error != str(e):
                    self.event("FailedMount", str(e), "Warning")
                    log.info("%s/%s: volumes: %s", self.ns, self.pod_name, e)
                self.volume_error = str(e)
                self.next_volume_sync = now + 2
                if not self.volumes_ok:
                    for c in self.init_containers + self.containers:
                        c.waiting = ("ContainerCreating", str(e))
        if not self.init_done:
            for c in self.init_containers:
                if c.spec.get("restartPolicy") == "Always":  # sidecar: must be started
                    self.reap(c)
                    if not c.running and time.monotonic() >= c.next_start:
                        self.start_container(c)
                    self.probe(c)
                    if not c.started:
                        break
                    continue
                if c.done:
                    continue
                self.reap(c)
                if not c.done and not c.running and time.monotonic() >= c.next_start:
                    self.start_container(c)
                if not c.done:
                    break
            else:
                self.init_done = True
            if not self.init_done:
                self.patch_status(self.desired_status())
                return
        for c in self.containers + [x for x in self.init_containers
                                    if x.spec.get("restartPolicy") == "Always"]:
            if c.done:
                continue
            self.reap(c)
            if c.done:
                continue
            if not c.running and time.monotonic() >= c.next_start:
                self.start_container(c)
            self.probe(c)
            self.reap(c)  # report a process that exited right away in this round already
        self.patch_status(self.desired_status())

    def shutdown(self, reason: str) -> None:
        everything = self.containers + self.init_containers
        had = any(c.proc is not None for c in everything)
        if had:
            self.event("Killing", f"Stopping pod: {reason}")
        # stop all containers in parallel, like a kubelet
        threads = [threading.Thread(target=self.kill, args=(c, self.grace(), reason))
                   for c in everything if c.proc is not None]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in everything:
            c.done = True
        if reason == "pod is being deleted":
            st = self.desired_status()
            st["conditions"].append(self.condition(STOPPED_CONDITION, True))
            self.patch_status(st, force=True)
            if self.last_status == json.dumps(st, sort_keys=True):
                self.runner.stop_reported.add(self.uid)
        shutil.rmtree(self.root, ignore_errors=True) if reason == "pod deleted" else None
