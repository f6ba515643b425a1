"""Gateway benchmark: latency of the DataLoader-batched GraphQL page of Deployments.

`python -m bench gateway`

Measured over real HTTP (aiohttp client with keep-alive, as a UI holds its connection) against
the gateway as its own process (`scia-gateway` on 127.0.0.1, production mode), in three setups:

- live: the backends below;
- recorded Kubernetes: the two Kubernetes answers recorded from the emulator and served at once
  from loopback HTTP (what a real API server's few milliseconds look like), the real RAG service;
- recorded backends: the RAG answer recorded too. What remains is the gateway's own time (and
  loopback HTTP); the gateway process's CPU per query is reported for every setup.

The live backends:

- Kubernetes: the kmock emulator (in the benchmark's process, on loopback HTTP) serving the
  scia.io kinds, seeded with one team namespace holding 1 CloudProvider, 100 Deployments (status
  with phase, decision with alternatives, cost) and 10 scia.io Events;
- the memory: the real RAG service as its own process, on an embedded PostgreSQL (pgvector),
  embedding through the real embedder service, holding one record per Deployment (written with
  RecordDeployment, so embedded for real) and votes on 30 of them (RecordFeedback). The
  `feedback` field of each node is resolved from those records.

The query is the one of tests/gateway (`test_a_page_of_100_deployments...`): name, phase,
decision with alternatives, cost, feedback and events of each node. Pages of 100 and of 10
Deployments of the same namespace alternate in blocks, so machine drift hits both alike; the
10-page is the in-run baseline. Backend calls per query are read from the gateway's own
`scia_gateway_backend_calls_total` counter (its /metrics) around one query of each size.
Target: p99 < 200 ms for the 100-page (architecture), aim < 50 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import grpc
import kmock
from prometheus_client.parser import text_string_to_metric_families

from bench.common import free_port, http_ready, percentiles, running_process, service_process
from scia.gateway.auth import issue_token
from scia.rag.db import EmbeddedPostgres, create_database
from scia.runtime.client import create_channel
from scia.v1 import common_pb2, rag_pb2, rag_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
# A server of its own (other benchmarks may be using theirs), removed after the run.
DATA_DIR = ROOT / ".scia" / "bench" / f"gateway-postgres-{os.getpid()}"
RAG_SERVICE = rag_pb2.DESCRIPTOR.services_by_name["DeploymentMemory"]
SCIA = "/apis/scia.io/v1alpha1"
SHARED_KEY = "bench-gateway-shared-key-0123456789abcdef"
DEPLOYMENTS = 100
WITH_FEEDBACK = 30  # Deployments with votes in the memory
WITH_EVENTS = 10
SAMPLES = 400  # queries per page size
SAMPLES_LIVE = 200  # against kmock, whose answers slow down as it serves more requests (see docs)
BLOCK = 25  # queries of one size before switching to the other
WARMUP = 20
FRAMEWORKS = ["flask", "django", "fastapi", "express", "spring boot", "rails", "gin", "laravel", "axum", "next.js"]

QUERY = """query($ns: String!, $first: Int!) { deployments(namespace: $ns, first: $first) { totalCount edges { node {
    name phase decision { strategy alternatives { strategy } } cost { estimatedMonthly }
    feedback { up down } events { reason } } } } }"""


# --- the world the gateway serves ----------------------------------------------------------------


async def seed_kubernetes(session: aiohttp.ClientSession, url: str, namespace: str) -> None:
    async def post(path: str, body: dict) -> None:
        async with session.post(url + path, json=body) as response:
            assert response.status < 300, await response.text()

    await post(f"{SCIA}/namespaces/{namespace}/cloudproviders", {
        "apiVersion": "scia.io/v1alpha1", "kind": "CloudProvider", "metadata": {"name": "aws-main", "namespace": namespace},
        "spec": {"type": "aws", "credentialsSecretRef": {"name": "aws-creds"}, "defaultRegion": "eu-west-3",
                 "allowedRegions": ["eu-west-3"], "costControl": {"monthlyBudget": 50000}},
    })  # fmt: skip
    for i in range(DEPLOYMENTS):
        framework = FRAMEWORKS[i % len(FRAMEWORKS)]
        await post(f"{SCIA}/namespaces/{namespace}/deployments", {
            "apiVersion": "scia.io/v1alpha1", "kind": "Deployment", "metadata": {"name": f"svc-{i:03d}", "namespace": namespace},
            "spec": {"repository": {"url": f"https://github.com/acme/svc-{i:03d}.git", "ref": "main"},
                     "prompt": f"{framework} API with high availability", "cloudProvider": "aws-main", "region": "eu-west-3",
                     "budget": {"maxMonthlyCost": 300}, "policies": []},
            "status": {"phase": "Running", "decision": {"strategy": "vm", "alternatives": [{"strategy": "serverless"}]},
                       "cost": {"estimatedMonthly": 20 + i}},
        })  # fmt: skip
    for i in range(0, DEPLOYMENTS, DEPLOYMENTS // WITH_EVENTS):
        name = f"svc-{i:03d}"
        await post(f"/api/v1/namespaces/{namespace}/events", {
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{name}.{uuid.uuid4().hex[:8]}", "namespace": namespace},
            "involvedObject": {"apiVersion": "scia.io/v1alpha1", "kind": "Deployment", "name": name, "namespace": namespace},
            "reason": "Planned", "message": "planned", "type": "Normal", "count": 1,
            "firstTimestamp": "2026-11-28T10:00:00Z", "lastTimestamp": "2026-11-28T10:00:00Z", "source": {"component": "scia-operator"},
        })  # fmt: skip


async def seed_memory(rag_target: str, namespace: str) -> None:
    """One record per Deployment, as the operator writes them, and votes on some."""
    channel = create_channel(rag_target, [RAG_SERVICE], timeout=60)
    stub = rag_pb2_grpc.DeploymentMemoryStub(channel)
    try:
        for i in range(DEPLOYMENTS):
            name, framework = f"svc-{i:03d}", FRAMEWORKS[i % len(FRAMEWORKS)]
            record = common_pb2.DeploymentRecord(
                tenant=namespace, name=name, uid=f"uid-{name}", revision=1,
                repository=common_pb2.RepositoryRef(url=f"https://github.com/acme/{name}.git"),
                analysis=common_pb2.RepositoryAnalysis(applications=[common_pb2.Application(language="python", framework=framework)]),
                intent=common_pb2.DeploymentIntent(prompt=f"{framework} api with high availability"),
                plan=common_pb2.Plan(strategy=common_pb2.STRATEGY_VM, cost=common_pb2.CostEstimate(monthly_total_usd=20 + i),
                                     configuration=common_pb2.Configuration(cloud=common_pb2.CLOUD_AWS, region="eu-west-3")),
                outcome=common_pb2.OUTCOME_SUCCESS,
            )  # fmt: skip
            stored = (await stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record))).record
            if i % (DEPLOYMENTS // WITH_FEEDBACK) == 0 and i // (DEPLOYMENTS // WITH_FEEDBACK) < WITH_FEEDBACK:
                for user, vote in (("erin", 1), ("frank", 1 if i % 2 else -1)):
                    await stub.RecordFeedback(rag_pb2.RecordFeedbackRequest(tenant=namespace, id=stored.id, user=user, vote=vote))
    finally:
        await channel.close()


@contextlib.contextmanager
def gateway_process(**settings: str) -> Iterator[tuple[str, int]]:
    """`scia-gateway` (`python -m scia.gateway`) as its own process on loopback, as deployed;
    yields its base URL and process id."""
    port = free_port()
    env = {
        "SCIA_GATEWAY_HTTP_HOST": "127.0.0.1",
        "SCIA_GATEWAY_HTTP_PORT": str(port),
        "SCIA_GATEWAY_LOG_LEVEL": "WARNING",
        "SCIA_GATEWAY_MODE": "production",
        **{f"SCIA_GATEWAY_{key.upper()}": value for key, value in settings.items()},
    }
    with tempfile.TemporaryDirectory(prefix="scia-gateway-") as logs:
        log_path = Path(logs) / "gateway.log"
        url = f"http://127.0.0.1:{port}"
        try:
            with running_process(["-m", "scia.gateway"], env, http_ready(url + "/healthz"), log_path, timeout=60) as process:
                yield url, process.pid
        finally:
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
            if errors := [line for line in log.splitlines() if '"ERROR"' in line or "Traceback" in line]:
                print("gateway errors:", *errors[-5:], sep="\n  ", file=sys.stderr)


# --- recorded backends: the gateway's own time ---------------------------------------------------


class RecordedKubernetes:
    """Serves, over loopback HTTP, the exact bodies the emulator answered to the query's two
    Kubernetes lists, pre-serialized: backends that cost next to nothing, so what remains of a
    query's latency is the gateway's own work (plus loopback HTTP). Any other request is a 404,
    so a gateway asking for something else fails the benchmark instead of being measured."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies  # "path?query" -> body

    @staticmethod
    async def record(session: aiohttp.ClientSession, kube_url: str, paths: list[str]) -> RecordedKubernetes:
        bodies = {}
        for path in paths:
            async with session.get(kube_url + path) as response:
                assert response.status == 200, await response.text()
                bodies[path] = await response.read()
        return RecordedKubernetes(bodies)

    @contextlib.asynccontextmanager
    async def serve(self):
        from aiohttp import web

        async def handle(request: web.Request) -> web.Response:
            body = self.bodies.get(request.path_qs)
            if body is None:
                return web.json_response({"kind": "Status", "code": 404, "reason": "NotFound",
                                          "message": f"not recorded: {request.path_qs}"}, status=404)  # fmt: skip
            return web.Response(body=body, content_type="application/json")

        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


