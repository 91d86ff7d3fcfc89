"""glibc malloc tuning helpers (issue 12, item 4)."""

from __future__ import annotations

import threading

from waiting import wait_for

from bitcoin_controller.utils import memory


def test_trim_and_arena_limit_are_safe_to_call_unit():
    glibc = bool(memory._glibc())
    assert memory.limit_arenas(2) is glibc
    blocks = [bytearray(1 << 20) for _ in range(8)]  # freed below: something to hand back
    del blocks
    assert memory.trim() in (True, False)
    if not glibc:
        assert memory.trim() is False


def test_trimming_thread_stops_with_the_process_unit():
    stop = threading.Event()
    thread = memory.start_trimming(stop, period=0.01)
    if thread is None:  # not glibc: nothing started
        return
    assert thread.daemon and thread.is_alive()
    stop.set()
    wait_for(lambda: not thread.is_alive(), "the trimming thread to end")
