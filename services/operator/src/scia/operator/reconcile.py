"""The operator's logic as pure functions: no I/O, no kopf, no clock (time is passed in).

Inputs and outputs are plain Kubernetes bodies (dicts) and the contracts' protobuf messages, so
every rule here is tested directly (tests/operator/test_reconcile.py); `handlers.py` only
fetches, calls these, and writes the results.

Vocabulary: a *revision* is the Deployment's `metadata.generation` when the operator acted on
it. `status.history` keeps one entry per revision (applied, or refused with a reason); an entry
with `parameters` was applied and can be rolled back to.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from scia.compositions.xr import (  # the Deployment -> Infrastructure mapping, shared with the gateway's previews
    API_VERSION,
    CLOUD_NAMES,
    DEFAULT_APP_PORT,
    MANAGED_BY,
    STRATEGY_NAMES,
    composition_labels,
    desired_infrastructure,
    get_path,
    infrastructure_labels,
    infrastructure_name,
    owner_reference,
    parameters_from_plan,
    revision_of,
)
from scia.compositions.xr import nonzero as _nonzero
from scia.v1 import common_pb2, planner_pb2

GROUP, VERSION = API_VERSION.split("/")
FINALIZER = "scia.io/finalizer"
HISTORY_LIMIT = 20

# Phases (status.phase) and terminal-ish outcomes (status.lastOutcome, history[].outcome).
PENDING, ANALYZING, PLANNING, PROVISIONING, RUNNING, FAILED, DELETING = (
    "Pending", "Analyzing", "Planning", "Provisioning", "Running", "Failed", "Deleting",
)
OUTCOME_PENDING, OUTCOME_SUCCESS, OUTCOME_FAILED, OUTCOME_DELETED = "Pending", "Success", "Failed", "Deleted"

STRATEGY_VALUES = {name: value for value, name in STRATEGY_NAMES.items()}
CLOUD_VALUES = {name: value for value, name in CLOUD_NAMES.items()}
VERDICT_NAMES = {
    common_pb2.BudgetVerdict.STATUS_NO_BUDGET: "NoBudget",
    common_pb2.BudgetVerdict.STATUS_WITHIN: "Within",
    common_pb2.BudgetVerdict.STATUS_ALERT: "Alert",
    common_pb2.BudgetVerdict.STATUS_OVER: "Over",
}
OUTCOME_NAMES = {
    common_pb2.OUTCOME_PENDING: OUTCOME_PENDING,
    common_pb2.OUTCOME_SUCCESS: OUTCOME_SUCCESS,
    common_pb2.OUTCOME_FAILED: OUTCOME_FAILED,
    common_pb2.OUTCOME_DEGRADED: "Degraded",
    common_pb2.OUTCOME_DELETED: OUTCOME_DELETED,
}
OUTCOME_VALUES = {name: value for value, name in OUTCOME_NAMES.items()}


# --------------------------------------------------------------------------------------------
# small helpers over bodies (get_path, revision_of and infrastructure_name live in scia.compositions.xr)


def needs_planning(deployment: dict) -> bool:
    """Skip rule: nothing to plan when the status already describes this generation."""
    observed = get_path(deployment, "status", "observedGeneration")
    return observed is None or int(observed) != revision_of(deployment)


def retry_delay(retry: int, base: float, maximum: float) -> float:
    """Exponential backoff for kopf's temporary errors: base, 2*base, 4*base ... capped."""
    return min(maximum, base * (2 ** max(0, min(retry, 30))))


# --------------------------------------------------------------------------------------------
# conditions


def set_condition(
    conditions: list[dict] | None,
    type_: str,
    status: str,
    reason: str,
    message: str,
    *,
    generation: int,
    now: str,
) -> list[dict]:
    """metav1.Condition semantics: a list-map keyed by type; lastTransitionTime only moves when
    status flips (a changing message alone is not a transition)."""
    result = [dict(c) for c in (conditions or []) if c.get("type") != type_]
    previous = next((c for c in (conditions or []) if c.get("type") == type_), None)
    transition = previous["lastTransitionTime"] if previous and previous.get("status") == status else now
    result.append(
        {
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message[:32768],
            "lastTransitionTime": transition,
            "observedGeneration": generation,
        }
    )
    return sorted(result, key=lambda c: c["type"])


