"""Benchmark: DeltaFIFO + indexer throughput against json.loads, and cache memory.

Run:  .venv/bin/python benchmarks/bench_delta_fifo.py

What it measures (10,000 realistic pod-sized objects, ~2.5 KB of JSON each):

(a) ``json.loads`` of every object -- the floor any Python informer pays to
    receive objects, used as the yardstick;
(b) the informer hot path without handlers: one 10,000-object ``replace``
    into a DeltaFIFO whose ``known_objects`` is an indexer with the namespace
    index, popped into that indexer by key (like an informer's process
    function); then 10,000 updates (new resourceVersions) popped likewise.
    Figures are objects/s and the ratio to (a) measured in the same run.
(c) memory of 10,000 cached pod dicts in the indexer: tracemalloc (Python
    allocations) and the RSS growth (``resource.getrusage`` max RSS), measured
    in a fresh child process so earlier phases do not pollute the peak.
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bitcoin_controller.clientgo.tools.cache import (  # noqa: E402
    NAMESPACE_INDEX,
    DeltaFIFO,
    Deltas,
    DeltaType,
    deletion_handling_meta_namespace_key_func,
    meta_namespace_index_func,
    new_indexer,
)

N = 10_000
NAMESPACES = [f"team-{i}" for i in range(20)]


def make_pod(i: int, rv: int) -> dict[str, Any]:
    """A pod shaped like what the API server sends (labels, owner, managedFields...)."""
    ns = NAMESPACES[i % len(NAMESPACES)]
    name = f"web-{i:05d}-7d9f8c6b5-{i * 7919 % 100000:05d}"
    uid = f"{i:08x}-1c2d-4e5f-8a9b-{i * 31337 % 16**12:012x}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "generateName": f"web-{i:05d}-7d9f8c6b5-",
            "namespace": ns,
            "uid": uid,
            "resourceVersion": str(rv),
            "creationTimestamp": "2026-11-20T10:15:30Z",
            "labels": {
                "app": "web",
                "tier": "frontend",
                "pod-template-hash": "7d9f8c6b5",
                "version": f"v{i % 7}",
                "shard": str(i % 16),
            },
            "annotations": {
                "kubectl.kubernetes.io/restartedAt": "2026-11-20T10:15:00Z",
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "9100",
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"web-{i:05d}-7d9f8c6b5",
                    "uid": f"rs-{uid}",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [
                {
                    "manager": "kube-controller-manager",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-11-20T10:15:30Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:metadata": {
                            "f:generateName": {},
                            "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
                            "f:ownerReferences": {".": {}, f'k:{{"uid":"rs-{uid}"}}': {}},
                        },
                        "f:spec": {
                            "f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}}},
                            "f:restartPolicy": {},
                        },
                    },
                },
                {
                    "manager": "kubelet",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-11-20T10:15:42Z",
                    "fieldsType": "FieldsV1",
                    "subresource": "status",
                    "fieldsV1": {
                        "f:status": {
                            "f:conditions": {'k:{"type":"Ready"}': {".": {}, "f:status": {}}},
                            "f:podIP": {},
                        }
                    },
                },
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "registry.example.com/web:1.24.3",
                    "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                    "env": [{"name": f"VAR_{k}", "value": f"value-{k}-{i}"} for k in range(4)],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                    },
                    "readinessProbe": {
                        "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                        "periodSeconds": 10,
                    },
                    "volumeMounts": [
                        {
                            "name": "kube-api-access",
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                            "readOnly": True,
                        }
                    ],
                    "imagePullPolicy": "IfNotPresent",
                }
            ],
            "volumes": [{"name": "kube-api-access", "projected": {"defaultMode": 420}}],
            "restartPolicy": "Always",
            "serviceAccountName": "default",
            "nodeName": f"node-{i % 50}",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": "2026-11-20T10:15:42Z"}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "hostIP": f"10.0.{i % 50}.1",
            "podIP": f"10.244.{i // 250}.{i % 250}",
            "podIPs": [{"ip": f"10.244.{i // 250}.{i % 250}"}],
            "startTime": "2026-11-20T10:15:31Z",
            "containerStatuses": [
                {
                    "name": "web",
                    "ready": True,
                    "restartCount": 0,
                    "image": "registry.example.com/web:1.24.3",
                    "containerID": f"containerd://{i:064x}",
                    "state": {"running": {"startedAt": "2026-11-20T10:15:40Z"}},
                }
            ],
        },
    }


def encoded_pods(rv: int) -> list[bytes]:
    return [json.dumps(make_pod(i, rv + i), separators=(",", ":")).encode() for i in range(N)]


def new_cache() -> Any:
    return new_indexer(
        deletion_handling_meta_namespace_key_func, {NAMESPACE_INDEX: meta_namespace_index_func}
    )


def informer_process(indexer: Any):
    """What an informer's process function does to its indexer (handlers aside)."""
    deleted = DeltaType.DELETED

    def process(deltas: Deltas, is_in_initial_list: bool) -> None:
        for delta in deltas:
            if delta.type is deleted:
                indexer.delete(delta.object)
            else:
                # add and update are the same store write; an informer only
                # needs the old object (get) to pick OnAdd vs OnUpdate.
                indexer.get(delta.object)
                indexer.update(delta.object)

    return process


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def throughput() -> None:
    initial = encoded_pods(rv=1_000)
    updated_bytes = encoded_pods(rv=100_000)
    size = sum(map(len, initial)) / N
    print(f"objects: {N} pods, {size:.0f} bytes of JSON each on average")

    # (a) json.loads baseline (best of 3, so a stray hiccup does not flatter the ratio).
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        objs = [json.loads(b) for b in initial]
        best = min(best, time.perf_counter() - t0)
    loads_rate = rate(N, best)
    print(f"(a) json.loads:             {loads_rate:>12,.0f} objects/s  (the baseline)")
    # Context only: much of json.loads' cost at this scale is the cyclic GC
    # re-scanning the growing heap of decoded dicts.  The FIFO phases allocate
    # little, so the GC barely touches them.
    del objs
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        objs = [json.loads(b) for b in initial]
        no_gc_rate = rate(N, time.perf_counter() - t0)
    finally:
        gc.enable()
    print(f"    json.loads, GC disabled: {no_gc_rate:>11,.0f} objects/s  (context only)")

    updates = [json.loads(b) for b in updated_bytes]
    indexer = new_cache()
    fifo = DeltaFIFO(
        key_function=deletion_handling_meta_namespace_key_func,
        known_objects=indexer,
        emit_delta_type_replaced=True,
    )
    process = informer_process(indexer)

    # (b1) relist: replace + pop everything into the indexer.
    t0 = time.perf_counter()
    fifo.replace(objs, "1000")
    for _ in range(N):
        fifo.pop(process)
    replace_seconds = time.perf_counter() - t0
    assert fifo.has_synced() and len(indexer.list_keys()) == N

    # (b2) watch updates: update + pop, one at a time like a live watch stream.
    t0 = time.perf_counter()
    for obj in updates:
        fifo.update(obj)
        fifo.pop(process)
    update_seconds = time.perf_counter() - t0
    last_key = deletion_handling_meta_namespace_key_func(updates[-1])
    assert indexer.get_by_key(last_key)[0] is updates[-1]

    # (b3) a burst: 10,000 updates queued before anything is popped (distinct keys,
    # so no coalescing), then drained.
    burst = [json.loads(b) for b in initial]
    t0 = time.perf_counter()
    for obj in burst:
        fifo.update(obj)
    for _ in range(N):
        fifo.pop(process)
    burst_seconds = time.perf_counter() - t0

    for label, seconds in (
        ("(b1) replace + pop:", replace_seconds),
        ("(b2) update + pop:", update_seconds),
        ("(b3) 10k updates, then pop:", burst_seconds),
    ):
        r = rate(N, seconds)
        print(f"{label:<28}{r:>12,.0f} objects/s  = {r / loads_rate:5.2f} x json.loads rate")


