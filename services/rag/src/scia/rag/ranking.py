"""Pure retrieval logic: what text represents a deployment, how candidate lists are fused and how
the final score is made. No I/O here, so all of it is unit-tested directly.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from scia.v1 import common_pb2

COMPONENTS = ("relevance", "feedback", "recency", "cost_efficiency", "outcome")
# Words of the prompt kept in an embedding text: the model reads ~256 tokens, and the outcome
# (the most useful part for learning from failures) must not be pushed out by a long prompt.
PROMPT_WORDS = 120
TOP_DEPENDENCIES = 12

OUTCOME_SCORES = {
    common_pb2.OUTCOME_SUCCESS: 1.0,
    common_pb2.OUTCOME_DEGRADED: 0.5,
    common_pb2.OUTCOME_FAILED: 0.25,
    common_pb2.OUTCOME_PENDING: 0.5,
    common_pb2.OUTCOME_DELETED: 0.5,
    common_pb2.OUTCOME_UNSPECIFIED: 0.5,
}


def enum_label(enum: object, value: int) -> str:
    """`STRATEGY_KUBERNETES` -> `kubernetes`, `TRAIT_KIND_HEALTH_ENDPOINT` -> `health endpoint`;
    empty for UNSPECIFIED or unknown values.

    The prefix is the one of the enum's zero value (`TRAIT_KIND_UNSPECIFIED` -> `TRAIT_KIND_`),
    the proto style guide's convention: cutting at the first underscore left "kind health
    endpoint" in every embedded text.
    """
    descriptor = enum.DESCRIPTOR  # type: ignore[attr-defined]
    item = descriptor.values_by_number.get(value)
    if item is None or value == 0:
        return ""
    zero = descriptor.values_by_number.get(0)
    if zero is not None and zero.name.endswith("_UNSPECIFIED"):
        prefix = zero.name.removesuffix("UNSPECIFIED")
    else:
        prefix = item.name.split("_", 1)[0] + "_"
    return item.name.removeprefix(prefix).lower().replace("_", " ")


def _words(text: str, limit: int) -> str:
    words = text.split()
    return " ".join(words[:limit])


def _application_parts(analysis: common_pb2.RepositoryAnalysis) -> list[str]:
    parts: list[str] = []
    if not analysis.applications:
        return parts
    app = analysis.applications[0]
    stack = " ".join(p for p in (app.framework, app.language, app.runtime_version) if p)
    if stack:
        parts.append(f"{stack} application")
    dependencies = [d.name for d in app.dependencies if not d.dev and d.name][:TOP_DEPENDENCIES]
    if dependencies:
        parts.append("dependencies: " + ", ".join(dependencies))
    traits = [enum_label(common_pb2.TraitKind, t.kind) for t in app.traits]
    traits = [t for t in traits if t]
    if traits:
        parts.append("traits: " + ", ".join(traits))
    backing = sorted({b.kind for b in analysis.backing_services if b.kind})
    if backing:
        parts.append("backing services: " + ", ".join(backing))
    return parts


def _configuration_part(configuration: common_pb2.Configuration) -> str:
    workload = configuration.WhichOneof("workload")
    pieces: list[str] = []
    if workload == "vm":
        vm = configuration.vm
        pieces.append(f"{vm.instance_count or 1} x {vm.instance_type or 'vm'}")
        if vm.max_count > vm.min_count:
            pieces.append(f"autoscaling {vm.min_count}-{vm.max_count}")
    elif workload == "kubernetes":
        k8s = configuration.kubernetes
        pieces.append(f"{k8s.desired_nodes or k8s.min_nodes} x {k8s.node_type or 'node'} nodes")
        if k8s.replicas:
            pieces.append(f"{k8s.replicas} replicas")
        if k8s.pod_memory_mb:
            pieces.append(f"{k8s.pod_memory_mb} MB pod memory")
    elif workload == "serverless":
        fn = configuration.serverless
        pieces.append(f"functions with {fn.memory_mb} MB memory, {fn.timeout_seconds} s timeout")
    for managed in configuration.managed_services:
        pieces.append(f"managed {managed.kind} {managed.instance_class}".strip())
    return ", ".join(pieces)


def record_text(record: common_pb2.DeploymentRecord, max_words: int = 400) -> str:
    """The text a record is embedded and full-text indexed by, most telling parts first."""
    parts = _application_parts(record.analysis)
    if record.intent.prompt.strip():
        parts.append("request: " + _words(record.intent.prompt, PROMPT_WORDS))
    strategy = enum_label(common_pb2.Strategy, record.plan.strategy or record.intent.strategy)
    cloud = enum_label(common_pb2.Cloud, record.plan.configuration.cloud or record.intent.cloud)
    region = record.plan.configuration.region or record.intent.region
    where = " ".join(p for p in (strategy, "on" if strategy and cloud else "", cloud, region) if p)
    if where:
        parts.append(f"deployed as {where}")
    configuration = _configuration_part(record.plan.configuration)
    if configuration:
        parts.append("configuration: " + configuration)
    if record.plan.cost.monthly_total_usd > 0:
        parts.append(f"estimated cost {record.plan.cost.monthly_total_usd:.0f} USD per month")
    outcome = enum_label(common_pb2.Outcome, record.outcome)
    if outcome:
        parts.append(
            f"outcome: {outcome}" + (f" ({record.outcome_reason.strip()})" if record.outcome_reason.strip() else "")
        )
    return _words(". ".join(parts), max_words)


def query_text(
    analysis: common_pb2.RepositoryAnalysis, intent: common_pb2.DeploymentIntent, max_words: int = 400
) -> str:
    """A DeploymentQuery in the same shape as record_text, so both embed alike."""
    parts = _application_parts(analysis)
    if intent.prompt.strip():
        parts.append("request: " + _words(intent.prompt, PROMPT_WORDS))
    strategy = enum_label(common_pb2.Strategy, intent.strategy)
    cloud = enum_label(common_pb2.Cloud, intent.cloud)
    where = " ".join(p for p in (strategy, "on" if strategy and cloud else "", cloud, intent.region) if p)
    if where:
        parts.append(f"deployed as {where}")
    return _words(". ".join(parts), max_words)


def query_keywords(analysis: common_pb2.RepositoryAnalysis, intent: common_pb2.DeploymentIntent) -> str:
    """The content words of a DeploymentQuery, for full-text search (any word may match).

    Not query_text: its template words ("application", "request", "deployed") are in every
    stored text, so with any-word matching every record would be a candidate.
    """
    words: list[str] = []
    if analysis.applications:
        app = analysis.applications[0]
        words += [app.framework, app.language]
        words += [d.name for d in app.dependencies if not d.dev and d.name][:TOP_DEPENDENCIES]
    words.append(_words(intent.prompt, PROMPT_WORDS))
    words += [
        enum_label(common_pb2.Strategy, intent.strategy),
        enum_label(common_pb2.Cloud, intent.cloud),
        intent.region,
    ]
    return " ".join(w for w in words if w)


# --- fusion ------------------------------------------------------------------------------------


def reciprocal_rank_fusion(lists: Sequence[Sequence[str]], k: int = 60) -> dict[str, float]:
    """sum over lists of 1 / (k + rank), rank 1-based. Items absent from a list get nothing from it."""
    fused: dict[str, float] = {}
    for ranked in lists:
        for rank, item in enumerate(ranked, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def fused_share(fused: float, lists: int, k: int = 60) -> float:
    """A fused score over its maximum (first in each of the `lists` searched): in (0, 1], the same
    scale for every query. The score of RERANK_NONE (order only: RRF is flat, 0.91 at rank 8)."""
    return min(1.0, fused * (k + 1) / max(1, lists))


def similarity_relevance(cosine: float, floor: float) -> float:
    """Relevance from a cosine similarity, on a fixed scale: 0 at `floor` or below, 1 at 1.

    Absolute, so 0.8 means the same in every query (min-max over the candidates gave the second of
    two candidates 0 however close it was). Why not the raw cosine: all-MiniLM puts unrelated
    deployment texts at 0.3-0.5 and same-stack ones at 0.7-0.95, so the raw value varies little
    between candidates and the features (recency, feedback) would decide the order on their own;
    the floor stretches the range that matters without depending on the candidate list.
    """
    if floor >= 1:
        raise ValueError("the similarity floor must be below 1")
    return max(0.0, min(1.0, (cosine - floor) / (1.0 - floor)))


# --- features ----------------------------------------------------------------------------------


def feedback_score(up: int, down: int, prior_votes: float = 2.0) -> float:
    """Share of upvotes with a Bayesian prior of `prior_votes` votes at 0.5: 0.5 without votes,
    and one vote moves it only part of the way (one upvote: 0.67 with the default prior)."""
    return (up + 0.5 * prior_votes) / (up + down + prior_votes)


def recency_score(created_at: datetime, now: datetime, half_life_days: float) -> float:
    """1 for now, halving every half-life; a timestamp in the future counts as now."""
    age_days = max(0.0, (now - created_at).total_seconds() / 86_400)
    return 0.5 ** (age_days / half_life_days)


def cost_reference(budget: float, candidate_costs: Sequence[float]) -> float:
    """What a cost is compared with: the query's budget, else the median cost of the candidates
    (cheaper than comparable plans is then what counts), else 0 (unknown)."""
    if budget > 0:
        return budget
    known = [c for c in candidate_costs if c > 0]
    return statistics.median(known) if known else 0.0


def cost_efficiency_score(monthly_cost: float, reference: float) -> float:
    """1 / (1 + cost / reference): 1 when free, 0.5 at the reference, 0.33 at twice it.
    0.5 (neutral) when the cost or the reference is unknown."""
    if monthly_cost <= 0 or reference <= 0:
        return 0.5
    return 1.0 / (1.0 + monthly_cost / reference)


def outcome_score(outcome: int) -> float:
    return OUTCOME_SCORES.get(outcome, 0.5)


def weighted_score(components: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Weighted mean of the re-rank components, in [0, 1]."""
    total = math.fsum(weights[name] for name in COMPONENTS)
    if total <= 0:
        raise ValueError("the re-rank weights sum to 0")
    return math.fsum(weights[name] * components[name] for name in COMPONENTS) / total


