"""A tiny Kubernetes REST client on the standard library (bearer token + CA file).

Only what the local cluster tooling needs: JSON requests, list, and a streaming
watch. Each call opens its own connection, so one ``Kube`` object can be shared
between threads.
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.parse
from collections.abc import Iterator
from typing import Any


class KubeError(Exception):
    def __init__(self, status: int, body: Any, method: str = "", path: str = ""):
        self.status = status
        self.body = body
        msg = body.get("message") if isinstance(body, dict) else str(body)[:300]
        super().__init__(f"{method} {path}: HTTP {status}: {msg}")

    @property
    def reason(self) -> str:
        return self.body.get("reason", "") if isinstance(self.body, dict) else ""


class Kube:
    def __init__(self, server: str, token: str, ca_file: str | None, timeout: float = 30.0):
        u = urllib.parse.urlsplit(server)
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or 443
        self.token = token
        self.timeout = timeout
        self._ctx = ssl.create_default_context(cafile=ca_file) if ca_file else None
        if self._ctx is None:
            self._ctx = ssl.create_default_context()
            self._ctx.check_hostname = False
            self._ctx.verify_mode = ssl.CERT_NONE

    def _conn(self, timeout: float | None) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self.host, self.port, context=self._ctx, timeout=timeout or self.timeout
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
        ok_404: bool = False,
    ) -> Any:
        if query:
            path = path + "?" + urllib.parse.urlencode(query)
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        conn = self._conn(timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        if resp.status == 404 and ok_404:
            return None
        if resp.status >= 400:
            raise KubeError(resp.status, parsed, method, path)
        return parsed

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def patch_status(self, namespace: str, name: str, status: dict) -> Any:
        return self.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/pods/{name}/status",
            {"status": status},
            content_type="application/strategic-merge-patch+json",
        )

    def watch(
        self, path: str, query: dict, *, timeout_seconds: int = 240
    ) -> Iterator[dict]:
        """Yield watch events (dicts with type/object) until the server closes the stream."""
        q = dict(query, watch="1", allowWatchBookmarks="true", timeoutSeconds=str(timeout_seconds))
        full = path + "?" + urllib.parse.urlencode(q)
        conn = self._conn(timeout_seconds + 30)
        try:
            conn.request(
                "GET", full, headers={"Authorization": f"Bearer {self.token}",
                                      "Accept": "application/json"}
            )
            resp = conn.getresponse()
            if resp.status >= 400:
                raw = resp.read()
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    parsed = raw.decode(errors="replace")
                raise KubeError(resp.status, parsed, "WATCH", path)
            while True:
                line = resp.readline()
                if not line:
                    return
                line = line.strip()
                if line:
                    yield json.loads(line)
        finally:
            conn.close()
