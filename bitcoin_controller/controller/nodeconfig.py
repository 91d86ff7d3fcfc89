"""The ``bitcoin.conf`` the controller writes for Bitcoin Core networks.

Bitcoin Core reads no environment variables, so a stock image (for example
``bitcoin/bitcoin`` on Docker Hub) cannot be configured the way btcd's flags
are.  Instead the controller renders the node configuration itself and hands
it to every pod of the network as a Secret it owns, mounted read-only at
:data:`CONF_DIR` and passed with ``-conf=``.  The only image requirement left
is a ``bitcoind`` (and, for the readiness probe, ``bitcoin-cli``) on
``PATH``.

What goes into the file
-----------------------
* ``regtest=1`` at the top: the chain selector must be outside any section
  (inside ``[regtest]`` it is silently ignored, bitcoin/bitcoin#14155).
* Network options (``port``, ``rpcbind``, ``rpcport``, ...) in ``[regtest]``:
  since 0.17 such options apply to mainnet only when written at the top, and
  since 0.19 Core refuses to start with them there while on regtest.  The
  other options sit in ``[regtest]`` too, which is valid for any option.
* One ``rpcauth=<user>:<salt>$<hmac>`` line, computed exactly as Core's
  ``share/rpcauth/rpcauth.py`` does: a salt of 16 random bytes in hex, and
  the hex HMAC-SHA256 keyed with that salt (the hex *string*) over the
  password.  The password itself is never written; cookie authentication
  stays on, so the readiness probe (``bitcoin-cli`` with the cookie in the
  data directory) needs no credentials.

Version differences handled here (see :func:`render_config`):
``whitelist=noban@<cidr>`` (permission flags, 0.19) is written as the legacy
``whitelist=<cidr>`` for 0.17 and 0.18.  Releases before 0.17 do not read
config sections at all and are refused by validation (:data:`MIN_VERSION`).

How the Secret is kept current without reading it
-------------------------------------------------
The controller may create Secrets but reads none it did not name in RBAC,
and a steady-state sync should cost no API request.  So each rendered
configuration goes into an **immutable Secret whose name carries a digest**
of everything it was rendered from, except the password:
``<network>-bitcoin-conf-<digest>``.  The digest covers the network's uid,
the credential Secret's uid and resourceVersion (a rotation gives a new
resourceVersion), the Core version and the rendered file with a placeholder
for the ``rpcauth`` value.  No function of the password is ever put in a
name, label or annotation, where it would let anyone who can read
StatefulSets test password guesses offline.

* Steady state: the desired name is computed, the StatefulSet in the
  informer cache already mounts it, nothing is sent -- zero requests, also
  right after a controller restart.
* Rotation, or a new version: the desired name changes, the controller
  creates the new Secret (random salt, rpcauth.py style) and then points the
  pod template at it; the changed template rolls the pods.
* AlreadyExists on create means an earlier sync of ours created it (the
  cache lagged, or the process stopped before updating the StatefulSet): the
  name pins its inputs and the object is immutable, so it is used as is.

This needs only the ``create`` verb the controller already has for btcd's
TLS Secrets: no ``get``, ``update``, ``list`` or ``watch`` on Secrets.  The
price: a Secret of an older configuration is not deleted when the pods move
to a new one (the controller may not delete Secrets); all of them go with
the network through their owner reference.  See docs/operations.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from ..apimachinery import errors, metav1
from .implementations import CONF_DIR, CONF_FILE, CONF_PATH, CONF_VOLUME, P2P_PORT
from .resources import common_labels, owner_reference

__all__ = [
    "CONF_DIR",
    "CONF_FILE",
    "CONF_PATH",
    "CONF_VOLUME",
    "CONF_SECRET_INFIX",
    "CONFIG_DIGEST_ANNOTATION",
    "CORE_VERSION_ANNOTATION",
    "MIN_VERSION",
    "NEWEST_KNOWN_VERSION",
    "CoreVersion",
    "NodeConfigs",
    "config_digest",
    "config_secret_name",
    "core_version",
    "image_version_problems",
    "image_with_version",
    "mounted_config_secret",
    "new_config_secret",
    "parse_version",
    "render_config",
    "rpcauth_line",
    "verify_rpcauth",
]

CONF_SECRET_INFIX = "-bitcoin-conf-"
#: On the Secret: the digest of its inputs (also the name's suffix) and the
#: Core version it was rendered for, for people inspecting it.
CONFIG_DIGEST_ANNOTATION = "bitcoincontroller.dev/config-digest"
CORE_VERSION_ANNOTATION = "bitcoincontroller.dev/core-version"
#: Bumped when the rendering changes in a way the inputs don't show, so that
#: an upgraded controller rolls networks onto the new file.
_FORMAT = "1"
_DIGEST_CHARS = 10
#: Stands for the rpcauth value in the rendered text that is hashed.
_RPCAUTH_PLACEHOLDER = "<rpcauth>"

_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:rc([1-9][0-9]*))?", re.ASCII)


@dataclass(frozen=True, order=True)
class CoreVersion:
    """A Bitcoin Core release number: ``0.21.1``, ``30.2``, ``31.0rc1``.

    Ordered like releases (a release candidate sorts before its release).
    """

    major: int
    minor: int
    patch: int = 0
    final: int = 1  # 0 for a release candidate, so that 31.0rc1 < 31.0
    rc: int = 0

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}"
        if self.patch:
            text += f".{self.patch}"
        return text + (f"rc{self.rc}" if not self.final else "")


#: The oldest release whose configuration :func:`render_config` can write:
#: config sections came with 0.17 (bitcoin/bitcoin#11862).
MIN_VERSION = CoreVersion(0, 17)
#: The release the file is rendered for when the version is not known (a
#: custom image without a version tag): the newest known rules.
NEWEST_KNOWN_VERSION = CoreVersion(31, 0)
_WHITELIST_PERMISSIONS = CoreVersion(0, 19)  # whitelist=<permissions>@<cidr>, PR #16248


def parse_version(text: str) -> CoreVersion | None:
    """``"30.2"`` -> ``CoreVersion(30, 2)``; None if ``text`` is no Core release number."""
    match = _VERSION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    major, minor, patch, rc = match.groups()
    return CoreVersion(int(major), int(minor), int(patch or 0), 0 if rc else 1, int(rc or 0))


def _tag(image: str) -> tuple[str, str | None]:
    """An image reference split into (repository, tag); a digest counts as no tag."""
    if "@" in image:
        return image, None
    colon = image.rfind(":")
    if colon > image.rfind("/"):  # a colon before the last slash is a registry port
        return image[:colon], image[colon + 1 :]
    return image, None


def image_with_version(image: str, version: str) -> str:
    """``image`` with its tag replaced by ``version`` (``bitcoin/bitcoin:30.2`` -> ``:29.3``).

    An image pinned by digest is returned unchanged: a digest names one build.
    """
    if "@" in image:
        return image
    repository, _ = _tag(image)
    return f"{repository}:{version}"


def core_version(version: str | None, image: str) -> CoreVersion | None:
    """The Core release a network runs: ``spec.version``, else the image's tag if it is one."""
    if version:
        return parse_version(version)
    _, tag = _tag(image)
    if tag is None:
        return None
    # Tags such as "30.2", "v30.2" or "30.2-alpine" all name the release.
    return parse_version(tag.removeprefix("v").split("-", 1)[0])


