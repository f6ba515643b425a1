"""The few Kubernetes API calls the handlers make, over kopf's authenticated session.

The `kubernetes` client package is not used (it conflicts with the pinned pydantic). kopf
1.45's `kopf._cogs.clients.api` is internal, but it is what kopf itself uses: the same login,
TLS, retries on 5xx/429 and timeouts as the watches. The kopf version is pinned (==1.45.2), so
this module is the one place to revisit on an upgrade.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from kopf._cogs.clients import api, errors

from scia.operator.reconcile import API_VERSION

log = logging.getLogger(__name__)

NotFound = errors.APINotFoundError
Conflict = errors.APIConflictError
APIError = errors.APIError


def _url(plural: str, namespace: str, name: str = "", subresource: str = "") -> str:
    url = f"/apis/{API_VERSION}/namespaces/{namespace}/{plural}"
    if name:
        url += f"/{name}"
    if subresource:
        url += f"/{subresource}"
    return url


class Kube:
    """Typed-enough access to the SCIA kinds for one operator (kopf settings + a logger)."""

    def __init__(self, settings: kopf.OperatorSettings, logger: logging.Logger | None = None) -> None:
        self.settings = settings
        self.logger = logger or log

    async def get(self, plural: str, namespace: str, name: str) -> dict | None:
        """The object, or None when it does not exist."""
        try:
            return await api.get(_url(plural, namespace, name), settings=self.settings, logger=self.logger)
        except NotFound:
            return None

    async def list(self, plural: str, namespace: str) -> list[dict]:
        body = await api.get(_url(plural, namespace), settings=self.settings, logger=self.logger)
        return list(body.get("items") or [])

    async def create(self, plural: str, namespace: str, body: dict) -> dict:
        return await api.post(_url(plural, namespace), payload=body, settings=self.settings, logger=self.logger)

    async def merge_patch(self, plural: str, namespace: str, name: str, patch: dict, *, status: bool = False) -> dict | None:
        """JSON merge patch; `status=True` goes through the status subresource. None if gone."""
        try:
            return await api.patch(
                _url(plural, namespace, name, "status" if status else ""),
                payload=patch,
                headers={"Content-Type": "application/merge-patch+json"},
                settings=self.settings,
                logger=self.logger,
            )
        except NotFound:
            return None

    async def delete(self, plural: str, namespace: str, name: str) -> bool:
        """Request deletion (background propagation); False when it was already gone."""
        try:
            await api.delete(
                _url(plural, namespace, name),
                payload={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"},
                settings=self.settings,
                logger=self.logger,
            )
            return True
        except NotFound:
            return False


def describe(error: Exception) -> str:
    if isinstance(error, APIError):
        return f"HTTP {error.status}: {error.message or error!r}"
    return repr(error)


__all__: list[Any] = ["Kube", "NotFound", "Conflict", "APIError", "describe"]