def condition(conditions: list[dict] | None, type_: str) -> dict | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)


def conditions_equal(a: list[dict] | None, b: list[dict] | None) -> bool:
    """Equal ignoring lastTransitionTime (which set_condition keeps stable anyway)."""

    def strip(items: list[dict] | None) -> list[tuple]:
        return sorted((c.get("type"), c.get("status"), c.get("reason"), c.get("message"), c.get("observedGeneration")) for c in items or [])

    return strip(a) == strip(b)


# --------------------------------------------------------------------------------------------
# CloudProvider checks


@dataclass(frozen=True)
class ProviderCheck:
    """What the CloudProvider allows. `retry`: wait and try again (missing); `refused`: final for this revision."""

    ok: bool
    reason: str
    message: str
    region: str = ""
    cloud: str = ""
    retry: bool = False
    refused: bool = False


def check_cloud_provider(deployment: dict, provider: dict | None) -> ProviderCheck:
    spec = deployment.get("spec") or {}
    namespace = get_path(deployment, "metadata", "namespace", default="")
    name = spec.get("cloudProvider") or ""
    if not name:
        return ProviderCheck(False, "CloudProviderNotSet", "spec.cloudProvider is required: the name of a CloudProvider in this namespace", refused=True)
    if provider is None:
        return ProviderCheck(
            False,
            "CloudProviderNotFound",
            f"CloudProvider {name!r} does not exist in namespace {namespace!r}; create it "
            f"(kubectl -n {namespace} apply -f examples/cloudprovider-aws.yaml) and the Deployment proceeds",
            retry=True,
        )
    pspec = provider.get("spec") or {}
    cloud = pspec.get("type") or ""
    if cloud not in CLOUD_VALUES:
        return ProviderCheck(False, "CloudProviderInvalid", f"CloudProvider {name!r} has type {cloud!r}; expected aws, gcp or azure", refused=True)
    region = spec.get("region") or pspec.get("defaultRegion") or ""
    if not region:
        return ProviderCheck(False, "RegionNotSet", f"no spec.region and CloudProvider {name!r} has no defaultRegion", refused=True)
    allowed = list(pspec.get("allowedRegions") or [])
    if allowed and region not in allowed:
        return ProviderCheck(
            False,
            "RegionNotAllowed",
            f"region {region} is not allowed by CloudProvider {name!r} (allowed: {', '.join(allowed)})",
            region=region,
            cloud=cloud,
            refused=True,
        )
    return ProviderCheck(True, "Found", f"CloudProvider {name!r} ({cloud}, region {region})", region=region, cloud=cloud)


# --------------------------------------------------------------------------------------------
# the planner request


def plan_request(deployment: dict, provider: dict, region: str) -> planner_pb2.PlanRequest:
    """Deployment spec + CloudProvider -> PlanRequest; the tenant is the namespace (one per team)."""
    spec = deployment.get("spec") or {}
    pspec = provider.get("spec") or {}
    repository = spec.get("repository") or {}
    budget = spec.get("budget") or {}
    strategy = spec.get("strategy") or "auto"
    enforcement = (
        common_pb2.BUDGET_ENFORCEMENT_HARD if budget.get("enforcementMode") == "hard" else common_pb2.BUDGET_ENFORCEMENT_SOFT
    )
    cloud = CLOUD_VALUES[pspec["type"]]
    quotas = {key: int(value) for key, value in (pspec.get("quotas") or {}).items() if key != "maxMonthlyCost" and value is not None}
    cost_control = pspec.get("costControl") or {}
    return planner_pb2.PlanRequest(
        tenant=get_path(deployment, "metadata", "namespace"),
        repository=common_pb2.RepositoryRef(
            url=repository.get("url", ""), ref=repository.get("ref", ""), subdirectory=repository.get("subdirectory", "")
        ),
        intent=common_pb2.DeploymentIntent(
            prompt=spec.get("prompt", ""),
            cloud=cloud,
            region=region,
            budget=common_pb2.Budget(
                max_monthly_cost_usd=float(budget.get("maxMonthlyCost") or 0),
                alert_threshold=float(budget.get("alertThreshold") or 0),
                enforcement=enforcement,
            ),
            policies=list(spec.get("policies") or []),
            strategy=STRATEGY_VALUES.get(strategy, common_pb2.STRATEGY_UNSPECIFIED),
            cloud_provider=get_path(provider, "metadata", "name", default=""),
        ),
        constraints=planner_pb2.CloudConstraints(
            cloud=cloud,
            default_region=pspec.get("defaultRegion", ""),
            allowed_regions=list(pspec.get("allowedRegions") or []),
            quotas=quotas,
            monthly_budget_usd=float(cost_control.get("monthlyBudget") or 0),
            alert_threshold=float(cost_control.get("alertThreshold") or 0),
            tags={str(k): str(v) for k, v in (pspec.get("tags") or {}).items()},
        ),
    )