def image_version_problems(version: str | None, image: str) -> list[str]:
    """Why the release a network would run cannot get a working config, if it cannot.

    ``spec.version`` is checked by validation; this catches an image whose
    tag names a release from before config sections (``bitcoin/bitcoin:0.16``),
    which would ignore the ``[regtest]`` section and listen on loopback only.
    """
    found = core_version(version, image)
    if found is not None and found < MIN_VERSION:
        return [
            f"spec.image: Invalid value: {image!r}: its tag names Bitcoin Core {found}, which reads no "
            f"config sections; use {MIN_VERSION} or newer (or set spec.version if the tag is not the release)"
        ]
    return []


# -- rpcauth ------------------------------------------------------------------------------

def rpcauth_line(user: str, password: str, salt: str | None = None) -> str:
    """``rpcauth=<user>:<salt>$<hmac>`` as ``share/rpcauth/rpcauth.py`` prints it.

    The salt is 16 random bytes in hex (``secrets.token_hex(16)``); the HMAC
    key is the salt's *text*, the message the password, both UTF-8.
    """
    if salt is None:
        salt = secrets.token_hex(16)
    digest = hmac.new(salt.encode("utf-8"), password.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"rpcauth={user}:{salt}${digest}"


def verify_rpcauth(value: str, user: str, password: str) -> bool:
    """Whether ``user``/``password`` pass one ``rpcauth`` value, checked as Core's httprpc.cpp does.

    Core splits the value at ``:`` and ``$`` into user, salt and hash,
    recomputes HMAC-SHA256(key=salt, message=password) and compares the hex
    digests in constant time (and the user names).
    """
    value = value.removeprefix("rpcauth=")
    name, sep, rest = value.partition(":")
    salt, sep2, expected = rest.partition("$")
    if not sep or not sep2:
        return False
    digest = hmac.new(salt.encode("utf-8"), password.encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(name.encode(), user.encode()) and hmac.compare_digest(
        digest.encode(), expected.encode()
    )


# -- rendering ------------------------------------------------------------------------------

def render_config(version: CoreVersion | None, rpc_port: int, rpcauth: str, source: str = "") -> str:
    """The ``bitcoin.conf`` for one network.

    ``rpcauth`` is the whole ``rpcauth=...`` line.  ``version`` None means
    unknown: the newest known rules apply (:data:`NEWEST_KNOWN_VERSION`).
    """
    target = version or NEWEST_KNOWN_VERSION
    if target < MIN_VERSION:
        raise ValueError(f"Bitcoin Core {target} has no config sections; {MIN_VERSION} or newer is needed")
    # Peers may all come from one source address (a node's IP in a flat
    # network, 127.0.0.1 on the local cluster): banning by IP would cut the
    # whole mesh off.  "noban@" exists since 0.19; before, a plain whitelist
    # entry gave the same protection (and more).
    whitelist = "noban@0.0.0.0/0" if target >= _WHITELIST_PERMISSIONS else "0.0.0.0/0"
    lines = [
        f"# Written by bitcoin-controller{' for ' + source if source else ''}; changes are replaced.",
        f"# Rendered for Bitcoin Core {version if version else f'(version unknown; rules of {target})'}.",
        # The chain selector must be outside every section (bitcoin/bitcoin#14155).
        "regtest=1",
        "",
        # Since 0.17 network options apply to the chain only inside its
        # section, and since 0.19 Core refuses them at the top on regtest.
        "[regtest]",
        "server=1",
        "printtoconsole=1",
        "txindex=1",
        # Regtest has no fee estimates; wallets need a fallback to send.
        "fallbackfee=0.0002",
        "listen=1",
        f"port={P2P_PORT}",
        # All addresses: other pods (and the controller) dial the pod IP.
        "rpcbind=0.0.0.0",
        f"rpcport={rpc_port}",
        # Any client may try to authenticate; a NetworkPolicy narrows who can connect.
        "rpcallowip=0.0.0.0/0",
        f"whitelist={whitelist}",
        rpcauth,
        "",
    ]
    return "\n".join(lines)


def config_digest(network: dict[str, Any], credentials_version: str, version: CoreVersion | None,
                  rpc_port: int) -> str:
    """A short digest of everything a network's config is rendered from, except the password.

    ``credentials_version`` identifies the credential Secret's content
    (its uid and resourceVersion), so a rotation changes the digest.
    """
    template = render_config(version, rpc_port, _RPCAUTH_PLACEHOLDER, _source(network))
    h = hashlib.sha256()
    for part in (_FORMAT, metav1.get_uid(network), credentials_version, str(version or ""), template):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:_DIGEST_CHARS]


def config_secret_name(network_name: str, digest: str) -> str:
    return f"{network_name}{CONF_SECRET_INFIX}{digest}"


def _source(network: dict[str, Any]) -> str:
    return f"BitcoinNetwork {metav1.get_namespace(network)}/{metav1.get_name(network)}"


def new_config_secret(network: dict[str, Any], digest: str, version: CoreVersion | None, rpc_port: int,
                      user: str, password: str) -> dict[str, Any]:
    """The immutable ``Opaque`` Secret holding the rendered ``bitcoin.conf`` (fresh salt)."""
    text = render_config(version, rpc_port, rpcauth_line(user, password), _source(network))
    net_name = metav1.get_name(network)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "immutable": True,
        "metadata": {
            "name": config_secret_name(net_name, digest),
            "namespace": metav1.get_namespace(network),
            "labels": common_labels(net_name, "bitcoind"),
            "annotations": {
                CONFIG_DIGEST_ANNOTATION: digest,
                CORE_VERSION_ANNOTATION: str(version) if version else "unknown",
            },
            "ownerReferences": [owner_reference(network)],
        },
        "data": {CONF_FILE: base64.b64encode(text.encode("utf-8")).decode("ascii")},
    }


