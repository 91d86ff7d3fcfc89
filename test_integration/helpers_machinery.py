"""Helpers for the machinery integration tests (test_machinery_integration.py).

The tests drive the client-go mirror (clientset, reflector, informers, leader
election) against the real local API server.  What they need beyond the
session fixtures of ``conftest.py``:

* :func:`wait_for` -- poll a condition until a deadline (the API server is
  outside our process, so some waits can only poll); never a bare sleep;
* :class:`HandlerRecorder` -- an informer event handler that records every
  call and lets a test wait, on a condition variable, for a call it expects;
* :class:`GatedListWatch` -- a ListerWatcher wrapper that records the options
  of every LIST/WATCH and can *hold the reflector's watch closed*: the
  reflector's next WATCH call blocks at the gate until released, which lets
  a test change the world behind the informer's back (and force a 410);
* :class:`TCPProxy` -- a byte-level TCP forwarder in front of the API server,
  so a test can cut every connection at once (a "dropped connection");
* :func:`kubectl_get` -- the independent view of the cluster the caches
  are compared with.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import ssl
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import Request, urlopen

from polling import wait_for  # re-exported for the machinery tests

from bitcoin_controller.apimachinery import watch
from bitcoin_controller.apimachinery.metav1 import ListOptions
from bitcoin_controller.clientgo.kubernetes import Clientset
from bitcoin_controller.clientgo.kubernetes.scheme import NAMESPACES
from bitcoin_controller.clientgo.rest import Config
from bitcoin_controller.clientgo.tools.cache import meta_namespace_key_func, new_store
from bitcoin_controller.clientgo.tools.cache.reflector import Reflector
from bitcoin_controller.clientgo.tools.clientcmd import build_config_from_kubeconfig

KUBECTL = "/usr/bin/kubectl"


# --------------------------------------------------------------------------- waiting


# --------------------------------------------------------------------------- clients


def admin_config(kubeconfig: str) -> Config:
    """The admin ``rest.Config`` of the cluster (short request timeout for tests)."""
    return build_config_from_kubeconfig(kubeconfig).copy(timeout=30.0, connect_timeout=5.0)


def new_clientset(kubeconfig: str, **changes: Any) -> Clientset:
    """A clientset from the kubeconfig, with ``Config`` fields overridden by ``changes``."""
    return Clientset(admin_config(kubeconfig).copy(**changes))


def create_namespace(client: Clientset, prefix: str) -> str:
    """Create a uniquely named namespace and return its name."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    client.resource(NAMESPACES).create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name


def delete_namespace(client: Clientset, name: str) -> None:
    """Delete a namespace; already gone is fine."""
    from bitcoin_controller.apimachinery import errors

    try:
        client.resource(NAMESPACES).delete(name)
    except errors.NotFoundError:
        pass


def config_map(name: str, data: dict[str, str] | None = None, **labels: str) -> dict[str, Any]:
    """A ConfigMap object as a plain dict."""
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": dict(data or {}),
    }
    if labels:
        obj["metadata"]["labels"] = dict(labels)
    return obj


def kubectl_get(kubeconfig: str, resource: str, namespace: str) -> dict[str, str]:
    """``kubectl get <resource> -n <ns> -o json`` as ``{name: resourceVersion}``."""
    out = subprocess.run(
        [KUBECTL, "--kubeconfig", kubeconfig, "get", resource, "-n", namespace, "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return {
        item["metadata"]["name"]: item["metadata"]["resourceVersion"]
        for item in json.loads(out)["items"]
    }


def store_view(objects: list[Any]) -> dict[str, str]:
    """``{name: resourceVersion}`` of cached objects, comparable with :func:`kubectl_get`."""
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in objects}


# --------------------------------------------------------------------------- handlers


@dataclass
class Call:
    """One recorded handler call: ``kind`` is ``add``, ``update`` or ``delete``."""

    kind: str
    obj: Any
    old: Any = None
    is_in_initial_list: bool | None = None


