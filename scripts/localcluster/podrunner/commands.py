"""Commands: images to local binaries, argv and environment of a container process."""

from __future__ import annotations

import os
import re
import shutil
from typing import TYPE_CHECKING

from .common import ConfigError
from .env import expand

if TYPE_CHECKING:
    from .containers import Container


# image repository name suffix -> default entrypoint (used when `command` is empty)
IMAGES: dict[str, list[str]] = {
    "btcd": ["btcd"],
}
# commands that run the binaries built by scripts/build-local-cluster
LOCAL_BINARIES = {"btcd", "btcctl"}
# host utilities a container command or exec probe may use
HOST_COMMANDS = {"sh", "bash", "sleep", "true", "false", "cat", "echo", "test", "env", "ls"}


def image_repository_name(image: str) -> str:
    """'ghcr.io/bitcoin-controller/btcd:v0.24.2@sha256:..' -> 'btcd'."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def image_entrypoint(image: str) -> list[str] | None:
    name = image_repository_name(image)
    for suffix, entry in IMAGES.items():
        if name.endswith(suffix):
            return list(entry)
    return None


_VAR_RE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class CommandsMixin:
    """Commands: images to local binaries, argv and environment of a container process.

    Mixed into :class:`~.worker.PodWorker`, whose state (``pod``, ``kube``, ``root``,
    ``volumes``, ...) it reads and writes; kept apart so each job reads on its own.
    """

    def resolve_command(self, word: str, image: str) -> str:
        base = os.path.basename(word)
        if base in LOCAL_BINARIES:
            p = self.runner.bin_dir / base
            if not os.access(p, os.X_OK):
                raise ConfigError("RunContainerError", f"{p} is missing; build the local cluster")
            return str(p)
        if base in HOST_COMMANDS:
            p = shutil.which(base)
            if p:
                return p
        raise ConfigError(
            "RunContainerError",
            f"executable {word!r} is not available in image {image!r} on the local pod runner "
            f"(known: {', '.join(sorted(LOCAL_BINARIES | HOST_COMMANDS))})",
        )

    def prepare(self, c: Container) -> tuple[list[str], dict[str, str], str]:
        image = c.spec.get("image", "")
        entry = image_entrypoint(image)
        if entry is None:
            raise ConfigError(
                "ErrImagePull",
                f"image {image!r} is not known to the local pod runner; known images are "
                f"repositories whose name ends in: {', '.join(sorted(IMAGES))}",
            )
        user_env = self.build_env(c)
        mounts = self.mounts(c)
        command = [expand(x, user_env) for x in (c.spec.get("command") or [])]
        args = [expand(x, user_env) for x in (c.spec.get("args") or [])]
        argv = (command or entry) + args
        argv = [self.map_paths(a, mounts) for a in argv]
        argv[0] = self.resolve_command(argv[0], image)
        home = self.root / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": f"{self.runner.bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "HOSTNAME": self.pod["spec"].get("hostname") or self.pod_name,
        }
        env.update({k: self.map_paths(v, mounts) for k, v in user_env.items()})
        wd = c.spec.get("workingDir")
        cwd = self.map_paths(wd, mounts) if wd else str(self.root)
        if wd and not os.path.isdir(cwd):
            raise ConfigError("RunContainerError", f"workingDir {wd!r} does not exist here")
        return argv, env, cwd
