"""The embedder over real gRPC on loopback, with the real all-MiniLM-L6-v2 model."""

from __future__ import annotations

import asyncio
import shutil
import threading

import grpc
import numpy as np
import pytest
from prometheus_client import REGISTRY

from scia.v1 import embedder_pb2, embedder_pb2_grpc
from tests.helpers import serve_embedder

EMBEDDER = embedder_pb2.DESCRIPTOR.services_by_name["Embedder"]
TEXTS = [
    "Flask API with PostgreSQL under $300/month in eu-west-3",
    "Next.js storefront with server-side rendering",
    "Go gRPC service on Kubernetes with autoscaling",
    "Django admin back-office, two instances across zones",
    "a nightly batch job that resizes images",
]


def vectors(response: embedder_pb2.EmbedResponse) -> np.ndarray:
    return np.array([e.values for e in response.embeddings], dtype=np.float32)


def stub(channel) -> embedder_pb2_grpc.EmbedderStub:
    return embedder_pb2_grpc.EmbedderStub(channel)


async def test_embed_returns_normalised_vectors_equal_to_in_process_encoding(embedder, text_encoder):
    async with embedder.channel([EMBEDDER]) as channel:
        response = await stub(channel).Embed(embedder_pb2.EmbedRequest(texts=TEXTS, request_id="r-1"))
    got = vectors(response)
    assert got.shape == (len(TEXTS), 384)
    assert response.model == "sentence-transformers/all-MiniLM-L6-v2" and response.dimensions == 384
    assert response.request_id == "r-1"
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, text_encoder.encode(TEXTS), atol=1e-5)
    assert not any(e.truncated for e in response.embeddings)


async def test_similar_texts_are_closer_than_unrelated_ones(embedder):
    async with embedder.channel([EMBEDDER]) as channel:
        response = await stub(channel).Embed(
            embedder_pb2.EmbedRequest(texts=["a Flask web API", "a small Flask REST service", "a nightly Spark job"])
        )
    v = vectors(response)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1


def batch_size_sum_and_count() -> tuple[float, float]:
    return (
        REGISTRY.get_sample_value("scia_embedder_batch_size_sum") or 0.0,
        REGISTRY.get_sample_value("scia_embedder_batch_size_count") or 0.0,
    )


async def test_concurrent_requests_are_batched_and_identical_to_unbatched_encoding(text_encoder):
    texts = [f"{TEXTS[i % len(TEXTS)]} (variant {i})" for i in range(48)]
    unbatched = np.stack([text_encoder.encode([t])[0] for t in texts])
    before_sum, before_count = batch_size_sum_and_count()
    async with serve_embedder(text_encoder, max_batch_size=64, max_batch_wait_ms=20) as running:
        async with running.channel([EMBEDDER]) as channel:
            responses = await asyncio.gather(
                *(stub(channel).Embed(embedder_pb2.EmbedRequest(texts=[t])) for t in texts)
            )
    after_sum, after_count = batch_size_sum_and_count()
    passes, embedded = after_count - before_count, after_sum - before_sum
    assert embedded == len(texts)
    assert passes < len(texts) / 4, f"{passes} forward passes for {len(texts)} concurrent single-text calls"
    batched = np.stack([vectors(r)[0] for r in responses])
    np.testing.assert_allclose(batched, unbatched, atol=1e-5)


async def test_a_request_larger_than_a_batch_keeps_its_order(text_encoder):
    texts = [f"deployment number {i} of a {['flask', 'django', 'express'][i % 3]} app" for i in range(150)]
    async with serve_embedder(text_encoder, max_batch_size=32) as running:
        async with running.channel([EMBEDDER]) as channel:
            response = await stub(channel).Embed(embedder_pb2.EmbedRequest(texts=texts))
    np.testing.assert_allclose(vectors(response), text_encoder.encode(texts), atol=1e-5)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([], "texts is empty: send between 1 and 8 texts"),
        (["x"] * 9, "9 texts exceed the limit of 8 per request"),
        (["ok", "y" * 101], "texts[1] has 101 characters, over the limit of 100"),
    ],
)
async def test_bad_requests_get_invalid_argument_naming_the_limit(text_encoder, texts, message):
    async with serve_embedder(text_encoder, max_texts_per_request=8, max_text_chars=100) as running:
        async with running.channel([EMBEDDER]) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await stub(channel).Embed(embedder_pb2.EmbedRequest(texts=texts))
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert message in error.value.details()
            # The service keeps serving after a bad request.
            ok = await stub(channel).Embed(embedder_pb2.EmbedRequest(texts=["still here"]))
            assert len(ok.embeddings) == 1


