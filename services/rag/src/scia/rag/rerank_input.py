"""What the cross-encoder reads: versioned (query, candidate) input formats. Pure functions.

A cross-encoder only works on inputs shaped like the ones it was trained on, so the format is a
property of the model: training records it in the model folder (`scia_training.json`,
`input_format`) and the service builds exactly that format, or refuses the model (see
`reranker.read_metadata`). A new format gets a new name here; an existing one never changes
(every model trained on it would silently get other inputs).

Formats:

- `embedding-text` (models trained before formats were versioned): the query's `query_text` and
  the record's stored embedding text (~80 + ~130 tokens). Kept so those models still load.
- `compact-v1`: short texts of the fields that decide relevance, so a (query, record) pair fits in
  128 tokens (a small model at 128 tokens is what makes re-ranking 20 candidates cheap enough):
  query: `<framework> <language>. <key words of the request>. budget <n> usd. <strategy> <cloud>`;
  record: `<framework> <language>. deps <+extra> <-missing>. <key words of its request>.
  <strategy> <cloud> <size>. cost <n> usd. <outcome>: <reason>`.
  The record's dependencies are written as a difference to the query's (`same deps` when equal):
  the framework's own libraries, shared by every same-stack candidate, cost no tokens, and what
  sets apps apart (the libraries that go with a latent need: an image pipeline, a heavy SDK)
  shows on both sides of the difference. Everything comes from the stored record and the query,
  which is what the service has at re-rank time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from scia.rag.ranking import enum_label, query_text
from scia.v1 import common_pb2, rag_pb2

EMBEDDING_TEXT = "embedding-text"
COMPACT_V1 = "compact-v1"
FORMATS = (EMBEDDING_TEXT, COMPACT_V1)
DEFAULT_FORMAT = COMPACT_V1

# compact-v1's limits (part of the format: changing them needs a new format name).
REQUEST_WORDS = 14  # key words kept of a request's prompt
DIFF_DEPENDENCIES = 4  # extra (and missing) dependencies listed per side
LISTED_DEPENDENCIES = 6  # dependencies listed when the query names none (a free-text query)
FREE_TEXT_WORDS = 40

# Words that carry no fact in a deployment request (the rest, numbers included, are kept).
_STOPWORDS = frozenset(
    """a an the and or of for to in on at by with from into our we us it its is are be will can
    that this these those as our your my please deploy deployment host hosting set setup up run
    app application service written want need needs should would like using use some any it's
    around about roughly approximately per""".split()
)
_WORD = re.compile(r"[a-z0-9$][a-z0-9$._+-]*")
_VERSION_PART = re.compile(r"v\d+")


def short_dependency(name: str) -> str:
    """`org.apache.poi:poi-ooxml` -> `poi-ooxml`, `github.com/stripe/stripe-go/v78` -> `stripe-go`,
    `@nestjs/core` -> `nestjs/core` (a scope's last part alone, `core`, names nothing): the part
    that names the library, in fewer tokens."""
    if name.startswith("@"):
        return name[1:]
    last = name.rsplit(":", 1)[-1]
    parts = [p for p in last.split("/") if p and not _VERSION_PART.fullmatch(p)]
    return parts[-1] if parts else name


def _dependencies(analysis: common_pb2.RepositoryAnalysis) -> list[str]:
    if not analysis.applications:
        return []
    seen: dict[str, None] = {}
    for dependency in analysis.applications[0].dependencies:
        if dependency.name and not dependency.dev:
            seen.setdefault(short_dependency(dependency.name.lower()), None)
    return list(seen)


def _stack(analysis: common_pb2.RepositoryAnalysis) -> tuple[str, str]:
    if not analysis.applications:
        return "", ""
    app = analysis.applications[0]
    return app.framework.lower(), app.language.lower()


def key_words(prompt: str, drop: set[str], limit: int = REQUEST_WORDS) -> str:
    """The request's content words in order, without stopwords, repeats or `drop` (words said
    elsewhere in the text: the stack, the cloud, the region); numbers stay (load, budget)."""
    kept: list[str] = []
    for word in _WORD.findall(prompt.lower()):
        word = word.strip(".-+").lstrip("$")
        if not word or word in _STOPWORDS or word in drop or word in kept:
            continue
        kept.append(word)
        if len(kept) == limit:
            break
    return " ".join(kept)


def _where(strategy: int, cloud: int) -> str:
    return " ".join(p for p in (enum_label(common_pb2.Strategy, strategy), enum_label(common_pb2.Cloud, cloud)) if p)


def _size(configuration: common_pb2.Configuration) -> str:
    workload = configuration.WhichOneof("workload")
    if workload == "vm":
        vm = configuration.vm
        size = f"{vm.instance_count or 1} x {vm.instance_type or 'vm'}"
        return size + (f" autoscaling {vm.min_count}-{vm.max_count}" if vm.max_count > vm.min_count else "")
    if workload == "kubernetes":
        k8s = configuration.kubernetes
        size = f"{k8s.desired_nodes or k8s.min_nodes} x {k8s.node_type or 'node'}"
        if k8s.replicas:
            size += f" {k8s.replicas} replicas"
        return size + (f" {k8s.pod_memory_mb} mb" if k8s.pod_memory_mb else "")
    if workload == "serverless":
        return f"{configuration.serverless.memory_mb} mb functions"
    return ""


def _drop_words(framework: str, language: str, cloud: int, region: str) -> set[str]:
    words = {framework, language, region.lower(), enum_label(common_pb2.Cloud, cloud)}
    return {w for w in words if w}


def compact_query(query: rag_pb2.DeploymentQuery | str) -> str:
    """compact-v1's query side; a free-text query is its first words."""
    if isinstance(query, str):
        return " ".join(query.lower().split()[:FREE_TEXT_WORDS])
    framework, language = _stack(query.analysis)
    intent = query.intent
    parts = [" ".join(p for p in (framework, language) if p)]
    parts.append(key_words(intent.prompt, _drop_words(framework, language, intent.cloud, intent.region)))
    if intent.budget.max_monthly_cost_usd > 0:
        parts.append(f"budget {intent.budget.max_monthly_cost_usd:.0f} usd")
    parts.append(_where(intent.strategy, intent.cloud))
    return ". ".join(p for p in parts if p)