# --- the whole re-ranking ----------------------------------------------------------------------


@dataclass
class CandidateFeatures:
    """What the store knows about one candidate."""

    id: str
    created_at: datetime
    monthly_cost: float
    outcome: int
    up: int = 0
    down: int = 0
    # Cosine similarity of the record's embedding to the query's; None when the query was not
    # embedded (embedder down) or the record's vector is of another model.
    similarity: float | None = None


@dataclass
class Scored:
    id: str
    score: float
    vector_rank: int
    text_rank: int
    components: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RankingParameters:
    weights: Mapping[str, float]
    half_life_days: float = 90.0
    prior_votes: float = 2.0
    rrf_k: int = 60
    budget: float = 0.0
    # "features": weighted score; "none": fused order only (score = fused_share).
    mode: str = "features"
    # Cosine similarity that maps to relevance 0 (see similarity_relevance; docs/rag.md for why 0.7).
    similarity_floor: float = 0.7
    # Share of the vector similarity in the relevance when a cross-encoder scored (the model's
    # fitted `vector_weight`; 0: the cross-encoder alone). See relevance_of.
    cross_encoder_vector_weight: float = 0.0


def relevance_of(
    candidate: CandidateFeatures,
    text_score: float,
    cross_encoder: float | None,
    floor: float,
    vector_weight: float = 0.0,
) -> float:
    """Absolute relevance in [0, 1]: the cross-encoder's when a model scored the candidate, else the
    record's cosine similarity to the query (similarity_relevance), else (the query could not be
    embedded) its full-text rank, ts_rank_cd normalised as rank / (rank + 1).

    With a cross-encoder and `vector_weight` > 0, the two are interpolated:
    (1 - w) x cross-encoder + w x similarity_relevance (a standard, cheap combination: the vector
    search sees the whole text, the small cross-encoder a compact one; w is fitted per model on
    validation queries). A candidate without a similarity (full-text only) keeps the model's."""
    if cross_encoder is not None:
        model = max(0.0, min(1.0, cross_encoder))
        if vector_weight > 0 and candidate.similarity is not None:
            return (1.0 - vector_weight) * model + vector_weight * similarity_relevance(candidate.similarity, floor)
        return model
    if candidate.similarity is not None:
        return similarity_relevance(candidate.similarity, floor)
    return max(0.0, min(1.0, text_score))


