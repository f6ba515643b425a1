"""The Planner over real gRPC on loopback, with the deployment memory absent or unreachable."""

from __future__ import annotations

import grpc
import pytest

from scia.planner.config import PlannerSettings
from scia.planner.service import PlannerApp
from scia.v1 import common_pb2, planner_pb2, planner_pb2_grpc
from tests.helpers import free_port, serve

PLANNER = planner_pb2.DESCRIPTOR.services_by_name["Planner"]
FLASK = {
    "requirements.txt": "flask==3.0.3\ngunicorn\npsycopg2-binary\n",
    "app.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/healthz')\ndef h():\n    return 'ok'\n",
}


def settings(**overrides) -> PlannerSettings:
    return PlannerSettings(grpc_host="127.0.0.1", grpc_port=0, metrics_port=0, **overrides)


async def call(running, method: str, request):
    async with running.channel([PLANNER]) as channel:
        return await getattr(planner_pb2_grpc.PlannerStub(channel), method)(request, timeout=30)


async def test_analyze_then_plan_from_the_analysis(make_repo):
    repo = make_repo(FLASK)
    s = settings(allow_local_paths=True)
    async with serve(PlannerApp(s), s) as running:
        analyzed = await call(running, "Analyze", planner_pb2.AnalyzeRequest(repository=common_pb2.RepositoryRef(url=str(repo))))
        assert analyzed.analysis.applications[0].framework == "flask"
        assert len(analyzed.analysis.repository.commit_sha) == 40
        assert analyzed.analysis.HasField("analyzed_at")
        response = await call(running, "Plan", planner_pb2.PlanRequest(
            tenant="team-a", analysis=analyzed.analysis,
            intent=common_pb2.DeploymentIntent(prompt="deploy this Flask app with high availability, under $300/month in eu-west-3",
                                               policies=["require-https"])))
    plan = response.plan
    assert plan.strategy == common_pb2.STRATEGY_VM and plan.configuration.region == "eu-west-3"
    assert plan.configuration.vm.instance_count >= 2 and plan.configuration.https
    assert plan.budget.status == common_pb2.BudgetVerdict.STATUS_WITHIN
    assert plan.provenance.engine == "knowledge-base" and not plan.provenance.retrieval_used
    assert plan.provenance.retrieval_note.startswith("no retrieval context:") and "SCIA_PLANNER_RAG_TARGET" in plan.provenance.retrieval_note
    assert any(m.kind == "postgres" for m in plan.configuration.managed_services)


async def test_plan_with_a_repository_clones_and_survives_an_unreachable_memory(make_repo):
    repo = make_repo(FLASK)
    s = settings(allow_local_paths=True, rag_target=f"127.0.0.1:{free_port()}", rag_timeout_seconds=1.0)
    async with serve(PlannerApp(s), s) as running:
        response = await call(running, "Plan", planner_pb2.PlanRequest(
            tenant="team-a", repository=common_pb2.RepositoryRef(url=str(repo)),
            intent=common_pb2.DeploymentIntent(prompt="serverless, 100k requests a day")))
        assert response.analysis.applications[0].framework == "flask"
        assert response.plan.strategy == common_pb2.STRATEGY_SERVERLESS
        assert response.plan.provenance.retrieval_note.startswith("no retrieval context: memory unavailable (UNAVAILABLE")
        disabled = await call(running, "Plan", planner_pb2.PlanRequest(
            tenant="team-a", analysis=response.analysis, disable_retrieval=True))
        assert "disabled by the request" in disabled.plan.provenance.retrieval_note


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (planner_pb2.AnalyzeRequest(), grpc.StatusCode.INVALID_ARGUMENT, "repository.url is required"),
        (planner_pb2.AnalyzeRequest(repository=common_pb2.RepositoryRef(url="http://example.com/x.git")), grpc.StatusCode.INVALID_ARGUMENT, "not accepted"),
        (planner_pb2.AnalyzeRequest(repository=common_pb2.RepositoryRef(url="/tmp")), grpc.StatusCode.INVALID_ARGUMENT, "local repository paths are disabled"),
        (planner_pb2.AnalyzeRequest(repository=common_pb2.RepositoryRef(url="https://example.com/a/b.git", ref="--evil")), grpc.StatusCode.INVALID_ARGUMENT, "not a valid branch"),
    ],
)
async def test_analyze_errors_have_clear_codes(request_, code, message):
    s = settings()
    async with serve(PlannerApp(s), s) as running:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(running, "Analyze", request_)
    assert error.value.code() == code and message in error.value.details()


async def test_not_found_and_too_large_codes(tmp_path, make_repo):
    repo = make_repo({"app.py": "x = 1\n", "blob.txt": "z" * 50_000})
    s = settings(allow_local_paths=True, max_repo_bytes=10_000)
    async with serve(PlannerApp(s), s) as running:
        for url, ref, code in ((str(tmp_path / "missing"), "", grpc.StatusCode.NOT_FOUND),
                               (str(repo), "no-such-branch", grpc.StatusCode.NOT_FOUND),
                               (str(repo), "", grpc.StatusCode.RESOURCE_EXHAUSTED)):
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await call(running, "Analyze", planner_pb2.AnalyzeRequest(repository=common_pb2.RepositoryRef(url=url, ref=ref)))
            assert error.value.code() == code, (url, ref, error.value.details())


async def test_plan_validation_errors():
    app = common_pb2.Application(language="python", framework="flask")
    good = common_pb2.RepositoryAnalysis(applications=[app])
    cases = [
        (planner_pb2.PlanRequest(), grpc.StatusCode.INVALID_ARGUMENT, "set either repository or analysis"),
        (planner_pb2.PlanRequest(analysis=common_pb2.RepositoryAnalysis()), grpc.StatusCode.FAILED_PRECONDITION, "no deployable application"),
        (planner_pb2.PlanRequest(analysis=good, intent=common_pb2.DeploymentIntent(prompt="x" * 5000)), grpc.StatusCode.INVALID_ARGUMENT, "over the limit of 4000"),
        (planner_pb2.PlanRequest(analysis=good, intent=common_pb2.DeploymentIntent(budget=common_pb2.Budget(max_monthly_cost_usd=-1))), grpc.StatusCode.INVALID_ARGUMENT, "must be >= 0"),
        (planner_pb2.PlanRequest(analysis=good, intent=common_pb2.DeploymentIntent(budget=common_pb2.Budget(alert_threshold=1.5))), grpc.StatusCode.INVALID_ARGUMENT, "must be in [0, 1]"),
        (planner_pb2.PlanRequest(analysis=good, intent=common_pb2.DeploymentIntent(strategy=9)), grpc.StatusCode.INVALID_ARGUMENT, "unknown value 9"),
    ]
    s = settings()
    async with serve(PlannerApp(s), s) as running:
        for request, code, message in cases:
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await call(running, "Plan", request)
            assert error.value.code() == code and message in error.value.details(), error.value.details()
        ok = await call(running, "Plan", planner_pb2.PlanRequest(analysis=good))
        assert ok.plan.strategy != common_pb2.STRATEGY_UNSPECIFIED


def test_settings_defaults():
    s = PlannerSettings()
    assert s.grpc_port == 50053 and not s.allow_local_paths and s.rag_target == ""
