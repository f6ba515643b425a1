"""The operator end to end: kopf in the test's event loop against the emulated Kubernetes API, the
real planner, RAG and embedder over gRPC. Crossplane's side is played by the tests (they set the
Infrastructure's Synced/Ready conditions). One operator serves the whole module; each test works
in its own namespace (= tenant)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from scia.v1 import common_pb2, rag_pb2

from tests.operator.harness import (
    Cluster,
    RunningOperator,
    cloud_provider,
    condition,
    deployment,
    events_of,
    eventually,
    namespace_name,
    operator_settings,
    phase_is,
    plans_made,
    start_operator,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def operator(cluster, planner, rag) -> AsyncIterator[RunningOperator]:
    running = await start_operator(operator_settings(cluster, planner.target, rag.target))
    yield running
    await running.stop()


async def team(cluster: Cluster, **provider_spec) -> str:
    # No Namespace object: kopf watches cluster-wide and needs none (kmock cannot parse
    # POST /api/v1/namespaces anyway).
    ns = namespace_name()
    await cluster.create("cloudproviders", ns, cloud_provider(ns, **provider_spec))
    return ns


async def memory_records(rag, tenant: str) -> list[common_pb2.DeploymentRecord]:
    response = await rag.stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=tenant, page_size=50))
    return list(response.records)


async def test_the_liveness_endpoint_answers_while_the_operator_runs(operator):
    """What the chart's liveness probe asks (SCIA_OPERATOR_HEALTH_PORT)."""
    url = f"http://127.0.0.1:{operator.operator.settings.health_port}/healthz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200


