"""The operator's pure logic (scia.operator.reconcile), tested directly."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from scia.operator import reconcile as r
from scia.v1 import common_pb2, planner_pb2
from tests.crds.k8s_schema import errors  # the CRDs' OpenAPI validation used by tests/crds

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-05-01T10:00:00Z"
LATER = "2026-05-01T10:05:00Z"


def load(path: str) -> dict:
    return yaml.safe_load((ROOT / path).read_text())


def schema(path: str) -> dict:
    crd = load(path)
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.fixture
def dep() -> dict:
    body = load("examples/deployment-flask-aws-ha.yaml")
    body["metadata"].update(uid="0b6f3f5e-1111-4222-8333-444455556666", generation=3)
    return body


@pytest.fixture
def provider() -> dict:
    return load("examples/cloudprovider-aws.yaml")


def vm_plan(**budget) -> planner_pb2.PlanResponse:
    plan = common_pb2.Plan(strategy=common_pb2.STRATEGY_VM, reason="steady web traffic", confidence=0.82)
    c = plan.configuration
    c.cloud, c.region, c.https, c.monitoring, c.app_port, c.start_command = common_pb2.CLOUD_AWS, "eu-west-3", True, True, 5000, "gunicorn app:app"
    c.vm.CopyFrom(common_pb2.VmConfig(instance_type="t3.small", instance_count=3, min_count=2, max_count=6, volume_size_gb=30, zones=["eu-west-3a", "eu-west-3b"]))
    c.managed_services.append(common_pb2.ManagedService(kind="postgres", instance_class="db.t4g.micro", storage_gb=20, high_availability=True))
    c.tags["cost-center"] = "cc-1042"
    plan.cost.monthly_total_usd = 212.5
    plan.cost.pricing_source = "bundled catalogue"
    plan.cost.items.append(common_pb2.CostItem(name="t3.small", quantity=3, unit="instance", unit_price_usd=15.2, monthly_usd=45.6))
    plan.budget.CopyFrom(common_pb2.BudgetVerdict(status=budget.get("status", common_pb2.BudgetVerdict.STATUS_WITHIN), budget_usd=300, estimated_usd=212.5,
                                                  enforcement=budget.get("enforcement", common_pb2.BUDGET_ENFORCEMENT_HARD), message=budget.get("message", "")))
    plan.alternatives.append(common_pb2.Alternative(strategy=common_pb2.STRATEGY_KUBERNETES, reason="more moving parts", confidence=0.4, cost=common_pb2.CostEstimate(monthly_total_usd=310)))
    plan.provenance.engine = "knowledge-base"
    analysis = common_pb2.RepositoryAnalysis(applications=[common_pb2.Application(
        framework="Flask", language="python",
        traits=[common_pb2.Trait(kind=common_pb2.TRAIT_KIND_HEALTH_ENDPOINT, value="/healthz")])])
    return planner_pb2.PlanResponse(plan=plan, analysis=analysis)


# --- skip rule, names, backoff -----------------------------------------------------------------


def test_skip_rule_follows_observed_generation(dep):
    assert r.needs_planning(dep)
    dep["status"] = {"observedGeneration": 3}
    assert not r.needs_planning(dep)
    dep["metadata"]["generation"] = 4
    assert r.needs_planning(dep)


def test_one_infrastructure_name_per_deployment(dep):
    assert r.infrastructure_name(dep) == "shop-api"
    dep["metadata"]["generation"] = 9
    assert r.infrastructure_name(dep) == "shop-api"


def test_retry_delay_doubles_and_is_capped():
    assert [r.retry_delay(n, 5, 60) for n in range(6)] == [5, 10, 20, 40, 60, 60]
    assert r.retry_delay(10_000, 1, 300) == 300


# --- conditions --------------------------------------------------------------------------------


def test_condition_transition_time_moves_only_when_status_flips():
    conditions = r.set_condition([], "Ready", "False", "Provisioning", "waiting", generation=1, now=NOW)
    same = r.set_condition(conditions, "Ready", "False", "Creating", "still waiting", generation=1, now=LATER)
    assert same[0]["lastTransitionTime"] == NOW and same[0]["reason"] == "Creating"
    flipped = r.set_condition(same, "Ready", "True", "Available", "", generation=2, now=LATER)
    assert flipped == [{"type": "Ready", "status": "True", "reason": "Available", "message": "", "lastTransitionTime": LATER, "observedGeneration": 2}]
    both = r.set_condition(flipped, "BudgetOk", "True", "WithinBudget", "", generation=2, now=LATER)
    assert [c["type"] for c in both] == ["BudgetOk", "Ready"]
    assert r.conditions_equal(both, list(reversed(both)))


# --- CloudProvider checks ---------------------------------------------------------------------


def test_missing_cloud_provider_is_retried_with_a_clear_reason(dep):
    check = r.check_cloud_provider(dep, None)
    assert (check.ok, check.retry, check.refused, check.reason) == (False, True, False, "CloudProviderNotFound")
    assert "'aws-prod'" in check.message and "'team-a'" in check.message


def test_region_must_be_allowed(dep, provider):
    assert r.check_cloud_provider(dep, provider) == r.ProviderCheck(True, "Found", "CloudProvider 'aws-prod' (aws, region eu-west-3)", region="eu-west-3", cloud="aws")
    dep["spec"]["region"] = "us-east-1"
    check = r.check_cloud_provider(dep, provider)
    assert check.refused and check.reason == "RegionNotAllowed"
    assert check.message == "region us-east-1 is not allowed by CloudProvider 'aws-prod' (allowed: eu-west-3, eu-west-1, eu-central-1)"


def test_region_defaults_to_the_providers(dep, provider):
    del dep["spec"]["region"]
    provider["spec"]["defaultRegion"] = "eu-west-1"
    assert r.check_cloud_provider(dep, provider).region == "eu-west-1"
    provider["spec"].pop("allowedRegions")
    dep["spec"]["region"] = "ap-south-1"
    assert r.check_cloud_provider(dep, provider).ok  # empty allowedRegions = any


def test_invalid_cloud_provider_type_is_refused(dep, provider):
    provider["spec"]["type"] = "openstack"
    check = r.check_cloud_provider(dep, provider)
    assert check.refused and check.reason == "CloudProviderInvalid"


# --- the plan request --------------------------------------------------------------------------


def test_plan_request_carries_the_spec_and_the_providers_constraints(dep, provider):
    request = r.plan_request(dep, provider, "eu-west-3")
    assert request.tenant == "team-a"
    assert request.repository.url == dep["spec"]["repository"]["url"] and request.repository.ref == "main"
    intent = request.intent
    assert intent.cloud == common_pb2.CLOUD_AWS and intent.region == "eu-west-3" and intent.strategy == common_pb2.STRATEGY_VM
    assert intent.budget.max_monthly_cost_usd == 300 and intent.budget.enforcement == common_pb2.BUDGET_ENFORCEMENT_HARD
    assert list(intent.policies) == ["require-https", "enable-monitoring", "high-availability"] and intent.cloud_provider == "aws-prod"
    c = request.constraints
    assert c.default_region == "eu-west-3" and list(c.allowed_regions) == ["eu-west-3", "eu-west-1", "eu-central-1"]
    assert dict(c.quotas) == {"maxInstances": 20, "maxClusters": 2, "maxFunctions": 50}
    assert c.monthly_budget_usd == 1500 and c.tags["cost-center"] == "cc-1042"
    dep["spec"]["strategy"] = "auto"
    assert r.plan_request(dep, provider, "eu-west-3").intent.strategy == common_pb2.STRATEGY_UNSPECIFIED


# --- budget ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "enforcement", "expected"),
    [
        (common_pb2.BudgetVerdict.STATUS_WITHIN, common_pb2.BUDGET_ENFORCEMENT_HARD, ("Within", True, "WithinBudget", False, False)),
        (common_pb2.BudgetVerdict.STATUS_ALERT, common_pb2.BUDGET_ENFORCEMENT_SOFT, ("Alert", True, "AlertThresholdReached", False, True)),
        (common_pb2.BudgetVerdict.STATUS_OVER, common_pb2.BUDGET_ENFORCEMENT_SOFT, ("Over", False, "OverBudget", False, True)),
        (common_pb2.BudgetVerdict.STATUS_OVER, common_pb2.BUDGET_ENFORCEMENT_HARD, ("Over", False, "BudgetExceeded", True, True)),
        (common_pb2.BudgetVerdict.STATUS_NO_BUDGET, common_pb2.BUDGET_ENFORCEMENT_SOFT, ("NoBudget", True, "NoBudget", False, False)),
    ],
)
def test_budget_verdicts(dep, status, enforcement, expected):
    check = r.check_budget(vm_plan(status=status, enforcement=enforcement).plan, dep)
    assert (check.verdict, check.ok, check.reason, check.refuse, check.warn) == expected


def test_hard_mode_from_the_spec_when_the_plan_does_not_say(dep):
    plan = vm_plan(status=common_pb2.BudgetVerdict.STATUS_OVER, enforcement=common_pb2.BUDGET_ENFORCEMENT_UNSPECIFIED, message="$412/month over $300").plan
    check = r.check_budget(plan, dep)
    assert check.refuse and check.message == "hard budget exceeded: $412/month over $300; nothing was provisioned"
    dep["spec"]["budget"]["enforcementMode"] = "soft"
    assert not r.check_budget(plan, dep).refuse


# --- parameters --------------------------------------------------------------------------------


def test_parameters_map_the_plan_one_to_one_and_validate_against_the_xrd(dep, provider):
    response = vm_plan()
    params = r.parameters_from_plan(dep, response.plan, response.analysis, provider)
    assert params == {
        "cloud": "aws", "strategy": "vm", "region": "eu-west-3", "team": "team-a", "deploymentName": "shop-api", "revision": 3,
        "providerConfigName": "aws-prod", "providerConfigKind": "ProviderConfig", "appPort": 5000, "healthCheckPath": "/healthz",
        "https": True, "monitoring": True, "framework": "flask", "startCommand": "gunicorn app:app",
        "repositoryUrl": "https://github.com/scia-examples/flask-shop-api.git", "repositoryRef": "main",
        "domainName": "shop-api.team-a.example.com",
        "vm": {"instanceType": "t3.small", "instanceCount": 3, "volumeSizeGb": 30, "minCount": 2, "maxCount": 6, "zones": ["eu-west-3a", "eu-west-3b"]},
        "managedServices": [{"kind": "postgres", "instanceClass": "db.t4g.micro", "storageGb": 20, "highAvailability": True}],
        "tags": {"cost-center": "cc-1042"},
    }
    xr = r.desired_infrastructure(dep, params)
    assert errors(xr) == []


def test_every_xrd_default_is_written_explicitly(dep, provider):
    """Drift compares exactly: a field the XRD would default must already be in the parameters."""
    plan = common_pb2.Plan(strategy=common_pb2.STRATEGY_KUBERNETES)
    plan.configuration.cloud, plan.configuration.region = common_pb2.CLOUD_AWS, "eu-west-3"
    plan.configuration.kubernetes.node_type = "m7g.large"
    plan.configuration.managed_services.append(common_pb2.ManagedService(kind="redis"))
    params = r.parameters_from_plan(dep, plan, None, provider)
    spec = schema("crds/scia.io_infrastructures.xrd.yaml")["properties"]["spec"]["properties"]["parameters"]

    def check(value: dict, node: dict, where: str) -> None:
        for key, prop in node.get("properties", {}).items():
            if "default" in prop:
                assert key in value, f"{where}.{key} has an XRD default but is not written"
            if key in value and prop.get("type") == "object":
                check(value[key], prop, f"{where}.{key}")
            if key in value and prop.get("type") == "array" and prop["items"].get("type") == "object":
                for item in value[key]:
                    check(item, prop["items"], f"{where}.{key}[]")

    check(params, spec, "parameters")
    assert params["kubernetes"] == {"nodeType": "m7g.large", "minNodes": 1, "maxNodes": 3, "desiredNodes": 2, "nodeVolumeSizeGb": 50,
                                    "replicas": 2, "podCpuMillicores": 250, "podMemoryMb": 512}


def test_serverless_parameters_and_azure_ssh_key(dep, provider):
    plan = common_pb2.Plan(strategy=common_pb2.STRATEGY_SERVERLESS)
    plan.configuration.cloud, plan.configuration.region = common_pb2.CLOUD_AWS, "eu-west-3"
    plan.configuration.serverless.memory_mb = 1024
    params = r.parameters_from_plan(dep, plan, None, provider)
    assert params["serverless"] == {"memoryMb": 1024, "timeoutSeconds": 30, "provisionedConcurrency": 0}
    assert "sshPublicKey" not in params and params["appPort"] == 8080 and params["healthCheckPath"] == "/"
    azure = copy.deepcopy(provider)
    azure["spec"].update(type="azure", sshPublicKey="ssh-rsa AAAAB3Nza test")
    plan = common_pb2.Plan(strategy=common_pb2.STRATEGY_VM)
    plan.configuration.cloud, plan.configuration.region = common_pb2.CLOUD_AZURE, "westeurope"
    plan.configuration.vm.instance_type = "Standard_B2s"
    assert r.parameters_from_plan(dep, plan, None, azure)["sshPublicKey"] == "ssh-rsa AAAAB3Nza test"


def test_configuration_round_trips_through_parameters(dep, provider):
    response = vm_plan()
    params = r.parameters_from_plan(dep, response.plan, response.analysis, provider)
    assert r.configuration_from_parameters(params) == response.plan.configuration


# --- the desired Infrastructure and drift ------------------------------------------------------


@pytest.fixture
def desired(dep, provider) -> dict:
    response = vm_plan()
    return r.desired_infrastructure(dep, r.parameters_from_plan(dep, response.plan, response.analysis, provider))


def test_desired_infrastructure_is_owned_and_selects_the_composition(desired, dep):
    assert desired["metadata"]["name"] == "shop-api" and desired["metadata"]["namespace"] == "team-a"
    assert desired["metadata"]["ownerReferences"] == [{"apiVersion": "scia.io/v1alpha1", "kind": "Deployment", "name": "shop-api",
                                                       "uid": dep["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    assert desired["spec"]["crossplane"] == {"compositionSelector": {"matchLabels": {"scia.io/cloud": "aws", "scia.io/strategy": "vm"}}}
    assert desired["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "scia-operator"
    pinned = r.desired_infrastructure(dep, desired["spec"]["parameters"], "v2")
    assert pinned["spec"]["crossplane"]["compositionSelector"]["matchLabels"]["scia.io/version"] == "v2"


def observed_from(desired: dict) -> dict:
    """What the API server holds after Crossplane has touched it."""
    observed = copy.deepcopy(desired)
    observed["metadata"].update(uid="x", resourceVersion="7", generation=1, finalizers=["composite.apiextensions.crossplane.io"])
    observed["metadata"]["labels"]["crossplane.io/composite"] = "shop-api"
    observed["spec"]["crossplane"].update(compositionRef={"name": "aws-vm-v1"}, compositionRevisionRef={"name": "aws-vm-v1-abc"},
                                          compositionUpdatePolicy="Manual", resourceRefs=[{"kind": "VPC", "name": "x"}])
    observed["status"] = {"conditions": [{"type": "Ready", "status": "True"}], "resourceCount": 31}
    return observed


def test_what_crossplane_adds_is_not_drift(desired):
    assert r.infrastructure_drift(desired, observed_from(desired)) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: o["spec"]["parameters"]["vm"].update(instanceType="m5.24xlarge"), "spec.parameters.vm.instanceType is 'm5.24xlarge', want 't3.small'"),
        (lambda o: o["spec"]["parameters"].pop("https"), "spec.parameters.https missing (want True)"),
        (lambda o: o["spec"]["parameters"].update(image="evil/miner"), "spec.parameters.image added ('evil/miner')"),
        (lambda o: o["spec"]["parameters"]["vm"]["zones"].append("eu-west-3c"), "spec.parameters.vm.zones is ['eu-west-3a', 'eu-west-3b', 'eu-west-3c'], want ['eu-west-3a', 'eu-west-3b']"),
        (lambda o: o["spec"]["crossplane"]["compositionSelector"]["matchLabels"].update({"scia.io/strategy": "kubernetes"}),
         "spec.crossplane.compositionSelector.matchLabels.scia.io/strategy is 'kubernetes', want 'vm'"),
        (lambda o: o["metadata"]["labels"].pop("scia.io/deployment"), "metadata.labels[scia.io/deployment] is None, want 'shop-api'"),
        (lambda o: o["metadata"].update(ownerReferences=[]), "metadata.ownerReferences lost the Deployment as controller"),
    ],
)
def test_out_of_band_changes_are_drift_and_the_repair_patch_restores_them(desired, edit, expected):
    from kmock._internal.dicts import patch_dict  # the emulator's JSON merge-patch semantics

    observed = observed_from(desired)
    edit(observed)
    assert r.infrastructure_drift(desired, observed) == [expected]
    repaired = patch_dict(observed, r.repair_patch(desired, observed))
    assert r.infrastructure_drift(desired, repaired) == []
    # ...and leaves Crossplane's fields alone.
    assert repaired["spec"]["crossplane"]["compositionRef"] == {"name": "aws-vm-v1"}
    assert repaired["metadata"]["labels"]["crossplane.io/composite"] == "shop-api"


def test_a_deleted_infrastructure_is_drift(desired):
    assert r.infrastructure_drift(desired, None) == ["the Infrastructure was deleted"]


def test_cloud_or_region_change_needs_a_new_infrastructure(desired):
    observed = observed_from(desired)
    assert not r.needs_replacement(desired, observed) and not r.needs_replacement(desired, None)
    observed["spec"]["parameters"]["region"] = "eu-west-1"
    assert r.needs_replacement(desired, observed)


# --- phase from Crossplane's conditions --------------------------------------------------------


def xr_with(*conditions: tuple[str, str, str], **status) -> dict:
    return {"status": {"conditions": [{"type": t, "status": s, "reason": reason, "message": f"{t} {reason}"} for t, s, reason in conditions], **status}}


@pytest.mark.parametrize(
    ("observed", "phase"),
    [
        (None, "Provisioning"),
        ({}, "Provisioning"),
        (xr_with(("Synced", "True", "ReconcileSuccess"), ("Ready", "False", "Creating")), "Provisioning"),
        (xr_with(("Synced", "True", "ReconcileSuccess"), ("Ready", "True", "Available")), "Running"),
        (xr_with(("Ready", "True", "Available")), "Running"),
        (xr_with(("Synced", "False", "ReconcileError"), ("Ready", "False", "Creating")), "Failed"),
        (xr_with(("Synced", "False", "ReconcileError"), ("Ready", "True", "Available")), "Failed"),
    ],
)
def test_phase_follows_ready_and_synced(observed, phase):
    assert r.infrastructure_state(observed).phase == phase


def test_state_carries_endpoints_and_crossplanes_message():
    state = r.infrastructure_state(xr_with(("Synced", "True", "ReconcileSuccess"), ("Ready", "True", "Available"), url="https://a.example.com", endpoint="a.example.com"))
    assert state.endpoints == ["https://a.example.com", "a.example.com"] and state.ready == ("True", "Available", "Ready Available")
    failed = r.infrastructure_state(xr_with(("Synced", "False", "ReconcileError")))
    assert failed.message == "Crossplane cannot compose the Infrastructure: Synced ReconcileError" and failed.synced[0] == "False"
    assert r.outcome_for_phase("Running") == "Success" and r.outcome_for_phase("Failed") == "Failed" and r.outcome_for_phase("Provisioning") is None


# --- quotas ------------------------------------------------------------------------------------


def test_quotas_count_other_deployments_using_the_provider(dep, provider, desired):
    params = desired["spec"]["parameters"]  # up to 6 instances
    assert r.check_quotas(params, 212.5, provider, []) is None
    other = {"metadata": {"name": "other"}, "status": {"cost": {"estimatedMonthly": 1800},
             "history": [{"revision": 1, "parameters": {"vm": {"instanceCount": 2, "maxCount": 16}}}]}}
    message = r.check_quotas(params, 212.5, provider, [other])
    assert message == "CloudProvider 'aws-prod' quota maxInstances=20 exceeded: this Deployment would bring the total to 22 instances"
    other["status"]["history"][0]["parameters"]["vm"]["maxCount"] = 4
    assert "maxMonthlyCost=2000" in r.check_quotas(params, 212.5, provider, [other])
    other["metadata"]["deletionTimestamp"] = NOW  # leaving: not counted
    assert r.check_quotas(params, 212.5, provider, [other]) is None
    provider["spec"]["quotas"] = {"maxDeployments": 1}
    assert "maxDeployments=1" in r.check_quotas(params, 0, provider, [{"metadata": {"name": "x"}, "status": {"history": [{"revision": 1, "parameters": {"serverless": {}}}]}}])


# --- history and rollback ----------------------------------------------------------------------


def test_history_has_one_entry_per_revision_and_keeps_twenty(dep, desired):
    entry = r.history_entry(dep, now=NOW, parameters=desired["spec"]["parameters"], estimated_monthly=212.499, reason="steady")
    assert entry["revision"] == 3 and entry["strategy"] == "vm" and entry["compositionName"] == "aws-vm" and entry["estimatedMonthlyCost"] == 212.5
    assert entry["infrastructureRef"] == {"apiVersion": "scia.io/v1alpha1", "kind": "Infrastructure", "name": "shop-api", "namespace": "team-a"}
    history = r.upsert_history([], entry)
    history = r.upsert_history(history, {**entry, "reason": "retried"})
    assert len(history) == 1 and history[0]["reason"] == "retried"
    many: list[dict] = []
    for revision in range(1, 26):
        many = r.upsert_history(many, {"revision": revision, "timestamp": NOW})
    assert [e["revision"] for e in many] == list(range(6, 26))
    status = {"history": many}
    assert errors({"apiVersion": "scia.io/v1alpha1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": dep["spec"], "status": status}) == []


def test_rollback_picks_an_applied_revision(dep):
    history = [
        {"revision": 1, "timestamp": NOW, "parameters": {"strategy": "vm", "revision": 1}},
        {"revision": 2, "timestamp": NOW, "reason": "BudgetExceeded: over"},
        {"revision": 3, "timestamp": NOW, "parameters": {"strategy": "kubernetes", "revision": 3}},
    ]
    target, why = r.rollback_target(history, 1)
    assert target is history[0] and why == ""
    dep["metadata"]["generation"] = 4
    assert r.rollback_parameters(dep, target) == {"strategy": "vm", "revision": 4}
    assert history[0]["parameters"]["revision"] == 1  # not mutated
    assert r.rollback_target(history, 2) == (None, "revision 2 was never applied (BudgetExceeded: over); roll back to one of: 1, 3")
    assert r.rollback_target(history, 7) == (None, "revision 7 is not in status.history (revisions that can be rolled back to: 1, 3)")
    assert r.applied_entry(history) is history[2] and r.applied_entry(history[:2]) is history[0] and r.applied_entry([]) is None


# --- status pieces and the memory record ------------------------------------------------------


def test_decision_and_cost_fit_the_status_schema(dep):
    plan = vm_plan().plan
    status = {"decision": r.decision_status(plan), "cost": r.cost_status(plan), "phase": "Provisioning", "observedGeneration": 3}
    assert status["decision"]["strategy"] == "vm" and status["decision"]["alternatives"][0] == {
        "strategy": "kubernetes", "reason": "more moving parts", "confidence": 0.4, "estimatedMonthlyCost": 310.0}
    assert status["cost"]["estimatedMonthly"] == 212.5 and status["cost"]["budgetVerdict"] == "Within"
    assert errors({"apiVersion": "scia.io/v1alpha1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": dep["spec"], "status": status}) == []


def test_memory_record_is_rebuilt_from_the_status(dep, provider):
    response = vm_plan()
    params = r.parameters_from_plan(dep, response.plan, response.analysis, provider)
    entry = r.history_entry(dep, now=NOW, parameters=params, estimated_monthly=212.5, reason="steady")
    dep["status"] = {"decision": r.decision_status(response.plan), "cost": r.cost_status(response.plan)}
    record = r.memory_record(dep, entry)
    assert (record.tenant, record.name, record.uid, record.revision) == ("team-a", "shop-api", dep["metadata"]["uid"], 3)
    assert record.plan.strategy == common_pb2.STRATEGY_VM and record.plan.configuration == response.plan.configuration
    assert record.plan.cost.monthly_total_usd == 212.5 and record.analysis.applications[0].framework == "flask"
    assert record.intent.budget.enforcement == common_pb2.BUDGET_ENFORCEMENT_HARD and record.intent.cloud == common_pb2.CLOUD_AWS
    refused = r.memory_record(dep, {"revision": 4, "reason": "BudgetExceeded: over", "estimatedMonthlyCost": 999})
    assert refused.plan.rejected and refused.plan.rejection_reason == "BudgetExceeded: over" and refused.plan.cost.monthly_total_usd == 999


def test_memory_record_keeps_what_the_planner_found(dep, provider):
    """The planner's recall filters by language and weighs shared dependencies and the planned
    load: a record with only the framework would never be cited. The revision keeps a compact
    analysis in status.history, within the CRD's schema, and the record is rebuilt from it."""
    response = vm_plan()
    app = response.analysis.applications[0]
    app.runtime_version = "3.12"
    app.has_dockerfile = True
    app.dependencies.extend([common_pb2.Dependency(name="flask"), common_pb2.Dependency(name="celery"),
                             common_pb2.Dependency(name="pytest", dev=True), common_pb2.Dependency(name="x" * 300)])
    app.dependencies.extend(common_pb2.Dependency(name=f"lib{i}") for i in range(60))
    app.ports.append(common_pb2.Port(number=5000))
    response.analysis.backing_services.append(common_pb2.BackingService(kind="postgres"))
    response.plan.requirements.CopyFrom(common_pb2.Requirements(expected_rps=120, high_availability=True))
    summary = r.analysis_summary(response.analysis, response.plan.requirements)
    assert summary["language"] == "python" and summary["framework"] == "Flask" and summary["traits"] == ["health_endpoint"]
    assert summary["dependencies"][:2] == ["flask", "celery"] and "pytest" not in summary["dependencies"]
    assert len(summary["dependencies"]) == r.SUMMARY_DEPENDENCIES and len(summary["dependencies"][2]) == 214
    assert summary["requirements"] == {"expectedRps": 120, "highAvailability": True}

    params = r.parameters_from_plan(dep, response.plan, response.analysis, provider)
    entry = r.history_entry(dep, now=NOW, parameters=params, estimated_monthly=212.5, reason="steady", analysis=summary)
    dep["status"] = {"decision": r.decision_status(response.plan), "cost": r.cost_status(response.plan), "history": [entry]}
    assert errors({"apiVersion": "scia.io/v1alpha1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": dep["spec"], "status": dep["status"]}) == []

    record = r.memory_record(dep, entry)
    recorded = record.analysis.applications[0]
    assert (recorded.language, recorded.framework, recorded.runtime_version, recorded.has_dockerfile) == ("python", "Flask", "3.12", True)
    assert [d.name for d in recorded.dependencies] == summary["dependencies"]
    assert [t.kind for t in recorded.traits] == [common_pb2.TRAIT_KIND_HEALTH_ENDPOINT] and [p.number for p in recorded.ports] == [5000]
    assert [b.kind for b in record.analysis.backing_services] == ["postgres"]
    assert record.plan.requirements.expected_rps == 120 and record.plan.requirements.high_availability
    # A revision written before the summary existed still gives the framework.
    old = r.memory_record(dep, {k: v for k, v in entry.items() if k != "analysis"})
    assert old.analysis.applications[0].framework == params["framework"]