def dependency_difference(query_dependencies: Sequence[str] | None, record_dependencies: Sequence[str]) -> str:
    """`deps +pandas +numpy -stripe` (the record's extra and missing libraries against the query's),
    `same deps`, or, without query dependencies, the record's first few."""
    if not query_dependencies:
        listed = list(record_dependencies[:LISTED_DEPENDENCIES])
        return "deps " + " ".join(listed) if listed else ""
    asked = set(query_dependencies)
    extra = [d for d in record_dependencies if d not in asked]
    have = set(record_dependencies)
    missing = [d for d in query_dependencies if d not in have]
    if not extra and not missing:
        return "same deps"
    words = [f"+{d}" for d in extra[:DIFF_DEPENDENCIES]] + [f"-{d}" for d in missing[:DIFF_DEPENDENCIES]]
    return "deps " + " ".join(words)


def compact_record(record: common_pb2.DeploymentRecord, query_dependencies: Sequence[str] | None) -> str:
    """compact-v1's record side (see the module docstring)."""
    framework, language = _stack(record.analysis)
    configuration = record.plan.configuration
    cloud = configuration.cloud or record.intent.cloud
    region = configuration.region or record.intent.region
    parts = [
        " ".join(p for p in (framework, language) if p),
        dependency_difference(query_dependencies, _dependencies(record.analysis)),
        key_words(record.intent.prompt, _drop_words(framework, language, cloud, region)),
        " ".join(p for p in (_where(record.plan.strategy or record.intent.strategy, cloud), _size(configuration)) if p),
    ]
    if record.plan.cost.monthly_total_usd > 0:
        parts.append(f"cost {record.plan.cost.monthly_total_usd:.0f} usd")
    outcome = enum_label(common_pb2.Outcome, record.outcome)
    if outcome:
        reason = " ".join(record.outcome_reason.lower().split()[:12])
        parts.append(outcome + (f": {reason}" if reason else ""))
    return ". ".join(p for p in parts if p)


def pair_inputs(
    input_format: str,
    query: rag_pb2.DeploymentQuery | str,
    candidates: Sequence[tuple[common_pb2.DeploymentRecord | None, str]],
    *,
    query_words: int = 400,
) -> tuple[str, list[str]]:
    """The model's (query, [candidate]) inputs in `input_format`.

    `candidates`: (stored record, its stored embedding text). `embedding-text` needs only the
    texts; `compact-v1` needs the records (ValueError names what is missing).
    """
    if input_format == EMBEDDING_TEXT:
        text = query if isinstance(query, str) else query_text(query.analysis, query.intent, query_words)
        return text, [embedded for _, embedded in candidates]
    if input_format == COMPACT_V1:
        if any(record is None for record, _ in candidates):
            raise ValueError(f"input format {COMPACT_V1} needs the stored records, not only their texts")
        query_dependencies = None if isinstance(query, str) else _dependencies(query.analysis)
        records = [r for r, _ in candidates if r is not None]
        return compact_query(query), [compact_record(r, query_dependencies) for r in records]
    raise ValueError(f"unknown cross-encoder input format {input_format!r} (known: {', '.join(FORMATS)})")
