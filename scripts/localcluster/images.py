"""Container images for the local node, built without Docker (``scripts/build-images``).

Three images, named so they can never resolve to a public registry and used with
``imagePullPolicy: Never``:

* ``localhost/bitcoin-controller/bitcoin-controller:<scripts/version>``: a Debian
  bookworm root made by ``mmdebstrap`` from Debian packages (python3, ca-certificates),
  plus a virtualenv at /opt/venv holding the project's wheel and its dependencies
  from PyPI. Same user, entrypoint, env and paths as the top-level ``Dockerfile``.
* ``localhost/bitcoin-controller/btcd:<btcd version>``: the btcd/btcctl binaries that
  ``scripts/build-local-cluster`` builds, on a distroless-like root. Same as
  ``build/btcd/Dockerfile``.
* ``localhost/bitcoin-controller/pause:<PAUSE_VERSION>``: our own pod sandbox
  program (``scripts/localcluster/pause``), a single static binary.

The ``*_config`` functions give each image's runtime config (what the Dockerfile's
USER/ENV/ENTRYPOINT/... lines produce); they need neither root nor mmdebstrap, so a
unit test compares them with the Dockerfiles. Every layer is cached under
``~/.cache/bitcoin-controller/images`` by a hash of its inputs, so only changed
inputs are rebuilt. Standard library only.
"""

from __future__ import annotations

import base64
import configparser
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import oci

REGISTRY = "localhost/bitcoin-controller"
PAUSE_VERSION = "1.0"
# Bumped when a recipe below changes in a way the hashed inputs do not show
# (one for the Debian root, one for the Python layers, one for the rest).
DEBIAN_RECIPE = "1"
PYTHON_RECIPE = "2"
RECIPE_VERSION = "1"

UID = GID = 10001
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SOURCE_URL = "https://github.com/bitcoin-controller/bitcoin-controller"

# The controller image's Debian root.
DEBIAN_SUITE = "bookworm"
DEBIAN_VARIANT = "essential"
DEBIAN_PACKAGES = ("python3", "ca-certificates")
DEBIAN_MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
# Like Debian's -slim images: no manuals, docs (but copyrights) or translations.
DPKG_OPTS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
)
# Debian byte-compiles with timestamp-based .pyc files; the image's fixed mtimes would
# make them stale (recompiled at every start on a read-only root), so the hook
# rewrites them hash-based, which no mtime can invalidate.
DEBIAN_HOOK = 'chroot "$1" python3 -m compileall -q -f --invalidation-mode unchecked-hash /usr/lib/python3.11'
PYTHON_XY = "3.11"
VENV = "/opt/venv"
SITE_PACKAGES = f"{VENV}/lib/python{PYTHON_XY}/site-packages"


class BuildError(Exception):
    pass


def arch() -> str:
    """The OCI/Debian architecture name of this machine."""
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def _ports(*ports: str) -> dict:
    return {p if "/" in p else f"{p}/tcp": {} for p in ports}


def controller_config(version: str, revision: str = "unknown") -> dict:
    """Runtime config of the controller image, as in the top-level Dockerfile."""
    return {
        "User": f"{UID}:{GID}",
        "Env": [
            f"PATH={VENV}/bin:{DEFAULT_PATH}",
            "LANG=C.UTF-8",  # as in the python base image
            "PYTHONUNBUFFERED=1",
            "PYTHONDONTWRITEBYTECODE=1",
        ],
        "Entrypoint": ["bitcoin-controller"],
        "ExposedPorts": _ports("8080", "8081"),
        "Labels": {
            "org.opencontainers.image.title": "bitcoin-controller",
            "org.opencontainers.image.description": "Kubernetes operator that runs Bitcoin regtest networks",
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.revision": revision,
            "org.opencontainers.image.source": SOURCE_URL,
            "org.opencontainers.image.licenses": "Apache-2.0",
        },
    }


