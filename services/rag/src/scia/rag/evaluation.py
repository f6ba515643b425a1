"""Measuring the re-ranker: NDCG@k of re-ranked candidate lists against the plain vector order.

An evaluation set (JSON lines) holds a corpus and held-out queries with graded relevance labels:

    {"type": "record", "id": "r1", "text": "...", "outcome": 2, "cost": 120.5,
     "created_at": "2026-03-01T10:00:00+00:00", "up": 1, "down": 0}
    {"type": "query", "id": "q1", "text": "...", "budget": 300, "relevance": {"r1": 3, "r7": 1}}

(`python -m bench.scenarios eval-set` writes one from the scenario generator, labelled by its
oracle.) For each query the records are embedded (through the embedder service, as the RAG
service does), the `candidates` nearest by exact cosine similarity are the plain vector order,
and that same candidate list is re-ordered four ways:

- `vector`: as retrieved (the baseline);
- `features`: the service's feature re-rank (`ranking.rank` without a model);
- `cross_encoder`: the cross-encoder's relevance alone;
- `cross_encoder_features`: what the service serves with a model (cross-encoder relevance
  combined with feedback, recency, cost-efficiency and outcome by the default weights).

NDCG@k uses exponential gains (2^label - 1) and an ideal ranking over ALL labelled records of the
query, not only the candidates: a record the vector search never found counts against every
ordering alike, so the comparison between orderings stays fair and the absolute value is honest.
Full-text candidates are left out on purpose: this measures the re-ranking, not the fusion.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import numpy as np
from scia.rag.ranking import CandidateFeatures, RankingParameters, rank

ORDERINGS = ("vector", "features", "cross_encoder", "cross_encoder_features")


class Embedder(Protocol):
    async def embed(self, texts: list[str]) -> tuple[np.ndarray, str]: ...


class Scorer(Protocol):
    name: str

    def score(self, query: str, texts: list[str]) -> list[float]: ...


@dataclass(frozen=True)
class EvalRecord:
    id: str
    text: str
    outcome: int
    cost: float
    created_at: datetime
    up: int = 0
    down: int = 0


@dataclass(frozen=True)
class EvalQuery:
    id: str
    text: str
    budget: float
    relevance: Mapping[str, int]  # record id -> graded label (0 when absent)


@dataclass(frozen=True)
class EvaluationSet:
    records: list[EvalRecord]
    queries: list[EvalQuery]

    @classmethod
    def from_items(cls, items: Iterable[Mapping], source: str = "items") -> EvaluationSet:
        records, queries = [], []
        for number, item in enumerate(items, start=1):
            try:
                if item["type"] == "record":
                    records.append(
                        EvalRecord(
                            id=str(item["id"]),
                            text=str(item["text"]),
                            outcome=int(item.get("outcome", 0)),
                            cost=float(item.get("cost", 0.0)),
                            created_at=datetime.fromisoformat(item["created_at"]),
                            up=int(item.get("up", 0)),
                            down=int(item.get("down", 0)),
                        )
                    )
                elif item["type"] == "query":
                    relevance = {str(k): int(v) for k, v in dict(item["relevance"]).items()}
                    if any(v < 0 for v in relevance.values()):
                        raise ValueError("relevance labels must be >= 0")
                    queries.append(EvalQuery(str(item["id"]), str(item["text"]), float(item.get("budget", 0)), relevance))
                else:
                    raise ValueError(f"unknown type {item['type']!r}")
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{source}:{number}: not an evaluation record or query ({error})") from None
        if not records or not queries:
            raise ValueError(f"{source}: needs at least one record and one query")
        ids = {r.id for r in records}
        if len(ids) != len(records):
            raise ValueError(f"{source}: record ids are not unique")
        for query in queries:
            unknown = set(query.relevance) - ids
            if unknown:
                raise ValueError(f"{source}: query {query.id} labels unknown records {sorted(unknown)[:3]}")
        return cls(records, queries)

    @classmethod
    def read(cls, path: Path) -> EvaluationSet:
        items = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError as error:
                    raise ValueError(f"{path}:{number}: not JSON ({error})") from None
        return cls.from_items(items, str(path))


# --- the metric --------------------------------------------------------------------------------


def dcg(gains: Sequence[float], k: int) -> float:
    """Discounted cumulative gain of the first k labels, exponential gain 2^label - 1."""
    return math.fsum((2.0**g - 1.0) / math.log2(i + 2) for i, g in enumerate(gains[:k]))


def ndcg_at_k(ranked: Sequence[float], judged: Iterable[float], k: int) -> float | None:
    """NDCG@k of the labels in ranked order, against the ideal order of every judged label.
    None when nothing is relevant (the query says nothing about the ranking)."""
    ideal = dcg(sorted(judged, reverse=True), k)
    if ideal <= 0:
        return None
    return dcg(ranked, k) / ideal


# --- the evaluation ----------------------------------------------------------------------------


async def _embed(embedder: Embedder, texts: list[str], batch: int = 256) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), batch):
        vectors, _model = await embedder.embed(texts[start : start + batch])
        parts.append(np.asarray(vectors, dtype=np.float32))
    return np.concatenate(parts)


async def evaluate(
    evaluation_set: EvaluationSet,
    embedder: Embedder,
    reranker: Scorer | None,
    *,
    weights: Mapping[str, float] | None = None,
    candidates: int = 20,
    k: int = 5,
    similarity_floor: float | None = None,
) -> dict:
    """NDCG@k of each ordering (ORDERINGS; the cross-encoder ones only with a reranker), averaged
    over the queries with at least one relevant record."""
    import asyncio

    if weights is None or similarity_floor is None:
        from scia.rag.config import RagSettings

        settings = RagSettings()
        weights = settings.default_weights() if weights is None else weights
        similarity_floor = settings.similarity_floor if similarity_floor is None else similarity_floor
    records = evaluation_set.records
    # Distinct texts only: re-deployed revisions repeat their text, and embedding is the cost.
    distinct = list(dict.fromkeys(r.text for r in records))
    row_of = {text: row for row, text in enumerate(distinct)}
    record_vectors = (await _embed(embedder, distinct))[[row_of[r.text] for r in records]]
    query_vectors = await _embed(embedder, [q.text for q in evaluation_set.queries])
    similarity = query_vectors @ record_vectors.T  # unit vectors: cosine similarity
    # "Now" is the newest record, so recency means the same whenever the set is evaluated.
    now = max(r.created_at for r in records)
    scores: dict[str, list[float]] = {name: [] for name in ORDERINGS}
    skipped = 0
    for row, query in enumerate(evaluation_set.queries):
        judged = list(query.relevance.values())
        if not any(g > 0 for g in judged):
            skipped += 1
            continue
        # Nearest first; ties broken by position, so the order is deterministic.
        nearest = np.argsort(-similarity[row], kind="stable")[:candidates]
        hits = [(records[i].id, float(similarity[row, i])) for i in nearest]
        features = {
            records[i].id: CandidateFeatures(
                id=records[i].id,
                created_at=records[i].created_at,
                monthly_cost=records[i].cost,
                outcome=records[i].outcome,
                up=records[i].up,
                down=records[i].down,
                similarity=float(similarity[row, i]),
            )
            for i in nearest
        }
        parameters = RankingParameters(weights=weights, budget=query.budget, similarity_floor=similarity_floor)

        def gains(ids: Sequence[str], query: EvalQuery = query) -> list[float]:
            return [float(query.relevance.get(i, 0)) for i in ids]

        orders = {
            "vector": [i for i, _ in hits],
            "features": [s.id for s in rank(hits, [], features, now, parameters)],
        }
        if reranker is not None:
            ids = [i for i, _ in hits]
            by_id = {r.id: r for r in records}
            # Scoring is blocking (torch): off the event loop, as the service does.
            relevance = await asyncio.to_thread(reranker.score, query.text, [by_id[i].text for i in ids])
            cross = dict(zip(ids, relevance, strict=True))
            orders["cross_encoder"] = sorted(ids, key=lambda i: (-cross[i], ids.index(i)))
            orders["cross_encoder_features"] = [s.id for s in rank(hits, [], features, now, parameters, cross)]
        for name, order in orders.items():
            value = ndcg_at_k(gains(order), judged, k)
            assert value is not None
            scores[name].append(value)
    evaluated = len(evaluation_set.queries) - skipped
    report: dict = {
        "k": k,
        "candidates": candidates,
        "records": len(records),
        "queries": evaluated,
        "queries_without_relevant_records": skipped,
        "reranker": reranker.name if reranker is not None else None,
    }
    for name in ORDERINGS:
        if scores[name]:
            report[name] = {f"ndcg_at_{k}": round(float(np.mean(scores[name])), 4)}
    if reranker is not None and scores["vector"]:
        # Per-query differences: how often re-ranking helps, not just the mean.
        diffs = np.array(scores["cross_encoder_features"]) - np.array(scores["vector"])
        report["cross_encoder_features_vs_vector"] = {
            "mean_gain": round(float(diffs.mean()), 4),
            "queries_better": int((diffs > 1e-9).sum()),
            "queries_worse": int((diffs < -1e-9).sum()),
        }
    return report
