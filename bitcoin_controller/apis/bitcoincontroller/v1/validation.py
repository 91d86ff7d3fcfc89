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
from decimal import Decimal, DecimalException
from typing import Any

from .types import IMPLEMENTATIONS, MAX_NAME_LENGTH, MAX_NODES, MIN_NODES, BitcoinNetworkSpec

__all__ = ["validate", "validate_name", "parse_quantity", "VERSION_PATTERN", "MAX_VERSION_LENGTH"]

# Every pattern here is applied with ``fullmatch`` and compiled with
# ``re.ASCII``: Go's RE2, which the API server uses for the CRD's patterns,
# has an ASCII-only ``\w`` and a ``$`` that does not match before a trailing
# newline, while Python's ``re.match(r"^...$")`` accepts "name\n" and, without
# re.ASCII, Unicode letters for ``\w``.
_DNS1123_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(?:\.{_DNS1123_LABEL})*", re.ASCII)
_DNS1035_LABEL = re.compile(r"[a-z](?:[-a-z0-9]*[a-z0-9])?", re.ASCII)
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", re.ASCII)

# Image references, after the grammar of the distribution/reference package:
# [domain[:port]/]path-component(/path-component)*[:tag][@digest]
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
_DOMAIN = re.compile(
    r"(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]+)?",
    re.ASCII,
)
# distribution/reference's tag grammar: [\w][\w.-]{0,127} with an ASCII \w.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}", re.ASCII)
_MAX_IMAGE_NAME = 255

# Resource quantities, as resource.Quantity parses them.
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([a-zA-Z]*|[eE][+-]?[0-9]+)", re.ASCII)
# resource.Quantity holds at most 2^63-1 (in its smallest unit); an exponent
# far outside that range is refused before any arithmetic, so that
# "1e1000000" (which the CRD's pattern accepts) cannot raise decimal.Overflow.
_MAX_QUANTITY = Decimal(2**63 - 1)
_MAX_EXPONENT = 30
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
            f"spec.implementation: Unsupported value: {_show(spec.implementation)}: "
            f"supported values: {supported}"
        )
    if spec.image is not None:
        problems += _validate_image(spec.image)
    if spec.resources is not None:
        problems += _validate_resources(spec.resources)
    if spec.version is not None:
        problems += _validate_version(spec.version, spec.implementation)
    return problems


#: The CRD's pattern for spec.version: a Bitcoin Core release from 0.17 on
#: (config sections), optionally a release candidate: "0.21.1", "30.2", "31.0rc1".
VERSION_PATTERN = (
    r"^(0\.(1[7-9]|[2-9][0-9])(\.(0|[1-9][0-9]*))?"
    r"|[1-9][0-9]*\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?)(rc[1-9][0-9]*)?$"
)
MAX_VERSION_LENGTH = 32


def _validate_version(version: Any, implementation: Any) -> list[str]:
    bad = f"spec.version: Invalid value: {_show(version, 40)}: "
    if not isinstance(version, str) or len(version) > MAX_VERSION_LENGTH or not re.fullmatch(
        VERSION_PATTERN[1:-1], version, re.ASCII
    ):
        return [bad + "must be a Bitcoin Core release number from 0.17 on, such as 30.2 or 0.21.1"]
    if implementation != "bitcoind":
        return ["spec.version: Forbidden: only for implementation bitcoind (btcd: set spec.image)"]
    return []


def validate_name(name: str) -> list[str]:
    """Problems with a network's name (the CRD's root-level CEL rules, repeated).

    The name prefixes a Service (``<name>-svc``, a DNS-1035 label) and a
    StatefulSet (``<name>-sts``, at most 52 characters because its pods get a
    ``controller-revision-hash`` label of ``<sts>-<hash>``, and labels stop at 63).
    """
    if len(name) > MAX_NAME_LENGTH:
        return [f"metadata.name: Too long: may not be more than {MAX_NAME_LENGTH} characters"]
    if not _DNS1035_LABEL.fullmatch(name):
        return [
            f"metadata.name: Invalid value: {_show(name)}: must be a DNS-1035 label "
            "(lowercase letters, digits and '-', starting with a letter)"
        ]
    return []


def _validate_nodes(nodes: Any) -> list[str]:
    if nodes is None:
        return ["spec.nodes: Required value"]
    if isinstance(nodes, bool) or not isinstance(nodes, int):
        return [f"spec.nodes: Invalid value: {_show(nodes)}: must be an integer"]
    if not MIN_NODES <= nodes <= MAX_NODES:
        return [f"spec.nodes: Invalid value: {nodes}: must be between {MIN_NODES} and {MAX_NODES}"]
    return []


def _validate_secret(secret: Any) -> list[str]:
    if not isinstance(secret, str) or not secret:
        return [f"spec.secret: Invalid value: {_show(secret)}: must be a non-empty string"]
    if len(secret) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(secret):
        return [
            f"spec.secret: Invalid value: {_show(secret)}: must be a lowercase RFC 1123 subdomain "
            "(a Secret name, at most 253 characters)"
        ]
    return []


