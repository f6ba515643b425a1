"""The SQL of the deployment memory. Every query is scoped to tenants in SQL (`tenant = ANY(...)`)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from google.protobuf import json_format
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from scia.rag.ranking import CandidateFeatures
from scia.rag.records import Cursor, RecordColumns, Vote, filter_sql, record_from_row
from scia.v1 import common_pb2, rag_pb2

RECORD_COLUMNS = "id, tenant, outcome, outcome_reason, metrics, record, record_pb, created_at, updated_at, outcome_at"

# The tsquery of a free-text Retrieve: the caller's syntax (quotes, OR, -word), all words required.
WEBSEARCH_TSQUERY_SQL = "SELECT websearch_to_tsquery('english', %s)::text"

# The most common lexemes of the tsv column and the share of rows holding each, from PostgreSQL's
# statistics (ANALYZE, autovacuum), with the table's estimated row count. Reading pg_stats costs
# ~35 ms on a loaded 2-core machine (a view with privilege checks, 480 elements to parse): the
# store caches the answer (COMMON_LEXEMES_TTL_SECONDS); statistics change slowly anyway.
COMMON_LEXEMES_SQL = """
SELECT e.lexeme, e.share, e.share * greatest(c.reltuples, 0)
FROM pg_stats s
JOIN pg_class c ON c.oid = 'deployments'::regclass,
     unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS e(lexeme, share)
WHERE s.schemaname = current_schema() AND s.tablename = 'deployments' AND s.attname = 'tsv'
  AND e.lexeme IS NOT NULL
"""
COMMON_LEXEMES_TTL_SECONDS = 300.0


@dataclass(frozen=True)
class LexemeStats:
    share: float  # of the rows holding the lexeme
    rows: float  # estimated rows holding it


def any_word_tsquery(
    lexemes: Sequence[str], common: dict[str, LexemeStats], max_share: float, rank_limit: int, max_words: int
) -> str:
    """The tsquery of a structured query: its lexemes OR-ed, without the common ones.

    Common: in more than `max_share` of the rows AND in more rows than the branch ranks
    (`rank_limit`). Such words ("deploy", "traffic", "aws", "1") match nearly every record: OR-ed
    in, they made the branch rank the whole table (1-2 s at 15k rows, 5 s at 100k), would fill the
    bounded set with records matching nothing else, and say nothing about relevance. Words absent
    from the statistics are rarer than any listed one; the rarest `max_words` are kept. Without
    statistics (a new table) every word is kept. Empty when nothing is left.
    """
    kept = []
    for lexeme in dict.fromkeys(lexemes):
        stats = common.get(lexeme)
        if stats is not None and stats.share > max_share and stats.rows > rank_limit:
            continue
        kept.append((stats.share if stats else 0.0, lexeme))
    kept = sorted(kept)[:max_words]
    # tsquery syntax: a quoted operand, quotes and backslashes doubled; no normalisation applies to
    # it, and these are already to_tsvector's lexemes.
    words = sorted(lexeme for _, lexeme in kept)
    return " | ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words)


@dataclass(frozen=True)
class StoredText:
    outcome: int
    outcome_reason: str


@dataclass(frozen=True)
class Candidate:
    """A candidate's record, its features and the text the cross-encoder reads."""

    record: common_pb2.DeploymentRecord
    features: CandidateFeatures
    text: str


@dataclass(frozen=True)
class StatsRow:
    total: int
    by_outcome: dict[int, int]
    by_strategy: dict[int, int]
    by_framework: dict[str, int]
    cost: float
    up: int
    down: int


