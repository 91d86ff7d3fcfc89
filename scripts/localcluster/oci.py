"""Deterministic OCI image layouts written with the standard library only.

What ``docker build`` + ``docker save`` would produce, without a container engine:
layer tarballs (optionally gzip-compressed), an image config, a manifest and an
``index.json`` in an OCI image layout, packed into one tar archive that
``ctr images import`` (or podman/skopeo) accepts.

Every byte is a function of the inputs, so an unchanged input gives the same layer
digest and the build cache (keyed by content) and containerd's content store both
hit: tar entries are sorted by path, every mtime is the same fixed epoch, owners are
numeric (uid/gid kept, names dropped), gzip headers carry no name and no time, and
JSON is written with sorted keys and no whitespace.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

# 2024-01-01T00:00:00Z; SOURCE_DATE_EPOCH overrides it (reproducible-builds convention).
DEFAULT_EPOCH = 1704067200

MEDIA_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
# containerd's own annotation for the full name; `ctr images import` prefers it.
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"

_CHUNK = 1 << 20


def epoch() -> int:
    """The fixed mtime of every entry: SOURCE_DATE_EPOCH when set, else DEFAULT_EPOCH."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(value) if value.isdigit() else DEFAULT_EPOCH


def canonical_json(obj: object) -> bytes:
    """JSON with sorted keys and no insignificant whitespace (stable digests)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One member of a layer: a directory, regular file, symlink or hard link.

    ``data`` (bytes) or ``source`` (a path read when the layer is written) give a
    regular file's content; ``link`` is a symlink's target or, for a hard link, the
    path (inside the layer) of the file it links to.
    """

    path: str
    kind: str  # "dir" | "file" | "symlink" | "hardlink"
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    data: bytes | None = None
    source: Path | None = None
    link: str = ""


def _norm(path: str) -> str:
    p = path.strip("/")
    if not p or ".." in p.split("/"):
        raise ValueError(f"bad path in layer: {path!r}")
    return p


@dataclass
class Layer:
    """The content of one layer, collected then written in sorted order.

    Mirrors a Dockerfile ``COPY``/``RUN`` step's result: the files it adds, with
    the owners and modes they have in the image. Missing parent directories are
    added (root-owned, 0755) so every layer extracts on its own.
    """

    entries: dict[str, Entry] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        path = _norm(entry.path)
        self.entries[path] = Entry(**{**entry.__dict__, "path": path})

    def dir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        self.add(Entry(path, "dir", mode, uid, gid))

    def file(
        self,
        path: str,
        data: bytes | None = None,
        *,
        source: Path | None = None,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
    ) -> None:
        if (data is None) == (source is None):
            raise ValueError("give exactly one of data or source")
        self.add(Entry(path, "file", mode, uid, gid, data=data, source=source))

    def symlink(self, path: str, target: str, uid: int = 0, gid: int = 0) -> None:
        self.add(Entry(path, "symlink", 0o777, uid, gid, link=target))

    def tree(
        self,
        src: Path,
        dest: str = "/",
        *,
        uid: int | None = None,
        gid: int | None = None,
        skip_contents: tuple[str, ...] = (),
    ) -> None:
        """Add everything under ``src`` at ``dest``, keeping modes, uid/gid (unless
        overridden), symlinks and hard links. Special files (devices, fifos, sockets)
        are left out: the runtime provides /dev. ``skip_contents`` lists paths (relative
        to ``src``) whose directory is kept empty, e.g. ``("dev", "proc")``."""
        src = Path(src)
        skip = {s.strip("/") for s in skip_contents}
        inodes: dict[tuple[int, int], str] = {}
        prefix = dest.strip("/")
        for dirpath, dirnames, filenames in os.walk(src):
            rel_dir = os.path.relpath(dirpath, src)
            rel_dir = "" if rel_dir == "." else rel_dir
            if rel_dir in skip:
                dirnames[:] = []
                filenames = []
            dirnames.sort()
            names = sorted(dirnames) + sorted(filenames)
            for name in names:
                rel = f"{rel_dir}/{name}" if rel_dir else name
                full = Path(dirpath) / name
                st = os.lstat(full)
                target_path = f"{prefix}/{rel}" if prefix else rel
                u = st.st_uid if uid is None else uid
                g = st.st_gid if gid is None else gid
                mode = stat.S_IMODE(st.st_mode)
                if stat.S_ISDIR(st.st_mode):
                    self.add(Entry(target_path, "dir", mode, u, g))
                elif stat.S_ISLNK(st.st_mode):
                    self.add(Entry(target_path, "symlink", 0o777, u, g, link=os.readlink(full)))
                elif stat.S_ISREG(st.st_mode):
                    key = (st.st_dev, st.st_ino)
                    if st.st_nlink > 1 and key in inodes:
                        # hard link to the first path seen (walk order is sorted)
                        self.add(Entry(target_path, "hardlink", mode, u, g, link=inodes[key]))
                    else:
                        inodes[key] = _norm(target_path)
                        self.add(Entry(target_path, "file", mode, u, g, source=full))
        if prefix:
            st = os.lstat(src)
            self.add(Entry(prefix, "dir", stat.S_IMODE(st.st_mode),
                           st.st_uid if uid is None else uid, st.st_gid if gid is None else gid))

    def _complete(self) -> list[Entry]:
        entries = dict(self.entries)
        for path in list(entries):
            parts = path.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                entries.setdefault(parent, Entry(parent, "dir"))
        # Sorted by path; hard links must follow their target, which sorting by path
        # does not guarantee, so targets are emitted first where needed.
        ordered = [entries[p] for p in sorted(entries)]
        firsts = [e for e in ordered if e.kind != "hardlink"]
        links = [e for e in ordered if e.kind == "hardlink"]
        return firsts + links

    def write_tar(self, out: BinaryIO, mtime: int | None = None) -> None:
        """Write the layer as an uncompressed tar (PAX format) to ``out``."""
        mtime = epoch() if mtime is None else mtime
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for e in self._complete():
                info = tarfile.TarInfo(e.path)
                info.mtime = mtime
                info.mode = e.mode
                info.uid, info.gid = e.uid, e.gid
                info.uname = info.gname = ""
                if e.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif e.kind == "symlink":
                    info.type = tarfile.SYMTYPE
                    info.linkname = e.link
                    tar.addfile(info)
                elif e.kind == "hardlink":
                    info.type = tarfile.LNKTYPE
                    info.linkname = e.link
                    tar.addfile(info)
                elif e.data is not None:
                    info.size = len(e.data)
                    tar.addfile(info, io.BytesIO(e.data))
                else:
                    assert e.source is not None
                    with open(e.source, "rb") as f:
                        info.size = os.fstat(f.fileno()).st_size
                        tar.addfile(info, f)


