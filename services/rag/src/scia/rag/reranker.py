"""The optional cross-encoder re-ranker (needs the `rerank` extra: torch + sentence-transformers).

A model folder is what `scia-rag train-reranker` writes: the weights plus `scia_training.json`,
whose `input_format` and `max_length` say what the model was trained to read. The service feeds
exactly that (`rerank_input.pair_inputs`) and refuses a model whose format it does not know.

Blocking calls: run them off the event loop.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scia.rag.rerank_input import EMBEDDING_TEXT, FORMATS, pair_inputs
from scia.v1 import common_pb2, rag_pb2

log = logging.getLogger(__name__)

# What a saved model folder must hold for us to try loading it.
_MODEL_MARKERS = ("config.json", "modules.json")
METADATA_FILE = "scia_training.json"
# Models trained before the input format was recorded read pairs of at most 256 tokens.
_LEGACY_MAX_LENGTH = 256


class UnusableModel(ValueError):
    """The folder holds a model the service cannot feed correctly (unknown format, bad metadata)."""


@dataclass(frozen=True)
class ModelMetadata:
    input_format: str
    max_length: int
    # Share of the vector similarity in the served relevance (0: the cross-encoder alone), fitted
    # on validation queries (`scia-rag evaluate-reranker --fit-vector-weight`).
    vector_weight: float
    # (low, high) of the model's raw scores on validation candidates: the served relevance is
    # (score - low) / (high - low), clipped to [0, 1]. None: the raw score. See `relevance`.
    score_range: tuple[float, float] | None
    raw: Mapping


def read_metadata(path: Path) -> ModelMetadata:
    """The training metadata of a model folder; UnusableModel names what is wrong.

    A folder without `scia_training.json` was not written by `train-reranker`: what it expects
    as input is unknown, and a cross-encoder fed another format scores garbage without any
    error, so it is refused rather than guessed. Metadata without `input_format` comes from
    before formats were recorded, when there was one: `embedding-text`.
    """
    file = path / METADATA_FILE
    if not file.is_file():
        raise UnusableModel(
            f"{path} has no {METADATA_FILE}: its input format is unknown (train it with `scia-rag train-reranker`)"
        )
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
        input_format = str(raw.get("input_format", EMBEDDING_TEXT))
        max_length = int(raw.get("max_length") or _LEGACY_MAX_LENGTH)
        vector_weight = float(raw.get("vector_weight", 0.0))
        given_range = raw.get("score_range")
        score_range = None if given_range is None else (float(given_range[0]), float(given_range[1]))
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise UnusableModel(f"{file}: unreadable training metadata ({error})") from None
    if input_format not in FORMATS:
        raise UnusableModel(
            f"{path} was trained on input format {input_format!r}, which this service does not know "
            f"(known: {', '.join(FORMATS)}): retrain it or upgrade the service"
        )
    if not 8 <= max_length <= 512:
        raise UnusableModel(f"{file}: max_length {max_length} is outside 8-512")
    if not 0.0 <= vector_weight <= 1.0:
        raise UnusableModel(f"{file}: vector_weight {vector_weight} is outside [0, 1]")
    if score_range is not None and not 0.0 <= score_range[0] < score_range[1] <= 1.0:
        raise UnusableModel(f"{file}: score_range {list(score_range)} is not 0 <= low < high <= 1")
    return ModelMetadata(input_format, max_length, vector_weight, score_range, raw)


def relevance(score: float, score_range: tuple[float, float] | None) -> float:
    """A model's raw score on the relevance scale: stretched over the range its scores take on
    validation candidates, clipped to [0, 1].

    Why: trained on graded labels, the model hedges; its scores for one query's 20 candidates
    spanned 0.07 on average (measured, docs/benchmarks.md) against 0.25 for the cosine relevance
    it replaces, so in the default blend (relevance 0.5, recency 0.2, ...: features spanning most
    of [0, 1]) a model made relevance count ~3x less than without one. A fixed linear stretch
    per model keeps the order and the absolute meaning (the same score is the same relevance in
    every query), like the similarity floor does for the cosine."""
    if score_range is None:
        return score
    low, high = score_range
    return max(0.0, min(1.0, (score - low) / (high - low)))


def quantize_int8(model) -> None:
    """Dynamic int8 quantisation of the Linear layers, in place (weights int8, activations
    quantised per batch). Measured here: 2-layer model, 20 pairs of <= 128 tokens, p50 116 ms vs
    176 ms fp32 on 2 cores; its NDCG (as served) is in docs/benchmarks.md."""
    import warnings

    import torch

    with warnings.catch_warnings():
        # torch (pinned 2.13) marks torch.ao.quantization deprecated in favour of the separate
        # torchao package, which SCIA does not ship; the eager API still works and is what was
        # measured. Moving to torchao is a change to measure again, not a warning per start.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


class CrossEncoderReranker:
    """A fine-tuned cross-encoder scoring (query, record) pairs in [0, 1]."""

    def __init__(self, path: Path, torch_threads: int = 0, *, quantize: bool = False, calibrated: bool = True) -> None:
        resolved = path.resolve()
        self.metadata = read_metadata(resolved)  # before the (slow) load: refuse early
        # The stretch of the raw scores to relevance; `calibrated=False` (fitting one) keeps them raw.
        self.score_range = self.metadata.score_range if calibrated else None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import CrossEncoder

        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.path = resolved
        # `current` is a symlink to a versioned folder: its name is the version.
        self.version = resolved.name
        self.quantized = quantize
        self._model = CrossEncoder(
            str(resolved), device="cpu", local_files_only=True, max_length=self.metadata.max_length
        )
        if hasattr(self._model, "eval"):  # inference mode: no dropout
            self._model.eval()
        if quantize:
            quantize_int8(self._model.model)

    @property
    def name(self) -> str:
        return f"cross-encoder:{self.version}"

    @property
    def input_format(self) -> str:
        return self.metadata.input_format

    @property
    def vector_weight(self) -> float:
        return self.metadata.vector_weight

    def score(self, query: str, texts: list[str]) -> list[float]:
        """Scores of (query, text) pairs already in the model's input format."""
        if not texts:
            return []
        # predict applies a sigmoid for single-label models: scores are in [0, 1].
        scores = self._model.predict([(query, text) for text in texts], batch_size=32, show_progress_bar=False)
        return [float(s) for s in scores]

    def score_candidates(
        self,
        query: rag_pb2.DeploymentQuery | str,
        candidates: Sequence[tuple[common_pb2.DeploymentRecord | None, str]],
    ) -> list[float]:
        """Relevance in [0, 1] of stored candidates, (record, embedded text) each: the model's
        scores of its input format, on the relevance scale (`relevance`)."""
        query_input, texts = pair_inputs(self.input_format, query, candidates)
        return [relevance(s, self.score_range) for s in self.score(query_input, texts)]