async def test_create_plans_provisions_and_runs(cluster, operator, rag, repo):
    ns = await team(cluster)
    await cluster.create("deployments", ns, deployment(ns, "api", repo, budget={"maxMonthlyCost": 500}))

    body = await phase_is(cluster, ns, "api", "Provisioning")
    status = body["status"]
    assert status["observedGeneration"] == 1
    assert status["decision"]["strategy"] == "vm" and 0 < status["decision"]["confidence"] <= 1
    assert status["decision"]["reason"]
    assert status["cost"]["estimatedMonthly"] > 0 and status["cost"]["budgetVerdict"] in ("Within", "Alert")
    assert status["infrastructureRef"] == {"apiVersion": "scia.io/v1alpha1", "kind": "Infrastructure", "name": "api", "namespace": ns}
    assert condition(body, "Planned")["status"] == "True"
    assert condition(body, "CloudProviderReady")["status"] == "True"
    assert condition(body, "Ready")["status"] != "True"
    assert [h["revision"] for h in status["history"]] == [1]

    xr = await cluster.get("infrastructures", ns, "api")
    assert xr["spec"]["crossplane"]["compositionSelector"]["matchLabels"] == {"scia.io/cloud": "aws", "scia.io/strategy": "vm"}
    params = xr["spec"]["parameters"]
    assert params["cloud"] == "aws" and params["region"] == "eu-west-3" and params["strategy"] == "vm"
    assert params["team"] == ns and params["deploymentName"] == "api" and params["revision"] == 1
    assert params["framework"] == "flask" and params["vm"]["instanceType"]
    assert params == status["history"][0]["parameters"]
    owner = xr["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Deployment" and owner["uid"] == body["metadata"]["uid"] and owner["controller"] is True

    # Nothing recorded in the memory before the outcome is known.
    assert await memory_records(rag, ns) == []

    await cluster.crossplane(ns, "api", url="https://api.example.com")
    body = await phase_is(cluster, ns, "api", "Running")
    assert condition(body, "Ready")["status"] == "True" and condition(body, "Synced")["status"] == "True"
    assert body["status"]["endpoints"] == ["https://api.example.com"]

    async def recorded():
        records = await memory_records(rag, ns)
        assert len(records) == 1 and records[0].outcome == common_pb2.OUTCOME_SUCCESS, records
        return records

    records = await eventually(recorded, what="outcome recorded in the memory")
    assert records[0].revision == 1 and records[0].uid == body["metadata"]["uid"]
    assert records[0].plan.configuration.vm.instance_type == params["vm"]["instanceType"]
    # What the planner found is remembered, so its recall (same language, shared dependencies) finds it.
    app = records[0].analysis.applications[0]
    assert app.language == "python" and app.framework == "flask" and "flask" in [d.name for d in app.dependencies]
    assert body["status"]["history"][0]["analysis"]["language"] == "python"
    body = await cluster.get("deployments", ns, "api")
    assert body["status"]["history"][0]["outcome"] == "Success" and body["status"]["lastOutcome"] == "Success"
    for reason in ("Planning", "Provisioning", "Running"):
        assert await events_of(cluster, ns, reason)

    # A later status change from Crossplane does not record the same revision again.
    await cluster.crossplane(ns, "api", url="https://api.example.com")
    await cluster.patch("infrastructures", ns, "api", {"status": {"resourceCount": 12}}, status=True)
    records = await memory_records(rag, ns)
    assert len(records) == 1


async def test_applying_three_times_leaves_one_infrastructure_and_one_plan(cluster, operator, repo):
    ns = await team(cluster)
    manifest = deployment(ns, "shop", repo)
    before = plans_made()
    await cluster.apply("deployments", ns, manifest)
    await phase_is(cluster, ns, "shop", "Provisioning")
    await cluster.apply("deployments", ns, manifest)
    await cluster.apply("deployments", ns, manifest)
    # An unchanged spec keeps the generation: the operator's skip rule holds.
    body = await cluster.get("deployments", ns, "shop")
    assert body["metadata"]["generation"] == 1 == body["status"]["observedGeneration"]
    # A metadata-only change reaches the handlers (kopf sees a diff) but is not re-planned either.
    await cluster.patch("deployments", ns, "shop", {"metadata": {"labels": {"tier": "gold"}}})
    await cluster.crossplane(ns, "shop")
    await phase_is(cluster, ns, "shop", "Running")
    assert plans_made() - before == 1
    assert [x["metadata"]["name"] for x in await cluster.list("infrastructures", ns)] == ["shop"]
    body = await cluster.get("deployments", ns, "shop")
    assert len(body["status"]["history"]) == 1


async def test_drift_is_repaired_with_a_condition_and_an_event(cluster, operator, repo):
    ns = await team(cluster)
    await cluster.create("deployments", ns, deployment(ns, "web", repo))
    await phase_is(cluster, ns, "web", "Provisioning")
    await cluster.crossplane(ns, "web")
    await phase_is(cluster, ns, "web", "Running")
    original = (await cluster.get("infrastructures", ns, "web"))["spec"]

    # Someone edits the Infrastructure's spec by hand.
    await cluster.patch("infrastructures", ns, "web", {"spec": {"parameters": {"vm": {"instanceType": "x9.mega"}, "monitoring": True, "extra": "x"}}})

    async def restored():
        xr = await cluster.get("infrastructures", ns, "web")
        assert xr["spec"]["parameters"] == original["parameters"], xr["spec"]["parameters"]
        body = await cluster.get("deployments", ns, "web")
        assert condition(body, "Drifted")["status"] == "True" and "instanceType" in condition(body, "Drifted")["message"]
        return True

    await eventually(restored, timeout=10, what="the edited Infrastructure is restored")
    events = await events_of(cluster, ns, "Drifted")
    assert events and events[0]["type"] == "Warning"

    # Someone deletes it.
    await cluster.delete("infrastructures", ns, "web")

    async def recreated():
        xr = await cluster.get("infrastructures", ns, "web")
        assert xr is not None and xr["spec"]["parameters"] == original["parameters"]
        body = await cluster.get("deployments", ns, "web")
        assert "deleted" in condition(body, "Drifted")["message"]
        return True

    await eventually(recreated, timeout=10, what="the deleted Infrastructure is recreated")
    # The recreated one has no Ready condition yet: the Deployment is back to Provisioning.
    await phase_is(cluster, ns, "web", "Provisioning")
    assert len(await cluster.list("infrastructures", ns)) == 1


async def test_deletion_waits_for_the_infrastructure_and_records_deleted(cluster, operator, rag, repo):
    ns = await team(cluster)
    await cluster.create("deployments", ns, deployment(ns, "gone", repo))
    await phase_is(cluster, ns, "gone", "Provisioning")
    await cluster.crossplane(ns, "gone")
    body = await phase_is(cluster, ns, "gone", "Running")
    assert "scia.io/finalizer" in body["metadata"]["finalizers"]
    # Crossplane keeps its own finalizer on the XR until the cloud resources are gone.
    await cluster.patch("infrastructures", ns, "gone", {"metadata": {"finalizers": ["composite.apiextensions.crossplane.io"]}})

    await cluster.delete("deployments", ns, "gone")

    async def deleting():
        xr = await cluster.get("infrastructures", ns, "gone")
        assert xr is not None and xr["metadata"].get("deletionTimestamp"), "the XR is not being deleted"
        dep = await cluster.get("deployments", ns, "gone")
        assert dep is not None and dep["status"]["phase"] == "Deleting", dep and dep["status"].get("phase")
        return True

    await eventually(deleting, what="the operator deletes the Infrastructure and holds the Deployment")
    assert await cluster.get("deployments", ns, "gone") is not None  # still held by the finalizer

    await cluster.patch("infrastructures", ns, "gone", {"metadata": {"finalizers": None}})  # Crossplane done

    async def released():
        assert await cluster.get("deployments", ns, "gone") is None
        return True

    await eventually(released, what="the Deployment is released once the XR is gone")

    async def recorded_deleted():
        records = await memory_records(rag, ns)
        assert [r.outcome for r in records] == [common_pb2.OUTCOME_DELETED], records
        return True

    await eventually(recorded_deleted, what="DELETED recorded in the memory")


async def test_hard_budget_fails_without_infrastructure(cluster, operator, rag, repo):
    ns = await team(cluster)
    await cluster.create("deployments", ns, deployment(ns, "pricey", repo, budget={"maxMonthlyCost": 1, "enforcementMode": "hard"}))
    body = await phase_is(cluster, ns, "pricey", "Failed")
    assert condition(body, "BudgetOk") == condition(body, "BudgetOk") | {"status": "False", "reason": "BudgetExceeded"}
    assert condition(body, "Ready")["reason"] == "BudgetExceeded"
    assert body["status"]["cost"]["budgetVerdict"] == "Over" and body["status"]["observedGeneration"] == 1
    assert await cluster.list("infrastructures", ns) == []
    events = await events_of(cluster, ns, "BudgetExceeded")
    assert events and events[0]["type"] == "Warning"

    async def recorded_failed():
        records = await memory_records(rag, ns)
        assert [r.outcome for r in records] == [common_pb2.OUTCOME_FAILED], records
        return True

    await eventually(recorded_failed, what="FAILED recorded once")


async def test_soft_budget_warns_and_proceeds(cluster, operator, repo):
    ns = await team(cluster)
    await cluster.create("deployments", ns, deployment(ns, "thrifty", repo, budget={"maxMonthlyCost": 1, "enforcementMode": "soft"}))
    body = await phase_is(cluster, ns, "thrifty", "Provisioning")
    assert condition(body, "BudgetOk")["status"] == "False" and condition(body, "BudgetOk")["reason"] == "OverBudget"
    assert await cluster.get("infrastructures", ns, "thrifty") is not None
    events = await events_of(cluster, ns, "OverBudget")
    assert events and events[0]["type"] == "Warning"


async def test_missing_cloud_provider_waits_then_proceeds(cluster, operator, repo):
    ns = namespace_name()
    await cluster.create("deployments", ns, deployment(ns, "early", repo, cloudProvider="later"))

    async def waiting():
        body = await cluster.get("deployments", ns, "early")
        c = condition(body, "CloudProviderReady")
        assert c.get("status") == "False" and c.get("reason") == "CloudProviderNotFound", c
        assert "'later'" in c["message"] and body["status"]["phase"] == "Pending"
        return True

    await eventually(waiting, what="a clear condition while the CloudProvider is missing")
    assert await cluster.list("infrastructures", ns) == []
    await cluster.create("cloudproviders", ns, cloud_provider(ns, name="later"))
    body = await phase_is(cluster, ns, "early", "Provisioning")
    assert condition(body, "CloudProviderReady")["status"] == "True"


async def test_region_outside_the_allowed_list_is_refused(cluster, operator, repo):
    ns = await team(cluster)
    before = plans_made()
    await cluster.create("deployments", ns, deployment(ns, "far", repo, region="ap-southeast-2"))
    body = await phase_is(cluster, ns, "far", "Failed")
    c = condition(body, "CloudProviderReady")
    assert c["reason"] == "RegionNotAllowed" and "ap-southeast-2" in c["message"] and "eu-west-3" in c["message"]
    assert await cluster.list("infrastructures", ns) == []
    assert plans_made() == before  # refused before asking the planner


async def test_rollback_reapplies_a_previous_revision(cluster, operator, repo):
    ns = await team(cluster)
    await cluster.create("deployments", ns, deployment(ns, "app", repo, strategy="vm"))
    await phase_is(cluster, ns, "app", "Provisioning")
    first = (await cluster.get("infrastructures", ns, "app"))["spec"]["parameters"]

    await cluster.patch("deployments", ns, "app", {"spec": {"strategy": "kubernetes"}})

    async def second_applied():
        xr = await cluster.get("infrastructures", ns, "app")
        assert xr["spec"]["parameters"]["strategy"] == "kubernetes" and xr["spec"]["parameters"]["revision"] == 2
        return xr

    xr = await eventually(second_applied, timeout=30, what="revision 2 applied")
    assert xr["spec"]["crossplane"]["compositionSelector"]["matchLabels"]["scia.io/strategy"] == "kubernetes"

    await cluster.patch("deployments", ns, "app", {"spec": {"rollbackTo": 1}})

    async def rolled_back():
        xr = await cluster.get("infrastructures", ns, "app")
        params = xr["spec"]["parameters"]
        assert params["strategy"] == "vm" and params["revision"] == 3, params
        return params

    params = await eventually(rolled_back, timeout=30, what="revision 1's parameters re-applied")
    assert {k: v for k, v in params.items() if k != "revision"} == {k: v for k, v in first.items() if k != "revision"}
    body = await cluster.get("deployments", ns, "app")
    history = body["status"]["history"]
    assert [h["revision"] for h in history] == [1, 2, 3]
    assert history[2]["reason"] == "rollback to revision 1" and condition(body, "Planned")["reason"] == "RolledBack"
    assert len(await cluster.list("infrastructures", ns)) == 1

    # A revision that does not exist is refused with the ones that do.
    await cluster.patch("deployments", ns, "app", {"spec": {"rollbackTo": 9}})
    body = await phase_is(cluster, ns, "app", "Failed")
    assert "revision 9 is not in status.history" in body["status"]["message"] and "1, 2, 3" in body["status"]["message"]


async def test_crossplane_synced_false_fails_the_deployment_with_its_message(cluster, operator, rag, repo):
    """Crossplane could not apply the composition (Synced=False): the Deployment is Failed with
    Crossplane's message, the conditions are copied, a Warning Event is posted and the outcome
    is recorded as FAILED."""
    ns = await team(cluster)
    await cluster.create("deployments", ns, deployment(ns, "api", repo))
    await phase_is(cluster, ns, "api", "Provisioning")
    message = "cannot compose resources: VPC quota exceeded in eu-west-3"
    await cluster.crossplane(ns, "api", ready="False", synced="False", message=message)

    body = await phase_is(cluster, ns, "api", "Failed")
    synced = condition(body, "Synced")
    assert synced["status"] == "False" and synced["reason"] == "ReconcileError" and message in synced["message"]
    assert condition(body, "Ready")["status"] == "False"
    assert message in body["status"]["message"]
    failed = await events_of(cluster, ns, "Failed")
    assert failed and failed[0]["type"] == "Warning" and message in failed[0]["message"]

    async def recorded():
        records = await memory_records(rag, ns)
        assert [(r.revision, r.outcome) for r in records] == [(1, common_pb2.OUTCOME_FAILED)], records
        return records

    await eventually(recorded, what="FAILED recorded in the memory")
    assert (await cluster.get("deployments", ns, "api"))["status"]["lastOutcome"] == "Failed"
    assert len(await cluster.list("infrastructures", ns)) == 1  # left for Crossplane to retry, not duplicated

    # Crossplane recovers: Synced and Ready -> Running, and the new outcome is recorded.
    await cluster.crossplane(ns, "api", url="https://api.example.com")
    await phase_is(cluster, ns, "api", "Running")


async def test_an_unchanged_deployment_is_rechecked_without_writes(cluster, operator, repo, caplog):
    """The periodic re-check (every 3 s here, 600 s by default) reads and compares; with nothing
    changed it writes nothing: no status patch, no Infrastructure patch, no Event."""
    ns = await team(cluster)
    await cluster.create("deployments", ns, deployment(ns, "api", repo))
    await phase_is(cluster, ns, "api", "Provisioning")
    await cluster.crossplane(ns, "api", url="https://api.example.com")
    await phase_is(cluster, ns, "api", "Running")

    async def settled():
        body = await cluster.get("deployments", ns, "api")
        return body["status"].get("lastOutcome") == "Success" and body

    await eventually(settled, what="outcome recorded")
    await asyncio.sleep(1)
    before = (await cluster.get("deployments", ns, "api"), await cluster.get("infrastructures", ns, "api"), len(await cluster.events(ns)))
    caplog.set_level(logging.INFO, logger="kopf.objects")
    caplog.clear()

    def rechecks() -> int:
        return sum(1 for r in caplog.records if r.getMessage() == "Timer 'recheck' succeeded." and f"'namespace': '{ns}'" in str(getattr(r, "k8s_ref", "")))

    await eventually(lambda: asyncio.sleep(0, rechecks() >= 2), timeout=20, what="two re-checks of the Deployment ran")
    after = (await cluster.get("deployments", ns, "api"), await cluster.get("infrastructures", ns, "api"), len(await cluster.events(ns)))
    assert after[0]["metadata"]["resourceVersion"] == before[0]["metadata"]["resourceVersion"]
    assert after[1]["metadata"]["resourceVersion"] == before[1]["metadata"]["resourceVersion"]
    assert after[2] == before[2]
