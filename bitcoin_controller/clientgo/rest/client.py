"""The REST client, mirroring client-go's ``rest.RESTClient`` and ``rest.Request``.

Everything the typed clientset does ends here: build a URL, add the headers
that carry identity (bearer token, impersonation, user agent), send it with
urllib3 over the process-wide pool (:mod:`.transport`), and turn the answer
into either decoded JSON or an exception.

Responses are decoded with :func:`json.loads` into plain dicts -- never into
the ``kubernetes`` package's generated models, whose construction costs
seconds of CPU per large list (kubernetes-client/python #1231, #1921).

Failures are typed: a non-2xx answer becomes the
:class:`~bitcoin_controller.apimachinery.errors.StatusError` subclass for the
server's ``Status`` (``NotFoundError``, ``ConflictError``...), and a request
that got no answer at all becomes :class:`~.transport.TransportError`.
Exception messages carry the server's message, the method and the URL, never
request headers or bodies, so a token cannot leak through a log of errors.

A 429 or 5xx answer with a ``Retry-After`` header is retried after the given
delay, at most ``Config.max_retries`` times, as client-go's request retry
does; throttled servers (API Priority and Fairness) rely on this.  The delay
is capped at ``Config.max_retry_after`` (a hostile or broken server asking
for a day must not park an informer or a worker for a day), and the wait is
cut short when the request's cancel event fires -- the stop event of the
reflector that sent it, see :func:`cancel_on` -- as client-go's
``SleepWithContext`` returns when the request's context is done.  A GET
that fails because a pooled connection was closed by the server is replayed
once on a fresh connection, as Go's HTTP transport does.

Every attempt is counted in :data:`REQUEST_RESULTS`, the Prometheus counter
``rest_client_requests_total{code,method,host}`` that client-go's
``metrics.RequestResult`` feeds -- the one number that tells how much a
controller costs the API server.
"""

from __future__ import annotations

import contextlib
import contextvars
import http
import json
import logging
import math
import random
import threading
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn
from urllib.parse import urlencode, urlsplit

import urllib3
from prometheus_client import Counter

from ...apimachinery import errors
from ...componentbase.metrics.legacyregistry import REGISTRY
from ...utils.clock import REAL_CLOCK, Clock
from ..util.flowcontrol import TokenBucketRateLimiter
from .body import encode_json
from .config import Config
from .transport import CachedFileTokenSource, TransportError, pool_manager_for
from .watch import StreamWatcher

__all__ = [
    "RESTClient",
    "Request",
    "RequestCanceledError",
    "cancel_on",
    "error_from_response",
    "random_watch_timeout",
    "DEFAULT_WATCH_TIMEOUT",
    "REQUEST_RESULTS",
    "ERROR_CODE_LABEL",
]

log = logging.getLogger(__name__)

#: The read deadline of a watch sent without ``timeoutSeconds``: the API
#: server then closes it after a random time in [30, 60) minutes.
DEFAULT_WATCH_TIMEOUT = 3600.0

_JSON = "application/json"

#: The ``code`` label of an attempt that got no HTTP answer.  Error texts
#: vary without bound, so, as client-go does, they all share one label value.
ERROR_CODE_LABEL = "<error>"

#: ``rest_client_requests_total{code,method,host}`` (client-go's
#: ``metrics.RequestResult``, registered by component-base under this name).
#: One increment per attempt that reached the wire: a request retried after
#: ``Retry-After`` counts each try, as client-go's ``withRetry.After`` does.
#: ``host`` is the API server's ``host:port`` -- never a path or query, so
#: the series stay few and no object name or credential becomes a label.
#: prometheus_client appends ``_total`` to a counter's name on exposition.
REQUEST_RESULTS = Counter(
    "rest_client_requests",
    "Requests the REST client sent to the API server, per attempt, by HTTP status code "
    "('<error>' when no answer came), method and host.",
    ["code", "method", "host"],
    registry=REGISTRY,
)


#: The cancel event of the requests the current thread sends: Python's stand-in
#: for the ``ctx`` every client-go call takes.  Set with :func:`cancel_on`.
_CANCEL: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "rest_request_cancel", default=None
)


