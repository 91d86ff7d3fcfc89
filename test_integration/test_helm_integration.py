"""The manifests and the Helm chart, checked by a real API server (server-side dry run).

Static tests (tests/test_manifests_unit.py, tests/test_helm_chart_unit.py)
cannot tell whether the API server accepts the objects: field names, enum
values, the CRD's schema and CEL rules, RBAC escalation checks, Pod Security
admission. ``kubectl apply --dry-run=server`` runs all of that without
persisting anything. Only the CRD is applied for real (a BitcoinNetwork can
only be validated once its CRD is served), and the controller's Namespace
(objects cannot even be dry-run into a namespace that does not exist).

Any warning from the API server fails the test: deprecated APIs, unknown
fields and "would violate PodSecurity" all arrive as warnings.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "manifests"
CHART = MANIFESTS / "helm" / "bitcoin-controller"
CRD_NAME = "bitcoinnetworks.bitcoincontroller.dev"

sys.path.insert(0, str(ROOT / "tests"))
from packaging_helpers import helm_binary  # noqa: E402

pytestmark = pytest.mark.timeout(180)


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def assert_clean(result: subprocess.CompletedProcess) -> None:
    """kubectl succeeded and the API server had nothing to warn about."""
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert warnings == [], "\n".join(warnings)


@pytest.fixture(scope="module")
def crd(kubeconfig: str) -> str:
    """The CRD, applied for real and established."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not installed")
    assert_clean(kubectl(kubeconfig, "apply", "-f", str(MANIFESTS / "crd.yaml")))
    result = kubectl(kubeconfig, "wait", "--for=condition=Established", f"crd/{CRD_NAME}",
                     "--timeout=60s")
    assert result.returncode == 0, result.stderr
    return CRD_NAME


@pytest.fixture(scope="module")
def controller_namespace(kubeconfig: str, crd: str) -> str:
    """The Namespace object of manifests/rbac.yaml, applied for real (idempotent)."""
    docs = list(yaml.safe_load_all((MANIFESTS / "rbac.yaml").read_text(encoding="utf-8")))
    namespace = next(d for d in docs if d and d["kind"] == "Namespace")
    assert_clean(kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(namespace)))
    return namespace["metadata"]["name"]


def test_plain_manifests_pass_server_side_dry_run_integration(kubeconfig, controller_namespace):
    files = ["rbac.yaml", "controller.yaml", "default-secret.yaml", "network-policy.yaml",
             "test-network.yaml"]
    args = ["apply", "--dry-run=server"]
    for name in files:
        args += ["-f", str(MANIFESTS / name)]
    result = kubectl(kubeconfig, *args)
    assert_clean(result)
    # every object was accepted, not skipped
    assert result.stdout.count("(server dry run)") == sum(
        1 for name in files
        for d in yaml.safe_load_all((MANIFESTS / name).read_text(encoding="utf-8")) if d)
    # (configured/unchanged when `make run` has already created it for real)
    accepted = r"bitcoinnetwork\.bitcoincontroller\.dev/my-network \w+ \(server dry run\)"
    assert re.search(accepted, result.stdout), result.stdout


def test_crd_rejects_an_invalid_network_integration(kubeconfig, crd):
    """The dry run really validates against the CRD schema (so the test above means something)."""
    network = yaml.safe_load((MANIFESTS / "test-network.yaml").read_text(encoding="utf-8"))
    network["spec"]["implementation"] = "not-a-daemon"
    result = kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-",
                     stdin=yaml.safe_dump(network))
    assert result.returncode != 0
    assert "implementation" in result.stderr


def test_helm_chart_passes_server_side_dry_run_integration(kubeconfig, crd, namespace):
    helm = helm_binary()
    if helm is None:
        pytest.skip("helm is not built: run scripts/build-helm")
    # Pod Security warnings for the Deployment, as the chart's users would see them
    # with `helm install -n <ns> --create-namespace` on a restricted namespace.
    labelled = kubectl(kubeconfig, "label", "namespace", namespace,
                       "pod-security.kubernetes.io/warn=restricted",
                       "pod-security.kubernetes.io/enforce=restricted")
    assert labelled.returncode == 0, labelled.stderr
    rendered = subprocess.run(
        [helm, "template", "bitcoin-controller", str(CHART), "--namespace", namespace,
         "--set", "defaultSecret.create=true",
         "--set", f"defaultSecret.namespace={namespace}",
         "--set", "networkPolicy.enabled=true",
         "--set", "networkPolicy.networks[0].name=my-network",
         "--set", f"networkPolicy.networks[0].namespace={namespace}"],
        capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    objects = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    result = kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=rendered.stdout)
    assert_clean(result)
    assert result.stdout.count("(server dry run)") == len(objects)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "ClusterRole", "Role", "Secret", "NetworkPolicy"} <= kinds
