"""The gateway's backends (Kubernetes API, planner, deployment memory) and the per-request
DataLoaders that batch calls to them: a page of 100 Deployments with their events and feedback
costs one Kubernetes list, one events list and one memory listing per namespace, whatever the
page size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
from aiodataloader import DataLoader
from scia.runtime.client import create_channel
from scia.v1 import common_pb2, planner_pb2, planner_pb2_grpc, rag_pb2, rag_pb2_grpc

from scia.gateway import convert
from scia.gateway.auth import Principal, TokenVerifier
from scia.gateway.config import GatewaySettings
from scia.gateway.kube import BACKEND_CALLS, CLOUDPROVIDERS, DEPLOYMENTS, Identity, KubeClient
from scia.gateway.watches import WatchHub

PLANNER_SERVICE = planner_pb2.DESCRIPTOR.services_by_name["Planner"]
RAG_SERVICE = rag_pb2.DESCRIPTOR.services_by_name["DeploymentMemory"]
SCIA_API_VERSION = "scia.io/v1alpha1"


class Backends:
    """Long-lived clients, one set per process."""

    def __init__(self, settings: GatewaySettings, *, kube: KubeClient | None = None) -> None:
        self.settings = settings
        self.kube = kube or KubeClient(
            settings.kubernetes_url,
            token_path=settings.kubernetes_token_path,
            ca_path=settings.kubernetes_ca_path,
            impersonate=settings.use_impersonation(),
            timeout=settings.kubernetes_timeout_seconds,
        )
        # Subscriptions share one watch per namespace (created on first use, in the server's loop).
        self.watches = WatchHub(self.kube, settings.subscriber_queue_size)
        # gRPC channels are opened on first use, inside the server's event loop: a grpc.aio channel
        # binds to the loop current when it is made, and the app is built before uvicorn starts one.
        self.planner_channel: grpc.aio.Channel | None = None
        self.rag_channel: grpc.aio.Channel | None = None
        self.verifier = TokenVerifier(
            shared_key=settings.jwt_shared_key.get_secret_value() if settings.jwt_shared_key else None,
            jwks_url=settings.oidc_jwks_url,
            issuer=settings.oidc_issuer,
            audience=settings.jwt_audience,
            user_claim=settings.user_claim,
            groups_claim=settings.groups_claim,
            bindings=settings.role_bindings,
            jwks_cache_seconds=settings.jwks_cache_seconds,
        )

    @property
    def planner(self) -> planner_pb2_grpc.PlannerStub:
        if self.planner_channel is None:
            self.planner_channel = create_channel(
                self.settings.planner_target, [PLANNER_SERVICE], timeout=self.settings.planner_timeout_seconds
            )
        return planner_pb2_grpc.PlannerStub(self.planner_channel)

    @property
    def rag(self) -> rag_pb2_grpc.DeploymentMemoryStub:
        if self.rag_channel is None:
            self.rag_channel = create_channel(
                self.settings.rag_target, [RAG_SERVICE], timeout=self.settings.rag_timeout_seconds
            )
        return rag_pb2_grpc.DeploymentMemoryStub(self.rag_channel)

    async def close(self) -> None:
        await self.watches.close()
        await self.kube.close()
        for channel in (self.planner_channel, self.rag_channel):
            if channel is not None:
                await channel.close()

    # Each gRPC call is counted like the Kubernetes ones, so tests and dashboards see the fan-out.
    async def analyze(self, request: planner_pb2.AnalyzeRequest) -> planner_pb2.AnalyzeResponse:
        BACKEND_CALLS.labels("planner", "Analyze").inc()
        return await self.planner.Analyze(request)

    async def plan(self, request: planner_pb2.PlanRequest) -> planner_pb2.PlanResponse:
        BACKEND_CALLS.labels("planner", "Plan").inc()
        return await self.planner.Plan(request)

    async def list_records(self, request: rag_pb2.ListDeploymentsRequest) -> rag_pb2.ListDeploymentsResponse:
        BACKEND_CALLS.labels("rag", "ListDeployments").inc()
        return await self.rag.ListDeployments(request)

    async def retrieve(self, request: rag_pb2.RetrieveRequest) -> rag_pb2.RetrieveResponse:
        BACKEND_CALLS.labels("rag", "Retrieve").inc()
        return await self.rag.Retrieve(request)

    async def record_feedback(self, request: rag_pb2.RecordFeedbackRequest) -> common_pb2.DeploymentRecord:
        BACKEND_CALLS.labels("rag", "RecordFeedback").inc()
        return await self.rag.RecordFeedback(request)


@dataclass
class Loaders:
    """DataLoaders of one request (or one subscription event): cached for its duration only."""

    backends: Backends
    identity: Identity
    namespace_deployments: DataLoader = field(init=False)
    namespace_providers: DataLoader = field(init=False)
    deployment: DataLoader = field(init=False)
    events: DataLoader = field(init=False)
    records: DataLoader = field(init=False)

    # What the events and records loaders fetched, per namespace: both list a whole namespace
    # (tenant) anyway, so once one key of it is loaded every other Deployment's answer is here
    # and its field resolves synchronously (no awaitable per node for graphql-core to gather).
    events_index: dict[str, dict[str, list[dict]]] = field(init=False, default_factory=dict)
    records_index: dict[str, dict[str, list[common_pb2.DeploymentRecord]]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.namespace_deployments = DataLoader(self._load_namespace_deployments)
        self.namespace_providers = DataLoader(self._load_namespace_providers)
        self.deployment = DataLoader(self._load_deployments)
        self.events = DataLoader(self._load_events)
        self.records = DataLoader(self._load_records)

    async def _load_namespace_deployments(self, namespaces: Sequence[str]) -> list[list[dict]]:
        return [await self.backends.kube.list(DEPLOYMENTS, ns, self.identity) for ns in namespaces]

    async def _load_namespace_providers(self, namespaces: Sequence[str]) -> list[list[dict]]:
        return [await self.backends.kube.list(CLOUDPROVIDERS, ns, self.identity) for ns in namespaces]

    async def _load_deployments(self, keys: Sequence[tuple[str, str]]) -> list[dict | None]:
        """One GET for a lone key; one namespace list when several names of a namespace are asked."""
        by_namespace: dict[str, list[str]] = defaultdict(list)
        for namespace, name in keys:
            by_namespace[namespace].append(name)
        found: dict[tuple[str, str], dict | None] = {}
        for namespace, names in by_namespace.items():
            if len(names) == 1:
                found[(namespace, names[0])] = await self.backends.kube.get(DEPLOYMENTS, namespace, names[0], self.identity)
            else:
                items = await self.namespace_deployments.load(namespace)
                index = {o["metadata"]["name"]: o for o in items}
                for name in names:
                    found[(namespace, name)] = index.get(name)
        return [found[key] for key in keys]

    async def _load_events(self, keys: Sequence[tuple[str, str]]) -> list[list[dict]]:
        """Events per Deployment, newest first: one list per namespace."""
        for namespace in {ns for ns, _ in keys} - self.events_index.keys():
            items = await self.backends.kube.list(
                "events", namespace, self.identity, core=True, params={"fieldSelector": "involvedObject.kind=Deployment"}
            )
            grouped: dict[str, list[dict]] = defaultdict(list)
            for item in items:
                involved = item.get("involvedObject") or item.get("regarding") or {}
                # apps/v1 Deployments share the kind; only events about scia.io ones count.
                if involved.get("kind") == "Deployment" and str(involved.get("apiVersion", "")).startswith("scia.io/"):
                    grouped[involved.get("name", "")].append(convert.event(item))
            self.events_index[namespace] = {
                name: sorted(events, key=convert.event_sort_key, reverse=True) for name, events in grouped.items()
            }
        return [self.events_index[ns].get(name, []) for ns, name in keys]

    async def _load_records(self, keys: Sequence[tuple[str, str]]) -> list[list[common_pb2.DeploymentRecord]]:
        """Remembered revisions per Deployment, newest first: one paginated listing per tenant."""
        for namespace in {ns for ns, _ in keys} - self.records_index.keys():
            grouped: dict[str, list[common_pb2.DeploymentRecord]] = defaultdict(list)
            token = ""
            while True:
                response = await self.backends.list_records(
                    rag_pb2.ListDeploymentsRequest(tenant=namespace, page_size=500, page_token=token)
                )
                for record in response.records:
                    # The tenant check guards against records shared from another tenant.
                    if record.tenant == namespace:
                        grouped[record.name].append(record)
                token = response.next_page_token
                if not token:
                    break
            self.records_index[namespace] = {
                name: sorted(records, key=lambda r: r.revision, reverse=True) for name, records in grouped.items()
            }
        return [self.records_index[ns].get(name, []) for ns, name in keys]

    def cached_events(self, namespace: str, name: str) -> list[dict] | None:
        index = self.events_index.get(namespace)
        return None if index is None else index.get(name, [])

    def cached_records(self, namespace: str, name: str) -> list[common_pb2.DeploymentRecord] | None:
        index = self.records_index.get(namespace)
        return None if index is None else index.get(name, [])


@dataclass
class RequestContext:
    backends: Backends
    principal: Principal
    loaders: Loaders

    @classmethod
    def create(cls, backends: Backends, principal: Principal) -> RequestContext:
        identity = Identity.of(principal)
        return cls(backends, principal, Loaders(backends, identity))

    @property
    def identity(self) -> Identity:
        return self.loaders.identity

    def fresh_loaders(self) -> None:
        """A subscription's context lives for many events; each event must see fresh data."""
        self.loaders = Loaders(self.backends, self.identity)


def grpc_unavailable(error: grpc.aio.AioRpcError) -> bool:
    return error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