class RecordedMemory(rag_pb2_grpc.DeploymentMemoryServicer):
    """The RAG service's ListDeployments answers of the tenant, recorded from the real service and
    replayed by a gRPC server on loopback; any other call is UNIMPLEMENTED."""

    def __init__(self, pages: dict[tuple[str, str], rag_pb2.ListDeploymentsResponse]) -> None:
        self.pages = pages

    @staticmethod
    async def record(rag_target: str, tenant: str) -> RecordedMemory:
        channel = create_channel(rag_target, [RAG_SERVICE], timeout=60)
        stub = rag_pb2_grpc.DeploymentMemoryStub(channel)
        pages, token = {}, ""
        try:
            while True:
                response = await stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=tenant, page_size=500, page_token=token))
                pages[(tenant, token)] = response
                token = response.next_page_token
                if not token:
                    return RecordedMemory(pages)
        finally:
            await channel.close()

    async def ListDeployments(self, request, context):  # noqa: N802 (gRPC method name)
        page = self.pages.get((request.tenant, request.page_token))
        if page is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"not recorded: {request.tenant} {request.page_token!r}")
        return page

    @contextlib.asynccontextmanager
    async def serve(self):
        server = grpc.aio.server()
        rag_pb2_grpc.add_DeploymentMemoryServicer_to_server(self, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            yield f"127.0.0.1:{port}"
        finally:
            await server.stop(None)


# --- measurements --------------------------------------------------------------------------------


async def backend_calls(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with session.get(url + "/metrics") as response:
        text = await response.text()
    calls = {}
    for family in text_string_to_metric_families(text):
        if family.name == "scia_gateway_backend_calls":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    calls[f"{sample.labels['backend']} {sample.labels['method']}"] = sample.value
    return calls


async def backend_latency(kube_url: str, rag_target: str, namespace: str, samples: int = 60) -> dict:
    """The three calls the query makes, made directly from here in the same run: the floor of the
    gateway's latency that its backends set (the gateway's own share is the rest)."""
    channel = create_channel(rag_target, [RAG_SERVICE], timeout=60)
    stub = rag_pb2_grpc.DeploymentMemoryStub(channel)
    timings: dict[str, list[float]] = {"kubernetes list deployments": [], "kubernetes list events": [], "rag ListDeployments": []}
    try:
        async with aiohttp.ClientSession() as session:

            async def get(path: str, params: dict | None = None) -> None:
                async with session.get(kube_url + path, params=params) as response:
                    await response.json()

            calls = {
                "kubernetes list deployments": lambda: get(f"{SCIA}/namespaces/{namespace}/deployments"),
                "kubernetes list events": lambda: get(f"/api/v1/namespaces/{namespace}/events",
                                                      {"fieldSelector": "involvedObject.kind=Deployment"}),
                "rag ListDeployments": lambda: stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=namespace, page_size=500)),
            }  # fmt: skip
            for _ in range(samples + 5):
                for name, call in calls.items():
                    started = time.perf_counter()
                    await call()
                    timings[name].append(time.perf_counter() - started)
    finally:
        await channel.close()
    return {name: percentiles(values[5:]) for name, values in timings.items()}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (Linux /proc): the gateway's work, which a
    loaded machine delays but does not inflate the way it inflates wall-clock latency."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(gateway_url: str, namespace: str, samples_per_size: int = SAMPLES, pid: int | None = None) -> dict:
    token = issue_token(SHARED_KEY, "bench", [f"{namespace}:viewer"], ttl_seconds=3600)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=1)  # one keep-alive connection, as a UI uses

    async with aiohttp.ClientSession(connector=connector) as session:

        async def query(first: int) -> dict:
            payload = {"query": QUERY, "variables": {"ns": namespace, "first": first}}
            async with session.post(gateway_url + "/graphql", json=payload, headers=headers) as response:
                body = await response.json()
            assert response.status == 200 and "errors" not in body, body
            return body

        results: dict = {}
        for first in (DEPLOYMENTS, 10):
            before = await backend_calls(session, gateway_url)
            body = await query(first)
            after = await backend_calls(session, gateway_url)
            nodes = [edge["node"] for edge in body["data"]["deployments"]["edges"]]
            results[f"page_{first}"] = {
                "nodes": len(nodes),
                "nodes_with_a_record": sum(1 for node in nodes if node["feedback"]),
                "nodes_with_votes": sum(1 for node in nodes if node["feedback"] and node["feedback"]["up"] + node["feedback"]["down"]),
                "nodes_with_events": sum(1 for node in nodes if node["events"]),
                "backend_calls": {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)},
            }
            results[f"page_{first}"]["backend_calls_total"] = int(sum(results[f"page_{first}"]["backend_calls"].values()))
        assert results[f"page_{DEPLOYMENTS}"]["nodes"] == DEPLOYMENTS
        # Every node's feedback comes from its record in the memory; 30 of them carry votes.
        assert results[f"page_{DEPLOYMENTS}"]["nodes_with_a_record"] == DEPLOYMENTS
        assert results[f"page_{DEPLOYMENTS}"]["nodes_with_votes"] == WITH_FEEDBACK

        for _ in range(WARMUP):
            await query(DEPLOYMENTS)
            await query(10)
        samples: dict[int, list[float]] = {DEPLOYMENTS: [], 10: []}
        cpu: dict[int, float] = {DEPLOYMENTS: 0.0, 10: 0.0}
        while len(samples[10]) < samples_per_size:
            for first in (DEPLOYMENTS, 10):
                cpu_before = cpu_seconds(pid) if pid else 0.0
                for _ in range(BLOCK):
                    started = time.perf_counter()
                    await query(first)
                    samples[first].append(time.perf_counter() - started)
                cpu[first] += (cpu_seconds(pid) - cpu_before) if pid else 0.0
        for first, values in samples.items():
            results[f"page_{first}"].update(percentiles(values), samples=len(values))
            if pid:
                # The gateway process's CPU per query (everything it does: HTTP, auth, GraphQL,
                # backend clients), measured over the same queries; /proc counts in 10 ms ticks.
                results[f"page_{first}"]["gateway_cpu_ms_per_query"] = round(1000 * cpu[first] / len(values), 2)
    big, small = results[f"page_{DEPLOYMENTS}"], results["page_10"]
    results["p50_ratio_100_vs_10"] = round(big["p50_ms"] / small["p50_ms"], 2)
    results["targets"] = {"p99_ms": 200, "aim_p99_ms": 50}
    return results


