"""Helpers to run real services in-process on loopback for tests."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc

from scia.runtime.client import create_channel
from scia.runtime.server import GrpcServer


@dataclass
class RunningServer:
    server: GrpcServer
    target: str

    def channel(self, services=(), **options) -> grpc.aio.Channel:
        return create_channel(self.target, services, **options)


@contextlib.asynccontextmanager
async def serve(app, settings) -> AsyncIterator[RunningServer]:
    """Start `app` behind the shared runtime on a free loopback port; stop it afterwards."""
    server = GrpcServer(app, settings)
    port = await server.start()
    try:
        yield RunningServer(server, f"127.0.0.1:{port}")
    finally:
        await server.stop(grace=1.0)


@contextlib.asynccontextmanager
async def serve_embedder(encoder, **overrides) -> AsyncIterator[RunningServer]:
    from scia.embedder.config import EmbedderSettings
    from scia.embedder.service import EmbedderApp

    settings = EmbedderSettings(grpc_host="127.0.0.1", grpc_port=0, metrics_port=0, **overrides)
    async with serve(EmbedderApp(settings, encoder=encoder), settings) as running:
        yield running


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
