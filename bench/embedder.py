"""Embedder benchmarks (issue: foundation).

1. Throughput at batch 64: Embed over gRPC (the service as its own process on loopback) against
   the same model called in-process, alternating rounds in the same run. Target: >= 0.9x.
2. 32 concurrent clients, one short text per call, closed loop: micro-batching on vs off.
   Target: >= 3x the throughput, with p50/p99 latency.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import numpy as np

from bench.common import percentiles, service_process
from scia.embedder.model import TextEncoder
from scia.runtime.client import create_channel
from scia.v1 import embedder_pb2, embedder_pb2_grpc

EMBEDDER = embedder_pb2.DESCRIPTOR.services_by_name["Embedder"]
FRAMEWORKS = ["flask", "django", "fastapi", "express", "next.js", "spring boot", "rails", "gin", "laravel", "axum"]
NEEDS = ["high availability", "a small budget", "websockets", "a nightly batch job", "autoscaling", "low latency"]


def deployment_texts(count: int, words: int = 20) -> list[str]:
    """Texts shaped like SCIA's embedding texts (about 20 words), all different."""
    texts = []
    for i in range(count):
        framework, need = FRAMEWORKS[i % len(FRAMEWORKS)], NEEDS[(i // len(FRAMEWORKS)) % len(NEEDS)]
        base = f"{framework} application number {i} deployed on kubernetes in eu-west-3 needing {need} with postgres and redis"
        texts.append(" ".join(base.split()[:words]))
    return texts


def batch_throughput(encoder: TextEncoder, rounds: int = 32, batch: int = 64, blocks: int = 4) -> dict:
    batches = [deployment_texts(batch * (r + 1))[batch * r :] for r in range(rounds)]
    in_process: list[float] = []
    over_grpc: list[float] = []
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # the channel binds to the loop current when it is made
    with service_process("scia.embedder", "SCIA_EMBEDDER_") as target:
        channel = create_channel(target, [EMBEDDER], timeout=60)
        stub = embedder_pb2_grpc.EmbedderStub(channel)

        async def over_the_wire(texts: list[str]) -> np.ndarray:
            response = await stub.Embed(embedder_pb2.EmbedRequest(texts=texts))
            return np.array([e.values for e in response.embeddings], dtype=np.float32)  # what a client does

        encoder.encode(batches[0])
        loop.run_until_complete(over_the_wire(batches[0]))  # connect and warm up
        # Alternate blocks of calls, so that drift in the machine's load hits both alike. Not
        # call by call: the idle side's OpenMP threads spin for a moment after each pass and
        # would steal the other side's cores; a pause between blocks lets them sleep.
        for block in range(blocks):
            chunk = batches[block::blocks]
            for texts in chunk:
                started = time.perf_counter()
                encoder.encode(texts)
                in_process.append(time.perf_counter() - started)
            time.sleep(0.5)
            for texts in chunk:
                started = time.perf_counter()
                loop.run_until_complete(over_the_wire(texts))
                over_grpc.append(time.perf_counter() - started)
            time.sleep(0.5)
        loop.run_until_complete(channel.close())
    loop.close()
    asyncio.set_event_loop(None)
    in_rate = batch / statistics.median(in_process)
    grpc_rate = batch / statistics.median(over_grpc)
    return {
        "batch_size": batch,
        "calls": len(over_grpc),
        "in_process_texts_per_s": round(in_rate, 1),
        "grpc_texts_per_s": round(grpc_rate, 1),
        "ratio": round(grpc_rate / in_rate, 3),
        "target_ratio": 0.9,
    }


async def _closed_loop(target: str, clients: int, calls_per_client: int) -> tuple[float, list[float]]:
    texts = deployment_texts(clients * calls_per_client, words=8)
    channels = [create_channel(target, [EMBEDDER], timeout=60) for _ in range(clients)]
    latencies: list[float] = []

    async def client(index: int, channel) -> None:
        stub = embedder_pb2_grpc.EmbedderStub(channel)
        for call in range(calls_per_client):
            started = time.perf_counter()
            await stub.Embed(embedder_pb2.EmbedRequest(texts=[texts[index * calls_per_client + call]]))
            latencies.append(time.perf_counter() - started)

    try:
        await asyncio.gather(*(embedder_pb2_grpc.EmbedderStub(ch).GetModelInfo(embedder_pb2.GetModelInfoRequest()) for ch in channels))
        started = time.perf_counter()
        await asyncio.gather(*(client(i, ch) for i, ch in enumerate(channels)))
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(ch.close() for ch in channels))
    return clients * calls_per_client / elapsed, latencies


def concurrent_clients(clients: int = 32, calls_per_client: int = 25) -> dict:
    results = {}
    for label, batching in (("batching_on", "true"), ("batching_off", "false")):
        with service_process("scia.embedder", "SCIA_EMBEDDER_", batching=batching, torch_threads="0") as target:
            asyncio.run(_closed_loop(target, clients, 3))  # warm
            rate, latencies = asyncio.run(_closed_loop(target, clients, calls_per_client))
        results[label] = {"texts_per_s": round(rate, 1), **percentiles(latencies)}
    results["clients"] = clients
    results["calls"] = clients * calls_per_client
    results["speedup"] = round(results["batching_on"]["texts_per_s"] / results["batching_off"]["texts_per_s"], 2)
    results["target_speedup"] = 3.0
    return results


def run() -> dict:
    encoder = TextEncoder()
    return {"batch_throughput": batch_throughput(encoder), "concurrent_clients": concurrent_clients()}


def summary(results: dict) -> str:
    b, c = results["batch_throughput"], results["concurrent_clients"]
    return "\n".join(
        [
            "| embedder | measured | target |",
            "|---|---|---|",
            f"| Embed over gRPC vs in-process, batch {b['batch_size']} | {b['grpc_texts_per_s']} vs "
            f"{b['in_process_texts_per_s']} texts/s = **{b['ratio']}x** | >= {b['target_ratio']}x |",
            f"| {c['clients']} concurrent clients, 1 text/call, micro-batching on | {c['batching_on']['texts_per_s']} texts/s, "
            f"p50 {c['batching_on']['p50_ms']} ms, p99 {c['batching_on']['p99_ms']} ms | |",
            f"| same, micro-batching off | {c['batching_off']['texts_per_s']} texts/s, "
            f"p50 {c['batching_off']['p50_ms']} ms, p99 {c['batching_off']['p99_ms']} ms | |",
            f"| speed-up from micro-batching | **{c['speedup']}x** | >= {c['target_speedup']}x |",
        ]
    )