def _validate_image(image: Any) -> list[str]:
    bad = f"spec.image: Invalid value: {_show(image, 128)}: "
    if not isinstance(image, str) or not image:
        return [bad + "must be a non-empty string"]
    if image != image.strip() or any(ch.isspace() for ch in image):
        return [bad + "must not contain whitespace"]
    name, _, digest = image.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        return [bad + "invalid digest"]
    slash = name.rfind("/")
    if ":" in name[slash + 1 :]:
        name, _, tag = name.rpartition(":")
        if not _TAG.fullmatch(tag):
            return [bad + "invalid tag"]
    if not name or len(name) > _MAX_IMAGE_NAME:
        return [bad + f"the repository name must have 1 to {_MAX_IMAGE_NAME} characters"]
    components = name.split("/")
    first = components[0]
    # Like Docker: the first component is a registry only if it looks like a host.
    if len(components) > 1 and ("." in first or ":" in first or first == "localhost"):
        if not _DOMAIN.fullmatch(first):
            return [bad + "invalid registry host"]
        components = components[1:]
    if not all(_PATH_COMPONENT.fullmatch(c) for c in components):
        return [bad + "repository path must be lowercase letters, digits and separators"]
    return []


def parse_quantity(value: str | int) -> Decimal:
    """The value of a Kubernetes resource quantity (``500m``, ``1Gi``, ``2e3``).

    Raises ``ValueError`` for anything ``resource.ParseQuantity`` would reject.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid quantity {_show(value)}")
    if isinstance(value, int):
        if abs(value) > _MAX_QUANTITY:
            raise ValueError(f"invalid quantity {_show(value)}: larger than 2^63-1")
        return Decimal(value)
    if not isinstance(value, str):
        raise ValueError(f"invalid quantity {_show(value)}")
    match = _QUANTITY.fullmatch(value)
    if not match:
        raise ValueError(f"invalid quantity {_show(value)}")
    number, suffix = match.groups()
    try:
        if suffix[:1] in ("e", "E") and len(suffix) > 1:
            digits = suffix[1:].lstrip("+-").lstrip("0")
            if len(digits) > 3 or int(suffix[1:]) > _MAX_EXPONENT or int(suffix[1:]) < -_MAX_EXPONENT:
                raise ValueError(f"invalid quantity {_show(value)}: exponent out of range")
            result = Decimal(number).scaleb(int(suffix[1:]))
        elif suffix in _SUFFIXES:
            result = Decimal(number) * _SUFFIXES[suffix]
        else:
            raise ValueError(f"invalid quantity {_show(value)}: unknown suffix {suffix!r}")
    except DecimalException:
        raise ValueError(f"invalid quantity {_show(value)}") from None
    if abs(result) > _MAX_QUANTITY:
        raise ValueError(f"invalid quantity {_show(value)}: larger than 2^63-1")
    return result


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
            path = f"spec.resources.{key}[{_show(name)}]"
            if not _known_resource_name(name):
                problems.append(
                    f"{path}: Invalid value: must be a standard resource "
                    "(cpu, memory, ephemeral-storage, hugepages-<size>) or fully qualified"
                )
                continue
            try:
                quantity = parse_quantity(raw)
            except ValueError:
                problems.append(f"{path}: Invalid value: {_show(raw)}: not a resource quantity (at most 2^63-1)")
                continue
            if quantity < 0:
                problems.append(f"{path}: Invalid value: {_show(raw)}: must not be negative")
                continue
            if _whole_numbers_only(name) and quantity != quantity.to_integral_value():
                problems.append(f"{path}: Invalid value: {_show(raw)}: must be a whole number")
                continue
            parsed[key][name] = quantity
    limits, requests = parsed.get("limits", {}), parsed.get("requests", {})
    for name, request in requests.items():
        if name in limits and request > limits[name]:
            problems.append(
                f"spec.resources.requests[{name}]: Invalid value: "
                f"{_show(resources['requests'][name])}: must be less than or equal to {name} limit "
                f"of {_show(resources['limits'][name])}"
            )
        elif _no_overcommit(name) and limits.get(name) != request:
            # The pod validation of the API server: hugepages and extended
            # resources cannot be overcommitted, so a request needs an equal limit.
            problems.append(f"spec.resources.requests[{name}]: Invalid value: must be equal to {name} limit")
    if any(n.startswith("hugepages-") for n in (*limits, *requests)) and not (
        {"cpu", "memory"} & {*limits, *requests}
    ):
        problems.append("spec.resources: Forbidden: hugepages require a cpu or memory request or limit")
    return problems


def _show(value: Any, limit: int = 64) -> str:
    """``repr(value)`` cut to ``limit`` characters: a spec value quoted in an Event stays short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _no_overcommit(name: str) -> bool:
    return name.startswith("hugepages-") or "/" in name


def _whole_numbers_only(name: str) -> bool:
    # Extended resources are counted in whole units (Kubernetes' IsIntegerResourceName).
    return "/" in name


def _known_resource_name(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    if name in _STANDARD_RESOURCES:
        return True
    if name.startswith("hugepages-"):
        # hugepages-<page size>, the size a positive quantity (hugepages-2Mi).
        try:
            return parse_quantity(name[len("hugepages-") :]) > 0
        except ValueError:
            return False
    # Extended resources are domain-qualified (example.com/gpu), outside the
    # kubernetes.io domains, which are reserved for native resources.
    domain, slash, rest = name.partition("/")
    return bool(
        slash
        and len(name) <= 253
        and _QUALIFIED_NAME.fullmatch(rest)
        and _DNS1123_SUBDOMAIN.fullmatch(domain)
        and not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))
    )
