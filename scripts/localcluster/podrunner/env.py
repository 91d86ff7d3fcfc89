"""Environment: ``env``/``envFrom`` resolution, ``$(VAR)`` expansion, downward-API fields."""

from __future__ import annotations

import base64
import http.client
import re
from typing import TYPE_CHECKING

from ..kube import KubeError
from .common import ConfigError

if TYPE_CHECKING:
    from .containers import Container


_VAR_RE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(s: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: $$ escapes, unknown variables are left as they are."""

    def repl(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return _VAR_RE.sub(repl, s)


def field_ref(pod: dict, path: str) -> str:
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status", {})
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIPs": ",".join(p["ip"] for p in status.get("podIPs") or []),
        "status.hostIPs": ",".join(p["ip"] for p in status.get("hostIPs") or []),
    }
    if path in simple:
        return simple[path]
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    raise ConfigError("CreateContainerConfigError", f"unsupported fieldRef {path!r}")


class EnvMixin:
    """Resolves a container's environment from its spec, Secrets, ConfigMaps and the pod.

    Mixed into :class:`~.worker.PodWorker`, whose state (``pod``, ``kube``, ``ns``) it reads.
    """

    def get_object(self, kind: str, name: str, optional: bool) -> dict | None:
        path = f"/api/v1/namespaces/{self.ns}/{kind}s/{name}"
        try:
            obj = self.kube.get(path, ok_404=True, timeout=10)
        except KubeError as e:
            raise ConfigError("CreateContainerConfigError", f"reading {kind} {name!r}: {e}") from e
        except (OSError, http.client.HTTPException) as e:  # API server unreachable
            raise ConfigError("ContainerCreating", f"reading {kind} {name!r}: {e}") from e
        if obj is None and not optional:
            raise ConfigError(
                "CreateContainerConfigError", f'{kind} "{name}" not found'
            )
        return obj

    @staticmethod
    def object_data(kind: str, obj: dict) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        if kind == "secret":
            for k, v in (obj.get("data") or {}).items():
                out[k] = base64.b64decode(v)
            for k, v in (obj.get("stringData") or {}).items():
                out[k] = v.encode()
        else:
            for k, v in (obj.get("data") or {}).items():
                out[k] = v.encode()
            for k, v in (obj.get("binaryData") or {}).items():
                out[k] = base64.b64decode(v)
        return out

    def build_env(self, c: Container) -> dict[str, str]:
        env: dict[str, str] = {}
        for ef in c.spec.get("envFrom") or []:
            prefix = ef.get("prefix", "")
            if "secretRef" in ef:
                ref, kind = ef["secretRef"], "secret"
            elif "configMapRef" in ef:
                ref, kind = ef["configMapRef"], "configmap"
            else:
                continue
            obj = self.get_object(kind, ref["name"], bool(ref.get("optional")))
            if obj is None:
                continue
            for k, v in self.object_data(kind, obj).items():
                env[prefix + k] = v.decode(errors="replace")
        for e in c.spec.get("env") or []:
            name = e["name"]
            if "valueFrom" not in e:
                env[name] = expand(e.get("value", ""), env)
                continue
            vf = e["valueFrom"]
            if "fieldRef" in vf:
                env[name] = field_ref(self.pod, vf["fieldRef"]["fieldPath"])
            elif "secretKeyRef" in vf or "configMapKeyRef" in vf:
                kind = "secret" if "secretKeyRef" in vf else "configmap"
                ref = vf.get("secretKeyRef") or vf.get("configMapKeyRef")
                obj = self.get_object(kind, ref["name"], bool(ref.get("optional")))
                if obj is None:
                    continue
                data = self.object_data(kind, obj)
                if ref["key"] not in data:
                    if ref.get("optional"):
                        continue
                    raise ConfigError(
                        "CreateContainerConfigError",
                        f"couldn't find key {ref['key']} in {kind} {self.ns}/{ref['name']}",
                    )
                env[name] = data[ref["key"]].decode(errors="replace")
            elif "resourceFieldRef" in vf:
                env[name] = "0"
            else:
                raise ConfigError("CreateContainerConfigError", f"unsupported env source {vf}")
        return env
