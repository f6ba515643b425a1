"""Pure decisions over Kubernetes objects: filters, pagination, cost aggregation and the checks
a Deployment must pass against its CloudProvider before it is written. No I/O here.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UserError:
    code: str  # VALIDATION, BUDGET, QUOTA, NOT_FOUND, FORBIDDEN, CONFLICT, UNAVAILABLE
    field: list[str]
    message: str

    def as_dict(self) -> dict:
        return {"code": self.code, "field": self.field, "message": self.message}


def name_of(obj: Mapping) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def phase_of(obj: Mapping) -> str:
    return (obj.get("status") or {}).get("phase") or "Pending"


# --- filters and pagination ------------------------------------------------------------------

def matches(obj: Mapping, flt: Mapping[str, Any] | None) -> bool:
    """DeploymentFilter: every given criterion must hold; lists mean "any of"."""
    if not flt:
        return True
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if flt.get("phases") and phase_of(obj) not in flt["phases"]:
        return False
    strategy = (status.get("decision") or {}).get("strategy") or spec.get("strategy", "auto")
    if flt.get("strategies") and strategy not in flt["strategies"]:
        return False
    if flt.get("cloudProvider") and spec.get("cloudProvider") != flt["cloudProvider"]:
        return False
    if flt.get("nameContains") and flt["nameContains"].lower() not in name_of(obj).lower():
        return False
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for key, value in (flt.get("labels") or {}).items():
        if labels.get(key) != value:
            return False
    cost = (status.get("cost") or {}).get("estimatedMonthly")
    if flt.get("maxMonthlyCost") is not None and (cost is None or cost > flt["maxMonthlyCost"]):
        return False
    return True


def encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(f"name:{name}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(f"{cursor!r} is not a cursor returned by this API") from None
    if not text.startswith("name:"):
        raise ValueError(f"{cursor!r} is not a cursor returned by this API")
    return text[5:]


def paginate(items: Iterable[Mapping], first: int, after: str | None) -> dict:
    """A Relay connection over objects ordered by name; the cursor is the last name seen, so
    pages stay stable when objects are added or removed between requests."""
    ordered = sorted(items, key=name_of)
    total = len(ordered)
    if after:
        last = decode_cursor(after)
        ordered = [o for o in ordered if name_of(o) > last]
    page = ordered[:first]
    return {
        "edges": [{"cursor": encode_cursor(name_of(o)), "node": o} for o in page],
        "pageInfo": {
            "hasNextPage": len(ordered) > first,
            "endCursor": encode_cursor(name_of(page[-1])) if page else None,
        },
        "totalCount": total,
    }


# --- cost ------------------------------------------------------------------------------------

def cost_summary(namespace: str, deployments: Iterable[Mapping], providers: Iterable[Mapping]) -> dict:
    """Costs of a tenant: totals over its Deployments' status.cost, against the budgets of its
    CloudProviders. Deployments being deleted still cost money until they are gone."""
    total_estimated = total_actual = 0.0
    by_strategy: dict[str, float] = defaultdict(float)
    by_provider: dict[str, float] = defaultdict(float)
    over = 0
    count = 0
    for obj in deployments:
        count += 1
        status = obj.get("status") or {}
        cost = status.get("cost") or {}
        estimated = float(cost.get("estimatedMonthly") or 0.0)
        total_estimated += estimated
        total_actual += float(cost.get("actualThisMonth") or 0.0)
        strategy = (status.get("decision") or {}).get("strategy") or "undecided"
        by_strategy[strategy] += estimated
        by_provider[(obj.get("spec") or {}).get("cloudProvider", "")] += estimated
        if cost.get("budgetVerdict") == "Over":
            over += 1
    budget = sum(float(((p.get("spec") or {}).get("costControl") or {}).get("monthlyBudget") or 0.0) for p in providers)
    return {
        "namespace": namespace,
        "currency": "USD",
        "deploymentCount": count,
        "estimatedMonthly": round(total_estimated, 2),
        "actualThisMonth": round(total_actual, 2),
        "monthlyBudget": round(budget, 2) if budget else None,
        "budgetUsed": round(total_estimated / budget, 4) if budget else None,
        "overBudgetDeployments": over,
        "byStrategy": [{"key": k, "estimatedMonthly": round(v, 2)} for k, v in sorted(by_strategy.items())],
        "byCloudProvider": [{"key": k, "estimatedMonthly": round(v, 2)} for k, v in sorted(by_provider.items())],
    }


# --- checks against the CloudProvider ------------------------------------------------------

def check_against_provider(
    name: str, spec: Mapping, provider: Mapping | None, others: Iterable[Mapping]
) -> list[UserError]:
    """What the API server cannot check: the named CloudProvider exists, the region is allowed,
    the budget fits the team's, and the deployment quota has room. `others` are the namespace's
    other Deployments (the one being updated excluded)."""
    cp_name = spec.get("cloudProvider", "")
    if provider is None:
        return [UserError("NOT_FOUND", ["spec", "cloudProvider"], f"no CloudProvider {cp_name!r} in this namespace")]
    cp = provider.get("spec") or {}
    errors = []
    region = spec.get("region")
    allowed = cp.get("allowedRegions") or []
    if region and allowed and region not in allowed:
        errors.append(UserError(
            "VALIDATION", ["spec", "region"],
            f"region {region!r} is not allowed by CloudProvider {cp_name!r} (allowed: {', '.join(allowed)})",
        ))
    team_budget = float((cp.get("costControl") or {}).get("monthlyBudget") or 0.0)
    wanted = float((spec.get("budget") or {}).get("maxMonthlyCost") or 0.0)
    if team_budget and wanted > team_budget:
        errors.append(UserError(
            "BUDGET", ["spec", "budget", "maxMonthlyCost"],
            f"{wanted:g} USD/month exceeds CloudProvider {cp_name!r}'s monthly budget of {team_budget:g} USD",
        ))
    quota = (cp.get("quotas") or {}).get("maxDeployments")
    if quota is not None:
        using = sum(1 for o in others if (o.get("spec") or {}).get("cloudProvider") == cp_name and name_of(o) != name)
        if using + 1 > quota:
            errors.append(UserError(
                "QUOTA", ["spec", "cloudProvider"],
                f"CloudProvider {cp_name!r} allows {quota} deployment(s) and {using} already use it",
            ))
    return errors


def rollback_error(obj: Mapping, revision: int) -> UserError | None:
    history = (obj.get("status") or {}).get("history") or []
    revisions = sorted(int(h.get("revision", 0)) for h in history)
    if revision not in revisions:
        known = ", ".join(map(str, revisions)) or "none yet"
        return UserError("NOT_FOUND", ["revision"], f"revision {revision} is not in the history (known: {known})")
    return None
