"""RAG service benchmark (issue 3): 100k realistic records, recall, Retrieve latency, ingest, NDCG.

`python -m bench rag` (or `python -m bench.rag --records N` for a quick run; the env variable
SCIA_BENCH_RAG_RECORDS does the same for `python -m bench rag`).

1. Seed N records (default 100,000) of realistic history from `bench.scenarios` (clustered apps,
   outcomes with reasons, feedback votes), never random vectors. Their texts are the service's own
   `record_text`; the distinct texts are embedded for real by the embedder service over gRPC, once:
   the vectors are cached per text under `.scia/bench/embeddings/<model hash>/` (EmbeddingCache),
   so a rerun, a crashed run or a generator change re-embeds only what is missing
   (`--embed-only` fills the cache ahead of a run; ~50 ms per record text on 2 idle cores).
   `--cached-prefix` seeds only the longest prefix of the corpus whose texts are cached, and
   `--replicate-to N` copies it up to N rows (a labelled scale-up, in the results).
   The rows are then loaded with binary COPY into the service's own schema (migrations applied by
   the service), NOT through gRPC: 100k RecordDeployment calls would re-embed every text and take
   hours here. Ingest through gRPC (embedding included) is measured on a batch (4).
2. recall@10 of the service's vector query (`DeploymentStore.vector_candidates`: HNSW with
   iterative scan, or exact for scopes of at most 5,000 rows) against exact search (same SQL with
   index scans disabled, prepare=False), unfiltered and with a ~2% selective filter, on held-out
   query texts. Also the full-text branch alone, bounded, against the unbounded SQL it replaced.
3. Retrieve p50/p99 over gRPC against the service as its own process: no re-rank, features
   re-rank, and cross-encoder re-rank of the top 20 (a model fine-tuned here on scenario pairs,
   cached under `.scia/bench/models/`, or SCIA_BENCH_RAG_MODEL). Embed of the query text alone
   over gRPC is measured in the same run as the floor of Retrieve's latency.
4. Ingest through gRPC, embedding included: Import (streaming, batches of 32) and sequential
   RecordDeployment of a measured batch of new records, into the seeded table.
5. NDCG@5 of vector order, features re-rank and cross-encoder re-rank on held-out queries with
   oracle relevance labels (`scia.rag.evaluation`).

The embedded PostgreSQL lives in `.scia/bench/postgres`; the seeded database is kept and reused
when its seed marker matches (records, seed, texts hash).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from bench import scenarios
from bench.common import exit_on_sigterm, percentiles, service_process, write_results
from scia.rag.db import EmbeddedPostgres, create_database, load_migrations, migrate
from scia.rag.embedding import EmbedderClient
from scia.rag.ranking import record_text
from scia.rag.records import columns_of
from scia.rag.store import metrics_json
from scia.runtime.client import create_channel
from scia.v1 import common_pb2, rag_pb2, rag_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".scia" / "bench"
EMBEDDINGS_DIR = BENCH_DIR / "embeddings"
MODELS_DIR = BENCH_DIR / "models"
DATA_DIR = BENCH_DIR / "postgres"
RAG_SERVICE = rag_pb2.DESCRIPTOR.services_by_name["DeploymentMemory"]
TENANT = "bench"
SEED = 42
QUERIES = 200  # held-out queries for recall (SQL only: cheap)
# Calls per Retrieve mode. p99 of 100 samples is the second-worst call; of 30, the worst.
LATENCY_CALLS = int(os.environ.get("SCIA_BENCH_RAG_CALLS", "100"))
CE_CALLS = int(os.environ.get("SCIA_BENCH_RAG_CE_CALLS", "30"))
# Cross-encoder training queries (x ~6 pairs each) and the NDCG set's size.
TRAIN_QUERIES = int(os.environ.get("SCIA_BENCH_RAG_TRAIN_QUERIES", "600"))
TRAIN_EPOCHS = int(os.environ.get("SCIA_BENCH_RAG_TRAIN_EPOCHS", "2"))
# Transformer layers kept of MiniLM-L6 (docs/benchmarks.md: latency and NDCG by layers).
TRAIN_LAYERS = int(os.environ.get("SCIA_BENCH_RAG_TRAIN_LAYERS", "2"))
# Validation queries (training generator, own query range) the model's vector weight is fitted on.
VALIDATION_QUERIES = int(os.environ.get("SCIA_BENCH_RAG_VALIDATION_QUERIES", "50"))
# The previous cross-encoder (6 layers, 256 tokens, embedding-text inputs) timed beside the new one.
BASELINE_MODEL = os.environ.get("SCIA_BENCH_RAG_BASELINE_MODEL",
                                str(BENCH_DIR / "models" / "scenario-4529f2f66c80" / "current"))
NDCG_RECORDS = int(os.environ.get("SCIA_BENCH_RAG_NDCG_RECORDS", "1000"))
NDCG_QUERIES = int(os.environ.get("SCIA_BENCH_RAG_NDCG_QUERIES", "50"))
FILTER_TARGET = 0.02  # the selective filter's share of the rows


def records_wanted() -> int:
    return int(os.environ.get("SCIA_BENCH_RAG_RECORDS", "100000"))


# --- 1. corpus, embeddings, seeding ------------------------------------------------------------


@dataclass
class Corpus:
    records: list[common_pb2.DeploymentRecord]
    texts: list[str]  # per record
    distinct: list[str]  # first-appearance order
    index: list[int]  # record -> row of `distinct`

    @property
    def digest(self) -> str:
        return hashlib.sha256("\n".join(self.distinct).encode()).hexdigest()[:16]


# Distinct app codebases of the corpus, fixed whatever the size asked for: a smaller run is then a
# prefix of the full 100k corpus, so it reuses the full run's cached vectors chunk for chunk.
CORPUS_APPS = 100_000 // scenarios.RECORDS_PER_APP


def build_corpus(count: int, seed: int = SEED) -> Corpus:
    """The first `count` records of the corpus stream."""
    generator = scenarios.ScenarioGenerator(seed=seed)
    return corpus_of([record for _scenario, _plan, record in generator.records(count, TENANT, apps=CORPUS_APPS)])


def corpus_of(records: list[common_pb2.DeploymentRecord]) -> Corpus:
    texts = [record_text(record) for record in records]
    position: dict[str, int] = {}
    index = [position.setdefault(text, len(position)) for text in texts]
    return Corpus(records, texts, list(position), index)


class EmbeddingCache:
    """Vectors by (model, text), on disk under `.scia/bench/embeddings/<model hash>/`.

    Content-addressed per text, not per chunk: when the generator changes some records (the
    world model is shared with the planner's benchmark), only the changed texts are embedded
    again. Append-only shards `NNNNN.keys.npy` (sha256 digests) + `NNNNN.vectors.npy`, the keys
    written last with an atomic rename, so a crashed run leaves at most an ignored vectors file.
    """

    SHARD = 1024  # texts per shard written

    def __init__(self, model: str, root: Path = EMBEDDINGS_DIR) -> None:
        self.folder = root / hashlib.sha256(model.encode()).hexdigest()[:16]
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rows: dict[bytes, np.ndarray] = {}
        for keys_path in sorted(self.folder.glob("*.keys.npy")):
            vectors_path = keys_path.with_name(keys_path.name.replace(".keys.", ".vectors."))
            if not vectors_path.exists():
                continue
            keys, vectors = np.load(keys_path), np.load(vectors_path)
            if len(keys) != len(vectors):
                continue
            self.rows.update(zip((self._digest(k) for k in keys), vectors, strict=True))

    @staticmethod
    def _digest(stored: np.bytes_) -> bytes:
        # numpy's fixed-width bytes ("S32") drop trailing NUL bytes: pad the digest back to 32.
        return bytes(stored).ljust(32, b"\0")

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.sha256(text.encode()).digest()

    def missing(self, texts: list[str]) -> list[str]:
        return list(dict.fromkeys(t for t in texts if self.key(t) not in self.rows))

    def add(self, texts: list[str], vectors: np.ndarray) -> None:
        keys = np.array([self.key(t) for t in texts], dtype="S32")
        number = len(list(self.folder.glob("*.keys.npy")))
        base = self.folder / f"{number:05d}-{os.getpid()}"
        np.save(f"{base}.vectors.npy", vectors.astype(np.float32))
        np.save(f"{base}.tmp.npy", keys)
        os.replace(f"{base}.tmp.npy", f"{base}.keys.npy")
        self.rows.update(zip((self._digest(k) for k in keys), vectors.astype(np.float32), strict=True))

    def get(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), np.float32)
        return np.stack([self.rows[self.key(t)] for t in texts])


async def embed_cached(texts: list[str], target: str, *, batch: int = 32) -> tuple[np.ndarray, str]:
    """Vectors of `texts` from the embedder service, through the per-text cache.

    Missing texts are embedded in their order, by shards of 1024; within a shard shortest first in
    requests of `batch`: the service runs one request as one forward pass padded to its longest
    text, so grouping similar lengths wastes less compute (measured here: 21 texts/s
    length-sorted in 32s vs 14/s unsorted in 64s, in-process). In order, so an interrupted fill
    leaves a cached prefix of the corpus (`--cached-prefix` seeds it).
    """
    client = EmbedderClient(target, timeout=120)
    try:
        _, model = await client.embed(["warm-up"])
        cache = EmbeddingCache(model)
        missing = cache.missing(texts)
        started, done = time.perf_counter(), 0
        for shard_start in range(0, len(missing), EmbeddingCache.SHARD):
            shard = sorted(missing[shard_start : shard_start + EmbeddingCache.SHARD], key=len)
            vectors = [await _embed_with_retries(client, shard[i : i + batch]) for i in range(0, len(shard), batch)]
            cache.add(shard, np.concatenate(vectors))
            done += len(shard)
            if len(missing) > EmbeddingCache.SHARD:
                rate = done / (time.perf_counter() - started)
                print(f"  embedded {done}/{len(missing)} texts not cached ({rate:.1f}/s)", flush=True)
        if missing:
            EMBED_STATS["texts_embedded"] += len(missing)
            EMBED_STATS["seconds"] += time.perf_counter() - started
        return cache.get(texts), model
    finally:
        await client.close()


# Texts this process embedded for the cache (not counting cache hits), and how long it took.
EMBED_STATS = {"texts_embedded": 0, "seconds": 0.0}


EMBEDDER_ERRORS: list[str] = []  # failed Embed calls retried while seeding (reported)


async def _embed_with_retries(client: EmbedderClient, texts: list[str], attempts: int = 5) -> np.ndarray:
    """Embed, retrying a failed call. Why: the embedder service (services/embedder, model.py)
    tokenizes texts over 254 characters in a second thread, to flag truncation, while the batcher
    encodes with the same fast tokenizer; the shared tokenizer's truncation/padding state then
    races and a call sometimes fails with UNKNOWN "Unable to create tensor". Reported upstream;
    each retry is counted in the results."""
    from scia.rag.embedding import EmbedderUnavailable

    for attempt in range(attempts):
        try:
            return (await client.embed(texts))[0]
        except EmbedderUnavailable as error:
            EMBEDDER_ERRORS.append(str(error)[:200])
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


COPY_COLUMNS = (
    "id, tenant, name, uid, revision, repo_url, repo_commit, language, framework, strategy, cloud, region, "
    "estimated_monthly_cost_usd, outcome, outcome_reason, metrics, record, record_pb, embedded_text, embedding, "
    "embedding_model, embedding_stale, created_at, updated_at, outcome_at"
)
COPY_TYPES = [
    "uuid", "text", "text", "text", "int8", "text", "text", "text", "text", "int2", "int2", "text",
    "float8", "int2", "text", "jsonb", "jsonb", "bytea", "text", "vector", "text", "bool", "timestamptz",
    "timestamptz", "timestamptz",
]
# The migration's index definitions (0001): dropped for the bulk load, rebuilt identically after.
INDEXES = {
    "deployments_embedding_idx": "CREATE INDEX deployments_embedding_idx ON deployments "
    "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)",
    "deployments_tsv_idx": "CREATE INDEX deployments_tsv_idx ON deployments USING gin (tsv)",
}


def seed_database(dsn: str, corpus: Corpus, vectors: np.ndarray, model: str, marker: str) -> dict:
    """Bulk-load the corpus as the service would have stored it; returns timings."""
    from pgvector.psycopg import register_vector

    timings: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("TRUNCATE deployments CASCADE")
        conn.execute("CREATE TABLE IF NOT EXISTS bench_seed (marker text PRIMARY KEY, rows bigint)")
        conn.execute("TRUNCATE bench_seed")
        for name in INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        started = time.perf_counter()
        votes = []
        with conn.cursor() as cursor, cursor.copy(f"COPY deployments ({COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(COPY_TYPES)
            for number, record in enumerate(corpus.records):
                columns = columns_of(record)
                created = record.created_at.ToDatetime().replace(tzinfo=scenarios.UTC)
                record_id = uuid.UUID(int=(SEED << 64) + number, version=4)
                copy.write_row((
                    record_id, TENANT, columns.name, columns.uid, columns.revision, columns.repo_url,
                    columns.repo_commit, columns.language, columns.framework, columns.strategy, columns.cloud,
                    columns.region, columns.estimated_monthly_cost_usd, record.outcome, record.outcome_reason,
                    Jsonb(metrics_json(record.metrics)), Jsonb(columns.record_json), columns.record_pb,
                    corpus.texts[number],
                    vectors[corpus.index[number]], model, False, created, created, created,
                ))
                votes += [(record_id, v.user, v.vote, v.comment, created) for v in record.feedback.votes]
        with conn.cursor() as cursor, cursor.copy(
            "COPY feedback (record_id, user_name, vote, comment, updated_at) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["uuid", "text", "int2", "text", "timestamptz"])
            for row in votes:
                copy.write_row(row)
        timings["copy_seconds"] = round(time.perf_counter() - started, 1)
        conn.execute("SET maintenance_work_mem = '1GB'")  # the whole HNSW graph in memory: a fast build
        for name, statement in INDEXES.items():
            started = time.perf_counter()
            conn.execute(statement)
            timings[f"{name}_build_seconds"] = round(time.perf_counter() - started, 1)
        conn.execute("VACUUM ANALYZE deployments")
        conn.execute("VACUUM ANALYZE feedback")
        conn.execute("INSERT INTO bench_seed VALUES (%s, %s)", (marker, len(corpus.records)))
        timings["feedback_votes"] = len(votes)
    return timings


def seeded(dsn: str, marker: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('bench_seed') IS NOT NULL").fetchone()[0]
        return bool(exists) and conn.execute("SELECT 1 FROM bench_seed WHERE marker = %s", (marker,)).fetchone() is not None


# --- 2. recall ---------------------------------------------------------------------------------


def choose_filter(dsn: str) -> tuple[rag_pb2.DeploymentFilter, float, str]:
    """The framework whose share of the rows is closest to 2%: a realistic selective filter."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT framework, count(*)::float / sum(count(*)) OVER () FROM deployments WHERE tenant = %s "
            "GROUP BY framework",
            (TENANT,),
        ).fetchall()
    framework, share = min(rows, key=lambda row: abs(row[1] - FILTER_TARGET))
    return rag_pb2.DeploymentFilter(frameworks=[framework]), share, f"framework = {framework}"


