"""Request bodies shared by the real and the fake clientset.

Both clientsets must put the same bytes on the wire (or into a recorded
``PatchAction``) for the same call, so that a test asserting on a fake's patch
bytes also describes what the real client sends.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["encode_json", "delete_options", "RequestConstructionError"]


class RequestConstructionError(ValueError):
    """``rest.RequestConstructionError``: the request could not be built.

    Building it again would fail again (a body that is not JSON-encodable,
    a write aimed at a namespace the client may not write to), so callers
    that retry -- the event broadcaster -- give up on this error and retry
    every other one.  A :class:`ValueError`, so existing ``except
    ValueError`` handlers still see it.
    """


def encode_json(body: bytes | str | dict[str, Any] | list[Any]) -> bytes:
    """Bytes as given; ``str`` as UTF-8; dicts and lists as compact JSON in insertion order.

    A body that cannot be encoded raises :class:`RequestConstructionError`.
    """
    if isinstance(body, bytes):
        return body
    try:
        if isinstance(body, str):
            return body.encode("utf-8")
        return json.dumps(body, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as err:
        # The message names the type or the problem, never the body's content.
        raise RequestConstructionError(f"cannot encode the request body: {err}") from None


def delete_options(
    *,
    propagation_policy: str | None = None,
    preconditions: dict[str, str] | None = None,
    grace_period_seconds: int | None = None,
) -> dict[str, Any]:
    """A ``metav1.DeleteOptions`` object with only the options that were given.

    ``propagation_policy`` is ``"Orphan"``, ``"Background"`` or ``"Foreground"``;
    ``preconditions`` may hold ``uid`` and/or ``resourceVersion`` -- the delete
    then fails with a Conflict unless the stored object still matches.
    """
    opts: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if propagation_policy is not None:
        opts["propagationPolicy"] = propagation_policy
    if preconditions:
        opts["preconditions"] = dict(preconditions)
    if grace_period_seconds is not None:
        opts["gracePeriodSeconds"] = grace_period_seconds
    return opts
