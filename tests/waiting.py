"""Deadline-bounded waits for state that other threads change.

Tests never sleep to synchronise: they poll a predicate until it holds or a
deadline passes.  The 1 ms pause between polls is only the polling interval.
Anything that depends on *time* passing is driven by a FakeClock instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["DEADLINE", "wait_until", "wait_for"]

#: Real seconds a test waits for another thread before it fails.
DEADLINE = 5.0


def wait_until(predicate: Callable[[], object], timeout: float = DEADLINE) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.001)
    return True


def wait_for(predicate: Callable[[], object], what: str = "condition", timeout: float = DEADLINE) -> None:
    """Like :func:`wait_until`, but fail the test with ``what`` when the deadline passes."""
    assert wait_until(predicate, timeout), f"timed out waiting for {what}"