async def recall(dsn: str, queries: np.ndarray, model: str, value: rag_pb2.DeploymentFilter, k: int = 10) -> dict:
    """recall@k of the service's vector query against exact search, and both latencies.

    Tie-aware: the corpus has identical texts (re-deployed revisions), hence identical vectors;
    an approximate hit counts when its distance is within the exact k-th distance (+1e-6), so an
    equally near twin is not counted as a miss.
    """
    from scia.rag.db import open_pool
    from scia.rag.records import filter_sql
    from scia.rag.store import DeploymentStore

    pool = await open_pool(dsn, min_size=1, max_size=2, timeout=30, statement_timeout_ms=0)
    store = DeploymentStore(pool)  # the service's defaults (ef_search 100, max_scan_tuples 20000)
    where, params = filter_sql([TENANT], value)
    hits, short, approx_times, exact_times = [], 0, [], []
    try:
        for vector in queries:
            started = time.perf_counter()
            approx = await store.vector_candidates([TENANT], value, vector, model, k)
            approx_times.append(time.perf_counter() - started)
            async with pool.connection() as conn, conn.transaction():
                await conn.execute("SET LOCAL enable_indexscan = off")
                await conn.execute("SET LOCAL enable_bitmapscan = off")
                started = time.perf_counter()
                cursor = await conn.execute(
                    f"SELECT id, embedding <=> %s FROM deployments WHERE {where} AND embedding_model = %s "
                    "ORDER BY embedding <=> %s LIMIT %s",
                    [vector, *params, model, vector, k],
                    prepare=False,  # a prepared plan would ignore the SETs above
                )
                exact = await cursor.fetchall()
                exact_times.append(time.perf_counter() - started)
            if not exact:
                continue
            kth = float(exact[-1][1]) + 1e-6
            found = sum(1 for _id, similarity in approx if 1.0 - similarity <= kth)
            hits.append(min(found, len(exact)) / len(exact))
            short += len(approx) < len(exact)
    finally:
        await pool.close()
    return {
        "recall_at_10": round(float(np.mean(hits)), 4),
        "min_recall": round(float(np.min(hits)), 2),
        "queries": len(hits),
        "queries_returning_fewer_than_10": short,
        "indexed": percentiles(approx_times),
        "exact": percentiles(exact_times),
    }


