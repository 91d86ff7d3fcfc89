"""Container: one container's process, restart and probe state inside a pod worker."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .probes import ProbeState


@dataclass
class Container:
    spec: dict
    init: bool = False
    proc: subprocess.Popen | None = None
    started_at: str | None = None
    started_mono: float = 0.0
    restart_count: int = 0
    next_start: float = 0.0
    backoff: float = 0.0
    done: bool = False  # terminated and not to be restarted
    exit_code: int | None = None
    last_terminated: dict | None = None
    terminated: dict | None = None
    waiting: tuple[str, str] = ("ContainerCreating", "")
    readiness: ProbeState | None = None
    liveness: ProbeState | None = None
    startup: ProbeState | None = None
    record_path: Path | None = None
    argv_env: tuple[list[str], dict[str, str], str] | None = None
    ever_started: bool = False

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def reset_probes(self) -> None:
        self.readiness = ProbeState(self.spec["readinessProbe"]) if self.spec.get(
            "readinessProbe") else None
        self.liveness = ProbeState(self.spec["livenessProbe"]) if self.spec.get(
            "livenessProbe") else None
        self.startup = ProbeState(self.spec["startupProbe"]) if self.spec.get(
            "startupProbe") else None
        if self.liveness:
            self.liveness.result = True

    @property
    def started(self) -> bool:
        return self.running and (self.startup is None or self.startup.result is True)

    @property
    def ready(self) -> bool:
        if not self.started:
            return False
        if self.readiness is None:
            return True
        return self.readiness.result is True
