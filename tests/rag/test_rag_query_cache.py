"""The query-vector cache: a repeated Retrieve skips the embedder, and is bounded and never stale."""

from __future__ import annotations

import numpy as np
import pytest
from scia.rag.embedding import QueryVectorCache
from scia.v1 import rag_pb2

from tests.helpers import serve_embedder
from tests.rag.factories import deployment_query, make_record
from tests.rag.harness import running_rag, tenant_name


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def vector(value: float) -> np.ndarray:
    return np.full(384, value, dtype=np.float32)


def test_least_recently_used_query_goes_first():
    cache = QueryVectorCache(2, ttl_seconds=60)
    cache.put("a", vector(1), "m")
    cache.put("b", vector(2), "m")
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("c", vector(3), "m")
    assert cache.get("b") is None
    assert cache.get("a")[0][0] == 1 and cache.get("c")[0][0] == 3
    assert len(cache) == 2


def test_entries_expire_after_the_ttl():
    clock = Clock()
    cache = QueryVectorCache(10, ttl_seconds=60, clock=clock)
    cache.put("a", vector(1), "m")
    clock.now = 60
    assert cache.get("a") is not None
    clock.now = 60.5
    assert cache.get("a") is None and len(cache) == 0


def test_another_model_empties_the_cache():
    cache = QueryVectorCache(10, ttl_seconds=60)
    cache.put("a", vector(1), "model-1")
    cache.saw_model("model-1")
    assert cache.get("a") is not None
    cache.saw_model("model-2")  # e.g. a record embedded by a new embedder deployment
    assert cache.get("a") is None
    cache.put("b", vector(2), "model-2")
    assert cache.get("b")[1] == "model-2"


def test_size_zero_keeps_nothing():
    cache = QueryVectorCache(0, ttl_seconds=60)
    cache.put("a", vector(1), "m")
    assert cache.get("a") is None and len(cache) == 0


@pytest.mark.asyncio(loop_scope="module")
async def test_a_repeated_query_is_answered_from_the_cache_even_with_the_embedder_down(rag_dsn, text_encoder):
    tenant = tenant_name()
    query = rag_pb2.RetrieveRequest(tenant=tenant, deployment=deployment_query("django", "Django admin for the shop"))
    other = rag_pb2.RetrieveRequest(tenant=tenant, deployment=deployment_query("gin", "Go API"))
    embedder = serve_embedder(text_encoder)
    running = await embedder.__aenter__()
    try:
        async with running_rag(dsn=rag_dsn, embedder_target=running.target, embedder_timeout_seconds=2) as rag:
            for framework in ("django", "flask", "gin"):
                await rag.stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=make_record(tenant, framework)))
            first = await rag.stub.Retrieve(query)
            assert not first.full_text_only and first.results[0].components.vector_similarity > 0
            assert len(rag.app.servicer.embedder.query_cache) == 1

            await embedder.__aexit__(None, None, None)
            running = None
            again = await rag.stub.Retrieve(query)
            # Same vector, same candidates: the embedder was not needed.
            assert not again.full_text_only
            assert [r.record.id for r in again.results] == [r.record.id for r in first.results]
            assert again.results[0].components.vector_similarity == pytest.approx(
                first.results[0].components.vector_similarity
            )
            # A query never seen before still needs the embedder: full-text only, and it says so.
            new = await rag.stub.Retrieve(other)
            assert new.full_text_only and any("full-text search only" in note for note in new.notes)
    finally:
        if running is not None:
            await embedder.__aexit__(None, None, None)
