"""Embedder settings, read from SCIA_EMBEDDER_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from scia.runtime.config import ServiceSettings


class EmbedderSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCIA_EMBEDDER_")

    model_path: Path | None = Field(
        None, description="A sentence-transformers model folder; empty means the bundled all-MiniLM-L6-v2."
    )
    model_name: str = Field("", description="Name reported to clients; empty means derived from the model.")
    batching: bool = Field(True, description="Coalesce concurrent requests into shared forward passes.")
    max_batch_size: int = Field(64, ge=1, le=1024, description="Texts per forward pass.")
    max_batch_wait_ms: float = Field(
        5.0, ge=0, le=1000, description="How long a batch waits for more texts before it runs."
    )
    max_texts_per_request: int = Field(256, ge=1, le=10_000)
    max_text_chars: int = Field(10_000, ge=16, le=1_000_000)
    max_queued_texts: int = Field(
        4096, ge=1, le=1_000_000, description="Texts waiting for inference; beyond it calls get RESOURCE_EXHAUSTED."
    )
    torch_threads: int = Field(0, ge=0, le=256, description="Intra-op threads; 0 lets torch use every core.")

    @field_validator("model_path")
    @classmethod
    def _model_folder_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not (value / "modules.json").is_file() and not (value / "config.json").is_file():
            raise ValueError(f"{value} is not a sentence-transformers model folder (no modules.json or config.json)")
        return value
