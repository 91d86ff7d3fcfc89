"""Decoding a watch response, mirroring client-go's ``rest/watch`` decoder and
apimachinery's ``watch.StreamWatcher``.

A watch is one long HTTP response whose body is a stream of JSON objects, one
per line: ``{"type": "ADDED", "object": {...}}``.  :class:`StreamWatcher`
reads that body incrementally and yields each event as a dict.

How a watch ends matters to the reflector above it, so the rules are explicit:

* the server closes the stream (its ``timeoutSeconds`` elapsed): iteration
  ends, the reflector simply watches again;
* the connection breaks (reset, ``IncompleteRead``, a read timeout on a
  half-open connection): also just the end of iteration, because to the
  reflector it means the same thing -- re-watch from the last resourceVersion.
  The official Python client lets these ``ProtocolError``\\ s escape into the
  caller's loop, a long-standing source of crashed watch threads;
* ``stop()`` from another thread: the socket is shut down, which wakes a read
  blocked in the kernel at once -- without that a stop would wait for the next
  event, possibly minutes away;
* an undecodable line: one ``ERROR`` event carrying an ``InternalError``
  Status, then the end (as ``StreamWatcher`` reports decode failures);
* an ``ERROR`` event from the server (e.g. 410 Expired) is passed through
  unchanged; turning it into an exception is the reflector's job.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import urllib3

from ...apimachinery import watch

__all__ = ["StreamWatcher", "READ_CHUNK"]

log = logging.getLogger(__name__)

#: Bytes asked for per read.  ``read1`` returns what has arrived (at most this
#: much) instead of waiting for the full amount, so small events are not delayed.
READ_CHUNK = 64 * 1024

# Everything a broken or shut-down connection can raise while reading.
_READ_ERRORS = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError)


class StreamWatcher(watch.Interface):
    """``watch.Interface`` over a streaming HTTP response (``preload_content=False``).

    One consumer iterates; any thread may call :meth:`stop`.  The connection
    goes back to the pool when the server ended the stream cleanly and is
    closed otherwise.
    """

    def __init__(self, response: urllib3.BaseHTTPResponse, description: str = "watch") -> None:
        self._response = response
        self._description = description
        self._lock = threading.Lock()
        self._stopped = False
        self._done = False

    @property
    def is_stopped(self) -> bool:
        with self._lock:
            return self._stopped

    def stop(self) -> None:
        """End the watch; a read blocked in another thread returns promptly."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            if self._done:
                return
            try:
                # Shutting the socket down (rather than closing it) is what wakes a
                # thread blocked in recv(); the reader then sees EOF or an error.
                # Under the lock, so the connection cannot meanwhile go back to
                # the pool and be shut down under another request.
                self._response.shutdown()
            except Exception:  # already closed: nothing left to wake
                pass

    def __iter__(self) -> Iterator[dict[str, Any]]:
        clean_end = False
        buffer = b""
        try:
            while not self.is_stopped:
                try:
                    data = self._response.read1(READ_CHUNK)
                except _READ_ERRORS as err:
                    if not self.is_stopped:
                        log.debug("%s: connection ended: %s", self._description, type(err).__name__)
                    return
                if not data:
                    clean_end = not buffer.strip()
                    return
                buffer += data
                while True:
                    line, sep, rest = buffer.partition(b"\n")
                    if not sep:
                        break
                    buffer = rest
                    if not line.strip():
                        continue
                    event, ok = _decode(line)
                    yield event
                    if not ok:
                        return
                    if self.is_stopped:
                        return
        finally:
            self._finish(clean_end)

    def _finish(self, clean_end: bool) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            response = self._response
            try:
                if not clean_end or self._stopped:
                    # A broken, shut-down or abandoned stream must not serve the next request.
                    response.close()
                response.release_conn()
            except Exception:
                pass


def _decode(line: bytes) -> tuple[dict[str, Any], bool]:
    """One event from one line; ``(error event, False)`` when the line is not an event."""
    try:
        event = json.loads(line)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise ValueError("not a watch event object")
        if not isinstance(event.get("object"), dict):
            raise ValueError("watch event without an object")
        return event, True
    except ValueError as err:
        # Only the parser's description (position, expectation) -- never the line itself.
        message = f"unable to decode an event from the watch stream: {err}"
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "InternalError",
            "code": 500,
        }
        return {"type": str(watch.ERROR), "object": status}, False
