"""The RAG service's client of the embedder service."""

from __future__ import annotations

import grpc
import numpy as np
from scia.runtime.client import create_channel
from scia.v1 import embedder_pb2, embedder_pb2_grpc

EMBEDDER_SERVICE = embedder_pb2.DESCRIPTOR.services_by_name["Embedder"]
DIMENSIONS = 384  # the width of deployments.embedding (migration 0001)
# Texts per Embed call: under the embedder's default max_texts_per_request (256).
MAX_TEXTS_PER_CALL = 64


class EmbedderUnavailable(Exception):
    """The embedder could not embed the texts (down, overloaded, too slow or incompatible)."""


class EmbedderClient:
    def __init__(self, target: str, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._channel = create_channel(target, [EMBEDDER_SERVICE], timeout=timeout)
        self._stub = embedder_pb2_grpc.EmbedderStub(self._channel)

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, str]:
        """(len(texts), 384) float32 unit vectors and the model's name."""
        parts: list[np.ndarray] = []
        model = ""
        for start in range(0, len(texts), MAX_TEXTS_PER_CALL):
            chunk = texts[start : start + MAX_TEXTS_PER_CALL]
            try:
                # truncate: texts are bounded by words already; a long one is cut, not refused.
                response = await self._stub.Embed(
                    embedder_pb2.EmbedRequest(texts=chunk, truncate=True), timeout=self.timeout
                )
            except grpc.aio.AioRpcError as error:
                raise EmbedderUnavailable(
                    f"embedder at {self.target} failed: {error.code().name}: {error.details()}"
                ) from None
            if response.dimensions != DIMENSIONS:
                raise EmbedderUnavailable(
                    f"embedder at {self.target} serves {response.model} with {response.dimensions} dimensions; "
                    f"the store holds {DIMENSIONS}-dimensional vectors"
                )
            if model and response.model != model:
                raise EmbedderUnavailable(
                    f"embedder at {self.target} changed model mid-request ({model} -> {response.model})"
                )
            model = response.model
            parts.append(np.asarray([list(e.values) for e in response.embeddings], dtype=np.float32))
        return np.concatenate(parts) if parts else np.zeros((0, DIMENSIONS), np.float32), model

    async def close(self) -> None:
        await self._channel.close()
