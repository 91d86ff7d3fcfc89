"""Reading kubeconfig files ourselves, mirroring ``clientcmd``'s loader and ``ClientConfig``.

The ``kubernetes`` package can do all of this, but importing it loads its
whole generated client (hundreds of model classes, about 18 MiB of resident
memory and half a second) for what is a small YAML document.  This module
covers what a kubeconfig says in the usual cases -- a token, a token file,
client certificates (files or inline data), CA files or data,
``insecure-skip-tls-verify``, ``tls-server-name``, impersonation
(``as``/``as-groups``) and the context's namespace -- with client-go's
loading rules:

* ``$KUBECONFIG`` may list several files; they are merged so that **the
  first file to set a map entry wins** (a cluster, user or context of a given
  name), and the first ``current-context`` set wins
  (``ClientConfigLoadingRules.Load``);
* relative paths in a file are resolved against that file's directory
  (``ResolveLocalPaths``);
* ``certificate-authority-data`` and friends are base64 in the file and
  handed to the REST client as bytes.

A user that authenticates through an ``exec`` plugin or an ``auth-provider``
needs credential refresh, which the ``kubernetes`` package implements; only
then is it imported (:func:`needs_plugin` tells the caller).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Kubeconfig", "KubeconfigError", "load_kubeconfig", "needs_plugin", "to_rest_config_kwargs"]

log = logging.getLogger(__name__)


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used (missing context, cluster or user; bad data)."""


@dataclass
class Kubeconfig:
    """``clientcmdapi.Config`` after merging: named clusters, users, contexts."""

    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    current_context: str = ""

    def resolve(self, context: str | None = None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The (context, cluster, user) a client would use; raises :class:`KubeconfigError`."""
        name = context or self.current_context
        if not name:
            raise KubeconfigError("no context chosen: current-context is not set")
        ctx = self.contexts.get(name)
        if ctx is None:
            raise KubeconfigError(f'context "{name}" does not exist')
        cluster = self.clusters.get(ctx.get("cluster") or "")
        if cluster is None or not cluster.get("server"):
            raise KubeconfigError(f'context "{name}": cluster "{ctx.get("cluster")}" has no server')
        user = self.users.get(ctx.get("user") or "", {}) if ctx.get("user") else {}
        return ctx, cluster, user


def _resolve_paths(entry: dict[str, Any], keys: tuple[str, ...], base: str) -> dict[str, Any]:
    entry = dict(entry)
    for key in keys:
        value = entry.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            entry[key] = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
    return entry


_CLUSTER_PATHS = ("certificate-authority",)
_USER_PATHS = ("client-certificate", "client-key", "tokenFile")


def load_kubeconfig(kubeconfig_path: str) -> Kubeconfig:
    """Load and merge the ``:``-separated kubeconfig files (missing ones are skipped)."""
    import yaml  # only at start-up; kubeconfigs are YAML (or JSON, which YAML reads)

    paths = [os.path.expanduser(p) for p in kubeconfig_path.split(os.pathsep) if p]
    merged = Kubeconfig()
    found = False
    for path in paths:
        if not os.path.exists(path):
            continue
        found = True
        try:
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as err:
            raise KubeconfigError(f"cannot read kubeconfig {path}: {err}") from None
        if not isinstance(doc, dict):
            raise KubeconfigError(f"kubeconfig {path} is not a mapping")
        base = os.path.dirname(os.path.abspath(path))
        for section, target, paths_in in (
            ("clusters", merged.clusters, _CLUSTER_PATHS),
            ("users", merged.users, _USER_PATHS),
            ("contexts", merged.contexts, ()),
        ):
            inner = section[:-1]  # "cluster", "user", "context"
            for item in doc.get(section) or []:
                if not isinstance(item, dict) or not item.get("name"):
                    continue
                if item["name"] in target:  # the first file to set an entry wins
                    continue
                target[item["name"]] = _resolve_paths(item.get(inner) or {}, paths_in, base)
        if not merged.current_context and doc.get("current-context"):
            merged.current_context = str(doc["current-context"])
    if not found:
        raise KubeconfigError(f"no kubeconfig file found at {kubeconfig_path}")
    return merged


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
