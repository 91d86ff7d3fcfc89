"""Volumes: secret/configMap/emptyDir/downwardAPI/projected/hostPath materialisation and mounts."""

from __future__ import annotations

import http.client
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..kube import KubeError
from .common import ConfigError
from .env import field_ref

if TYPE_CHECKING:
    from .containers import Container


class VolumesMixin:
    """Volumes: secret/configMap/emptyDir/downwardAPI/projected/hostPath materialisation and mounts.

    Mixed into :class:`~.worker.PodWorker`, whose state (``pod``, ``kube``, ``root``,
    ``volumes``, ...) it reads and writes; kept apart so each job reads on its own.
    """

    def _write_files(self, target: Path, files: dict[str, bytes], mode: int) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for rel, data in files.items():
            p = target / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            try:
                if p.read_bytes() == data:
                    continue
            except OSError:
                pass
            tmp = p.with_name(f".{p.name}.tmp")
            tmp.write_bytes(data)
            os.chmod(tmp, mode)
            os.replace(tmp, p)

    def _source_files(self, kind: str, src: dict) -> dict[str, bytes] | None:
        name = src.get("secretName") if kind == "secret" else src.get("name")
        obj = self.get_object(kind, name, bool(src.get("optional")))
        if obj is None:
            return {}
        data = self.object_data(kind, obj)
        items = src.get("items")
        if not items:
            return data
        files = {}
        for it in items:
            if it["key"] not in data:
                if src.get("optional"):
                    continue
                raise ConfigError(
                    "CreateContainerConfigError", f'{kind} "{name}" has no key "{it["key"]}"'
                )
            files[it["path"]] = data[it["key"]]
        return files

    def _downward_files(self, items: list[dict]) -> dict[str, bytes]:
        files = {}
        for it in items or []:
            if "fieldRef" in it:
                files[it["path"]] = field_ref(self.pod, it["fieldRef"]["fieldPath"]).encode()
        return files

    def _sa_token(self, src: dict) -> dict[str, bytes]:
        sa = self.pod["spec"].get("serviceAccountName") or "default"
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [src["audience"]] if src.get("audience") else [],
                "expirationSeconds": int(src.get("expirationSeconds") or 3607),
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                   "name": self.pod_name, "uid": self.uid},
            },
        }
        try:
            r = self.kube.post(
                f"/api/v1/namespaces/{self.ns}/serviceaccounts/{sa}/token", body, timeout=10
            )
        except (KubeError, OSError, http.client.HTTPException) as e:
            raise ConfigError("ContainerCreating", f"service account token: {e}") from e
        return {src["path"]: r["status"]["token"].encode()}

    def sync_volumes(self) -> None:
        """Materialise (or refresh) the pod's volumes; raises ConfigError when not possible."""
        for vol in self.pod["spec"].get("volumes") or []:
            name = vol["name"]
            target = self.root / "volumes" / name
            if "emptyDir" in vol:
                target.mkdir(parents=True, exist_ok=True)
            elif "hostPath" in vol:
                target = Path(vol["hostPath"]["path"])
                if (vol["hostPath"].get("type") or "") in ("DirectoryOrCreate", ""):
                    target.mkdir(parents=True, exist_ok=True)
            elif "secret" in vol:
                files = self._source_files("secret", vol["secret"])
                self._write_files(target, files, vol["secret"].get("defaultMode") or 0o644)
            elif "configMap" in vol:
                files = self._source_files("configmap", vol["configMap"])
                self._write_files(target, files, vol["configMap"].get("defaultMode") or 0o644)
            elif "downwardAPI" in vol:
                self._write_files(target, self._downward_files(vol["downwardAPI"].get("items")),
                                  0o644)
            elif "projected" in vol:
                files = {}
                for src in vol["projected"].get("sources") or []:
                    if "secret" in src:
                        s = dict(src["secret"], secretName=src["secret"]["name"])
                        files.update(self._source_files("secret", s))
                    elif "configMap" in src:
                        files.update(self._source_files("configmap", src["configMap"]))
                    elif "downwardAPI" in src:
                        files.update(self._downward_files(src["downwardAPI"].get("items")))
                    elif "serviceAccountToken" in src and (
                        not self.volumes_ok or name not in self.volumes
                    ):
                        files.update(self._sa_token(src["serviceAccountToken"]))
                self._write_files(target, files, vol["projected"].get("defaultMode") or 0o644)
            else:
                raise ConfigError(
                    "ContainerCreating",
                    f"volume {name!r}: unsupported volume type "
                    f"({', '.join(k for k in vol if k != 'name')}) on the local pod runner",
                )
            self.volumes[name] = target

    def mounts(self, c: Container) -> list[tuple[str, str]]:
        out = []
        for m in c.spec.get("volumeMounts") or []:
            base = self.volumes.get(m["name"])
            if base is None:
                raise ConfigError("CreateContainerConfigError",
                                  f"volume mount {m['name']!r} has no volume")
            path = base / m["subPath"] if m.get("subPath") else base
            if m.get("subPath") and not path.exists():
                path.mkdir(parents=True, exist_ok=True)
            out.append((m["mountPath"].rstrip("/") or "/", str(path)))
        out.sort(key=lambda t: len(t[0]), reverse=True)
        return out

    @staticmethod
    def map_paths(s: str, mounts: list[tuple[str, str]]) -> str:
        for mount_path, host in mounts:
            pat = r"(?<![\w.\-/])" + re.escape(mount_path) + r"(?=/|$|[^\w.\-])"
            s = re.sub(pat, lambda _m, h=host: h, s)
        return s