def btcd_config(btcd_version: str, revision: str = "unknown") -> dict:
    """Runtime config of the btcd image, as in build/btcd/Dockerfile (on distroless
    static:nonroot, whose PATH and WORKDIR it inherits)."""
    return {
        "User": f"{UID}:{GID}",
        "Env": [f"PATH={DEFAULT_PATH}", "HOME=/data"],
        "WorkingDir": "/home/nonroot",
        "Entrypoint": ["/usr/local/bin/btcd"],
        "Cmd": ["--regtest", "--datadir=/data/chain", "--logdir=/data/logs"],
        "Volumes": {"/data": {}},
        "ExposedPorts": _ports("18444", "18334"),
        "Labels": {
            "org.opencontainers.image.title": "btcd",
            "org.opencontainers.image.description":
                f"btcd {btcd_version} (github.com/btcsuite/btcd) for bitcoin-controller regtest networks",
            "org.opencontainers.image.version": btcd_version,
            "org.opencontainers.image.revision": revision,
            "org.opencontainers.image.source": SOURCE_URL,
            "org.opencontainers.image.licenses": "ISC",
        },
    }


def pause_config() -> dict:
    """Runtime config of the pause image (like registry.k8s.io/pause: /pause as 65535)."""
    return {
        "User": "65535:65535",
        "Env": [f"PATH={DEFAULT_PATH}"],
        "Entrypoint": ["/pause"],
        "Labels": {
            "org.opencontainers.image.title": "pause",
            "org.opencontainers.image.version": PAUSE_VERSION,
            "org.opencontainers.image.source": SOURCE_URL,
            "org.opencontainers.image.licenses": "Apache-2.0",
        },
    }


def distroless_layer() -> oci.Layer:
    """The few files of gcr.io/distroless/static-debian12:nonroot that matter to a
    static binary: users/groups (root, nobody, nonroot 65532), /tmp, home dirs."""
    layer = oci.Layer()
    layer.file("etc/passwd", (
        b"root:x:0:0:root:/root:/sbin/nologin\n"
        b"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
        b"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"))
    layer.file("etc/group", b"root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n")
    layer.file("etc/nsswitch.conf", b"hosts: files dns\n")
    layer.file("etc/os-release", b'PRETTY_NAME="bitcoin-controller local static root"\nID=distroless\n')
    layer.dir("tmp", 0o1777)
    layer.dir("root", 0o700)
    layer.dir("home/nonroot", 0o700, 65532, 65532)
    return layer


def btcd_layer(btcd: Path, btcctl: Path) -> oci.Layer:
    """The Dockerfile's two COPY lines: the binaries, and /data owned by 10001."""
    layer = oci.Layer()
    layer.file("usr/local/bin/btcd", source=btcd, mode=0o755)
    layer.file("usr/local/bin/btcctl", source=btcctl, mode=0o755)
    layer.dir("data", 0o755, UID, GID)
    return layer


def pause_layer(binary: Path) -> oci.Layer:
    layer = oci.Layer()
    layer.file("pause", source=binary, mode=0o755)
    return layer


def ref(name: str, tag: str) -> str:
    return f"{REGISTRY}/{name}:{tag}"


# --------------------------------------------------------------------------- build


def _hash(obj: object) -> str:
    return hashlib.sha256(oci.canonical_json(obj)).hexdigest()[:32]


def _hash_files(root: Path, paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(root)).encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:32]


def _remove_work_dir(work: Path, mounts_file: str = "/proc/self/mounts") -> bool:
    """Remove a build directory, unless something is still mounted inside it (an
    interrupted mmdebstrap can leave /proc or /dev mounts in its root): deleting
    through those would reach the host's files."""
    prefix = str(work.resolve()) + "/"
    try:
        with open(mounts_file) as f:
            mounts = [line.split()[1] for line in f]
    except OSError:
        mounts = []
    busy = [m for m in mounts if m.startswith(prefix)]
    if busy:
        print(f"build-images: not removing {work}: still mounted there: {', '.join(busy)}", file=sys.stderr)
        return False
    shutil.rmtree(work, ignore_errors=True)
    return True


@dataclass
class Built:
    name: str
    ref: str
    config: bytes
    layers: list[oci.Blob]