# The full-text branch as it was before it was bounded (baseline, same run): every content word
# of the query OR-ed, every matching row ranked.
UNBOUNDED_FULL_TEXT_SQL = """
WITH q AS (SELECT replace(plainto_tsquery('english', %s)::text, '&', '|')::tsquery AS query)
SELECT id, ts_rank_cd(tsv, q.query, 32) AS rank FROM deployments, q
WHERE tenant = ANY(%s) AND tsv @@ q.query ORDER BY rank DESC, created_at DESC, id LIMIT %s
"""


async def full_text_timing(dsn: str, queries: list[scenarios.Scenario], baseline_queries: int = 5) -> dict:
    """The service's full-text branch alone (`DeploymentStore.text_candidates`, any-word mode of a
    structured query, the service's default bounds), and the unbounded branch it replaced on the
    first `baseline_queries` queries (it takes seconds each at 100k rows). Also how many rows
    each one's tsquery matches, and how many of the bounded branch's top 20 the unbounded one had."""
    from scia.rag.config import RagSettings
    from scia.rag.db import open_pool
    from scia.rag.ranking import query_keywords
    from scia.rag.store import DeploymentStore, any_word_tsquery

    settings = RagSettings()
    pool = await open_pool(dsn, min_size=1, max_size=2, timeout=30, statement_timeout_ms=0)
    store = DeploymentStore(pool, max_lexeme_share=settings.full_text_max_lexeme_share,
                            max_words=settings.full_text_max_words, rank_limit=settings.full_text_rank_limit)
    times, baseline_times, matched, overlap, returned = [], [], [], [], []
    try:
        async with pool.connection() as conn:
            await conn.execute("ANALYZE deployments")  # as autovacuum would have after the load
        for number, scenario in enumerate(queries):
            keywords = query_keywords(scenario.analysis(), scenario.deployment_intent())
            started = time.perf_counter()
            hits = await store.text_candidates([TENANT], rag_pb2.DeploymentFilter(), keywords, "any", 20)
            times.append(time.perf_counter() - started)
            returned.append(len(hits))
            async with pool.connection() as conn:
                cursor = await conn.execute("SELECT lexeme FROM unnest(to_tsvector('english', %s))", (keywords,))
                lexemes = [row[0] for row in await cursor.fetchall()]
                tsquery = any_word_tsquery(lexemes, await store.common_lexemes(conn), store.max_lexeme_share,
                                           store.rank_limit, store.max_words)
                count = 0
                if tsquery:
                    cursor = await conn.execute(
                        "SELECT count(*) FROM deployments WHERE tenant = %s AND tsv @@ %s::tsquery", (TENANT, tsquery))
                    count = (await cursor.fetchone())[0]
                matched.append(count)
                if number < baseline_queries:
                    started = time.perf_counter()
                    cursor = await conn.execute(UNBOUNDED_FULL_TEXT_SQL, (keywords, [TENANT], 20))
                    unbounded = [str(row[0]) for row in await cursor.fetchall()]
                    baseline_times.append(time.perf_counter() - started)
                    overlap.append(len(set(unbounded) & {i for i, _ in hits}))
    finally:
        await pool.close()
    return {
        "bounded": {**percentiles(times), "queries": len(times), "mean_results": round(statistics.mean(returned), 1),
                    "rows_matching_median": int(statistics.median(matched)), "rows_matching_max": max(matched),
                    "max_lexeme_share": store.max_lexeme_share, "rank_limit": store.rank_limit},
        "unbounded_before": {**percentiles(baseline_times), "queries": len(baseline_times),
                             "top20_shared_with_bounded_mean": round(statistics.mean(overlap), 1) if overlap else None},
    }


