"""Schema migrations and the embedded-PostgreSQL start-up path."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from scia.rag.db import load_migrations, migrate
from scia.v1 import rag_pb2

from tests.rag.factories import make_record
from tests.rag.harness import create_database, running_rag, tenant_name

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_replicas_starting_together_apply_each_migration_once(pg_server):
    dsn = create_database(pg_server, "migrations")
    results = await asyncio.gather(migrate(dsn), migrate(dsn), migrate(dsn))
    versions = [m.version for m in load_migrations()]
    assert sorted(results, key=len) == [[], [], versions]
    assert await migrate(dsn) == []
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        applied = await (await conn.execute("SELECT version FROM schema_migrations ORDER BY version")).fetchall()
        assert [row[0] for row in applied] == versions
        indexes = dict(
            await (
                await conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'deployments'")
            ).fetchall()
        )
    hnsw = indexes["deployments_embedding_idx"]
    assert "USING hnsw (embedding vector_cosine_ops)" in hnsw and "m='16'" in hnsw and "ef_construction='64'" in hnsw
    assert "USING gin (tsv)" in indexes["deployments_tsv_idx"]
    assert "deployments_revision_key" in indexes


async def test_service_starts_its_own_embedded_postgres(tmp_path, embedder_target):
    data_dir = tmp_path / "pg"
    async with running_rag(dsn="", data_dir=data_dir, embedder_target=embedder_target) as rag:
        tenant = tenant_name()
        created = await rag.stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=make_record(tenant, "flask")))
        assert created.created
        assert (await rag.stub.GetStats(rag_pb2.GetStatsRequest(tenant=tenant))).total == 1
        assert (data_dir / "PG_VERSION").is_file()
    assert not (data_dir / "postmaster.pid").exists()  # stopped with the service