# --------------------------------------------------------------------------------------------
# budget and quotas


@dataclass(frozen=True)
class BudgetCheck:
    verdict: str  # NoBudget | Within | Alert | Over
    ok: bool  # the BudgetOk condition
    reason: str
    message: str
    refuse: bool = False  # hard budget exceeded: no Infrastructure
    warn: bool = False  # a Warning event (soft overrun or alert threshold)


def check_budget(plan: common_pb2.Plan, deployment: dict) -> BudgetCheck:
    verdict = VERDICT_NAMES.get(plan.budget.status, "NoBudget")
    mode = get_path(deployment, "spec", "budget", "enforcementMode", default="soft")
    hard = plan.budget.enforcement == common_pb2.BUDGET_ENFORCEMENT_HARD or (
        plan.budget.enforcement == common_pb2.BUDGET_ENFORCEMENT_UNSPECIFIED and mode == "hard"
    )
    cost, budget = plan.cost.monthly_total_usd, plan.budget.budget_usd
    detail = plan.budget.message or f"estimated ${cost:,.2f}/month against a budget of ${budget:,.2f}"
    if verdict == "Over":
        if hard:
            return BudgetCheck(verdict, False, "BudgetExceeded", f"hard budget exceeded: {detail}; nothing was provisioned", refuse=True, warn=True)
        return BudgetCheck(verdict, False, "OverBudget", f"soft budget exceeded, proceeding: {detail}", warn=True)
    if verdict == "Alert":
        return BudgetCheck(verdict, True, "AlertThresholdReached", f"within budget but over the alert threshold: {detail}", warn=True)
    if verdict == "Within":
        return BudgetCheck(verdict, True, "WithinBudget", detail)
    return BudgetCheck(verdict, True, "NoBudget", f"no budget set; estimated ${cost:,.2f}/month")


def _workload_counts(parameters: dict) -> dict[str, float]:
    """What one Infrastructure consumes of a CloudProvider's quotas (its maximum, not its current size)."""
    counts = {"deployments": 1.0, "instances": 0.0, "clusters": 0.0, "functions": 0.0, "nodes": 0.0}
    vm, k8s = parameters.get("vm"), parameters.get("kubernetes")
    if vm:
        counts["instances"] = float(max(vm.get("instanceCount") or 1, vm.get("maxCount") or 0))
    if k8s:
        counts["clusters"] = 1.0
        counts["nodes"] = float(max(k8s.get("maxNodes") or 0, k8s.get("desiredNodes") or 0, k8s.get("minNodes") or 0))
    if parameters.get("serverless"):
        counts["functions"] = 1.0
    return counts


def check_quotas(
    parameters: dict, estimated_monthly: float, provider: dict, others: list[dict]
) -> str | None:
    """None when the new revision fits the CloudProvider's quotas together with the other
    Deployments using it (`others`: their bodies, applied parameters in status.history); else why not."""
    quotas = get_path(provider, "spec", "quotas", default={}) or {}
    if not quotas:
        return None
    name = get_path(provider, "metadata", "name")
    totals = _workload_counts(parameters)
    cost = float(estimated_monthly)
    for other in others:
        applied = applied_entry(get_path(other, "status", "history", default=[]) or [])
        if applied is None or get_path(other, "metadata", "deletionTimestamp"):
            continue
        for key, value in _workload_counts(applied.get("parameters") or {}).items():
            totals[key] += value
        cost += float(get_path(other, "status", "cost", "estimatedMonthly", default=0) or 0)
    limits = {
        "maxDeployments": ("deployments", totals["deployments"]),
        "maxInstances": ("instances", totals["instances"]),
        "maxClusters": ("clusters", totals["clusters"]),
        "maxFunctions": ("functions", totals["functions"]),
        "maxNodes": ("nodes", totals["nodes"]),
        "maxMonthlyCost": ("USD/month", cost),
    }
    for key, (what, used) in limits.items():
        limit = quotas.get(key)
        if limit is not None and used > float(limit) + 1e-9:
            shown = f"${used:,.2f}" if key == "maxMonthlyCost" else f"{used:g} {what}"
            return f"CloudProvider {name!r} quota {key}={limit} exceeded: this Deployment would bring the total to {shown}"
    return None


