"""Checks of a ``BitcoinNetworkSpec`` beyond what the CRD schema can say.

The schema in ``manifests/crd.yaml`` rejects most bad specs at the API
server.  :func:`validate` repeats those basic checks -- objects from a fake
clientset, or written before a schema change, never passed the schema -- and
adds the ones the schema cannot express but the cluster would enforce later,
where the failure would be far from its cause:

* the container image must be a well-formed reference, or every pod sits
  in ``InvalidImageName``;
* resource quantities must parse, names must be ones the kubelet knows, and
  a request may not exceed its limit -- otherwise the API server rejects the
  *pods* of the StatefulSet, and the user sees nothing on the network.

Messages follow the API server's field-error style (``spec.nodes: Invalid
value: 40: ...``) and are meant for a Warning Event on the network.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .types import IMPLEMENTATIONS, MAX_NAME_LENGTH, MAX_NODES, MIN_NODES, BitcoinNetworkSpec

__all__ = ["validate", "validate_name", "parse_quantity"]

_DNS1123_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"^{_DNS1123_LABEL}(?:\.{_DNS1123_LABEL})*$")
_DNS1035_LABEL = re.compile(r"^[a-z](?:[-a-z0-9]*[a-z0-9])?$")

# Image references, after the grammar of the distribution/reference package:
# [domain[:port]/]path-component(/path-component)*[:tag][@digest]
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DOMAIN = re.compile(
    r"^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_MAX_IMAGE_NAME = 255

# Resource quantities, as resource.Quantity parses them.
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([a-zA-Z]*|[eE][+-]?[0-9]+)$")
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_STANDARD_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
_RESOURCE_KEYS = ("limits", "requests")


def validate(spec: BitcoinNetworkSpec) -> list[str]:
    """Problems with ``spec``, one message each; an empty list means valid."""
    problems: list[str] = []
    problems += _validate_nodes(spec.nodes)
    problems += _validate_secret(spec.secret)
    if spec.implementation not in IMPLEMENTATIONS:
        supported = ", ".join(f'"{i}"' for i in IMPLEMENTATIONS)
        problems.append(
            f"spec.implementation: Unsupported value: {spec.implementation!r}: "
            f"supported values: {supported}"
        )
    if spec.image is not None:
        problems += _validate_image(spec.image)
    if spec.resources is not None:
        problems += _validate_resources(spec.resources)
    return problems


def validate_name(name: str) -> list[str]:
    """Problems with a network's name (the CRD's root-level CEL rules, repeated).

    The name prefixes a Service (``<name>-svc``, a DNS-1035 label) and a
    StatefulSet (``<name>-sts``, at most 52 characters because its pods get a
    ``controller-revision-hash`` label of ``<sts>-<hash>``, and labels stop at 63).
    """
    if len(name) > MAX_NAME_LENGTH:
        return [f"metadata.name: Too long: may not be more than {MAX_NAME_LENGTH} characters"]
    if not _DNS1035_LABEL.match(name):
        return [
            f"metadata.name: Invalid value: {name!r}: must be a DNS-1035 label "
            "(lowercase letters, digits and '-', starting with a letter)"
        ]
    return []


def _validate_nodes(nodes: Any) -> list[str]:
    if nodes is None:
        return ["spec.nodes: Required value"]
    if isinstance(nodes, bool) or not isinstance(nodes, int):
        return [f"spec.nodes: Invalid value: {nodes!r}: must be an integer"]
    if not MIN_NODES <= nodes <= MAX_NODES:
        return [f"spec.nodes: Invalid value: {nodes}: must be between {MIN_NODES} and {MAX_NODES}"]
    return []


def _validate_secret(secret: Any) -> list[str]:
    if not isinstance(secret, str) or not secret:
        return [f"spec.secret: Invalid value: {secret!r}: must be a non-empty string"]
    if len(secret) > 253 or not _DNS1123_SUBDOMAIN.match(secret):
        return [
            f"spec.secret: Invalid value: {secret!r}: must be a lowercase RFC 1123 subdomain "
            "(a Secret name, at most 253 characters)"
        ]
    return []


def _validate_image(image: Any) -> list[str]:
    bad = f"spec.image: Invalid value: {image!r}: "
    if not isinstance(image, str) or not image:
        return [bad + "must be a non-empty string"]
    if image != image.strip() or any(ch.isspace() for ch in image):
        return [bad + "must not contain whitespace"]
    name, _, digest = image.partition("@")
    if digest and not _DIGEST.match(digest):
        return [bad + "invalid digest"]
    slash = name.rfind("/")
    if ":" in name[slash + 1 :]:
        name, _, tag = name.rpartition(":")
        if not _TAG.match(tag):
            return [bad + "invalid tag"]
    if not name or len(name) > _MAX_IMAGE_NAME:
        return [bad + f"the repository name must have 1 to {_MAX_IMAGE_NAME} characters"]
    components = name.split("/")
    first = components[0]
    # Like Docker: the first component is a registry only if it looks like a host.
    if len(components) > 1 and ("." in first or ":" in first or first == "localhost"):
        if not _DOMAIN.match(first):
            return [bad + "invalid registry host"]
        components = components[1:]
    if not all(_PATH_COMPONENT.match(c) for c in components):
        return [bad + "repository path must be lowercase letters, digits and separators"]
    return []


def parse_quantity(value: str | int) -> Decimal:
    """The value of a Kubernetes resource quantity (``500m``, ``1Gi``, ``2e3``).

    Raises ``ValueError`` for anything ``resource.ParseQuantity`` would reject.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid quantity {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        raise ValueError(f"invalid quantity {value!r}")
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"invalid quantity {value!r}")
    number, suffix = match.groups()
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number) * Decimal(10) ** int(suffix[1:])
        if suffix not in _SUFFIXES:
            raise ValueError(f"invalid quantity {value!r}: unknown suffix {suffix!r}")
        return Decimal(number) * _SUFFIXES[suffix]
    except InvalidOperation:
        raise ValueError(f"invalid quantity {value!r}") from None


