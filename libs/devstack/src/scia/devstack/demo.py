"""The walkthrough `scia-dev up` runs once every service is SERVING: each step is a real call
through the services' gRPC contracts, exactly as the operator and the gateway make them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import numpy as np
import scia.compositions as compositions
from scia.runtime.client import create_channel
from scia.v1 import common_pb2, embedder_pb2, embedder_pb2_grpc, planner_pb2, planner_pb2_grpc, rag_pb2, rag_pb2_grpc

EMBEDDER = embedder_pb2.DESCRIPTOR.services_by_name["Embedder"]
PLANNER = planner_pb2.DESCRIPTOR.services_by_name["Planner"]
MEMORY = rag_pb2.DESCRIPTOR.services_by_name["DeploymentMemory"]

EXAMPLE_APP = "examples/apps/flask-shop"
EXAMPLE_PROMPT = "Flask shop API with high availability, under $300/month in eu-west-3"
TENANT = "team-demo"


def repository_root() -> str:
    """The SCIA checkout the stack runs from: it ships the example application."""
    result = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else str(Path.cwd())


def strategy_name(value: int) -> str:
    return common_pb2.Strategy.Name(value).removeprefix("STRATEGY_").lower()


async def embed(target: str, texts: list[str]) -> tuple[embedder_pb2.EmbedResponse, float]:
    async with create_channel(target, [EMBEDDER]) as channel:
        started = time.perf_counter()
        response = await embedder_pb2_grpc.EmbedderStub(channel).Embed(embedder_pb2.EmbedRequest(texts=texts))
        return response, time.perf_counter() - started


def describe_embeddings(response: embedder_pb2.EmbedResponse, texts: list[str], seconds: float) -> str:
    lines = [f"{response.model}: {len(response.embeddings)} x {response.dimensions} dims in {seconds * 1000:.0f} ms"]
    vectors = np.array([e.values for e in response.embeddings], dtype=np.float32)
    for text, vector in zip(texts, vectors, strict=True):
        head = " ".join(f"{value:+.3f}" for value in vector[:4])
        lines.append(f"  |v|={np.linalg.norm(vector):.3f}  [{head} ...]  {text[:60]!r}")
    if len(texts) > 1:
        similarity = vectors @ vectors.T
        lines.append("  cosine similarity to the first text: " + ", ".join(f"{s:.3f}" for s in similarity[0][1:]))
    return "\n".join(lines)


def describe_plan(response: planner_pb2.PlanResponse) -> str:
    app = response.analysis.applications[0]
    plan = response.plan
    config = plan.configuration
    workload = config.WhichOneof("workload")
    lines = [
        f"analysis: {app.language}/{app.framework or 'no framework'}, ports {[p.number for p in app.ports]}, "
        f"start {app.start_command!r}, backing services {[b.kind for b in response.analysis.backing_services]}",
        f"plan:     {strategy_name(plan.strategy)} in {common_pb2.Cloud.Name(config.cloud).removeprefix('CLOUD_').lower()} "
        f"{config.region} (confidence {plan.confidence:.2f}, engine {plan.provenance.engine})",
        f"          {workload}: " + ", ".join(f"{field.name}={value}" for field, value in getattr(config, workload).ListFields())
        if workload
        else "",
        f"cost:     ${plan.cost.monthly_total_usd:.2f}/month ({plan.budget.message})",
    ]
    lines += [f"          {item.monthly_usd:8.2f}  {item.name}: {item.description}" for item in plan.cost.items]
    lines.append(f"why:      {plan.reason}")
    lines += [
        f"instead:  {strategy_name(alt.strategy)} (confidence {alt.confidence:.2f}): {alt.reason}" for alt in plan.alternatives
    ]
    if plan.provenance.retrieval_note:
        lines.append(f"memory:   {plan.provenance.retrieval_note}")
    lines += [f"learned:  {c.summary} -> {c.influence}" for c in plan.citations]
    return "\n".join(line for line in lines if line)


async def plan_example(target: str, repository: str) -> planner_pb2.PlanResponse:
    async with create_channel(target, [PLANNER], timeout=120) as channel:
        return await planner_pb2_grpc.PlannerStub(channel).Plan(
            planner_pb2.PlanRequest(
                tenant=TENANT,
                repository=common_pb2.RepositoryRef(url=repository, subdirectory=EXAMPLE_APP),
                intent=common_pb2.DeploymentIntent(prompt=EXAMPLE_PROMPT, cloud=common_pb2.CLOUD_AWS),
            )
        )


SIMILAR = """
query ($ns: String!, $text: String!) {
  similarDeployments(namespace: $ns, text: $text, limit: 3) {
    reranker notes
    results { name revision outcome score components { vectorSimilarity textRank recency feedback outcome } }
  }
}"""


async def recall(gateway_url: str, token: str, text: str) -> str:
    """Similar past deployments by free text, through the gateway, with every score component."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        found = (await graphql(session, f"{gateway_url}/graphql", token, SIMILAR, ns=TENANT, text=text))[
            "similarDeployments"
        ]
    lines = [f"recalled: {len(found['results'])} result(s) for {text!r} (re-rank: {found['reranker']})"]
    for r in found["results"]:
        c = r["components"]
        lines.append(
            f"          {r['score']:.3f}  {TENANT}/{r['name']} rev {r['revision']}, {str(r['outcome']).lower()} "
            f"(similarity {c['vectorSimilarity']:.2f}, text {c['textRank']:.2f}, recency {c['recency']:.2f}, "
            f"feedback {c['feedback']:.2f}, outcome {c['outcome']:.2f})"
        )
    lines += [f"          note: {note}" for note in found["notes"]]
    return "\n".join(lines)


