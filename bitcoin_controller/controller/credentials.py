"""RPC credentials from the Secret a network names.

The Secret is read with a direct GET on every sync -- never through an
informer or a list -- so that RBAC can name exactly the Secrets the
controller may read (``resourceNames``), and so that a changed password is
picked up by the next sync.  A missing, unreadable or incomplete Secret is
reported with a reason the controller turns into a Warning event and a status
condition; the values themselves never leave this module's objects: the
:class:`Credentials` repr hides the password, and error messages name keys,
never values.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from ..apimachinery import errors
from ..apis.bitcoincontroller.v1 import BC_RPC_PASSWORD, BC_RPC_USER
from ..clientgo.kubernetes import Interface

__all__ = [
    "USER_KEY",
    "PASSWORD_KEY",
    "Credentials",
    "CredentialsError",
    "read_credentials",
]

USER_KEY = BC_RPC_USER
PASSWORD_KEY = BC_RPC_PASSWORD


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)
    #: ``<uid>/<resourceVersion>`` of the Secret they came from: changes with
    #: every write of that Secret, so a rotation can be noticed without
    #: comparing (or storing anything derived from) the password.
    source_version: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password=<redacted>)"


class CredentialsError(Exception):
    """The credential Secret can't be used; ``reason`` is the event/condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _decode(secret: dict, key: str) -> str | None:
    data = secret.get("data") or {}
    if key in data:
        try:
            return base64.b64decode(data[key], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
    string_data = secret.get("stringData") or {}  # only seen on objects from the fake
    return string_data.get(key)


def read_credentials(clientset: Interface, namespace: str, name: str) -> Credentials:
    """GET the Secret and return its credentials, or raise :class:`CredentialsError`.

    Transport and server errors other than NotFound/Forbidden propagate so the
    sync is retried with backoff.
    """
    try:
        secret = clientset.core_v1().secrets(namespace).get(name)
    except errors.NotFoundError:
        raise CredentialsError(
            "SecretNotFound", f'Secret "{name}" with the RPC credentials does not exist in namespace "{namespace}"'
        ) from None
    except errors.ForbiddenError:
        raise CredentialsError(
            "SecretForbidden",
            f'the controller may not read Secret "{name}": add it to the credential Secret names '
            "its RBAC allows (Helm value rbac.credentialSecretNames)",
        ) from None
    user = _decode(secret, USER_KEY)
    password = _decode(secret, PASSWORD_KEY)
    missing = [k for k, v in ((USER_KEY, user), (PASSWORD_KEY, password)) if not v]
    if missing:
        raise CredentialsError(
            "SecretInvalid", f'Secret "{name}" lacks a non-empty value for {", ".join(missing)}'
        )
    for key, value in ((USER_KEY, user), (PASSWORD_KEY, password)):
        if any(c in value for c in "\n\r\x00") or (key == USER_KEY and ":" in value):
            raise CredentialsError("SecretInvalid", f'Secret "{name}" has an unusable value for {key}')
    meta = secret.get("metadata") or {}
    source_version = f'{meta.get("uid", "")}/{meta.get("resourceVersion", "")}'
    return Credentials(user=user, password=password, source_version=source_version)
