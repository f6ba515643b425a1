"""The optional cross-encoder re-ranker (needs the `rerank` extra: torch + sentence-transformers).

Blocking calls: run them off the event loop.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# What a saved model folder must hold for us to try loading it.
_MODEL_MARKERS = ("config.json", "modules.json")


class CrossEncoderReranker:
    """A fine-tuned cross-encoder scoring (query, record text) pairs in [0, 1]."""

    def __init__(self, path: Path, torch_threads: int = 0) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import CrossEncoder

        if torch_threads:
            torch.set_num_threads(torch_threads)
        resolved = path.resolve()
        self.path = resolved
        # `current` is a symlink to a versioned folder: its name is the version.
        self.version = resolved.name
        self._model = CrossEncoder(str(resolved), device="cpu", local_files_only=True)
        if hasattr(self._model, "eval"):  # inference mode: no dropout
            self._model.eval()

    @property
    def name(self) -> str:
        return f"cross-encoder:{self.version}"

    def score(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        # predict applies a sigmoid for single-label models: scores are in [0, 1].
        scores = self._model.predict([(query, text) for text in texts], batch_size=32, show_progress_bar=False)
        return [float(s) for s in scores]


@dataclass(frozen=True)
class LoadResult:
    reranker: CrossEncoderReranker | None
    reason: str  # why there is none, for the start-up warning


def load_reranker(path: Path, enabled: bool = True) -> LoadResult:
    """Load the cross-encoder at `path` if there is one; never raise (the service then re-ranks by
    features and reports it)."""
    if not enabled:
        return LoadResult(None, "disabled by SCIA_RAG_RERANKER_ENABLED=false")
    if not path.exists():
        return LoadResult(None, f"no cross-encoder model at {path} (train one with `scia-rag train-reranker`)")
    if not any((path / marker).is_file() for marker in _MODEL_MARKERS):
        return LoadResult(None, f"{path} is not a cross-encoder model folder (no config.json)")
    try:
        return LoadResult(CrossEncoderReranker(path), "")
    except ImportError as error:
        return LoadResult(None, f"cannot load {path}: {error} (install scia-rag[rerank])")
    except Exception as error:  # a corrupt or incompatible folder must not stop the service
        return LoadResult(None, f"cannot load {path}: {type(error).__name__}: {error}")
