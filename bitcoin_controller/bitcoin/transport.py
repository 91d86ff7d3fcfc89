"""The HTTP layer under the RPC client, small enough to replace in tests.

:class:`HTTPTransport` is the whole contract: send one request, return the
status and the body bytes, or raise :class:`~.errors.RPCConnectionError`.

A node is a user-chosen image, so the transport assumes it may be hostile:

* the reply body is streamed and cut off at ``max_reply_bytes`` (a declared
  ``Content-Length`` above it fails before any of the body is read), so one
  node answering 180 MiB cannot run the shared controller out of memory;
  ``Accept-Encoding: identity`` and no decoding, so no compression bomb;
* every call has a *total* deadline besides the per-operation connect and
  read timeouts: a reply trickling one byte a second resets a read timeout
  forever, so a watchdog shuts the call's socket down when the deadline
  passes, wherever the call is (connect, TLS handshake, headers, body).
:class:`Urllib3Transport` implements it with urllib3 connection pools: one
``PoolManager`` per TLS identity (plain HTTP is one identity, each pinned
certificate another), created on first use and reused, so connections to a
node are kept alive across reconcile loops instead of re-handshaking TLS for
every call.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, ProtocolError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from .certs import pinned_ssl_context
from .config import TLSConfig
from .errors import RPCConnectionError, RPCDeadlineExceededError, RPCReplyTooLargeError, RPCTLSError

__all__ = ["HTTPTransport", "Urllib3Transport", "DEFAULT_MAX_REPLY_BYTES", "DEFAULT_CALL_TIMEOUT"]

#: Largest reply body accepted from a node.  The biggest honest reply the
#: controller asks for is a serialised regtest block (``getblock <hash> 0``),
#: at most a few hundred KiB on regtest, or a 32-node ``getpeerinfo``.
DEFAULT_MAX_REPLY_BYTES = 4 * 1024 * 1024
#: Total seconds one call may take, whatever the per-read timeout.
DEFAULT_CALL_TIMEOUT = 15.0
_CHUNK = 64 * 1024


class HTTPTransport(Protocol):
    """What the RPC client needs from HTTP (Go's ``HTTPClient`` with ``Do``).

    ``timeout`` is ``(connect_seconds, read_seconds)``; ``tls`` is the trust
    material for ``https`` URLs.  Implementations return ``(status, body)``
    for *any* HTTP status -- interpreting 401 or 500 is the client's job --
    and raise :class:`RPCConnectionError` (or :class:`RPCTLSError`) when no
    response arrives.  ``total_timeout`` bounds the whole call
    (:class:`RPCDeadlineExceededError` past it) and ``max_reply_bytes`` the
    body (:class:`RPCReplyTooLargeError` beyond it); ``None`` means no bound.
    Messages must not contain request headers (they carry the credentials).
    """

    def request(
        self,
        method: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: tuple[float, float],
        tls: TLSConfig | None = None,
        *,
        total_timeout: float | None = None,
        max_reply_bytes: int | None = None,
    ) -> tuple[int, bytes]: ...


class _Watchdog:
    """One daemon thread that runs callbacks at monotonic deadlines.

    Like Go's ``time.AfterFunc`` (which ``net/http`` uses for a client's
    total ``Timeout``): one shared timer thread instead of a thread per call.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, deadline: float, callback: Callable[[], None]) -> int:
        with self._cond:
            handle = next(self._ids)
            heapq.heappush(self._heap, (deadline, handle, callback))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rpc-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()
            return handle

    def cancel(self, handle: int) -> None:
        with self._cond:
            if any(h == handle for _, h, _ in self._heap):
                self._cancelled.add(handle)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                _, handle, callback = heapq.heappop(self._heap)
                if handle in self._cancelled:
                    self._cancelled.discard(handle)
                    continue
            try:
                callback()
            except Exception:  # noqa: S110 - a failed shutdown must not kill the watchdog
                pass


_WATCHDOG = _Watchdog()
_current = threading.local()