def kubernetes_paths(namespace: str) -> list[str]:
    """The two Kubernetes calls the query makes, exactly as the gateway sends them."""
    return [f"{SCIA}/namespaces/{namespace}/deployments",
            f"/api/v1/namespaces/{namespace}/events?fieldSelector=involvedObject.kind%3DDeployment"]  # fmt: skip


async def _run(rag_target: str) -> dict:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    await seed_memory(rag_target, namespace)
    emulator = kmock.KubernetesEmulator()
    # Declared kinds are what the emulator serves (list/watch answer 404 otherwise).
    for resource, kind in (("scia.io/v1alpha1/deployments", "Deployment"), ("scia.io/v1alpha1/cloudproviders", "CloudProvider"),
                           ("v1/events", "Event"), ("v1/namespaces", "Namespace")):  # fmt: skip
        emulator.resources[resource] = kmock.ResourceInfo(
            kind=kind, namespaced=resource != "v1/namespaces", subresources={"status"} if "scia" in resource else set()
        )
    results: dict = {}
    async with emulator, kmock.Server(emulator) as server, aiohttp.ClientSession() as session:
        kube_url = str(server.url).rstrip("/")
        await seed_kubernetes(session, kube_url, namespace)
        # Recorded before the runs: the answers every setup serves are the same bytes.
        kubernetes = await RecordedKubernetes.record(session, kube_url, kubernetes_paths(namespace))
        memory = await RecordedMemory.record(rag_target, namespace)
        # The planner is not called by this query; its target is never dialed. The start-up poll
        # of gateway_process blocks this loop (and so the emulator and the recorded servers) for a
        # moment: harmless, the gateway calls no backend before the first query.
        common = {"planner_target": "127.0.0.1:1", "jwt_shared_key": SHARED_KEY}
        # 1. Everything live: the kmock emulator and the real RAG service.
        with gateway_process(kubernetes_url=kube_url, rag_target=rag_target, **common) as (gateway_url, pid):
            results["live"] = await measure(gateway_url, namespace, SAMPLES_LIVE, pid)
        results["live"]["backends_direct"] = await backend_latency(kube_url, rag_target, namespace)
        # kmock re-filters its whole request log on every request: its answers slow down as it serves more.
        results["live"]["emulator_requests_served"] = sum(1 for _ in emulator)
        async with kubernetes.serve() as recorded_kube_url, memory.serve() as recorded_rag_target:
            # 2. Kubernetes answers recorded (an API server that answers at once), the real RAG service.
            with gateway_process(kubernetes_url=recorded_kube_url, rag_target=rag_target, **common) as (gateway_url, pid):
                results["recorded_kubernetes"] = await measure(gateway_url, namespace, SAMPLES, pid)
            # 3. Both recorded: what remains is the gateway's own time (and loopback HTTP).
            with gateway_process(kubernetes_url=recorded_kube_url, rag_target=recorded_rag_target, **common) as (gateway_url, pid):
                results["recorded_backends"] = await measure(gateway_url, namespace, SAMPLES, pid)
            results["recorded_backends"]["backends_direct"] = await backend_latency(recorded_kube_url, recorded_rag_target, namespace)
    return results


