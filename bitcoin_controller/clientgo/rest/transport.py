"""Connections and credentials under the REST client, mirroring client-go's ``transport``.

**One connection pool per process.**  client-go caches one ``http.Transport``
per distinct TLS configuration (``transport.tlsTransportCache``) so that every
clientset built from the same kubeconfig shares connections.  Here the same
job is done by :func:`pool_manager_for`: one :class:`urllib3.PoolManager` per
distinct TLS configuration (CA, client certificate, verification flag, server
name), shared by every :class:`~.client.RESTClient` in the process.  Opening a
fresh pool per client -- the classic mistake with the official Python client,
whose every ``ApiClient`` also started a thread pool -- wastes sockets and TLS
handshakes.  Credentials that travel in headers (tokens, impersonation) are
not part of the key: they are added per request, so two identities on the
same server share the pool.

**Rotating tokens.**  :class:`CachedFileTokenSource` re-reads a token file at
most once a minute (``transport.NewCachedFileTokenSource``), which is how a
controller survives the rotation of its bound service account token.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass

import urllib3

from ...utils.clock import REAL_CLOCK, Clock
from .config import Config

__all__ = [
    "TransportError",
    "CachedFileTokenSource",
    "TLSConfig",
    "pool_manager_for",
    "POOL_MAXSIZE",
]

log = logging.getLogger(__name__)

#: Connections kept per host.  Every informer holds one watch connection open
#: for minutes, and workers issue requests in parallel, so the default of 1
#: would make urllib3 open and discard a connection for nearly every request.
POOL_MAXSIZE = 32


class TransportError(ConnectionError):
    """The request never got an HTTP answer: refused, reset, timed out, TLS failure...

    client-go returns a ``*url.Error`` in these cases; callers such as the
    reflector treat them as "retry with backoff".  Being a
    :class:`ConnectionError` (an :class:`OSError`) it is recognisable without
    knowing about urllib3.  The message names the method and URL and the
    underlying error, never headers or bodies.
    """


class CachedFileTokenSource:
    """``transport.NewCachedFileTokenSource``: a bearer token read from a file, cached.

    The file is re-read when the cached copy is older than ``period`` (one
    minute, as in Go).  If a re-read fails, the last good token is kept and
    the failure logged: a transient read error must not log the controller
    out.  The first read failing raises, because there is nothing to fall
    back to.
    """

    def __init__(self, path: str, period: float = 60.0, clock: Clock = REAL_CLOCK) -> None:
        self.path = path
        self.period = period
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._read_at = 0.0

    def token(self) -> str:
        with self._lock:
            now = self._clock.now()
            if self._token is not None and now - self._read_at < self.period:
                return self._token
            try:
                with open(self.path, encoding="utf-8") as f:
                    token = f.read().strip()
            except OSError as err:
                if self._token is None:
                    raise
                log.warning("re-reading the token file %s failed, keeping the cached token: %s",
                            self.path, err.strerror)
                self._read_at = now
                return self._token
            if not token:
                if self._token is None:
                    raise OSError(f"the token file {self.path} is empty")
                return self._token
            self._token, self._read_at = token, now
            return token


@dataclass(frozen=True)
class TLSConfig:
    """The TLS settings that decide which pool a request may share (the pool key)."""

    insecure: bool = False
    ca_file: str | None = None
    ca_data: bytes | None = None
    cert_file: str | None = None
    key_file: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    server_name: str | None = None

    @classmethod
    def from_config(cls, config: Config) -> TLSConfig:
        return cls(
            insecure=config.insecure,
            ca_file=config.ca_file,
            ca_data=config.ca_data,
            cert_file=config.cert_file,
            key_file=config.key_file,
            cert_data=config.cert_data,
            key_data=config.key_data,
            server_name=config.tls_server_name,
        )

    def __repr__(self) -> str:  # the key data must never reach a log line
        return (
            f"TLSConfig(insecure={self.insecure}, ca_file={self.ca_file!r}, "
            f"cert_file={self.cert_file!r})"
        )


_pools: dict[TLSConfig, urllib3.PoolManager] = {}
_pools_lock = threading.Lock()
_temp_dir: str | None = None


def pool_manager_for(config: Config) -> urllib3.PoolManager:
    """The process-wide pool manager for ``config``'s TLS settings (created on first use)."""
    key = TLSConfig.from_config(config)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _new_pool_manager(key)
            _pools[key] = pool
        return pool


def _new_pool_manager(tls: TLSConfig) -> urllib3.PoolManager:
    kwargs: dict = {
        "num_pools": 16,
        "maxsize": POOL_MAXSIZE,
        # block=False: when every kept connection is busy, open an extra one
        # rather than making a worker wait behind a long-lived watch.
        "block": False,
        "retries": False,
    }
    if tls.insecure:
        kwargs["cert_reqs"] = "CERT_NONE"
        kwargs["assert_hostname"] = False
    else:
        kwargs["cert_reqs"] = "CERT_REQUIRED"
        if tls.ca_file:
            kwargs["ca_certs"] = tls.ca_file
        if tls.ca_data:
            kwargs["ca_cert_data"] = tls.ca_data.decode("ascii")
        if tls.server_name:
            kwargs["server_hostname"] = tls.server_name
    cert_file, key_file = tls.cert_file, tls.key_file
    # The ssl module loads client certificates from files only, so inline data
    # is written to private files (mode 0600) that are removed at exit.
    if tls.cert_data:
        cert_file = _private_file(tls.cert_data, ".crt")
    if tls.key_data:
        key_file = _private_file(tls.key_data, ".key")
    if cert_file:
        kwargs["cert_file"] = cert_file
    if key_file:
        kwargs["key_file"] = key_file
    return urllib3.PoolManager(**kwargs)


def _private_file(data: bytes, suffix: str) -> str:
    global _temp_dir
    if _temp_dir is None:
        _temp_dir = tempfile.mkdtemp(prefix="bitcoin-controller-tls-")  # mode 0700
        atexit.register(shutil.rmtree, _temp_dir, True)
    name = os.path.join(_temp_dir, hashlib.sha256(data).hexdigest()[:16] + suffix)
    if not os.path.exists(name):
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return name
