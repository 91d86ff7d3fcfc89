"""Probes: ProbeState (thresholds, periods) and running readiness/liveness/startup probes."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .common import ConfigError
from .env import expand

if TYPE_CHECKING:
    from .containers import Container


@dataclass
class ProbeState:
    spec: dict
    successes: int = 0
    failures: int = 0
    result: bool | None = None  # None: not yet decided
    next_run: float = 0.0
    last_message: str = ""

    @property
    def period(self) -> float:
        return float(self.spec.get("periodSeconds") or 10)

    @property
    def timeout(self) -> float:
        return float(self.spec.get("timeoutSeconds") or 1)

    def record(self, ok: bool, message: str) -> None:
        self.last_message = message
        if ok:
            self.successes += 1
            self.failures = 0
            if self.successes >= int(self.spec.get("successThreshold") or 1):
                self.result = True
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= int(self.spec.get("failureThreshold") or 3):
                self.result = False


class ProbesMixin:
    """Runs a container's probes and restarts it when liveness or startup fails.

    Mixed into :class:`~.worker.PodWorker` (uses its ``ip``, ``mounts``, ``kill``, ...).
    """

    def run_probe(self, c: Container, probe: ProbeState) -> tuple[bool, str]:
        spec = probe.spec
        timeout = probe.timeout
        try:
            if "tcpSocket" in spec:
                t = spec["tcpSocket"]
                port = self.port(c, t["port"])
                with socket.create_connection((t.get("host") or self.ip, port), timeout=timeout):
                    return True, ""
            if "httpGet" in spec:
                h = spec["httpGet"]
                port = self.port(c, h["port"])
                host = h.get("host") or self.ip
                if (h.get("scheme") or "HTTP").upper() == "HTTPS":
                    ctx = ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
                else:
                    conn = http.client.HTTPConnection(host, port, timeout=timeout)
                try:
                    headers = {x["name"]: x["value"] for x in h.get("httpHeaders") or []}
                    conn.request("GET", h.get("path") or "/", headers=headers)
                    r = conn.getresponse()
                    r.read()
                    return 200 <= r.status < 400, f"HTTP {r.status}"
                finally:
                    conn.close()
            if "exec" in spec:
                _argv, env, cwd = c.argv_env or ([], {}, str(self.root))
                mounts = self.mounts(c)
                # like a kubelet: only env entries with a literal value are expanded here
                # (use `sh -c '... $POD_IP'` for the others)
                static = {e["name"]: expand(e.get("value", ""), {})
                          for e in c.spec.get("env") or [] if "valueFrom" not in e}
                cmd = [self.map_paths(expand(x, static), mounts)
                       for x in spec["exec"]["command"]]
                cmd[0] = self.resolve_command(cmd[0], c.spec.get("image", ""))
                r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True,
                                   timeout=max(timeout, 1), stdin=subprocess.DEVNULL)
                out = (r.stdout + r.stderr).decode(errors="replace").strip()[-300:]
                return r.returncode == 0, out
            if "grpc" in spec:
                port = self.port(c, spec["grpc"]["port"])
                with socket.create_connection((self.ip, port), timeout=timeout):
                    return True, "grpc probe approximated by a TCP connect"
        except (OSError, subprocess.TimeoutExpired, http.client.HTTPException) as e:
            return False, str(e) or type(e).__name__
        except ConfigError as e:
            return False, str(e)
        return False, "unsupported probe"

    @staticmethod
    def port(c: Container, port: Any) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for p in c.spec.get("ports") or []:
            if p.get("name") == port:
                return int(p["containerPort"])
        raise ConfigError("ProbeError", f"no container port named {port!r}")

    def probe(self, c: Container) -> None:
        if not c.running:
            return
        now = time.monotonic()
        age = now - c.started_mono
        order = [c.startup] if (c.startup and c.startup.result is not True) else [
            c.liveness, c.readiness]
        for p in order:
            if p is None:
                continue
            if age < float(p.spec.get("initialDelaySeconds") or 0) or now < p.next_run:
                continue
            ok, msg = self.run_probe(c, p)
            p.next_run = time.monotonic() + p.period
            before = p.result
            p.record(ok, msg)
            kind = ("startup" if p is c.startup else "liveness" if p is c.liveness
                    else "readiness")
            if before != p.result and p.result is not None:
                self.plog(c.name, f"{kind} probe {'succeeded' if p.result else 'failed'}"
                          f"{': ' + msg if msg and not p.result else ''}")
            if p.result is False and p is not c.readiness:
                self.event("Unhealthy", f"{kind.capitalize()} probe failed: {msg}",
                           "Warning", c.name)
                self.kill(c, self.grace(), f"{kind} probe failed")
                self.apply_restart_policy(c, c.exit_code if c.exit_code is not None else 1)
                return