# --- 3. Retrieve latency over gRPC --------------------------------------------------------------


async def retrieve_latency(target: str, queries: list[rag_pb2.DeploymentQuery], rerank: int, *,
                           limit: int = 5, candidates: int = 20,
                           warmup_queries: list[rag_pb2.DeploymentQuery] = ()) -> dict:
    """Retrieve p50/p99 over `queries`, after unmeasured calls of `warmup_queries`.

    The warm-up queries must differ from the measured ones: the service caches the vectors of
    query texts it has seen, and a repeated query skips the embedder (measured on purpose by
    calling this twice with the same queries: the second pass is all repeats).
    """
    channel = create_channel(target, [RAG_SERVICE], timeout=60)
    stub = rag_pb2_grpc.DeploymentMemoryStub(channel)
    times, rerankers, results = [], set(), []
    warmup = len(warmup_queries)
    try:
        for number, query in enumerate(list(warmup_queries) + list(queries)):
            request = rag_pb2.RetrieveRequest(tenant=TENANT, deployment=query, limit=limit,
                                              candidates=candidates, rerank=rerank)
            started = time.perf_counter()
            response = await stub.Retrieve(request)
            if number >= warmup:
                times.append(time.perf_counter() - started)
                rerankers.add(response.reranker)
                results.append(len(response.results))
    finally:
        await channel.close()
    return {**percentiles(times), "calls": len(times), "reranker": sorted(rerankers),
            "mean_results": round(statistics.mean(results), 2)}


async def embed_latency(target: str, texts: list[str]) -> dict:
    """One query text per Embed call over gRPC: the floor under Retrieve's latency."""
    client = EmbedderClient(target, timeout=60)
    times = []
    try:
        for number, text in enumerate(texts[:10] + texts):
            started = time.perf_counter()
            await client.embed([text])
            if number >= 10:
                times.append(time.perf_counter() - started)
    finally:
        await client.close()
    return {**percentiles(times), "calls": len(times)}


# --- 4. ingest through gRPC ---------------------------------------------------------------------


async def ingest(target: str, count: int, seed: int) -> dict:
    """Import `count` new records (a stream) and RecordDeployment `count // 4` more, one by one."""
    generator = scenarios.ScenarioGenerator(seed=seed)
    tenant = f"bench-ingest-{int(time.time())}"
    fresh = [record for _s, _p, record in generator.records(count + count // 4, tenant)]
    for record in fresh:
        record.ClearField("feedback")  # votes go through RecordFeedback, not the record
    channel = create_channel(target, [RAG_SERVICE], timeout=60, streaming_timeout=3600)
    stub = rag_pb2_grpc.DeploymentMemoryStub(channel)

    async def stream():
        for number, record in enumerate(fresh[:count]):
            yield rag_pb2.ImportRequest(tenant=tenant, record=record, source_key=str(number))

    try:
        started = time.perf_counter()
        summary = await stub.Import(stream())
        import_seconds = time.perf_counter() - started
        single = fresh[count:]
        started = time.perf_counter()
        for record in single:
            await stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record))
        record_seconds = time.perf_counter() - started
    finally:
        await channel.close()
    return {
        "import": {"records": summary.created + summary.updated, "skipped": summary.skipped,
                   "seconds": round(import_seconds, 1), "records_per_s": round(count / import_seconds, 1)},
        "record_deployment": {"records": len(single), "seconds": round(record_seconds, 1),
                              "records_per_s": round(len(single) / record_seconds, 1)},
    }


# --- 5. the cross-encoder: training and NDCG ----------------------------------------------------