def rank(
    vector_hits: Sequence[tuple[str, float]],
    text_hits: Sequence[tuple[str, float]],
    features: Mapping[str, CandidateFeatures],
    now: datetime,
    parameters: RankingParameters,
    cross_encoder: Mapping[str, float] | None = None,
    *,
    searched_lists: int = 2,
) -> list[Scored]:
    """Fuse the candidate lists, score every candidate and return them best first.

    vector_hits: (id, cosine similarity) nearest first; text_hits: (id, text rank) best first.
    cross_encoder: relevance in [0, 1] by id, when a model scored the candidates.
    searched_lists: how many lists were searched (1 when the embedder was down), for fused_share.
    Candidates missing from `features` (deleted meanwhile) are dropped.
    """
    vector_ids = [item for item, _ in vector_hits]
    text_ids = [item for item, _ in text_hits]
    fused = reciprocal_rank_fusion([vector_ids, text_ids], parameters.rrf_k)
    similarity = dict(vector_hits)
    text_scores = dict(text_hits)
    vector_rank = {item: i for i, item in enumerate(vector_ids, start=1)}
    text_rank = {item: i for i, item in enumerate(text_ids, start=1)}
    reference = cost_reference(parameters.budget, [f.monthly_cost for f in features.values()])

    results: list[Scored] = []
    for item, fused_score in fused.items():
        candidate = features.get(item)
        if candidate is None:
            continue
        relevance = relevance_of(
            candidate,
            text_scores.get(item, 0.0),
            cross_encoder.get(item) if cross_encoder is not None else None,
            parameters.similarity_floor,
            parameters.cross_encoder_vector_weight,
        )
        components = {
            "vector_similarity": max(0.0, min(1.0, similarity.get(item, 0.0))),
            "text_rank": text_scores.get(item, 0.0),
            "fused": fused_score,
            "relevance": relevance,
            "feedback": feedback_score(candidate.up, candidate.down, parameters.prior_votes),
            "recency": recency_score(candidate.created_at, now, parameters.half_life_days),
            "cost_efficiency": cost_efficiency_score(candidate.monthly_cost, reference),
            "outcome": outcome_score(candidate.outcome),
        }
        if parameters.mode == "none":
            score = fused_share(fused_score, searched_lists, parameters.rrf_k)
        else:
            score = weighted_score(components, parameters.weights)
        results.append(Scored(item, score, vector_rank.get(item, 0), text_rank.get(item, 0), components))
    # Ties (equal scores) fall back to retrieval order, then the id, so results are deterministic.
    results.sort(key=lambda s: (-s.score, -s.components["fused"], s.id))
    return results
