"""RAG service settings, read from SCIA_RAG_* environment variables."""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from scia.rag.validation import TENANT_PATTERN
from scia.runtime.config import ServiceSettings


class RagSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCIA_RAG_", extra="ignore", frozen=True)

    grpc_port: int = Field(50052, ge=0, le=65535, description="gRPC port; 0 picks a free port.")
    metrics_port: int = Field(9092, ge=0, le=65535, description="Prometheus /metrics port; 0 disables it.")

    # --- storage -------------------------------------------------------------------------------
    dsn: str = Field(
        "",
        description="PostgreSQL connection string (libpq URI or key=value). Empty starts an embedded "
        "PostgreSQL (with pgvector) in data_dir: for development and single-node use only.",
    )
    data_dir: Path = Field(Path(".scia/postgres"), description="Data folder of the embedded PostgreSQL.")
    embedded_database: str = Field(
        "scia_rag", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="Database created in the embedded PostgreSQL."
    )
    pool_min_size: int = Field(1, ge=0, le=100, description="Connections the pool keeps open.")
    pool_max_size: int = Field(10, ge=1, le=500, description="Most connections the pool opens.")
    pool_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="How long a call waits for a free connection before UNAVAILABLE."
    )
    statement_timeout_ms: int = Field(
        15_000, ge=0, le=600_000, description="Server-side limit of one SQL statement; 0 means none."
    )

    # --- embedder ------------------------------------------------------------------------------
    embedder_target: str = Field("127.0.0.1:50051", description="gRPC target of the embedder service.")
    embedder_timeout_seconds: float = Field(
        5.0, gt=0, le=120, description="Deadline of one Embed call (retries on UNAVAILABLE included)."
    )

    query_cache_size: int = Field(
        1024,
        ge=0,
        le=1_000_000,
        description="Query texts whose vectors are kept for repeated Retrieve calls (least recently used out; 0 = off).",
    )
    query_cache_ttl_seconds: float = Field(
        600.0, gt=0, le=86_400, description="Longest a cached query vector is used (bounds a model change's lag)."
    )

    reembed_interval_seconds: float = Field(
        30.0,
        gt=0,
        le=86_400,
        description="How often records whose text changed while the embedder was down are re-embedded.",
    )

    # --- re-ranking ----------------------------------------------------------------------------
    reranker_model_path: Path = Field(
        Path(".scia/models/cross-encoder/current"),
        description="A fine-tuned cross-encoder folder (or a symlink to one, as `train-reranker` "
        "writes). Missing: re-ranking uses the features only, and says so.",
    )
    reranker_enabled: bool = Field(True, description="False never loads a cross-encoder, even when one exists.")
    reranker_quantize: bool = Field(
        True,
        description="Quantise the cross-encoder's linear layers to int8 at load (dynamic quantisation): "
        "~1.5x faster on CPU at the same NDCG measured (docs/benchmarks.md, RAG section).",
    )
    # Default weights of the final score; see docs/rag.md. Relevance dominates: a cheap, recent,
    # upvoted deployment of another stack is no help to the planner. Normalised by their sum.
    weight_relevance: float = Field(0.5, ge=0, le=1)
    weight_recency: float = Field(0.2, ge=0, le=1)
    weight_feedback: float = Field(0.15, ge=0, le=1)
    weight_cost_efficiency: float = Field(0.1, ge=0, le=1)
    weight_outcome: float = Field(0.05, ge=0, le=1)
    recency_half_life_days: float = Field(
        90.0, gt=0, le=3650, description="Age at which a record's recency score halves."
    )
    feedback_prior_votes: float = Field(
        2.0,
        gt=0,
        le=1000,
        description="Pseudo-votes of the feedback prior (at 0.5): how many real votes it takes to move the score.",
    )
    rrf_k: int = Field(60, ge=1, le=1000, description="Reciprocal rank fusion constant: 1 / (k + rank).")
    similarity_floor: float = Field(
        0.7,
        ge=-1,
        lt=1,
        description="Cosine similarity that maps to relevance 0 (1 maps to 1) when no cross-encoder scores, "
        "for a structured query (its text mirrors a record's: related records score 0.7-0.95).",
    )
    text_similarity_floor: float = Field(
        0.2,
        ge=-1,
        lt=1,
        description="The same for a free-text query: a few words against a whole record text score lower "
        "(measured: related 0.5-0.56, unrelated 0.06-0.23).",
    )
    full_text_max_lexeme_share: float = Field(
        0.05,
        gt=0,
        le=1,
        description="A structured query's full-text words found in more than this share of the rows "
        "(PostgreSQL's statistics of the tsv column) are left out: they match nearly everything and rank nothing.",
    )
    full_text_max_words: int = Field(
        32, ge=1, le=256, description="Most words of a structured query's full-text search (rarest kept)."
    )
    full_text_rank_limit: int = Field(
        100,
        ge=1,
        le=1_000_000,
        description="Full-text matches ranked per query: the newest this many; bounds the branch's cost.",
    )
    hnsw_ef_search: int = Field(
        100, ge=1, le=1000, description="HNSW search breadth; must be at least the candidates asked for."
    )
    hnsw_max_scan_tuples: int = Field(
        20_000, ge=1, le=10_000_000, description="Bound of an iterative (filtered) index scan."
    )
    exact_search_max_rows: int = Field(
        5000,
        ge=0,
        le=1_000_000,
        description="Vector search is exact (no HNSW) when at most this many rows match the tenant and "
        "filter: an HNSW scan misses the nearest rows of a selective filter; 0 never searches exactly.",
    )

    # --- tenancy -------------------------------------------------------------------------------
    shared_tenants: dict[str, list[str]] = Field(
        default_factory=dict,
        description='JSON {"owner": ["reader", ...]}: the owner tenant\'s records are also visible '
        "(read-only) to each reader tenant. Sharing is one-way and not transitive.",
    )

    # --- limits --------------------------------------------------------------------------------
    max_record_bytes: int = Field(
        1_048_576, ge=1024, le=64 * 1024 * 1024, description="Largest serialised DeploymentRecord accepted."
    )
    max_prompt_chars: int = Field(10_000, ge=16, le=1_000_000, description="Longest intent prompt accepted.")
    max_query_chars: int = Field(4_000, ge=16, le=100_000, description="Longest free-text Retrieve query.")
    max_reason_chars: int = Field(4_000, ge=16, le=100_000, description="Longest outcome reason or feedback comment.")
    max_page_size: int = Field(500, ge=1, le=500, description="Largest ListDeployments page (the contract allows 500).")
    max_limit: int = Field(50, ge=1, le=50, description="Most Retrieve results (the contract allows 50).")
    max_candidates: int = Field(
        200, ge=1, le=200, description="Most Retrieve candidates per list (the contract allows 200)."
    )
    embedding_words: int = Field(
        400, ge=16, le=2000, description="Words of a record's embedding text; the model reads 256 tokens anyway."
    )

    @field_validator("shared_tenants")
    @classmethod
    def _tenant_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for owner, readers in value.items():
            for name in (owner, *readers):
                if not TENANT_PATTERN.fullmatch(name) or len(name) > 63:
                    raise ValueError(f"{name!r} is not a tenant name (a Kubernetes namespace: DNS-1123 label)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RagSettings:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(f"pool_min_size ({self.pool_min_size}) exceeds pool_max_size ({self.pool_max_size})")
        weights = self.default_weights()
        if not math.fsum(weights.values()) > 0:
            raise ValueError("the re-rank weights are all 0: at least one must be positive")
        return self

    def default_weights(self) -> dict[str, float]:
        return {
            "relevance": self.weight_relevance,
            "feedback": self.weight_feedback,
            "recency": self.weight_recency,
            "cost_efficiency": self.weight_cost_efficiency,
            "outcome": self.weight_outcome,
        }

    def visible_tenants(self, tenant: str) -> list[str]:
        """The tenant itself first, then every tenant that shares its records with it."""
        return [
            tenant,
            *sorted(owner for owner, readers in self.shared_tenants.items() if tenant in readers and owner != tenant),
        ]
