"""Outages and restarts: the planner or the memory going away, the operator restarting mid-reconcile.

Each test starts and stops its own operator inside its body (kopf's stop takes a few seconds)."""

from __future__ import annotations

import asyncio

import pytest

from prometheus_client import REGISTRY
from scia.v1 import common_pb2, rag_pb2

from tests.operator.harness import (
    Memory,
    Planner,
    cloud_provider,
    condition,
    deployment,
    eventually,
    memory_writes,
    namespace_name,
    operator_settings,
    phase_is,
    plans_made,
    start_operator,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_planner_down_sets_a_condition_retries_and_never_duplicates(cluster, rag, repo):
    planner = Planner(rag.target)  # not started: the planner is down
    operator = await start_operator(operator_settings(cluster, planner.target, rag.target))
    try:
        ns = namespace_name()
        await cluster.create("cloudproviders", ns, cloud_provider(ns))
        await cluster.create("deployments", ns, deployment(ns, "api", repo))

        async def unavailable():
            body = await cluster.get("deployments", ns, "api")
            c = condition(body, "PlannerAvailable")
            assert c.get("status") == "False" and c.get("reason") == "PlannerUnavailable", c
            assert planner.target in c["message"] and "UNAVAILABLE" in c["message"]
            return body

        body = await eventually(unavailable, timeout=30, what="PlannerAvailable=False while the planner is down")
        assert body["status"]["phase"] == "Planning"
        planned = condition(body, "Planned")
        assert planned["status"] == "False" and planned["reason"] == "PlannerUnavailable", planned
        assert await cluster.list("infrastructures", ns) == []
        # Retried with backoff (0.5 s doubling, capped at 2 s here): more attempts while it stays down.
        attempts = REGISTRY.get_sample_value("scia_operator_plans_total", {"result": "unavailable"}) or 0

        async def retried():
            return (REGISTRY.get_sample_value("scia_operator_plans_total", {"result": "unavailable"}) or 0) >= attempts + 2

        await eventually(retried, timeout=20, what="the planner call retried while the planner is down")
        assert operator.task.done() is False  # no crash

        before = plans_made()
        await planner.start()

        async def provisioned():
            body = await cluster.get("deployments", ns, "api")
            assert body["status"].get("phase") == "Provisioning", body["status"].get("phase")
            assert condition(body, "PlannerAvailable")["status"] == "True"
            return body

        body = await eventually(provisioned, timeout=30, what="planned once the planner is back")
        assert plans_made() - before == 1
        assert condition(body, "Planned")["status"] == "True"
        assert len(await cluster.list("infrastructures", ns)) == 1
    finally:
        await operator.stop()
        await planner.stop()


async def test_restart_mid_reconcile_resumes_without_duplicates(cluster, rag, repo):
    planner = Planner(rag.target)
    await planner.start()
    try:
        settings = operator_settings(cluster, planner.target, rag.target)
        first = await start_operator(settings)
        try:
            ns = namespace_name()
            await cluster.create("cloudproviders", ns, cloud_provider(ns))
            await cluster.create("deployments", ns, deployment(ns, "api", repo))

            await phase_is(cluster, ns, "api", "Provisioning")
        finally:
            await first.stop()  # Crossplane has not answered yet: the revision is mid-flight

        plans_before = plans_made()
        second = await start_operator(settings)  # its watch replays every object: resume
        try:
            await cluster.crossplane(ns, "api", url="https://api.example.com")

            body = await phase_is(cluster, ns, "api", "Running")
            assert plans_made() == plans_before  # resumed, not re-planned
            assert [x["metadata"]["name"] for x in await cluster.list("infrastructures", ns)] == ["api"]
            assert [h["revision"] for h in body["status"]["history"]] == [1]
            assert body["status"]["history"][0]["outcome"] == "Success"
        finally:
            await second.stop()
    finally:
        await planner.stop()


async def test_memory_down_when_an_outcome_is_due_is_retried_and_recorded_once(cluster, planner, rag, rag_dsn, embedder_target, repo):
    """The memory (RAG) is down when Crossplane reports Ready: the Deployment still turns Running,
    says why the outcome is not recorded, retries with backoff, and records it exactly once when
    the memory is back. The planner keeps using the module's RAG; only the operator's is down."""
    memory = Memory(rag_dsn, embedder_target)  # not started: down
    # No periodic re-check within the test: the retries must come from the backoff alone.
    operator = await start_operator(operator_settings(cluster, planner.target, memory.target, recheck_interval_seconds=600))
    try:
        ns = namespace_name()
        await cluster.create("cloudproviders", ns, cloud_provider(ns))
        await cluster.create("deployments", ns, deployment(ns, "api", repo))

        await phase_is(cluster, ns, "api", "Provisioning")
        errors_before = memory_writes("error")
        await cluster.crossplane(ns, "api", url="https://api.example.com")

        async def unrecorded():
            body = await cluster.get("deployments", ns, "api")
            c = condition(body, "MemoryAvailable")
            assert body["status"]["phase"] == "Running"
            assert c.get("status") == "False" and c.get("reason") == "MemoryUnavailable", c
            assert memory.target in c["message"] and "UNAVAILABLE" in c["message"]
            return body

        body = await eventually(unrecorded, timeout=30, what="MemoryAvailable=False while the memory is down")
        assert body["status"]["history"][0]["outcome"] == "Pending"

        # Retried on its own (nothing else changes meanwhile), with growing delays: 0.5, 1, 2, 2 s.
        async def retried():
            return memory_writes("error") - errors_before >= 3

        await eventually(retried, timeout=20, what="recording retried while the memory is down")
        assert not operator.task.done()  # no crash

        ok_before = memory_writes("ok")
        await memory.start()

        async def recorded():
            body = await cluster.get("deployments", ns, "api")
            assert condition(body, "MemoryAvailable")["status"] == "True", condition(body, "MemoryAvailable")
            return body

        body = await eventually(recorded, timeout=30, what="recorded once the memory is back")
        assert body["status"]["history"][0]["outcome"] == "Success" and body["status"]["lastOutcome"] == "Success"
        records = (await rag.stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=ns, page_size=50))).records
        assert [(r.revision, r.outcome) for r in records] == [(1, common_pb2.OUTCOME_SUCCESS)]
        assert records[0].uid == body["metadata"]["uid"]
        assert [x["metadata"]["name"] for x in await cluster.list("infrastructures", ns)] == ["api"]
        # Once: the retries stop, and later Crossplane updates do not record the revision again.
        await cluster.patch("infrastructures", ns, "api", {"status": {"resourceCount": 7}}, status=True)
        await asyncio.sleep(3)
        assert memory_writes("ok") - ok_before == 1
        assert not operator.operator._memory_retries
    finally:
        await operator.stop()
        await memory.stop()
