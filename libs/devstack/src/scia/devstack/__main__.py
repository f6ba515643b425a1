"""`scia-dev`: the local stack.

    scia-dev up [--once]          start every service on loopback, wait for health, show what to try
    scia-dev embed TEXT [TEXT...] embed texts with the running embedder
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

from scia.devstack.stack import LocalStack, default_services
from scia.runtime.client import create_channel
from scia.v1 import embedder_pb2, embedder_pb2_grpc

EMBEDDER = embedder_pb2.DESCRIPTOR.services_by_name["Embedder"]


async def embed(target: str, texts: list[str]) -> tuple[embedder_pb2.EmbedResponse, float]:
    async with create_channel(target, [EMBEDDER]) as channel:
        started = time.perf_counter()
        response = await embedder_pb2_grpc.EmbedderStub(channel).Embed(embedder_pb2.EmbedRequest(texts=texts))
        return response, time.perf_counter() - started


def describe(response: embedder_pb2.EmbedResponse, texts: list[str], seconds: float) -> str:
    lines = [f"{response.model}: {len(response.embeddings)} x {response.dimensions} dims in {seconds * 1000:.0f} ms"]
    vectors = np.array([e.values for e in response.embeddings], dtype=np.float32)
    for text, vector in zip(texts, vectors, strict=True):
        head = " ".join(f"{value:+.3f}" for value in vector[:4])
        lines.append(f"  |v|={np.linalg.norm(vector):.3f}  [{head} ...]  {text[:60]!r}")
    if len(texts) > 1:
        similarity = vectors @ vectors.T
        lines.append("  cosine similarity to the first text: " + ", ".join(f"{s:.3f}" for s in similarity[0][1:]))
    return "\n".join(lines)


def up(args: argparse.Namespace) -> int:
    stack = LocalStack(default_services(args.base_port, args.metrics_base_port), Path(args.state_dir))
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    print("SCIA local stack (embedded defaults, no cluster needed)")
    try:
        stack.start()
        texts = [
            "Flask API with PostgreSQL, high availability, under $300/month in eu-west-3",
            "Django web shop needing two instances across zones",
            "static marketing site on a CDN",
        ]
        response, seconds = asyncio.run(embed(stack.specs[0].target, texts))
        print("\nA first Embed call through the embedder:\n" + describe(response, texts, seconds))
    except Exception as error:  # StartupError, or the first call failing
        print(f"\nstart-up failed: {error}", file=sys.stderr)
        stack.stop()
        return 1
    print("\nServices:")
    for spec in stack.specs:
        print(f"  {spec.name:<9} gRPC {spec.target}   metrics http://127.0.0.1:{spec.metrics_port}/metrics")
    print(f"  logs      {stack.log_dir}/<service>.log (JSON lines)")
    print("\nTry:")
    print('  .venv/bin/scia-dev embed "a FastAPI service with websockets" "a Go API on Kubernetes"')
    print(f"  .venv/bin/python -m scia.runtime.healthcheck {stack.specs[0].target}")
    if args.once:
        print("\n--once: stopping")
    else:
        print("\nPress Ctrl-C to stop.")
        while not stop_requested.wait(0.5):
            if dead := stack.exited():
                for service in dead:
                    print(f"{service.spec.name} exited with {service.process.returncode}:\n{service.tail()}", file=sys.stderr)
                stack.stop()
                return 1
    codes = stack.stop()
    print("stopped: " + ", ".join(f"{name} (exit {code})" for name, code in codes.items()))
    return 0 if all(code == 0 for code in codes.values()) else 1


def embed_command(args: argparse.Namespace) -> int:
    response, seconds = asyncio.run(embed(args.target, args.texts))
    print(describe(response, args.texts, seconds))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scia-dev", description="SCIA's local stack")
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start every service and wait for Ctrl-C")
    up_parser.add_argument("--once", action="store_true", help="stop right after the start-up checks")
    up_parser.add_argument("--base-port", type=int, default=50051, help="gRPC port of the first service")
    up_parser.add_argument("--metrics-base-port", type=int, default=9101)
    up_parser.add_argument("--state-dir", default=".scia", help="logs and local data")
    up_parser.set_defaults(handler=up)
    embed_parser = commands.add_parser("embed", help="embed texts with the running embedder")
    embed_parser.add_argument("texts", nargs="+")
    embed_parser.add_argument("--target", default="127.0.0.1:50051")
    embed_parser.set_defaults(handler=embed_command)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