def scenario_training_pairs(queries: int, *, seed: int = SEED + 1, pool_records: int = 4000, apps: int = 400,
                            same_framework: int = 8, other: int = 4, input_format: str | None = None,
                            query_start: int = 7_000_000) -> list[dict]:
    """Judged (query, record text, label) pairs for the cross-encoder, shaped like what it re-ranks.

    At runtime it sees the vector search's top 20: nearly all of the query's framework. So each
    training query gets up to `same_framework` records of its framework, drawn evenly from each
    relevance grade (hard negatives: same framework, another family or plan, grade 1), plus
    `other` records of other stacks (half of the same language when there are some). Texts are
    exactly what the service feeds a model of `input_format` (`rerank_input.pair_inputs` of the
    query and the stored record; default: the training default). Label = oracle relevance / 3.
    The generator seed (43) and query range (7,000,000+) are disjoint from the evaluation set's
    (seed 44); `query_start` moves the range (the validation queries use 8,000,000+).
    """
    import random

    from scia.rag.rerank_input import DEFAULT_FORMAT, pair_inputs

    input_format = input_format or DEFAULT_FORMAT
    generator = scenarios.ScenarioGenerator(seed=seed)
    # Distinct texts only: re-deployed revisions repeat theirs.
    first: dict[str, tuple[common_pb2.DeploymentRecord, scenarios.Scenario]] = {}
    for scenario, _plan, record in generator.records(pool_records, "train", apps=apps):
        first.setdefault(record_text(record), (record, scenario))
    by_framework: dict[str, list[tuple[str, common_pb2.DeploymentRecord, scenarios.Scenario]]] = {}
    for text, (record, scenario) in first.items():
        by_framework.setdefault(scenario.app.framework, []).append((text, record, scenario))
    everything = [(text, record, scenario) for text, (record, scenario) in first.items()]
    pairs: list[dict] = []
    for number in range(queries):
        rng = random.Random(f"{seed}:train-query:{query_start}:{number}" if query_start != 7_000_000
                            else f"{seed}:train-query:{number}")
        app = generator.app(rng.randrange(apps))
        query = scenarios.Scenario(f"t{number}", app, generator.intent(app, query_start + number))
        grades: dict[int, list[tuple[str, common_pb2.DeploymentRecord]]] = {}
        for text, record, scenario in by_framework.get(app.framework, []):
            grades.setdefault(scenarios.relevance(query, scenario), []).append((text, record))
        for items in grades.values():
            rng.shuffle(items)
        chosen: list[tuple[tuple[str, common_pb2.DeploymentRecord], int]] = []
        while len(chosen) < same_framework and any(grades.values()):
            for grade in sorted(grades, reverse=True):
                if grades[grade] and len(chosen) < same_framework:
                    chosen.append((grades[grade].pop(), grade))
        same_language = [(t, r, s) for t, r, s in everything
                         if s.app.language == app.language and s.app.framework != app.framework]
        elsewhere = [(t, r, s) for t, r, s in everything if s.app.framework != app.framework]
        for pool in (same_language or elsewhere, elsewhere):
            for text, record, scenario in rng.sample(pool, min(len(pool), other // 2)):
                chosen.append(((text, record), scenarios.relevance(query, scenario)))
        query_input, texts = pair_inputs(input_format, query.query(), [(r, t) for (t, r), _ in chosen])
        pairs += [{"query": query_input, "text": t, "label": grade / 3}
                  for t, (_, grade) in zip(texts, chosen, strict=True)]
    return pairs


def structured_evaluation_items(seed: int, records: int, queries: int, *, apps: int | None = None,
                                query_start: int = 5_000_000) -> list[dict]:
    """`scenarios.evaluation_items` of the generator with this seed (records and queries carry
    their protos, which a compact-v1 model is fed from)."""
    return scenarios.evaluation_items(scenarios.ScenarioGenerator(seed=seed), records, queries, apps=apps,
                                      query_start=query_start)


def _training_settings() -> dict:
    """The training settings of the bench's model (part of its cache key)."""
    from scia.rag.rerank_input import DEFAULT_FORMAT

    return {"epochs": TRAIN_EPOCHS, "layers": TRAIN_LAYERS, "max_length": 128, "input_format": DEFAULT_FORMAT}


def trained_model(queries: int | None = None, embedder_target: str | None = None) -> tuple[Path, dict]:
    """A cross-encoder fine-tuned on scenario pairs (`scenario_training_pairs`), cached by the
    pairs' and the training settings' hash under `.scia/bench/models/scenario-<hash>/`. Trained
    with `scia.rag.training.train`, the function behind `scia-rag train-reranker --pairs`; then,
    with an embedder, its `vector_weight` is fitted on validation queries (`fit_vector_weight`)."""
    from scia.rag import training

    given = os.environ.get("SCIA_BENCH_RAG_MODEL")
    if given:  # a model trained elsewhere (an earlier run, or a training running beside this one)
        path = Path(given)
        deadline = time.monotonic() + float(os.environ.get("SCIA_BENCH_RAG_MODEL_WAIT_SECONDS", "0"))
        while not (path / "scia_training.json").exists() and time.monotonic() < deadline:
            time.sleep(10)
        return path, {"given": str(path), **json.loads((path / "scia_training.json").read_text())}
    queries = queries or TRAIN_QUERIES
    pairs = scenario_training_pairs(queries)
    settings = _training_settings()
    digest = hashlib.sha256(json.dumps([pairs, settings], sort_keys=True).encode()).hexdigest()[:12]
    output = MODELS_DIR / f"scenario-{digest}"
    report_path = output / "report.json"
    if (output / "current").exists() and report_path.exists():
        report_dict = json.loads(report_path.read_text())
    else:
        pairs_file = scenarios.write_jsonl(BENCH_DIR / f"pairs-{digest}.jsonl", pairs)
        print(f"training the cross-encoder on {len(pairs)} pairs ({pairs_file})", flush=True)
        report = training.train(training.read_pairs(pairs_file), output, **settings)
        report_dict = {**asdict(report), "pairs_file": str(pairs_file), "queries": queries,
                       "labels": _counts(str(round(p["label"] * 3)) for p in pairs)}
        report_path.write_text(json.dumps(report_dict, indent=2))
    metadata = json.loads((output / "current" / "scia_training.json").read_text())
    if "score_range" not in metadata and embedder_target is not None:
        print("fitting the cross-encoder's vector weight on validation queries", flush=True)
        _run_apart(fit_vector_weight(embedder_target, output / "current"))
        metadata = json.loads((output / "current" / "scia_training.json").read_text())
    report_dict["vector_weight"] = metadata.get("vector_weight", 0.0)
    report_dict["score_range"] = metadata.get("score_range")
    report_dict["vector_weight_fit"] = metadata.get("vector_weight_fit")
    return output / "current", report_dict


def _run_apart(coroutine):
    """Run a coroutine on a loop of its own, leaving the caller's current event loop alone (run()
    drives its own loop between steps; asyncio.run would unset it)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


class CachedEmbedder:
    """The evaluation's embedder: the embedder service through the bench's vector cache."""

    def __init__(self, target: str) -> None:
        self.target = target

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, str]:
        return await embed_cached(texts, self.target)


async def fit_vector_weight(embedder_target: str, model_path: Path) -> dict:
    """Fit the model's served-relevance calibration (its score range, then the interpolation
    weight with the vector similarity: `evaluation.fit_calibration`) on VALIDATION queries: the
    training generator's seed (43) with a query range of their own (8,000,000+), never the
    held-out evaluation set (seed 44). The quantised model, as served. Written to the model."""
    from scia.rag.evaluation import EvaluationSet, fit_calibration
    from scia.rag.reranker import CrossEncoderReranker
    from scia.rag.training import set_calibration

    items = structured_evaluation_items(SEED + 1, NDCG_RECORDS, VALIDATION_QUERIES, query_start=8_000_000)
    reranker = CrossEncoderReranker(model_path, quantize=True)
    score_range, weight, report = await fit_calibration(EvaluationSet.from_items(items),
                                                        CachedEmbedder(embedder_target), reranker)
    set_calibration(model_path, weight, score_range, {
        "eval_set": f"scenario seed {SEED + 1}, queries 8000000+", "queries": report["queries"],
        "records": report["records"], "k": report["k"], "candidates": report["candidates"],
        "curve": report["vector_weight_curve"], "quantized": True})
    return report


async def ndcg(embedder_target: str, model_path: Path, records: int, queries: int) -> dict:
    """NDCG@5 on the held-out evaluation set (seed 44), of the model quantised (as served by
    default) and in fp32: the orderings without a model are the same in both."""
    from scia.rag.evaluation import EvaluationSet, evaluate
    from scia.rag.reranker import CrossEncoderReranker

    items = structured_evaluation_items(SEED + 2, records, queries)
    evaluation_set = EvaluationSet.from_items(items)
    embedder = CachedEmbedder(embedder_target)
    served = await evaluate(evaluation_set, embedder, CrossEncoderReranker(model_path, quantize=True))
    fp32 = await evaluate(evaluation_set, embedder, CrossEncoderReranker(model_path, quantize=False))
    served["fp32"] = {name: fp32[name] for name in ("cross_encoder", "cross_encoder_relevance",
                                                    "cross_encoder_features")}
    return served


def score_latency(model_path: Path, baseline_path: Path | None, queries: int = 30, candidates: int = 20) -> dict:
    """In-process `score_candidates` of `candidates` records per query, p50/p99: the model
    quantised and in fp32 and, in the same run (same load), the previous 6-layer/256-token model
    (`baseline_path`, its own embedding-text input format), for the ratio."""
    from scia.rag.reranker import CrossEncoderReranker

    generator = scenarios.ScenarioGenerator(seed=SEED + 2)
    records = [record for _scenario, _plan, record in generator.records(queries * candidates, "eval")]
    asked = [s.query() for s in scenarios.ScenarioGenerator(seed=SEED).scenarios(queries, start=9_000_000)]
    models = {"int8": (model_path, True), "fp32": (model_path, False)}
    if baseline_path is not None and baseline_path.exists():
        models["baseline_fp32"] = (baseline_path, False)
    results: dict = {"queries": queries, "candidates": candidates,
                     "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    loaded = {name: CrossEncoderReranker(path, quantize=quantize) for name, (path, quantize) in models.items()}
    times: dict[str, list[float]] = {name: [] for name in loaded}
    for number, query in enumerate(asked):
        batch = [(r, record_text(r)) for r in records[number * candidates:(number + 1) * candidates]]
        for name, reranker in loaded.items():  # interleaved: every model sees the same load
            if number == 0:
                reranker.score_candidates(query, batch)  # warm-up, not measured
            started = time.perf_counter()
            reranker.score_candidates(query, batch)
            times[name].append(time.perf_counter() - started)
    for name, samples in times.items():
        results[name] = {**percentiles(samples), "model": str(models[name][0]),
                         "input_format": loaded[name].input_format,
                         "max_length": loaded[name].metadata.max_length}
    if "baseline_fp32" in results:
        for name in ("int8", "fp32"):
            results[f"{name}_vs_baseline_p50"] = round(results[name]["p50_ms"] / results["baseline_fp32"]["p50_ms"], 3)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def reranker_only(baseline: Path | None) -> dict:
    """`--reranker-only`: train (or reuse) the bench's model, fit its vector weight, measure NDCG
    and in-process scoring latency; no corpus seeding (the cross-encoder's own numbers)."""
    results: dict = {"load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    with service_process("scia.embedder", "SCIA_EMBEDDER_") as embedder_target:
        model_path, results["reranker_training"] = trained_model(embedder_target=embedder_target)
        results["model_path"] = str(model_path.resolve())
        results["ndcg"] = _run_apart(ndcg(embedder_target, model_path, records=NDCG_RECORDS, queries=NDCG_QUERIES))
    results["score_latency"] = score_latency(model_path, baseline)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


# --- run ---------------------------------------------------------------------------------------


def _dsn_for(server, name: str) -> str:
    return server._server.get_uri(database=name)


def replicated(records: list[common_pb2.DeploymentRecord], count: int) -> list[common_pb2.DeploymentRecord]:
    """`count` records from copies of `records`: copy k has uids suffixed `-k` and dates k years
    earlier. The same texts (and vectors) k+1 times: a scale-up for latency, not new data."""
    result = []
    for copy in range(-(-count // len(records))):
        for record in records:
            if len(result) == count:
                return result
            clone = common_pb2.DeploymentRecord()
            clone.CopyFrom(record)
            if copy:
                clone.uid = f"{record.uid}-{copy}"
                clone.created_at.FromDatetime(record.created_at.ToDatetime() - timedelta(days=365 * copy))
            result.append(clone)
    return result


def run(count: int | None = None, cached_prefix: bool = False, replicate_to: int | None = None) -> dict:
    count = count or records_wanted()
    started_all = time.perf_counter()
    print(f"building {count} records from the scenario generator", flush=True)
    started = time.perf_counter()
    corpus = build_corpus(count)
    generate_seconds = round(time.perf_counter() - started, 1)
    results: dict = {"seed": SEED, "tenant": TENANT, "cached_prefix": cached_prefix,
                     # Other engineers share this machine: the load says how much of it we had.
                     "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    held_out = scenarios.ScenarioGenerator(seed=SEED).scenarios(QUERIES, start=9_000_000)
    query_texts = [_query_text(s) for s in held_out]

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = EmbeddedPostgres(DATA_DIR)
    try:
        base = loop.run_until_complete(server.start())
        with service_process("scia.embedder", "SCIA_EMBEDDER_") as embedder_target:
            if cached_prefix:
                # The longest prefix of the corpus whose texts are all cached (a partial fill).
                cache = EmbeddingCache(loop.run_until_complete(embedder_model(embedder_target)))
                keep = next((i for i, text in enumerate(corpus.texts) if cache.key(text) not in cache.rows), count)
                corpus = corpus_of(corpus.records[:keep])
            if replicate_to and replicate_to > len(corpus.records):
                results["replicated"] = {"real_records": len(corpus.records), "to": replicate_to,
                                         "copies": -(-replicate_to // len(corpus.records))}
                corpus = corpus_of(replicated(corpus.records, replicate_to))
            count = len(corpus.records)
            results["records"] = count
            results["corpus"] = {
                "records": count, "distinct_texts": len(corpus.distinct), "generate_seconds": generate_seconds,
                "outcomes": _counts(common_pb2.Outcome.Name(r.outcome) for r in corpus.records),
                "frameworks": len({r.analysis.applications[0].framework for r in corpus.records}),
            }
            suffix = f"r{results['replicated']['real_records']}" if "replicated" in results else ""
            # The schema version too: rows seeded under an older schema lack newer columns.
            schema = max(m.version for m in load_migrations())
            marker = f"{count}:{SEED}:{corpus.digest}:{suffix}:schema{schema}"
            database = f"bench_rag_{count}{suffix}_{corpus.digest[:8]}"
            loop.run_until_complete(create_database(base, database))
            dsn = _dsn_for(server, database)
            started = time.perf_counter()
            vectors, model = loop.run_until_complete(embed_cached(corpus.distinct, embedder_target))
            query_vectors, _ = loop.run_until_complete(embed_cached(query_texts, embedder_target))
            results["corpus"]["embed_or_cache_seconds"] = round(time.perf_counter() - started, 1)
            results["corpus"]["model"] = model
            # The service's own migrations, as it applies them at start: seeding needs the schema.
            loop.run_until_complete(migrate(dsn))
            if seeded(dsn, marker):
                results["seeding"] = {"reused": True}
            else:
                print("seeding with binary COPY", flush=True)
                results["seeding"] = {"reused": False, **seed_database(dsn, corpus, vectors, model, marker)}

            print("recall", flush=True)
            value, share, label = choose_filter(dsn)
            results["full_text_branch"] = loop.run_until_complete(full_text_timing(dsn, held_out[:50]))
            results["recall"] = {
                "unfiltered": loop.run_until_complete(recall(dsn, query_vectors, model, rag_pb2.DeploymentFilter())),
                "filtered": {"filter": label, "share_of_rows": round(share, 4),
                             **loop.run_until_complete(recall(dsn, query_vectors, model, value))},
                "target": 0.98,
            }

            print("retrieve latency", flush=True)
            queries = [s.query() for s in held_out]
            Rerank = rag_pb2.RetrieveRequest.Rerank
            model_path, training_report = trained_model(embedder_target=embedder_target)
            results["reranker_training"] = training_report
            latency: dict = {
                "embed_one_text": loop.run_until_complete(embed_latency(embedder_target, query_texts[:LATENCY_CALLS]))
            }
            # A long embedder deadline: on a loaded 2-core machine a 32-text Embed call can exceed
            # the default 5 s, and ingest would measure timeouts instead of throughput.
            with service_process("scia.rag", "SCIA_RAG_", dsn=dsn, embedder_target=embedder_target,
                                 reranker_enabled="false", embedder_timeout_seconds="120") as target:
                calls, warmup = queries[:LATENCY_CALLS], queries[LATENCY_CALLS:LATENCY_CALLS + 10]
                latency["none"] = loop.run_until_complete(
                    retrieve_latency(target, calls, Rerank.RERANK_NONE, warmup_queries=warmup))
                # The same queries again: their vectors are in the service's query cache now.
                latency["none_repeated_query"] = loop.run_until_complete(
                    retrieve_latency(target, calls, Rerank.RERANK_NONE))
                latency["features"] = loop.run_until_complete(
                    retrieve_latency(target, queries[LATENCY_CALLS + 10:2 * LATENCY_CALLS], Rerank.RERANK_FEATURES,
                                     warmup_queries=warmup))
                print("ingest", flush=True)
                # A measured batch, not 100k: at the embedder's rate for record texts (~10-20/s on
                # these 2 cores) ingesting 100k through gRPC would take hours; the rate is per record.
                results["ingest"] = loop.run_until_complete(ingest(target, min(400, max(64, count // 100)), SEED + 3))
            with service_process("scia.rag", "SCIA_RAG_", dsn=dsn, embedder_target=embedder_target,
                                 reranker_model_path=str(model_path), embedder_timeout_seconds="120") as target:
                latency["cross_encoder_top20"] = loop.run_until_complete(
                    retrieve_latency(target, queries[:CE_CALLS], Rerank.RERANK_CROSS_ENCODER,
                                     warmup_queries=queries[CE_CALLS:CE_CALLS + 3])
                )
            latency["targets"] = {"none_p99_ms": 20, "cross_encoder_p99_ms": 250}
            results["retrieve_latency"] = latency

            print("NDCG@5", flush=True)
            results["ndcg"] = loop.run_until_complete(
                ndcg(embedder_target, model_path, records=NDCG_RECORDS, queries=NDCG_QUERIES)
            )
            print("cross-encoder scoring latency (in-process, vs the previous model)", flush=True)
            results["cross_encoder_score_latency"] = score_latency(
                model_path, Path(BASELINE_MODEL) if BASELINE_MODEL else None)
    finally:
        loop.run_until_complete(server.stop())
        loop.close()
        asyncio.set_event_loop(None)
    results["embedder_errors_retried"] = len(EMBEDDER_ERRORS)
    results["corpus"]["embedded_in_this_run"] = {
        "texts": EMBED_STATS["texts_embedded"], "seconds": round(EMBED_STATS["seconds"], 1),
        "texts_per_s": round(EMBED_STATS["texts_embedded"] / EMBED_STATS["seconds"], 1) if EMBED_STATS["seconds"] else None,
    }
    results["scenarios_py_sha256"] = hashlib.sha256((ROOT / "bench" / "scenarios.py").read_bytes()).hexdigest()[:16]
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["total_seconds"] = round(time.perf_counter() - started_all, 1)
    return results


async def embedder_model(target: str) -> str:
    client = EmbedderClient(target, timeout=120)
    try:
        return (await client.embed(["warm-up"]))[1]
    finally:
        await client.close()


def fill_cache(count: int) -> None:
    corpus = build_corpus(count)
    held_out = scenarios.ScenarioGenerator(seed=SEED).scenarios(QUERIES, start=9_000_000)
    texts = [_query_text(s) for s in held_out] + corpus.distinct
    print(f"{len(corpus.records)} records, {len(corpus.distinct)} distinct texts", flush=True)
    with service_process("scia.embedder", "SCIA_EMBEDDER_") as target:
        started = time.perf_counter()
        asyncio.run(embed_cached(texts, target))
        print(f"cache filled in {time.perf_counter() - started:.0f} s", flush=True)


def _query_text(scenario: scenarios.Scenario) -> str:
    from scia.rag.ranking import query_text

    return query_text(scenario.analysis(), scenario.deployment_intent())


def _counts(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def summary(results: dict) -> str:
    r, lat, ing, nd = results["recall"], results["retrieve_latency"], results["ingest"], results["ndcg"]
    ft = results["full_text_branch"]
    rows = [
        "| rag | measured | target |",
        "|---|---|---|",
        f"| records seeded (distinct texts) | {results['records']} ({results['corpus']['distinct_texts']})"
        + (f", **replicated** x{results['replicated']['copies']} from {results['replicated']['real_records']} real records"
           if "replicated" in results else "") + " | 100000 |",
        f"| recall@10 HNSW vs exact, unfiltered | **{r['unfiltered']['recall_at_10']}** "
        f"(indexed p50 {r['unfiltered']['indexed']['p50_ms']} ms, exact p50 {r['unfiltered']['exact']['p50_ms']} ms) | >= 0.98 |",
        f"| recall@10, filter `{r['filtered']['filter']}` ({r['filtered']['share_of_rows']:.1%} of rows) | "
        f"**{r['filtered']['recall_at_10']}** (indexed p50 {r['filtered']['indexed']['p50_ms']} ms) | >= 0.98 |",
        f"| full-text branch alone, bounded (median {ft['bounded']['rows_matching_median']} rows match) | "
        f"p50 {ft['bounded']['p50_ms']} ms, p99 {ft['bounded']['p99_ms']} ms | |",
        f"| full-text branch before (unbounded, {ft['unbounded_before']['queries']} queries) | "
        f"p50 {ft['unbounded_before']['p50_ms']} ms, p99 {ft['unbounded_before']['p99_ms']} ms | |",
        f"| Embed of one query text over gRPC (floor of Retrieve) | p50 {lat['embed_one_text']['p50_ms']} ms, "
        f"p99 {lat['embed_one_text']['p99_ms']} ms | |",
        f"| Retrieve top-5 over gRPC, no re-rank | p50 {lat['none']['p50_ms']} ms, **p99 {lat['none']['p99_ms']} ms** | p99 <= 20 ms |",
        f"| Retrieve top-5, no re-rank, the same queries again (query vector cached) | "
        f"p50 {lat['none_repeated_query']['p50_ms']} ms, **p99 {lat['none_repeated_query']['p99_ms']} ms** | p99 <= 20 ms |",
        f"| Retrieve top-5, features re-rank | p50 {lat['features']['p50_ms']} ms, p99 {lat['features']['p99_ms']} ms | |",
        f"| Retrieve top-5, cross-encoder re-rank of 20 | p50 {lat['cross_encoder_top20']['p50_ms']} ms, "
        f"**p99 {lat['cross_encoder_top20']['p99_ms']} ms** | p99 <= 250 ms |",
        f"| ingest, Import stream (embedding included) | {ing['import']['records_per_s']} records/s "
        f"({ing['import']['records']} records) | |",
        f"| ingest, RecordDeployment one by one | {ing['record_deployment']['records_per_s']} records/s | |",
        f"| NDCG@5 vector order / features / cross-encoder / served relevance (planner) / + features | "
        f"{nd['vector']['ndcg_at_5']} / {nd['features']['ndcg_at_5']} / {nd['cross_encoder']['ndcg_at_5']} / "
        f"{nd['cross_encoder_relevance']['ndcg_at_5']} / {nd['cross_encoder_features']['ndcg_at_5']} "
        f"({nd['queries']} queries, int8; vector weight {nd['vector_weight']}) | above vector order |",
    ]
    return "\n".join(rows)


def main() -> None:
    exit_on_sigterm()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = argparse.ArgumentParser(description="RAG benchmark (see the module docstring).")
    parser.add_argument("--records", type=int, default=records_wanted(), help="records to seed (default 100000)")
    parser.add_argument(
        "--cached-prefix",
        action="store_true",
        help="seed only the longest prefix of the corpus whose texts are all in the embedding cache",
    )
    parser.add_argument(
        "--embed-only",
        action="store_true",
        help="only fill the embedding cache for this corpus and its queries (e.g. ahead of a run), then stop",
    )
    parser.add_argument(
        "--replicate-to",
        type=int,
        help="with --cached-prefix: copy the real records (uids suffixed, dates shifted back a year per copy) "
        "up to this many rows; a labelled scale-up for latency when the cache holds fewer",
    )
    parser.add_argument(
        "--reranker-only",
        action="store_true",
        help="only the cross-encoder: train or reuse the bench's model, fit its vector weight, NDCG@5 (int8 and "
        "fp32) and in-process scoring latency against the previous model (SCIA_BENCH_RAG_BASELINE_MODEL)",
    )
    parser.add_argument(
        "--eval-set",
        metavar="FILE",
        help="only write an evaluation set for `scia-rag evaluate-reranker` with record and query protos "
        "(SCIA_BENCH_RAG_NDCG_RECORDS records, SCIA_BENCH_RAG_NDCG_QUERIES queries), then stop",
    )
    parser.add_argument("--eval-seed", type=int, default=SEED + 2,
                        help="generator seed of --eval-set (44: the held-out set; 43 with --eval-query-start "
                             "8000000: the validation queries the vector weight is fitted on)")
    parser.add_argument("--eval-query-start", type=int, default=5_000_000)
    args = parser.parse_args()
    if args.eval_set:
        items = structured_evaluation_items(args.eval_seed, NDCG_RECORDS, NDCG_QUERIES,
                                            query_start=args.eval_query_start)
        print(f"wrote {scenarios.write_jsonl(Path(args.eval_set), items)}")
        return
    if args.reranker_only:
        results = reranker_only(Path(BASELINE_MODEL) if BASELINE_MODEL else None)
        path = write_results("rag-reranker", results)
        print(json.dumps(results, indent=2))
        print(f"written to {path}")
        return
    if args.embed_only:
        fill_cache(args.records)
        return
    results = run(args.records, args.cached_prefix, args.replicate_to)
    seeded_count = results["records"]
    path = write_results("rag" if seeded_count == records_wanted() else f"rag-{seeded_count}", results)
    print(f"\n## rag ({path})\n\n{summary(results)}\n")


if __name__ == "__main__":
    main()