class _CallGuard:
    """The deadline of one call: when it passes, the call's sockets are shut down.

    A shut-down socket makes a read blocked in another thread return at once
    (EOF or an error), so the call fails promptly however slowly the node
    trickles; the transport then reports the deadline, not the EOF.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._done = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._handle = _WATCHDOG.schedule(time.monotonic() + seconds, self._expire)

    def attach(self, sock: Any) -> None:
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return  # finished in time; its connection may be back in the pool
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def done(self) -> None:
        with self._lock:
            self._done = True
        _WATCHDOG.cancel(self._handle)


def _shutdown(sock: socket.socket) -> None:
    try:
        # socket.socket's own shutdown, also for an SSLSocket: only the file
        # descriptor is shut, the TLS object stays for the thread reading it.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _attach(sock: Any) -> None:
    guard = getattr(_current, "guard", None)
    if guard is not None:
        guard.attach(sock)


class _GuardedHTTPConnection(HTTPConnection):
    """urllib3's connection, handing its socket to the current call's guard."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _attach(sock)  # before any TLS handshake, which could trickle too
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _attach(self.sock)  # a pooled connection: no _new_conn this time
        super().request(*args, **kwargs)


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _attach(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _attach(self.sock)
        super().request(*args, **kwargs)


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


_GUARDED_POOLS = {"http": _GuardedHTTPConnectionPool, "https": _GuardedHTTPSConnectionPool}


class Urllib3Transport:
    """:class:`HTTPTransport` on urllib3, with bounded pools per TLS identity.

    Requests are never retried here: a POST may have reached the node before
    the connection broke, and the caller (a work-queue driven reconcile) is
    the right place to decide about retrying.  A pooled keep-alive connection
    that the server closed while idle is detected by urllib3 before reuse.

    Memory stays bounded in a long-running controller: at most
    ``max_identities`` pool managers are kept (least recently used first out,
    so deleted networks' certificates age away), each with pools for at most
    ``hosts_per_identity`` nodes and ``maxsize`` idle connections per node.
    """

    def __init__(
        self, *, maxsize: int = 4, hosts_per_identity: int = 64, max_identities: int = 64
    ) -> None:
        # maxsize bounds idle connections kept per host; more concurrent
        # requests still work, the extra connections are just not kept.
        # hosts_per_identity is above the largest network (32 nodes) so that a
        # sync polling every node does not evict its own pools.
        self._maxsize = maxsize
        self._hosts = hosts_per_identity
        self._max_identities = max_identities
        self._lock = threading.Lock()
        self._pools: OrderedDict[TLSConfig | None, urllib3.PoolManager] = OrderedDict()

    def pool_for(self, tls: TLSConfig | None) -> urllib3.PoolManager:
        """The pool manager for one TLS identity, created once and then reused."""
        evicted: list[urllib3.PoolManager] = []
        with self._lock:
            pool = self._pools.get(tls)
            if pool is None:
                pool = self._new_pool(tls)
                self._pools[tls] = pool
                while len(self._pools) > self._max_identities:
                    evicted.append(self._pools.popitem(last=False)[1])
            else:
                self._pools.move_to_end(tls)
        for old in evicted:
            old.clear()  # closes idle connections; in-flight requests finish normally
        return pool

    def _new_pool(self, tls: TLSConfig | None) -> urllib3.PoolManager:
        if tls is None:
            pool = urllib3.PoolManager(num_pools=self._hosts, maxsize=self._maxsize, retries=False)
            pool.pool_classes_by_scheme = _GUARDED_POOLS
            return pool
        context = pinned_ssl_context(tls.ca_pem, check_hostname=tls.check_hostname)
        kwargs: dict[str, object] = {}
        if not tls.check_hostname:
            # Without this urllib3 would run its own host-name match after the
            # handshake.  The chain is still verified against the pinned cert.
            kwargs["assert_hostname"] = False
        pool = urllib3.PoolManager(
            num_pools=self._hosts,
            maxsize=self._maxsize,
            retries=False,
            ssl_context=context,
            cert_reqs=ssl.CERT_REQUIRED,
            **kwargs,
        )
        pool.pool_classes_by_scheme = _GUARDED_POOLS
        return pool

    def request(
        self,
        method: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: tuple[float, float],
        tls: TLSConfig | None = None,
        *,
        total_timeout: float | None = None,
        max_reply_bytes: int | None = None,
    ) -> tuple[int, bytes]:
        if url.startswith("https:") and tls is None:
            raise ValueError("https URL without TLS material: refusing to trust system CAs")
        try:
            pool = self.pool_for(tls)
        except (ssl.SSLError, ValueError) as exc:
            raise RPCTLSError(f"cannot use the pinned certificate for {_where(url)}: {type(exc).__name__}") from None
        connect, read = timeout
        guard = _CallGuard(total_timeout) if total_timeout is not None else None
        _current.guard = guard
        response = None
        try:
            response = pool.request(
                method,
                url,
                body=body,
                headers={**headers, "Accept-Encoding": "identity"},
                timeout=urllib3.Timeout(connect=connect, read=read),
                retries=False,
                redirect=False,
                preload_content=False,
                decode_content=False,
            )
            data = _read_capped(response, url, max_reply_bytes)
        except RPCReplyTooLargeError:
            raise
        except (HTTPError, OSError) as exc:
            if guard is not None and guard.expired:
                raise RPCDeadlineExceededError(
                    f"{_where(url)} did not complete the call within {guard.seconds:g}s"
                ) from None
            raise _connection_error(exc, url) from exc
        except BaseException:
            if response is not None:
                response.close()  # body unread or socket shut: never reuse this connection
            raise
        finally:
            _current.guard = None
            if guard is not None:
                guard.done()
            if response is not None:
                response.release_conn()
        if guard is not None and guard.expired:
            # The body arrived, but the socket was shut as it did: the deadline passed.
            raise RPCDeadlineExceededError(f"{_where(url)} did not complete the call within {guard.seconds:g}s")
        return response.status, data

    def clear(self) -> None:
        """Close every pooled connection (for shutdown and tests)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.clear()


def _read_capped(response: Any, url: str, limit: int | None) -> bytes:
    """The body, read in chunks; more than ``limit`` bytes fails the call."""
    declared = response.headers.get("Content-Length")
    if limit is not None and declared is not None and declared.strip().isdigit() and int(declared) > limit:
        response.close()
        raise RPCReplyTooLargeError(
            f"{_where(url)} announced a {int(declared)}-byte reply; the limit is {limit} bytes"
        )
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.read(_CHUNK, decode_content=False)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if limit is not None and size > limit:
            response.close()
            raise RPCReplyTooLargeError(f"{_where(url)} sent a reply of more than {limit} bytes")
        chunks.append(chunk)


def _connection_error(exc: BaseException, url: str) -> RPCConnectionError:
    if isinstance(exc, SSLError):
        return RPCTLSError(f"TLS handshake with {_where(url)} failed: {_reason(exc)}")
    if isinstance(exc, Urllib3TimeoutError):
        return RPCConnectionError(f"{_where(url)} timed out: {_reason(exc)}")
    if isinstance(exc, ProtocolError):
        return RPCConnectionError(f"connection to {_where(url)} broke: {_reason(exc)}")
    return RPCConnectionError(f"cannot reach {_where(url)}: {_reason(exc)}")


def _where(url: str) -> str:
    parsed = urllib3.util.parse_url(url)
    return f"{parsed.scheme}://{parsed.netloc}"


def _reason(exc: BaseException) -> str:
    # urllib3 wraps the interesting error (ConnectionRefusedError, an
    # ssl.SSLCertVerificationError...) in one or two layers; name the
    # innermost one.  None of these texts can contain request headers.
    # urllib3's own wrappers quote the inner error's text: so the innermost
    # error is named alone, never the wrappers.
    inner: BaseException = exc
    for _ in range(4):
        if isinstance(inner, http.client.HTTPException):
            break  # its context (e.g. int() failing on the status code) quotes the server too
        nested = getattr(inner, "reason", None) or inner.__context__
        if not isinstance(nested, BaseException) or nested is inner:
            break
        inner = nested
    if isinstance(inner, http.client.HTTPException):
        # BadStatusLine, LineTooLong, InvalidHeader...: their text quotes what
        # the server sent, and a node's bytes never go into a message.
        return type(inner).__name__
    text = str(inner) or type(inner).__name__
    return text if inner is exc else f"{type(inner).__name__}: {text}"
