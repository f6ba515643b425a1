"""The DeploymentMemory service over real loopback gRPC, on a real PostgreSQL + pgvector and the
real embedder (all-MiniLM-L6-v2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import psycopg
import pytest
import pytest_asyncio
from scia.v1 import common_pb2, rag_pb2

from tests.helpers import free_port
from tests.rag.factories import deployment_query, make_record
from tests.rag.harness import SHARED_OWNER, SHARED_READER, running_rag, tenant_name

pytestmark = pytest.mark.asyncio(loop_scope="module")

Rerank = rag_pb2.RetrieveRequest.Rerank
COMPONENT_FIELDS = (
    "vector_similarity",
    "text_rank",
    "fused",
    "relevance",
    "feedback",
    "recency",
    "cost_efficiency",
    "outcome",
)


async def record(rag, rec: common_pb2.DeploymentRecord) -> rag_pb2.RecordDeploymentResponse:
    return await rag.stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=rec))


async def seed_corpus(rag, tenant: str) -> dict[str, str]:
    """A small realistic history; returns {label: id}."""
    now = datetime.now(UTC)
    specs = {
        "flask-ok": make_record(
            tenant, "flask", prompt="Flask REST API with PostgreSQL", outcome=common_pb2.OUTCOME_SUCCESS, cost=120
        ),
        "flask-oom": make_record(
            tenant,
            "flask",
            name="shop-api",
            prompt="Flask shop API behind a load balancer",
            outcome=common_pb2.OUTCOME_FAILED,
            reason="OOMKilled on t3.small: the workers ran out of memory",
            cost=60,
        ),
        "django": make_record(
            tenant,
            "django",
            prompt="Django admin site with Celery workers",
            outcome=common_pb2.OUTCOME_SUCCESS,
            cost=200,
            strategy=common_pb2.STRATEGY_KUBERNETES,
            instance_type="t3.medium",
        ),
        "fastapi": make_record(
            tenant,
            "fastapi",
            prompt="FastAPI machine learning inference API",
            cost=400,
            outcome=common_pb2.OUTCOME_DEGRADED,
            reason="p99 latency over 2 s",
        ),
        "gin": make_record(
            tenant,
            "gin",
            prompt="Go Gin microservice for payments",
            outcome=common_pb2.OUTCOME_SUCCESS,
            cost=80,
            strategy=common_pb2.STRATEGY_KUBERNETES,
        ),
        "gin-fail": make_record(
            tenant,
            "gin",
            name="gin-events",
            prompt="Go Gin event ingestion service",
            cost=90,
            outcome=common_pb2.OUTCOME_FAILED,
            reason="image pull error",
            created_at=now - timedelta(days=200),
        ),
        "express": make_record(
            tenant,
            "express",
            prompt="Node Express backend with Redis sessions",
            cost=70,
            strategy=common_pb2.STRATEGY_SERVERLESS,
            outcome=common_pb2.OUTCOME_SUCCESS,
        ),
        "spring": make_record(
            tenant,
            "spring-boot",
            prompt="Spring Boot order service",
            cost=300,
            created_at=now - timedelta(days=400),
            outcome=common_pb2.OUTCOME_SUCCESS,
        ),
    }
    ids = {}
    for label, rec in specs.items():
        ids[label] = (await record(rag, rec)).record.id
    return ids


@pytest.fixture(scope="module")
def corpus_tenant() -> str:
    return tenant_name("corpus")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def corpus(rag, corpus_tenant) -> dict[str, str]:
    return await seed_corpus(rag, corpus_tenant)


# --- writes --------------------------------------------------------------------------------------


async def test_record_is_an_idempotent_upsert(rag):
    tenant = tenant_name()
    rec = make_record(tenant, "flask")
    first = await record(rag, rec)
    second = await record(rag, rec)
    rec.plan.cost.monthly_total_usd = 250  # same revision, changed plan: replaced
    third = await record(rag, rec)
    assert (first.created, second.created, third.created) == (True, False, False)
    assert first.record.id == second.record.id == third.record.id
    assert third.record.plan.cost.monthly_total_usd == 250
    assert third.record.outcome == common_pb2.OUTCOME_PENDING
    assert third.record.updated_at.ToDatetime() >= first.record.updated_at.ToDatetime()
    listed = await rag.stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=tenant))
    assert listed.total == 1
    # Another revision of the same Deployment is another row.
    rec.revision = 2
    fourth = await record(rag, rec)
    assert fourth.created and fourth.record.id != first.record.id
    assert (await rag.stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=tenant))).total == 2


async def test_update_outcome(rag, rag_dsn):
    tenant = tenant_name()
    stored = (await record(rag, make_record(tenant, "django", prompt="Django shop"))).record
    assert not stored.HasField("outcome_at")
    updated = await rag.stub.UpdateOutcome(
        rag_pb2.UpdateOutcomeRequest(
            tenant=tenant,
            id=stored.id,
            outcome=common_pb2.OUTCOME_FAILED,
            reason="OOMKilled on t3.small",
            metrics=common_pb2.PerformanceMetrics(restarts=7, memory_utilization=0.99),
        )
    )
    assert updated.outcome == common_pb2.OUTCOME_FAILED and updated.outcome_reason == "OOMKilled on t3.small"
    assert updated.metrics.restarts == 7 and updated.HasField("outcome_at")
    assert updated.plan == stored.plan
    # The outcome is in the indexed text now: full-text finds it.
    found = await rag.stub.Retrieve(rag_pb2.RetrieveRequest(tenant=tenant, text="OOMKilled"))
    assert [r.record.id for r in found.results] == [stored.id]
    assert found.results[0].text_rank == 1
    async with await psycopg.AsyncConnection.connect(rag_dsn) as conn:
        row = await (
            await conn.execute("SELECT embedding_stale, embedded_text FROM deployments WHERE id = %s", (stored.id,))
        ).fetchone()
    assert row[0] is False and "outcome: failed (OOMKilled on t3.small)" in row[1]
    # Re-recording the revision without an outcome keeps the observed one.
    again = await record(rag, make_record(tenant, "django", prompt="Django shop", uid=stored.uid))
    assert not again.created and again.record.outcome == common_pb2.OUTCOME_FAILED
    assert again.record.outcome_reason == "OOMKilled on t3.small" and again.record.metrics.restarts == 7


async def test_feedback_is_one_vote_per_user_and_changeable(rag):
    tenant = tenant_name()
    stored = (await record(rag, make_record(tenant, "express"))).record

    async def vote(user: str, value: int, comment: str = "") -> common_pb2.DeploymentRecord:
        return await rag.stub.RecordFeedback(
            rag_pb2.RecordFeedbackRequest(tenant=tenant, id=stored.id, user=user, vote=value, comment=comment)
        )

    await vote("alice", 1, "worked first time")
    after = await vote("bob", -1)
    assert (after.feedback.up, after.feedback.down) == (1, 1)
    again = await vote("alice", 1, "worked first time")  # a retry changes nothing
    assert (again.feedback.up, again.feedback.down) == (1, 1)
    changed = await vote("alice", -1, "costs too much")
    assert (changed.feedback.up, changed.feedback.down) == (0, 2)
    assert sorted((v.user, v.vote) for v in changed.feedback.votes) == [("alice", -1), ("bob", -1)]
    assert next(v for v in changed.feedback.votes if v.user == "alice").comment == "costs too much"
    found = await rag.stub.Retrieve(rag_pb2.RetrieveRequest(tenant=tenant, text="express backend"))
    assert found.results[0].components.feedback == pytest.approx(1 / 4)  # (0 + 1) / (2 + 2)
    stats = await rag.stub.GetStats(rag_pb2.GetStatsRequest(tenant=tenant))
    assert (stats.feedback_up, stats.feedback_down) == (0, 2)


# --- retrieval -----------------------------------------------------------------------------------


async def test_similar_deployments_come_first_with_every_component(rag, corpus, corpus_tenant):
    response = await rag.stub.Retrieve(
        rag_pb2.RetrieveRequest(
            tenant=corpus_tenant,
            deployment=deployment_query("flask", "Flask REST API with a PostgreSQL database"),
            limit=8,
        )
    )
    assert response.reranker == "features" and not response.full_text_only
    frameworks = [r.record.analysis.applications[0].framework for r in response.results]
    assert frameworks[:2] == ["flask", "flask"], frameworks
    assert max(i for i, f in enumerate(frameworks) if f == "flask") < min(
        i for i, f in enumerate(frameworks) if f == "gin"
    )
    scores = [r.score for r in response.results]
    assert scores == sorted(scores, reverse=True)
    best = response.results[0]
    for name in COMPONENT_FIELDS:
        value = getattr(best.components, name)
        assert 0 < value <= 1, (name, value)
    assert best.vector_rank >= 1 and best.text_rank >= 1
    assert best.score == pytest.approx(
        0.5 * best.components.relevance
        + 0.15 * best.components.feedback
        + 0.2 * best.components.recency
        + 0.1 * best.components.cost_efficiency
        + 0.05 * best.components.outcome
    )


async def test_free_text_query(rag, corpus, corpus_tenant):
    response = await rag.stub.Retrieve(rag_pb2.RetrieveRequest(tenant=corpus_tenant, text="go microservice", limit=3))
    assert response.results[0].record.analysis.applications[0].framework == "gin"


async def test_similar_failures(rag, corpus, corpus_tenant):
    response = await rag.stub.Retrieve(
        rag_pb2.RetrieveRequest(
            tenant=corpus_tenant,
            text="flask app running out of memory",
            filter=rag_pb2.DeploymentFilter(outcomes=[common_pb2.OUTCOME_FAILED]),
            limit=5,
        )
    )
    assert {r.record.outcome for r in response.results} == {common_pb2.OUTCOME_FAILED}
    assert response.results[0].record.id == corpus["flask-oom"]
    assert response.results[0].components.outcome == 0.25


async def test_exact_and_hnsw_vector_paths_agree(rag, corpus, corpus_tenant):
    """Small scopes are searched exactly (store.exact_max_rows), big ones through HNSW: on the same
    rows both must find the same nearest records, and filters apply to both."""
    from scia.rag.store import DeploymentStore

    pool = rag.app.servicer.store.pool
    vectors, model = await rag.app.servicer.embedder.embed(["flask REST API with a PostgreSQL database"])
    everything, gin = rag_pb2.DeploymentFilter(), rag_pb2.DeploymentFilter(frameworks=["gin"])
    for value in (everything, gin):
        exact = await DeploymentStore(pool, exact_max_rows=5000).vector_candidates(
            [corpus_tenant], value, vectors[0], model, 4
        )
        hnsw = await DeploymentStore(pool, exact_max_rows=0).vector_candidates(
            [corpus_tenant], value, vectors[0], model, 4
        )
        assert [i for i, _ in exact] == [i for i, _ in hnsw]
        assert [s for _, s in exact] == pytest.approx([s for _, s in hnsw], abs=1e-6)
    assert {i for i, _ in exact} == {corpus["gin"], corpus["gin-fail"]}


async def test_filters(rag, corpus, corpus_tenant):
    query = deployment_query("flask", "Flask REST API")

    async def ids(**filter_fields) -> set[str]:
        response = await rag.stub.Retrieve(
            rag_pb2.RetrieveRequest(
                tenant=corpus_tenant, deployment=query, filter=rag_pb2.DeploymentFilter(**filter_fields), limit=50
            )
        )
        return {r.record.id for r in response.results}

    assert await ids(frameworks=["Gin"]) == {corpus["gin"], corpus["gin-fail"]}
    assert await ids(strategies=[common_pb2.STRATEGY_KUBERNETES]) == {corpus["django"], corpus["gin"]}
    assert await ids(max_monthly_cost_usd=80) == {corpus["flask-oom"], corpus["gin"], corpus["express"]}
    assert await ids(languages=["python"], outcomes=[common_pb2.OUTCOME_SUCCESS]) == {
        corpus["flask-ok"],
        corpus["django"],
    }
    old = rag_pb2.DeploymentFilter()
    old.created_before.FromDatetime(datetime.now(UTC) - timedelta(days=30))
    assert await ids(created_before=old.created_before) == {corpus["gin-fail"], corpus["spring"]}
    window = rag_pb2.DeploymentFilter()
    window.created_after.FromDatetime(datetime.now(UTC) - timedelta(days=300))
    window.created_before.FromDatetime(datetime.now(UTC) - timedelta(days=30))
    assert await ids(created_after=window.created_after, created_before=window.created_before) == {corpus["gin-fail"]}
    assert await ids(name="shop-api") == {corpus["flask-oom"]}


async def test_rerank_modes(rag, corpus, corpus_tenant):
    none = await rag.stub.Retrieve(
        rag_pb2.RetrieveRequest(tenant=corpus_tenant, text="flask", rerank=Rerank.RERANK_NONE)
    )
    assert none.reranker == "none"
    # The fused score over its maximum (first in both lists): the retrieval order, absolute.
    for result in none.results:
        assert result.score == pytest.approx(result.components.fused * 61 / 2)
    assert [r.score for r in none.results] == sorted((r.score for r in none.results), reverse=True)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await rag.stub.Retrieve(
            rag_pb2.RetrieveRequest(tenant=corpus_tenant, text="flask", rerank=Rerank.RERANK_CROSS_ENCODER)
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no cross-encoder model is loaded" in raised.value.details()
    cheap_first = await rag.stub.Retrieve(
        rag_pb2.RetrieveRequest(
            tenant=corpus_tenant, text="web api", weights=rag_pb2.RerankWeights(cost_efficiency=1), limit=8
        )
    )
    costs = [r.record.plan.cost.monthly_total_usd for r in cheap_first.results]
    assert costs == sorted(costs)


# --- tenancy -------------------------------------------------------------------------------------


async def test_tenants_are_isolated(rag, corpus, corpus_tenant):
    other = tenant_name("other")
    mine = (await record(rag, make_record(other, "flask", prompt="Flask REST API with PostgreSQL"))).record
    response = await rag.stub.Retrieve(
        rag_pb2.RetrieveRequest(tenant=other, deployment=deployment_query("flask", "Flask REST API"), limit=50)
    )
    assert [r.record.id for r in response.results] == [mine.id]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await rag.stub.GetDeployment(rag_pb2.GetDeploymentRequest(tenant=other, id=corpus["flask-ok"]))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    for call in (
        rag.stub.UpdateOutcome(
            rag_pb2.UpdateOutcomeRequest(tenant=other, id=corpus["flask-ok"], outcome=common_pb2.OUTCOME_FAILED)
        ),
        rag.stub.RecordFeedback(
            rag_pb2.RecordFeedbackRequest(tenant=other, id=corpus["flask-ok"], user="mallory", vote=-1)
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await rag.stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=other))
    assert [r.id for r in listed.records] == [mine.id] and listed.total == 1
    stats = await rag.stub.GetStats(rag_pb2.GetStatsRequest(tenant=other))
    assert stats.total == 1 and dict(stats.by_framework) == {"flask": 1}
    untouched = await rag.stub.GetDeployment(rag_pb2.GetDeploymentRequest(tenant=corpus_tenant, id=corpus["flask-ok"]))
    assert untouched.outcome == common_pb2.OUTCOME_SUCCESS and untouched.feedback.down == 0


async def test_sharing_is_one_way_and_read_only(rag):
    owned = (await record(rag, make_record(SHARED_OWNER, "rails", prompt="Rails storefront"))).record
    readers = (await record(rag, make_record(SHARED_READER, "rails", prompt="Rails blog"))).record
    found = await rag.stub.Retrieve(rag_pb2.RetrieveRequest(tenant=SHARED_READER, text="rails", limit=10))
    assert {r.record.id for r in found.results} == {owned.id, readers.id}
    assert (
        await rag.stub.GetDeployment(rag_pb2.GetDeploymentRequest(tenant=SHARED_READER, id=owned.id))
    ).tenant == SHARED_OWNER
    assert (await rag.stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=SHARED_READER))).total == 2
    assert (await rag.stub.GetStats(rag_pb2.GetStatsRequest(tenant=SHARED_READER))).total == 2
    # The reader may vote on what is shared with it, not change its outcome.
    voted = await rag.stub.RecordFeedback(
        rag_pb2.RecordFeedbackRequest(tenant=SHARED_READER, id=owned.id, user="reader", vote=1)
    )
    assert voted.feedback.up == 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await rag.stub.UpdateOutcome(
            rag_pb2.UpdateOutcomeRequest(tenant=SHARED_READER, id=owned.id, outcome=common_pb2.OUTCOME_FAILED)
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    # Not the other way round.
    back = await rag.stub.Retrieve(rag_pb2.RetrieveRequest(tenant=SHARED_OWNER, text="rails", limit=10))
    assert {r.record.id for r in back.results} == {owned.id}
    assert (await rag.stub.GetStats(rag_pb2.GetStatsRequest(tenant=SHARED_OWNER))).total == 1


# --- listing and stats ---------------------------------------------------------------------------


async def test_pagination_newest_first(rag):
    tenant = tenant_name()
    base = datetime.now(UTC) - timedelta(days=10)
    ids = []
    for day in range(7):
        framework = "flask" if day % 2 else "gin"
        ids.append((await record(rag, make_record(tenant, framework, created_at=base + timedelta(days=day)))).record.id)
    pages, token = [], ""
    while True:
        page = await rag.stub.ListDeployments(
            rag_pb2.ListDeploymentsRequest(tenant=tenant, page_size=3, page_token=token)
        )
        assert page.total == 7
        pages.append([r.id for r in page.records])
        token = page.next_page_token
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == list(reversed(ids))
    flask = await rag.stub.ListDeployments(
        rag_pb2.ListDeploymentsRequest(
            tenant=tenant, filter=rag_pb2.DeploymentFilter(frameworks=["flask"]), page_size=2
        )
    )
    assert flask.total == 3 and len(flask.records) == 2 and flask.next_page_token
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await rag.stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=tenant, page_token=flask.next_page_token))
    assert (
        raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        and "different tenant or filter" in raised.value.details()
    )


async def test_stats(rag, corpus, corpus_tenant):
    stats = await rag.stub.GetStats(rag_pb2.GetStatsRequest(tenant=corpus_tenant))
    assert stats.total == 8
    assert dict(stats.by_outcome) == {"OUTCOME_SUCCESS": 5, "OUTCOME_FAILED": 2, "OUTCOME_DEGRADED": 1}
    assert dict(stats.by_strategy) == {"STRATEGY_VM": 5, "STRATEGY_KUBERNETES": 2, "STRATEGY_SERVERLESS": 1}
    assert stats.by_framework["flask"] == 2 and stats.by_framework["gin"] == 2
    assert stats.estimated_monthly_cost_usd == pytest.approx(120 + 60 + 200 + 400 + 80 + 90 + 70 + 300)
    assert stats.reranker == "features"
    failed = await rag.stub.GetStats(
        rag_pb2.GetStatsRequest(
            tenant=corpus_tenant, filter=rag_pb2.DeploymentFilter(outcomes=[common_pb2.OUTCOME_FAILED])
        )
    )
    assert failed.total == 2 and dict(failed.by_framework) == {"flask": 1, "gin": 1}


# --- errors --------------------------------------------------------------------------------------


async def test_bad_requests_get_clear_errors_and_the_service_keeps_answering(rag):
    tenant = tenant_name()
    too_long = make_record(tenant, "flask", prompt="x" * 10_001)
    cases = [
        (
            rag.stub.RecordDeployment,
            rag_pb2.RecordDeploymentRequest(record=make_record("Team_A", "flask")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "record.tenant",
        ),
        (
            rag.stub.RecordDeployment,
            rag_pb2.RecordDeploymentRequest(record=too_long),
            grpc.StatusCode.INVALID_ARGUMENT,
            "record.intent.prompt: has 10001 characters, over the limit of 10000",
        ),
        (
            rag.stub.RecordDeployment,
            rag_pb2.RecordDeploymentRequest(record=make_record(tenant, "flask", revision=0)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "record.revision",
        ),
        (
            rag.stub.GetDeployment,
            rag_pb2.GetDeploymentRequest(tenant=tenant, id="42"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "id: '42' is not a UUID",
        ),
        (
            rag.stub.GetDeployment,
            rag_pb2.GetDeploymentRequest(tenant="a" * 64, id="42"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "limit of 63",
        ),
        (
            rag.stub.GetDeployment,
            rag_pb2.GetDeploymentRequest(tenant=tenant, id="6f1c0c7e-4a43-4c7f-9a53-2b4c2ad1e0a1"),
            grpc.StatusCode.NOT_FOUND,
            "not found in tenant",
        ),
        (
            rag.stub.RecordFeedback,
            rag_pb2.RecordFeedbackRequest(tenant=tenant, id="6f1c0c7e-4a43-4c7f-9a53-2b4c2ad1e0a1", user="u", vote=2),
            grpc.StatusCode.INVALID_ARGUMENT,
            "vote: is 2: it must be +1 or -1",
        ),
        (
            rag.stub.RecordFeedback,
            rag_pb2.RecordFeedbackRequest(tenant=tenant, id="6f1c0c7e-4a43-4c7f-9a53-2b4c2ad1e0a1", user="u", vote=1),
            grpc.StatusCode.NOT_FOUND,
            "not found",
        ),
        (
            rag.stub.UpdateOutcome,
            rag_pb2.UpdateOutcomeRequest(tenant=tenant, id="6f1c0c7e-4a43-4c7f-9a53-2b4c2ad1e0a1"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "outcome: is required",
        ),
        (
            rag.stub.ListDeployments,
            rag_pb2.ListDeploymentsRequest(tenant=tenant, page_size=501),
            grpc.StatusCode.INVALID_ARGUMENT,
            "page_size: is 501, over the limit of 500",
        ),
        (
            rag.stub.ListDeployments,
            rag_pb2.ListDeploymentsRequest(tenant=tenant, page_token="garbage"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "page_token",
        ),
        (
            rag.stub.Retrieve,
            rag_pb2.RetrieveRequest(tenant=tenant, text="flask", limit=51),
            grpc.StatusCode.INVALID_ARGUMENT,
            "limit: is 51, over the limit of 50",
        ),
        (
            rag.stub.Retrieve,
            rag_pb2.RetrieveRequest(tenant=tenant),
            grpc.StatusCode.INVALID_ARGUMENT,
            "query: is required",
        ),
        (
            rag.stub.Retrieve,
            rag_pb2.RetrieveRequest(tenant=tenant, text="x", filter=rag_pb2.DeploymentFilter(max_monthly_cost_usd=-1)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "filter.max_monthly_cost_usd",
        ),
        (
            rag.stub.GetStats,
            rag_pb2.GetStatsRequest(tenant=""),
            grpc.StatusCode.INVALID_ARGUMENT,
            "tenant: is required",
        ),
    ]
    for method, request, code, message in cases:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await method(request)
        assert raised.value.code() == code, (request, raised.value.details())
        assert message in raised.value.details(), raised.value.details()
    assert (await record(rag, make_record(tenant, "flask"))).created
    assert (await rag.stub.GetStats(rag_pb2.GetStatsRequest(tenant=tenant))).total == 1


async def test_embedder_unavailable(rag, rag_dsn, corpus, corpus_tenant):
    async with running_rag(dsn=rag_dsn, embedder_target=f"127.0.0.1:{free_port()}", embedder_timeout_seconds=2) as down:
        before = (await down.stub.GetStats(rag_pb2.GetStatsRequest(tenant=corpus_tenant))).total
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await down.stub.RecordDeployment(
                rag_pb2.RecordDeploymentRequest(record=make_record(corpus_tenant, "flask"))
            )
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "embedder at 127.0.0.1:" in raised.value.details() and "nothing was written" in raised.value.details()
        assert (await down.stub.GetStats(rag_pb2.GetStatsRequest(tenant=corpus_tenant))).total == before

        found = await down.stub.Retrieve(rag_pb2.RetrieveRequest(tenant=corpus_tenant, text="gin microservice"))
        assert found.full_text_only and any("full-text search only" in note for note in found.notes)
        assert found.results and found.results[0].record.id == corpus["gin"]
        assert found.results[0].vector_rank == 0 and found.results[0].components.vector_similarity == 0
        structured = await down.stub.Retrieve(
            rag_pb2.RetrieveRequest(tenant=corpus_tenant, deployment=deployment_query("django", "Django admin"))
        )
        assert structured.full_text_only and structured.results[0].record.id == corpus["django"]

        # An outcome is stored even then; the vector is refreshed once the embedder is back.
        updated = await down.stub.UpdateOutcome(
            rag_pb2.UpdateOutcomeRequest(
                tenant=corpus_tenant, id=corpus["express"], outcome=common_pb2.OUTCOME_DEGRADED, reason="cold starts"
            )
        )
        assert updated.outcome == common_pb2.OUTCOME_DEGRADED
    async with await psycopg.AsyncConnection.connect(rag_dsn) as conn:
        stale = "SELECT embedding_stale FROM deployments WHERE id = %s"
        assert (await (await conn.execute(stale, (corpus["express"],))).fetchone())[0] is True
        assert await rag.app.servicer.reembed_stale() == 1
        assert (await (await conn.execute(stale, (corpus["express"],))).fetchone())[0] is False
    await rag.stub.UpdateOutcome(
        rag_pb2.UpdateOutcomeRequest(tenant=corpus_tenant, id=corpus["express"], outcome=common_pb2.OUTCOME_SUCCESS)
    )
