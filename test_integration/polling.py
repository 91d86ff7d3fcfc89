"""Deadline-bounded polling for the integration tests.

Tests poll a condition against external processes (the API server, daemons)
until it holds or a deadline passes; they never sleep to synchronise.  The
pause between polls only bounds the load on what is being polled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["wait_for"]


def wait_for(
    cond: Callable[[], Any], timeout: float, what: str = "condition", interval: float = 0.05
) -> Any:
    """Poll ``cond`` until it returns something truthy; fail after ``timeout`` seconds.

    Exceptions from ``cond`` count as "not yet" (e.g. a NotFound while an
    object is still being created); the last one is reported on timeout.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = cond()
            if value:
                return value
            last = value
        except Exception as err:  # noqa: BLE001 - keep polling, report the last error
            last = err
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        # Polling an external process: the pause bounds the load, the deadline the wait.
        time.sleep(interval)
