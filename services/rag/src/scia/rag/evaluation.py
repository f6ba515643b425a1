"""Measuring the re-ranker: NDCG@k of re-ranked candidate lists against the plain vector order.

An evaluation set (JSON lines) holds a corpus and held-out queries with graded relevance labels:

    {"type": "record", "id": "r1", "text": "...", "outcome": 2, "cost": 120.5,
     "created_at": "2026-03-01T10:00:00+00:00", "up": 1, "down": 0, "record": {DeploymentRecord JSON}}
    {"type": "query", "id": "q1", "text": "...", "budget": 300, "relevance": {"r1": 3, "r7": 1},
     "query": {DeploymentQuery JSON}}

`text` is the record's embedding text (`record_text`) and the query's `query_text`. The optional
`record` and `query` protos (JSON) are what a model of a structured input format (compact-v1:
rerank_input) reads, as the service builds it from the stored record; such a model refuses a set
without them. (`python -m bench.rag --eval-set FILE` writes one with them from the scenario
generator; `python -m bench.scenarios eval-set` one with texts only; both labelled by its oracle.)
For each query the records are embedded (through the embedder service, as the RAG service does),
the `candidates` nearest by exact cosine similarity are the plain vector order, and that same
candidate list is re-ordered:

- `vector`: as retrieved (the baseline);
- `features`: the service's feature re-rank (`ranking.rank` without a model, default weights);
- `cross_encoder`: the cross-encoder's score alone (on its relevance scale: stretched over the
  model's fitted `score_range` and clipped, reranker.relevance; ties by the vector order);
- `cross_encoder_relevance`: the relevance the service serves with the model, i.e. its score
  interpolated with the vector similarity by the model's fitted `vector_weight` (the same as
  `cross_encoder` when it is 0). What the planner orders by: it asks for `weights {relevance: 1}`;
- `cross_encoder_features`: what the service serves with a model and the default weights
  (relevance combined with feedback, recency, cost-efficiency and outcome, which these labels
  do not reward: see docs/benchmarks.md).

With `vector_weights`, NDCG@k of the interpolation at each weight is reported too
(`vector_weight_curve`): how a model's `vector_weight` is fitted, on validation queries.

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
from google.protobuf import json_format
from scia.rag.ranking import CandidateFeatures, RankingParameters, rank, similarity_relevance
from scia.v1 import common_pb2, rag_pb2

ORDERINGS = ("vector", "features", "cross_encoder", "cross_encoder_relevance", "cross_encoder_features")


class Embedder(Protocol):
    async def embed(self, texts: list[str]) -> tuple[np.ndarray, str]: ...


class Scorer(Protocol):
    name: str
    vector_weight: float

    def score_candidates(
        self,
        query: rag_pb2.DeploymentQuery | str,
        candidates: Sequence[tuple[common_pb2.DeploymentRecord | None, str]],
    ) -> list[float]: ...


@dataclass(frozen=True)
class EvalRecord:
    id: str
    text: str
    outcome: int
    cost: float
    created_at: datetime
    up: int = 0
    down: int = 0
    record: common_pb2.DeploymentRecord | None = None  # for structured input formats


@dataclass(frozen=True)
class EvalQuery:
    id: str
    text: str
    budget: float
    relevance: Mapping[str, int]  # record id -> graded label (0 when absent)
    query: rag_pb2.DeploymentQuery | None = None  # for structured input formats


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
                            record=_proto(item.get("record"), common_pb2.DeploymentRecord),
                        )
                    )
                elif item["type"] == "query":
                    relevance = {str(k): int(v) for k, v in dict(item["relevance"]).items()}
                    if any(v < 0 for v in relevance.values()):
                        raise ValueError("relevance labels must be >= 0")
                    queries.append(
                        EvalQuery(
                            str(item["id"]),
                            str(item["text"]),
                            float(item.get("budget", 0)),
                            relevance,
                            _proto(item.get("query"), rag_pb2.DeploymentQuery),
                        )
                    )
                else:
                    raise ValueError(f"unknown type {item['type']!r}")
            except (KeyError, TypeError, ValueError, json_format.ParseError) as error:
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


def _proto(value, message_type):
    """A proto from its JSON form in an evaluation item; None when absent."""
    if value is None:
        return None
    return json_format.ParseDict(value, message_type(), ignore_unknown_fields=True)


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
    vector_weights: Sequence[float] = (),
) -> dict:
    """NDCG@k of each ordering (ORDERINGS; the cross-encoder ones only with a reranker), averaged
    over the queries with at least one relevant record; with a reranker and `vector_weights`,
    also of the interpolation at each weight (`vector_weight_curve`)."""
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
    curve: dict[float, list[float]] = {float(w): [] for w in vector_weights}
    # Range (max - min) of each relevance over a query's candidates: how much say relevance has
    # in the default blend, where the other features span most of [0, 1].
    spread: dict[str, list[float]] = {"similarity": [], "cross_encoder": []}
    model_scores: list[float] = []  # every candidate's, for a model's score_range
    by_id = {r.id: r for r in records}
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

        similarity_relevances = [similarity_relevance(sim, similarity_floor) for _, sim in hits]
        spread["similarity"].append(max(similarity_relevances) - min(similarity_relevances))
        orders = {
            "vector": [i for i, _ in hits],
            "features": [s.id for s in rank(hits, [], features, now, parameters)],
        }
        if reranker is not None:
            ids = [i for i, _ in hits]
            asked = query.query if query.query is not None else query.text
            # Scoring is blocking (torch): off the event loop, as the service does.
            relevance = await asyncio.to_thread(
                reranker.score_candidates, asked, [(by_id[i].record, by_id[i].text) for i in ids]
            )
            cross = dict(zip(ids, relevance, strict=True))
            spread["cross_encoder"].append(max(relevance) - min(relevance))
            model_scores += relevance
            orders["cross_encoder"] = sorted(ids, key=lambda i: (-cross[i], ids.index(i)))

            def served(
                weights: Mapping[str, float],
                vector_weight: float,
                cross=cross,
                hits=hits,
                features=features,
                query: EvalQuery = query,
            ) -> list[str]:
                served_parameters = RankingParameters(
                    weights=weights,
                    budget=query.budget,
                    similarity_floor=similarity_floor,
                    cross_encoder_vector_weight=vector_weight,
                )
                return [s.id for s in rank(hits, [], features, now, served_parameters, cross)]

            relevance_only = {"relevance": 1.0, "feedback": 0.0, "recency": 0.0, "cost_efficiency": 0.0, "outcome": 0.0}
            orders["cross_encoder_relevance"] = served(relevance_only, reranker.vector_weight)
            orders["cross_encoder_features"] = served(weights, reranker.vector_weight)
            for weight, values in curve.items():
                value = ndcg_at_k(gains(served(relevance_only, weight)), judged, k)
                assert value is not None
                values.append(value)
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
        "vector_weight": reranker.vector_weight if reranker is not None else None,
    }
    for name in ORDERINGS:
        if scores[name]:
            report[name] = {f"ndcg_at_{k}": round(float(np.mean(scores[name])), 4)}
    if reranker is not None and scores["vector"]:
        # Per-query differences: how often re-ranking helps, not just the mean.
        for name in ("cross_encoder_relevance", "cross_encoder_features"):
            diffs = np.array(scores[name]) - np.array(scores["vector"])
            report[f"{name}_vs_vector"] = {
                "mean_gain": round(float(diffs.mean()), 4),
                "queries_better": int((diffs > 1e-9).sum()),
                "queries_worse": int((diffs < -1e-9).sum()),
            }
    report["relevance_range_mean"] = {name: round(float(np.mean(v)), 4) for name, v in spread.items() if v}
    if model_scores:
        report["cross_encoder_scores"] = {"min": float(min(model_scores)), "max": float(max(model_scores))}
    if curve and scores["vector"]:
        report["vector_weight_curve"] = {str(w): round(float(np.mean(v)), 4) for w, v in curve.items()}
    return report


async def fit_calibration(
    evaluation_set: EvaluationSet, embedder: Embedder, reranker, *, candidates: int = 20, k: int = 5
) -> tuple[tuple[float, float], float, dict]:
    """Fit a model's served-relevance calibration on VALIDATION queries: the range of its raw
    scores over the candidates (min, max: reranker.relevance), then, on that scale, the vector
    weight of the best NDCG@k (weights 0, 0.1, ..., 1). `reranker` is a CrossEncoderReranker;
    its calibration is replaced in memory. Returns (score_range, weight, the second report)."""
    reranker.score_range = None
    raw = await evaluate(evaluation_set, embedder, reranker, candidates=candidates, k=k)
    low, high = raw["cross_encoder_scores"]["min"], raw["cross_encoder_scores"]["max"]
    if not high > low:
        raise ValueError("the model gives every validation candidate the same score: nothing to calibrate")
    reranker.score_range = (low, high)
    report = await evaluate(
        evaluation_set,
        embedder,
        reranker,
        candidates=candidates,
        k=k,
        vector_weights=[round(i / 10, 1) for i in range(11)],
    )
    return (low, high), best_vector_weight(report["vector_weight_curve"]), report


def best_vector_weight(curve: Mapping[str, float]) -> float:
    """The weight of the highest NDCG in a `vector_weight_curve`; the smallest of equal ones (the
    model's own order is what was trained; the vector order is the baseline it must beat)."""
    if not curve:
        raise ValueError("empty vector weight curve")
    return min((-value, float(weight)) for weight, value in curve.items())[1]