# --- outcome writes: bounded concurrency ----------------------------------------------------------


def test_outcome_writes_to_the_memory_are_bounded(dep, provider):
    """400 Deployments turning Running together sent 400 embedding writes at once; the memory
    missed its deadlines and every retry re-sent the work (benchmark). At most
    `memory_concurrency` are in flight; the others wait for a slot, not against their deadline."""
    import asyncio

    from scia.operator.config import OperatorSettings
    from scia.operator.handlers import Operator
    from scia.v1 import rag_pb2

    settings = OperatorSettings(kubernetes_url="http://127.0.0.1:1", metrics_port=0, health_port=0, memory_concurrency=3)
    response = vm_plan()
    params = r.parameters_from_plan(dep, response.plan, response.analysis, provider)
    entry = r.history_entry(dep, now=NOW, parameters=params, estimated_monthly=212.5, reason="r")

    class Memory:  # the two calls the operator makes, slow enough to overlap
        def __init__(self) -> None:
            self.in_flight = self.peak = self.calls = 0

        async def _call(self):
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            await asyncio.sleep(0.01)
            self.in_flight -= 1
            self.calls += 1

        async def RecordDeployment(self, request, timeout):  # noqa: N802 - the gRPC method name
            await self._call()
            return rag_pb2.RecordDeploymentResponse(record=request.record)

        async def UpdateOutcome(self, request, timeout):  # noqa: N802
            await self._call()

    async def run() -> tuple[list[tuple[bool, str]], Memory]:
        operator = Operator(settings)
        operator.memory = memory = Memory()
        results = await asyncio.gather(*(operator.record_outcome(dep, entry, r.OUTCOME_SUCCESS, "Ready") for _ in range(20)))
        return results, memory

    results, memory = asyncio.run(run())
    assert all(ok for ok, _ in results) and memory.calls == 40
    assert memory.peak == 3