def run() -> dict:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    postgres = EmbeddedPostgres(DATA_DIR)
    try:
        base = loop.run_until_complete(postgres.start())
        loop.run_until_complete(create_database(base, "bench_gateway"))
        dsn = postgres._server.get_uri(database="bench_gateway")
        with service_process("scia.embedder", "SCIA_EMBEDDER_") as embedder_target, service_process(
            "scia.rag", "SCIA_RAG_", dsn=dsn, embedder_target=embedder_target, reranker_enabled="false"
        ) as rag_target:
            results = loop.run_until_complete(_run(rag_target))
    finally:
        loop.run_until_complete(postgres.stop())
        shutil.rmtree(DATA_DIR, ignore_errors=True)
        loop.close()
        asyncio.set_event_loop(None)
    return {
        "setup": {
            "deployments": DEPLOYMENTS, "with_feedback": WITH_FEEDBACK, "with_events": WITH_EVENTS,
            "kubernetes": "kmock emulator, loopback HTTP", "memory": "scia.rag process, embedded PostgreSQL + pgvector, scia.embedder process",
            "gateway": "scia-gateway in its own process, production mode, HS256 token, 1 keep-alive connection",
            "samples_per_page_size": SAMPLES, "samples_per_page_size_live": SAMPLES_LIVE, "block": BLOCK, "warmup": WARMUP,
            "setups": {
                "live": "gateway -> kmock emulator (Kubernetes) and the real RAG service",
                "recorded_kubernetes": "gateway -> recorded Kubernetes answers (loopback HTTP) and the real RAG service",
                "recorded_backends": "gateway -> recorded Kubernetes and recorded RAG answers: the gateway's own time",
            },
        },  # fmt: skip
        **results,
    }