# --------------------------------------------------------------------------------------------
# Infrastructure parameters -> Plan.configuration (parameters_from_plan, the other way, is in scia.compositions.xr)


def configuration_from_parameters(parameters: dict) -> common_pb2.Configuration:
    """The inverse mapping, for the memory record of a revision (the status keeps parameters,
    not the Plan message)."""
    config = common_pb2.Configuration(
        cloud=CLOUD_VALUES.get(parameters.get("cloud", ""), common_pb2.CLOUD_UNSPECIFIED),
        region=parameters.get("region", ""),
        https=bool(parameters.get("https")),
        monitoring=bool(parameters.get("monitoring")),
        app_port=int(parameters.get("appPort") or 0),
        start_command=parameters.get("startCommand", ""),
        tags=parameters.get("tags") or {},
    )
    if vm := parameters.get("vm"):
        config.vm.CopyFrom(
            common_pb2.VmConfig(
                instance_type=vm.get("instanceType", ""),
                instance_count=int(vm.get("instanceCount") or 0),
                min_count=int(vm.get("minCount") or 0),
                max_count=int(vm.get("maxCount") or 0),
                volume_size_gb=int(vm.get("volumeSizeGb") or 0),
                zones=vm.get("zones") or [],
            )
        )
    elif k := parameters.get("kubernetes"):
        config.kubernetes.CopyFrom(
            common_pb2.KubernetesConfig(
                node_type=k.get("nodeType", ""),
                min_nodes=int(k.get("minNodes") or 0),
                max_nodes=int(k.get("maxNodes") or 0),
                desired_nodes=int(k.get("desiredNodes") or 0),
                node_volume_size_gb=int(k.get("nodeVolumeSizeGb") or 0),
                replicas=int(k.get("replicas") or 0),
                pod_cpu_millicores=int(k.get("podCpuMillicores") or 0),
                pod_memory_mb=int(k.get("podMemoryMb") or 0),
            )
        )
    elif s := parameters.get("serverless"):
        config.serverless.CopyFrom(
            common_pb2.ServerlessConfig(
                memory_mb=int(s.get("memoryMb") or 0),
                timeout_seconds=int(s.get("timeoutSeconds") or 0),
                provisioned_concurrency=int(s.get("provisionedConcurrency") or 0),
            )
        )
    for m in parameters.get("managedServices") or []:
        config.managed_services.append(
            common_pb2.ManagedService(
                kind=m.get("kind", ""),
                instance_class=m.get("instanceClass", ""),
                storage_gb=int(m.get("storageGb") or 0),
                high_availability=bool(m.get("highAvailability")),
            )
        )
    return config


# --------------------------------------------------------------------------------------------
# drift of the desired Infrastructure (desired_infrastructure is in scia.compositions.xr)


def _diff_paths(desired: Any, observed: Any, path: str) -> list[str]:
    if isinstance(desired, dict) and isinstance(observed, dict):
        found: list[str] = []
        for key in sorted(set(desired) | set(observed)):
            if key not in observed:
                found.append(f"{path}.{key} missing (want {desired[key]!r})")
            elif key not in desired:
                found.append(f"{path}.{key} added ({observed[key]!r})")
            else:
                found.extend(_diff_paths(desired[key], observed[key], f"{path}.{key}"))
        return found
    if desired != observed:
        return [f"{path} is {observed!r}, want {desired!r}"]
    return []


