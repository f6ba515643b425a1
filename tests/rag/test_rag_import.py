"""The streaming Import RPC."""

from __future__ import annotations

import pytest
from scia.v1 import common_pb2, rag_pb2

from tests.rag.factories import make_record
from tests.rag.harness import tenant_name

pytestmark = pytest.mark.asyncio(loop_scope="module")


def import_requests(tenant: str, count: int) -> list[rag_pb2.ImportRequest]:
    requests = [
        rag_pb2.ImportRequest(
            tenant=tenant,
            source_key=f"v1:{i}",
            record=make_record("", "flask" if i % 2 else "django", uid=f"v1-{i}", outcome=common_pb2.OUTCOME_SUCCESS),
        )
        for i in range(count)
    ]
    bad = make_record("", "flask", uid="v1-bad", revision=0)
    requests.append(rag_pb2.ImportRequest(tenant=tenant, source_key="v1:bad", record=bad))
    requests.append(
        rag_pb2.ImportRequest(tenant=tenant, source_key="v1:other", record=make_record("someone-else", "flask"))
    )
    return requests


async def test_import_is_idempotent_and_reports_skips(rag):
    tenant = tenant_name()
    count = 40  # more than one embedding batch

    async def stream():
        for request in import_requests(tenant, count):
            yield request

    first = await rag.stub.Import(stream())
    assert (first.received, first.created, first.updated, first.skipped) == (count + 2, count, 0, 2)
    reasons = {s.source_key: s.reason for s in first.skipped_records}
    assert "record.revision" in reasons["v1:bad"]
    assert "import is for tenant" in reasons["v1:other"]
    again = await rag.stub.Import(stream())
    assert (again.created, again.updated, again.skipped) == (0, count, 2)
    stats = await rag.stub.GetStats(rag_pb2.GetStatsRequest(tenant=tenant))
    assert stats.total == count and dict(stats.by_framework) == {"flask": count // 2, "django": count // 2}
    found = await rag.stub.Retrieve(rag_pb2.RetrieveRequest(tenant=tenant, text="django", limit=3))
    assert not found.full_text_only and found.results[0].record.analysis.applications[0].framework == "django"


async def test_import_of_nothing(rag):
    async def empty():
        return
        yield

    summary = await rag.stub.Import(empty())
    assert summary.received == 0
