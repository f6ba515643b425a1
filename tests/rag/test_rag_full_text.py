"""The bounded full-text branch of Retrieve (`DeploymentStore.text_candidates`), on a real
PostgreSQL: common words left out by the table's statistics, only the newest matches ranked.

Its own test module, so its own database: PostgreSQL's statistics are per table, and these tests
ANALYZE a table whose content they control.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from scia.rag.store import DeploymentStore
from scia.v1 import rag_pb2

from tests.rag.factories import deployment_query, make_record
from tests.rag.harness import tenant_name

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def seed(rag, tenant: str, count: int, *, rare_every: int = 0) -> list[str]:
    """`count` flask records, oldest first, all saying "steady traffic"; every `rare_every`-th one
    also uses celery. Returns their ids in creation order."""
    ids = []
    start = datetime.now(UTC) - timedelta(days=count)
    for number in range(count):
        prompt = "flask shop with steady traffic"
        if rare_every and number % rare_every == 0:
            prompt += " and celery workers sending invoices"
        record = make_record(tenant, "flask", prompt=prompt, created_at=start + timedelta(days=number))
        response = await rag.stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record))
        ids.append(response.record.id)
    return ids


def analyze(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE deployments")


async def test_common_words_are_left_out_once_the_table_is_analyzed(rag, rag_dsn):
    tenant = tenant_name()
    ids = await seed(rag, tenant, 40, rare_every=10)
    # Ranks the newest 5 matches: a word in more rows than that (and in over 5% of them) is common.
    store = DeploymentStore(rag.app.servicer.store.pool, rank_limit=5)
    keywords = "flask steady traffic celery invoices"
    everything = await store.text_candidates([tenant], rag_pb2.DeploymentFilter(), keywords, "any", 50)
    assert {i for i, _ in everything} == set(ids[-5:])  # no statistics yet: every word counts, newest 5 ranked

    analyze(rag_dsn)
    store = DeploymentStore(rag.app.servicer.store.pool, rank_limit=5)  # a fresh one: statistics are cached
    found = await store.text_candidates([tenant], rag_pb2.DeploymentFilter(), keywords, "any", 50)
    # "flask", "steady", "traffic" are in all 40 rows; celery/invoices in 4 (10%, but fewer than 5).
    assert {i for i, _ in found} == {ids[n] for n in range(0, 40, 10)}
    assert all(0 < rank < 1 for _, rank in found)
    # Only common words: nothing to search for.
    assert await store.text_candidates([tenant], rag_pb2.DeploymentFilter(), "flask traffic", "any", 50) == []
    # A small table keeps every word (the service's default ranks 200: nothing here is common).
    default = rag.app.servicer.store
    assert len(await default.text_candidates([tenant], rag_pb2.DeploymentFilter(), "flask traffic", "any", 50)) == 40
    # With only common words the vector branch still answers Retrieve.
    response = await rag.stub.Retrieve(
        rag_pb2.RetrieveRequest(tenant=tenant, deployment=deployment_query("flask", "steady traffic"), limit=3)
    )
    assert len(response.results) == 3 and not response.full_text_only


async def test_only_the_newest_matches_are_ranked(rag, rag_dsn):
    tenant = tenant_name()
    ids = await seed(rag, tenant, 12, rare_every=1)
    analyze(rag_dsn)
    # No word is ever common here (share 1): this test is about the bound alone.
    bounded = DeploymentStore(rag.app.servicer.store.pool, rank_limit=5, max_lexeme_share=1.0)
    found = await bounded.text_candidates([tenant], rag_pb2.DeploymentFilter(), "celery invoices", "any", 20)
    assert {i for i, _ in found} == set(ids[-5:])
    # Free text (all words required) is bounded the same way.
    found = await bounded.text_candidates([tenant], rag_pb2.DeploymentFilter(), "celery invoices", "websearch", 20)
    assert {i for i, _ in found} == set(ids[-5:])


async def test_filters_and_tenancy_apply_to_the_full_text_branch(rag, rag_dsn):
    tenant, other = tenant_name(), tenant_name()
    mine = await seed(rag, tenant, 3, rare_every=1)
    await seed(rag, other, 3, rare_every=1)
    gin = make_record(tenant, "gin", prompt="gin service with celery-like invoices queue")
    await rag.stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=gin))
    analyze(rag_dsn)
    store: DeploymentStore = rag.app.servicer.store
    found = await store.text_candidates(
        [tenant], rag_pb2.DeploymentFilter(frameworks=["flask"]), "invoices", "any", 20
    )
    assert {i for i, _ in found} == set(mine)

