"""The micro-batcher's scheduling, with an encode function whose calls the test can see and gate."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from scia.embedder.batcher import MicroBatcher, QueueFull


class RecordingEncoder:
    """Deterministic vectors (each text's length and first character), every batch recorded."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_on: str | None = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.gate.wait(10)
        self.batches.append(list(texts))
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("model exploded")
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


def expected(texts: list[str]) -> np.ndarray:
    return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


@pytest.fixture
async def make_batcher():
    created: list[MicroBatcher] = []

    def make(encoder, **options) -> MicroBatcher:
        batcher = MicroBatcher(encoder, **options)
        batcher.start()
        created.append(batcher)
        return batcher

    yield make
    for batcher in created:
        await batcher.stop()


async def test_concurrent_requests_share_one_forward_pass(make_batcher):
    encoder = RecordingEncoder()
    batcher = make_batcher(encoder, max_batch_size=64, max_batch_wait=0.05)
    requests = [[f"text {i}"] for i in range(10)]
    results = await asyncio.gather(*(batcher.embed(texts) for texts in requests))
    assert len(encoder.batches) == 1 and len(encoder.batches[0]) == 10
    for texts, vectors in zip(requests, results, strict=True):
        np.testing.assert_array_equal(vectors, expected(texts))


async def test_requests_arriving_during_a_pass_form_the_next_batch(make_batcher):
    encoder = RecordingEncoder()
    encoder.gate.clear()  # the first pass blocks until released
    batcher = make_batcher(encoder, max_batch_size=64, max_batch_wait=0.0)
    first = asyncio.create_task(batcher.embed(["first"]))
    await asyncio.sleep(0.05)
    waiting = [asyncio.create_task(batcher.embed([f"later {i}"])) for i in range(5)]
    await asyncio.sleep(0.05)
    encoder.gate.set()
    await asyncio.gather(first, *waiting)
    assert [len(batch) for batch in encoder.batches] == [1, 5]


async def test_a_large_request_spans_batches_and_keeps_its_order(make_batcher):
    encoder = RecordingEncoder()
    batcher = make_batcher(encoder, max_batch_size=8, max_batch_wait=0.0)
    texts = [chr(ord("a") + i % 26) * (i + 1) for i in range(30)]
    vectors = await batcher.embed(texts)
    np.testing.assert_array_equal(vectors, expected(texts))
    assert [len(batch) for batch in encoder.batches] == [8, 8, 8, 6]


async def test_full_queue_refuses_at_once_and_names_the_limit(make_batcher):
    encoder = RecordingEncoder()
    encoder.gate.clear()
    batcher = make_batcher(encoder, max_batch_size=4, max_batch_wait=0.0, max_queued_texts=10)
    running = asyncio.create_task(batcher.embed(["a"] * 4))  # taken into the blocked pass
    await asyncio.sleep(0.05)
    queued = asyncio.create_task(batcher.embed(["b"] * 8))
    await asyncio.sleep(0.01)
    with pytest.raises(QueueFull, match="limit of 10"):
        await batcher.embed(["c"] * 3)
    encoder.gate.set()
    await asyncio.gather(running, queued)
    # Once the queue drained, the same request is accepted.
    np.testing.assert_array_equal(await batcher.embed(["c"] * 3), expected(["c"] * 3))


async def test_batching_off_runs_each_request_alone(make_batcher):
    encoder = RecordingEncoder()
    encoder.gate.clear()
    batcher = make_batcher(encoder, max_batch_size=64, enabled=False)
    tasks = [asyncio.create_task(batcher.embed([f"t{i}", f"u{i}"])) for i in range(4)]
    await asyncio.sleep(0.05)
    encoder.gate.set()
    await asyncio.gather(*tasks)
    assert sorted(encoder.batches) == sorted([[f"t{i}", f"u{i}"] for i in range(4)])


async def test_a_failed_pass_fails_only_its_requests(make_batcher):
    encoder = RecordingEncoder()
    encoder.fail_on = "poison"
    batcher = make_batcher(encoder, max_batch_size=64, enabled=False)
    with pytest.raises(RuntimeError, match="model exploded"):
        await batcher.embed(["poison"])
    np.testing.assert_array_equal(await batcher.embed(["fine"]), expected(["fine"]))


async def test_a_cancelled_request_is_not_encoded(make_batcher):
    encoder = RecordingEncoder()
    encoder.gate.clear()
    batcher = make_batcher(encoder, max_batch_size=2, max_batch_wait=0.0)
    blocking = asyncio.create_task(batcher.embed(["x", "y"]))
    await asyncio.sleep(0.05)
    abandoned = asyncio.create_task(batcher.embed(["gone"]))
    await asyncio.sleep(0.01)
    abandoned.cancel()
    kept = asyncio.create_task(batcher.embed(["kept"]))
    await asyncio.sleep(0.01)
    encoder.gate.set()
    await asyncio.gather(blocking, kept)
    assert all("gone" not in batch for batch in encoder.batches)
    assert batcher.queued_texts == 0
