"""Shapes: Kubernetes objects and protobuf messages to GraphQL values, GraphQL inputs to specs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from scia.v1 import common_pb2, planner_pb2, rag_pb2

STRATEGY_NAMES = {
    common_pb2.STRATEGY_UNSPECIFIED: "auto",
    common_pb2.STRATEGY_VM: "vm",
    common_pb2.STRATEGY_KUBERNETES: "kubernetes",
    common_pb2.STRATEGY_SERVERLESS: "serverless",
}
STRATEGY_VALUES = {v: k for k, v in STRATEGY_NAMES.items()}
OUTCOME_NAMES = {
    common_pb2.OUTCOME_PENDING: "Pending",
    common_pb2.OUTCOME_SUCCESS: "Success",
    common_pb2.OUTCOME_FAILED: "Failed",
    common_pb2.OUTCOME_DEGRADED: "Degraded",
    common_pb2.OUTCOME_DELETED: "Deleted",
}
CLOUDS = {"aws": common_pb2.CLOUD_AWS, "gcp": common_pb2.CLOUD_GCP, "azure": common_pb2.CLOUD_AZURE}
CLOUD_NAMES = {v: k for k, v in CLOUDS.items()}
ENFORCEMENT = {"soft": common_pb2.BUDGET_ENFORCEMENT_SOFT, "hard": common_pb2.BUDGET_ENFORCEMENT_HARD}
VERDICTS = {
    common_pb2.BudgetVerdict.STATUS_NO_BUDGET: "NoBudget",
    common_pb2.BudgetVerdict.STATUS_WITHIN: "Within",
    common_pb2.BudgetVerdict.STATUS_ALERT: "Alert",
    common_pb2.BudgetVerdict.STATUS_OVER: "Over",
}


def drop_none(value: Any) -> Any:
    """GraphQL inputs carry explicit nulls for omitted optional fields; a spec must not."""
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_none(v) for v in value]
    return value


# --- Kubernetes objects ----------------------------------------------------------------------

def deployment(obj: Mapping) -> dict:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    decision = status.get("decision")
    repository = spec.get("repository") or {}
    return {
        "id": f"{meta.get('namespace')}/{meta.get('name')}",
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
        "generation": meta.get("generation"),
        "createdAt": meta.get("creationTimestamp"),
        "labels": meta.get("labels") or {},
        "spec": {
            **spec,
            "repository": {"url": repository.get("url", ""), "ref": repository.get("ref"), "subdirectory": repository.get("subdirectory")},
            "policies": spec.get("policies") or [],
            "strategy": spec.get("strategy") or "auto",
            "paused": bool(spec.get("paused", False)),
        },
        "status": status or None,
        "phase": status.get("phase") or "Pending",
        "conditions": status.get("conditions") or [],
        "decision": {
            **decision,
            "alternatives": decision.get("alternatives") or [],
            "citations": decision.get("citations") or [],
            "warnings": decision.get("warnings") or [],
        } if decision else None,
        "cost": {**status["cost"], "items": status["cost"].get("items") or []} if status.get("cost") else None,
        "endpoints": status.get("endpoints") or [],
        "history": status.get("history") or [],
    }


def cloud_provider(obj: Mapping) -> dict:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    conditions = status.get("conditions") or []
    cost_control = spec.get("costControl") or {}
    return {
        "id": f"{meta.get('namespace')}/{meta.get('name')}",
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "resourceVersion": meta.get("resourceVersion"),
        "type": spec.get("type"),
        "defaultRegion": spec.get("defaultRegion", ""),
        "allowedRegions": spec.get("allowedRegions") or [],
        "credentialsSecretRef": spec.get("credentialsSecretRef") or {"name": ""},
        "quotas": spec.get("quotas"),
        "monthlyBudget": cost_control.get("monthlyBudget"),
        "alertThreshold": cost_control.get("alertThreshold"),
        "tags": spec.get("tags"),
        "usage": status.get("usage"),
        "conditions": conditions,
        "ready": any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions),
    }


def event(obj: Mapping) -> dict:
    source = obj.get("source") or {}
    return {
        "type": obj.get("type"),
        "reason": obj.get("reason"),
        "message": obj.get("message") or obj.get("note"),
        "count": obj.get("count"),
        "firstTimestamp": obj.get("firstTimestamp") or obj.get("eventTime"),
        "lastTimestamp": obj.get("lastTimestamp") or obj.get("eventTime") or (obj.get("metadata") or {}).get("creationTimestamp"),
        "source": source.get("component") or obj.get("reportingController"),
    }


def event_sort_key(e: Mapping) -> str:
    return e.get("lastTimestamp") or e.get("firstTimestamp") or ""


# --- protobuf --------------------------------------------------------------------------------

def _timestamp(ts) -> str | None:
    return ts.ToJsonString() if ts.seconds or ts.nanos else None


def feedback(record: common_pb2.DeploymentRecord) -> dict:
    return {
        "recordId": record.id,
        "revision": record.revision,
        "up": record.feedback.up,
        "down": record.feedback.down,
        "votes": [
            {"user": v.user, "vote": v.vote, "comment": v.comment or None, "updatedAt": _timestamp(v.updated_at)}
            for v in record.feedback.votes
        ],
    }


def past_deployment(record: common_pb2.DeploymentRecord, retrieved: rag_pb2.RetrievedDeployment | None = None) -> dict:
    app = record.analysis.applications[0] if record.analysis.applications else None
    plan = record.plan
    result = {
        "id": record.id,
        "tenant": record.tenant,
        "name": record.name,
        "revision": record.revision,
        "repositoryUrl": record.repository.url or None,
        "framework": (app.framework or None) if app else None,
        "language": (app.language or None) if app else None,
        "strategy": STRATEGY_NAMES.get(plan.strategy) if plan.strategy else None,
        "cloud": CLOUD_NAMES.get(plan.configuration.cloud),
        "region": plan.configuration.region or None,
        "estimatedMonthlyCost": plan.cost.monthly_total_usd if plan.HasField("cost") else None,
        "outcome": OUTCOME_NAMES.get(record.outcome),
        "outcomeReason": record.outcome_reason or None,
        "feedback": feedback(record),
        "createdAt": _timestamp(record.created_at),
        "score": None,
        "components": None,
    }
    if retrieved is not None:
        c = retrieved.components
        result["score"] = retrieved.score
        result["components"] = {
            "vectorSimilarity": c.vector_similarity, "textRank": c.text_rank, "fused": c.fused,
            "relevance": c.relevance, "feedback": c.feedback, "recency": c.recency,
            "costEfficiency": c.cost_efficiency, "outcome": c.outcome,
        }
    return result


def analysis(message: common_pb2.RepositoryAnalysis) -> dict:
    return {
        "url": message.repository.url,
        "ref": message.repository.ref or None,
        "commitSha": message.repository.commit_sha or None,
        "applications": [
            {
                "path": a.path, "name": a.name or None, "language": a.language or None,
                "framework": a.framework or None, "confidence": a.confidence,
                "ports": [p.number for p in a.ports], "startCommand": a.start_command or None,
                "hasDockerfile": a.has_dockerfile, "runtimeVersion": a.runtime_version or None,
                "dependencies": [d.name for d in a.dependencies],
                "traits": [common_pb2.TraitKind.Name(t.kind).removeprefix("TRAIT_KIND_").lower() for t in a.traits],
                "frameworkEvidence": [
                    {"file": e.file or None, "line": e.line or None, "rule": e.rule or None, "detail": e.detail or None}
                    for e in a.framework_evidence
                ],
            }
            for a in message.applications
        ],
        "hasCompose": message.has_compose,
        "backingServices": [b.kind for b in message.backing_services],
        "fileCount": message.file_count,
        "sizeBytes": float(message.size_bytes),
        "warnings": list(message.warnings),
    }


def cost_estimate(cost: common_pb2.CostEstimate) -> dict:
    return {
        "monthlyTotal": cost.monthly_total_usd,
        "pricingSource": cost.pricing_source or None,
        "items": [
            {"name": i.name, "description": i.description or None, "quantity": i.quantity, "unit": i.unit or None,
             "unitPrice": i.unit_price_usd, "monthly": i.monthly_usd}
            for i in cost.items
        ],
    }


def plan(message: common_pb2.Plan) -> dict:
    verdict = message.budget
    return {
        "strategy": STRATEGY_NAMES.get(message.strategy, "auto"),
        "reason": message.reason or None,
        "confidence": message.confidence,
        "alternatives": [
            {"strategy": STRATEGY_NAMES.get(a.strategy, "auto"), "reason": a.reason or None, "confidence": a.confidence,
             "cost": cost_estimate(a.cost) if a.HasField("cost") else None}
            for a in message.alternatives
        ],
        "cost": cost_estimate(message.cost),
        "budget": {
            "status": VERDICTS.get(verdict.status, "NoBudget"), "budget": verdict.budget_usd or None,
            "estimated": verdict.estimated_usd, "message": verdict.message or None,
            "enforcement": {common_pb2.BUDGET_ENFORCEMENT_HARD: "hard", common_pb2.BUDGET_ENFORCEMENT_SOFT: "soft"}.get(verdict.enforcement),
        } if message.HasField("budget") else None,
        "citations": [
            {"recordId": c.record_id, "summary": c.summary, "outcome": OUTCOME_NAMES.get(c.outcome), "score": c.score,
             "influence": c.influence or None}
            for c in message.citations
        ],
        "warnings": list(message.warnings),
        "rejected": message.rejected,
        "rejectionReason": message.rejection_reason or None,
        "provenance": {
            "engine": message.provenance.engine or None, "retrievalUsed": message.provenance.retrieval_used,
            "retrievalNote": message.provenance.retrieval_note or None, "llmModel": message.provenance.llm_model or None,
            "llmRejectionReason": message.provenance.llm_rejection_reason or None,
        },
        # json_format's default camelCase is exactly the Infrastructure parameter naming.
        "parameters": json_format.MessageToDict(message.configuration),
    }


# --- GraphQL input -> proto --------------------------------------------------------------------

def repository_ref(repository: Mapping) -> common_pb2.RepositoryRef:
    return common_pb2.RepositoryRef(
        url=repository.get("url", ""), ref=repository.get("ref") or "", subdirectory=repository.get("subdirectory") or ""
    )


def intent(spec: Mapping, provider: Mapping | None) -> common_pb2.DeploymentIntent:
    budget = spec.get("budget") or {}
    cp_spec = (provider or {}).get("spec") or {}
    return common_pb2.DeploymentIntent(
        prompt=spec.get("prompt") or "",
        cloud=CLOUDS.get(cp_spec.get("type", ""), common_pb2.CLOUD_UNSPECIFIED),
        region=spec.get("region") or "",
        budget=common_pb2.Budget(
            max_monthly_cost_usd=float(budget.get("maxMonthlyCost") or 0),
            alert_threshold=float(budget.get("alertThreshold") or 0),
            enforcement=ENFORCEMENT.get(budget.get("enforcementMode", ""), common_pb2.BUDGET_ENFORCEMENT_UNSPECIFIED),
        ),
        policies=list(spec.get("policies") or []),
        strategy=STRATEGY_VALUES.get(spec.get("strategy") or "auto", common_pb2.STRATEGY_UNSPECIFIED),
        cloud_provider=spec.get("cloudProvider") or "",
    )


def constraints(provider: Mapping | None) -> planner_pb2.CloudConstraints:
    spec = (provider or {}).get("spec") or {}
    quotas = {k: int(v) for k, v in (spec.get("quotas") or {}).items() if isinstance(v, int | float) and k != "maxMonthlyCost"}
    cost_control = spec.get("costControl") or {}
    return planner_pb2.CloudConstraints(
        cloud=CLOUDS.get(spec.get("type", ""), common_pb2.CLOUD_UNSPECIFIED),
        default_region=spec.get("defaultRegion", ""),
        allowed_regions=list(spec.get("allowedRegions") or []),
        quotas=quotas,
        monthly_budget_usd=float(cost_control.get("monthlyBudget") or 0),
        alert_threshold=float(cost_control.get("alertThreshold") or 0),
        tags={str(k): str(v) for k, v in (spec.get("tags") or {}).items()},
    )
