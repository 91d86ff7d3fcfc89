"""Throughput of the work queue against the standard library's ``queue.Queue``.

Not a test: run it by hand and read the figures::

    .venv/bin/python benchmarks/bench_workqueue.py [--items N] [--rounds R]

Each round pushes N distinct keys through one producer thread and two worker
threads, once through our named (metrics on) :class:`Queue` -- add -> get ->
done -- and once through ``queue.Queue`` -- put -> get -> task_done.  The two
runs alternate so that noise from other processes on the machine hits both
alike; the medians of the rounds are reported, with the ratio ours/stdlib
(of the medians, and the median of each round's ratio).

Our queue does more per item than ``queue.Queue`` (dirty/processing sets for
de-duplication, three metric updates and two clock readings), so the ratio
is expected to be below 1; the goal is to stay at or above 0.5.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import CollectorRegistry  # noqa: E402

from bitcoin_controller.clientgo.util.workqueue import (  # noqa: E402
    PrometheusMetricsProvider,
    Queue,
)

WORKERS = 2


def _timed_run(worker, producer, processed: list[int], expected: int) -> float:
    """Run WORKERS worker threads and one producer; seconds until all are done."""
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    prod = threading.Thread(target=producer)
    prod.start()
    prod.join()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert sum(processed) == expected, (sum(processed), expected)
    return elapsed


def run_workqueue(keys: list[str], provider: PrometheusMetricsProvider, round_no: int) -> float:
    """Seconds to push ``keys`` through our queue: 1 producer, WORKERS workers."""
    q = Queue(name=f"bench-{round_no}", metrics_provider=provider)
    processed = [0] * WORKERS

    def worker(index: int) -> None:
        count = 0
        while True:
            item, shutdown = q.get()
            if shutdown:
                break
            q.done(item)
            count += 1
        processed[index] = count

    def producer() -> None:
        for key in keys:
            q.add(key)
        # get() keeps returning queued items after shutdown, then reports it.
        q.shut_down()

    return _timed_run(worker, producer, processed, len(keys))


def run_stdlib(keys: list[str]) -> float:
    """Seconds for the same pattern on ``queue.Queue`` (sentinels end the workers)."""
    q: queue.Queue[str | None] = queue.Queue()
    processed = [0] * WORKERS

    def worker(index: int) -> None:
        count = 0
        while True:
            item = q.get()
            q.task_done()
            if item is None:
                break
            count += 1
        processed[index] = count

    def producer() -> None:
        for key in keys:
            q.put(key)
        for _ in range(WORKERS):
            q.put(None)

    return _timed_run(worker, producer, processed, len(keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    keys = [f"default/network-{i}" for i in range(args.items)]
    provider = PrometheusMetricsProvider(CollectorRegistry())
    ours: list[float] = []
    stdlib: list[float] = []
    for round_no in range(args.rounds):
        ours.append(run_workqueue(keys, provider, round_no))
        stdlib.append(run_stdlib(keys))

    ours_rate = args.items / statistics.median(ours)
    stdlib_rate = args.items / statistics.median(stdlib)
    # Thread scheduling makes single runs of either queue vary by up to 2x;
    # the ratio within each round (both runs back to back) is steadier.
    paired = statistics.median(s / o for o, s in zip(ours, stdlib, strict=True))
    print(f"items={args.items} producer=1 workers={WORKERS} rounds={args.rounds} (medians)")
    print(f"workqueue.Queue (named, metrics on): {ours_rate:12,.0f} items/s")
    print(f"queue.Queue (stdlib):                {stdlib_rate:12,.0f} items/s")
    print(f"ratio ours/stdlib:                   {ours_rate / stdlib_rate:12.2f}")
    print(f"ratio ours/stdlib, per round:        {paired:12.2f}")


if __name__ == "__main__":
    main()