@dataclass
class HandlerRecorder:
    """A ``ResourceEventHandler`` that records calls and lets tests wait for them.

    Handlers run on informer threads; tests wait on a condition variable that
    every call notifies, so no test needs to sleep.
    """

    calls: list[Call] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def on_add(self, obj: Any, is_in_initial_list: bool = False) -> None:
        self._record(Call("add", obj, is_in_initial_list=is_in_initial_list))

    def on_update(self, old: Any, new: Any) -> None:
        self._record(Call("update", new, old=old))

    def on_delete(self, obj: Any) -> None:
        self._record(Call("delete", obj))

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def snapshot(self) -> list[Call]:
        with self._cond:
            return list(self.calls)

    def wait(self, pred: Callable[[list[Call]], Any], timeout: float, what: str) -> Any:
        """Wait until ``pred(calls)`` is truthy; return its value."""
        with self._cond:
            result = self._cond.wait_for(lambda: pred(self.calls), timeout)
            if not result:
                kinds = [(c.kind, _name_of(c.obj)) for c in self.calls]
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; calls: {kinds}"
                )
            return result

    def find(self, kind: str, name: str) -> Callable[[list[Call]], Call | None]:
        """A predicate for :meth:`wait`: the first ``kind`` call about object ``name``."""

        def pred(calls: list[Call]) -> Call | None:
            for c in calls:
                if c.kind == kind and _name_of(c.obj) == name:
                    return c
            return None

        return pred


def _name_of(obj: Any) -> str:
    """The name of an object or of a tombstone's key (``ns/name`` -> ``name``)."""
    if isinstance(obj, dict):
        return str((obj.get("metadata") or {}).get("name", ""))
    key = getattr(obj, "key", None)
    if isinstance(key, str):
        return key.rsplit("/", 1)[-1]
    return repr(obj)


# --------------------------------------------------------------------------- reflector stores


class RecordingStore:
    """A reflector store: a plain ``cache.Store`` plus a log of the calls it received.

    ``log`` holds ``(verb, name-or-resourceVersion)`` tuples: ``("add", name)``,
    ``("update", name)``, ``("delete", name)``, ``("replace", list_rv)``.  Tests
    use it to tell a relist (``replace``) from watch events, and to prove that
    something (a bookmark) moved the resourceVersion without any event.
    """

    def __init__(self) -> None:
        self.store = new_store(meta_namespace_key_func)
        self._cond = threading.Condition()
        self.log: list[tuple[str, str]] = []

    def _note(self, verb: str, what: str) -> None:
        with self._cond:
            self.log.append((verb, what))
            self._cond.notify_all()

    def add(self, obj: Any) -> None:
        self.store.add(obj)
        self._note("add", _name_of(obj))

    def update(self, obj: Any) -> None:
        self.store.update(obj)
        self._note("update", _name_of(obj))

    def delete(self, obj: Any) -> None:
        self.store.delete(obj)
        self._note("delete", _name_of(obj))

    def replace(self, objs: list[Any], resource_version: str) -> None:
        self.store.replace(objs, resource_version)
        self._note("replace", resource_version)

    def resync(self) -> None:
        pass

    def names(self) -> set[str]:
        return {_name_of(o) for o in self.store.list()}

    def snapshot(self) -> list[tuple[str, str]]:
        with self._cond:
            return list(self.log)

    def wait(self, pred: Callable[[RecordingStore], Any], timeout: float, what: str) -> Any:
        """Wait until ``pred(self)`` holds (re-checked after every store call)."""
        with self._cond:
            result = self._cond.wait_for(lambda: pred(self), timeout)
            if not result:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"store calls: {self.log}")
            return result


@contextlib.contextmanager
def running_reflector(reflector: Reflector) -> Iterator[Reflector]:
    """Run ``reflector`` in a thread for the duration of the block; stop and join it."""
    stop = threading.Event()
    thread = threading.Thread(target=reflector.run, args=(stop,), name="it-reflector",
                              daemon=True)
    thread.start()
    try:
        yield reflector
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the reflector stops when asked"


@contextlib.contextmanager
def running_informer(informer: Any) -> Iterator[Any]:
    """Run a shared informer in a thread for the duration of the block; stop and join it."""
    stop = threading.Event()
    thread = threading.Thread(target=informer.run, args=(stop,), name="it-informer",
                              daemon=True)
    thread.start()
    try:
        yield informer
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the informer stops when asked"


# --------------------------------------------------------------------------- list-watch gate