def infrastructure_drift(desired: dict, observed: dict | None) -> list[str]:
    """What an out-of-band change altered, as readable lines; [] when in sync.

    Owned exactly: spec.parameters and spec.crossplane.compositionSelector (the operator writes
    every defaulted field, see parameters_from_plan). Owned as a subset: our labels and our owner
    reference. Not drift: anything Crossplane adds (compositionRef, resourceRefs, status...)."""
    if observed is None:
        return ["the Infrastructure was deleted"]
    found = _diff_paths(get_path(desired, "spec", "parameters", default={}), get_path(observed, "spec", "parameters", default={}), "spec.parameters")
    found += _diff_paths(
        get_path(desired, "spec", "crossplane", "compositionSelector", default={}),
        get_path(observed, "spec", "crossplane", "compositionSelector", default={}),
        "spec.crossplane.compositionSelector",
    )
    labels = get_path(observed, "metadata", "labels", default={}) or {}
    for key, value in get_path(desired, "metadata", "labels", default={}).items():
        if labels.get(key) != value:
            found.append(f"metadata.labels[{key}] is {labels.get(key)!r}, want {value!r}")
    wanted = get_path(desired, "metadata", "ownerReferences", default=[])[0]
    owners = get_path(observed, "metadata", "ownerReferences", default=[]) or []
    if not any(o.get("uid") == wanted["uid"] and o.get("controller") for o in owners):
        found.append("metadata.ownerReferences lost the Deployment as controller")
    return found


def _merge_patch(observed: Any, desired: Any) -> Any:
    """A JSON merge patch turning `observed` into `desired` (keys only in observed become null)."""
    if not (isinstance(observed, dict) and isinstance(desired, dict)):
        return copy.deepcopy(desired)
    patch: dict[str, Any] = {}
    for key, value in desired.items():
        if key not in observed:
            patch[key] = copy.deepcopy(value)
        elif observed[key] != value:
            patch[key] = _merge_patch(observed[key], value)
    for key in observed:
        if key not in desired:
            patch[key] = None
    return patch


def repair_patch(desired: dict, observed: dict) -> dict:
    """The merge patch that restores what the operator owns and leaves everything else alone."""
    owners = [o for o in get_path(observed, "metadata", "ownerReferences", default=[]) or [] if o.get("uid") != desired["metadata"]["ownerReferences"][0]["uid"]]
    return {
        "metadata": {
            "labels": desired["metadata"]["labels"],
            "ownerReferences": owners + desired["metadata"]["ownerReferences"],
        },
        "spec": {
            "parameters": _merge_patch(get_path(observed, "spec", "parameters", default={}), desired["spec"]["parameters"]),
            "crossplane": {
                "compositionSelector": _merge_patch(
                    get_path(observed, "spec", "crossplane", "compositionSelector", default={}),
                    desired["spec"]["crossplane"]["compositionSelector"],
                )
            },
        },
    }


def needs_replacement(desired: dict, observed: dict | None) -> bool:
    """cloud and region are immutable in the XRD (CEL rule): changing them means a new XR."""
    if observed is None:
        return False
    want, have = desired["spec"]["parameters"], get_path(observed, "spec", "parameters", default={})
    return bool(have) and (want.get("cloud") != have.get("cloud") or want.get("region") != have.get("region"))


# --------------------------------------------------------------------------------------------
# Crossplane's conditions -> the Deployment's phase


@dataclass(frozen=True)
class InfrastructureState:
    phase: str
    ready: tuple[str, str, str]  # (status, reason, message) of the Deployment's Ready condition
    synced: tuple[str, str, str]
    endpoints: list[str] = field(default_factory=list)
    message: str = ""


def infrastructure_state(observed: dict | None) -> InfrastructureState:
    """Ready=True -> Running; Synced=False -> Failed (Crossplane could not compose it, e.g. a
    composition assert naming a bad parameter); otherwise Provisioning."""
    if observed is None:
        return InfrastructureState(
            PROVISIONING, ("False", "InfrastructureMissing", "the Infrastructure does not exist (yet)"),
            ("Unknown", "InfrastructureMissing", "the Infrastructure does not exist (yet)"),
        )
    conditions = get_path(observed, "status", "conditions", default=[]) or []
    ready, synced = condition(conditions, "Ready"), condition(conditions, "Synced")

    def triple(c: dict | None, waiting: str) -> tuple[str, str, str]:
        if c is None:
            return ("Unknown", "Waiting", waiting)
        return (c.get("status") or "Unknown", c.get("reason") or "Unknown", c.get("message") or "")

    ready_t = triple(ready, "Crossplane has not reported Ready yet")
    synced_t = triple(synced, "Crossplane has not reported Synced yet")
    endpoints = [e for e in (get_path(observed, "status", "url"), get_path(observed, "status", "endpoint")) if e]
    endpoints = list(dict.fromkeys(endpoints))
    if synced_t[0] == "False":
        return InfrastructureState(FAILED, ready_t, synced_t, endpoints, f"Crossplane cannot compose the Infrastructure: {synced_t[2] or synced_t[1]}")
    if ready_t[0] == "True":
        return InfrastructureState(RUNNING, ready_t, synced_t, endpoints, "the Infrastructure is ready")
    return InfrastructureState(PROVISIONING, ready_t, synced_t, endpoints, f"waiting for Crossplane: {ready_t[2] or ready_t[1]}")


