"""Structured logging with structlog: JSON in a cluster, readable on a terminal.

Every processor chain ends with :func:`redact_secrets`, which replaces the
value of any key that looks like a credential (``password``, ``token``,
``authorization``, the credential Secret's ``BC_RPC_PASSWORD`` ...) so a
careless ``log.info(..., password=...)`` cannot leak one, and scrubs URL
userinfo and ``Authorization`` headers out of text -- also text carried by
bytes, exceptions and (nested) containers.  The controller
never passes credential values to the logger in the first place; this is the
second line of defence.

:func:`add_network_context` gives every line about one BitcoinNetwork the
same three fields, ``namespace``, ``network`` and ``key``, whichever part of
the process wrote it, so one filter (``jq 'select(.network == "x")'``) shows
a network's whole story.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

import structlog

__all__ = ["configure_logging", "redact_secrets", "add_network_context", "REDACTED", "NETWORK_KIND"]

REDACTED = "<redacted>"
#: The kind whose ``namespace/name`` keys the controller's work queue holds.
NETWORK_KIND = "BitcoinNetwork"
_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|authorization|credential|api[_-]?key|private[_-]?key)", re.I)
# The userinfo of a URL ("user:password@", or a bare token as in "https://ghp_x@host"):
# greedy up to the last "@" of the authority, so a password containing "@" is covered whole.
_URL_USERINFO = re.compile(r"(?<=://)([^/?#\s]+)@")
# "Authorization: Basic/Bearer xyz" in free text.
_AUTH_HEADER = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(basic|bearer)\s+[A-Za-z0-9._~+/=-]+")
# How deep nested containers are followed; anything deeper is replaced whole
# (a value nested that deep in a log line is a bug, and recursion must not fail).
_MAX_DEPTH = 20


def _scrub_userinfo(match: re.Match[str]) -> str:
    user, sep, _ = match.group(1).partition(":")
    # "user:password@" keeps the user (useful, not secret); a userinfo without
    # a colon is a bare token (GitHub, GitLab, registry URLs) and goes whole.
    return f"{user}:{REDACTED}@" if sep else f"{REDACTED}@"


def _scrub_text(value: str) -> str:
    value = _URL_USERINFO.sub(_scrub_userinfo, value)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)} {REDACTED}", value)


def _scrub(key: str, value: Any, depth: int = 0) -> Any:
    """``value`` with credentials hidden; containers are rebuilt, never changed in place.

    Text hides inside more than ``str``: bytes (a response body), exceptions
    (whose message quotes a URL or header), and any container of those.
    Bytes and exceptions become scrubbed text, since a renderer would
    otherwise print their ``repr()`` -- unscrubbed.
    """
    if _SECRET_KEY.search(key) and key not in ("secret_name", "secretName"):
        return REDACTED
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _scrub_text(bytes(value).decode("utf-8", errors="backslashreplace"))
    if isinstance(value, BaseException):
        text = str(value)
        name = type(value).__name__
        return f"{name}: {_scrub_text(text)}" if text else name
    if isinstance(value, (Mapping, list, tuple, set, frozenset)) and depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _scrub(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        # Rendered as a list: JSON has no sets, and a set of scrubbed values may collide.
        return [_scrub(key, v, depth + 1) for v in value]
    if isinstance(value, (list, tuple)):
        items = [_scrub(key, v, depth + 1) for v in value]
        # A named tuple cannot be rebuilt from one iterable: keep plain tuples, else a list.
        return tuple(items) if type(value) is tuple else items
    return value


def redact_secrets(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: hide credential-looking values (see module docstring).

    Every value is scrubbed, the ``event`` too: by key name (``password=`` is
    hidden whole), and inside text, bytes, exceptions and containers
    (``user:password@`` and bare-token URL userinfo, ``Authorization``
    headers).
    """
    return {k: _scrub(k, v) for k, v in event_dict.items()}


def add_network_context(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: a line naming a network carries ``namespace``, ``network`` and ``key``.

    Two kinds of line name a network without all three: the worker's lines
    about a queue key (``key="ns/name"`` -- the controller's only work queue
    holds BitcoinNetwork keys) and the event broadcaster's ``Event occurred``
    lines, which name the involved object as ``object="ns/name"`` with its
    ``kind`` (the shape of client-go's structured event logging).  Fields a
    line already has are left alone.
    """
    key = event_dict.get("key")
    if not isinstance(key, str):
        obj = event_dict.get("object")
        if event_dict.get("kind") != NETWORK_KIND or not isinstance(obj, str):
            return event_dict
        key = obj
    namespace, sep, name = key.partition("/")
    if not sep or not namespace or not name:
        return event_dict  # not a namespace/name key: nothing to derive
    event_dict.setdefault("key", key)
    event_dict.setdefault("namespace", namespace)
    event_dict.setdefault("network", name)
    return event_dict


def configure_logging(fmt: str = "auto", level: str = "info", stream: Any = None) -> None:
    """Set up structlog (and route the standard library's logging through it).

    ``fmt`` is ``json``, ``console`` or ``auto`` (console on a terminal, JSON
    otherwise -- a container's stdout is not a terminal).
    """
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if getattr(stream, "isatty", lambda: False)() else "json"
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        add_network_context,
        redact_secrets,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO) if numeric < logging.INFO else numeric)
    # urllib3 logs every retry at WARNING with the full URL; keep its noise down.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
