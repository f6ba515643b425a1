"""A small Kubernetes API client over aiohttp: the few verbs the gateway needs.

In a cluster it authenticates with the pod's service account token and, with impersonation on,
adds Impersonate-User / Impersonate-Group so the API server applies the caller's own RBAC on
top of the gateway's checks (the service account then needs only the `impersonate` verb).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from multidict import CIMultiDict
from prometheus_client import Counter

from scia.gateway.auth import Principal

log = logging.getLogger(__name__)

BACKEND_CALLS = Counter(
    "scia_gateway_backend_calls_total",
    "Calls from the gateway to its backends, by backend and method.",
    ["backend", "method"],
)

SCIA = "/apis/scia.io/v1alpha1"
DEPLOYMENTS = "deployments"
CLOUDPROVIDERS = "cloudproviders"


class KubeError(Exception):
    def __init__(self, status: int, reason: str, message: str, causes: list[dict] | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = causes or []


@dataclass(frozen=True)
class Identity:
    """Who the API server should act as (None: the gateway's own identity)."""

    user: str
    groups: tuple[str, ...]

    @classmethod
    def of(cls, principal: Principal) -> Identity:
        return cls(principal.user, principal.groups)


class KubeClient:
    def __init__(
        self,
        base_url: str = "",
        *,
        token_path: Path | None = None,
        ca_path: Path | None = None,
        impersonate: bool = False,
        timeout: float = 10.0,
    ) -> None:
        if not base_url:
            host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
            if not host:
                raise RuntimeError(
                    "not in a cluster (KUBERNETES_SERVICE_HOST unset): set SCIA_GATEWAY_KUBERNETES_URL"
                )
            base_url = f"https://{host}:{port}"
        self.base_url = base_url.rstrip("/")
        self.token_path = token_path if token_path and token_path.exists() else None
        self.ca_path = ca_path if ca_path and ca_path.exists() else None
        self.impersonate = impersonate
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            ssl_context: ssl.SSLContext | bool = True
            if self.ca_path:
                ssl_context = ssl.create_default_context(cafile=str(self.ca_path))
            connector = aiohttp.TCPConnector(ssl=ssl_context, limit=100)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _headers(self, identity: Identity | None, content_type: str | None = None) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict({"Accept": "application/json"})
        if self.token_path:
            # Re-read on every call: the kubelet rotates projected tokens.
            headers["Authorization"] = f"Bearer {self.token_path.read_text().strip()}"
        if content_type:
            headers["Content-Type"] = content_type
        if self.impersonate and identity is not None:
            headers["Impersonate-User"] = identity.user
            for group in identity.groups:  # one header per group, as the API server expects
                headers.add("Impersonate-Group", group)
        return headers

    async def _request(
        self,
        method: str,
        path: str,
        identity: Identity | None,
        *,
        params: dict | None = None,
        body: Any = None,
        content_type: str | None = None,
        metric: str = "",
    ) -> Any:
        BACKEND_CALLS.labels("kubernetes", metric or method).inc()
        data = json.dumps(body) if body is not None else None
        try:
            async with self._get_session().request(
                method,
                self.base_url + path,
                params=params,
                data=data,
                headers=self._headers(identity, content_type or ("application/json" if data else None)),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                text = await response.text()
                if response.status >= 400:
                    raise _error(response.status, text)
                return json.loads(text) if text else None
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise KubeError(503, "Unavailable", f"the Kubernetes API cannot be reached: {error!r}") from None

    # --- verbs ---------------------------------------------------------------------------------
    @staticmethod
    def path(plural: str, namespace: str, name: str | None = None, *, core: bool = False) -> str:
        base = "/api/v1" if core else SCIA
        path = f"{base}/namespaces/{namespace}/{plural}"
        return f"{path}/{name}" if name else path

    async def list(self, plural: str, namespace: str, identity: Identity | None, *, core: bool = False, params=None) -> list[dict]:
        result = await self._request("GET", self.path(plural, namespace, core=core), identity, params=params, metric=f"list {plural}")
        return list(result.get("items") or [])

    async def get(self, plural: str, namespace: str, name: str, identity: Identity | None) -> dict | None:
        try:
            return await self._request("GET", self.path(plural, namespace, name), identity, metric=f"get {plural}")
        except KubeError as error:
            if error.status == 404:
                return None
            raise

    async def create(self, plural: str, namespace: str, body: dict, identity: Identity | None) -> dict:
        return await self._request("POST", self.path(plural, namespace), identity, body=body, metric=f"create {plural}")

    async def patch(self, plural: str, namespace: str, name: str, patch: dict, identity: Identity | None) -> dict:
        return await self._request(
            "PATCH", self.path(plural, namespace, name), identity, body=patch,
            content_type="application/merge-patch+json", metric=f"patch {plural}",
        )

    async def delete(self, plural: str, namespace: str, name: str, identity: Identity | None) -> dict:
        return await self._request("DELETE", self.path(plural, namespace, name), identity, metric=f"delete {plural}")

    async def list_with_version(self, plural: str, namespace: str, identity: Identity | None) -> tuple[list[dict], str]:
        """The items and the list's resourceVersion, where a watch resumes from."""
        result = await self._request("GET", self.path(plural, namespace), identity, metric=f"list {plural}")
        return list(result.get("items") or []), str((result.get("metadata") or {}).get("resourceVersion") or "")

    async def check_list(self, plural: str, namespace: str, identity: Identity) -> None:
        """Raise KubeError unless the API server lets `identity` list `plural` in `namespace`.

        Only meaningful with impersonation: a shared watch runs as the gateway itself, so each
        subscriber's own RBAC is checked with this one cheap impersonated call (limit=1)."""
        if self.impersonate:
            await self._request("GET", self.path(plural, namespace), identity, params={"limit": "1"}, metric=f"check {plural}")

    async def watch_stream(
        self, plural: str, namespace: str, identity: Identity | None, *, resource_version: str = ""
    ) -> AsyncIterator[dict]:
        """One watch connection: events ({type, object}) until the server ends the stream.

        Raises WatchExpired when the API server answers 410 Gone (resourceVersion too old: the
        caller re-lists), KubeError for refusals, and lets connection errors propagate so the
        caller decides on backoff. BOOKMARK events are yielded (they carry a resourceVersion).
        """
        params = {"watch": "true", "allowWatchBookmarks": "true"}
        if resource_version:
            params["resourceVersion"] = resource_version
        BACKEND_CALLS.labels("kubernetes", f"watch {plural}").inc()
        async with self._get_session().get(
            self.base_url + self.path(plural, namespace),
            params=params,
            headers=self._headers(identity),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout),
        ) as response:
            if response.status == 410:
                raise WatchExpired(await response.text())
            if response.status >= 400:
                raise _error(response.status, await response.text())
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    if status.get("code") == 410:
                        raise WatchExpired(str(status.get("message") or "resourceVersion too old"))
                    raise _error(int(status.get("code") or 500), json.dumps(status))
                yield event


class WatchExpired(Exception):
    """410 Gone: the watch's resourceVersion is no longer available; list again."""


def _error(status: int, text: str) -> KubeError:
    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    return KubeError(
        status,
        str(body.get("reason") or status),
        str(body.get("message") or text[:500] or "no message"),
        details.get("causes") if isinstance(details.get("causes"), list) else [],
    )
