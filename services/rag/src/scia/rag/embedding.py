"""The RAG service's client of the embedder service."""

from __future__ import annotations

import time
from collections import OrderedDict

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


class QueryVectorCache:
    """The vectors of recent query texts, so a repeated Retrieve skips the embedder.

    Embedding one query is most of a Retrieve's time on CPU (~25 ms of MiniLM on 2 idle cores,
    against a few ms of SQL), and queries repeat: a plan is previewed and then created, the
    operator re-plans the same analysis and intent, the UI re-runs a search. Bounded by entries
    (least recently used out) and by age, so a changed embedder model is picked up within
    `ttl_seconds` even if no write has shown it; any answer from the embedder naming another
    model empties the cache at once.
    """

    def __init__(self, size: int, ttl_seconds: float, clock=time.monotonic) -> None:
        self.size = size
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, np.ndarray, str]] = OrderedDict()

    def get(self, text: str) -> tuple[np.ndarray, str] | None:
        entry = self._entries.get(text)
        if entry is None:
            return None
        stored_at, vector, model = entry
        if self._clock() - stored_at > self.ttl_seconds:
            del self._entries[text]
            return None
        self._entries.move_to_end(text)
        return vector, model

    def put(self, text: str, vector: np.ndarray, model: str) -> None:
        if self.size <= 0:
            return
        self.saw_model(model)
        self._entries[text] = (self._clock(), vector, model)
        self._entries.move_to_end(text)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def saw_model(self, model: str) -> None:
        """The embedder answered with `model`: vectors of any other model are stale."""
        if self._entries and next(reversed(self._entries.values()))[2] != model:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class EmbedderClient:
    def __init__(self, target: str, timeout: float, query_cache: QueryVectorCache | None = None) -> None:
        self.target = target
        self.timeout = timeout
        self.query_cache = query_cache if query_cache is not None else QueryVectorCache(0, 0)
        self._channel = create_channel(target, [EMBEDDER_SERVICE], timeout=timeout)
        self._stub = embedder_pb2_grpc.EmbedderStub(self._channel)

    async def embed_query(self, text: str) -> tuple[np.ndarray, str, bool]:
        """One query's vector, its model and whether it came from the cache."""
        cached = self.query_cache.get(text)
        if cached is not None:
            return cached[0], cached[1], True
        vectors, model = await self.embed([text])
        self.query_cache.put(text, vectors[0], model)
        return vectors[0], model, False

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
            self.query_cache.saw_model(model)
            parts.append(np.asarray([list(e.values) for e in response.embeddings], dtype=np.float32))
        return np.concatenate(parts) if parts else np.zeros((0, DIMENSIONS), np.float32), model

    async def close(self) -> None:
        await self._channel.close()
