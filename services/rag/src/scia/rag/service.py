"""The DeploymentMemory gRPC service: validation, embedding, storage, hybrid retrieval, re-ranking."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

import grpc
import psycopg
from prometheus_client import Counter, Histogram
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from scia.rag import validation
from scia.rag.config import RagSettings
from scia.rag.db import EmbeddedPostgres, migrate, open_pool
from scia.rag.embedding import EmbedderClient, EmbedderUnavailable, QueryVectorCache
from scia.rag.ranking import RankingParameters, query_keywords, query_text, rank, reciprocal_rank_fusion, record_text
from scia.rag.records import (
    columns_of,
    decode_page_token,
    encode_page_token,
    merged_for_text,
    query_fingerprint,
)
from scia.rag.reranker import CrossEncoderReranker, load_reranker
from scia.rag.store import DeploymentStore, metrics_json
from scia.rag.validation import InvalidArgument
from scia.runtime.errors import Rejected
from scia.v1 import common_pb2, rag_pb2, rag_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = rag_pb2.DESCRIPTOR.services_by_name["DeploymentMemory"].full_name
IMPORT_BATCH = 32  # records embedded per Embed call during Import

RETRIEVALS = Counter(
    "scia_rag_retrievals_total",
    "Retrieve calls, by re-ranker and whether the embedder was missing.",
    ["reranker", "full_text_only"],
)
RETRIEVE_STAGE_SECONDS = Histogram(
    "scia_rag_retrieve_stage_seconds",
    "Time of each Retrieve stage.",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
QUERY_VECTORS = Counter(
    "scia_rag_query_vectors_total", "Retrieve query vectors, by source: cached (repeated query) or embedded.", ["source"]
)
REEMBEDDED = Counter("scia_rag_reembedded_total", "Records re-embedded in the background after their text changed.")


def _not_found(tenant: str, record_id: str) -> Rejected:
    return Rejected(grpc.StatusCode.NOT_FOUND, f"deployment {record_id} not found in tenant {tenant}")


ResponseT = TypeVar("ResponseT")


def _answers(method: Callable[..., Awaitable[ResponseT]]) -> Callable[..., Awaitable[ResponseT]]:
    """Maps the service's domain exceptions to gRPC status codes with their messages.

    (`Rejected` needs no mapping: the runtime's interceptor answers it.)
    """

    @functools.wraps(method)
    async def wrapper(self: DeploymentMemoryServicer, request, context: grpc.aio.ServicerContext) -> ResponseT:
        try:
            return await method(self, request, context)
        except InvalidArgument as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except EmbedderUnavailable as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{error}; nothing was written, retry later")
        except (PoolTimeout, psycopg.OperationalError) as error:
            log.warning("database unavailable", extra={"error": str(error)})
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, f"database unavailable: {type(error).__name__}; retry later"
            )

    return wrapper


class DeploymentMemoryServicer(rag_pb2_grpc.DeploymentMemoryServicer):
    def __init__(self, settings: RagSettings) -> None:
        self.settings = settings
        self.store: DeploymentStore | None = None
        self.embedder: EmbedderClient | None = None
        self.reranker: CrossEncoderReranker | None = None
        # Why a model folder that exists was not loaded (unknown input format, corrupt): told in
        # every Retrieve's notes as well as logged at start, so a refused model is never silent.
        self.reranker_refused = ""
        # The one thread that loads the cross-encoder and runs every pass (RagApp.start): one pass
        # at a time (torch parallelises inside a pass), and one OpenMP team: each OS thread that
        # enters torch gets its own, and on 2 cores a second team slows every pass ~1.4x.
        self.torch_thread: ThreadPoolExecutor | None = None

    # --- helpers -------------------------------------------------------------------------------

    def _ready(self) -> tuple[DeploymentStore, EmbedderClient]:
        if self.store is None or self.embedder is None:
            raise Rejected(grpc.StatusCode.UNAVAILABLE, "the service is starting; retry shortly")
        return self.store, self.embedder

    def _visible(self, tenant: str) -> list[str]:
        return self.settings.visible_tenants(tenant)

    @property
    def default_reranker_name(self) -> str:
        return self.reranker.name if self.reranker is not None else "features"

    # --- writes --------------------------------------------------------------------------------

    @_answers
    async def RecordDeployment(
        self, request: rag_pb2.RecordDeploymentRequest, context
    ) -> rag_pb2.RecordDeploymentResponse:
        store, embedder = self._ready()
        s = self.settings
        record = request.record
        validation.deployment_record(
            record,
            max_record_bytes=s.max_record_bytes,
            max_prompt_chars=s.max_prompt_chars,
            max_reason_chars=s.max_reason_chars,
        )
        record_id, created = await self._upsert(store, embedder, record)
        stored = await store.get([record.tenant], record_id)
        if stored is None:  # deleted between the write and the read: vanishingly rare, but honest
            raise Rejected(grpc.StatusCode.ABORTED, f"deployment {record_id} changed concurrently; retry")
        return rag_pb2.RecordDeploymentResponse(record=stored, created=created)

    async def _upsert(
        self, store: DeploymentStore, embedder: EmbedderClient, record: common_pb2.DeploymentRecord
    ) -> tuple[str, bool]:
        """Embed and upsert one validated record; the embedder failing means nothing is written."""
        described = await self._text_of(store, record)
        vectors, model = await embedder.embed([described[0]])
        return await self._write(store, record, described, vectors[0], model)

    @staticmethod
    async def _write(
        store: DeploymentStore, record: common_pb2.DeploymentRecord, described: tuple[str, int, str], vector, model: str
    ) -> tuple[str, bool]:
        text, text_outcome, text_reason = described
        return await store.upsert(
            record.tenant,
            columns_of(record),
            outcome=record.outcome or None,
            outcome_reason=record.outcome_reason,
            outcome_at=record.outcome_at.ToDatetime(tzinfo=UTC) if record.HasField("outcome_at") else None,
            metrics=metrics_json(record.metrics) if record.HasField("metrics") else None,
            text=text,
            text_outcome=text_outcome,
            text_reason=text_reason,
            embedding=vector,
            model=model,
        )

    async def _text_of(self, store: DeploymentStore, record: common_pb2.DeploymentRecord) -> tuple[str, int, str]:
        """The record's embedding text, describing the outcome the row will have after the upsert:
        the record's own, else the stored one (an upsert without an outcome keeps it), else PENDING."""
        if record.outcome != common_pb2.OUTCOME_UNSPECIFIED:
            outcome, reason = record.outcome, record.outcome_reason
        else:
            stored = await store.stored_outcome(record.tenant, record.uid, record.revision)
            outcome, reason = (stored.outcome, stored.outcome_reason) if stored else (common_pb2.OUTCOME_PENDING, "")
        text = record_text(merged_for_text(record, outcome, reason), self.settings.embedding_words)
        return text, outcome, reason

    @_answers
    async def UpdateOutcome(self, request: rag_pb2.UpdateOutcomeRequest, context) -> common_pb2.DeploymentRecord:
        store, embedder = self._ready()
        validation.outcome_update(request, max_reason_chars=self.settings.max_reason_chars)
        record_id = validation.record_id(request.id)
        # Outcomes are set by the record's owner only, never through sharing.
        existing = await store.get([request.tenant], record_id)
        if existing is None:
            raise _not_found(request.tenant, record_id)
        text = record_text(merged_for_text(existing, request.outcome, request.reason), self.settings.embedding_words)
        try:
            vectors, model = await embedder.embed([text])
            vector = vectors[0]
        except EmbedderUnavailable as error:
            # The outcome matters more than a fresh vector: store it now, re-embed later.
            log.warning("outcome stored without re-embedding", extra={"id": record_id, "error": str(error)})
            vector, model = None, None
        updated = await store.update_outcome(
            request.tenant,
            record_id,
            outcome=request.outcome,
            reason=request.reason,
            metrics=metrics_json(request.metrics) if request.HasField("metrics") else None,
            text=text,
            embedding=vector,
            model=model,
        )
        if not updated:
            raise _not_found(request.tenant, record_id)
        return await self._get_or_not_found(store, [request.tenant], request.tenant, record_id)

    @_answers
    async def RecordFeedback(self, request: rag_pb2.RecordFeedbackRequest, context) -> common_pb2.DeploymentRecord:
        store, _ = self._ready()
        validation.feedback(request, max_reason_chars=self.settings.max_reason_chars)
        record_id = validation.record_id(request.id)
        # Feedback is about usefulness to the voter: records shared with the tenant can be voted on.
        tenants = self._visible(request.tenant)
        if not await store.record_feedback(tenants, record_id, request.user, request.vote, request.comment):
            raise _not_found(request.tenant, record_id)
        return await self._get_or_not_found(store, tenants, request.tenant, record_id)

    async def _get_or_not_found(
        self, store: DeploymentStore, tenants: list[str], tenant: str, record_id: str
    ) -> common_pb2.DeploymentRecord:
        record = await store.get(tenants, record_id)
        if record is None:
            raise _not_found(tenant, record_id)
        return record

    @_answers
    async def Import(self, request_iterator: AsyncIterator[rag_pb2.ImportRequest], context) -> rag_pb2.ImportSummary:
        store, embedder = self._ready()
        s = self.settings
        summary = rag_pb2.ImportSummary()
        batch: list[tuple[str, common_pb2.DeploymentRecord]] = []

        async def flush() -> None:
            described = [await self._text_of(store, record) for _, record in batch]
            try:
                vectors, model = await embedder.embed([d[0] for d in described])
            except EmbedderUnavailable as error:
                raise Rejected(
                    grpc.StatusCode.UNAVAILABLE,
                    f"{error}; {summary.created + summary.updated} records were imported before it, "
                    "the rest were not: import again (it is idempotent)",
                ) from None
            for (_key, record), text, vector in zip(batch, described, vectors, strict=True):
                _, created = await self._write(store, record, text, vector, model)
                if created:
                    summary.created += 1
                else:
                    summary.updated += 1
            batch.clear()

        async for item in request_iterator:
            summary.received += 1
            key = item.source_key or f"#{summary.received}"
            record = common_pb2.DeploymentRecord()
            record.CopyFrom(item.record)
            try:
                validation.tenant(item.tenant)
                if record.tenant and record.tenant != item.tenant:
                    raise InvalidArgument(
                        "record.tenant", f"is {record.tenant!r} but the import is for tenant {item.tenant!r}"
                    )
                record.tenant = item.tenant
                validation.deployment_record(
                    record,
                    max_record_bytes=s.max_record_bytes,
                    max_prompt_chars=s.max_prompt_chars,
                    max_reason_chars=s.max_reason_chars,
                )
            except InvalidArgument as error:
                summary.skipped += 1
                summary.skipped_records.add(source_key=key, reason=str(error))
                continue
            batch.append((key, record))
            if len(batch) >= IMPORT_BATCH:
                await flush()
        if batch:
            await flush()
        log.info(
            "import done",
            extra={
                "received": summary.received,
                "created": summary.created,
                "updated": summary.updated,
                "skipped": summary.skipped,
            },
        )
        return summary

    # --- reads ---------------------------------------------------------------------------------

    @_answers
    async def GetDeployment(self, request: rag_pb2.GetDeploymentRequest, context) -> common_pb2.DeploymentRecord:
        store, _ = self._ready()
        validation.tenant(request.tenant)
        record_id = validation.record_id(request.id)
        return await self._get_or_not_found(store, self._visible(request.tenant), request.tenant, record_id)

    @_answers
    async def ListDeployments(
        self, request: rag_pb2.ListDeploymentsRequest, context
    ) -> rag_pb2.ListDeploymentsResponse:
        store, _ = self._ready()
        validation.tenant(request.tenant)
        validation.deployment_filter(request.filter)
        size = validation.page_size(request.page_size, self.settings.max_page_size)
        fingerprint = query_fingerprint(request.tenant, request.filter)
        after = decode_page_token(request.page_token, fingerprint) if request.page_token else None
        records, next_cursor, total = await store.list(self._visible(request.tenant), request.filter, size, after)
        return rag_pb2.ListDeploymentsResponse(
            records=records,
            next_page_token=encode_page_token(next_cursor, fingerprint) if next_cursor else "",
            total=total,
        )

    @_answers
    async def GetStats(self, request: rag_pb2.GetStatsRequest, context) -> rag_pb2.Stats:
        store, _ = self._ready()
        validation.tenant(request.tenant)
        validation.deployment_filter(request.filter)
        row = await store.stats(self._visible(request.tenant), request.filter)
        return rag_pb2.Stats(
            total=row.total,
            by_outcome={_enum_name(common_pb2.Outcome, k): v for k, v in row.by_outcome.items()},
            by_strategy={_enum_name(common_pb2.Strategy, k): v for k, v in row.by_strategy.items()},
            by_framework={(k or "unknown"): v for k, v in row.by_framework.items()},
            feedback_up=row.up,
            feedback_down=row.down,
            estimated_monthly_cost_usd=row.cost,
            reranker=self.default_reranker_name,
        )

    @_answers
    async def Retrieve(self, request: rag_pb2.RetrieveRequest, context) -> rag_pb2.RetrieveResponse:
        store, embedder = self._ready()
        s = self.settings
        limit, candidates = validation.retrieve(
            request,
            max_limit=s.max_limit,
            max_candidates=s.max_candidates,
            max_query_chars=s.max_query_chars,
            max_prompt_chars=s.max_prompt_chars,
        )
        weights = validation.weights(request.weights, s.default_weights())
        mode = self._rerank_mode(request.rerank)
        tenants = self._visible(request.tenant)
        asked: rag_pb2.DeploymentQuery | str
        if request.WhichOneof("query") == "text":
            text, keywords, text_mode, budget = request.text, request.text, "websearch", 0.0
            floor = s.text_similarity_floor
            asked = request.text
        else:
            query = asked = request.deployment
            text = query_text(query.analysis, query.intent, s.embedding_words)
            keywords, text_mode = query_keywords(query.analysis, query.intent), "any"
            budget = query.intent.budget.max_monthly_cost_usd
            floor = s.similarity_floor
        notes: list[str] = []
        embedded: dict = {}  # the query's vector and its model, when the embedder answered

        async def vector_search() -> list[tuple[str, float]] | None:
            started = time.perf_counter()
            try:
                vector, model, cached = await embedder.embed_query(text)
            except EmbedderUnavailable as error:
                notes.append(f"embedder unavailable, full-text search only: {error}")
                return None
            finally:
                RETRIEVE_STAGE_SECONDS.labels("embed").observe(time.perf_counter() - started)
            QUERY_VECTORS.labels("cached" if cached else "embedded").inc()
            embedded.update(vector=vector, model=model)
            started = time.perf_counter()
            hits = await store.vector_candidates(tenants, request.filter, vector, model, candidates)
            RETRIEVE_STAGE_SECONDS.labels("vector").observe(time.perf_counter() - started)
            return hits

        async def text_search() -> list[tuple[str, float]]:
            started = time.perf_counter()
            hits = await store.text_candidates(tenants, request.filter, keywords, text_mode, candidates)
            RETRIEVE_STAGE_SECONDS.labels("text").observe(time.perf_counter() - started)
            return hits

        vector_hits, text_hits = await asyncio.gather(vector_search(), text_search())
        full_text_only = vector_hits is None
        vector_hits = vector_hits or []

        # Re-rank only the best `candidates` of the fused lists: the cross-encoder's cost grows with them.
        fused = reciprocal_rank_fusion([[i for i, _ in vector_hits], [i for i, _ in text_hits]], s.rrf_k)
        keep = set(sorted(fused, key=lambda i: (-fused[i], i))[:candidates])
        vector_hits = [hit for hit in vector_hits if hit[0] in keep]
        text_hits = [hit for hit in text_hits if hit[0] in keep]
        started = time.perf_counter()
        found = {
            c.features.id: c
            for c in await store.candidates(tenants, list(keep), embedded.get("vector"), embedded.get("model"))
        }
        RETRIEVE_STAGE_SECONDS.labels("candidates").observe(time.perf_counter() - started)

        cross_scores = None
        if mode == "cross-encoder" and found:
            cross_scores = await self._cross_encode(asked, found)
        if self.reranker_refused and mode != "none":
            notes.append(f"re-ranked by features: {self.reranker_refused}")
        # The model's fitted share of the vector similarity (reranker.py), when it scored.
        vector_weight = self.reranker.vector_weight if cross_scores is not None and self.reranker else 0.0
        parameters = RankingParameters(
            weights=weights,
            half_life_days=s.recency_half_life_days,
            prior_votes=s.feedback_prior_votes,
            rrf_k=s.rrf_k,
            budget=budget,
            mode="none" if mode == "none" else "features",
            similarity_floor=floor,
            cross_encoder_vector_weight=vector_weight,
        )
        ranked = rank(
            vector_hits,
            text_hits,
            {i: c.features for i, c in found.items()},
            datetime.now(UTC),
            parameters,
            cross_scores,
            searched_lists=1 if full_text_only else 2,
        )
        reranker_name = self.reranker.name if mode == "cross-encoder" and self.reranker else mode
        if mode == "none":
            notes.append(
                "rerank NONE: score is the fused retrieval score over its maximum (first in every list searched); "
                "the other components are informational"
            )
        if not vector_hits and not text_hits:
            notes.append("no stored deployment matched the query and filter")
        RETRIEVALS.labels(reranker_name.split(":")[0], str(full_text_only).lower()).inc()
        return rag_pb2.RetrieveResponse(
            results=[
                rag_pb2.RetrievedDeployment(
                    record=found[item.id].record,
                    score=item.score,
                    components=rag_pb2.ScoreComponents(**item.components),
                    vector_rank=item.vector_rank,
                    text_rank=item.text_rank,
                )
                for item in ranked[:limit]
            ],
            reranker=reranker_name,
            full_text_only=full_text_only,
            notes=notes,
        )

    def _rerank_mode(self, requested: int) -> str:
        Rerank = rag_pb2.RetrieveRequest.Rerank
        if requested == Rerank.RERANK_NONE:
            return "none"
        if requested == Rerank.RERANK_FEATURES:
            return "features"
        if requested == Rerank.RERANK_CROSS_ENCODER and self.reranker is None:
            raise Rejected(
                grpc.StatusCode.FAILED_PRECONDITION,
                "rerank CROSS_ENCODER: no cross-encoder model is loaded "
                f"(expected at {self.settings.reranker_model_path}"
                + (f"; {self.reranker_refused}" if self.reranker_refused else "")
                + "); use RERANK_FEATURES or RERANK_UNSPECIFIED",
            )
        return "cross-encoder" if self.reranker is not None else "features"

    async def _cross_encode(self, query: rag_pb2.DeploymentQuery | str, found: dict) -> dict[str, float]:
        reranker = self.reranker
        assert reranker is not None
        ids = list(found)
        # The model's own input format, from the stored records and the query (rerank_input).
        candidates = [(found[i].record, found[i].text) for i in ids]
        started = time.perf_counter()
        assert self.torch_thread is not None
        scores = await asyncio.get_running_loop().run_in_executor(
            self.torch_thread, reranker.score_candidates, query, candidates
        )
        RETRIEVE_STAGE_SECONDS.labels("cross_encoder").observe(time.perf_counter() - started)
        return dict(zip(ids, scores, strict=True))

    # --- background ----------------------------------------------------------------------------

    async def reembed_stale(self, batch: int = 64) -> int:
        """Re-embed records whose text changed while the embedder was down; returns how many."""
        store, embedder = self._ready()
        done = 0
        while stale := await store.stale_texts(batch):
            vectors, model = await embedder.embed([text for _, text in stale])
            for (record_id, text), vector in zip(stale, vectors, strict=True):
                if await store.refresh_embedding(record_id, text, vector, model):
                    done += 1
            if len(stale) < batch:
                break
        if done:
            REEMBEDDED.inc(done)
            log.info("re-embedded stale records", extra={"count": done})
        return done


def _enum_name(enum: object, number: int) -> str:
    item = enum.DESCRIPTOR.values_by_number.get(number)  # type: ignore[attr-defined]
    return item.name if item is not None else str(number)


class RagApp:
    """The RAG service as the runtime runs it."""

    service_names = (SERVICE_NAME,)

    def __init__(self, settings: RagSettings, *, reranker: CrossEncoderReranker | None = None) -> None:
        self.settings = settings
        self.servicer = DeploymentMemoryServicer(settings)
        self._given_reranker = reranker
        self._embedded: EmbeddedPostgres | None = None
        self._pool: AsyncConnectionPool | None = None
        self._embedder: EmbedderClient | None = None
        self._repair: asyncio.Task[None] | None = None

    def register(self, server: grpc.aio.Server) -> None:
        rag_pb2_grpc.add_DeploymentMemoryServicer_to_server(self.servicer, server)

    async def start(self) -> None:
        s = self.settings
        dsn = s.dsn
        if not dsn:
            log.warning(
                "SCIA_RAG_DSN is empty: starting an embedded PostgreSQL (development only)",
                extra={"data_dir": str(s.data_dir)},
            )
            self._embedded = EmbeddedPostgres(s.data_dir)
            dsn = await self._embedded.start(database=s.embedded_database)
        applied = await migrate(dsn)
        log.info("schema up to date", extra={"applied": applied})
        self._pool = await open_pool(
            dsn,
            min_size=s.pool_min_size,
            max_size=s.pool_max_size,
            timeout=s.pool_timeout_seconds,
            statement_timeout_ms=s.statement_timeout_ms,
        )
        self._embedder = EmbedderClient(
            s.embedder_target,
            s.embedder_timeout_seconds,
            QueryVectorCache(s.query_cache_size, s.query_cache_ttl_seconds),
        )
        reranker = self._given_reranker
        self.servicer.torch_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rerank")
        if reranker is None:
            loaded = await asyncio.get_running_loop().run_in_executor(
                self.servicer.torch_thread,
                functools.partial(
                    load_reranker, s.reranker_model_path, s.reranker_enabled, quantize=s.reranker_quantize
                ),
            )
            reranker = loaded.reranker
            self.servicer.reranker_refused = loaded.reason if loaded.refused else ""
            if reranker is None:
                log.warning(
                    "no cross-encoder: re-ranking by features only (reported as 'features')",
                    extra={"reason": loaded.reason},
                )
        if reranker is not None:
            log.info(
                "cross-encoder loaded",
                extra={
                    "reranker": reranker.name,
                    "path": str(reranker.path),
                    "input_format": reranker.input_format,
                    "quantized": reranker.quantized,
                    "vector_weight": reranker.vector_weight,
                },
            )
        self.servicer.reranker = reranker
        self.servicer.store = DeploymentStore(
            self._pool,
            ef_search=s.hnsw_ef_search,
            max_scan_tuples=s.hnsw_max_scan_tuples,
            max_lexeme_share=s.full_text_max_lexeme_share,
            max_words=s.full_text_max_words,
            rank_limit=s.full_text_rank_limit,
            exact_max_rows=s.exact_search_max_rows,
        )
        self.servicer.embedder = self._embedder
        self._repair = asyncio.create_task(self._repair_loop(), name="rag-reembed")

    async def _repair_loop(self) -> None:
        await self._backfill()
        while True:
            await asyncio.sleep(self.settings.reembed_interval_seconds)
            await self._backfill()
            try:
                await self.servicer.reembed_stale()
            except (EmbedderUnavailable, PoolTimeout, psycopg.Error) as error:
                log.warning("background re-embedding postponed", extra={"error": str(error)})
            except Exception:
                log.exception("background re-embedding failed")

    async def _backfill(self, batch: int = 500) -> None:
        """Rows written before migration 0002 get their binary record and an inline vector, a
        batch at a time (the service answers meanwhile, reading their JSON)."""
        store = self.servicer.store
        if store is None:
            return
        filled = 0
        try:
            while done := await store.backfill_binary_records(batch):
                filled += done
                await asyncio.sleep(0)
        except (PoolTimeout, psycopg.Error) as error:
            log.warning("back-fill of binary records postponed", extra={"error": str(error), "filled": filled})
            return
        if filled:
            log.info("binary records back-filled", extra={"rows": filled})

    async def stop(self) -> None:
        self.servicer.store = None
        self.servicer.embedder = None
        if self._repair is not None:
            self._repair.cancel()
            await asyncio.gather(self._repair, return_exceptions=True)
        if self.servicer.torch_thread is not None:
            self.servicer.torch_thread.shutdown(wait=True)
            self.servicer.torch_thread = None
        if self._embedder is not None:
            await self._embedder.close()
        if self._pool is not None:
            await self._pool.close()
        if self._embedded is not None:
            await self._embedded.stop()