def memory_child() -> None:
    """Run in a fresh process: memory of N cached pods (objects + indexer)."""
    data = encoded_pods(rv=1)
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    indexer = new_cache()
    indexer.replace([json.loads(b) for b in data], "1")
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del indexer
    gc.collect()

    tracemalloc.start()
    objs = [json.loads(b) for b in data]
    objects_only, _ = tracemalloc.get_traced_memory()
    indexer = new_cache()
    for obj in objs:
        indexer.add(obj)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(indexer.list_keys()) == N
    print(
        json.dumps(
            {
                "rss_delta_kib": rss_after - rss_before,
                "traced_current": current,
                "traced_peak": peak,
                "traced_objects_only": objects_only,
            }
        )
    )


def memory() -> None:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child"], check=True, capture_output=True, text=True
    ).stdout
    m = json.loads(out.strip().splitlines()[-1])
    mib = 1024 * 1024
    print(f"(c) memory of {N} cached pods (fresh process):")
    current, peak = m["traced_current"], m["traced_peak"]
    print(f"    tracemalloc current {current / mib:7.1f} MiB"
          f"  ({current / N / 1024:.1f} KiB/pod), peak {peak / mib:.1f} MiB")
    print(f"    of which decoded dicts {m['traced_objects_only'] / mib:7.1f} MiB;"
          f" indexer + index overhead"
          f" {(m['traced_current'] - m['traced_objects_only']) / mib:.2f} MiB")
    print(f"    RSS (max RSS) growth    {m['rss_delta_kib'] / 1024:7.1f} MiB")


def main() -> None:
    if "--memory-child" in sys.argv:
        memory_child()
        return
    started = time.perf_counter()
    print(f"python {sys.version.split()[0]}")
    # Memory first: a child inherits its parent's max-RSS high-water mark across
    # fork/exec, so the parent must still be small when the child starts.
    memory()
    throughput()
    print(f"total benchmark time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