@dataclass(frozen=True)
class LoadResult:
    reranker: CrossEncoderReranker | None
    reason: str  # why there is none, for the start-up warning and Retrieve's notes
    # True when a model folder was there but refused (a problem to fix), not merely absent/disabled.
    refused: bool = False


def load_reranker(path: Path, enabled: bool = True, *, quantize: bool = False) -> LoadResult:
    """Load the cross-encoder at `path` if there is one; never raise (the service then re-ranks by
    features and reports it)."""
    if not enabled:
        return LoadResult(None, "disabled by SCIA_RAG_RERANKER_ENABLED=false")
    if not path.exists():
        return LoadResult(None, f"no cross-encoder model at {path} (train one with `scia-rag train-reranker`)")
    if not any((path / marker).is_file() for marker in _MODEL_MARKERS):
        return LoadResult(None, f"{path} is not a cross-encoder model folder (no config.json)", refused=True)
    try:
        return LoadResult(CrossEncoderReranker(path, quantize=quantize), "")
    except UnusableModel as error:
        return LoadResult(None, f"cross-encoder refused: {error}", refused=True)
    except ImportError as error:
        return LoadResult(None, f"cannot load {path}: {error} (install scia-rag[rerank])", refused=True)
    except Exception as error:  # a corrupt or incompatible folder must not stop the service
        return LoadResult(None, f"cannot load {path}: {type(error).__name__}: {error}", refused=True)