@contextlib.contextmanager
def cancel_on(event: threading.Event | None) -> Iterator[None]:
    """Requests sent by this thread inside the block are cancelled by ``event``.

    The Python form of passing a cancellable ``ctx`` down a client-go call
    chain (``Watch(ctx, opts)``): the reflector wraps its LIST and WATCH in
    ``with cancel_on(stop_event)`` so that a ``Retry-After`` wait ends when
    the informer is stopped.  The event is only consulted between attempts;
    an attempt in flight is bounded by its own timeouts.
    """
    token = _CANCEL.set(event)
    try:
        yield
    finally:
        _CANCEL.reset(token)


class RequestCanceledError(TransportError):
    """The request's cancel event fired before it got a usable answer (``context.Canceled``)."""


class RESTClient:
    """``rest.RESTClient``: sends requests to one API server with one identity.

    Thread-safe; one per clientset is enough (the connections underneath are
    shared process-wide anyway).  ``clock`` drives throttling waits,
    ``Retry-After`` waits and the token file's re-read period.
    """

    def __init__(self, config: Config, *, clock: Clock = REAL_CLOCK) -> None:
        if config.insecure and (config.ca_file or config.ca_data):
            # As in client-go: trusting a CA and skipping verification contradict each other.
            raise ValueError("a root certificate authority cannot be combined with insecure=True")
        self.config = config
        self.base_url = _base_url(config)
        # Go labels the metric with url.Host: host and port, no user info.
        self._host_label = urlsplit(self.base_url).netloc.rpartition("@")[2]
        self._clock = clock
        self._pool = pool_manager_for(config)
        self._token_file = (
            CachedFileTokenSource(config.bearer_token_file, clock=clock)
            if config.bearer_token_file
            else None
        )
        if config.qps is not None and config.qps < 0:
            raise ValueError("qps must be positive")
        self._throttle = (
            TokenBucketRateLimiter(config.qps, max(1, int(config.burst or config.qps or 1)), clock)
            if config.qps
            else None
        )

    # -- request builders (client.Get().AbsPath(...).Do()) --------------------
    def verb(self, method: str) -> Request:
        """A new request with this HTTP method (``client.Verb("GET")``)."""
        return Request(self, method.upper())

    def get(self) -> Request:
        """``client.Get()``."""
        return self.verb("GET")

    def post(self) -> Request:
        """``client.Post()``: create."""
        return self.verb("POST")

    def put(self) -> Request:
        """``client.Put()``: update (replace)."""
        return self.verb("PUT")

    def patch(self, patch_type: str) -> Request:
        """``client.Patch(pt)``: the patch type is the request's Content-Type."""
        return self.verb("PATCH").set_header("Content-Type", patch_type)

    def delete(self) -> Request:
        """``client.Delete()``."""
        return self.verb("DELETE")

    # -- plumbing used by Request ---------------------------------------------
    def _headers(self) -> urllib3.HTTPHeaderDict:
        headers = urllib3.HTTPHeaderDict()
        headers["Accept"] = _JSON
        headers["User-Agent"] = self.config.effective_user_agent()
        token = self._bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.config.impersonate_user:
            headers["Impersonate-User"] = self.config.impersonate_user
        for group in self.config.impersonate_groups:
            headers.add("Impersonate-Group", group)  # one header per group, as Go sends them
        return headers

    def _bearer_token(self) -> str | None:
        cfg = self.config
        if cfg.token_provider is not None:
            try:
                token = cfg.token_provider()
            except Exception as err:
                # The provider's own message may quote plugin output; keep only its type.
                name = type(err).__name__
                raise TransportError(f"getting a bearer token failed: {name}") from None
            if token:
                return token
        if self._token_file is not None:
            try:
                return self._token_file.token()
            except OSError:
                if not cfg.bearer_token:
                    raise
        return cfg.bearer_token

    def _send(self, request: Request, *, stream: bool) -> urllib3.BaseHTTPResponse:
        url = request.url()
        timeout = request.effective_timeout(stream)
        cancel = request.cancel_event if request.cancel_event is not None else _CANCEL.get()
        attempt = 0
        replayed = False
        while True:
            if self._throttle is not None:
                self._throttle.accept()
            headers = self._headers()
            headers.update(request.headers)
            try:
                response = self._pool.request(
                    request.method,
                    url,
                    body=request.body_bytes,
                    headers=headers,
                    preload_content=not stream,
                    timeout=timeout,
                    retries=False,
                    redirect=False,
                )
            except urllib3.exceptions.ProtocolError as err:
                # A pooled keep-alive connection the server closed meanwhile fails
                # like this before any answer.  Go's transport replays such a
                # request when it is a GET; so do we, once.  Writes are not
                # replayed: the server may have applied them.
                # Go's replay happens inside http.Transport, below client-go's
                # metric, so the dead connection is not counted as an attempt.
                if request.method == "GET" and not replayed:
                    replayed = True
                    log.debug("%s %s: %s on a pooled connection, replaying once",
                              request.method, url, type(err).__name__)
                    continue
                self._count(request.method, ERROR_CODE_LABEL)
                reason = f"{type(err).__name__}: {err}"
                raise TransportError(f"{request.method} {url}: {reason}") from err
            except urllib3.exceptions.HTTPError as err:
                self._count(request.method, ERROR_CODE_LABEL)
                reason = f"{type(err).__name__}: {err}"
                raise TransportError(f"{request.method} {url}: {reason}") from err
            self._count(request.method, str(response.status))
            delay = _retry_after(response, self.config.max_retry_after)
            if delay is None or attempt >= self.config.max_retries:
                return response
            attempt += 1
            _discard(response)
            log.info("%s %s: HTTP %d, retrying after %ss (attempt %d)",
                     request.method, url, response.status, delay, attempt)
            if cancel is None:
                self._clock.sleep(delay)
            elif self._clock.wait_event(cancel, delay):
                raise RequestCanceledError(
                    f"{request.method} {url}: cancelled while waiting to retry "
                    f"after HTTP {response.status}"
                )

    def _count(self, method: str, code: str) -> None:
        REQUEST_RESULTS.labels(code=code, method=method, host=self._host_label).inc()


