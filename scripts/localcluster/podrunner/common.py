"""What every part of the pod runner shares: its logger, timing constants, ConfigError."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

log = logging.getLogger("pod-runner")

STOPPED_CONDITION = "LocalRunnerStopped"
MAX_GRACE = 30.0
TICK = 0.2


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ConfigError(Exception):
    """The container can't be configured yet (missing Secret/ConfigMap key, unknown image)."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)
