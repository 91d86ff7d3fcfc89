"""RPC credentials from the Secret a network names.

The controller keeps each credential Secret it uses in a :class:`SecretCache`:
one single-object watch per Secret (``fieldSelector=metadata.name=<name>``),
as the kubelet's watch-based Secret manager does for the Secrets its pods
reference.  A steady-state resync therefore costs no API request, a rotated
or deleted Secret is seen within the watch latency (and the networks using it
are resynced), and RBAC can still name exactly the Secrets the controller may
read: ``resourceNames`` authorizes a list or watch only when it carries that
field selector, so no other Secret is ever visible.  Never an informer on all
Secrets, which would need list/watch on every Secret in the cluster.

A missing, unreadable or incomplete Secret is reported with a reason the
controller turns into a Warning event and a status condition; the values
themselves never leave this module's objects: the :class:`Credentials` repr
hides the password, and error messages name keys, never values.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..apimachinery import errors, metav1
from ..apis.bitcoincontroller.v1 import BC_RPC_PASSWORD, BC_RPC_USER
from ..clientgo.kubernetes import Interface, scheme
from ..clientgo.tools.cache.listwatch import new_list_watch_from_client
from ..clientgo.tools.cache.reflector import Reflector
from ..utils.clock import REAL_CLOCK, Clock
from . import events as ev

__all__ = [
    "USER_KEY",
    "PASSWORD_KEY",
    "Credentials",
    "CredentialsError",
    "CacheNotSyncedError",
    "SecretCache",
    "credentials_from_secret",
    "read_credentials",
]

log = logging.getLogger(__name__)

USER_KEY = BC_RPC_USER
PASSWORD_KEY = BC_RPC_PASSWORD


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)
    #: ``<uid>/<resourceVersion>`` of the Secret they came from: changes with
    #: every write of that Secret, so a rotation can be noticed without
    #: comparing (or storing anything derived from) the password.
    source_version: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password=<redacted>)"


class CredentialsError(Exception):
    """The credential Secret can't be used; ``reason`` is the event/condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _decode(secret: dict, key: str) -> str | None:
    data = secret.get("data") or {}
    if key in data:
        try:
            return base64.b64decode(data[key], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
    string_data = secret.get("stringData") or {}  # only seen on objects from the fake
    return string_data.get(key)


def read_credentials(clientset: Interface, namespace: str, name: str) -> Credentials:
    """GET the Secret and return its credentials, or raise :class:`CredentialsError`.

    One direct read, for one-shot tools (``bitcoin-controller network``); the
    controller uses a :class:`SecretCache` instead.  Transport and server
    errors other than NotFound/Forbidden propagate so the caller can retry.
    """
    try:
        secret = clientset.core_v1().secrets(namespace).get(name)
    except errors.NotFoundError:
        raise _not_found(namespace, name) from None
    except errors.ForbiddenError:
        raise _forbidden(name) from None
    return credentials_from_secret(secret, name)


def _not_found(namespace: str, name: str) -> CredentialsError:
    return CredentialsError(
        ev.SECRET_NOT_FOUND, f'Secret "{name}" with the RPC credentials does not exist in namespace "{namespace}"'
    )


def _forbidden(name: str) -> CredentialsError:
    return CredentialsError(
        ev.SECRET_FORBIDDEN,
        f'the controller may not read Secret "{name}": add it to the credential Secret names '
        "its RBAC allows (Helm value rbac.credentialSecretNames)",
    )


def credentials_from_secret(secret: dict, name: str) -> Credentials:
    """The credentials in a Secret object, or :class:`CredentialsError` (``SecretInvalid``)."""
    user = _decode(secret, USER_KEY)
    password = _decode(secret, PASSWORD_KEY)
    missing = [k for k, v in ((USER_KEY, user), (PASSWORD_KEY, password)) if not v]
    if missing:
        raise CredentialsError(
            ev.SECRET_INVALID, f'Secret "{name}" lacks a non-empty value for {", ".join(missing)}'
        )
    assert user is not None and password is not None
    for key, value in ((USER_KEY, user), (PASSWORD_KEY, password)):
        if any(c in value for c in "\n\r\x00") or (key == USER_KEY and ":" in value):
            raise CredentialsError(ev.SECRET_INVALID, f'Secret "{name}" has an unusable value for {key}')
    meta = secret.get("metadata") or {}
    source_version = f'{meta.get("uid", "")}/{meta.get("resourceVersion", "")}'
    return Credentials(user=user, password=password, source_version=source_version)


# -- the watch-based cache -------------------------------------------------------------

#: How long :meth:`SecretCache.get` waits for a new watch's first LIST
#: (the kubelet's manager polls for one second; a busy API server deserves more).
SYNC_TIMEOUT = 10.0
#: How long a watch whose Secret no network uses any more is kept, so that a
#: network deleted and re-created (or the next one in the namespace) finds it
#: warm.  Idle watches are stopped on the next call after that.
IDLE_SECONDS = 120.0


class CacheNotSyncedError(RuntimeError):
    """The watch of a Secret has not delivered its first LIST yet; retry later."""


class _SingleSecretStore:
    """The reflector store of one single-object watch: the named Secret, or nothing.

    It keeps only the object whose name matches (a fake clientset ignores
    field selectors; a real API server never sends another), and reports a
    change -- a new resourceVersion, a creation or a deletion -- after the
    first LIST, so the networks using the Secret can be resynced.
    """

    def __init__(self, name: str, on_change: Callable[[], None]) -> None:
        self.name = name
        self.cond = threading.Condition()
        self.secret: dict | None = None
        self.synced = False
        self.error: BaseException | None = None
        self._on_change = on_change

    def _set(self, secret: dict | None, *, listed: bool = False) -> None:
        with self.cond:
            old = self.secret
            first = listed and not self.synced
            self.secret = secret
            if listed:
                self.synced = True
                self.error = None
            self.cond.notify_all()
        if not first and _resource_version(old) != _resource_version(secret):
            self._on_change()

    def _mine(self, obj: Any) -> bool:
        return isinstance(obj, dict) and metav1.get_name(obj) == self.name

    # ReflectorStore
    def add(self, obj: Any) -> None:
        if self._mine(obj):
            self._set(obj)

    def update(self, obj: Any) -> None:
        if self._mine(obj):
            self._set(obj)

    def delete(self, obj: Any) -> None:
        if self._mine(obj):
            self._set(None)

    def replace(self, objs: list[Any], resource_version: str) -> None:
        self._set(next((o for o in objs if self._mine(o)), None), listed=True)

    def resync(self) -> None:
        pass

    def failed(self, err: BaseException) -> None:
        with self.cond:
            self.error = err
            self.cond.notify_all()


def _resource_version(secret: dict | None) -> str | None:
    return metav1.get_resource_version(secret) if secret is not None else None


@dataclass
class _Watch:
    store: _SingleSecretStore
    stop: threading.Event
    thread: threading.Thread
    owners: set[str] = field(default_factory=set)
    idle_since: float | None = None


def _is_forbidden(err: BaseException | None) -> bool:
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, errors.ForbiddenError):
            return True
        err = getattr(err, "err", None) or err.__cause__
        seen += 1
    return False