async def test_truncate_cuts_long_texts_and_flags_them(text_encoder):
    long_text = "word " * 40  # 200 characters
    async with serve_embedder(text_encoder, max_text_chars=100) as running:
        async with running.channel([EMBEDDER]) as channel:
            response = await stub(channel).Embed(embedder_pb2.EmbedRequest(texts=[long_text, "short"], truncate=True))
    assert [e.truncated for e in response.embeddings] == [True, False]
    np.testing.assert_allclose(vectors(response)[0], text_encoder.encode([long_text[:100]])[0], atol=1e-5)


async def test_texts_beyond_the_models_token_window_are_flagged(embedder):
    beyond = " ".join(f"token{i}" for i in range(400))  # far more than 256 word pieces
    async with embedder.channel([EMBEDDER]) as channel:
        response = await stub(channel).Embed(embedder_pb2.EmbedRequest(texts=[beyond, "a short text"]))
    assert [e.truncated for e in response.embeddings] == [True, False]


async def test_concurrent_long_texts_never_collide_in_the_tokenizer(embedder, text_encoder):
    """Long texts are tokenized twice (the token-window check and inference), from two threads."""
    texts = [f"deployment {i}: " + "a Flask API with PostgreSQL and Redis behind a load balancer " * 6 for i in range(48)]
    async with embedder.channel([EMBEDDER], max_attempts=1) as channel:
        responses = await asyncio.gather(
            *(stub(channel).Embed(embedder_pb2.EmbedRequest(texts=[t])) for t in texts)
        )
    np.testing.assert_allclose(np.stack([vectors(r)[0] for r in responses]), text_encoder.encode(texts), atol=1e-5)


class GatedEncoder:
    """The real encoder behind a gate, so a test can hold inference and fill the queue."""

    def __init__(self, encoder) -> None:
        self._encoder = encoder
        self.description = encoder.description
        self.gate = threading.Event()
        self.gate.set()

    def encode(self, texts):
        self.gate.wait(30)
        return self._encoder.encode(texts)

    def exceeds_max_tokens(self, texts):
        return self._encoder.exceeds_max_tokens(texts)


async def test_a_full_queue_answers_resource_exhausted_and_recovers(text_encoder):
    gated = GatedEncoder(text_encoder)
    async with serve_embedder(gated, max_batch_size=4, max_batch_wait_ms=0, max_queued_texts=8) as running:
        gated.gate.clear()
        async with running.channel([EMBEDDER], max_attempts=1) as channel:
            calls = [
                asyncio.ensure_future(stub(channel).Embed(embedder_pb2.EmbedRequest(texts=[f"t{i}"] * 4)))
                for i in range(6)
            ]
            await asyncio.sleep(0.5)
            gated.gate.set()
            results = await asyncio.gather(*calls, return_exceptions=True)
            refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
            served = [r for r in results if isinstance(r, embedder_pb2.EmbedResponse)]
            assert refused and served
            for error in refused:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "limit of 8" in error.details()
            after = await stub(channel).Embed(embedder_pb2.EmbedRequest(texts=["recovered"]))
            assert len(after.embeddings) == 1


async def test_the_client_retries_resource_exhausted_when_asked_to(text_encoder):
    gated = GatedEncoder(text_encoder)
    async with serve_embedder(gated, max_batch_size=4, max_batch_wait_ms=0, max_queued_texts=4) as running:
        gated.gate.clear()
        async with running.channel(
            [EMBEDDER], max_attempts=5, retryable_codes=("UNAVAILABLE", "RESOURCE_EXHAUSTED")
        ) as channel:
            first = asyncio.ensure_future(stub(channel).Embed(embedder_pb2.EmbedRequest(texts=["a"] * 4)))
            await asyncio.sleep(0.3)
            second = asyncio.ensure_future(stub(channel).Embed(embedder_pb2.EmbedRequest(texts=["b"] * 4)))
            await asyncio.sleep(0.2)
            third = asyncio.ensure_future(stub(channel).Embed(embedder_pb2.EmbedRequest(texts=["c"] * 4)))
            await asyncio.sleep(0.1)  # third is refused and backs off while the gate is shut
            gated.gate.set()
            responses = await asyncio.gather(first, second, third)
    assert all(len(r.embeddings) == 4 for r in responses)


