"""The reflector, mirroring ``k8s.io/client-go/tools/cache/reflector.go`` (classic, v0.31/v0.32).

A reflector keeps a store in step with the API server for one resource:

1. **LIST** everything once and hand the snapshot to ``store.replace(items, rv)``;
2. **WATCH** from the list's resourceVersion and apply each event
   (``add``/``update``/``delete``), remembering the resourceVersion of every
   event;
3. when a watch ends, watch again from the last resourceVersion -- and only
   go back to step 1 (a *relist*) when the watch cannot be resumed.

Everything else is about doing that cheaply and safely when things go wrong:

* the first LIST asks for resourceVersion ``"0"`` ("any version"), which the
  API server answers from its watch cache instead of etcd; it is paginated
  (``limit=500``, following ``continue`` tokens) so a cache-less server is not
  asked for everything at once;
* a LIST that fails because the requested resourceVersion is too old (410)
  or too new is retried at once with ``""`` (a consistent read of the
  latest state);
* the watch asks for bookmarks, so a quiet resource still advances the
  resourceVersion and a later re-watch does not fall off the history window;
* every retry waits on one shared exponential backoff (0.8 s doubling to
  30 s, jittered), so a broken API server is not hammered;
* a watch asks the server to close it after a random 5-10 minutes, so
  reflectors started together do not re-watch in lock step;
* optionally, every ``resync_period`` the store is asked to ``resync()``
  (replay its objects to the handlers), if ``should_resync()`` agrees.

The resourceVersion bookkeeping (:meth:`Reflector.last_sync_resource_version`)
is informational: it is not synchronised with what consumers of the store
have processed.

Classic behaviours kept on purpose, with later changes noted:

* WatchList (streaming the initial list as watch events, KEP-3157) is not
  implemented: the ``WatchListClient`` gate was off by default until
  client-go v0.35;
* the resourceVersion is taken from every watch event; v0.36+ ignores
  ADDED events of a watch started at ``""``/``"0"`` until the first other
  event, because those synthetic events arrive in arbitrary order.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from ....apimachinery import errors, metav1, wait
from ....apimachinery.metav1 import ListOptions
from ....apimachinery.schema import ResourceInfo
from ....apimachinery.watch import EventType
from ....utils.clock import REAL_CLOCK, Clock
from ...rest.client import cancel_on
from . import metrics
from .listwatch import ListerWatcher

__all__ = [
    "Reflector",
    "ReflectorStore",
    "WatchErrorHandler",
    "ListError",
    "VeryShortWatchError",
    "new_reflector",
    "new_named_reflector",
    "default_watch_error_handler",
    "is_connection_refused",
    "is_watch_error_retriable",
    "DEFAULT_MIN_WATCH_TIMEOUT",
    "DEFAULT_PAGE_SIZE",
]

log = logging.getLogger(__name__)

#: ``defaultMinWatchTimeout``: a watch's ``timeoutSeconds`` is uniform in [5, 10) minutes.
DEFAULT_MIN_WATCH_TIMEOUT = 300.0
#: ``pager.defaultPageSize``: ``limit`` of a paginated LIST.
DEFAULT_PAGE_SIZE = 500
# Backoff shared by the list-and-watch loop and the retriable watch errors.
_BACKOFF_INITIAL = 0.8
_BACKOFF_MAX = 30.0
_BACKOFF_RESET = 120.0
_BACKOFF_FACTOR = 2.0
_BACKOFF_JITTER = 1.0
# A watch that closes within a second with no event is treated as an error
# (otherwise a server that closes watches at once would be re-watched in a hot loop).
_VERY_SHORT_WATCH = 1.0
# RetryWithDeadline: errors more than this far apart are not one outage.
_INTERNAL_ERROR_RESET_PERIOD = 60.0

#: ``cache.WatchErrorHandler``: called with the reflector and the error that
#: ended a list-and-watch cycle, before the backoff.
WatchErrorHandler = Callable[["Reflector", BaseException], None]


class ReflectorStore:
    """``cache.ReflectorStore``: the calls a reflector makes on its store.

    Documentation only -- any object with these methods works (a DeltaFIFO, a
    plain store, a test recorder).  Optionally a store may also have
    ``update_resource_version(rv)`` (Go's ``ResourceVersionUpdater``) to be
    told the resourceVersion after every watch event.
    """

    def add(self, obj: Any) -> None: ...
    def update(self, obj: Any) -> None: ...
    def delete(self, obj: Any) -> None: ...
    def replace(self, objs: list[Any], resource_version: str) -> None: ...
    def resync(self) -> None: ...


class ListError(RuntimeError):
    """A LIST failed: ``failed to list <type>: <cause>``; the cause is in ``err``."""

    def __init__(self, description: str, err: BaseException) -> None:
        super().__init__(f"failed to list {description}: {err}")
        self.err = err


class VeryShortWatchError(RuntimeError):
    """A watch closed within a second without delivering anything (``VeryShortWatchError``)."""


class _StopRequested(Exception):
    """Internal marker: the watch ended because the stop event fired (``errorStopRequested``)."""


_STOP_REQUESTED = _StopRequested()


def _causes(err: BaseException | None):
    """``err`` and everything it wraps (``__cause__``, ``__context__``, urllib3 ``reason``)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or getattr(err, "reason", None) or err.__context__
        if not isinstance(err, BaseException):
            return


def _unwrap_status(err: BaseException | None) -> BaseException | None:
    """The first :class:`StatusError` in ``err``'s chain (Go's ``errors.As``), else ``err``."""
    for cause in _causes(err):
        if isinstance(cause, errors.StatusError):
            return cause
    return err


def is_connection_refused(err: BaseException | None) -> bool:
    """``utilnet.IsConnectionRefused``: the API server is down or restarting."""
    return any(isinstance(cause, ConnectionRefusedError) for cause in _causes(err))


def is_watch_error_retriable(err: BaseException | None) -> bool:
    """``isWatchErrorRetriable``: errors on opening a watch that do not justify a relist.

    Connection refused (the API server restarts) and 429 (it sheds load):
    waiting and re-opening the watch from the same resourceVersion is
    enough, and a relist would only add load.
    """
    return is_connection_refused(err) or errors.is_too_many_requests(_unwrap_status(err))


def _is_expired_or_too_large(err: BaseException | None) -> bool:
    cause = _unwrap_status(err)
    return errors.is_resource_expired(cause) or errors.is_too_large_resource_version(cause)


def default_watch_error_handler(reflector: Reflector, err: BaseException) -> None:
    """``cache.DefaultWatchErrorHandler``: log the error that ended a list-and-watch cycle.

    An expired resourceVersion is routine (the reflector relists) and logged
    at debug level; everything else is an error worth seeing.
    """
    if errors.is_resource_expired(_unwrap_status(err)):
        log.debug("%s: watch of %s closed with: %s",
                  reflector.name, reflector.type_description, err)
    elif isinstance(err, EOFError):
        pass  # the stream simply ended
    else:
        log.error("%s: Failed to watch %s: %s", reflector.name, reflector.type_description, err)


def _expected_gvk(expected_type: Any) -> tuple[str, str] | None:
    """Normalise an expected type to ``(apiVersion, kind)``, or ``None`` for no check."""
    if expected_type is None:
        return None
    if isinstance(expected_type, ResourceInfo):
        return expected_type.api_version, expected_type.kind
    if isinstance(expected_type, dict):
        return str(expected_type.get("apiVersion", "")), str(expected_type.get("kind", ""))
    if isinstance(expected_type, tuple) and len(expected_type) == 2:
        return str(expected_type[0]), str(expected_type[1])
    raise TypeError(
        "expected_type must be a ResourceInfo, an example object dict, "
        f"an (apiVersion, kind) tuple or None, not {type(expected_type).__name__}"
    )


def _gvk_description(gvk: tuple[str, str] | None) -> str:
    # Go prints a GroupVersionKind as "apps/v1, Kind=StatefulSet".
    return "<unspecified>" if gvk is None else f"{gvk[0]}, Kind={gvk[1]}"


class _RetryWithDeadline:
    """``cache.RetryWithDeadline``: retry a class of errors for a bounded time.

    Used for HTTP 500s on a watch: re-watch at once while the errors keep
    coming for at most ``max_retry_duration``; errors separated by more
    than ``min_reset_period`` start a new window.  A zero duration (the
    default) disables it.
    """

    def __init__(
        self,
        max_retry_duration: float,
        min_reset_period: float,
        is_retryable: Callable[[BaseException | None], bool],
        clock: Clock,
    ) -> None:
        self._max = max_retry_duration
        self._min_reset = min_reset_period
        self._is_retryable = is_retryable
        self._clock = clock
        self._first: float | None = None
        self._last: float | None = None

    def after(self, err: BaseException | None) -> None:
        if not self._is_retryable(err):
            return
        now = self._clock.now()
        if self._last is None or now - self._last >= self._min_reset:
            self._first = self._last = None
        if self._first is None:
            self._first = now
        self._last = now

    def should_retry(self) -> bool:
        if self._max <= 0:
            return False
        if self._first is not None and self._clock.now() - self._first <= self._max:
            return True
        self._first = self._last = None
        return False


class _Cycle:
    """State of one list-and-watch cycle, shared with the stop callback and the resync thread."""

    def __init__(self) -> None:
        # Set when the cycle must end (stop event fired, or the cycle returned);
        # wakes the list wait and the resync thread.
        self.cancel = threading.Event()
        # Set when a LIST finished or the stop event fired: wakes the list wait.
        self.list_wake = threading.Event()
        self.resync_error: BaseException | None = None


class Reflector:
    """``cache.Reflector``: keep ``store`` in step with one resource of the API server.

    ``name`` labels logs and metrics (informers pass the resource name, e.g.
    ``pods``).  ``expected_type`` is a
    :class:`~bitcoin_controller.apimachinery.schema.ResourceInfo`, an
    example object or an ``(apiVersion, kind)`` tuple; watch events whose
    object declares another apiVersion/kind are logged and skipped (objects
    that declare none are accepted, since list items often omit them).

    Keyword options mirror ``ReflectorOptions`` and the exported fields:
    ``resync_period`` (0 = never), ``min_watch_timeout`` (only honoured above
    the 5 minute default), ``watch_list_page_size`` (0 = let the reflector
    decide), ``max_internal_error_retry_duration`` (0 = disabled),
    ``should_resync``, ``watch_error_handler``, ``backoff_manager`` and
    ``clock``.
    """

    def __init__(
        self,
        name: str | None,
        lister_watcher: ListerWatcher,
        expected_type: Any,
        store: Any,
        resync_period: float = 0.0,
        *,
        clock: Clock = REAL_CLOCK,
        backoff_manager: wait.BackoffManager | None = None,
        min_watch_timeout: float | None = None,
        watch_list_page_size: int = 0,
        max_internal_error_retry_duration: float = 0.0,
        should_resync: Callable[[], bool] | None = None,
        watch_error_handler: WatchErrorHandler | None = None,
        type_description: str | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._expected_gvk = _expected_gvk(expected_type)
        self.type_description = type_description or _gvk_description(self._expected_gvk)
        if name is None:
            # Name after the resource when known: it is the metrics label, so it must stay bounded.
            is_resource = isinstance(expected_type, ResourceInfo)
            name = expected_type.group_resource if is_resource else self.type_description
        self.name = name
        self._lister_watcher = lister_watcher
        self._store = store
        self._update_rv = getattr(store, "update_resource_version", None)
        self.resync_period = resync_period
        self._clock = clock
        self._rand = rand
        self._backoff = backoff_manager or wait.ExponentialBackoffManager(
            _BACKOFF_INITIAL, _BACKOFF_MAX, _BACKOFF_RESET, _BACKOFF_FACTOR, _BACKOFF_JITTER, clock
        )
        self._min_watch_timeout = DEFAULT_MIN_WATCH_TIMEOUT
        if min_watch_timeout is not None and min_watch_timeout > DEFAULT_MIN_WATCH_TIMEOUT:
            self._min_watch_timeout = min_watch_timeout
        #: ``WatchListPageSize``: the LIST page size; 0 lets the reflector decide.
        self.watch_list_page_size = watch_list_page_size
        self._max_internal_error_retry_duration = max_internal_error_retry_duration
        #: ``ShouldResync``: asked before each periodic resync; ``None`` = always.
        self.should_resync = should_resync
        self._watch_error_handler: WatchErrorHandler = (
            watch_error_handler or default_watch_error_handler
        )

        self._lock = threading.Lock()
        self._last_sync_resource_version = ""
        self._last_sync_resource_version_unavailable = False
        # A list at RV "0" came back paginated: the watch cache is off, keep paginating.
        self._paginated_result = False
        self._list_phases = 0
        self._current_watch: Any = None

        self._m_lists = metrics.LISTS.labels(self.name)
        self._m_relists = metrics.RELISTS.labels(self.name)
        self._m_watches = metrics.WATCHES.labels(self.name)
        self._m_watch_errors = metrics.WATCH_ERRORS.labels(self.name)
        self._m_events = metrics.EVENTS.labels(self.name)

    # -- public API ------------------------------------------------------------

    def set_watch_error_handler(self, handler: WatchErrorHandler) -> None:
        """Replace the handler called when a list-and-watch cycle fails (before running)."""
        self._watch_error_handler = handler

    def last_sync_resource_version(self) -> str:
        """``LastSyncResourceVersion``: the newest resourceVersion seen by LIST or WATCH."""
        with self._lock:
            return self._last_sync_resource_version

    def run(self, stop_event: threading.Event) -> None:
        """``Run``: list-and-watch until ``stop_event`` is set; blocks.

        After every cycle -- failed or not -- waits one backoff delay before
        the next (sliding: the delay starts when the cycle ends).  A failed
        cycle is first reported to the watch error handler.
        """
        log.debug("Starting reflector %s (resync %ss) from %s", self.type_description,
                  self.resync_period, self.name)

        def cycle() -> None:
            try:
                self.list_and_watch(stop_event)
            except Exception as err:  # every failure goes to the handler
                self._watch_error_handler(self, err)

        wait.backoff_until(cycle, self._backoff, True, stop_event, self._clock)
        log.debug("Stopping reflector %s from %s", self.type_description, self.name)

    def list_and_watch(self, stop_event: threading.Event) -> None:
        """``ListAndWatch``: one LIST, then watches until one cannot be resumed.

        Returns normally when stopped or when the watch phase ends (a relist
        is then needed); raises :class:`ListError` if the LIST failed, or the
        error that prevented a watch from being opened.
        """
        cycle = _Cycle()
        cancel_stop_callback = wait.after_func(stop_event, lambda: self._interrupt(cycle))
        try:
            self._list(stop_event, cycle)
            if stop_event.is_set():
                return
            self._start_resync(cycle)
            self._watch(stop_event, cycle)
        finally:
            cycle.cancel.set()
            cancel_stop_callback()

    # -- LIST --------------------------------------------------------------------

    def _relist_resource_version(self) -> str:
        """``relistResourceVersion``: which resourceVersion the next LIST asks for."""
        with self._lock:
            if self._last_sync_resource_version_unavailable:
                # The version we had is gone (or not reached yet): read the
                # latest state consistently from etcd.
                return ""
            if self._last_sync_resource_version == "":
                # First list: any version will do, so the watch cache can serve it.
                return "0"
            # "Not older than what we have seen": never go back in time.
            return self._last_sync_resource_version

    def _set_unavailable(self, value: bool) -> None:
        with self._lock:
            self._last_sync_resource_version_unavailable = value

    def _set_last_sync_resource_version(self, rv: str) -> None:
        with self._lock:
            self._last_sync_resource_version = rv

    def _page_size(self, resource_version: str) -> int:
        if self.watch_list_page_size != 0:
            return self.watch_list_page_size
        if self._paginated_result:
            return DEFAULT_PAGE_SIZE
        if resource_version not in ("", "0"):
            # A LIST with a limit at a concrete RV bypasses the watch cache and
            # goes to etcd; unpaginated, the watch cache can serve it.
            return 0
        # RV "0" ignores limit in the watch cache anyway; RV "" reads etcd, where
        # paging keeps a big list from being built in one go.
        return DEFAULT_PAGE_SIZE

    def _list(self, stop_event: threading.Event, cycle: _Cycle) -> None:
        """``list``: LIST (paginated when useful) and ``store.replace`` the result."""
        if self._list_phases > 0:
            self._m_relists.inc()
        self._list_phases += 1
        options = ListOptions(resource_version=self._relist_resource_version())
        page_size = self._page_size(options.resource_version or "")

        outcome: dict[str, Any] = {}
        finished = threading.Event()

        def do_list() -> None:
            try:
                try:
                    outcome["result"] = self._paged_list(options, page_size)
                except Exception as err:
                    if not _is_expired_or_too_large(err):
                        raise
                    # The RV we asked for is compacted away or not yet reached:
                    # fall back at once to a consistent read of the latest state.
                    self._set_unavailable(True)
                    retry = ListOptions(resource_version=self._relist_resource_version())
                    outcome["result"] = self._paged_list(retry, page_size)
            except Exception as err:  # handed to the calling thread
                outcome["error"] = err
            finally:
                finished.set()
                cycle.list_wake.set()

        def do_list_until_stopped() -> None:
            # The stop event cancels the LIST's Retry-After waits (the ctx of
            # Go's List call), so the abandoned thread does not linger for them.
            with cancel_on(stop_event):
                do_list()

        # The LIST runs in its own thread so that a stop abandons it at once,
        # even while an HTTP request hangs (Go does the same with a goroutine).
        threading.Thread(
            target=do_list_until_stopped, name=f"reflector-list-{self.name}", daemon=True
        ).start()
        cycle.list_wake.wait()
        if stop_event.is_set() or not finished.is_set():
            return
        if "error" in outcome:
            err = outcome["error"]
            log.warning("%s: failed to list %s: %s", self.name, self.type_description, err)
            raise ListError(self.type_description, err) from err

        list_obj, paginated = outcome["result"]
        if options.resource_version == "0" and paginated:
            # Only a paginated answer at RV "0" proves the watch cache is off:
            # RV "" lists come from etcd and are paginated even with the cache on.
            self._paginated_result = True
        self._set_unavailable(False)
        if not isinstance(list_obj, dict) or not isinstance(list_obj.get("metadata", {}), dict):
            raise ListError(self.type_description, TypeError("unable to understand list result"))
        resource_version = str((list_obj.get("metadata") or {}).get("resourceVersion") or "")
        items = list_obj.get("items") or []
        _fill_item_kinds(list_obj, items)
        try:
            self._store.replace(items, resource_version)
        except Exception as err:
            raise RuntimeError(f"unable to sync list result: {err}") from err
        self._set_last_sync_resource_version(resource_version)

    def _paged_list(self, options: ListOptions, page_size: int) -> tuple[dict[str, Any], bool]:
        """``pager.ListPager.List``: follow ``continue`` tokens; return (list, paginated).

        Continuation pages clear resourceVersion/resourceVersionMatch (the
        server rejects them together with a token).  If a *continuation*
        page fails with 410 -- the snapshot the token points into was
        compacted -- one unpaginated LIST at the original resourceVersion is
        made instead (``FullListIfExpired``); a 410 on the first page is
        returned as is.
        """
        self._m_lists.inc()
        opts = options.copy()
        if not opts.limit and page_size > 0:
            opts.limit = page_size
        requested_rv = opts.resource_version
        requested_rv_match = opts.resource_version_match
        merged: dict[str, Any] | None = None
        paginated = False
        while True:
            try:
                page = self._lister_watcher.list(opts)
            except Exception as err:
                if not errors.is_resource_expired(_unwrap_status(err)) or not opts.continue_:
                    raise
                full = opts.copy(
                    limit=None,
                    continue_=None,
                    resource_version=requested_rv,
                    resource_version_match=requested_rv_match,
                )
                return self._lister_watcher.list(full), paginated
            page_meta = page.get("metadata") or {}
            token = page_meta.get("continue") or ""
            if not token and merged is None:
                return page, paginated
            if merged is None:
                # The result carries the first page's resourceVersion: that is the
                # snapshot every later page continues.
                merged = {
                    "apiVersion": page.get("apiVersion", ""),
                    "kind": page.get("kind", ""),
                    "metadata": {"resourceVersion": page_meta.get("resourceVersion", "")},
                    "items": [],
                }
            merged["items"].extend(page.get("items") or [])
            if not token:
                return merged, paginated
            opts = opts.copy(continue_=token, resource_version=None, resource_version_match=None)
            paginated = True

    # -- resync --------------------------------------------------------------------

    def _start_resync(self, cycle: _Cycle) -> None:
        """``startResync``: call ``store.resync()`` every ``resync_period`` while watching."""
        if self.resync_period <= 0:
            return

        def loop() -> None:
            while not self._clock.wait_event(cycle.cancel, self.resync_period):
                should = self.should_resync
                if should is not None and not should():
                    continue
                log.debug("%s: forcing resync", self.name)
                try:
                    self._store.resync()
                except Exception as err:  # ends the watch, like Go's resyncerrc
                    cycle.resync_error = err
                    self._stop_current_watch()
                    return

        threading.Thread(target=loop, name=f"reflector-resync-{self.name}", daemon=True).start()

    # -- WATCH ---------------------------------------------------------------------

    def _interrupt(self, cycle: _Cycle) -> None:
        """Stop callback: wake every wait of the cycle and close the open watch."""
        cycle.cancel.set()
        cycle.list_wake.set()
        self._stop_current_watch()

    def _stop_current_watch(self) -> None:
        with self._lock:
            current = self._current_watch
        if current is not None:
            current.stop()

    def _watch_options(self) -> ListOptions:
        timeout = int(self._min_watch_timeout * (self._rand() + 1.0))
        return ListOptions(
            resource_version=self.last_sync_resource_version(),
            # Ask the server to end the watch after 5-10 minutes: a watch that
            # never ends could hang on a dead connection unnoticed, and a random
            # length keeps reflectors from re-watching all at once.
            timeout_seconds=timeout,
            # Bookmarks keep the resourceVersion moving on quiet resources.
            allow_watch_bookmarks=True,
        )

    def _watch(self, stop_event: threading.Event, cycle: _Cycle) -> None:
        """``watch``: open watches from the last resourceVersion until one cannot be resumed."""
        retry = _RetryWithDeadline(
            self._max_internal_error_retry_duration,
            _INTERNAL_ERROR_RESET_PERIOD,
            lambda e: isinstance(_unwrap_status(e), errors.InternalError),
            self._clock,
        )
        while not stop_event.is_set():
            # Start the clock before the request: some proxies only send headers
            # with the first event.
            start = self._clock.now()
            try:
                # A Retry-After wait while opening the watch ends with the stop
                # event (Go passes the reflector's ctx to Watch for this).
                with cancel_on(stop_event):
                    w = self._lister_watcher.watch(self._watch_options())
            except Exception as err:
                if stop_event.is_set():
                    return
                self._m_watch_errors.inc()
                if is_watch_error_retriable(err):
                    log.debug("%s: watch of %s returned %s - backing off",
                              self.name, self.type_description, err)
                    if self._clock.wait_event(stop_event, self._backoff.backoff()):
                        return
                    continue
                raise
            self._m_watches.inc()
            with self._lock:
                self._current_watch = w
            try:
                if stop_event.is_set():  # stopped while opening: the callback missed it
                    return
                err = self._handle_watch(start, w, stop_event, cycle)
            finally:
                with self._lock:
                    self._current_watch = None
                w.stop()
            retry.after(err)
            if err is None:
                # Clean close (server timeout): resume from the last RV, no relist.
                continue
            if err is _STOP_REQUESTED:
                return
            self._m_watch_errors.inc()
            status = _unwrap_status(err)
            if errors.is_resource_expired(status):
                # The RV fell out of the server's history: relist (at that RV,
                # not at "", so the watch cache can still serve it).
                log.debug("%s: watch of %s closed with: %s", self.name, self.type_description, err)
                return
            if errors.is_too_many_requests(status):
                log.info("%s: watch of %s returned 429 - backing off", self.name,
                         self.type_description)
                if self._clock.wait_event(stop_event, self._backoff.backoff()):
                    return
                continue
            if isinstance(status, errors.InternalError) and retry.should_retry():
                log.info("%s: retrying watch of %s internal error: %s", self.name,
                         self.type_description, err)
                continue
            log.warning("%s: watch of %s ended with: %s", self.name, self.type_description, err)
            return

    def _handle_watch(
        self, start: float, w: Any, stop_event: threading.Event, cycle: _Cycle
    ) -> BaseException | None:
        """``watchHandler``: apply events to the store; return why the watch ended.

        ``None`` is a clean close; anything else is an error to classify.
        """
        count = 0
        expected = self._expected_gvk
        store = self._store
        try:
            for event in w:
                if stop_event.is_set():
                    return _STOP_REQUESTED
                event_type = event.get("type")
                obj = event.get("object")
                if event_type == EventType.ERROR:
                    if isinstance(obj, dict):
                        return errors.from_status(obj)
                    return errors.StatusError(f"unexpected watch error event: {type(obj).__name__}")
                if expected is not None and isinstance(obj, dict):
                    api_version, kind = obj.get("apiVersion"), obj.get("kind")
                    wrong_version = bool(api_version) and api_version != expected[0]
                    if wrong_version or (kind and kind != expected[1]):
                        log.error("%s: expected type %s, but watch event object had %s, Kind=%s",
                                  self.name, self.type_description, api_version, kind)
                        continue
                try:
                    resource_version = metav1.get_resource_version(obj)
                except metav1.ObjectMetaError:
                    log.error("%s: unable to understand watch event %s", self.name, event_type)
                    continue
                try:
                    if event_type == EventType.ADDED:
                        store.add(obj)
                    elif event_type == EventType.MODIFIED:
                        store.update(obj)
                    elif event_type == EventType.DELETED:
                        # The object carries its last state; the store decides what to do.
                        store.delete(obj)
                    elif event_type == EventType.BOOKMARK:
                        pass  # only the resourceVersion matters
                    else:
                        log.error("%s: unable to understand watch event type %r", self.name,
                                  event_type)
                except Exception as err:  # store errors are logged, not fatal
                    log.error("%s: unable to apply watch event %s to the store: %s",
                              self.name, event_type, err)
                self._set_last_sync_resource_version(resource_version)
                if self._update_rv is not None:
                    self._update_rv(resource_version)
                count += 1
                self._m_events.inc()
        except Exception as err:  # a broken stream is one more way to end
            if stop_event.is_set():
                return _STOP_REQUESTED
            return err
        if stop_event.is_set():
            return _STOP_REQUESTED
        if cycle.resync_error is not None:
            return cycle.resync_error
        if self._clock.since(start) < _VERY_SHORT_WATCH and count == 0:
            return VeryShortWatchError(
                f"very short watch: {self.name}: Unexpected watch close - "
                "watch lasted less than a second and no items received"
            )
        log.debug("%s: Watch close - %s total %d items received", self.name,
                  self.type_description, count)
        return None


def _fill_item_kinds(list_obj: dict[str, Any], items: list[Any]) -> None:
    """Give list items the ``apiVersion``/``kind`` the API server leaves out of typed lists.

    client-go's unstructured decoding does the same, so every object in a
    cache can be identified on its own (``scheme.resource_for(obj)``).
    """
    list_kind = str(list_obj.get("kind") or "")
    if not list_kind.endswith("List"):
        return
    kind = list_kind[: -len("List")]
    api_version = list_obj.get("apiVersion") or ""
    for item in items:
        if isinstance(item, dict) and "kind" not in item:
            item["kind"] = kind
            if api_version and "apiVersion" not in item:
                item["apiVersion"] = api_version


def new_reflector(
    lister_watcher: ListerWatcher, expected_type: Any, store: Any, resync_period: float = 0.0,
    **options: Any,
) -> Reflector:
    """``cache.NewReflector``: a reflector named after its expected type."""
    return Reflector(None, lister_watcher, expected_type, store, resync_period, **options)


def new_named_reflector(
    name: str, lister_watcher: ListerWatcher, expected_type: Any, store: Any,
    resync_period: float = 0.0, **options: Any,
) -> Reflector:
    """``cache.NewNamedReflector``: a reflector with an explicit name for logs and metrics."""
    return Reflector(name, lister_watcher, expected_type, store, resync_period, **options)