class SecretCache:
    """Credential Secrets kept current by one single-object watch each.

    Mirrors the kubelet's ``watchBasedManager``/``objectCache``
    (``pkg/kubelet/util/manager``): a reflector per referenced object, listing
    and watching with ``fieldSelector=metadata.name=<name>``, started on the
    first reference and stopped when no one references the object any more
    (here after :data:`IDLE_SECONDS`).  Owners are the networks' queue keys:
    :meth:`get` records that a network uses a Secret, :meth:`release` that it
    no longer exists.  ``on_change(owner)`` is called (from the watch thread)
    for every owner of a Secret that was created, changed or deleted.

    Cost: one watch connection and two threads per distinct Secret in use --
    usually one per namespace -- against one GET per network per resync
    without it.
    """

    def __init__(
        self,
        clientset: Interface,
        on_change: Callable[[str], None] | None = None,
        *,
        clock: Clock = REAL_CLOCK,
        sync_timeout: float = SYNC_TIMEOUT,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.clientset = clientset
        self.on_change = on_change
        self.clock = clock
        self.sync_timeout = sync_timeout
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._watches: dict[tuple[str, str], _Watch] = {}
        self._owner_of: dict[str, tuple[str, str]] = {}
        self._stopped = False

    def get(self, owner: str, namespace: str, name: str) -> Credentials:
        """The credentials in Secret ``namespace/name`` as last seen by its watch.

        Raises :class:`CredentialsError` (missing, forbidden, invalid) or, while
        a new watch has not listed yet, :class:`CacheNotSyncedError` or the
        LIST's own error (both transient: the sync is retried with backoff).
        """
        store = self._reference(owner, namespace, name)
        with store.cond:
            store.cond.wait_for(lambda: store.synced or store.error is not None, self.sync_timeout)
            synced, secret, error = store.synced, store.secret, store.error
        if not synced:
            if _is_forbidden(error):
                raise _forbidden(name)
            if error is not None:
                raise CacheNotSyncedError(f'the watch of Secret "{name}" failed to list: {error}') from None
            raise CacheNotSyncedError(f'the watch of Secret "{name}" has not listed it yet')
        if secret is None:
            raise _not_found(namespace, name)
        return credentials_from_secret(secret, name)

    def release(self, owner: str) -> None:
        """``owner`` (a network's key) uses no Secret any more: it was deleted."""
        with self._lock:
            self._drop_owner(owner)
            self._stop_idle()

    def watched(self) -> list[tuple[str, str]]:
        """``(namespace, name)`` of every Secret watched now (for tests and debugging)."""
        with self._lock:
            return sorted(self._watches)

    def stop(self) -> None:
        """Stop every watch (the controller is shutting down)."""
        with self._lock:
            self._stopped = True
            watches = list(self._watches.values())
            self._watches.clear()
            self._owner_of.clear()
        for w in watches:
            w.stop.set()

    # -- bookkeeping (lock held) ----------------------------------------------------------

    def _reference(self, owner: str, namespace: str, name: str) -> _SingleSecretStore:
        key = (namespace, name)
        with self._lock:
            if self._stopped:
                raise CacheNotSyncedError("the Secret cache is stopped")
            if self._owner_of.get(owner) != key:
                self._drop_owner(owner)
                self._owner_of[owner] = key
            watch = self._watches.get(key)
            if watch is None:
                watch = self._watches[key] = self._start(namespace, name)
            watch.owners.add(owner)
            watch.idle_since = None
            self._stop_idle()
            return watch.store

    def _drop_owner(self, owner: str) -> None:
        key = self._owner_of.pop(owner, None)
        watch = self._watches.get(key) if key else None
        if watch is not None:
            watch.owners.discard(owner)
            if not watch.owners:
                watch.idle_since = self.clock.now()

    def _stop_idle(self) -> None:
        now = self.clock.now()
        for key, watch in list(self._watches.items()):
            if watch.idle_since is not None and now - watch.idle_since >= self.idle_seconds:
                del self._watches[key]
                watch.stop.set()
                log.debug("stopped the watch of an unused credential Secret %s/%s", *key)

    def _start(self, namespace: str, name: str) -> _Watch:
        key = (namespace, name)

        def changed() -> None:
            with self._lock:
                watch = self._watches.get(key)
                owners = sorted(watch.owners) if watch is not None else []
            if self.on_change is not None:
                for owner in owners:
                    self.on_change(owner)

        store = _SingleSecretStore(name, changed)
        lw = new_list_watch_from_client(
            self.clientset, scheme.SECRETS, namespace, field_selector=f"metadata.name={name}"
        )
        reflector = Reflector(
            "credential-secrets",  # the metrics label: one for all of them, it must stay bounded
            lw,
            scheme.SECRETS,
            store,
            clock=self.clock,
            type_description=f'Secret "{name}" in namespace "{namespace}"',
            watch_error_handler=lambda _r, err: store.failed(err),
        )
        stop = threading.Event()
        thread = threading.Thread(target=reflector.run, args=(stop,), name=f"secret-watch-{name}", daemon=True)
        thread.start()
        return _Watch(store, stop, thread)