class Request:
    """``rest.Request``: one request being built, then sent with :meth:`do` or :meth:`watch`."""

    def __init__(self, client: RESTClient, method: str) -> None:
        self.client = client
        self.method = method
        self.path = "/"
        self.query: dict[str, str] = {}
        self.headers: dict[str, str] = {}
        self.body_bytes: bytes | None = None
        self.timeout_seconds: float | None = None
        self.cancel_event: threading.Event | None = None

    def abs_path(self, path: str) -> Request:
        """The path below the server URL, e.g. ``/api/v1/namespaces/ns/pods``."""
        self.path = path if path.startswith("/") else "/" + path
        return self

    def param(self, name: str, value: Any) -> Request:
        """One query parameter; booleans are sent as ``true``/``false`` like Go's."""
        if isinstance(value, bool):
            value = "true" if value else "false"
        self.query[name] = str(value)
        return self

    def params(self, query: Mapping[str, Any]) -> Request:
        """Add query parameters, e.g. ``ListOptions.to_query()`` (``VersionedParams`` in Go)."""
        for name, value in query.items():
            self.param(name, value)
        return self

    def set_header(self, name: str, value: str) -> Request:
        """An extra header for this request (identity headers come from the config)."""
        self.headers[name] = value
        return self

    def body(self, body: bytes | str | dict[str, Any] | list[Any]) -> Request:
        """The request body; objects are sent as JSON."""
        self.body_bytes = encode_json(body)
        self.headers.setdefault("Content-Type", _JSON)
        return self

    def timeout(self, seconds: float) -> Request:
        """Read deadline for this request (silence between bytes), overriding the config."""
        self.timeout_seconds = seconds
        return self

    def cancel_when(self, event: threading.Event) -> Request:
        """Cancel this request's ``Retry-After`` waits when ``event`` fires (``r.ctx`` in Go).

        Overrides the thread's :func:`cancel_on` event for this request.
        """
        self.cancel_event = event
        return self

    def url(self) -> str:
        """The full URL with the query string (safe to log: credentials travel in headers)."""
        url = self.client.base_url + self.path
        if self.query:
            url += "?" + urlencode(self.query)
        return url

    def effective_timeout(self, stream: bool) -> urllib3.Timeout:
        """Connect and read deadlines; a watch's read deadline follows its ``timeoutSeconds``."""
        cfg = self.client.config
        read = self.timeout_seconds
        if read is None and stream:
            server_timeout = self.query.get("timeoutSeconds")
            # The server ends a watch after timeoutSeconds; silence well past that
            # means the connection is dead (half-open), not that nothing happened.
            base = float(server_timeout) if server_timeout else DEFAULT_WATCH_TIMEOUT
            read = base + cfg.watch_read_timeout_margin
        elif read is None:
            read = cfg.timeout
        return urllib3.Timeout(connect=cfg.connect_timeout, read=read)

    # -- sending --------------------------------------------------------------
    def do_raw(self) -> bytes:
        """Send; return the body of a 2xx answer, raise for anything else."""
        response = self.client._send(self, stream=False)
        data = response.data or b""
        if not 200 <= response.status < 300:
            raise error_from_response(response.status, data, self.method, self.url())
        return data

    def do(self) -> Any:
        """Send; return the decoded JSON of a 2xx answer (``None`` if empty)."""
        data = self.do_raw()
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise errors.new_internal_error(
                f"{self.method} {self.url()}: the server's answer is not JSON"
            ) from None

    def _fail(self, response: urllib3.BaseHTTPResponse) -> NoReturn:
        """Release a streamed failure answer and raise its StatusError."""
        try:
            data = response.read()
        except Exception:
            data = b""
        _discard(response)
        raise error_from_response(response.status, data, self.method, self.url())

    def stream(self) -> Iterator[bytes]:
        """``Request.Stream``: the body of a 2xx answer as it arrives (pod logs with ``follow``).

        Any other answer raises its StatusError; the connection is released
        when the iterator is exhausted or closed.
        """
        response = self.client._send(self, stream=True)
        if not 200 <= response.status < 300:
            self._fail(response)

        def chunks() -> Iterator[bytes]:
            try:
                yield from response.stream(4096)
            except urllib3.exceptions.HTTPError as err:
                raise TransportError(f"{self.method} {self.url()}: {type(err).__name__}: {err}") from err
            finally:
                _discard(response)

        return chunks()

    def watch(self) -> StreamWatcher:
        """Open a watch: a 200 answer becomes a :class:`~.watch.StreamWatcher`.

        Any other answer raises its StatusError (e.g. 410 when the requested
        resourceVersion is too old, 403 when RBAC forbids the watch).
        """
        response = self.client._send(self, stream=True)
        if response.status != 200:
            self._fail(response)
        return StreamWatcher(response, description=f"{self.method} {self.path}")