# --- the full flow: a Deployment through the gateway, reconciled by the operator -------------

NAMESPACE = "team-demo"
DEPLOYMENT = "flask-shop"
PROVIDER = "aws-demo"

CREATE_PROVIDER = """
mutation ($ns: String!, $name: String!, $spec: CloudProviderSpecInput!) {
  createCloudProvider(namespace: $ns, name: $name, spec: $spec) { errors { code field message } }
}"""
CREATE_DEPLOYMENT = """
mutation ($ns: String!, $name: String!, $spec: DeploymentSpecInput!) {
  createDeployment(namespace: $ns, name: $name, spec: $spec) { deployment { id phase } errors { code field message } }
}"""
# Every state the operator writes, as the web UI's live view receives it (polling could miss a
# short phase such as Planning).
WATCH_DEPLOYMENT = """
subscription ($ns: String!, $name: String!) {
  deploymentUpdated(namespace: $ns, name: $name) {
    deployment {
      phase
      conditions { type status reason message }
      decision { strategy confidence engine }
      cost { estimatedMonthly budgetVerdict }
      endpoints
    }
  }
}"""


class FlowError(RuntimeError):
    pass


def issue_token(gateway_env: dict[str, str]) -> str:
    """A token for the demo user, from the gateway's own command (same key, same claims)."""
    result = subprocess.run(
        [sys.executable, "-m", "scia.gateway", "token", "--user", "demo", "--group", f"{NAMESPACE}:admin"],
        env={**os.environ, **gateway_env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


async def graphql(session: aiohttp.ClientSession, url: str, token: str, query: str, **variables) -> dict:
    async with session.post(
        url, json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        body = await response.json()
    if response.status != 200 or body.get("errors"):
        raise FlowError(f"GraphQL {response.status}: {body.get('errors') or body}")
    return body["data"]


def payload_errors(payload: dict) -> None:
    if payload["errors"]:
        raise FlowError("; ".join(f"{e['code']} {'.'.join(e['field'])}: {e['message']}" for e in payload["errors"]))


def describe_state(deployment: dict) -> str:
    conditions = ", ".join(f"{c['type']}={c['status']}" for c in deployment["conditions"])
    line = f"  phase {deployment['phase']:<12} {conditions}".rstrip()
    if deployment["decision"] and deployment["cost"] and deployment["cost"]["estimatedMonthly"] is not None:
        line += f"  [{deployment['decision']['strategy']}, ${deployment['cost']['estimatedMonthly']:.2f}/month]"
    return line


class PhaseWatch:
    """The Deployment's states as the gateway's `deploymentUpdated` subscription sends them
    (graphql-transport-ws, the web UI's live view). Opened before the Deployment is created, so
    the first state and every later one arrive in order."""

    def __init__(self, session: aiohttp.ClientSession, graphql_url: str, token: str) -> None:
        self.session, self.url, self.token = session, graphql_url.replace("http://", "ws://", 1), token
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.last = ""  # the last state printed

    async def __aenter__(self) -> PhaseWatch:
        self.ws = await self.session.ws_connect(self.url, protocols=["graphql-transport-ws"])
        await self.ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}})
        ack = await self.ws.receive_json(timeout=10)
        if ack.get("type") != "connection_ack":
            raise FlowError(f"the gateway refused the subscription: {ack}")
        await self.ws.send_json({"id": "watch", "type": "subscribe", "payload": {
            "query": WATCH_DEPLOYMENT, "variables": {"ns": NAMESPACE, "name": DEPLOYMENT}}})
        return self

    async def __aexit__(self, *_exc) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def until(self, phases: set[str], timeout: float = 180.0) -> dict:
        """Print every change until one of `phases` is reached; the Deployment in that phase."""
        assert self.ws is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise FlowError(f"no {'/'.join(sorted(phases))} phase after {timeout:.0f} s (last: {self.last.strip() or 'none'})")
            try:
                received = await self.ws.receive(timeout=remaining)
            except TimeoutError:
                continue
            if received.type != aiohttp.WSMsgType.TEXT:
                raise FlowError(f"the gateway closed the subscription ({received.type.name})")
            message = received.json()
            if message["type"] == "ping":
                await self.ws.send_json({"type": "pong"})
                continue
            if message["type"] != "next":
                raise FlowError(f"the subscription ended: {message}")
            if message["payload"].get("errors"):
                raise FlowError(f"the subscription failed: {message['payload']['errors']}")
            deployment = message["payload"]["data"]["deploymentUpdated"]["deployment"]
            line = describe_state(deployment)
            if line != self.last:
                self.last = line
                print(line, flush=True)
            if deployment["phase"] in phases:
                return deployment
            if deployment["phase"] == "Failed":
                raise FlowError(f"the Deployment failed: {deployment['conditions']}")


