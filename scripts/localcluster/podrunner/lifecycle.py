"""Container lifecycle: start a container's process, stop it, reap it, apply the restart policy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import TYPE_CHECKING

from ..processes import _proc_starttime
from .common import ConfigError, now_iso

if TYPE_CHECKING:
    from .containers import Container


class LifecycleMixin:
    """Container lifecycle: start a container's process, stop it, reap it, apply the restart policy.

    Mixed into :class:`~.worker.PodWorker`, whose state (``pod``, ``kube``, ``root``,
    ``volumes``, ...) it reads and writes; kept apart so each job reads on its own.
    """

    def start_container(self, c: Container) -> None:
        try:
            if not self.volumes_ok:
                raise ConfigError("ContainerCreating", self.volume_error or "volumes not ready")
            argv, env, cwd = self.prepare(c)
        except ConfigError as e:
            msg = str(e)
            if c.waiting != (e.reason, msg):
                self.plog(c.name, f"cannot start container: {e.reason}: {msg}")
                self.event("Failed", f"Error: {msg}", "Warning", c.name)
            c.waiting = (e.reason, msg)
            c.next_start = time.monotonic() + 2
            return
        c.argv_env = (argv, env, cwd)
        logpath = self.runner.base / "logs" / "pods" / f"{self.ns}_{self.pod_name}_{c.name}.log"
        # Log the command as the pod spec has it: expanded $(VAR)s can hold
        # Secret values, which must never reach a log.
        spec_argv = (c.spec.get("command") or [argv[0]]) + (c.spec.get("args") or [])
        self.plog(c.name, f"starting (pod uid {self.uid}, ip {self.ip}): {' '.join(spec_argv)}")
        with open(logpath, "ab") as out:
            try:
                c.proc = subprocess.Popen(
                    argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )
            except OSError as e:
                c.waiting = ("RunContainerError", str(e))
                c.next_start = time.monotonic() + 2
                self.plog(c.name, f"start failed: {e}")
                return
        if c.ever_started:
            c.restart_count += 1
        c.ever_started = True
        c.started_at = now_iso()
        c.started_mono = time.monotonic()
        c.terminated = None
        c.waiting = ("", "")
        c.reset_probes()
        rec = {"pid": c.proc.pid, "starttime": None, "argv0": argv[0]}
        for _ in range(50):
            rec["starttime"] = _proc_starttime(c.proc.pid)
            if rec["starttime"] or c.proc.poll() is not None:
                break
            time.sleep(0.01)
        c.record_path = self.runner.base / "run" / "pods" / f"{self.uid}_{c.name}.json"
        c.record_path.write_text(json.dumps(rec))
        self.event("Started", f"Started container {c.name}", container=c.name)

    def kill(self, c: Container, grace: float, reason: str = "") -> None:
        if c.proc is None:
            return
        if c.running:
            self.plog(c.name, f"stopping (SIGTERM, grace {grace:.0f}s){': ' + reason if reason else ''}")
            try:
                os.killpg(c.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                c.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.plog(c.name, "grace period over, SIGKILL")
                try:
                    os.killpg(c.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                c.proc.wait()
        # the process group may still have members (e.g. a shell's children)
        try:
            os.killpg(c.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.reap(c, expected=True)

    def reap(self, c: Container, expected: bool = False) -> None:
        """Record a finished process; decide whether and when to restart it."""
        if c.proc is None or c.proc.poll() is None:
            return
        code = c.proc.returncode
        if code < 0:
            code = 128 - code  # killed by signal N -> 128+N, like a container runtime
        term = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": c.started_at,
            "finishedAt": now_iso(),
            "containerID": f"local://{c.proc.pid}",
        }
        if not expected:
            self.plog(c.name, f"process exited with code {code}")
        c.proc = None
        c.exit_code = code
        c.terminated = term
        c.last_terminated = term
        if c.record_path:
            c.record_path.unlink(missing_ok=True)
            c.record_path = None
        if not expected:
            self.apply_restart_policy(c, code)

    def apply_restart_policy(self, c: Container, code: int) -> None:
        policy = self.restart_policy
        if c.init and c.spec.get("restartPolicy") == "Always":
            policy = "Always"  # a sidecar
        elif c.init:
            if code == 0:
                c.done = True
                return
            if policy == "Never":
                c.done = True
                self.failed = True
                return
            policy = "OnFailure"
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            ran = time.monotonic() - c.started_mono
            c.backoff = 1.0 if ran > 30 or c.backoff == 0 else min(c.backoff * 2, 20.0)
            c.next_start = time.monotonic() + c.backoff
            c.waiting = ("CrashLoopBackOff",
                         f"back-off {c.backoff:.0f}s restarting failed container={c.name}")
            self.event("BackOff", "Back-off restarting failed container", "Warning", c.name)
        else:
            c.done = True
