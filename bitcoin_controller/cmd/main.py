"""Entry point of the ``bitcoin-controller`` console script.

``bitcoin-controller [flags]`` runs the controller;
``bitcoin-controller [global flags] network [global flags] COMMAND ...`` holds
the operator-side commands (``status``, ``rpc``, ``mine``, ``logs``,
``completion``) for looking at and poking a network.  As with kubectl, the
global flags (``--kubeconfig``, ``--context``, ``-n``...) may come before or
after ``network`` and its sub-command.  The same commands ship as the
kubectl plugin ``kubectl-btcnet`` (:func:`bitcoin_controller.cmd.network.plugin_main`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main", "split_network_command"]


def split_network_command(args: Sequence[str]) -> list[str] | None:
    """The arguments for ``network`` (global flags before it kept), or ``None`` if this
    is not a ``network`` command line.

    The first word that is neither a flag nor the value of a flag that takes
    one decides: ``--kubeconfig X network mine net 101`` is a network command,
    ``--workers 3`` is the controller.
    """
    from .network import VALUE_FLAGS

    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            return None
        if token.startswith("-"):
            if "=" not in token and token in VALUE_FLAGS:
                i += 1
        elif token == "network":
            return [*args[:i], *args[i + 1:]]
        else:
            return None
        i += 1
    return None


def _complete_root(words: list[str]) -> int:
    """``bitcoin-controller __complete WORDS``: delegate below ``network``, else offer it."""
    from .network import main as network_main
    from .options import build_parser

    network_words = split_network_command(words[:-1])
    if network_words is not None:
        return network_main(["__complete", *network_words, words[-1]])
    current = words[-1] if words else ""
    flags = [a for action in build_parser({})._actions for a in action.option_strings]
    for candidate in (["network"] if not current.startswith("-") else flags):
        if candidate.startswith(current):
            print(candidate)
    print(":4")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "__complete":
        return _complete_root(args[1:] or [""])
    network_args = split_network_command(args)
    if network_args is not None:
        from .network import main as network_main

        return network_main(network_args)
    from .app import run
    from .options import parse_options

    try:
        opts = parse_options(args)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return run(opts)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