async def test_embed_stream_answers_in_order_and_matches_embed(embedder, text_encoder):
    batches = [[f"{text} #{n}" for text in TEXTS] for n in range(12)]

    async def requests():
        for n, texts in enumerate(batches):
            yield embedder_pb2.EmbedRequest(texts=texts, request_id=f"batch-{n}")

    async with embedder.channel([EMBEDDER]) as channel:
        responses = [r async for r in stub(channel).EmbedStream(requests())]
    assert [r.request_id for r in responses] == [f"batch-{n}" for n in range(12)]
    for texts, response in zip(batches, responses, strict=True):
        np.testing.assert_allclose(vectors(response), text_encoder.encode(texts), atol=1e-5)


async def test_embed_stream_works_in_lockstep(embedder):
    """A client that waits for each answer before sending the next request must not deadlock."""
    async with embedder.channel([EMBEDDER]) as channel:
        call = stub(channel).EmbedStream()
        for n in range(3):
            await call.write(embedder_pb2.EmbedRequest(texts=[f"step {n}"], request_id=str(n)))
            response = await call.read()
            assert response.request_id == str(n)
        await call.done_writing()
        assert await call.read() == grpc.aio.EOF


async def test_embed_stream_ends_with_the_error_of_a_bad_request(text_encoder):
    async def requests():
        yield embedder_pb2.EmbedRequest(texts=["fine"], request_id="ok")
        yield embedder_pb2.EmbedRequest(texts=[], request_id="bad")

    async with serve_embedder(text_encoder) as running:
        async with running.channel([EMBEDDER]) as channel:
            received = []
            with pytest.raises(grpc.aio.AioRpcError) as error:
                async for response in stub(channel).EmbedStream(requests()):
                    received.append(response.request_id)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert received == ["ok"]


async def test_model_info_describes_model_and_limits(text_encoder):
    async with serve_embedder(text_encoder, max_batch_size=16, batching=False) as running:
        async with running.channel([EMBEDDER]) as channel:
            info = await stub(channel).GetModelInfo(embedder_pb2.GetModelInfoRequest())
    assert info.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert (info.dimensions, info.max_seq_length, info.normalized) == (384, 256, True)
    assert (info.max_batch_size, info.batching_enabled) == (16, False)
    assert info.max_texts_per_request == 256 and info.max_text_chars == 10_000


def test_any_sentence_transformers_model_folder_can_be_configured(tmp_path, text_encoder):
    from scia.embedder.config import EmbedderSettings
    from scia.embedder.model import TextEncoder, bundled_model_path

    folder = tmp_path / "team-minilm"
    shutil.copytree(bundled_model_path(), folder)
    settings = EmbedderSettings(model_path=folder)
    encoder = TextEncoder(settings.model_path, settings.model_name)
    assert encoder.description.name == "team-minilm"
    np.testing.assert_allclose(encoder.encode(TEXTS[:2]), text_encoder.encode(TEXTS[:2]), atol=1e-5)


async def test_32_concurrent_clients_each_get_their_own_vectors(embedder, text_encoder):
    texts = [f"client {i}: {TEXTS[i % len(TEXTS)]}" for i in range(32)]
    channels = [embedder.channel([EMBEDDER]) for _ in range(32)]
    try:
        responses = await asyncio.gather(
            *(stub(ch).Embed(embedder_pb2.EmbedRequest(texts=[t])) for ch, t in zip(channels, texts, strict=True))
        )
    finally:
        await asyncio.gather(*(ch.close() for ch in channels))
    np.testing.assert_allclose(np.stack([vectors(r)[0] for r in responses]), text_encoder.encode(texts), atol=1e-5)


async def test_shutdown_lets_in_flight_calls_finish(text_encoder):
    gated = GatedEncoder(text_encoder)
    async with serve_embedder(gated) as running:
        async with running.channel([EMBEDDER], max_attempts=1) as channel:
            gated.gate.clear()
            in_flight = asyncio.ensure_future(stub(channel).Embed(embedder_pb2.EmbedRequest(texts=TEXTS)))
            await asyncio.sleep(0.2)
            stopping = asyncio.create_task(running.server.stop(grace=10))
            await asyncio.sleep(0.2)
            gated.gate.set()
            response = await in_flight
            await stopping
            assert len(response.embeddings) == len(TEXTS)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub(channel).Embed(embedder_pb2.EmbedRequest(texts=["after shutdown"]), timeout=2)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
