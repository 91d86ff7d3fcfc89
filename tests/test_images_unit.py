"""The images built without Docker (scripts/build-images) against their Dockerfiles,
and the OCI layout writer (scripts/localcluster/oci.py).

The Dockerfiles stay the recipe of the published images; the local build must give
the same runtime facts (user, entrypoint, command, environment, working directory,
ports, volumes, labels, paths). Both sides are compared here without building
anything: the local side's config comes from the same functions the build uses.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shlex
import sys
import tarfile
from pathlib import Path

import pytest
from test_dockerfiles_unit import BTCD, CONTROLLER, Stage, args_with_defaults, labels, parse_dockerfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from localcluster import images, oci  # noqa: E402

# What the final stages inherit from their bases (not visible in our Dockerfiles).
PYTHON_BASE_PATH = "/usr/local/bin:" + images.DEFAULT_PATH  # python:3.11-slim
DISTROLESS_PATH = images.DEFAULT_PATH  # gcr.io/distroless/static-debian12
DISTROLESS_NONROOT_WORKDIR = "/home/nonroot"


def _final(path: Path) -> tuple[dict[str, str], Stage]:
    instructions, stages = parse_dockerfile(path)
    return args_with_defaults(instructions), stages[-1]


def _dockerfile_env(stage: Stage, base_path: str) -> dict[str, str]:
    env = {"PATH": base_path}
    for value in stage.all("ENV"):
        for pair in shlex.split(value):
            key, _, val = pair.partition("=")
            env[key] = val.replace("$PATH", env["PATH"])
    return env


def _config_env(config: dict) -> dict[str, str]:
    return dict(e.split("=", 1) for e in config["Env"])


def _ports(stage: Stage) -> set[str]:
    return {p if "/" in p else f"{p}/tcp" for v in stage.all("EXPOSE") for p in v.split()}


def _substitute(value: str, args: dict[str, str]) -> str:
    for k, v in args.items():
        value = value.replace("${" + k + "}", v)
    return value


def _user(stage: Stage) -> str:
    return stage.all("USER")[-1]


# --------------------------------------------------------------- controller vs Dockerfile


def test_controller_config_matches_dockerfile_unit():
    args, final = _final(CONTROLLER)
    config = images.controller_config(args["VERSION"], args["REVISION"])
    assert config["User"] == _user(final) == "10001:10001"
    assert config["Entrypoint"] == json.loads(final.all("ENTRYPOINT")[-1])
    assert config.get("Cmd") is None and final.all("CMD") == []
    assert config.get("WorkingDir") is None and final.all("WORKDIR") == []
    assert set(config["ExposedPorts"]) == _ports(final) == {"8080/tcp", "8081/tcp"}
    assert not config.get("Volumes") and final.all("VOLUME") == []

    want, got = _dockerfile_env(final, PYTHON_BASE_PATH), _config_env(config)
    for key in want.keys() - {"PATH"}:
        assert got[key] == want[key], key
    # The venv comes first; Debian's python3 lives in /usr/bin, not /usr/local/bin.
    want_path, got_path = want["PATH"].split(":"), got["PATH"].split(":")
    assert got_path[0] == want_path[0] == images.VENV + "/bin"
    assert set(images.DEFAULT_PATH.split(":")) <= set(got_path)

    want_labels = {k: _substitute(v, args) for k, v in labels(final).items()}
    assert set(config["Labels"]) == set(want_labels) - {"org.opencontainers.image.created"}
    for key in ("title", "description", "source", "licenses", "version", "revision"):
        k = f"org.opencontainers.image.{key}"
        assert config["Labels"][k] == want_labels[k], k


def test_controller_venv_is_where_the_dockerfile_copies_it_unit():
    _, final = _final(CONTROLLER)
    dest = final.all("COPY")[0].split()[-1]
    assert dest == images.VENV
    assert f"{dest}/lib/python{images.PYTHON_XY}/site-packages" == images.SITE_PACKAGES
    # the Dockerfile's base is the same Python minor version as Debian bookworm's python3
    assert f"python:{images.PYTHON_XY}." in final.image and images.DEBIAN_SUITE in final.image


# --------------------------------------------------------------- btcd vs Dockerfile


def test_btcd_config_matches_dockerfile_unit():
    args, final = _final(BTCD)
    config = images.btcd_config(args["BTCD_VERSION"], args["REVISION"])
    assert config["User"] == _user(final) == "10001:10001"
    assert config["Entrypoint"] == json.loads(final.all("ENTRYPOINT")[-1])
    assert config["Cmd"] == json.loads(final.all("CMD")[-1])
    assert config["WorkingDir"] == (final.all("WORKDIR") or [DISTROLESS_NONROOT_WORKDIR])[-1]
    assert set(config["ExposedPorts"]) == _ports(final) == {"18444/tcp", "18334/tcp"}
    assert set(config["Volumes"]) == set(json.loads(final.all("VOLUME")[-1])) == {"/data"}
    assert _config_env(config) == _dockerfile_env(final, DISTROLESS_PATH)
    want_labels = {k: _substitute(v, args) for k, v in labels(final).items()}
    assert config["Labels"] == want_labels


def test_btcd_layers_hold_the_dockerfile_paths_unit(tmp_path):
    _, final = _final(BTCD)
    (tmp_path / "btcd").write_bytes(b"\x7fELF btcd")
    (tmp_path / "btcctl").write_bytes(b"\x7fELF btcctl")
    entries = {**images.distroless_layer().entries, **images.btcd_layer(tmp_path / "btcd", tmp_path / "btcctl").entries}
    copies = final.all("COPY")
    bins = next(c for c in copies if "/out/btcd" in c).split()
    dest = bins[-1].strip("/")
    for src in bins[:-1]:
        if src.startswith("--"):
            continue
        e = entries[f"{dest}/{Path(src).name}"]
        assert e.kind == "file" and e.mode == 0o755 and (e.uid, e.gid) == (0, 0)
    data = next(c for c in copies if "--chown=10001:10001" in c).split()[-1].strip("/")
    assert entries[data].kind == "dir" and (entries[data].uid, entries[data].gid) == (10001, 10001)
    entrypoint = json.loads(final.all("ENTRYPOINT")[-1])[0].strip("/")
    assert entries[entrypoint].kind == "file"
    assert entries["tmp"].mode == 0o1777
    passwd = entries["etc/passwd"].data.decode()
    assert "nonroot:x:65532:65532:" in passwd


def test_pause_image_is_one_static_file_unit(tmp_path):
    (tmp_path / "pause").write_bytes(b"\x7fELF pause")
    layer = images.pause_layer(tmp_path / "pause")
    assert list(layer.entries) == ["pause"]
    config = images.pause_config()
    assert config["Entrypoint"] == ["/pause"] and config["User"] == "65535:65535"
    main_go = (ROOT / "scripts/localcluster/pause/main.go").read_text()
    assert "SIGTERM" in main_go and "Wait4" in main_go


def test_image_names_never_resolve_to_a_public_registry_unit():
    for name, tag in (("bitcoin-controller", "0.1-devabc"), ("btcd", "v0.24.2"), ("pause", images.PAUSE_VERSION)):
        r = images.ref(name, tag)
        assert r == f"localhost/bitcoin-controller/{name}:{tag}"


# --------------------------------------------------------------- the OCI writer


def _sample_tree(root: Path) -> Path:
    src = root / "src"
    (src / "b" / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "b" / "sub" / "z.bin").write_bytes(os.urandom(0) + b"\x00\x01" * 1000)
    os.chmod(src / "b" / "sub" / "z.bin", 0o750)
    os.symlink("a.txt", src / "link")
    os.link(src / "a.txt", src / "b" / "hard")
    return src


def _layer(src: Path) -> oci.Layer:
    layer = oci.Layer()
    layer.tree(src, "/opt/app")
    layer.file("/etc/owned", b"x", uid=10001, gid=10001, mode=0o600)
    layer.dir("data", uid=10001, gid=10001)
    return layer


def test_layer_is_deterministic_and_keeps_owners_unit(tmp_path):
    src = _sample_tree(tmp_path)
    a = oci.write_layer(_layer(src), tmp_path / "a.tar.gz")
    os.utime(src / "a.txt", (1, 1))  # mtimes of the inputs do not matter
    b = oci.write_layer(_layer(src), tmp_path / "b.tar.gz")
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    assert a.digest == b.digest and a.diff_id == b.diff_id
    raw = (tmp_path / "a.tar.gz").read_bytes()
    assert a.digest == "sha256:" + hashlib.sha256(raw).hexdigest() and a.size == len(raw)
    tar_bytes = gzip.decompress(raw)
    assert a.diff_id == "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        names = [m.name for m in tar.getmembers()]
    # parents before children, everything at the fixed epoch, numeric owners only
    for i, name in enumerate(names):
        parent = name.rpartition("/")[0]
        assert not parent or names.index(parent) < i, name
    assert {m.mtime for m in members.values()} == {oci.epoch()}
    assert {m.uname for m in members.values()} == {""}
    assert (members["etc/owned"].uid, members["etc/owned"].gid, members["etc/owned"].mode) == (10001, 10001, 0o600)
    assert members["data"].isdir() and members["data"].uid == 10001
    assert members["opt/app/link"].issym() and members["opt/app/link"].linkname == "a.txt"
    assert members["opt/app/b/sub/z.bin"].mode == 0o750
    hard = [m for m in members.values() if m.islnk()]
    assert len(hard) == 1 and hard[0].linkname in {"opt/app/a.txt", "opt/app/b/hard"}
    assert names.index(hard[0].linkname) < names.index(hard[0].name)


def test_uncompressed_layer_digest_is_its_diff_id_unit(tmp_path):
    blob = oci.write_layer(_layer(_sample_tree(tmp_path)), tmp_path / "l.tar", compress=False)
    assert blob.digest == blob.diff_id and blob.media_type == oci.MEDIA_LAYER_TAR


def _read_archive(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_archive_is_a_valid_oci_layout_with_correct_digests_unit(tmp_path):
    src = _sample_tree(tmp_path)
    blob = oci.write_layer(_layer(src), tmp_path / "l.tar.gz")
    config = oci.image_config(images.pause_config(), [blob], architecture="amd64")
    ref = "localhost/bitcoin-controller/test:1"
    digest = oci.write_archive(tmp_path / "img.tar", ref, config, [blob])
    files = _read_archive(tmp_path / "img.tar")

    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1], name
    index = json.loads(files["index.json"])
    assert index["schemaVersion"] == 2
    [desc] = index["manifests"]
    assert desc["digest"] == digest and desc["mediaType"] == oci.MEDIA_MANIFEST
    assert desc["annotations"][oci.ANNOTATION_REF_NAME] == ref
    assert desc["annotations"][oci.ANNOTATION_CONTAINERD_NAME] == ref
    manifest_bytes = files["blobs/sha256/" + digest.split(":")[1]]
    assert desc["size"] == len(manifest_bytes)
    manifest = json.loads(manifest_bytes)
    assert manifest["config"]["digest"] == oci.sha256_digest(config)
    assert manifest["config"]["size"] == len(config)
    [layer] = manifest["layers"]
    assert layer == {"mediaType": oci.MEDIA_LAYER_GZIP, "digest": blob.digest, "size": blob.size}
    cfg = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    layer_bytes = files["blobs/sha256/" + blob.digest.split(":")[1]]
    assert cfg["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(gzip.decompress(layer_bytes)).hexdigest()]
    assert cfg["os"] == "linux" and cfg["config"]["Entrypoint"] == ["/pause"]


def test_archive_bytes_are_deterministic_unit(tmp_path):
    src = _sample_tree(tmp_path)
    out = []
    for run in ("1", "2"):
        blob = oci.write_layer(_layer(src), tmp_path / f"l{run}.tar.gz")
        config = oci.image_config(images.btcd_config("v0.24.2"), [blob], architecture="amd64")
        oci.write_archive(tmp_path / f"img{run}.tar", "localhost/x/y:1", config, [blob])
        out.append((tmp_path / f"img{run}.tar").read_bytes())
    assert out[0] == out[1]


def test_source_date_epoch_sets_the_fixed_mtime_unit(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234567890")
    blob = oci.write_layer(_layer(_sample_tree(tmp_path)), tmp_path / "l.tar", compress=False)
    with tarfile.open(blob.path) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1234567890}
    assert json.loads(oci.image_config({}, [blob], architecture="amd64"))["created"] == "2009-02-13T23:31:30Z"


def test_layer_rejects_paths_outside_the_root_unit():
    with pytest.raises(ValueError):
        oci.Layer().file("../etc/passwd", b"")


# --------------------------------------------------------------- cache and import


def test_builder_rewrites_an_archive_only_when_the_image_changed_unit(tmp_path):
    (tmp_path / "pause").write_bytes(b"\x7fELF pause")
    blob = oci.write_layer(images.pause_layer(tmp_path / "pause"), tmp_path / "l.tar.gz")
    builder = images.Builder(ROOT, tmp_path / "out", tmp_path / "cache", log=lambda m: None, revision="r")
    built = images.Built("pause", images.ref("pause", "1.0"), oci.image_config({}, [blob], architecture="amd64"),
                         [blob])
    entry = builder.write(built)
    archive = Path(entry["archive"])
    first = archive.stat().st_mtime_ns
    os.utime(archive, ns=(first - 10**9, first - 10**9))
    assert builder.write(built) == entry
    assert archive.stat().st_mtime_ns == first - 10**9, "same image: archive left alone"
    index = json.loads((tmp_path / "out" / "images.json").read_text())
    assert index["pause"]["digest"] == entry["digest"]
    built2 = images.Built("pause", built.ref, oci.image_config({"User": "1"}, [blob], architecture="amd64"), [blob])
    assert builder.write(built2)["digest"] != entry["digest"]
    assert archive.stat().st_mtime_ns != first - 10**9


def test_cached_layer_is_made_once_per_key_unit(tmp_path):
    builder = images.Builder(ROOT, tmp_path / "out", tmp_path / "cache", log=lambda m: None, revision="r")
    calls = []

    def make(work: Path):
        calls.append(work)
        layer = oci.Layer()
        layer.file("x", b"1")
        return layer, {"note": "kept"}

    b1, m1 = builder._cached_layer("t", "k1", make)
    b2, m2 = builder._cached_layer("t", "k1", make)
    assert len(calls) == 1 and b1 == b2 and m2["note"] == "kept"
    assert not calls[0].exists(), "the work directory is removed"
    builder._cached_layer("t", "k2", make)
    assert len(calls) == 2
    builder.rebuild = True
    builder._cached_layer("t", "k1", make)
    assert len(calls) == 3, "--rebuild ignores the cache"


def test_work_dir_with_a_mount_inside_is_not_removed_unit(tmp_path):
    work = tmp_path / "work"
    (work / "rootfs" / "proc").mkdir(parents=True)
    mounts = tmp_path / "mounts"
    mounts.write_text(f"proc {work.resolve()}/rootfs/proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\n")
    assert images._remove_work_dir(work, str(mounts)) is False
    assert work.exists()
    mounts.write_text("/dev/vda / ext4 rw 0 0\n")
    assert images._remove_work_dir(work, str(mounts)) is True
    assert not work.exists()


def test_import_skips_images_containerd_already_holds_unit(tmp_path, monkeypatch):
    log = tmp_path / "ctr.log"
    ctr = tmp_path / "bin" / "ctr"
    ctr.parent.mkdir()
    # a stand-in ctr: `images ls` lists what `images import` recorded
    ctr.write_text(f"""#!/bin/sh
