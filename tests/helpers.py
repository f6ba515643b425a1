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


def free_ports(count: int, attempts: int = 50) -> int:
    """The first of `count` consecutive free loopback ports (the local stack numbers its services
    from a base port). free_port() alone checks only the base: a neighbour already taken by
    another test's server made a service's readiness probe talk to the wrong process."""
    for _ in range(attempts):
        base = free_port()
        if base + count > 65535:
            continue
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports found in {attempts} attempts")