class DeploymentStore:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        ef_search: int = 100,
        max_scan_tuples: int = 20_000,
        max_lexeme_share: float = 0.05,
        max_words: int = 32,
        rank_limit: int = 100,
        exact_max_rows: int = 5000,
    ) -> None:
        self.pool = pool
        self.ef_search = ef_search
        self.max_scan_tuples = max_scan_tuples
        self.max_lexeme_share = max_lexeme_share
        self.max_words = max_words
        self.rank_limit = rank_limit
        self.exact_max_rows = exact_max_rows
        self._common: tuple[float, dict[str, LexemeStats]] | None = None  # (loaded at, lexemes)

    # --- writes --------------------------------------------------------------------------------

    async def stored_outcome(self, tenant: str, uid: str, revision: int) -> StoredText | None:
        """The outcome of an existing revision, so an upsert without one keeps it (and embeds it)."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT outcome, outcome_reason FROM deployments WHERE tenant = %s AND uid = %s AND revision = %s",
                (tenant, uid, revision),
            )
            row = await cursor.fetchone()
        return StoredText(row[0], row[1]) if row else None

    async def upsert(
        self,
        tenant: str,
        columns: RecordColumns,
        *,
        outcome: int | None,
        outcome_reason: str,
        outcome_at: datetime | None,
        metrics: dict[str, Any] | None,
        text: str,
        text_outcome: int,
        text_reason: str,
        embedding: np.ndarray,
        model: str,
    ) -> tuple[str, bool]:
        """Insert or replace the revision (tenant, uid, revision); returns (id, created).

        outcome None keeps the stored outcome (new rows start PENDING). The id survives
        replacement, so feedback stays attached. If the stored outcome changed between reading it
        and this write, the text no longer describes it: the row is marked for re-embedding.
        """
        params = {
            "tenant": tenant,
            "name": columns.name,
            "uid": columns.uid,
            "revision": columns.revision,
            "repo_url": columns.repo_url,
            "repo_commit": columns.repo_commit,
            "language": columns.language,
            "framework": columns.framework,
            "strategy": columns.strategy,
            "cloud": columns.cloud,
            "region": columns.region,
            "cost": columns.estimated_monthly_cost_usd,
            "outcome": outcome,
            "reason": outcome_reason,
            "outcome_at": outcome_at,
            "metrics": Jsonb(metrics) if metrics else None,
            "record": Jsonb(columns.record_json),
            "record_pb": columns.record_pb,
            "text": text,
            "text_outcome": text_outcome,
            "text_reason": text_reason,
            "embedding": embedding,
            "model": model,
            "created_at": columns.created_at,
        }
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                """
                INSERT INTO deployments AS d (
                    id, tenant, name, uid, revision, repo_url, repo_commit, language, framework,
                    strategy, cloud, region, estimated_monthly_cost_usd, outcome, outcome_reason,
                    outcome_at, metrics, record, record_pb, embedded_text, embedding, embedding_model,
                    embedding_stale, created_at, updated_at)
                VALUES (
                    gen_random_uuid(), %(tenant)s, %(name)s, %(uid)s, %(revision)s, %(repo_url)s,
                    %(repo_commit)s, %(language)s, %(framework)s, %(strategy)s, %(cloud)s, %(region)s,
                    %(cost)s, COALESCE(%(outcome)s::smallint, 1),
                    CASE WHEN %(outcome)s::smallint IS NULL THEN '' ELSE %(reason)s END,
                    CASE WHEN %(outcome)s::smallint IS NULL THEN NULL
                         ELSE COALESCE(%(outcome_at)s::timestamptz, now()) END,
                    %(metrics)s, %(record)s, %(record_pb)s, %(text)s, %(embedding)s, %(model)s,
                    COALESCE(%(outcome)s::smallint, 1) <> %(text_outcome)s::smallint,
                    COALESCE(%(created_at)s::timestamptz, now()), now())
                ON CONFLICT (tenant, uid, revision) DO UPDATE SET
                    name = EXCLUDED.name,
                    repo_url = EXCLUDED.repo_url,
                    repo_commit = EXCLUDED.repo_commit,
                    language = EXCLUDED.language,
                    framework = EXCLUDED.framework,
                    strategy = EXCLUDED.strategy,
                    cloud = EXCLUDED.cloud,
                    region = EXCLUDED.region,
                    estimated_monthly_cost_usd = EXCLUDED.estimated_monthly_cost_usd,
                    outcome = COALESCE(%(outcome)s::smallint, d.outcome),
                    outcome_reason = CASE WHEN %(outcome)s::smallint IS NULL THEN d.outcome_reason ELSE %(reason)s END,
                    outcome_at = CASE
                        WHEN %(outcome)s::smallint IS NULL
                             OR (%(outcome)s::smallint = d.outcome AND d.outcome_at IS NOT NULL)
                        THEN d.outcome_at
                        ELSE COALESCE(%(outcome_at)s::timestamptz, now()) END,
                    metrics = COALESCE(EXCLUDED.metrics, d.metrics),
                    record = EXCLUDED.record,
                    record_pb = EXCLUDED.record_pb,
                    embedded_text = EXCLUDED.embedded_text,
                    embedding = EXCLUDED.embedding,
                    embedding_model = EXCLUDED.embedding_model,
                    embedding_stale =
                        COALESCE(%(outcome)s::smallint, d.outcome) <> %(text_outcome)s::smallint
                        OR (CASE WHEN %(outcome)s::smallint IS NULL THEN d.outcome_reason ELSE %(reason)s END)
                           <> %(text_reason)s,
                    created_at = COALESCE(%(created_at)s::timestamptz, d.created_at),
                    updated_at = now()
                RETURNING id, (xmax = 0) AS created
                """,
                params,
            )
            row = await cursor.fetchone()
        assert row is not None
        return str(row[0]), bool(row[1])

    async def update_outcome(
        self,
        tenant: str,
        record_id: str,
        *,
        outcome: int,
        reason: str,
        metrics: dict[str, Any] | None,
        text: str,
        embedding: np.ndarray | None,
        model: str | None,
    ) -> bool:
        """Set the outcome of the tenant's own record; False when there is none.

        Without an embedding (embedder down) the old vector stays, marked stale, and is
        refreshed in the background.
        """
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                """
                UPDATE deployments SET
                    outcome_at = CASE WHEN outcome = %(outcome)s::smallint AND outcome_at IS NOT NULL
                                      THEN outcome_at ELSE now() END,
                    outcome = %(outcome)s,
                    outcome_reason = %(reason)s,
                    metrics = COALESCE(%(metrics)s::jsonb, metrics),
                    embedded_text = %(text)s,
                    embedding = COALESCE(%(embedding)s::vector, embedding),
                    embedding_model = COALESCE(%(model)s::text, embedding_model),
                    embedding_stale = %(embedding)s::vector IS NULL,
                    updated_at = now()
                WHERE id = %(id)s AND tenant = %(tenant)s
                RETURNING id
                """,
                {
                    "outcome": outcome,
                    "reason": reason,
                    "metrics": Jsonb(metrics) if metrics else None,
                    "text": text,
                    "embedding": embedding,
                    "model": model,
                    "id": record_id,
                    "tenant": tenant,
                },
            )
            return await cursor.fetchone() is not None

    async def record_feedback(self, tenants: Sequence[str], record_id: str, user: str, vote: int, comment: str) -> bool:
        """One vote per (record, user); a new vote replaces the old. False when no visible record."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                """
                INSERT INTO feedback (record_id, user_name, vote, comment)
                SELECT id, %s, %s, %s FROM deployments WHERE id = %s AND tenant = ANY(%s)
                ON CONFLICT (record_id, user_name) DO UPDATE
                    SET vote = EXCLUDED.vote, comment = EXCLUDED.comment, updated_at = now()
                RETURNING record_id
                """,
                (user, vote, comment, record_id, list(tenants)),
            )
            return await cursor.fetchone() is not None

    # --- reads ---------------------------------------------------------------------------------

    async def get(self, tenants: Sequence[str], record_id: str) -> common_pb2.DeploymentRecord | None:
        records = await self.get_many(tenants, [record_id])
        return records[0] if records else None

    async def get_many(self, tenants: Sequence[str], ids: Sequence[str]) -> list[common_pb2.DeploymentRecord]:
        return [c.record for c in await self.candidates(tenants, ids)]

    async def candidates(
        self,
        tenants: Sequence[str],
        ids: Sequence[str],
        embedding: np.ndarray | None = None,
        model: str | None = None,
    ) -> list[Candidate]:
        """Records with their ranking features, in no particular order; invisible ids are absent.

        With the query's `embedding` (of `model`), every candidate's cosine similarity to it is
        computed here, full-text-only candidates included, so relevance is on one scale for all.
        """
        if not ids:
            return []
        similarity_sql = "NULL::float8"
        params: list[Any] = []
        if embedding is not None and model is not None:
            similarity_sql = "CASE WHEN embedding_model = %s THEN 1 - (embedding <=> %s) END"
            params = [model, embedding]
        async with self.pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                f"SELECT {RECORD_COLUMNS}, estimated_monthly_cost_usd, embedded_text, {similarity_sql} AS similarity "
                "FROM deployments WHERE id = ANY(%s::uuid[]) AND tenant = ANY(%s)",
                [*params, list(ids), list(tenants)],
            )
            rows = await cursor.fetchall()
            votes = await self._votes(conn, [row["id"] for row in rows])
        result = []
        for row in rows:
            record_votes = votes.get(row["id"], [])
            result.append(
                Candidate(
                    record=record_from_row(row, record_votes),
                    features=CandidateFeatures(
                        id=str(row["id"]),
                        created_at=row["created_at"],
                        monthly_cost=row["estimated_monthly_cost_usd"],
                        outcome=row["outcome"],
                        up=sum(1 for v in record_votes if v.vote > 0),
                        down=sum(1 for v in record_votes if v.vote < 0),
                        similarity=None if row["similarity"] is None else float(row["similarity"]),
                    ),
                    text=row["embedded_text"],
                )
            )
        return result

    @staticmethod
    async def _votes(conn, ids: Sequence[Any]) -> dict[Any, list[Vote]]:
        votes: dict[Any, list[Vote]] = defaultdict(list)
        if not ids:
            return votes
        cursor = await conn.execute(
            "SELECT record_id, user_name, vote, comment, updated_at FROM feedback "
            "WHERE record_id = ANY(%s) ORDER BY updated_at, user_name",
            (list(ids),),
        )
        for record_id, user, vote, comment, updated_at in await cursor.fetchall():
            votes[record_id].append(Vote(user, vote, comment, updated_at))
        return votes

    async def list(
        self, tenants: Sequence[str], value: rag_pb2.DeploymentFilter, page_size: int, after: Cursor | None
    ) -> tuple[list[common_pb2.DeploymentRecord], Cursor | None, int]:
        """A page newest first, the cursor after it (None on the last page) and the total."""
        where, params = filter_sql(tenants, value)
        page_where, page_params = where, list(params)
        if after is not None:
            page_where += " AND (created_at, id) < (%s, %s::uuid)"
            page_params += [after.created_at, after.id]
        async with self.pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                f"SELECT {RECORD_COLUMNS} FROM deployments WHERE {page_where} "
                "ORDER BY created_at DESC, id DESC LIMIT %s",
                [*page_params, page_size + 1],
            )
            rows = await cursor.fetchall()
            count = await conn.execute(f"SELECT count(*) FROM deployments WHERE {where}", params)
            total = (await count.fetchone())[0]
            rows, more = rows[:page_size], len(rows) > page_size
            votes = await self._votes(conn, [row["id"] for row in rows])
        records = [record_from_row(row, votes.get(row["id"], [])) for row in rows]
        next_cursor = Cursor(rows[-1]["created_at"], str(rows[-1]["id"])) if more else None
        return records, next_cursor, total

    async def stats(self, tenants: Sequence[str], value: rag_pb2.DeploymentFilter) -> StatsRow:
        where, params = filter_sql(tenants, value)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"""
                SELECT GROUPING(outcome) AS g_outcome, GROUPING(strategy) AS g_strategy,
                       GROUPING(framework) AS g_framework, outcome, strategy, framework, count(*),
                       COALESCE(sum(estimated_monthly_cost_usd), 0)
                FROM deployments WHERE {where}
                GROUP BY GROUPING SETS ((outcome), (strategy), (framework), ())
                """,
                params,
            )
            groups = await cursor.fetchall()
            cursor = await conn.execute(
                "SELECT count(*) FILTER (WHERE vote > 0), count(*) FILTER (WHERE vote < 0) FROM feedback "
                f"WHERE record_id IN (SELECT id FROM deployments WHERE {where})",
                params,
            )
            up, down = await cursor.fetchone()
        total, cost = 0, 0.0
        by_outcome: dict[int, int] = {}
        by_strategy: dict[int, int] = {}
        by_framework: dict[str, int] = {}
        for g_outcome, g_strategy, g_framework, outcome, strategy, framework, count, cost_sum in groups:
            if g_outcome and g_strategy and g_framework:
                total, cost = count, float(cost_sum)
            elif not g_outcome:
                by_outcome[outcome] = count
            elif not g_strategy:
                by_strategy[strategy] = count
            else:
                by_framework[framework] = count
        return StatsRow(total, by_outcome, by_strategy, by_framework, cost, up, down)

    async def vector_candidates(
        self, tenants: Sequence[str], value: rag_pb2.DeploymentFilter, embedding: np.ndarray, model: str, limit: int
    ) -> list[tuple[str, float]]:
        """The nearest records by cosine similarity, nearest first: (id, similarity).

        Selective scopes (at most `exact_max_rows` rows match the tenant and filter) are searched
        exactly: the rows come from the b-tree indexes and every distance is computed. Why: an
        HNSW scan starts near the query and widens; when the matching rows lie elsewhere (a 2%
        framework filter, or a small tenant in a big table) it reaches `max_scan_tuples` first and
        returns the matches it met, not the nearest (recall@10 0.64 for a 2.9% filter at 100k
        rows, measured). Otherwise HNSW with iterative index scans (`relaxed_order`), so filtered
        queries do not come back short; the order is then only approximate and the rows are
        re-sorted here by exact distance.
        """
        where, params = filter_sql(tenants, value)
        async with self.pool.connection() as conn, conn.transaction():
            exact = False
            if self.exact_max_rows > 0:
                # Counting stops at exact_max_rows + 1: an index-only scan, ~1 ms whatever the table.
                cursor = await conn.execute(
                    f"SELECT count(*) FROM (SELECT 1 FROM deployments WHERE {where} LIMIT %s) AS scope",
                    [*params, self.exact_max_rows + 1],
                )
                exact = (await cursor.fetchone())[0] <= self.exact_max_rows
            if exact:
                # `+ 0`: an ORDER BY the HNSW index cannot serve, so PostgreSQL reads the filtered
                # rows through the b-tree indexes and sorts by exact distance.
                cursor = await conn.execute(
                    f"SELECT id, (embedding <=> %s) + 0 AS distance FROM deployments "
                    f"WHERE {where} AND embedding_model = %s ORDER BY (embedding <=> %s) + 0 LIMIT %s",
                    [embedding, *params, model, embedding, limit],
                    prepare=False,
                )
            else:
                await conn.execute(
                    "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
                    " set_config('hnsw.ef_search', %s, true), set_config('hnsw.max_scan_tuples', %s, true)",
                    (str(max(self.ef_search, limit)), str(self.max_scan_tuples)),
                )
                # prepare=False: a prepared plan would outlive the settings above (see ENVIRONMENT.md).
                # ORDER BY the distance expression itself, or the index is not used.
                cursor = await conn.execute(
                    f"SELECT id, embedding <=> %s AS distance FROM deployments "
                    f"WHERE {where} AND embedding_model = %s ORDER BY embedding <=> %s LIMIT %s",
                    [embedding, *params, model, embedding, limit],
                    prepare=False,
                )
            rows = await cursor.fetchall()
        rows.sort(key=lambda row: (row[1], str(row[0])))
        return [(str(row[0]), 1.0 - float(row[1])) for row in rows]

    async def common_lexemes(self, conn) -> dict[str, LexemeStats]:
        """The tsv column's common lexemes (cached for COMMON_LEXEMES_TTL_SECONDS)."""
        now = time.monotonic()
        if self._common is None or now - self._common[0] > COMMON_LEXEMES_TTL_SECONDS:
            cursor = await conn.execute(COMMON_LEXEMES_SQL)
            common = {row[0]: LexemeStats(float(row[1]), float(row[2])) for row in await cursor.fetchall()}
            self._common = (now, common)
        return self._common[1]

    async def text_candidates(
        self, tenants: Sequence[str], value: rag_pb2.DeploymentFilter, query: str, mode: str, limit: int
    ) -> list[tuple[str, float]]:
        """The best full-text matches, best first: (id, ts_rank_cd normalised to [0, 1)).

        mode "websearch": the caller's syntax, all words required; "any": a structured query's
        content words, any of which may match, common ones left out (`any_word_tsquery`).
        Bounded: only the newest `rank_limit` matches are ranked, so the cost does not grow with
        the table. The tsquery is computed first and passed as a constant (prepare=False), so
        PostgreSQL estimates how many rows it matches and picks its plan: the GIN index for rare
        words, the (tenant, created_at) index read newest first for frequent ones.
        """
        where, params = filter_sql(tenants, value)
        async with self.pool.connection() as conn:
            if mode == "websearch":
                cursor = await conn.execute("SELECT websearch_to_tsquery('english', %s)::text", (query,))
                tsquery = (await cursor.fetchone())[0]
            else:
                common = await self.common_lexemes(conn)
                cursor = await conn.execute("SELECT lexeme FROM unnest(to_tsvector('english', %s))", (query,))
                lexemes = [row[0] for row in await cursor.fetchall()]
                tsquery = any_word_tsquery(lexemes, common, self.max_lexeme_share, self.rank_limit, self.max_words)
            if not tsquery:  # only stop words, or only common ones: nothing to search for
                return []
            cursor = await conn.execute(
                f"""
                SELECT id, ts_rank_cd(tsv, %s::tsquery, 32) AS rank
                FROM (SELECT id, tsv, created_at FROM deployments
                      WHERE {where} AND tsv @@ %s::tsquery
                      ORDER BY created_at DESC LIMIT %s) AS newest
                ORDER BY rank DESC, created_at DESC, id
                LIMIT %s
                """,
                [tsquery, *params, tsquery, self.rank_limit, limit],
                prepare=False,  # a generic plan could not see how selective this tsquery is
            )
            rows = await cursor.fetchall()
        return [(str(row[0]), float(row[1])) for row in rows]

    # --- background repair -------------------------------------------------------------------

    async def stale_texts(self, limit: int) -> list[tuple[str, str]]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT id, embedded_text FROM deployments WHERE embedding_stale ORDER BY id LIMIT %s", (limit,)
            )
            return [(str(row[0]), row[1]) for row in await cursor.fetchall()]

    async def backfill_binary_records(self, limit: int) -> int:
        """Give up to `limit` rows written before migration 0002 their binary record, and re-write
        their vector so it is stored inline (the new storage applies to written values only).
        Returns how many rows were filled. One short transaction per batch: writers wait little."""
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "SELECT id, record FROM deployments WHERE record_pb IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (limit,),
            )
            rows = await cursor.fetchall()
            for record_id, record_json in rows:
                record = json_format.ParseDict(record_json, common_pb2.DeploymentRecord(), ignore_unknown_fields=True)
                # `::real[]::vector` builds a new value, which PLAIN storage keeps in the row.
                await conn.execute(
                    "UPDATE deployments SET record_pb = %s, embedding = embedding::real[]::vector WHERE id = %s",
                    (record.SerializeToString(deterministic=True), record_id),
                )
        return len(rows)

    async def refresh_embedding(self, record_id: str, text: str, embedding: np.ndarray, model: str) -> bool:
        """Store a fresh vector, unless the text changed meanwhile (then a newer write owns it)."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "UPDATE deployments SET embedding = %s, embedding_model = %s, embedding_stale = false "
                "WHERE id = %s AND embedded_text = %s RETURNING id",
                (embedding, model, record_id, text),
            )
            return await cursor.fetchone() is not None


def metrics_json(metrics: common_pb2.PerformanceMetrics) -> dict[str, Any]:
    return json_format.MessageToDict(metrics, preserving_proto_field_name=True)