def outcome_for_phase(phase: str) -> str | None:
    """The outcome to record in the deployment memory, once the phase is final."""
    return {RUNNING: OUTCOME_SUCCESS, FAILED: OUTCOME_FAILED}.get(phase)


# --------------------------------------------------------------------------------------------
# status pieces from a plan


def decision_status(plan: common_pb2.Plan) -> dict:
    return {
        "strategy": STRATEGY_NAMES.get(plan.strategy, "vm"),
        "reason": plan.reason[:4096],
        "confidence": round(min(1.0, max(0.0, plan.confidence)), 4),
        "engine": plan.provenance.engine[:64],
        "alternatives": [
            {
                "strategy": STRATEGY_NAMES[a.strategy],
                "reason": a.reason[:2048],
                "confidence": round(min(1.0, max(0.0, a.confidence)), 4),
                "estimatedMonthlyCost": round(a.cost.monthly_total_usd, 2),
            }
            for a in plan.alternatives[:8]
            if a.strategy in STRATEGY_NAMES
        ],
        "citations": [
            {
                "recordId": c.record_id,
                "summary": c.summary[:1024],
                "outcome": OUTCOME_NAMES.get(c.outcome, OUTCOME_PENDING),
                "score": round(min(1.0, max(0.0, c.score)), 4),
                "influence": c.influence[:512],
            }
            for c in plan.citations[:10]
        ],
        "warnings": [w[:1024] for w in plan.warnings[:20]],
    }


def cost_status(plan: common_pb2.Plan) -> dict:
    def finite(x: float) -> float:
        return round(x, 2) if math.isfinite(x) and x >= 0 else 0.0

    return {
        "estimatedMonthly": finite(plan.cost.monthly_total_usd),
        "currency": "USD",
        "budgetVerdict": VERDICT_NAMES.get(plan.budget.status, "NoBudget"),
        "pricingSource": plan.cost.pricing_source[:256],
        "items": [
            _nonzero({"name": i.name[:256], "description": i.description[:512], "unit": i.unit[:32]})
            | {"quantity": finite(i.quantity), "unitPrice": finite(i.unit_price_usd), "monthly": finite(i.monthly_usd)}
            for i in plan.cost.items[:50]
        ],
    }


# --------------------------------------------------------------------------------------------
# history and rollback


# The memory learns from what the app *is* (language, dependencies, traits) and the load it was
# planned for, so a revision keeps a compact copy of the planner's analysis beside its
# parameters: the record written when the outcome is known is rebuilt from the status alone.
SUMMARY_DEPENDENCIES = 40


def analysis_summary(analysis: common_pb2.RepositoryAnalysis, requirements: common_pb2.Requirements | None = None) -> dict:
    """The primary application's facts and the planned-for load, as status.history[].analysis
    (runtime dependencies by name, capped: the evidence stays with the planner)."""
    summary: dict[str, Any] = {}
    if analysis.applications:
        app = analysis.applications[0]
        traits = sorted({common_pb2.TraitKind.Name(t.kind).removeprefix("TRAIT_KIND_").lower() for t in app.traits if t.kind})
        # Sliced to the CRD's limits: a status the API server refuses would block the revision.
        summary = {
            "language": app.language[:64],
            "framework": app.framework[:64],
            "runtimeVersion": app.runtime_version[:64],
            "dependencies": [d.name[:214] for d in app.dependencies if d.name and not d.dev][:SUMMARY_DEPENDENCIES],
            "traits": traits[:16],
            "ports": sorted({p.number for p in app.ports if 0 < p.number <= 65535})[:32],
            "hasDockerfile": app.has_dockerfile,
        }
    summary["backingServices"] = sorted({b.kind[:64] for b in analysis.backing_services if b.kind})[:32]
    if requirements is not None:
        summary["requirements"] = {
            "expectedRps": round(requirements.expected_rps, 3),
            "expectedUsers": requirements.expected_users,
            "highAvailability": requirements.high_availability,
            "autoscaling": requirements.autoscaling,
            "latencyP99Ms": requirements.latency_p99_ms,
        }
    return _drop_empty(summary)


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in ("", 0, 0.0, False, [], {}, None)}
    return value