class Builder:
    """Builds the images into ``out`` (archives + images.json), caching in ``cache``."""

    def __init__(self, root: Path, out: Path, cache: Path, log: Callable[[str], None] = print,
                 revision: str | None = None, compress_level: int = 6, rebuild: bool = False) -> None:
        self.root = Path(root)
        self.out = Path(out)
        self.cache = Path(cache)
        self.log = log
        self.level = compress_level
        self.rebuild = rebuild  # ignore cached layers (e.g. to pick up Debian/PyPI updates)
        self.arch = arch()
        self.revision = revision if revision is not None else self._git_revision()

    # -- helpers
    def _run(self, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(cmd, check=True, **kw)
        except subprocess.CalledProcessError as e:
            raise BuildError(f"{cmd[0]} failed (exit {e.returncode}): {' '.join(cmd)[:300]}") from e

    def _git_revision(self) -> str:
        try:
            return subprocess.run(["git", "-C", str(self.root), "rev-parse", "HEAD"], check=True,
                                  capture_output=True, text=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    def version(self) -> str:
        return subprocess.run([str(self.root / "scripts" / "version")], check=True, capture_output=True,
                              text=True).stdout.strip()

    def btcd_version(self) -> str:
        gomod = (self.root / "scripts/localcluster/gomod/btcd/go.mod").read_text()
        m = re.search(r"^\s*(?:require\s+)?github\.com/btcsuite/btcd\s+(v\S+)", gomod, re.M)
        if not m:
            raise BuildError("cannot find github.com/btcsuite/btcd in the btcd wrapper go.mod")
        return m.group(1)

    def _cached_layer(
        self, kind: str, key: str, make: Callable[[Path], tuple[oci.Layer, dict]]
    ) -> tuple[oci.Blob, dict]:
        """The layer ``kind`` for inputs ``key``: from the cache, or made by ``make(tmpdir)``
        (which returns the layer and metadata to keep) and then cached. A lock per layer
        makes a concurrent build wait and then find it cached instead of redoing it."""
        d = self.cache / "layers" / f"{kind}-{key}"
        meta_path = d / "meta.json"
        d.parent.mkdir(parents=True, exist_ok=True)
        with open(d.parent / f".lock-{kind}-{key}", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if meta_path.exists() and not self.rebuild:
                meta = json.loads(meta_path.read_text())
                return oci.Blob.from_json(d / "layer.tar.gz", meta["blob"]), meta
            t0 = time.monotonic()
            work = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=d.parent))
            try:
                layer, meta = make(work)
                tmp_out = work / "layer.tar.gz"
                blob = oci.write_layer(layer, tmp_out, compress=True, level=self.level)
                final = d / "layer.tar.gz"
                d.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_out, final)
                blob = oci.Blob(final, blob.digest, blob.diff_id, blob.size, blob.media_type)
                meta = {**meta, "blob": blob.to_json(), "key": key}
                (work / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
                os.replace(work / "meta.json", meta_path)
            finally:
                _remove_work_dir(work)
        self.log(f"  {kind} layer built in {time.monotonic() - t0:.1f}s ({blob.size / 1e6:.1f} MB)")
        return blob, meta

    # -- controller
    def debian_layer(self) -> tuple[oci.Blob, dict]:
        inputs = {"suite": DEBIAN_SUITE, "variant": DEBIAN_VARIANT, "packages": sorted(DEBIAN_PACKAGES),
                  "mirrors": DEBIAN_MIRRORS, "dpkg": DPKG_OPTS, "hook": DEBIAN_HOOK, "arch": self.arch,
                  "recipe": DEBIAN_RECIPE}

        def make(work: Path) -> tuple[oci.Layer, dict]:
            ensure_packages({"mmdebstrap": "mmdebstrap"}, self.log)
            rootfs = work / "rootfs"
            self.log(f"  mmdebstrap {DEBIAN_SUITE} ({DEBIAN_VARIANT} + {', '.join(DEBIAN_PACKAGES)}); ~1-2 min")
            cmd = ["mmdebstrap", "--quiet", f"--variant={DEBIAN_VARIANT}", f"--architectures={self.arch}",
                   f"--include={','.join(DEBIAN_PACKAGES)}", f"--customize-hook={DEBIAN_HOOK}"]
            cmd += [f"--dpkgopt={o}" for o in DPKG_OPTS]
            cmd += [DEBIAN_SUITE, str(rootfs), *DEBIAN_MIRRORS]
            env = {**os.environ, "SOURCE_DATE_EPOCH": str(oci.epoch())}
            self._run(["nice", "-n", "10", *cmd], env=env)
            packages = subprocess.run(["chroot", str(rootfs), "dpkg-query", "-W", "-f", "${Package}=${Version}\\n"],
                                      check=True, capture_output=True, text=True).stdout.split()
            py = json.loads(subprocess.run(
                ["chroot", str(rootfs), "python3", "-c",
                 "import json, sys, importlib.util; print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3],"
                 " 'magic': importlib.util.MAGIC_NUMBER.hex()}))"],
                check=True, capture_output=True, text=True).stdout)
            layer = oci.Layer()
            layer.tree(rootfs, "/", skip_contents=("dev", "proc", "sys"))
            # The runtime bind-mounts these; the build host's copies must not ship.
            for f in ("etc/resolv.conf", "etc/hostname"):
                layer.file(f, b"")
            return layer, {"packages": sorted(packages), "python": py}

        return self._cached_layer("debian", _hash(inputs), make)

    def _pip(self) -> list[str]:
        venv_py = self.root / ".venv" / "bin" / "python"
        return [str(venv_py if venv_py.exists() else sys.executable), "-m", "pip",
                "--disable-pip-version-check"]

    def _platform_args(self) -> list[str]:
        # Wheels for the image's interpreter (CPython 3.11, glibc 2.36 of bookworm),
        # whatever this machine's Python and glibc are.
        machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(self.arch, self.arch)
        args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_XY,
                "--abi", "cp311", "--abi", "abi3", "--abi", "none"]
        for minor in range(36, 16, -1):
            args += ["--platform", f"manylinux_2_{minor}_{machine}"]
        args += ["--platform", f"manylinux2014_{machine}", "--platform", "any"]
        return args

    def _compile(self, site: Path, python: dict) -> None:
        """Byte-compile (hash-based .pyc, so fixed mtimes keep them valid) with this
        machine's Python when it has the image's bytecode format; else leave it to
        the image (slower start, nothing written on a read-only root)."""
        import importlib.util

        if importlib.util.MAGIC_NUMBER.hex() != python["magic"]:
            self.log(f"  note: this Python ({sys.version.split()[0]}) is not {python['version']}; .pyc not precompiled")
            return
        self._run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "checked-hash",
                   "-d", SITE_PACKAGES, str(site)], stdout=subprocess.DEVNULL)

    def _fix_scripts(self, target: Path, layer: oci.Layer) -> None:
        """pip --target writes console scripts with this machine's interpreter; point
        them at the venv's, as a venv install would."""
        bindir = target / "bin"
        scripts: dict[str, bytes] = {}
        if bindir.is_dir():
            for script in sorted(bindir.iterdir()):
                data = script.read_bytes()
                if data.startswith(b"#!"):
                    data = b"#!" + f"{VENV}/bin/python".encode() + data[data.index(b"\n"):]
                scripts[script.name] = data
                layer.file(f"{VENV}/bin/{script.name}", data, mode=0o755)
            shutil.rmtree(bindir)
        # Keep each RECORD true for the venv layout (scripts in /opt/venv/bin, new
        # hashes), and drop direct_url.json: it names this build's temporary wheel path.
        for record in sorted(target.glob("*.dist-info/RECORD")):
            lines = []
            for line in record.read_text().splitlines():
                path = line.rsplit(",", 2)[0]
                name = path.rsplit("/", 1)[-1]
                if path.endswith("/direct_url.json"):
                    (target / path).unlink(missing_ok=True)
                    continue
                if path.startswith("../") and path.split("/")[-2] == "bin" and name in scripts:
                    digest = base64.urlsafe_b64encode(hashlib.sha256(scripts[name]).digest()).rstrip(b"=").decode()
                    line = f"../../../bin/{name},sha256={digest},{len(scripts[name])}"
                lines.append(line)
            record.write_text("\n".join(lines) + "\n")

    def requirements(self) -> list[str]:
        cfg = configparser.ConfigParser()
        cfg.read(self.root / "setup.cfg")
        return [r.strip() for r in cfg["options"]["install_requires"].strip().splitlines() if r.strip()]

    def deps_layer(self, python: dict) -> tuple[oci.Blob, dict]:
        reqs = self.requirements()
        inputs = {"requirements": reqs, "python": python, "platform": self._platform_args(), "recipe": PYTHON_RECIPE}

        def make(work: Path) -> tuple[oci.Layer, dict]:
            target = work / "site"
            self.log(f"  pip install --target (dependencies from PyPI: {len(reqs)} requirements)")
            self._run([*self._pip(), "install", "--quiet", "--no-compile", "--target", str(target),
                       *self._platform_args(), *reqs])
            layer = oci.Layer()
            self._fix_scripts(target, layer)
            self._compile(target, python)
            layer.tree(target, SITE_PACKAGES, uid=0, gid=0)
            # the rest of what `python -m venv /opt/venv` creates, for Debian's python3
            layer.file(f"{VENV}/pyvenv.cfg", (
                f"home = /usr/bin\ninclude-system-site-packages = false\nversion = {python['version']}\n"
                f"executable = /usr/bin/python{PYTHON_XY}\ncommand = /usr/bin/python{PYTHON_XY} -m venv {VENV}\n"
            ).encode())
            layer.symlink(f"{VENV}/bin/python", f"/usr/bin/python{PYTHON_XY}")
            layer.symlink(f"{VENV}/bin/python3", "python")
            layer.symlink(f"{VENV}/bin/python{PYTHON_XY}", "python")
            layer.symlink(f"{VENV}/lib64", "lib")
            layer.dir(f"{VENV}/include")
            frozen = sorted(p.name for p in target.glob("*.dist-info"))
            return layer, {"dists": frozen}

        return self._cached_layer("deps", _hash(inputs), make)

    def app_sources(self) -> list[Path]:
        """What the Dockerfile's build context holds (see .dockerignore)."""
        files = [self.root / n for n in ("pyproject.toml", "setup.cfg", "README.md")]
        files += [p for p in (self.root / "bitcoin_controller").rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith((".pyc", ".pyo"))]
        return files

    def app_layer(self, python: dict) -> tuple[oci.Blob, dict]:
        sources = self.app_sources()
        inputs = {"sources": _hash_files(self.root, sources), "python": python, "recipe": PYTHON_RECIPE}

        def make(work: Path) -> tuple[oci.Layer, dict]:
            ctx = work / "context"
            for f in sources:
                dest = ctx / f.relative_to(self.root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest)
            wheels = work / "wheels"
            self.log("  pip wheel (the project)")
            self._run([*self._pip(), "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(ctx)])
            wheel = next(wheels.glob("*.whl"))
            target = work / "site"
            self._run([*self._pip(), "install", "--quiet", "--no-deps", "--no-compile", "--target", str(target),
                       str(wheel)])
            layer = oci.Layer()
            self._fix_scripts(target, layer)
            self._compile(target, python)
            layer.tree(target, SITE_PACKAGES, uid=0, gid=0)
            return layer, {"wheel": wheel.name, "wheel_sha256": oci.file_digest(wheel)}

        return self._cached_layer("app", _hash(inputs), make)

    def controller(self) -> Built:
        self.log("controller image")
        debian, meta = self.debian_layer()
        python = meta["python"]
        deps, _ = self.deps_layer(python)
        app, _ = self.app_layer(python)
        version = self.version()
        layers = [debian, deps, app]
        history = [
            {"created_by": f"mmdebstrap --variant={DEBIAN_VARIANT} --include={','.join(DEBIAN_PACKAGES)} "
                           f"{DEBIAN_SUITE}"},
            {"created_by": f"pip install --target {SITE_PACKAGES} (dependencies)"},
            {"created_by": f"pip install --target {SITE_PACKAGES} (bitcoin-controller wheel)"},
        ]
        config = oci.image_config(controller_config(version, self.revision), layers, architecture=self.arch,
                                  history=history)
        return Built("bitcoin-controller", ref("bitcoin-controller", version), config, layers)

    # -- btcd
    def btcd_binaries(self) -> tuple[Path, Path]:
        bindir = self.root / ".local-cluster" / "bin"
        if not all((bindir / b).exists() for b in ("btcd", "btcctl")):
            self.log("  scripts/build-local-cluster btcd")
            self._run([str(self.root / "scripts" / "build-local-cluster"), "btcd"])
        return (bindir / "btcd").resolve(), (bindir / "btcctl").resolve()

    def btcd(self) -> Built:
        self.log("btcd image")
        version = self.btcd_version()
        btcd, btcctl = self.btcd_binaries()
        base, _ = self._cached_layer("static-root", _hash({"recipe": RECIPE_VERSION, "v": 1}),
                                     lambda work: (distroless_layer(), {}))
        key = _hash({"btcd": oci.file_digest(btcd), "btcctl": oci.file_digest(btcctl), "recipe": RECIPE_VERSION})
        bins, _ = self._cached_layer("btcd", key, lambda work: (btcd_layer(btcd, btcctl), {}))
        layers = [base, bins]
        history = [{"created_by": "static root (distroless static-debian12:nonroot equivalent)"},
                   {"created_by": "COPY btcd btcctl /usr/local/bin/; /data owned by 10001"}]
        config = oci.image_config(btcd_config(version, self.revision), layers, architecture=self.arch,
                                  history=history)
        return Built("btcd", ref("btcd", version), config, layers)

    # -- pause
    def pause(self) -> Built:
        self.log("pause image")
        src = self.root / "scripts" / "localcluster" / "pause"
        goversion = subprocess.run(["go", "env", "GOVERSION"], check=True, capture_output=True,
                                   text=True).stdout.strip()
        key = _hash({"src": _hash_files(src, sorted(src.glob("*.go")) + [src / "go.mod"]), "go": goversion,
                     "version": PAUSE_VERSION, "arch": self.arch, "recipe": RECIPE_VERSION})

        def make(work: Path) -> tuple[oci.Layer, dict]:
            binary = work / "pause"
            env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false",
                   "GOARCH": self.arch}
            self.log(f"  go build pause ({goversion})")
            self._run(["go", "build", "-trimpath", "-ldflags", f"-s -w -X main.version={PAUSE_VERSION}",
                       "-o", str(binary), "."], cwd=src, env=env)
            return pause_layer(binary), {"go": goversion}

        layer, _ = self._cached_layer("pause", key, make)
        config = oci.image_config(pause_config(), [layer], architecture=self.arch,
                                  history=[{"created_by": "go build scripts/localcluster/pause"}])
        return Built("pause", ref("pause", PAUSE_VERSION), config, [layer])

    # -- archives
    def write(self, built: Built) -> dict:
        """Write ``out/<name>.oci.tar`` unless the same image is already there."""
        self.out.mkdir(parents=True, exist_ok=True)
        archive = self.out / f"{built.name}.oci.tar"
        index = self.out / "images.json"
        known = json.loads(index.read_text()) if index.exists() else {}
        manifest = oci.canonical_json({
            "schemaVersion": 2, "mediaType": oci.MEDIA_MANIFEST,
            "config": {"mediaType": oci.MEDIA_CONFIG, "digest": oci.sha256_digest(built.config),
                       "size": len(built.config)},
            "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in built.layers],
        })
        digest = oci.sha256_digest(manifest)
        entry = known.get(built.name, {})
        if not (archive.exists() and entry.get("digest") == digest and entry.get("ref") == built.ref):
            written = oci.write_archive(archive, built.ref, built.config, built.layers)
            assert written == digest, (written, digest)
        entry = {"ref": built.ref, "digest": digest, "archive": str(archive),
                 "size": sum(b.size for b in built.layers)}
        known[built.name] = entry
        index.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
        return entry


# --------------------------------------------------------------------------- host tools


_apt_updated = False


def ensure_packages(commands: dict[str, str], log: Callable[[str], None] = print) -> None:
    """Install the Debian packages providing ``commands`` (command -> package) that are
    missing; ``apt-get update`` runs at most once."""
    global _apt_updated
    missing = sorted({pkg for cmd, pkg in commands.items() if shutil.which(cmd) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise BuildError(f"missing {', '.join(missing)}; install them (apt-get install {' '.join(missing)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        log("  apt-get update")
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        _apt_updated = True
    log(f"  apt-get install -y {' '.join(missing)}")
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def ctr_images(ctr: list[str]) -> dict[str, str]:
    """ref -> digest of the images in containerd's k8s.io namespace."""
    out = subprocess.run([*ctr, "images", "ls"], check=True, capture_output=True, text=True).stdout
    images = {}
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3:
            images[parts[0]] = parts[2]
    return images


def import_images(entries: list[dict], address: str, log: Callable[[str], None] = print) -> None:
    """``ctr -n k8s.io images import`` each archive whose image containerd lacks."""
    ensure_packages({"ctr": "containerd"}, log)
    ctr = ["ctr", "--address", address, "-n", "k8s.io"]
    try:
        present = ctr_images(ctr)
    except subprocess.CalledProcessError as e:
        raise BuildError(f"cannot list images through containerd at {address} (is it running?): "
                         f"{(e.stderr or '').strip()[:200]}") from e
    for e in entries:
        if present.get(e["ref"]) == e["digest"]:
            log(f"  {e['ref']}: already in containerd")
            continue
        t0 = time.monotonic()
        subprocess.run([*ctr, "images", "import", e["archive"]], check=True, stdout=subprocess.DEVNULL)
        log(f"  {e['ref']}: imported in {time.monotonic() - t0:.1f}s")
    present = ctr_images(ctr)
    missing = [e["ref"] for e in entries if present.get(e["ref"]) != e["digest"]]
    if missing:
        raise BuildError(f"not in containerd after import: {', '.join(missing)}")