def error_from_response(
    code: int, body: bytes, method: str = "", url: str = ""
) -> errors.StatusError:
    """The exception for a failed answer: the server's Status if it sent one.

    Without a Status body (a proxy's HTML page, an empty 503) the error is
    built from the HTTP code alone; the body itself is never quoted.
    """
    status: dict[str, Any] | None = None
    try:
        decoded = json.loads(body) if body else None
        if isinstance(decoded, dict) and decoded.get("kind") == "Status":
            status = decoded
    except ValueError:
        pass
    if status is None:
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = "unknown status"
        where = f" to {method} {url}" if method else ""
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"the server answered{where} with HTTP {code} ({phrase}) and no Status",
            "code": code,
        }
    return errors.from_status(status, code)


def _retry_after(response: urllib3.BaseHTTPResponse, cap: float) -> float | None:
    """Seconds to wait before retrying, when the answer asks for a retry (``checkWait`` in Go).

    Only whole seconds count, as in Go's ``strconv.Atoi``; the result lies
    in ``[0, cap]``.  A server's word is a hint, not a command: a huge value
    is clamped rather than obeyed (or rejected, which would turn "busy"
    into an instant retry storm).
    """
    if response.status != 429 and response.status < 500:
        return None
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(int(value.strip()))
    except ValueError:
        return None
    limit = cap if math.isfinite(cap) and cap >= 0 else 0.0
    return min(max(0.0, seconds), limit)


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    try:
        response.drain_conn()
        response.release_conn()
    except Exception:
        pass


def _base_url(config: Config) -> str:
    host = config.host.strip()
    if not host:
        raise ValueError("Config.host must be set")
    if "://" not in host:
        # rest.DefaultServerURL: TLS settings imply https, otherwise plain http.
        secure = any(
            (config.insecure, config.ca_file, config.ca_data, config.cert_file, config.cert_data)
        )
        host = ("https://" if secure else "http://") + host
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"Config.host is not an http(s) URL: {config.host!r}")
    return host.rstrip("/")


def random_watch_timeout(min_seconds: int = 300) -> int:
    """A watch's ``timeoutSeconds``: random in [min, 2*min), as the reflector picks it.

    Spreading the timeouts keeps a fleet of informers from re-watching in lock-step.
    """
    return int(min_seconds * (1.0 + random.random()))