def analysis_from_summary(summary: dict, repository: common_pb2.RepositoryRef, framework: str = "", start_command: str = "") -> tuple[common_pb2.RepositoryAnalysis, common_pb2.Requirements]:
    """The inverse of `analysis_summary` (what the memory record carries)."""
    analysis = common_pb2.RepositoryAnalysis(repository=repository)
    traits = []
    for name in summary.get("traits") or []:
        kind = common_pb2.TraitKind.Value(f"TRAIT_KIND_{name.upper()}") if f"TRAIT_KIND_{name.upper()}" in common_pb2.TraitKind.keys() else 0
        if kind:
            traits.append(common_pb2.Trait(kind=kind))
    if summary or framework:
        analysis.applications.append(common_pb2.Application(
            language=summary.get("language", ""),
            framework=summary.get("framework") or framework,
            runtime_version=summary.get("runtimeVersion", ""),
            dependencies=[common_pb2.Dependency(name=name) for name in summary.get("dependencies") or []],
            ports=[common_pb2.Port(number=int(n)) for n in summary.get("ports") or []],
            traits=traits,
            has_dockerfile=bool(summary.get("hasDockerfile")),
            start_command=start_command,
        ))
    analysis.backing_services.extend(common_pb2.BackingService(kind=k) for k in summary.get("backingServices") or [])
    wanted = summary.get("requirements") or {}
    requirements = common_pb2.Requirements(
        expected_rps=float(wanted.get("expectedRps") or 0),
        expected_users=int(wanted.get("expectedUsers") or 0),
        high_availability=bool(wanted.get("highAvailability")),
        autoscaling=bool(wanted.get("autoscaling")),
        latency_p99_ms=int(wanted.get("latencyP99Ms") or 0),
    )
    return analysis, requirements


def history_entry(
    deployment: dict,
    *,
    now: str,
    parameters: dict | None,
    estimated_monthly: float | None,
    reason: str,
    composition_version: str = "",
    analysis: dict | None = None,
) -> dict:
    entry: dict[str, Any] = {"revision": revision_of(deployment), "timestamp": now, "outcome": OUTCOME_PENDING, "reason": reason[:2048]}
    if analysis:
        entry["analysis"] = copy.deepcopy(analysis)
    if parameters is not None:
        entry["parameters"] = copy.deepcopy(parameters)
        entry["strategy"] = parameters["strategy"]
        entry["compositionName"] = f"{parameters['cloud']}-{parameters['strategy']}" + (f"-{composition_version}" if composition_version else "")
        entry["infrastructureRef"] = {
            "apiVersion": API_VERSION,
            "kind": "Infrastructure",
            "name": infrastructure_name(deployment),
            "namespace": get_path(deployment, "metadata", "namespace"),
        }
    if estimated_monthly is not None:
        entry["estimatedMonthlyCost"] = round(max(0.0, estimated_monthly), 2)
    return entry


def upsert_history(history: list[dict] | None, entry: dict, limit: int = HISTORY_LIMIT) -> list[dict]:
    """One entry per revision (a retried apply replaces, never duplicates), oldest first, the last `limit`."""
    items = [dict(e) for e in history or [] if e.get("revision") != entry["revision"]]
    items.append(entry)
    items.sort(key=lambda e: e["revision"])
    return items[-limit:]


def applied_entry(history: list[dict]) -> dict | None:
    """The revision currently meant to run: the newest entry that carries parameters (a refused
    later revision leaves the previous one in place)."""
    return next((e for e in reversed(history or []) if e.get("parameters")), None)


