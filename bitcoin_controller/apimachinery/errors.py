"""API errors, mirroring ``k8s.io/apimachinery/pkg/api/errors``.

The API server answers a failed request with a ``metav1.Status`` object
(``{"kind": "Status", "status": "Failure", "reason": ..., "code": ...,
"message": ..., "details": {...}}``).  client-go wraps it in a
``StatusError`` and offers ``IsNotFound(err)`` and friends; here the reason
becomes the exception class, so callers write ``except NotFoundError`` and
the original Status stays available as ``err.status``.

Messages are the server's own.  Nothing here ever formats request bodies or
headers into a message, so credentials cannot leak through exception text.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "StatusError",
    "BadRequestError",
    "UnauthorizedError",
    "ForbiddenError",
    "NotFoundError",
    "MethodNotAllowedError",
    "AlreadyExistsError",
    "ConflictError",
    "GoneError",
    "InvalidError",
    "TooManyRequestsError",
    "InternalError",
    "ServiceUnavailableError",
    "ServerTimeoutError",
    "from_status",
    "new_not_found",
    "new_already_exists",
    "new_conflict",
    "new_bad_request",
    "new_gone",
    "new_forbidden",
    "new_invalid",
    "new_internal_error",
    "new_too_many_requests",
    "is_not_found",
    "is_already_exists",
    "is_conflict",
    "is_gone",
    "is_resource_expired",
    "is_too_large_resource_version",
    "is_too_many_requests",
    "is_forbidden",
    "has_status_cause",
    "is_namespace_terminating",
]


class StatusError(Exception):
    """An error the API server reported as a ``metav1.Status`` (client-go's ``StatusError``)."""

    #: HTTP code this class stands for (0 for the generic base class).
    default_code = 0
    #: ``metav1.StatusReason`` this class stands for.
    default_reason = ""

    def __init__(self, message: str = "", status: dict[str, Any] | None = None) -> None:
        if status is None:
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "message": message,
                "reason": self.default_reason,
                "code": self.default_code,
            }
        self.status: dict[str, Any] = status
        super().__init__(message or status.get("message", "") or self.default_reason)

    @property
    def code(self) -> int:
        return int(self.status.get("code") or self.default_code)

    @property
    def reason(self) -> str:
        return str(self.status.get("reason") or self.default_reason)

    @property
    def message(self) -> str:
        return str(self.status.get("message", ""))

    @property
    def details(self) -> dict[str, Any]:
        return self.status.get("details") or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, reason={self.reason!r}, message={self.message!r})"


class BadRequestError(StatusError):
    default_code, default_reason = 400, "BadRequest"


class UnauthorizedError(StatusError):
    default_code, default_reason = 401, "Unauthorized"


class ForbiddenError(StatusError):
    default_code, default_reason = 403, "Forbidden"


class NotFoundError(StatusError):
    default_code, default_reason = 404, "NotFound"


class MethodNotAllowedError(StatusError):
    default_code, default_reason = 405, "MethodNotAllowed"


class AlreadyExistsError(StatusError):
    default_code, default_reason = 409, "AlreadyExists"


class ConflictError(StatusError):
    default_code, default_reason = 409, "Conflict"


class GoneError(StatusError):
    """HTTP 410: the requested resourceVersion is too old (reason ``Expired`` or ``Gone``)."""

    default_code, default_reason = 410, "Expired"


class InvalidError(StatusError):
    default_code, default_reason = 422, "Invalid"


class TooManyRequestsError(StatusError):
    default_code, default_reason = 429, "TooManyRequests"


class InternalError(StatusError):
    default_code, default_reason = 500, "InternalError"


class ServiceUnavailableError(StatusError):
    default_code, default_reason = 503, "ServiceUnavailable"


class ServerTimeoutError(StatusError):
    default_code, default_reason = 504, "Timeout"


_BY_REASON: dict[str, type[StatusError]] = {
    "BadRequest": BadRequestError,
    "Unauthorized": UnauthorizedError,
    "Forbidden": ForbiddenError,
    "NotFound": NotFoundError,
    "MethodNotAllowed": MethodNotAllowedError,
    "AlreadyExists": AlreadyExistsError,
    "Conflict": ConflictError,
    "Gone": GoneError,
    "Expired": GoneError,
    "Invalid": InvalidError,
    "TooManyRequests": TooManyRequestsError,
    "InternalError": InternalError,
    "ServiceUnavailable": ServiceUnavailableError,
    "ServerTimeout": ServerTimeoutError,
    "Timeout": ServerTimeoutError,
}