class _HashingWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through it."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        self.hash.update(b)
        self.size += len(b)
        self.sink.write(b)
        return len(b)


@dataclass(frozen=True)
class Blob:
    """A layer blob on disk with its descriptor facts (digest of the blob as stored,
    diff_id = digest of the uncompressed tar)."""

    path: Path
    digest: str
    diff_id: str
    size: int
    media_type: str

    def to_json(self) -> dict:
        return {"digest": self.digest, "diff_id": self.diff_id, "size": self.size,
                "media_type": self.media_type}

    @classmethod
    def from_json(cls, path: Path, d: dict) -> Blob:
        return cls(path, d["digest"], d["diff_id"], d["size"], d["media_type"])


def write_layer(layer: Layer, path: Path, *, compress: bool = True, level: int = 6,
                mtime: int | None = None) -> Blob:
    """Write ``layer`` to ``path`` (atomically) and return its descriptor facts."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".layer-")
    try:
        with os.fdopen(fd, "wb") as raw:
            outer = _HashingWriter(raw)
            if compress:
                # no file name, mtime 0: the gzip header is input-independent
                gz = gzip.GzipFile(filename="", mode="wb", fileobj=outer, compresslevel=level, mtime=0)
                inner = _HashingWriter(gz)  # type: ignore[arg-type]
                layer.write_tar(inner, mtime)  # type: ignore[arg-type]
                gz.close()
            else:
                inner = outer
                layer.write_tar(outer, mtime)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return Blob(path, "sha256:" + outer.hash.hexdigest(), "sha256:" + inner.hash.hexdigest(),
                outer.size, MEDIA_LAYER_GZIP if compress else MEDIA_LAYER_TAR)


def image_config(config: dict, layers: list[Blob], *, architecture: str, history: list[dict] | None = None,
                 created: int | None = None) -> bytes:
    """The image config blob (OCI image-spec config.md): runtime config + rootfs diff_ids."""
    import time

    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch() if created is None else created))
    doc = {
        "created": ts,
        "architecture": architecture,
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [b.diff_id for b in layers]},
        "history": history or [{"created": ts, "created_by": "scripts/build-images"} for _ in layers],
    }
    return canonical_json(doc)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o644
    tar.addfile(info, io.BytesIO(data))


def write_archive(path: Path, ref: str, config: bytes, layers: list[Blob], *,
                  annotations: dict[str, str] | None = None) -> str:
    """Write an OCI image layout for one image as a tar archive at ``path``.

    ``ref`` is the full image name (``localhost/bitcoin-controller/pause:1.0``); it is
    put in the index both as ``org.opencontainers.image.ref.name`` and containerd's
    ``io.containerd.image.name`` so ``ctr images import`` names the image exactly so.
    Returns the manifest digest (the image's digest in containerd).
    """
    mtime = epoch()
    config_desc = {"mediaType": MEDIA_CONFIG, "digest": sha256_digest(config), "size": len(config)}
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": config_desc,
        "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in layers],
        **({"annotations": annotations} if annotations else {}),
    })
    manifest_digest = sha256_digest(manifest)
    index = canonical_json({
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [{
            "mediaType": MEDIA_MANIFEST,
            "digest": manifest_digest,
            "size": len(manifest),
            "annotations": {ANNOTATION_REF_NAME: ref, ANNOTATION_CONTAINERD_NAME: ref},
        }],
    })
    blobs: dict[str, bytes | Blob] = {config_desc["digest"]: config, manifest_digest: manifest}
    for b in layers:
        blobs[b.digest] = b
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".archive-")
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for d in ("blobs", "blobs/sha256"):
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
                tar.addfile(info)
            for digest in sorted(blobs):
                name = "blobs/sha256/" + digest.split(":", 1)[1]
                content = blobs[digest]
                if isinstance(content, bytes):
                    _add_bytes(tar, name, content, mtime)
                else:
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = content.size, mtime, 0o644
                    with open(content.path, "rb") as f:
                        tar.addfile(info, f)
            _add_bytes(tar, "index.json", index, mtime)
            _add_bytes(tar, "oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}), mtime)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return manifest_digest
