"""Machine-wide claims of the local clusters on one machine (pod networks, the real node).

Several local clusters can run side by side (the main checkout, a CI clone, a test
session with its own ``LOCAL_CLUSTER_BASE``). What they must not share -- a pod network
number, the one real node -- is claimed by creating a small JSON file with ``O_EXCL``,
naming the claiming cluster's directory. A claim whose owner is gone (``stale``) is taken
over; ``down`` releases it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path


def take(claim: Path, base: str, stale: Callable[[dict, Path], bool]) -> str | None:
    """Claim ``claim`` for the cluster in ``base``: None when it is ours (now or already),
    else the base of the cluster that holds it."""
    for _ in range(2):
        try:
            fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = read(claim)
            if owner.get("base") == base:
                return None
            if stale(owner, claim):
                claim.unlink(missing_ok=True)
                continue  # take it over
            return owner.get("base") or "another cluster"
        with os.fdopen(fd, "w") as f:
            json.dump({"base": base, "pid": os.getpid()}, f)
        return None
    return "another cluster"


def read(claim: Path) -> dict:
    try:
        owner = json.loads(claim.read_text())
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def release(claim: Path, base: str) -> None:
    """Remove ``claim`` if the cluster in ``base`` holds it."""
    if read(claim).get("base") == base:
        claim.unlink(missing_ok=True)
