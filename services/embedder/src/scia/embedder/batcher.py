"""Dynamic micro-batching: concurrent requests share forward passes.

Every request's texts join one FIFO queue. A single worker takes up to `max_batch_size` texts
at a time (a large request spans several batches, several small requests share one), waiting
at most `max_batch_wait` for a batch to fill, and runs the model in a worker thread so the
event loop keeps serving. While one batch runs, the next one fills up, so under load batches
form without waiting at all. The queue is bounded in texts: beyond `max_queued_texts` a new
request is refused at once with QueueFull instead of growing memory.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """More texts are waiting than the configured maximum."""


@dataclass(eq=False)
class _Job:
    texts: list[str]
    future: asyncio.Future[np.ndarray]
    next_index: int = 0  # first text not yet taken into a batch
    done: int = 0  # texts encoded so far
    vectors: list[tuple[int, np.ndarray]] = field(default_factory=list)

    def remaining(self) -> int:
        return len(self.texts) - self.next_index


class MicroBatcher:
    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray],
        *,
        max_batch_size: int = 64,
        max_batch_wait: float = 0.005,
        max_queued_texts: int = 4096,
        enabled: bool = True,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self._encode = encode
        self.max_batch_size = max_batch_size
        self.max_batch_wait = max_batch_wait
        self.max_queued_texts = max_queued_texts
        self.enabled = enabled
        self._jobs: collections.deque[_Job] = collections.deque()
        self._queued_texts = 0
        self._arrived = asyncio.Event()
        # One inference thread: torch parallelises inside a pass; two passes would fight for cores.
        # A caller may pass its own single thread (the one that loaded the model: see EmbedderApp).
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._worker: asyncio.Task[None] | None = None

    @property
    def queued_texts(self) -> int:
        return self._queued_texts

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        """Stop the worker; calls still waiting fail with CancelledError."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        for job in self._jobs:
            if not job.future.done():
                job.future.cancel()
        self._jobs.clear()
        self._queued_texts = 0
        if self._owns_executor:
            self._executor.shutdown(wait=True)

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, in order. Raises QueueFull when the queue cannot take them."""
        if self._worker is None:
            raise RuntimeError("the batcher is not started")
        if self._queued_texts + len(texts) > self.max_queued_texts:
            raise QueueFull(
                f"{self._queued_texts} texts are queued; {len(texts)} more would exceed the limit of "
                f"{self.max_queued_texts}"
            )
        job = _Job(texts, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._queued_texts += len(texts)
        self._arrived.set()
        return await job.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._jobs:
                self._arrived.clear()
                await self._arrived.wait()
            if self.enabled:
                await self._wait_for_fill(loop)
            batch = self._take_batch()
            if not batch:
                continue
            texts = [text for job, start, end in batch for text in job.texts[start:end]]
            try:
                vectors = await loop.run_in_executor(self._executor, self._encode, texts)
            except Exception as error:  # a model failure fails these calls, not the service
                log.exception("inference failed for a batch of %d texts", len(texts))
                for job, _, _ in batch:
                    if not job.future.done():
                        job.future.set_exception(error)
                continue
            self._deliver(batch, vectors)

    async def _wait_for_fill(self, loop: asyncio.AbstractEventLoop) -> None:
        deadline = loop.time() + self.max_batch_wait
        while self._queued_texts < self.max_batch_size:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return

    def _take_batch(self) -> list[tuple[_Job, int, int]]:
        """Slices (job, start, end) of at most max_batch_size texts, oldest first.

        With batching off a batch never mixes requests: each request runs on its own.
        """
        batch: list[tuple[_Job, int, int]] = []
        room = self.max_batch_size
        while self._jobs and room > 0:
            job = self._jobs[0]
            if job.future.done():  # the caller went away (cancelled or deadline exceeded)
                self._jobs.popleft()
                self._queued_texts -= job.remaining()
                continue
            if batch and not self.enabled:
                break
            take = min(room, job.remaining())
            batch.append((job, job.next_index, job.next_index + take))
            job.next_index += take
            self._queued_texts -= take
            room -= take
            if job.remaining() == 0:
                self._jobs.popleft()
            if not self.enabled:
                break
        return batch

    @staticmethod
    def _deliver(batch: list[tuple[_Job, int, int]], vectors: np.ndarray) -> None:
        offset = 0
        for job, start, end in batch:
            count = end - start
            job.vectors.append((start, vectors[offset : offset + count]))
            offset += count
            job.done += count
            if job.done == len(job.texts) and not job.future.done():
                job.vectors.sort(key=lambda part: part[0])
                job.future.set_result(np.concatenate([part for _, part in job.vectors]))
