"""Output formats of ``network status``: ``-o json|yaml|wide``, as kubectl's printers offer.

YAML without a YAML library: the objects printed are plain JSON data
(dicts, lists, strings, numbers, booleans, null), for which a block-style
YAML emitter is short.  Scalars that a YAML reader could take for something
else (``yes``, ``1e3``, ``null``, ``"a: b"``, leading spaces...) are written
as JSON strings, which are valid YAML double-quoted scalars; multi-line
strings (the PEM certificate in a btcd network's status) are written as
literal blocks so they stay readable.  PyYAML is only a transitive
dependency (of ``kubernetes``) and is not relied on at run time; the unit
tests use it to check that what is emitted reads back as the same data.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

__all__ = ["dump_yaml", "dump_json", "host_port", "OUTPUT_FORMATS"]

OUTPUT_FORMATS = ("json", "yaml", "wide")

# Plain (unquoted) scalars: a conservative set that no YAML 1.1/1.2 reader
# resolves to anything but a string.
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@+-]*(?: [A-Za-z0-9_./@+()-]+)*$")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def host_port(host: str, port: int | str) -> str:
    """``host:port``, with an IPv6 address in brackets (``[fd00::1]:18443``)."""
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=4, sort_keys=False, default=str)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ".nan" if value != value else (".inf" if value > 0 else "-.inf")
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        # YAML 1.1 readers (PyYAML) take "1e-09" for a string: they need a dot in the mantissa.
        return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)


def _literal_ok(text: str) -> bool:
    lines = text.split("\n")
    body = lines[:-1] if text.endswith("\n") else lines
    return (
        "\n" in text
        and not text.endswith("\n\n")
        and bool(body) and bool(body[0]) and not body[0][0].isspace()
        and all(line.isprintable() and line == line.rstrip() for line in body)
    )


def _emit(value: Any, indent: int, out: list[str]) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            out[-1] += " {}"
            return
        for key, item in value.items():
            out.append(f"{pad}{_scalar(str(key))}:")
            _emit_value(item, indent, out)
    elif isinstance(value, list):
        if not value:
            out[-1] += " []"
            return
        for item in value:
            out.append(f"{pad}-")
            if isinstance(item, dict) and item:
                # "- key: value" for the first key, the rest aligned under it.
                sub: list[str] = [""]
                _emit(item, indent + 1, sub)
                out[-1] += " " + sub[1].lstrip()
                out.extend(sub[2:])
            else:
                _emit_value(item, indent, out)
    else:
        out.append(pad + _scalar(value))


def _emit_value(item: Any, indent: int, out: list[str]) -> None:
    """The value after ``key:`` or ``-``: inline for scalars, nested block otherwise."""
    if isinstance(item, (dict, list)):
        if not item:
            out[-1] += " {}" if isinstance(item, dict) else " []"
        elif isinstance(item, dict):
            _emit(item, indent + 1, out)
        else:
            _emit(item, indent + 1, out)
    elif isinstance(item, str) and _literal_ok(item):
        out[-1] += " |" if item.endswith("\n") else " |-"
        pad = "  " * (indent + 1)
        out.extend(pad + line for line in (item[:-1] if item.endswith("\n") else item).split("\n"))
    else:
        out[-1] += " " + _scalar(item)


def dump_yaml(obj: Any) -> str:
    """``obj`` (plain JSON data) as a block-style YAML document, ending in a newline."""
    if not isinstance(obj, (dict, list)) or not obj:
        return (_scalar(obj) if not isinstance(obj, (dict, list)) else ("{}" if isinstance(obj, dict) else "[]")) + "\n"
    out: list[str] = [""]
    _emit(obj, 0, out)
    return "\n".join(out[1:]) + "\n"
