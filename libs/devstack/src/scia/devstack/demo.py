"""The walkthrough `scia-dev up` runs once every service is SERVING: each step is a real call
through the services' gRPC contracts, exactly as the operator and the gateway make them."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np

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


async def remember_and_recall(target: str, planned: planner_pb2.PlanResponse) -> str:
    """Store the plan as revision 1 of a pending deployment, then find it by free text."""
    record = common_pb2.DeploymentRecord(
        tenant=TENANT,
        name="flask-shop",
        # A stable uid: running the stack again updates the same record instead of adding one.
        uid="local-stack-flask-shop",
        revision=1,
        repository=planned.analysis.repository,
        analysis=planned.analysis,
        intent=common_pb2.DeploymentIntent(prompt=EXAMPLE_PROMPT, cloud=common_pb2.CLOUD_AWS),
        plan=planned.plan,
        outcome=common_pb2.OUTCOME_PENDING,
    )
    async with create_channel(target, [MEMORY], timeout=30) as channel:
        memory = rag_pb2_grpc.DeploymentMemoryStub(channel)
        stored = await memory.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record))
        found = await memory.Retrieve(
            rag_pb2.RetrieveRequest(tenant=TENANT, text="flask api with postgres and redis", limit=3)
        )
    lines = [
        f"stored:   {TENANT}/flask-shop revision 1 as record {stored.record.id} "
        f"({'created' if stored.created else 'updated'}; outcome pending)",
        f"recalled: {len(found.results)} result(s) for 'flask api with postgres and redis' (re-rank: {found.reranker})",
    ]
    for result in found.results:
        c = result.components
        lines.append(
            f"          {result.score:.3f}  {result.record.tenant}/{result.record.name} rev {result.record.revision} "
            f"(similarity {c.vector_similarity:.2f}, text {c.text_rank:.2f}, recency {c.recency:.2f}, "
            f"feedback {c.feedback:.2f})"
        )
    lines += [f"          note: {note}" for note in found.notes]
    return "\n".join(lines)