echo "$@" >> {log}
case "$*" in
  *"images ls"*) echo "REF TYPE DIGEST SIZE PLATFORMS LABELS"
                 echo "localhost/bitcoin-controller/a:1 x sha256:aa 1 linux/amd64 -"
                 [ -f {tmp_path}/imported ] && echo "localhost/bitcoin-controller/b:1 x sha256:bb 1 linux/amd64 -"
                 exit 0 ;;
  *"images import"*) touch {tmp_path}/imported ;;
esac
""")
    ctr.chmod(0o755)
    monkeypatch.setenv("PATH", f"{ctr.parent}:{os.environ['PATH']}")
    entries = [{"ref": "localhost/bitcoin-controller/a:1", "digest": "sha256:aa", "archive": "/a.tar"},
               {"ref": "localhost/bitcoin-controller/b:1", "digest": "sha256:bb", "archive": "/b.tar"}]
    images.import_images(entries, "/run/x.sock", log=lambda m: None)
    calls = log.read_text().splitlines()
    imports = [c for c in calls if "images import" in c]
    assert imports == ["--address /run/x.sock -n k8s.io images import /b.tar"]
    entries[0]["digest"] = "sha256:changed"
    with pytest.raises(images.BuildError):
        images.import_images(entries, "/run/x.sock", log=lambda m: None)