class NodeConfigs:
    """The config Secret this process last created (or found existing) per network.

    Like the ``expectations`` of kube-controller-manager's ReplicaSet
    controller, it only saves requests while the informer cache lags behind
    our own writes: losing it (a restart) costs at most one create, answered
    AlreadyExists, and only for a network whose cached StatefulSet does not
    mount the wanted Secret yet.  One entry per network, dropped when the
    network is gone.
    """

    def __init__(self) -> None:
        # (namespace, network name) -> (network uid, Secret name)
        self._latest: dict[tuple[str, str], tuple[str, str]] = {}
        self._lock = threading.Lock()

    def ensure(
        self,
        clientset: Any,
        network: dict[str, Any],
        *,
        user: str,
        password: str,
        credentials_version: str,
        version: CoreVersion | None,
        rpc_port: int,
        mounted: str | None,
    ) -> tuple[str, bool]:
        """Make sure the config Secret for these inputs exists; return (its name, created now).

        ``mounted`` is the config Secret the network's StatefulSet (from the
        informer cache) mounts now, if any: if it is the wanted one, it
        exists, and nothing is sent.
        """
        namespace, net_name, uid = metav1.get_namespace(network), metav1.get_name(network), metav1.get_uid(network)
        digest = config_digest(network, credentials_version, version, rpc_port)
        name = config_secret_name(net_name, digest)
        with self._lock:
            if name == mounted or self._latest.get((namespace, net_name)) == (uid, name):
                return name, False
        secret = new_config_secret(network, digest, version, rpc_port, user, password)
        created = True
        try:
            clientset.core_v1().secrets(namespace).create(secret)
        except errors.AlreadyExistsError:
            # Ours from an earlier sync: the name pins its inputs, and it is immutable.
            created = False
        with self._lock:
            self._latest[(namespace, net_name)] = (uid, name)
        return name, created

    def forget(self, namespace: str, network_name: str) -> None:
        """Drop what is remembered about a deleted network."""
        with self._lock:
            self._latest.pop((namespace, network_name), None)


def mounted_config_secret(statefulset: dict[str, Any] | None) -> str | None:
    """The config Secret a StatefulSet's pod template mounts, if any."""
    if not statefulset:
        return None
    volumes = (((statefulset.get("spec") or {}).get("template") or {}).get("spec") or {}).get("volumes") or []
    for volume in volumes:
        if volume.get("name") == CONF_VOLUME:
            return (volume.get("secret") or {}).get("secretName")
    return None

