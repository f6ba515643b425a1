"""Helpers of the RAG tests: the RAG service on loopback, databases, tenant names."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import psycopg
from psycopg import sql
from scia.rag.config import RagSettings
from scia.rag.service import RagApp
from scia.v1 import rag_pb2, rag_pb2_grpc

from tests.helpers import RunningServer, serve

RAG_SERVICE = rag_pb2.DESCRIPTOR.services_by_name["DeploymentMemory"]
# The `rag` fixture's sharing rule: SHARED_OWNER's records are visible to SHARED_READER.
SHARED_OWNER = "shared-owner"
SHARED_READER = "shared-reader"


def tenant_name(prefix: str = "team") -> str:
    """A fresh tenant: tests sharing a module's database isolate themselves like teams do."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_database(server, prefix: str) -> str:
    """A new database on the embedded server; returns its DSN."""
    name = re.sub(r"[^a-z0-9_]", "_", prefix.lower())[:40] + "_" + uuid.uuid4().hex[:8]
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.get_uri(database=name)


@dataclass
class RagHarness:
    app: RagApp
    running: RunningServer
    channel: grpc.aio.Channel
    stub: rag_pb2_grpc.DeploymentMemoryStub

    @property
    def target(self) -> str:
        return self.running.target


@contextlib.asynccontextmanager
async def running_rag(**overrides) -> AsyncIterator[RagHarness]:
    """The RAG service on a free loopback port, configured by RagSettings overrides."""
    settings = RagSettings(
        **{"grpc_host": "127.0.0.1", "grpc_port": 0, "metrics_port": 0, "reranker_enabled": False, **overrides}
    )
    app = RagApp(settings)
    async with serve(app, settings) as running:
        channel = running.channel([RAG_SERVICE], timeout=20)
        try:
            yield RagHarness(app, running, channel, rag_pb2_grpc.DeploymentMemoryStub(channel))
        finally:
            await channel.close()