def entry_for(history: list[dict], revision: int) -> dict | None:
    return next((e for e in history or [] if e.get("revision") == revision), None)


def rollback_target(history: list[dict], revision: int) -> tuple[dict | None, str]:
    """(entry, "") for a revision that was applied, else (None, why not)."""
    entry = entry_for(history, revision)
    applied = [str(e["revision"]) for e in history or [] if e.get("parameters")]
    if entry is None:
        return None, f"revision {revision} is not in status.history (revisions that can be rolled back to: {', '.join(applied) or 'none'})"
    if not entry.get("parameters"):
        return None, f"revision {revision} was never applied ({entry.get('reason') or 'refused'}); roll back to one of: {', '.join(applied) or 'none'}"
    return entry, ""


def rollback_parameters(deployment: dict, target: dict) -> dict:
    """Re-apply the target's parameters as a new revision (only `revision` changes, so the
    Infrastructure says which Deployment generation it now follows)."""
    parameters = copy.deepcopy(target["parameters"])
    parameters["revision"] = revision_of(deployment)
    return parameters


# --------------------------------------------------------------------------------------------
# the deployment memory record


def memory_record(deployment: dict, entry: dict) -> common_pb2.DeploymentRecord:
    """The RAG record of one revision, rebuilt from the Deployment's status (decision, cost and
    the applied parameters): idempotent by (tenant, uid, revision) on the service side."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    decision = status.get("decision") or {}
    cost = status.get("cost") or {}
    parameters = entry.get("parameters") or {}
    repository = spec.get("repository") or {}
    budget = spec.get("budget") or {}
    plan = common_pb2.Plan(
        strategy=STRATEGY_VALUES.get(entry.get("strategy") or decision.get("strategy", ""), common_pb2.STRATEGY_UNSPECIFIED),
        reason=decision.get("reason", ""),
        confidence=float(decision.get("confidence") or 0),
        configuration=configuration_from_parameters(parameters),
        warnings=decision.get("warnings") or [],
    )
    plan.cost.monthly_total_usd = float(entry.get("estimatedMonthlyCost", cost.get("estimatedMonthly") or 0) or 0)
    plan.cost.pricing_source = cost.get("pricingSource", "")
    for item in cost.get("items") or []:
        plan.cost.items.append(
            common_pb2.CostItem(
                name=item.get("name", ""), description=item.get("description", ""), quantity=float(item.get("quantity") or 0),
                unit=item.get("unit", ""), unit_price_usd=float(item.get("unitPrice") or 0), monthly_usd=float(item.get("monthly") or 0),
            )
        )
    plan.provenance.engine = decision.get("engine", "")
    if not parameters and entry.get("reason"):
        plan.rejected = True
        plan.rejection_reason = entry["reason"]
    analysis, requirements = analysis_from_summary(
        entry.get("analysis") or {},
        common_pb2.RepositoryRef(url=repository.get("url", ""), ref=repository.get("ref", ""), subdirectory=repository.get("subdirectory", "")),
        framework=parameters.get("framework", ""),
        start_command=parameters.get("startCommand", ""),
    )
    plan.requirements.CopyFrom(requirements)
    return common_pb2.DeploymentRecord(
        tenant=meta.get("namespace", ""),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        revision=int(entry["revision"]),
        repository=analysis.repository,
        analysis=analysis,
        intent=common_pb2.DeploymentIntent(
            prompt=spec.get("prompt", ""),
            cloud=CLOUD_VALUES.get(parameters.get("cloud", ""), common_pb2.CLOUD_UNSPECIFIED),
            region=parameters.get("region", spec.get("region", "")),
            budget=common_pb2.Budget(
                max_monthly_cost_usd=float(budget.get("maxMonthlyCost") or 0),
                alert_threshold=float(budget.get("alertThreshold") or 0),
                enforcement=common_pb2.BUDGET_ENFORCEMENT_HARD if budget.get("enforcementMode") == "hard" else common_pb2.BUDGET_ENFORCEMENT_SOFT,
            ),
            policies=list(spec.get("policies") or []),
            strategy=STRATEGY_VALUES.get(spec.get("strategy", ""), common_pb2.STRATEGY_UNSPECIFIED),
            cloud_provider=spec.get("cloudProvider", ""),
        ),
        plan=plan,
    )

