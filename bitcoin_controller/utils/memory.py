"""glibc malloc tuning for a long-running, many-threaded Python process.

Python objects up to 512 bytes come from its own allocator; everything
bigger -- HTTP bodies, large JSON strings, big dicts' tables -- from the C
library's ``malloc``.  glibc gives every thread that allocates its own arena
(up to 8 per core), and frees memory back to the system only from the top of
each heap.  A controller has some thirty threads (informers, workers, event
sink, HTTP servers) and decodes large LIST responses at start-up, so both
effects leave megabytes resident that hold nothing.  Two standard remedies,
both no-ops where the C library is not glibc:

* :func:`limit_arenas` -- ``mallopt(M_ARENA_MAX, n)`` (what the
  ``MALLOC_ARENA_MAX`` environment variable does), before threads start;
* :func:`trim` -- ``malloc_trim(0)``: hand free pages inside the heaps back
  to the kernel; cheap (milliseconds), run periodically.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["limit_arenas", "trim", "start_trimming"]

_M_ARENA_MAX = -8
_libc: Any = None


def _glibc() -> Any:
    global _libc
    if _libc is None:
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc only: both must exist
            _libc = libc
        except (OSError, AttributeError):
            _libc = False
    return _libc


def limit_arenas(arenas: int = 2) -> bool:
    """At most ``arenas`` malloc arenas (call before starting threads); False if not glibc."""
    libc = _glibc()
    return bool(libc) and libc.mallopt(_M_ARENA_MAX, arenas) == 1


def trim() -> bool:
    """Return free heap pages to the kernel; True if glibc released any."""
    libc = _glibc()
    return bool(libc) and libc.malloc_trim(0) == 1


def start_trimming(stop: threading.Event, period: float = 30.0) -> threading.Thread | None:
    """A daemon thread that trims every ``period`` seconds until ``stop`` is set."""
    if not _glibc():
        return None

    def loop() -> None:
        while not stop.wait(period):
            trim()

    thread = threading.Thread(target=loop, name="malloc-trim", daemon=True)
    thread.start()
    return thread
