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


async def test_rows_from_before_migration_2_get_binary_records_and_inline_vectors(pg_server, text_encoder, embedder_target):
    """Rows written under migration 1 (record as JSON only, vectors moved to TOAST) are back-filled
    by the service at start: binary record, vector inline; answers stay the same meanwhile."""
    from psycopg.types.json import Jsonb
    from scia.rag.records import columns_of
    from scia.rag.ranking import record_text

    dsn = create_database(pg_server, "backfill")
    await migrate(dsn, [m for m in load_migrations() if m.version == 1])
    tenant = tenant_name()
    records = [make_record(tenant, framework) for framework in ("flask", "django", "gin")]
    texts = [record_text(record) for record in records]
    vectors = text_encoder.encode(texts)
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        from pgvector.psycopg import register_vector_async

        await register_vector_async(conn)
        for record, text, vector in zip(records, texts, vectors, strict=True):
            columns = columns_of(record)
            await conn.execute(
                "INSERT INTO deployments (id, tenant, name, uid, revision, language, framework, record, "
                "embedded_text, embedding, embedding_model) "
                "VALUES (gen_random_uuid(), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (tenant, columns.name, columns.uid, columns.revision, columns.language, columns.framework,
                 Jsonb(columns.record_json), text, vector, text_encoder.description.name),
            )
        await conn.commit()
        out_of_line = "SELECT count(*) FROM deployments WHERE pg_column_toast_chunk_id(embedding) IS NOT NULL"
        assert (await (await conn.execute(out_of_line)).fetchone())[0] == 3  # as before migration 2

    async with running_rag(dsn=dsn, embedder_target=embedder_target) as rag:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            for _ in range(100):
                missing = (await (await conn.execute("SELECT count(*) FROM deployments WHERE record_pb IS NULL")).fetchone())[0]
                if missing == 0:
                    break
                await asyncio.sleep(0.1)
            assert missing == 0
            assert (await (await conn.execute(out_of_line)).fetchone())[0] == 0
            storage = "SELECT attstorage FROM pg_attribute WHERE attrelid = 'deployments'::regclass AND attname = 'embedding'"
            assert (await (await conn.execute(storage)).fetchone())[0] == "p"
            options = "SELECT reloptions FROM pg_class WHERE oid = 'deployments'::regclass"
            assert "toast_tuple_target=4080" in (await (await conn.execute(options)).fetchone())[0]
        # A row written now keeps what every Retrieve reads in the heap page: the vector and
        # the full-text vector (the JSON record, read only by SQL users, may move out).
        fresh = make_record(tenant, "fastapi", prompt="FastAPI service for invoices " + "with PDF exports " * 40)
        written = await rag.stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=fresh))
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            inline = await (
                await conn.execute(
                    "SELECT pg_column_toast_chunk_id(embedding) IS NULL, pg_column_toast_chunk_id(tsv) IS NULL,"
                    " pg_column_size(d.*) > 2032 FROM deployments d WHERE id = %s",
                    (written.record.id,),
                )
            ).fetchone()
        assert inline == (True, True, True)
        listed = await rag.stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=tenant))
        by_uid = {r.uid: r for r in listed.records}
        for record in records:
            stored = by_uid[record.uid]
            assert stored.analysis == record.analysis and stored.plan == record.plan and stored.intent == record.intent
        found = await rag.stub.Retrieve(rag_pb2.RetrieveRequest(tenant=tenant, text="django web API", limit=1))
        assert not found.full_text_only and found.results[0].record.analysis.applications[0].framework == "django"