_BY_CODE: dict[int, type[StatusError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    410: GoneError,
    422: InvalidError,
    429: TooManyRequestsError,
    500: InternalError,
    503: ServiceUnavailableError,
    504: ServerTimeoutError,
}


def from_status(status: dict[str, Any], code: int | None = None) -> StatusError:
    """Build the matching exception for a ``metav1.Status`` (or an HTTP code).

    The reason decides first (409 can be ``AlreadyExists`` or ``Conflict``),
    then the HTTP code, as ``errors.ReasonForError`` and
    ``errors.FromObject`` do in Go.
    """
    status = dict(status or {})
    if code is not None and not status.get("code"):
        status["code"] = code
    cls = _BY_REASON.get(str(status.get("reason") or ""))
    if cls is None:
        cls = _BY_CODE.get(int(status.get("code") or 0), StatusError)
    status.setdefault("kind", "Status")
    status.setdefault("status", "Failure")
    return cls(str(status.get("message") or ""), status)


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        status["details"] = details
    return status


def _details(group_resource: str, name: str) -> dict[str, Any]:
    # group_resource is "pods" or "statefulsets.apps": resource first, group after the dot.
    resource, _, group = group_resource.partition(".")
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return details


def new_not_found(group_resource: str, name: str) -> NotFoundError:
    """``errors.NewNotFound``: message ``<resource> "<name>" not found``.

    ``group_resource`` is ``"pods"``, ``"statefulsets.apps"`` -- or, for
    listers, the lowercase singular kind (``"pod"``) as lister-gen uses.
    """
    msg = f'{group_resource} "{name}" not found'
    return NotFoundError(msg, _status(404, "NotFound", msg, _details(group_resource, name)))


def new_already_exists(group_resource: str, name: str) -> AlreadyExistsError:
    msg = f'{group_resource} "{name}" already exists'
    return AlreadyExistsError(msg, _status(409, "AlreadyExists", msg, _details(group_resource, name)))


def new_conflict(group_resource: str, name: str, reason: str) -> ConflictError:
    msg = f'Operation cannot be fulfilled on {group_resource} "{name}": {reason}'
    return ConflictError(msg, _status(409, "Conflict", msg, _details(group_resource, name)))


def new_bad_request(message: str) -> BadRequestError:
    return BadRequestError(message, _status(400, "BadRequest", message))


def new_gone(message: str) -> GoneError:
    return GoneError(message, _status(410, "Expired", message))


def new_forbidden(group_resource: str, name: str, reason: str) -> ForbiddenError:
    msg = f'{group_resource} "{name}" is forbidden: {reason}'
    return ForbiddenError(msg, _status(403, "Forbidden", msg, _details(group_resource, name)))


def new_invalid(group_resource: str, name: str, reason: str) -> InvalidError:
    msg = f'{group_resource} "{name}" is invalid: {reason}'
    return InvalidError(msg, _status(422, "Invalid", msg, _details(group_resource, name)))


def new_internal_error(message: str) -> InternalError:
    return InternalError(message, _status(500, "InternalError", message))


def new_too_many_requests(message: str = "too many requests") -> TooManyRequestsError:
    return TooManyRequestsError(message, _status(429, "TooManyRequests", message))


def is_not_found(err: BaseException | None) -> bool:
    return isinstance(err, NotFoundError)


def is_already_exists(err: BaseException | None) -> bool:
    return isinstance(err, AlreadyExistsError)


def is_conflict(err: BaseException | None) -> bool:
    return isinstance(err, ConflictError)


def is_gone(err: BaseException | None) -> bool:
    return isinstance(err, GoneError)


def is_resource_expired(err: BaseException | None) -> bool:
    """``isExpiredError`` in the reflector: reason ``Expired`` or ``Gone`` (HTTP 410)."""
    return isinstance(err, GoneError)


def is_too_large_resource_version(err: BaseException | None) -> bool:
    """``isTooLargeResourceVersionError``: the cause ``ResourceVersionTooLarge``,
    or (older servers) a Timeout whose message says "Too large resource version"."""
    if not isinstance(err, StatusError):
        return False
    for cause in err.details.get("causes") or []:
        if cause.get("reason") == "ResourceVersionTooLarge":
            return True
        if "Too large resource version" in str(cause.get("message", "")):
            return True
    return isinstance(err, ServerTimeoutError) and "Too large resource version" in err.message


def is_too_many_requests(err: BaseException | None) -> bool:
    return isinstance(err, TooManyRequestsError)


def is_forbidden(err: BaseException | None) -> bool:
    return isinstance(err, ForbiddenError)


def has_status_cause(err: BaseException | None, reason: str) -> bool:
    """``errors.HasStatusCause``: the Status details list a cause with this reason."""
    if not isinstance(err, StatusError):
        return False
    return any(cause.get("reason") == reason for cause in err.details.get("causes") or [])


def is_namespace_terminating(err: BaseException | None) -> bool:
    """A create refused because its namespace is being deleted (cause ``NamespaceTerminating``)."""
    return has_status_cause(err, "NamespaceTerminating")
