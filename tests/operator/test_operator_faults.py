"""Outages and restarts: the planner going away, the operator restarting mid-reconcile.

Each test starts and stops its own operator inside its body (kopf's stop takes a few seconds)."""

from __future__ import annotations

import pytest

from tests.operator.harness import (
    Planner,
    cloud_provider,
    condition,
    deployment,
    eventually,
    namespace_name,
    operator_settings,
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
        assert await cluster.list("infrastructures", ns) == []

        before = plans_made()
        await planner.start()

        async def provisioned():
            body = await cluster.get("deployments", ns, "api")
            assert body["status"].get("phase") == "Provisioning", body["status"].get("phase")
            assert condition(body, "PlannerAvailable")["status"] == "True"
            return body

        await eventually(provisioned, timeout=30, what="planned once the planner is back")
        assert plans_made() - before == 1
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

            async def provisioning():
                body = await cluster.get("deployments", ns, "api")
                assert body["status"]["phase"] == "Provisioning"
                return body

            await eventually(provisioning, timeout=30, what="applied by the first operator")
        finally:
            await first.stop()  # Crossplane has not answered yet: the revision is mid-flight

        plans_before = plans_made()
        second = await start_operator(settings)  # its watch replays every object: resume
        try:
            await cluster.crossplane(ns, "api", url="https://api.example.com")

            async def running():
                body = await cluster.get("deployments", ns, "api")
                assert body["status"]["phase"] == "Running"
                return body

            body = await eventually(running, timeout=30, what="the restarted operator follows Crossplane")
            assert plans_made() == plans_before  # resumed, not re-planned
            assert [x["metadata"]["name"] for x in await cluster.list("infrastructures", ns)] == ["api"]
            assert [h["revision"] for h in body["status"]["history"]] == [1]
            assert body["status"]["history"][0]["outcome"] == "Success"
        finally:
            await second.stop()
    finally:
        await planner.stop()
