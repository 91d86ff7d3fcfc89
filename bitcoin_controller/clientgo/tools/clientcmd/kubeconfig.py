"""A kubeconfig's cluster and user turned into a REST :class:`Config` (``ClientConfig``).

The ``kubernetes`` package can do this, but importing it loads its whole
generated client (hundreds of model classes, about 18 MiB of resident memory
and half a second) for what is a small YAML document.  This module covers
what a kubeconfig says in the usual cases -- a token, a token file, client
certificates (files or inline data), CA files or data,
``insecure-skip-tls-verify``, ``tls-server-name`` and impersonation
(``as``/``as-groups``).  Merging several files by client-go's loading rules
is :class:`~.loader.MergedKubeconfig`'s job; relative paths are resolved
against their own file's directory (``ResolveLocalPaths``) by
:func:`resolve_paths`.

A user that authenticates through an ``exec`` plugin or an ``auth-provider``
needs credential refresh, which the ``kubernetes`` package implements; only
then is it imported (:func:`needs_plugin` tells the caller).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from typing import Any

__all__ = ["CLUSTER_PATHS", "USER_PATHS", "KubeconfigError", "needs_plugin", "resolve_paths", "to_rest_config_kwargs"]

log = logging.getLogger(__name__)


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used (missing context, cluster or user; bad data)."""


def resolve_paths(entry: dict[str, Any], keys: tuple[str, ...], kubeconfig_file: str) -> dict[str, Any]:
    """``entry`` with its relative file paths made absolute against its own kubeconfig's directory."""
    base = os.path.dirname(os.path.abspath(kubeconfig_file))
    entry = dict(entry)
    for key in keys:
        value = entry.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            entry[key] = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
    return entry


CLUSTER_PATHS = ("certificate-authority",)
USER_PATHS = ("client-certificate", "client-key", "tokenFile")


def needs_plugin(user: dict[str, Any]) -> bool:
    """Whether the user authenticates through an exec plugin or auth-provider (refreshing credentials)."""
    return bool(user.get("exec") or user.get("auth-provider"))


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KubeconfigError(f"{what} is not valid base64") from None


def to_rest_config_kwargs(cluster: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for :class:`~bitcoin_controller.clientgo.rest.Config` (``ClientConfig``)."""
    kwargs: dict[str, Any] = {"host": str(cluster["server"])}
    insecure = bool(cluster.get("insecure-skip-tls-verify"))
    if cluster.get("certificate-authority-data"):
        kwargs["ca_data"] = _b64(cluster["certificate-authority-data"], "certificate-authority-data")
    elif cluster.get("certificate-authority"):
        kwargs["ca_file"] = cluster["certificate-authority"]
    if insecure and ("ca_data" in kwargs or "ca_file" in kwargs):
        # client-go's validation refuses the combination too.
        raise KubeconfigError("insecure-skip-tls-verify cannot be combined with a certificate authority")
    kwargs["insecure"] = insecure
    if cluster.get("tls-server-name"):
        kwargs["tls_server_name"] = cluster["tls-server-name"]
    if cluster.get("proxy-url"):
        log.warning("the kubeconfig's proxy-url is not supported and is ignored")

    if user.get("token"):
        kwargs["bearer_token"] = str(user["token"])
    elif user.get("tokenFile"):
        # Like client-go: read now (fail fast), and re-read later for rotation.
        try:
            with open(user["tokenFile"], encoding="utf-8") as f:
                kwargs["bearer_token"] = f.read().strip()
        except OSError as err:
            raise KubeconfigError(f"cannot read tokenFile: {err.strerror}") from None
        kwargs["bearer_token_file"] = user["tokenFile"]
    if user.get("client-certificate-data"):
        kwargs["cert_data"] = _b64(user["client-certificate-data"], "client-certificate-data")
    elif user.get("client-certificate"):
        kwargs["cert_file"] = user["client-certificate"]
    if user.get("client-key-data"):
        kwargs["key_data"] = _b64(user["client-key-data"], "client-key-data")
    elif user.get("client-key"):
        kwargs["key_file"] = user["client-key"]
    if user.get("username") or user.get("password"):
        log.warning("basic authentication in kubeconfig is not supported and is ignored")
    if user.get("as"):
        kwargs["impersonate_user"] = str(user["as"])
    if user.get("as-groups"):
        kwargs["impersonate_groups"] = [str(g) for g in user["as-groups"]]
    return kwargs
