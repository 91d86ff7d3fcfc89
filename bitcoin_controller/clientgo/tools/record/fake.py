"""A recorder for tests (client-go ``tools/record/fake.go``).

Controller tests check "did the controller report X?" without a
broadcaster or an API server: :class:`FakeRecorder` puts one string per
event on a :class:`queue.Queue` that the test reads.
"""

from __future__ import annotations

import queue
from typing import Any

from .event import EventRecorder, _sprintf

__all__ = ["FakeRecorder"]


class FakeRecorder(EventRecorder):
    """``record.FakeRecorder``: each event becomes ``"<type> <reason> <message>"`` in a queue.

    With ``include_object`` the string ends with
    `` involvedObject{kind=<kind>,apiVersion=<apiVersion>}``; annotations,
    when given, are appended as Go prints a map (`` map[k:v ...]``, sorted).
    The queue is :attr:`events`.  Like a Go channel, it holds
    ``buffer_size`` strings and a further event blocks until the test reads
    one -- a test that records more than it reads has a bug and should hang
    visibly, not lose events.
    ``buffer_size=None`` discards every event (Go's zero ``FakeRecorder``
    with a nil channel).  Event types are not validated, as in Go.
    """

    def __init__(self, buffer_size: int | None = 100, include_object: bool = False) -> None:
        if buffer_size is not None and buffer_size < 1:
            # queue.Queue(0) is unbounded, the opposite of an unbuffered channel.
            raise ValueError("buffer_size must be at least 1 (or None to discard events)")
        self.events: queue.Queue[str] | None = (
            None if buffer_size is None else queue.Queue(maxsize=buffer_size)
        )
        self.include_object = include_object

    def event(self, obj: Any, event_type: str, reason: str, message: str) -> None:
        self._write(obj, None, f"{event_type} {reason} {message}")

    def annotated_eventf(
        self,
        obj: Any,
        annotations: dict[str, str] | None,
        event_type: str,
        reason: str,
        message_fmt: str,
        *args: Any,
    ) -> None:
        self._write(obj, annotations, f"{event_type} {reason} {_sprintf(message_fmt, args)}")

    def _write(self, obj: Any, annotations: dict[str, str] | None, text: str) -> None:
        if self.events is None:
            return
        if self.include_object:
            kind = obj.get("kind", "") if isinstance(obj, dict) else ""
            api_version = obj.get("apiVersion", "") if isinstance(obj, dict) else ""
            text += f" involvedObject{{kind={kind},apiVersion={api_version}}}"
        if annotations:
            pairs = " ".join(f"{k}:{v}" for k, v in sorted(annotations.items()))
            text += f" map[{pairs}]"
        self.events.put(text)
