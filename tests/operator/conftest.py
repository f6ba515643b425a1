"""Fixtures of the operator tests: the real RAG (embedded PostgreSQL + the real embedder), the
real planner, the emulated Kubernetes API and a Flask repository, all on the module's event loop
(tests are marked `pytest.mark.asyncio(loop_scope="module")`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

# The RAG tests' fixtures, reused as they are: one embedded PostgreSQL per session, a database
# per module, the real embedder and the RAG service over loopback gRPC.
from tests.rag.conftest import embedder_target, pg_server, rag, rag_dsn  # noqa: F401
from tests.operator.harness import Cluster, Planner, emulated_cluster, flask_repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return flask_repo(tmp_path_factory.mktemp("operator-repo") / "flask-api")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def cluster() -> AsyncIterator[Cluster]:
    async with emulated_cluster() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def planner(rag) -> AsyncIterator[Planner]:  # noqa: F811
    running = Planner(rag.target)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
