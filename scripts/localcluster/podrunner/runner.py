"""Runner: watches the pods bound to the kwok node and keeps one PodWorker per pod; main()."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..kube import Kube, KubeError
from ..processes import _record_alive, terminate_recorded
from .common import MAX_GRACE, STOPPED_CONDITION, TICK, log
from .worker import PodWorker


class Runner:
    def __init__(self, base: Path, bin_dir: Path, node: str):
        self.base = base
        self.bin_dir = bin_dir
        self.node = node
        cfg = json.loads((base / "run" / "cluster.json").read_text())
        self.kube = Kube(cfg["server"], cfg["token"],
                         str(base / "state" / "apiserver" / "apiserver.crt"))
        self.lock = threading.Lock()
        self.pods: dict[str, dict] = {}
        self.workers: dict[str, PodWorker] = {}
        self.finished: dict[str, str] = {}  # uid -> pod IP of workers that are done
        self.stop_reported: set[str] = set()  # deleting pods we reported as stopped
        self.ip_owner: dict[str, str] = {}
        self.stopping = threading.Event()
        self.synced = threading.Event()

    def current(self, uid: str) -> dict | None:
        with self.lock:
            return self.pods.get(uid)

    def acquire_ip(self, ip: str, uid: str) -> bool:
        with self.lock:
            owner = self.ip_owner.get(ip)
            if owner in (None, uid):
                self.ip_owner[ip] = uid
                return True
            return False

    def release_ip(self, ip: str, uid: str) -> None:
        with self.lock:
            if self.ip_owner.get(ip) == uid:
                del self.ip_owner[ip]

    # ------------------------------------------------------------------ watch

    def watch_loop(self) -> None:
        path = "/api/v1/pods"
        selector = {"fieldSelector": f"spec.nodeName={self.node}"}
        while not self.stopping.is_set():
            try:
                lst = self.kube.get(path, query=selector)
                rv = lst["metadata"]["resourceVersion"]
                with self.lock:
                    self.pods = {p["metadata"]["uid"]: p for p in lst.get("items") or []}
                self.synced.set()
                while not self.stopping.is_set():
                    for ev in self.kube.watch(path, dict(selector, resourceVersion=rv)):
                        t, obj = ev["type"], ev["object"]
                        if t == "ERROR":
                            raise KubeError(obj.get("code", 500), obj, "WATCH", path)
                        rv = obj["metadata"]["resourceVersion"]
                        if t == "BOOKMARK":
                            continue
                        uid = obj["metadata"]["uid"]
                        with self.lock:
                            if t == "DELETED":
                                self.pods.pop(uid, None)
                            else:
                                self.pods[uid] = obj
            except Exception as e:  # noqa: BLE001 - relist on any error
                if not self.stopping.is_set():
                    log.info("pod watch: %s; relisting", e)
                    self.stopping.wait(1)

    # ------------------------------------------------------------------ main

    def cleanup_stale(self) -> None:
        d = self.base / "run" / "pods"
        d.mkdir(parents=True, exist_ok=True)
        for p in d.glob("*.json"):
            try:
                rec = json.loads(p.read_text())
                if _record_alive(rec):
                    log.info("killing leftover process %s (%s)", rec["pid"], rec.get("argv0"))
                    terminate_recorded(rec, 5)
            except (OSError, ValueError):
                pass
            p.unlink(missing_ok=True)

    def sync(self) -> None:
        with self.lock:
            pods = dict(self.pods)
        for uid, w in list(self.workers.items()):
            if w.finished:
                del self.workers[uid]
                self.finished[uid] = w.ip
                if uid not in pods:
                    shutil.rmtree(w.root, ignore_errors=True)
        for uid in list(self.finished):
            if uid not in pods:
                del self.finished[uid]
        self.stop_reported &= set(pods)
        for uid, pod in pods.items():
            if uid in self.workers:
                continue
            st = pod.get("status") or {}
            ip = st.get("podIP")
            if not ip:
                continue  # kwok hasn't assigned an IP yet
            deleting = bool(pod["metadata"].get("deletionTimestamp"))
            if deleting:
                if uid in self.stop_reported or any(
                    c["type"] == STOPPED_CONDITION for c in st.get("conditions") or []
                ):
                    continue
            elif self.finished.get(uid) == ip:
                continue  # already handled this pod on this IP
            if not deleting and st.get("phase") in ("Succeeded", "Failed"):
                continue
            # (a deleting pod we never ran still gets a worker: it reports the stop at once)
            w = PodWorker(self, pod)
            self.workers[uid] = w
            w.start()

    def run(self) -> None:
        self.cleanup_stale()
        t = threading.Thread(target=self.watch_loop, name="watch", daemon=True)
        t.start()
        self.synced.wait(60)
        log.info("pod runner watching pods on node %s", self.node)
        while not self.stopping.is_set():
            try:
                self.sync()
            except Exception:  # noqa: BLE001
                log.exception("sync failed")
            self.stopping.wait(TICK)
        log.info("stopping %d pod(s)", len(self.workers))
        for w in self.workers.values():
            w.stop_requested.set()
        deadline = time.monotonic() + MAX_GRACE + 5
        for w in self.workers.values():
            w.join(max(0.1, deadline - time.monotonic()))
        log.info("pod runner stopped")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pod-runner")
    ap.add_argument("--base", required=True, help="the .local-cluster directory")
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if a.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(threadName)s: %(message)s",
        stream=sys.stdout,
    )
    runner = Runner(Path(a.base), Path(a.bin_dir), a.node)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d received", signum)
        runner.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.run()