async def play_crossplane(session: aiohttp.ClientSession, kubernetes_url: str, repository: str) -> list[str]:
    """What Crossplane would do with the Infrastructure, as far as this machine can.

    There is no Crossplane and no cloud here: the composition the XR selects is rendered with
    KCL exactly as function-kcl would run it (a preview of the cloud resources), then the XR is
    marked Synced and Ready the way Crossplane reports it, so the operator can finish.
    """
    path = f"{kubernetes_url}/apis/scia.io/v1alpha1/namespaces/{NAMESPACE}/infrastructures/{DEPLOYMENT}"
    async with session.get(path) as response:
        xr = await response.json()
    # The Composition the XR selects, rendered as function-kcl runs it (scia.compositions).
    rendering = compositions.render(xr)
    resources = rendering.resources
    lines = [f"  composition {rendering.composition} renders {len(resources)} cloud resources:"]
    for resource in resources:
        name = compositions.resource_name(resource) or "?"
        lines.append(f"    {resource['apiVersion'].split('/')[0]:<32} {resource['kind']:<28} {name}")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = [
        {"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "lastTransitionTime": now},
        {"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": now},
    ]
    async with session.patch(
        f"{path}/status",
        json={"status": {"conditions": conditions}},
        headers={"Content-Type": "application/merge-patch+json"},
    ) as response:
        if response.status >= 300:
            raise FlowError(f"marking the Infrastructure ready failed: HTTP {response.status} {await response.text()}")
    lines.append("  (stand-in for Crossplane: resources rendered, not created; Infrastructure marked Synced and Ready)")
    return lines


async def deploy_through_gateway(gateway_url: str, token: str, kubernetes_url: str, repository: str) -> None:
    url = f"{gateway_url}/graphql"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        payload_errors(
            (
                await graphql(
                    session, url, token, CREATE_PROVIDER, ns=NAMESPACE, name=PROVIDER,
                    spec={
                        "type": "aws",
                        "credentialsSecretRef": {"name": "aws-demo-credentials", "key": "credentials"},
                        "defaultRegion": "eu-west-3",
                        "allowedRegions": ["eu-west-3", "eu-west-1"],
                        "costControl": {"monthlyBudget": 1000, "alertThreshold": 0.8},
                    },
                )
            )["createCloudProvider"]
        )
        print(f"  createCloudProvider {NAMESPACE}/{PROVIDER} (aws, eu-west-3)")
        async with PhaseWatch(session, url, token) as watch:
            await _create_and_follow(session, url, token, watch, kubernetes_url, repository)


async def _create_and_follow(session: aiohttp.ClientSession, url: str, token: str, watch: PhaseWatch,
                             kubernetes_url: str, repository: str) -> None:
    payload_errors(
        (
            await graphql(
                session, url, token, CREATE_DEPLOYMENT, ns=NAMESPACE, name=DEPLOYMENT,
                spec={
                    "repository": {"url": Path(repository).resolve().as_uri(), "subdirectory": EXAMPLE_APP},
                    "prompt": EXAMPLE_PROMPT,
                    "cloudProvider": PROVIDER,
                    "region": "eu-west-3",
                    "budget": {"maxMonthlyCost": 300, "alertThreshold": 0.8, "enforcementMode": "soft"},
                    "policies": ["require_https", "enable_monitoring"],
                    # HTTPS needs a name for the certificate (example.com: nothing is created here).
                    "domainName": "shop.team-demo.example.com",
                },
            )
        )["createDeployment"]
    )
    print(f"  createDeployment {NAMESPACE}/{DEPLOYMENT}; the operator reconciles it:")
    await watch.until({"Provisioning", "Running"})
    if not kubernetes_url:  # a real cluster (scia-dev up --kubeconfig): its Crossplane takes over
        print(f"  applied; Crossplane in the cluster provisions it: kubectl -n {NAMESPACE} get infrastructures.scia.io {DEPLOYMENT}")
        return
    for line in await play_crossplane(session, kubernetes_url, repository):
        print(line)
    running = await watch.until({"Running"})
    print(f"  Running; endpoints: {running['endpoints'] or 'none (no real cloud behind the stand-in)'}")


async def remembered_outcomes(target: str, uid_prefix: str = "") -> list[str]:
    """The memory's records of the flask-shop Deployment, newest first."""
    async with create_channel(target, [MEMORY], timeout=30) as channel:
        listed = await rag_pb2_grpc.DeploymentMemoryStub(channel).ListDeployments(
            rag_pb2.ListDeploymentsRequest(tenant=NAMESPACE, filter=rag_pb2.DeploymentFilter(name=DEPLOYMENT), page_size=5)
        )
    return [
        f"  {r.tenant}/{r.name} uid {r.uid[:8]} rev {r.revision}: outcome "
        f"{common_pb2.Outcome.Name(r.outcome).removeprefix('OUTCOME_').lower()}"
        + (f" ({r.outcome_reason})" if r.outcome_reason else "")
        for r in listed.records
        if r.uid.startswith(uid_prefix)
    ]
