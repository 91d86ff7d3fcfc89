"""Shared checks for the packaging tests (plain manifests and the Helm chart).

Not a test module: ``test_manifests_unit.py`` and ``test_helm_chart_unit.py``
run the same policy checks over the objects they load, so a rule (say, the
Pod Security Standards' ``restricted`` profile) is written down once.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "manifests"
CHART = MANIFESTS / "helm" / "bitcoin-controller"

#: Volume types the "restricted" Pod Security Standard allows.
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}


def load_documents(text: str) -> list[dict[str, Any]]:
    """All non-empty YAML documents in ``text`` (``---`` separated)."""
    return [d for d in yaml.safe_load_all(text) if d]


def load_file(path: Path) -> list[dict[str, Any]]:
    return load_documents(path.read_text(encoding="utf-8"))


def by_kind(objects: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]


def one(objects: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The single object of ``kind`` (and ``name``); fails if not exactly one."""
    found = [o for o in by_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def rules_for(role: dict[str, Any], resource: str, group: str = "") -> list[dict[str, Any]]:
    """The rules of ``role`` that mention ``resource`` in API group ``group``."""
    return [
        r for r in role.get("rules", [])
        if resource in r.get("resources", []) and group in r.get("apiGroups", [])
    ]


def verbs_for(role: dict[str, Any], resource: str, group: str = "") -> set[str]:
    return {v for r in rules_for(role, resource, group) for v in r.get("verbs", [])}


def wildcards(role: dict[str, Any]) -> list[str]:
    """Every ``*`` in the rules' verbs, resources or API groups, described."""
    found = []
    for i, rule in enumerate(role.get("rules", [])):
        for field in ("verbs", "resources", "apiGroups", "nonResourceURLs"):
            if "*" in rule.get(field, []):
                found.append(f"rule {i} {field}")
    return found


def assert_controller_rbac(cluster_role: dict[str, Any], lease_role: dict[str, Any],
                           credential_secret_names: list[str]) -> None:
    """The controller's RBAC grants exactly what it needs, nothing broader."""
    for role in (cluster_role, lease_role):
        assert not wildcards(role), f"{role['metadata']['name']}: {wildcards(role)}"

    # Secrets: named get/list/watch (the single-object watch of each credential
    # Secret), unnamed create, never update/delete.
    secret_rules = rules_for(cluster_role, "secrets")
    read_rules = [r for r in secret_rules if set(r["verbs"]) & {"get", "list", "watch"}]
    assert len(read_rules) == 1
    assert read_rules[0]["verbs"] == ["get", "list", "watch"]
    assert read_rules[0].get("resourceNames") == credential_secret_names
    create_rules = [r for r in secret_rules if "create" in r["verbs"]]
    assert len(create_rules) == 1 and create_rules[0]["verbs"] == ["create"]
    assert verbs_for(cluster_role, "secrets") == {"get", "list", "watch", "create"}
    for rule in read_rules:
        assert rule.get("resourceNames"), "an unnamed get, list or watch on secrets reads every Secret"

    # Events: create, plus patch for the recorder's aggregation; nothing else.
    assert verbs_for(cluster_role, "events") == {"create", "patch"}
    # Leases never cluster-wide: only in the namespaced Role.
    assert not rules_for(cluster_role, "leases", "coordination.k8s.io")
    assert lease_role["kind"] == "Role"
    assert verbs_for(lease_role, "leases", "coordination.k8s.io") == {"get", "create", "update"}
    for rule in rules_for(lease_role, "leases", "coordination.k8s.io"):
        if set(rule["verbs"]) & {"get", "update"}:
            assert rule.get("resourceNames") == ["bitcoin-controller"]
    # Networks: read, and write only the status subresource (never spec).
    group = "bitcoincontroller.dev"
    assert verbs_for(cluster_role, "bitcoinnetworks", group) == {"get", "list", "watch"}
    assert verbs_for(cluster_role, "bitcoinnetworks/status", group) == {"update"}
    # Owned objects: informer-cached (list, watch), created and corrected; the
    # garbage collector deletes them, and reads come from the cache (no get).
    owned = {"list", "watch", "create", "update"}
    assert verbs_for(cluster_role, "statefulsets", "apps") == owned
    assert verbs_for(cluster_role, "services") == owned
    assert verbs_for(cluster_role, "pods") == {"list", "watch"}
    # Nothing the controller does not use.
    for resource in ("configmaps", "nodes", "namespaces", "serviceaccounts", "deployments"):
        assert not rules_for(cluster_role, resource)
        assert not rules_for(cluster_role, resource, "apps")


def allows(role: dict[str, Any], verb: str, resource: str, group: str = "", name: str = "") -> bool:
    """Whether one of ``role``'s rules grants ``verb`` on ``resource`` (``name``: a named request)."""
    for rule in rules_for(role, resource, group):
        if verb not in rule.get("verbs", []):
            continue
        names = rule.get("resourceNames")
        if names and name not in names:
            continue
        return True
    return False


def assert_secret_policy(objects: list[dict[str, Any]], username: str,
                         credential_secret_names: list[str]) -> dict[str, Any]:
    """The ValidatingAdmissionPolicy that limits the Secrets the controller may create.

    Checked by structure (the CEL itself is proven on a real API server by the
    RBAC integration test): it matches Secret writes by the controller's
    ServiceAccount only, denies, fails closed, and allows only a
    kubernetes.io/tls Secret named "*-rpc-tls" or an immutable Opaque one named
    "*-bitcoin-conf-<10 hex>" -- shapes no readable credential Secret name may
    have, or the controller could create what it can read.
    """
    policy = one(objects, "ValidatingAdmissionPolicy")
    binding = one(objects, "ValidatingAdmissionPolicyBinding")
    spec = policy["spec"]
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert "matchResources" not in binding["spec"], "the policy must hold in every namespace"
    assert spec["failurePolicy"] == "Fail"
    [rule] = spec["matchConstraints"]["resourceRules"]
    assert (rule["apiGroups"], rule["resources"]) == ([""], ["secrets"])
    assert "CREATE" in rule["operations"]
    [condition] = spec["matchConditions"]
    assert condition["expression"] == f"request.userInfo.username == '{username}'"
    expressions = " ".join(v["expression"] for v in spec["validations"])
    assert "object.type == 'kubernetes.io/tls'" in expressions
    assert "endsWith('-rpc-tls')" in expressions
    assert "object.type == 'Opaque'" in expressions and "-bitcoin-conf-[0-9a-f]{10}$" in expressions
    assert "object.immutable == true" in expressions
    assert "'BitcoinNetwork'" in expressions
    for name in credential_secret_names:
        assert not name.endswith("-rpc-tls"), f"{name}: the controller could create it, then read it"
        assert not re.search("-bitcoin-conf-[0-9a-f]{10}$", name), f"{name}: the controller could create it"
    return policy


def containers_of(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod_spec.get("initContainers", [])
    yield from pod_spec.get("containers", [])


def restricted_violations(pod_spec: dict[str, Any]) -> list[str]:
    """Where ``pod_spec`` breaks the Pod Security Standards' restricted profile.

    Also requires ``readOnlyRootFilesystem`` (not part of the standard, but a
    house rule for the controller). An empty list means compliant.
    """
    problems = []
    pod_sc = pod_spec.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(flag):
            problems.append(flag)
    for volume in pod_spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']}: {sorted(kinds)}")
    if pod_sc.get("runAsUser") == 0:
        problems.append("pod runAsUser 0")
    for c in containers_of(pod_spec):
        sc = c.get("securityContext", {})
        name = c["name"]
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            problems.append(f"{name}: runAsNonRoot")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) in (0, None):
            problems.append(f"{name}: no numeric non-root runAsUser")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation")
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{name}: capabilities.drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: capabilities.add")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: readOnlyRootFilesystem")
        if c.get("ports") and any(p.get("hostPort") for p in c["ports"]):
            problems.append(f"{name}: hostPort")
    return problems


