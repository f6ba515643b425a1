"""Helpers of the operator tests: the emulated Kubernetes API, a tiny client for it, a controllable
planner, kopf running in the test's event loop, and eventual assertions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import REGISTRY

from scia.operator.config import OperatorSettings
from scia.operator.emulator import serve as serve_emulator
from scia.operator.handlers import Operator
from scia.operator.runner import run_operator
from scia.planner.config import PlannerSettings
from scia.planner.service import PlannerApp
from scia.rag.config import RagSettings
from scia.rag.service import RagApp
from scia.runtime.server import GrpcServer
from tests.helpers import free_port
from tests.planner.conftest import make_git_repo

API = "/apis/scia.io/v1alpha1"
FLASK_APP = {
    "requirements.txt": "flask==3.0.3\ngunicorn\n",
    "app.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/healthz')\ndef h():\n    return 'ok'\n",
}


def flask_repo(folder: Path) -> Path:
    return make_git_repo(folder, FLASK_APP)


def namespace_name(prefix: str = "team") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0, interval: float = 0.1, what: str = "") -> Any:
    """Poll `check` until it returns a truthy value without raising AssertionError (or a
    KeyError/TypeError: a field the operator has not written yet); return it."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = await check()
            if value:
                return value
            last = AssertionError(f"{what or 'condition'} returned {value!r}")
        except (AssertionError, KeyError, TypeError) as error:
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {what}: {last}") from last
        await asyncio.sleep(interval)


async def events_of(cluster, namespace: str, reason: str) -> list[dict]:
    """The Events of `reason` in `namespace`, waiting until there is one: kopf posts Events from a
    background queue, so one may land just after the status patch it goes with."""
    async def found() -> list[dict]:
        return [e for e in await cluster.events(namespace) if e["reason"] == reason]
    return await eventually(found, what=f"a {reason} Event in {namespace}")


