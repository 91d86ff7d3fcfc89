"""Imports point down only: the package's layers, checked by walking every
module's imports (``ast``, so imports inside functions and under
``TYPE_CHECKING`` count too).

The layers, lowest first (a module may import from its own layer or a lower
one, never a higher one):

0. ``bitcoin_controller`` itself (``__version__``) and ``utils`` (``k8s.io/utils``: the clock);
1. ``apimachinery`` (``k8s.io/apimachinery``), ``componentbase``
   (``k8s.io/component-base``: the process-wide metrics registry) and
   ``logs.py`` (the process's logging set-up, component-base's ``logs``);
2. ``clientgo`` (``k8s.io/client-go``);
3. ``apis`` (the ``BitcoinNetwork`` API types, sample-controller's
   ``pkg/apis``) and ``bitcoin`` (the bitcoind RPC client, which knows
   nothing of Kubernetes);
4. ``controller`` (the reconciler, sample-controller's ``controller.go``);
5. ``cmd`` and ``__main__`` (the binaries' wiring).

Inside client-go, three rules of client-go's own layout are checked as well:
``testing`` never imports ``kubernetes`` (Go: ``kubernetes/fake`` imports
``testing``, never the reverse), ``tools/cache`` never imports ``kubernetes``
(its list-watch takes any clientset through a protocol, Go's ``cache.Getter``),
and ``util`` imports nothing of client-go outside ``util``.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bitcoin_controller"

LAYERS: dict[str, int] = {
    "": 0,  # bitcoin_controller/__init__.py
    "utils": 0,
    "apimachinery": 1,
    "componentbase": 1,
    "logs": 1,
    "clientgo": 2,
    "apis": 3,
    "bitcoin": 3,
    "controller": 4,
    "cmd": 5,
    "__main__": 5,
}

#: (importing module prefix, imported module prefix): imports that must not exist.
FORBIDDEN = [
    ("bitcoin_controller.clientgo.testing", "bitcoin_controller.clientgo.kubernetes"),
    ("bitcoin_controller.clientgo.tools.cache", "bitcoin_controller.clientgo.kubernetes"),
]


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: pathlib.Path, source: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every project import in ``path``; ``from . import x``
    counts as importing ``<package>.x`` so that a submodule is seen."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "bitcoin_controller"]


def _layer_key(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _modules() -> list[pathlib.Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_top_level_module_has_a_layer_unit():
    tops = {_layer_key(_module_name(p)) for p in _modules()}
    assert tops - set(LAYERS) == set(), "give every new top-level package a layer in LAYERS"


def _layer(module: str) -> int | None:
    return LAYERS.get(_layer_key(module))


def _violations(files: list[tuple[pathlib.Path, str]]) -> list[str]:
    found = []
    for path, source in files:
        module = _module_name(path)
        own = _layer(module)
        for line, target in _imports(path, source):
            theirs = _layer(target)
            # ``from .. import x`` names a symbol, not a module, when the
            # package has no such submodule: judge it by the package.
            if theirs is None:
                theirs = _layer(target.rpartition(".")[0])
            if own is not None and theirs is not None and theirs > own:
                found.append(f"{path.relative_to(ROOT)}:{line}: layer {own} imports {target} (layer {theirs})")
            for importer, imported in FORBIDDEN:
                if (module + ".").startswith(importer + ".") and (target + ".").startswith(imported + "."):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {importer} must not import {imported}")
            if (module + ".").startswith("bitcoin_controller.clientgo.util.") and (
                (target + ".").startswith("bitcoin_controller.clientgo.")
                and not (target + ".").startswith("bitcoin_controller.clientgo.util.")
            ):
                found.append(f"{path.relative_to(ROOT)}:{line}: clientgo.util imports {target}")
    return found


def test_imports_point_down_only_unit():
    assert _violations([(p, p.read_text()) for p in _modules()]) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from ...controller import Controller\n", "layer 2 imports bitcoin_controller.controller"),
        ("from ..kubernetes import fake\n", "must not import bitcoin_controller.clientgo.kubernetes"),
        ("def f():\n    from ...cmd import app\n", "layer 2 imports bitcoin_controller.cmd"),
    ],
    ids=["upward-import", "testing-imports-the-fake-clientset", "import-inside-a-function"],
)
def test_the_walk_sees_a_violation_unit(source, expected):
    # The check must be able to fail: a module of client-go/testing with a bad import.
    planted = PACKAGE / "clientgo" / "testing" / "planted.py"
    assert any(expected in v for v in _violations([(planted, source)]))