class GatedListWatch:
    """A ``cache.ListerWatcher`` wrapper that records calls and can hold WATCH closed.

    * ``list_calls`` / ``watch_calls``: copies of the options of every call,
      so a test can assert *how* the reflector recovered (re-watch from the
      last resourceVersion vs. relist);
    * ``watch_timeout_seconds``: if set, overrides the reflector's random
      5-10 minute ``timeoutSeconds`` -- the API server sends a bookmark two
      seconds before a watch's deadline, so a short timeout makes bookmarks
      observable in seconds instead of a minute;
    * :meth:`hold` stops the open watch and makes the next WATCH call block
      until :meth:`release`; :meth:`wait_blocked` returns the options of the
      call waiting at the gate (its ``resource_version`` is where the
      reflector will resume).  A held call gives up after ``max_hold`` seconds
      so that a forgotten release cannot hang a reflector thread forever.
    """

    def __init__(
        self,
        inner: Any,
        *,
        watch_timeout_seconds: int | None = None,
        max_hold: float = 120.0,
    ) -> None:
        self._inner = inner
        self._watch_timeout_seconds = watch_timeout_seconds
        self._max_hold = max_hold
        self._cond = threading.Condition()
        self._open = True
        self._blocked: ListOptions | None = None
        self._current: watch.Interface | None = None
        self.list_calls: list[ListOptions] = []
        self.watch_calls: list[ListOptions] = []
        #: Exceptions raised by WATCH calls (e.g. connection refused while the
        #: API server restarts), in order.
        self.watch_errors: list[BaseException] = []
        #: The ``Status`` objects of ERROR events the server sent on watches
        #: (e.g. 410 Expired), in order.
        self.error_events: list[dict[str, Any]] = []

    def list(self, opts: ListOptions) -> dict[str, Any]:
        with self._cond:
            self.list_calls.append(opts.copy())
            self._cond.notify_all()
        return self._inner.list(opts)

    def watch(self, opts: ListOptions) -> watch.Interface:
        if self._watch_timeout_seconds is not None:
            opts = opts.copy(timeout_seconds=self._watch_timeout_seconds)
        with self._cond:
            self.watch_calls.append(opts.copy())
            self._cond.notify_all()
            if not self._open:
                self._blocked = opts
                self._cond.notify_all()
                self._cond.wait_for(lambda: self._open, self._max_hold)
                self._blocked = None
        try:
            w = self._inner.watch(opts)
        except BaseException as err:
            with self._cond:
                self.watch_errors.append(err)
                self._cond.notify_all()
            raise
        w = _ErrorRecordingWatch(w, self._note_error_event)
        with self._cond:
            self._current = w
            self._cond.notify_all()
        return w

    def _note_error_event(self, status: dict[str, Any]) -> None:
        with self._cond:
            self.error_events.append(status)
            self._cond.notify_all()

    def hold(self) -> None:
        """Close the gate and end the open watch; the reflector's next WATCH blocks."""
        with self._cond:
            self._open = False
            current, self._current = self._current, None
        if current is not None:
            current.stop()

    def release(self) -> None:
        """Open the gate: a blocked WATCH call proceeds with the options it was given."""
        with self._cond:
            self._open = True
            self._cond.notify_all()

    def wait_blocked(self, timeout: float) -> ListOptions:
        """Wait until a WATCH call is blocked at the gate; return its options."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._blocked is not None, timeout):
                raise AssertionError(f"no WATCH call reached the gate within {timeout}s")
            assert self._blocked is not None
            return self._blocked.copy()

    def wait_calls(self, pred: Callable[[GatedListWatch], Any], timeout: float, what: str) -> Any:
        """Wait until ``pred(self)`` holds (checked whenever a call is recorded)."""
        with self._cond:
            result = self._cond.wait_for(lambda: pred(self), timeout)
            if not result:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; lists: "
                    f"{[o.resource_version for o in self.list_calls]}, watches: "
                    f"{[o.resource_version for o in self.watch_calls]}"
                )
            return result

    def counts(self) -> tuple[int, int]:
        """``(number of LIST calls, number of WATCH calls)`` so far."""
        with self._cond:
            return len(self.list_calls), len(self.watch_calls)


class _ErrorRecordingWatch(watch.Interface):
    """Passes a watch through unchanged, reporting the ``Status`` of every ERROR event."""

    def __init__(self, inner: watch.Interface, on_error: Callable[[dict[str, Any]], None]):
        self._inner = inner
        self._on_error = on_error

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for event in self._inner:
            if event.get("type") == watch.ERROR:
                self._on_error(event.get("object") or {})
            yield event

    def stop(self) -> None:
        self._inner.stop()


# --------------------------------------------------------------------------- TCP proxy


class TCPProxy:
    """Forward ``127.0.0.1:<port>`` to an upstream ``host:port``, byte for byte.

    TLS passes through untouched (the API server's certificate names the IP
    127.0.0.1, which stays valid on another port), so a client pointed at
    :attr:`url` behaves exactly as if it talked to the API server -- until
    :meth:`drop_connections` resets every connection at once, which is what
    a crashed load balancer or a network partition looks like to a watch.
    """

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._scheme = parts.scheme
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 443)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._closed = False
        self._accepted = 0
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return urlunsplit((self._scheme, f"127.0.0.1:{self.port}", "", "", ""))

    @property
    def accepted(self) -> int:
        """How many client connections were accepted so far."""
        with self._lock:
            return self._accepted

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # listener closed
            try:
                upstream = socket.create_connection(self._upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self._pairs.append((client, upstream))
                self._accepted += 1
            threading.Thread(
                target=self._pump, args=(client, upstream), name="tcp-proxy-pump", daemon=True
            ).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        """Copy bytes both ways until either side closes or the pair is dropped."""
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in sel.select():
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = src.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            sel.close()
            self._forget(a, b)

    def _forget(self, a: socket.socket, b: socket.socket) -> None:
        with self._lock:
            with contextlib.suppress(ValueError):
                self._pairs.remove((a, b))
        for s in (a, b):
            _hard_close(s)

    def drop_connections(self) -> int:
        """Reset every open connection (both sides); returns how many were dropped."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            _hard_close(a)
            _hard_close(b)
        return len(pairs)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._listener.close()
        self.drop_connections()