def container_args(deployment: dict[str, Any], container: str = "controller") -> list[str]:
    spec = deployment["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == container).get("args", [])


def flag_value(args: list[str], flag: str) -> str | None:
    """The value of ``--flag=value`` in ``args`` (``""`` for a bare ``--flag``)."""
    for a in args:
        if a == flag:
            return ""
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def helm_binary() -> str | None:
    """The helm built by scripts/build-helm, else one on PATH, else None.

    A fresh clone has no .local-cluster/bin/helm yet, but the binary may
    already sit in the per-user cache that build-helm fills (keyed by the
    version in our wrapper go.mod), so look there too before giving up.
    """
    local = ROOT / ".local-cluster" / "bin" / "helm"
    if local.exists():
        return str(local)
    go_mod = ROOT / "scripts" / "localcluster" / "gomod" / "helm" / "go.mod"
    match = re.search(r"^\s*helm\.sh/helm/v3 (v\S+)", go_mod.read_text(encoding="utf-8"), re.M)
    default_cache = Path.home() / ".cache" / "bitcoin-controller"
    cache = Path(os.environ.get("BITCOIN_CONTROLLER_CACHE", default_cache))
    if match:
        cached = sorted((cache / "bin").glob(f"helm-{match.group(1)}-*"))
        if cached:
            return str(cached[-1])
    return shutil.which("helm")