def summary(results: dict) -> str:
    def calls(page: dict) -> str:
        return f"{page['backend_calls_total']} ({', '.join(f'{k}: {int(v)}' for k, v in sorted(page['backend_calls'].items()))})"

    names = {"live": "kmock + real RAG", "recorded_kubernetes": "recorded Kubernetes + real RAG",
             "recorded_backends": "recorded Kubernetes + recorded RAG (the gateway's own time)"}  # fmt: skip
    lines = ["| gateway, 100 Deployments with decision, cost, feedback, events | p50 / p99 (page of 10, same run) | target |",
             "|---|---|---|"]  # fmt: skip
    for key, name in names.items():
        big, small = results[key]["page_100"], results[key]["page_10"]
        lines.append(f"| {name} | {big['p50_ms']} ms / **{big['p99_ms']} ms** ({small['p50_ms']} ms / {small['p99_ms']} ms) "
                     f"| p99 < {results[key]['targets']['p99_ms']} ms (aim < {results[key]['targets']['aim_p99_ms']} ms) |")  # fmt: skip
    lines.append("| gateway CPU per query, page of 100 / of 10: " + "; ".join(
        f"{names[key].split(' (')[0]} {results[key]['page_100'].get('gateway_cpu_ms_per_query')} / {results[key]['page_10'].get('gateway_cpu_ms_per_query')} ms"
        for key in names) + " | | |")
    live = results["live"]
    lines.append(f"| backend calls per query, page of 100 / of 10 | {calls(live['page_100'])} / {live['page_10']['backend_calls_total']} | constant |")
    for key in ("live", "recorded_backends"):
        for name, value in results[key].get("backends_direct", {}).items():
            lines.append(f"| {name}, called directly ({names[key].split(' (')[0]}) | {value['p50_ms']} ms / {value['p99_ms']} ms | |")
    return "\n".join(lines)


if __name__ == "__main__":
    from bench.common import write_results

    print(write_results("gateway", run()))
