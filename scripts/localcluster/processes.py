"""Processes: spawning components, their pid records (with start times), stopping them,
waiting for conditions."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import BACKEND_COMPONENTS, CONTROL_PLANE, ClusterError


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


class ProcessesMixin:
    """Component processes: spawn with a pid record, check, tail logs, stop.

    Mixed into :class:`~.cluster.LocalCluster` (uses ``run_dir``, ``log_dir``, ``backend``).
    """

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

    def stop_component(self, name: str, grace: float = 10) -> None:
        rec = self._record(name)
        if rec:
            terminate_recorded(rec, grace)
        self._pidfile(name).unlink(missing_ok=True)
