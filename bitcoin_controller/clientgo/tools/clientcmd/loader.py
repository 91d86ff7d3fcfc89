"""Building a ``rest.Config`` from a kubeconfig, mirroring ``k8s.io/client-go/tools/clientcmd``.

Plain kubeconfigs -- merged ``$KUBECONFIG`` lists, contexts, relative
certificate paths, inline base64 certificates, tokens, token files,
impersonation -- are read by :mod:`.kubeconfig`, without the ``kubernetes``
package, whose import alone costs some 18 MiB.  Users with an exec credential
plugin or an OIDC/auth-provider need refreshing credentials; for those (only)
``kubernetes.config.load_kube_config`` fills a
``kubernetes.client.Configuration``, which is converted into our
:class:`~bitcoin_controller.clientgo.rest.Config`.  Nothing else of that
package is used: requests go through our own
:class:`~bitcoin_controller.clientgo.rest.RESTClient`.

Credentials that expire (exec plugins, OIDC) keep working because the
converted config's ``token_provider`` asks the package's refresh hook for the
current token before each request.  The kubeconfig file is never written
back (``persist_config=False``): a controller has no business editing a
user's kubeconfig.

Known gaps, all rare for a controller: ``proxy-url`` is ignored (with a
warning), basic auth (removed from Kubernetes in 1.19) is not supported, and an
exec plugin that returns a client *certificate* is not refreshed.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from ...rest import Config, NotInClusterError, in_cluster_config

__all__ = [
    "ConfigError",
    "RECOMMENDED_CONFIG_PATH_ENV_VAR",
    "RECOMMENDED_HOME_FILE",
    "default_kubeconfig_path",
    "build_config_from_kubeconfig",
    "build_config_from_flags",
    "config_from_client_configuration",
    "config_from_kubeconfig",
    "ContextNotFoundError",
    "KubeconfigInvalidError",
    "KubeconfigNotFoundError",
    "MergedKubeconfig",
    "NoCurrentContextError",
    "load_config",
    "load_kubeconfig",
]

log = logging.getLogger(__name__)

#: ``clientcmd.RecommendedConfigPathEnvVar``: a list of kubeconfig files, ``:``-separated.
RECOMMENDED_CONFIG_PATH_ENV_VAR = "KUBECONFIG"
#: ``clientcmd.RecommendedHomeFile``.
RECOMMENDED_HOME_FILE = os.path.join("~", ".kube", "config")


class ConfigError(ValueError):
    """No usable configuration (``clientcmd.ErrEmptyConfig`` and friends).

    The subclasses tell a command-line tool *which* problem it is, so it can
    say what to do about it; code that only needs "no config" catches this.
    """


class KubeconfigNotFoundError(ConfigError):
    """No kubeconfig file where one was asked for (``--kubeconfig``) or looked for."""


class KubeconfigInvalidError(ConfigError):
    """A kubeconfig file that is not YAML, not a Config, or refers to missing entries."""


class NoCurrentContextError(ConfigError):
    """The merged kubeconfig sets no ``current-context`` and none was given (``--context``)."""


class ContextNotFoundError(ConfigError):
    """The context asked for (``--context`` or ``current-context``) is not in the kubeconfig."""


def default_kubeconfig_path(environ: Mapping[str, str] | None = None) -> str:
    """``$KUBECONFIG`` if set (possibly several files), else ``~/.kube/config``.

    Read at call time, not import time, so that tests and wrappers can change
    the environment.
    """
    env = os.environ if environ is None else environ
    return env.get(RECOMMENDED_CONFIG_PATH_ENV_VAR) or RECOMMENDED_HOME_FILE


def _split_paths(value: str) -> list[str]:
    """A ``:``-separated list, each path ``~``-expanded, empties and duplicates dropped."""
    seen: list[str] = []
    for part in value.split(os.pathsep):
        path = os.path.expanduser(part)
        if part and path not in seen:
            seen.append(path)
    return seen


def _read_kubeconfig_file(path: str) -> dict[str, Any] | None:
    """One file as a dict; ``None`` for an empty file, which client-go also accepts as empty."""
    import yaml  # comes with the kubernetes package, which parses the rest

    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as err:
        raise KubeconfigNotFoundError(f"cannot read kubeconfig {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise KubeconfigInvalidError(f"kubeconfig {path} is not valid YAML{where}") from None
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise KubeconfigInvalidError(f"kubeconfig {path} is a YAML {type(doc).__name__}, not a Config mapping")
    for key in ("clusters", "contexts", "users"):
        entries = doc.get(key)
        if entries is not None and (
            not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("name") for e in entries)
        ):
            raise KubeconfigInvalidError(f"kubeconfig {path}: {key} must be a list of entries with a name")
    return doc


class MergedKubeconfig:
    """Several kubeconfig files merged by kubectl's rules (client-go ``ClientConfigLoadingRules.Load``).

    * files are read in order; a named cluster, user or context comes from the
      *first* file that defines that name (later files cannot override it);
    * ``current-context`` comes from the first file that sets a non-empty one;
    * files listed in ``$KUBECONFIG`` that do not exist are skipped, an empty
      file counts as an empty config; an explicit ``--kubeconfig`` file must
      exist;
    * relative certificate and key paths stay relative to the file that
      names them.

    The ``kubernetes`` package's own merger differs on two points -- the
    *last* file's ``current-context`` wins and an empty file is an error --
    which is why the merge is done here and only the result handed to its
    ``KubeConfigLoader``.
    """

    def __init__(self, paths: list[str], *, explicit: bool = False) -> None:
        self.paths = paths
        self.files: list[str] = []
        self.current_context = ""
        self.entries: dict[str, dict[str, tuple[dict[str, Any], str]]] = {
            "clusters": {}, "contexts": {}, "users": {},
        }
        for path in paths:
            if not os.path.exists(path):
                if explicit:
                    raise KubeconfigNotFoundError(f"kubeconfig {path} does not exist")
                continue
            doc = _read_kubeconfig_file(path)
            self.files.append(path)
            if doc is None:
                continue
            for key, named in self.entries.items():
                for entry in doc.get(key) or []:
                    named.setdefault(entry["name"], (entry, path))
            if not self.current_context and doc.get("current-context"):
                self.current_context = str(doc["current-context"])
        if not self.files:
            raise KubeconfigNotFoundError(f"no kubeconfig file found at {os.pathsep.join(paths) or '(none)'}")

    def context_name(self, override: str | None = None) -> str:
        name = override or self.current_context
        if not name:
            raise NoCurrentContextError(f"no current context is set in {self._where()}")
        if name not in self.entries["contexts"]:
            known = ", ".join(sorted(self.entries["contexts"])) or "none"
            raise ContextNotFoundError(f'context "{name}" is not in {self._where()} (contexts: {known})')
        return name

    def context(self, override: str | None = None) -> dict[str, Any]:
        """The ``context`` body (cluster, user, namespace) of the active context."""
        entry, path = self.entries["contexts"][self.context_name(override)]
        body = entry.get("context")
        if not isinstance(body, dict) or not body.get("cluster"):
            raise KubeconfigInvalidError(f'context "{entry["name"]}" in {path} names no cluster')
        if body["cluster"] not in self.entries["clusters"]:
            raise KubeconfigInvalidError(
                f'context "{entry["name"]}" in {path} refers to cluster "{body["cluster"]}", which is not defined'
            )
        return body

    def namespace(self, override: str | None = None) -> str:
        """The context's namespace, else ``default`` (what kubectl's ``-n`` defaults to)."""
        return str(self.context(override).get("namespace") or "default")

    def loader_config(self) -> Any:
        """The merged document as the ``kubernetes`` package's ``ConfigNode`` tree.

        Each entry keeps the path of its own file, which is how the package
        resolves relative certificate paths against the right directory.
        """
        from kubernetes.config.kube_config import ConfigNode

        first = self.files[0]
        merged: dict[str, Any] = {"current-context": self.current_context}
        for key, named in self.entries.items():
            merged[key] = [ConfigNode(f"{path}/{name}", entry, path) for name, (entry, path) in named.items()]
        return ConfigNode(first, merged, first)

    def _where(self) -> str:
        return "kubeconfig " + os.pathsep.join(self.files)


def load_kubeconfig(
    kubeconfig: str | None = None, *, environ: Mapping[str, str] | None = None
) -> MergedKubeconfig:
    """The kubeconfig kubectl would use: ``--kubeconfig`` (one file, must exist), else the
    ``$KUBECONFIG`` list (missing files skipped), else ``~/.kube/config``."""
    if kubeconfig:
        return MergedKubeconfig([os.path.expanduser(kubeconfig)], explicit=True)
    return MergedKubeconfig(_split_paths(default_kubeconfig_path(environ)))


def config_from_kubeconfig(merged: MergedKubeconfig, context: str | None = None) -> Config:
    """A :class:`Config` for ``context`` (default: the current one) of a merged kubeconfig.

    Plain kubeconfigs (token, token file, client certificates) are turned into a
    Config here; only a user with an exec plugin or an auth-provider goes through
    the ``kubernetes`` package, which runs and refreshes those. Importing it
    costs about half a second and some 18 MiB, which a controller with a
    ServiceAccount token or a plain kubeconfig never pays.
    """
    from .kubeconfig import (
        CLUSTER_PATHS,
        USER_PATHS,
        KubeconfigError,
        needs_plugin,
        resolve_paths,
        to_rest_config_kwargs,
    )

    body = merged.context(context)
    cluster_entry, cluster_file = merged.entries["clusters"][body["cluster"]]
    user_entry, user_file = merged.entries["users"].get(body.get("user") or "", ({}, cluster_file))
    user = user_entry.get("user") or {}
    if needs_plugin(user):
        return _config_through_the_kubernetes_package(merged, context)
    cluster = resolve_paths(cluster_entry.get("cluster") or {}, CLUSTER_PATHS, cluster_file)
    user = resolve_paths(user, USER_PATHS, user_file)
    try:
        if not cluster.get("server"):
            raise KubeconfigError(f'cluster "{body["cluster"]}" has no server')
        return Config(**to_rest_config_kwargs(cluster, user))
    except KubeconfigError as err:
        raise KubeconfigInvalidError(f"invalid kubeconfig {os.pathsep.join(merged.files)}: {err}") from None


def _config_through_the_kubernetes_package(merged: MergedKubeconfig, context: str | None) -> Config:
    """Exec plugins and auth-providers: the ``kubernetes`` package runs and refreshes them."""
    from kubernetes import client as k8s_client
    from kubernetes.config.kube_config import ConfigException, KubeConfigLoader

    name = merged.context_name(context)
    configuration = k8s_client.Configuration()
    try:
        loader = KubeConfigLoader(config_dict=merged.loader_config(), active_context=name, config_base_path=None)
        loader.load_and_set(configuration)
    except ConfigException as err:
        raise KubeconfigInvalidError(f"invalid kubeconfig {os.pathsep.join(merged.files)}: {err}") from None
    return config_from_client_configuration(configuration)


def build_config_from_kubeconfig(
    kubeconfig_path: str, *, context: str | None = None, master_url: str | None = None
) -> Config:
    """Load one kubeconfig (or a ``:``-separated list, merged) into a :class:`Config`.

    ``context`` overrides the file's ``current-context``; ``master_url``
    overrides the cluster's server (``ConfigOverrides.ClusterInfo.Server``).
    Files of the list that do not exist are skipped, as in ``$KUBECONFIG``.
    """
    merged = MergedKubeconfig(_split_paths(kubeconfig_path))
    config = config_from_kubeconfig(merged, context)
    if master_url:
        config.host = master_url
    return config


def config_from_client_configuration(configuration: Any) -> Config:
    """Convert a filled ``kubernetes.client.Configuration`` into our :class:`Config`."""
    token = _bearer(_api_key_header(configuration))
    provider = None
    if getattr(configuration, "refresh_api_key_hook", None) is not None:
        provider = _RefreshingToken(configuration)
    if getattr(configuration, "proxy", None):
        log.warning("the kubeconfig's proxy-url is not supported and is ignored")
    return Config(
        host=configuration.host,
        bearer_token=token,
        token_provider=provider,
        ca_file=configuration.ssl_ca_cert or None,
        cert_file=configuration.cert_file or None,
        key_file=configuration.key_file or None,
        insecure=not configuration.verify_ssl,
        tls_server_name=getattr(configuration, "tls_server_name", None) or None,
    )


def build_config_from_flags(master_url: str = "", kubeconfig_path: str = "") -> Config:
    """``clientcmd.BuildConfigFromFlags``: the usual ``--master``/``--kubeconfig`` flags.

    * neither given: the in-cluster config (a warning is logged, as in Go);
      outside a pod this fails, because Go's version then has nothing else to
      load either -- use :func:`load_config` for the friendlier search;
    * a kubeconfig: load it, with ``master_url`` (if given) overriding its server;
    * only a master URL: a config with that server and no credentials.
    """
    if not master_url and not kubeconfig_path:
        log.warning("neither --kubeconfig nor --master was specified; using the in-cluster config")
        try:
            return in_cluster_config()
        except (NotInClusterError, OSError) as err:
            raise ConfigError(f"no configuration has been provided: {err}") from None
    if kubeconfig_path:
        return build_config_from_kubeconfig(kubeconfig_path, master_url=master_url or None)
    return Config(host=master_url)


def load_config(kubeconfig: str | None = None, *, context: str | None = None) -> Config:
    """The configuration a controller should use, by the usual precedence.

    1. ``kubeconfig`` if given (a ``--kubeconfig`` flag; one file, which must exist);
    2. the in-cluster config when running in a pod (``KUBERNETES_SERVICE_HOST`` set);
    3. ``$KUBECONFIG``, else ``~/.kube/config``.

    This is client-go's ``NewNonInteractiveDeferredLoadingClientConfig`` with
    the default loading rules, plus the in-cluster step that controllers add.
    """
    if kubeconfig:
        return config_from_kubeconfig(load_kubeconfig(kubeconfig), context)
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not context:
        try:
            return in_cluster_config()
        except (NotInClusterError, OSError) as err:
            log.warning("in-cluster configuration unavailable (%s); trying kubeconfig",
                        type(err).__name__)
    return config_from_kubeconfig(load_kubeconfig(), context)


def _api_key_header(configuration: Any) -> str | None:
    keys = configuration.api_key or {}
    # kubernetes >= 29 stores the header under "BearerToken"; older versions used "authorization".
    return keys.get("BearerToken") or keys.get("authorization")


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if scheme.lower() == "basic":
        log.warning("basic authentication in kubeconfig is not supported and is ignored")
    return None


class _RefreshingToken:
    """The current bearer token of a kubeconfig user, refreshed by the package's hook.

    The hook re-runs an exec plugin (or OIDC refresh) once the token's
    expiry has passed; the lock keeps concurrent requests from running the
    plugin several times at once.
    """

    def __init__(self, configuration: Any) -> None:
        self._configuration = configuration
        self._lock = threading.Lock()

    def __call__(self) -> str | None:
        with self._lock:
            header = self._configuration.get_api_key_with_prefix("BearerToken")
            return _bearer(header or _api_key_header(self._configuration))

    def __repr__(self) -> str:
        return "_RefreshingToken(<kubeconfig user>)"