def _hard_close(s: socket.socket) -> None:
    """Shut a socket down both ways (wakes a blocked recv) and close it."""
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()


@contextlib.contextmanager
def tcp_proxy(upstream_url: str) -> Iterator[TCPProxy]:
    proxy = TCPProxy(upstream_url)
    try:
        yield proxy
    finally:
        proxy.close()


# --------------------------------------------------------------------------- a peer API server


class PeerAPIServer:
    """A second kube-apiserver on the cluster's etcd, like one replica of an HA control plane.

    Restarting *this* server exercises everything a client sees when its API
    server restarts (refused connections, a fresh watch cache that no longer
    knows old resourceVersions, 429 while it initialises) without disturbing
    the cluster's own components: the controller manager of the local
    cluster takes more than a minute to recover from a restart of the main
    API server, which would break the tests that follow.

    Its command line is the running main API server's (read from ``/proc``),
    with another ``--secure-port``; it shares the certificate directory, so
    the kubeconfig's CA and token work unchanged -- only the host differs.
    """

    def __init__(self, main_server_url: str, ca: str | bytes, token: str, log_path: Path) -> None:
        """``ca``: the CA file's path, or the CA certificate itself (PEM bytes)."""
        main_port = urlsplit(main_server_url).port
        argv = _running_apiserver_argv(main_port)
        self.port = _free_port()
        self.url = f"https://{urlsplit(main_server_url).hostname}:{self.port}"
        # The peer must not become an endpoint of the kubernetes Service (on the real node
        # kube-proxy would balance in-cluster clients to it).
        self._argv = [a for a in argv if not a.startswith(("--secure-port=", "--endpoint-reconciler-type="))]
        self._argv += [f"--secure-port={self.port}", "--endpoint-reconciler-type=none"]
        self._ca = ca
        self._token = token
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> None:
        """Start the process and wait until it reports ready."""
        wait_for(lambda: _port_free(self.port), 30, f"port {self.port} to be free")
        with open(self._log_path, "ab") as log:
            # Same process group as the tests: an interrupted run (Ctrl-C) stops it too.
            self._proc = subprocess.Popen(self._argv, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT)

        def ready() -> bool:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"peer kube-apiserver exited ({self._proc.returncode}); "
                                   f"see {self._log_path}")
            return self._readyz()

        wait_for(ready, timeout, "the peer kube-apiserver to be ready", interval=0.2)

    def _readyz(self) -> bool:
        if isinstance(self._ca, bytes):
            ctx = ssl.create_default_context(cadata=self._ca.decode())
        else:
            ctx = ssl.create_default_context(cafile=self._ca)
        req = Request(self.url + "/readyz", headers={"Authorization": f"Bearer {self._token}"})
        try:
            with urlopen(req, context=ctx, timeout=3) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self, grace: float = 15) -> None:
        """SIGTERM (then SIGKILL after ``grace``) the process started by :meth:`start`."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _running_apiserver_argv(port: int | None) -> list[str]:
    """The command line of the kube-apiserver process serving ``port``."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode() for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if argv and argv[0].endswith("kube-apiserver") and f"--secure-port={port}" in argv:
            return argv
    raise RuntimeError(f"no kube-apiserver process serves port {port}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@contextlib.contextmanager
def peer_apiserver(kubeconfig: str, log_path: Path) -> Iterator[PeerAPIServer]:
    """A started :class:`PeerAPIServer` for the cluster of ``kubeconfig``; stopped afterwards."""
    config = admin_config(kubeconfig)
    if not (config.ca_file or config.ca_data) or not config.bearer_token:
        raise RuntimeError("the peer API server needs a kubeconfig with a CA and a token")
    peer = PeerAPIServer(config.host, config.ca_file or config.ca_data, config.bearer_token, log_path)
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()
