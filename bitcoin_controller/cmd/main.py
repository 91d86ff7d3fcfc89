"""Entry point of the ``bitcoin-controller`` console script.

``bitcoin-controller [flags]`` runs the controller;
``bitcoin-controller network ...`` holds the operator-side commands
(``status``, ``rpc``, ``mine``) for looking at and poking a network.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "network":
        from .network import main as network_main

        return network_main(args[1:])
    from .app import run
    from .options import parse_options

    return run(parse_options(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
