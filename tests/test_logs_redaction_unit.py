"""Log redaction beyond plain strings (issue 11, item 11).

The renderer prints whatever it is given, with ``repr()`` for what JSON
cannot hold; so a credential inside bytes, an exception, a set or a nested
container reached the output unscrubbed.  Every case here renders a real
JSON log line and looks for the secret anywhere in the output.
"""

from __future__ import annotations

import io
import json
from collections import namedtuple

import pytest
import structlog

from bitcoin_controller.logs import REDACTED, configure_logging, redact_secrets

SECRET = "hunter2-s3cr3t"
TOKEN = "ghp_T0kenOnlyUserinfo"
URL = f"http://rpcuser:{SECRET}@10.0.0.1:18443/"
HEADER = "Authorization: Basic cnBjdXNlcjpodW50ZXIyLXMzY3IzdA=="
Pair = namedtuple("Pair", "left right")


def render(*args, **fields) -> str:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    try:
        structlog.get_logger("t").info(*args, **fields)
    finally:
        configure_logging("console", "info")
    return out.getvalue()


@pytest.mark.parametrize(
    "value",
    [
        URL.encode(),
        bytearray(HEADER.encode()),
        ConnectionError(f"POST {URL}: connection refused"),
        ValueError(HEADER),
        {URL, "other"},
        frozenset({HEADER}),
        (URL,),
        [("x", {"nested": [URL]})],
        {"deep": ({"password": SECRET},)},
        Pair(URL, 1),
        f"https://{TOKEN}@github.com/org/repo.git",
        [f"https://{TOKEN}@registry.example/v2/"],
    ],
    ids=["bytes", "bytearray", "exception-url", "exception-header", "set", "frozenset", "tuple",
         "nested-list", "nested-key", "namedtuple", "token-userinfo", "token-userinfo-in-list"],
)
def test_credentials_are_scrubbed_in_every_kind_of_value_unit(value):
    text = render("calling", detail=value)
    assert SECRET not in text and TOKEN not in text
    assert "cnBjdXNlcjpodW50ZXIyLXMzY3IzdA" not in text  # the base64 of user:password
    assert REDACTED in text
    assert json.loads(text)["event"] == "calling"


def test_event_given_as_bytes_or_exception_is_scrubbed_unit():
    assert SECRET not in render(URL.encode())
    assert SECRET not in render(RuntimeError(URL))


def test_scrubbing_keeps_what_is_not_secret_and_never_mutates_input_unit():
    value = {"hosts": ("a", "b"), "url": URL, "ports": [1, 2], "err": KeyError("x")}
    out = redact_secrets(None, "info", {"event": "e", "detail": value})["detail"]
    assert out["hosts"] == ("a", "b") and out["ports"] == [1, 2]
    assert out["url"] == f"http://rpcuser:{REDACTED}@10.0.0.1:18443/"  # the user stays
    assert out["err"] == "KeyError: 'x'"
    assert value["url"] == URL  # the caller's object is untouched
    at = "http://u:p@ss@h/"  # a password holding "@" is hidden whole
    assert redact_secrets(None, "info", {"event": at})["event"] == f"http://u:{REDACTED}@h/"


def test_self_referencing_container_does_not_break_logging_unit():
    loop: list = [URL]
    loop.append(loop)
    text = render("loop", detail=loop)
    assert SECRET not in text
