"""Static checks of the CI/CD workflow in .github/workflows/.

GitHub Actions cannot run here, so the workflow is parsed and checked for the
mistakes that would only show up on GitHub: a missing job or a wrong
dependency between stages, a ``run:`` step calling a script or make target
that does not exist, wrong triggers, registry names hard-coded instead of
taken from repository variables, publishing from pull requests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yaml"
JOBS = {"lint", "unit", "integration", "images", "qa", "release"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def all_workflows() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.y*ml"))


def run_steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if "run" in step:
                yield job_name, step["run"]


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.MULTILINE))


@pytest.fixture(scope="module")
def ci() -> dict:
    return load(CI)


def test_ci_has_every_stage_unit(ci):
    assert set(ci["jobs"]) >= JOBS


def test_stages_depend_on_each_other_in_order_unit(ci):
    def needs(job: str) -> set[str]:
        value = ci["jobs"][job].get("needs", [])
        return {value} if isinstance(value, str) else set(value)

    assert needs("images") >= {"lint", "unit", "integration"}, "only tested code becomes an image"
    assert "images" in needs("qa"), "QA installs the images just built"
    assert "qa" in needs("release"), "only what passed QA is released"


def test_triggers_run_on_every_push_and_on_version_tags_unit(ci):
    on = triggers(ci)
    assert on["push"]["branches"] == ["**"]
    tags = on["push"]["tags"]
    assert tags and all(re.fullmatch(r"v?\[0-9\]\+\.\[0-9\]\+", t) for t in tags), tags
    assert "pull_request" in on


def test_publishing_jobs_only_run_on_pushes_and_release_only_on_tags_unit(ci):
    jobs = ci["jobs"]
    assert "github.event_name == 'push'" in jobs["images"]["if"]
    release_if = jobs["release"]["if"]
    assert "github.event_name == 'push'" in release_if
    assert "startsWith(github.ref, 'refs/tags/')" in release_if
    # least privilege: read-only by default, write only where something is published
    assert ci["permissions"] == {"contents": "read"}
    assert jobs["images"]["permissions"]["packages"] == "write"
    assert jobs["release"]["permissions"] == {"contents": "write", "packages": "write"}
    for name in ("lint", "unit", "integration", "qa"):
        assert "permissions" not in jobs[name], f"{name} needs no write access"


@pytest.mark.parametrize("path", all_workflows(), ids=lambda p: p.name)
def test_run_steps_call_scripts_and_make_targets_that_exist_unit(path):
    workflow = load(path)
    targets = make_targets()
    checked = 0
    for job, script in run_steps(workflow):
        for ref in re.findall(r"(?<![\w/.])(scripts/[\w.-]+)", script):
            assert (ROOT / ref).is_file(), f"{job}: {ref} does not exist"
            assert (ROOT / ref).stat().st_mode & 0o111, f"{job}: {ref} is not executable"
            checked += 1
        for target in re.findall(r"\bmake\s+([\w-]+)", script):
            assert target in targets, f"{job}: make {target}: no such Makefile target"
            checked += 1
        for ref in re.findall(r"(?<![\w/.])((?:manifests|build)/[\w./-]+)", script):
            assert (ROOT / ref).exists(), f"{job}: {ref} does not exist"
    assert checked > 0


def test_jobs_use_the_project_scripts_unit(ci):
    scripts = " ".join(s for _, s in run_steps(ci))
    for needed in ("scripts/build-helm", "scripts/release-chart", "scripts/version",
                   "scripts/kind-cluster", "make test-integration", "pytest -k unit tests",
                   "ruff check", "--cluster kind", "helm install"):
        assert needed in scripts, needed


def test_images_come_from_registry_variables_unit(ci):
    text = CI.read_text(encoding="utf-8")
    assert ci["env"]["IMAGE_PREFIX"] == "${{ vars.REGISTRY }}/${{ vars.IMAGE_REPOSITORY }}"
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for registry in ("ghcr.io", "docker.io", "quay.io"):
        assert registry not in code, f"{registry} hard-coded; use vars.REGISTRY"
    images = ci["jobs"]["images"]
    assert {entry["image"] for entry in images["strategy"]["matrix"]["include"]} == \
        {"bitcoin-controller", "bitcoind", "btcd"}
    for entry in images["strategy"]["matrix"]["include"]:
        assert (ROOT / entry["dockerfile"]).is_file()
        assert (ROOT / entry["context"]).is_dir()
    def step(action: str) -> dict:
        return next(s for s in images["steps"] if s.get("uses", "").startswith(action))

    build = step("docker/build-push-action")
    assert "steps.meta.outputs.sha" in build["with"]["tags"], "tag every image with the commit"
    login = step("docker/login-action")
    assert login["with"]["registry"] == "${{ vars.REGISTRY }}"


def test_actions_are_pinned_and_secrets_never_echoed_unit():
    for path in all_workflows():
        workflow = load(path)
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                uses = step.get("uses")
                if uses:
                    assert re.search(r"@(v\d+(\.\d+)*|[0-9a-f]{40})$", uses), \
                        f"{path.name}: {uses} is not pinned to a release"
                run = step.get("run", "")
                assert "secrets." not in run, f"{path.name}: a secret inside a run script"


def test_actionlint_is_clean_unit():
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint not installed (go install "
                    "github.com/rhysd/actionlint/cmd/actionlint@latest)")
    result = subprocess.run([actionlint, *map(str, all_workflows())],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