class Cluster:
    """The emulated API server, spoken to over HTTP like kubectl would."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session

    async def _json(self, response: aiohttp.ClientResponse) -> Any:
        body = await response.json()
        if response.status >= 400:
            raise RuntimeError(f"{response.method} {response.url}: HTTP {response.status}: {body.get('message')}")
        return body

    async def create(self, plural: str, namespace: str, body: dict) -> dict:
        async with self.session.post(f"{self.url}{API}/namespaces/{namespace}/{plural}", json=body) as rsp:
            return await self._json(rsp)

    async def get(self, plural: str, namespace: str, name: str) -> dict | None:
        async with self.session.get(f"{self.url}{API}/namespaces/{namespace}/{plural}/{name}") as rsp:
            if rsp.status == 404:
                return None
            return await self._json(rsp)

    async def list(self, plural: str, namespace: str) -> list[dict]:
        async with self.session.get(f"{self.url}{API}/namespaces/{namespace}/{plural}") as rsp:
            return (await self._json(rsp))["items"]

    async def patch(self, plural: str, namespace: str, name: str, patch: dict, *, status: bool = False) -> dict:
        suffix = "/status" if status else ""
        headers = {"Content-Type": "application/merge-patch+json"}
        async with self.session.patch(f"{self.url}{API}/namespaces/{namespace}/{plural}/{name}{suffix}", json=patch, headers=headers) as rsp:
            return await self._json(rsp)

    async def delete(self, plural: str, namespace: str, name: str) -> None:
        async with self.session.delete(f"{self.url}{API}/namespaces/{namespace}/{plural}/{name}") as rsp:
            await self._json(rsp)

    async def apply(self, plural: str, namespace: str, body: dict) -> dict:
        """kubectl apply: create, or merge-patch the spec of what exists."""
        existing = await self.get(plural, namespace, body["metadata"]["name"])
        if existing is None:
            return await self.create(plural, namespace, body)
        return await self.patch(plural, namespace, body["metadata"]["name"], {"spec": body["spec"]})

    async def events(self, namespace: str) -> list[dict]:
        async with self.session.get(f"{self.url}/api/v1/namespaces/{namespace}/events") as rsp:
            return (await self._json(rsp))["items"]

    async def crossplane(self, namespace: str, name: str, *, ready: str = "True", synced: str = "True", url: str = "", message: str = "") -> dict:
        """Play Crossplane: set the Infrastructure's Synced/Ready conditions (and its URL)."""
        status: dict[str, Any] = {
            "conditions": [
                {"type": "Synced", "status": synced, "reason": "ReconcileSuccess" if synced == "True" else "ReconcileError", "message": message if synced != "True" else "", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "Ready", "status": ready, "reason": "Available" if ready == "True" else "Creating", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            ]
        }
        if url:
            status["url"] = url
        return await self.patch("infrastructures", namespace, name, {"status": status}, status=True)


async def phase_is(cluster: Cluster, ns: str, name: str, phase: str, timeout: float = 30) -> dict:
    async def check():
        body = await cluster.get("deployments", ns, name)
        assert body is not None, "the Deployment is gone"
        status = body.get("status") or {}
        assert status.get("phase") == phase, f"phase {status.get('phase')!r} ({status.get('message')})"
        return body

    return await eventually(check, timeout=timeout, what=f"{ns}/{name} reaches {phase}")


def condition(body: dict | None, type_: str) -> dict:
    for item in ((body or {}).get("status") or {}).get("conditions") or []:
        if item["type"] == type_:
            return item
    return {}


def cloud_provider(namespace: str, name: str = "aws-prod", **spec: Any) -> dict:
    base = {
        "type": "aws",
        "credentialsSecretRef": {"name": "aws-credentials", "key": "credentials"},
        "defaultRegion": "eu-west-3",
        "allowedRegions": ["eu-west-3", "eu-west-1"],
        "tags": {"cost-center": "cc-1042"},
    }
    base.update(spec)
    return {"apiVersion": "scia.io/v1alpha1", "kind": "CloudProvider", "metadata": {"name": name, "namespace": namespace}, "spec": base}


def deployment(namespace: str, name: str, repo: Path, **spec: Any) -> dict:
    # The repository is a local git folder: the emulator does not enforce the CRD's URL pattern,
    # and the test planner allows local paths (a real cluster would use an https URL).
    base = {
        "repository": {"url": str(repo)},
        "prompt": "Flask API, small and cheap",
        "cloudProvider": "aws-prod",
        "region": "eu-west-3",
        "strategy": "vm",
    }
    base.update(spec)
    return {"apiVersion": "scia.io/v1alpha1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace}, "spec": base}


def plans_made() -> float:
    return REGISTRY.get_sample_value("scia_operator_plans_total", {"result": "ok"}) or 0.0


# ------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def emulated_cluster() -> AsyncIterator[Cluster]:
    emulator, server = await serve_emulator(port=0, namespaces=["default"])
    url = str(server.url).rstrip("/")
    try:
        async with aiohttp.ClientSession() as session:
            yield Cluster(url, session)
    finally:
        await server.__aexit__(None, None, None)
        await emulator.__aexit__(None, None, None)


class Planner:
    """The real planner on a fixed loopback port that a test can stop and start again."""

    def __init__(self, rag_target: str) -> None:
        self.port = free_port()
        self.rag_target = rag_target
        self.server: GrpcServer | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        settings = PlannerSettings(
            grpc_host="127.0.0.1", grpc_port=self.port, metrics_port=0, allow_local_paths=True,
            rag_target=self.rag_target, rag_timeout_seconds=5.0,
        )
        self.server = GrpcServer(PlannerApp(settings), settings)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=0.5)
            self.server = None


class Memory:
    """A RAG service (the memory) on the module's database and embedder, on a fixed loopback port
    that a test can stop and start: the operator's memory going down and coming back."""

    def __init__(self, dsn: str, embedder_target: str) -> None:
        self.port = free_port()
        self.dsn, self.embedder_target = dsn, embedder_target
        self.server: GrpcServer | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        settings = RagSettings(
            grpc_host="127.0.0.1", grpc_port=self.port, metrics_port=0, reranker_enabled=False,
            dsn=self.dsn, embedder_target=self.embedder_target,
        )
        self.server = GrpcServer(RagApp(settings), settings)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=0.5)
            self.server = None


def memory_writes(result: str) -> float:
    return REGISTRY.get_sample_value("scia_operator_memory_writes_total", {"result": result}) or 0.0


def operator_settings(cluster: Cluster, planner_target: str, rag_target: str, **overrides: Any) -> OperatorSettings:
    values: dict[str, Any] = {
        "kubernetes_url": cluster.url,
        "planner_target": planner_target,
        "rag_target": rag_target,
        "standalone": True,
        "metrics_port": 0,
        "health_port": free_port(),
        "health_host": "127.0.0.1",
        "recheck_interval_seconds": 3.0,
        "retry_delay_seconds": 0.5,
        "max_retry_delay_seconds": 2.0,
        "deletion_poll_seconds": 0.5,
        "planner_timeout_seconds": 60.0,
        "rag_timeout_seconds": 20.0,
        "server_timeout_seconds": 120.0,
        "client_timeout_seconds": 150.0,
        **overrides,
    }
    return OperatorSettings(**values)


@dataclass
class RunningOperator:
    operator: Operator
    task: asyncio.Task
    stop_flag: asyncio.Event

    async def stop(self) -> None:
        self.stop_flag.set()
        await asyncio.wait_for(self.task, timeout=30)


async def start_operator(settings: OperatorSettings) -> RunningOperator:
    """kopf in this event loop; returns once its watches are open (objects created after this
    are seen once, not replayed)."""
    operator = Operator(settings)
    stop_flag, ready_flag = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_operator(operator, stop_flag=stop_flag, ready_flag=ready_flag))
    await asyncio.wait_for(ready_flag.wait(), timeout=20)
    await asyncio.sleep(0.5)  # the watch requests are sent right after ready; let them connect
    return RunningOperator(operator, task, stop_flag)


logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
