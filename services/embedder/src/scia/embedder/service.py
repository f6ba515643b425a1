"""The Embedder gRPC service: validation, micro-batched inference, responses."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
from prometheus_client import Counter, Gauge, Histogram

from scia.embedder.batcher import MicroBatcher, QueueFull
from scia.embedder.config import EmbedderSettings
from scia.embedder.model import TextEncoder
from scia.runtime.errors import Rejected
from scia.v1 import embedder_pb2, embedder_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = embedder_pb2.DESCRIPTOR.services_by_name["Embedder"].full_name
# Requests of one EmbedStream being embedded at once: enough to keep the batcher fed while
# the previous response is on the wire, small enough to bound a stream's memory.
STREAM_WINDOW = 4

TEXTS_EMBEDDED = Counter("scia_embedder_texts_total", "Texts embedded.")
BATCH_SIZE = Histogram(
    "scia_embedder_batch_size", "Texts per forward pass.", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
)
INFERENCE_SECONDS = Histogram(
    "scia_embedder_inference_seconds",
    "Time of one forward pass.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
QUEUED_TEXTS = Gauge("scia_embedder_queued_texts", "Texts waiting for a forward pass.")


class EmbedderServicer(embedder_pb2_grpc.EmbedderServicer):
    def __init__(self, settings: EmbedderSettings) -> None:
        self.settings = settings
        self.encoder: TextEncoder | None = None
        self.batcher: MicroBatcher | None = None

    async def Embed(self, request: embedder_pb2.EmbedRequest, context: grpc.aio.ServicerContext) -> embedder_pb2.EmbedResponse:
        return await self._embed(request)

    async def EmbedStream(
        self, request_iterator: AsyncIterator[embedder_pb2.EmbedRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[embedder_pb2.EmbedResponse]:
        window = asyncio.Semaphore(STREAM_WINDOW)
        in_order: asyncio.Queue[asyncio.Task[embedder_pb2.EmbedResponse] | None] = asyncio.Queue()

        async def read_requests() -> None:
            try:
                async for request in request_iterator:
                    await window.acquire()
                    in_order.put_nowait(asyncio.create_task(self._embed(request)))
            finally:
                in_order.put_nowait(None)

        reader = asyncio.create_task(read_requests())
        try:
            while (task := await in_order.get()) is not None:
                try:
                    response = await task  # a Rejected request ends the stream with its status
                finally:
                    window.release()
                yield response
            await reader  # a broken request stream surfaces here
        finally:
            reader.cancel()
            while not in_order.empty():
                if (task := in_order.get_nowait()) is not None:
                    task.cancel()

    async def GetModelInfo(self, request: embedder_pb2.GetModelInfoRequest, context: grpc.aio.ServicerContext) -> embedder_pb2.ModelInfo:
        if self.encoder is None or self.batcher is None:
            raise Rejected(grpc.StatusCode.UNAVAILABLE, "the model is still loading; retry shortly")
        return self.model_info(self.encoder)

    def model_info(self, encoder: TextEncoder) -> embedder_pb2.ModelInfo:
        s = self.settings
        return embedder_pb2.ModelInfo(
            name=encoder.description.name,
            dimensions=encoder.description.dimensions,
            max_seq_length=encoder.description.max_seq_length,
            normalized=True,
            max_texts_per_request=s.max_texts_per_request,
            max_text_chars=s.max_text_chars,
            max_batch_size=s.max_batch_size,
            max_batch_wait_ms=round(s.max_batch_wait_ms),
            batching_enabled=s.batching,
        )

    async def _embed(self, request: embedder_pb2.EmbedRequest) -> embedder_pb2.EmbedResponse:
        encoder, batcher = self.encoder, self.batcher
        if encoder is None or batcher is None:
            raise Rejected(grpc.StatusCode.UNAVAILABLE, "the model is still loading; retry shortly")
        texts, cut = self._validated_texts(request)
        try:
            vectors, too_many_tokens = await asyncio.gather(
                batcher.embed(texts), asyncio.to_thread(encoder.exceeds_max_tokens, texts)
            )
        except QueueFull as full:
            raise Rejected(grpc.StatusCode.RESOURCE_EXHAUSTED, f"embedder overloaded: {full}; retry later") from None
        TEXTS_EMBEDDED.inc(len(texts))
        return embedder_pb2.EmbedResponse(
            embeddings=[
                embedder_pb2.Embedding(values=row.tolist(), truncated=chars or tokens)
                for row, chars, tokens in zip(vectors, cut, too_many_tokens, strict=True)
            ],
            model=encoder.description.name,
            dimensions=encoder.description.dimensions,
            request_id=request.request_id,
        )

    def _validated_texts(self, request: embedder_pb2.EmbedRequest) -> tuple[list[str], list[bool]]:
        limit, max_chars = self.settings.max_texts_per_request, self.settings.max_text_chars
        count = len(request.texts)
        if count == 0:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"texts is empty: send between 1 and {limit} texts")
        if count > limit:
            raise Rejected(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{count} texts exceed the limit of {limit} per request: split the batch (or use EmbedStream)",
            )
        texts, cut = [], []
        for index, text in enumerate(request.texts):
            if len(text) > max_chars:
                if not request.truncate:
                    raise Rejected(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"texts[{index}] has {len(text)} characters, over the limit of {max_chars}: "
                        "shorten it or set truncate to cut it",
                    )
                text = text[:max_chars]
            texts.append(text)
            cut.append(len(text) < len(request.texts[index]))
        return texts, cut


class EmbedderApp:
    """The embedder as the runtime runs it."""

    service_names = (SERVICE_NAME,)

    def __init__(self, settings: EmbedderSettings, encoder: TextEncoder | None = None) -> None:
        self.settings = settings
        self.servicer = EmbedderServicer(settings)
        self._encoder = encoder
        self._torch_thread: ThreadPoolExecutor | None = None

    def register(self, server: grpc.aio.Server) -> None:
        embedder_pb2_grpc.add_EmbedderServicer_to_server(self.servicer, server)

    async def start(self) -> None:
        s = self.settings
        # Every torch call (load, warm-up, inference) runs on this one thread. Each OS thread that
        # enters torch gets its own OpenMP team, and two teams on 2 cores made every pass ~1.4x
        # slower (one 100-token query: 30 -> 44 ms, measured) once loading and inference ran on
        # different threads.
        self._torch_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        loop = asyncio.get_running_loop()
        encoder = self._encoder
        if encoder is None:
            started = time.perf_counter()
            encoder = await loop.run_in_executor(
                self._torch_thread, TextEncoder, s.model_path, s.model_name, s.torch_threads
            )
            log.info(
                "model loaded",
                extra={"model": encoder.description.name, "seconds": round(time.perf_counter() - started, 2)},
            )
        # Warm-up: the first pass allocates and is several times slower; no caller should pay for it.
        warm_up = ["warm-up pass before serving"] * min(8, s.max_batch_size)
        await loop.run_in_executor(self._torch_thread, encoder.encode, warm_up)
        batcher = MicroBatcher(
            _observed(encoder),
            max_batch_size=s.max_batch_size,
            max_batch_wait=s.max_batch_wait_ms / 1000,
            max_queued_texts=s.max_queued_texts,
            enabled=s.batching,
            executor=self._torch_thread,
        )
        batcher.start()
        QUEUED_TEXTS.set_function(lambda: batcher.queued_texts)
        self.servicer.encoder, self.servicer.batcher = encoder, batcher

    async def stop(self) -> None:
        batcher, self.servicer.batcher = self.servicer.batcher, None
        if batcher is not None:
            await batcher.stop()
        if self._torch_thread is not None:
            self._torch_thread.shutdown(wait=True)
            self._torch_thread = None


def _observed(encoder: TextEncoder):
    def encode(texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        vectors = encoder.encode(texts)
        INFERENCE_SECONDS.observe(time.perf_counter() - started)
        BATCH_SIZE.observe(len(texts))
        return vectors

    return encode