def _validate_resources(resources: Any) -> list[str]:
    if not isinstance(resources, dict):
        return ["spec.resources: Invalid value: must be an object with limits and/or requests"]
    problems = [
        f"spec.resources.{key}: Unsupported field: only limits and requests are passed to the nodes"
        for key in resources
        if key not in _RESOURCE_KEYS
    ]
    parsed: dict[str, dict[str, Decimal]] = {}
    for key in _RESOURCE_KEYS:
        values = resources.get(key)
        if values is None:
            continue
        if not isinstance(values, dict):
            problems.append(f"spec.resources.{key}: Invalid value: must be a map of quantities")
            continue
        parsed[key] = {}
        for name, raw in values.items():
            path = f"spec.resources.{key}[{name}]"
            if not _known_resource_name(name):
                problems.append(
                    f"{path}: Invalid value: {name!r}: must be a standard resource "
                    "(cpu, memory, ephemeral-storage, hugepages-<size>) or fully qualified"
                )
                continue
            try:
                quantity = parse_quantity(raw)
            except ValueError:
                problems.append(f"{path}: Invalid value: {raw!r}: not a resource quantity")
                continue
            if quantity < 0:
                problems.append(f"{path}: Invalid value: {raw!r}: must not be negative")
                continue
            parsed[key][name] = quantity
    limits, requests = parsed.get("limits", {}), parsed.get("requests", {})
    for name, request in requests.items():
        if name in limits and request > limits[name]:
            problems.append(
                f"spec.resources.requests[{name}]: Invalid value: "
                f"{resources['requests'][name]!r}: must be less than or equal to {name} limit "
                f"of {resources['limits'][name]!r}"
            )
    return problems


def _known_resource_name(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    if name in _STANDARD_RESOURCES or name.startswith("hugepages-"):
        return True
    # Extended resources are domain-qualified: example.com/gpu.
    domain, slash, rest = name.partition("/")
    return bool(slash and rest and _DNS1123_SUBDOMAIN.match(domain))
