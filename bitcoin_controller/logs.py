"""Structured logging with structlog: JSON in a cluster, readable on a terminal.

Every processor chain ends with :func:`redact_secrets`, which replaces the
value of any key that looks like a credential (``password``, ``token``,
``authorization``, the credential Secret's ``BC_RPC_PASSWORD`` ...) so a
careless ``log.info(..., password=...)`` cannot leak one.  The controller
never passes credential values to the logger in the first place; this is the
second line of defence.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

__all__ = ["configure_logging", "redact_secrets", "REDACTED"]

REDACTED = "<redacted>"
_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|authorization|credential|api[_-]?key|private[_-]?key)", re.I)
# "user:password@" in URLs, and "Authorization: Basic/Bearer xyz" in free text.
_URL_CREDENTIALS = re.compile(r"(?<=://)([^/@\s:]+):([^/@\s]+)@")
_AUTH_HEADER = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(basic|bearer)\s+[A-Za-z0-9._~+/=-]+")


def _scrub_text(value: str) -> str:
    value = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}:{REDACTED}@", value)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)} {REDACTED}", value)


def _scrub(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key) and key not in ("secret_name", "secretName"):
        return REDACTED
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(key, v) for v in value)
    return value


def redact_secrets(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: hide credential-looking values (see module docstring)."""
    return {k: (v if k == "event" and not isinstance(v, str) else _scrub(k, v)) for k, v in event_dict.items()}


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
