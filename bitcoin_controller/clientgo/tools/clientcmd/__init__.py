"""Kubeconfig loading, mirroring ``k8s.io/client-go/tools/clientcmd``.

``build_config_from_flags(master_url, kubeconfig_path)`` is Go's
``clientcmd.BuildConfigFromFlags``; :func:`load_config` is the
"explicit file, else in-cluster, else ``$KUBECONFIG``/``~/.kube/config``"
search a controller's ``main`` wants.  Both return a
:class:`bitcoin_controller.clientgo.rest.Config`.
"""

from .loader import (
    RECOMMENDED_CONFIG_PATH_ENV_VAR,
    RECOMMENDED_HOME_FILE,
    ConfigError,
    build_config_from_flags,
    build_config_from_kubeconfig,
    config_from_client_configuration,
    default_kubeconfig_path,
    load_config,
)

__all__ = [
    "ConfigError",
    "RECOMMENDED_CONFIG_PATH_ENV_VAR",
    "RECOMMENDED_HOME_FILE",
    "default_kubeconfig_path",
    "build_config_from_kubeconfig",
    "build_config_from_flags",
    "config_from_client_configuration",
    "load_config",
]
