"""The HTTP layer under the RPC client, small enough to replace in tests.

:class:`HTTPTransport` is the whole contract: send one request, return the
status and the body bytes, or raise :class:`~.errors.RPCConnectionError`.
:class:`Urllib3Transport` implements it with urllib3 connection pools: one
``PoolManager`` per TLS identity (plain HTTP is one identity, each pinned
certificate another), created on first use and reused, so connections to a
node are kept alive across reconcile loops instead of re-handshaking TLS for
every call.
"""

from __future__ import annotations

import ssl
import threading
from collections import OrderedDict
from typing import Protocol

import urllib3
from urllib3.exceptions import HTTPError, ProtocolError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from .certs import pinned_ssl_context
from .config import TLSConfig
from .errors import RPCConnectionError, RPCTLSError

__all__ = ["HTTPTransport", "Urllib3Transport"]


class HTTPTransport(Protocol):
    """What the RPC client needs from HTTP (Go's ``HTTPClient`` with ``Do``).

    ``timeout`` is ``(connect_seconds, read_seconds)``; ``tls`` is the trust
    material for ``https`` URLs.  Implementations return ``(status, body)``
    for *any* HTTP status -- interpreting 401 or 500 is the client's job --
    and raise :class:`RPCConnectionError` (or :class:`RPCTLSError`) when no
    response arrives.  Messages must not contain request headers (they carry
    the credentials).
    """

    def request(
        self,
        method: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: tuple[float, float],
        tls: TLSConfig | None = None,
    ) -> tuple[int, bytes]: ...


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
            return urllib3.PoolManager(num_pools=self._hosts, maxsize=self._maxsize, retries=False)
        context = pinned_ssl_context(tls.ca_pem, check_hostname=tls.check_hostname)
        kwargs: dict[str, object] = {}
        if not tls.check_hostname:
            # Without this urllib3 would run its own host-name match after the
            # handshake.  The chain is still verified against the pinned cert.
            kwargs["assert_hostname"] = False
        return urllib3.PoolManager(
            num_pools=self._hosts,
            maxsize=self._maxsize,
            retries=False,
            ssl_context=context,
            cert_reqs=ssl.CERT_REQUIRED,
            **kwargs,
        )

    def request(
        self,
        method: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: tuple[float, float],
        tls: TLSConfig | None = None,
    ) -> tuple[int, bytes]:
        if url.startswith("https:") and tls is None:
            raise ValueError("https URL without TLS material: refusing to trust system CAs")
        pool = self.pool_for(tls)
        connect, read = timeout
        try:
            response = pool.request(
                method,
                url,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=connect, read=read),
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except SSLError as exc:
            raise RPCTLSError(f"TLS handshake with {_where(url)} failed: {_reason(exc)}") from exc
        except Urllib3TimeoutError as exc:
            raise RPCConnectionError(f"{_where(url)} timed out: {_reason(exc)}") from exc
        except ProtocolError as exc:
            raise RPCConnectionError(f"connection to {_where(url)} broke: {_reason(exc)}") from exc
        except HTTPError as exc:
            raise RPCConnectionError(f"cannot reach {_where(url)}: {_reason(exc)}") from exc
        except OSError as exc:
            raise RPCConnectionError(f"cannot reach {_where(url)}: {_reason(exc)}") from exc
        return response.status, response.data

    def clear(self) -> None:
        """Close every pooled connection (for shutdown and tests)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.clear()


def _where(url: str) -> str:
    parsed = urllib3.util.parse_url(url)
    return f"{parsed.scheme}://{parsed.netloc}"


def _reason(exc: BaseException) -> str:
    # urllib3 wraps the interesting error (ConnectionRefusedError, an
    # ssl.SSLCertVerificationError...) in one or two layers; name the
    # innermost one.  None of these texts can contain request headers.
    inner: BaseException = exc
    for _ in range(4):
        nested = getattr(inner, "reason", None) or inner.__context__
        if not isinstance(nested, BaseException) or nested is inner:
            break
        inner = nested
    text = str(inner) or type(inner).__name__
    return text if inner is exc else f"{type(inner).__name__}: {text}"
