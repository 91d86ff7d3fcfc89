"""Applying PATCH bodies to plain-dict objects, for the object tracker.

The API server supports four patch types; the tracker (like client-go's,
which uses ``evanphx/json-patch`` and ``strategicpatch``) applies three:

* **JSON merge patch** (RFC 7386, ``application/merge-patch+json``): maps
  merge recursively, ``null`` deletes a key, anything else (lists included)
  replaces.
* **JSON patch** (RFC 6902, ``application/json-patch+json``): a list of
  ``add``/``remove``/``replace``/``move``/``copy``/``test`` operations on
  JSON pointers.
* **Strategic merge patch** (``application/strategic-merge-patch+json``):
  applied *as a merge patch*.  That is exact for the maps our controller
  patches (labels, annotations, status fields) but not for lists: a real
  server merges lists like ``containers`` by their merge key and honours
  ``$patch`` directives, here such a list is replaced wholesale.

Server-side apply (``application/apply-patch+yaml``) is not supported.
Errors are API errors: a failed ``test`` operation is Invalid (422), any
other malformed patch is BadRequest (400), as the API server reports them.
"""

from __future__ import annotations

import json
from typing import Any

from ...apimachinery import errors
from ...apimachinery.metav1 import deep_copy
from ...apimachinery.types import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH

__all__ = ["apply_patch", "apply_merge_patch", "apply_json_patch", "SUPPORTED_PATCH_TYPES"]

SUPPORTED_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)


def apply_patch(obj: dict[str, Any], patch_type: str, patch: bytes | str | Any) -> dict[str, Any]:
    """A new object: ``obj`` with ``patch`` applied.  ``obj`` is not modified."""
    if isinstance(patch, (bytes, str)):
        try:
            patch = json.loads(patch)
        except ValueError:
            raise errors.new_bad_request("the patch body is not valid JSON") from None
    if patch_type in (MERGE_PATCH, STRATEGIC_MERGE_PATCH):
        if not isinstance(patch, dict):
            raise errors.new_bad_request("a merge patch must be a JSON object")
        result = apply_merge_patch(obj, patch)
    elif patch_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise errors.new_bad_request("a JSON patch must be a JSON array of operations")
        result = apply_json_patch(obj, patch)
    else:
        raise errors.new_bad_request(f"patch type {patch_type!r} is not supported by the fake")
    if not isinstance(result, dict):
        raise errors.new_bad_request("the patch does not leave an object")
    return result


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: the merge of ``patch`` into ``target`` (both left untouched)."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result = deep_copy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def apply_json_patch(target: Any, operations: list[Any]) -> Any:
    """RFC 6902: apply ``operations`` in order to a copy of ``target``."""
    doc = deep_copy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise errors.new_bad_request("each JSON patch operation needs 'op' and 'path'")
        kind, path = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, path, deep_copy(_value(op)))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            doc, _ = _remove(doc, path)
            doc = _add(doc, path, deep_copy(_value(op)))
        elif kind == "move":
            doc, value = _remove(doc, _pointer(op.get("from", "")))
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, deep_copy(_get(doc, _pointer(op.get("from", "")))))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise errors.InvalidError(
                    f"the JSON patch test operation failed at {op['path']}",
                    {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 422,
                     "reason": "Invalid",
                     "message": f"the JSON patch test operation failed at {op['path']}"},
                )
        else:
            raise errors.new_bad_request(f"unknown JSON patch operation {kind!r}")
    return doc


def _value(op: dict[str, Any]) -> Any:
    if "value" not in op:
        raise errors.new_bad_request(f"the JSON patch operation {op['op']!r} needs a 'value'")
    return op["value"]


def _pointer(path: str) -> list[str]:
    """RFC 6901: ``/a/b~1c`` -> ``["a", "b/c"]``; ``""`` is the whole document."""
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/"):
        raise errors.new_bad_request(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise errors.new_bad_request(f"invalid array index {token!r} in JSON patch")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise errors.new_bad_request(f"array index {index} out of range in JSON patch")
    return index


def _parent(doc: Any, path: list[str]) -> Any:
    node = doc
    for token in path[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, allow_end=False)]
        else:
            raise errors.new_bad_request(f"JSON patch path /{'/'.join(path)} does not exist")
    return node


def _get(doc: Any, path: list[str]) -> Any:
    if not path:
        return doc
    parent, last = _parent(doc, path), path[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, allow_end=False)]
    raise errors.new_bad_request(f"JSON patch path /{'/'.join(path)} does not exist")


def _add(doc: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent, last = _parent(doc, path), path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise errors.new_bad_request(f"JSON patch path /{'/'.join(path)} does not exist")
    return doc


def _remove(doc: Any, path: list[str]) -> tuple[Any, Any]:
    if not path:
        return None, doc
    parent, last = _parent(doc, path), path[-1]
    if isinstance(parent, dict) and last in parent:
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, allow_end=False))
    raise errors.new_bad_request(f"JSON patch path /{'/'.join(path)} does not exist")
