"""Small helpers of event recording (client-go ``tools/record/util``).

Event names follow client-go: ``<involved object name>.<hex of the Unix time
in nanoseconds>``.  The time part makes names unique per object (two events
about one object would otherwise overwrite each other) and sorts them by
creation; the fallback to a UUID keeps the name valid when the object's
name would make it an invalid DNS subdomain.
"""

from __future__ import annotations

import datetime
import re
import uuid

from ....apimachinery.errors import StatusError

__all__ = [
    "EVENT_TYPE_NORMAL",
    "EVENT_TYPE_WARNING",
    "validate_event_type",
    "is_key_not_found_error",
    "unix_nanos",
    "generate_event_name",
]

#: ``v1.EventTypeNormal``: nothing is wrong, something happened.
EVENT_TYPE_NORMAL = "Normal"
#: ``v1.EventTypeWarning``: something may need attention.
EVENT_TYPE_WARNING = "Warning"

_UNIX_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"^{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*$")
_DNS1123_SUBDOMAIN_MAX_LENGTH = 253


def validate_event_type(event_type: str) -> bool:
    """``util.ValidateEventType``: only ``Normal`` and ``Warning`` are recorded.

    Consumers (``kubectl describe``, alerting) switch on the type; anything
    else would be invisible or misread, so it is dropped at the source.
    """
    return event_type in (EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING)


def is_key_not_found_error(err: BaseException | None) -> bool:
    """``util.IsKeyNotFoundError``: an API error with HTTP code 404.

    A patch of an event that has meanwhile been deleted (events expire after
    an hour) answers 404; the sink then creates the event afresh.
    """
    return isinstance(err, StatusError) and err.code == 404


def unix_nanos(when: datetime.datetime) -> int:
    """Nanoseconds since the Unix epoch, computed without float rounding.

    ``datetime`` has microsecond resolution, so the last three digits are 0.
    """
    return (when - _UNIX_EPOCH) // datetime.timedelta(microseconds=1) * 1000


def generate_event_name(object_name: str, when: datetime.datetime) -> str:
    """``util.GenerateEventName``: ``<object_name>.<hex nanos>``, or a UUID if that is invalid."""
    name = f"{object_name}.{unix_nanos(when):x}"
    if len(name) > _DNS1123_SUBDOMAIN_MAX_LENGTH or not _DNS1123_SUBDOMAIN.match(name):
        return str(uuid.uuid4())
    return name
