"""Prometheus metrics of the operator (served on SCIA_OPERATOR_METRICS_PORT, default 9094)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DEPLOYMENTS = Counter(
    "scia_deployments_total",
    "Deployment revisions by final outcome (Success, Failed, Deleted), counted once per revision and outcome.",
    ["strategy", "framework", "outcome"],
)
DEPLOYMENT_SECONDS = Histogram(
    "scia_deployment_duration_seconds",
    "From the start of planning a revision to its Infrastructure being Ready.",
    ["strategy"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200),
)
ACTIVE = Gauge(
    "scia_active_deployments",
    "Deployments with an applied Infrastructure (Provisioning or Running), by namespace and strategy.",
    ["namespace", "strategy"],
)
PLANS = Counter("scia_operator_plans_total", "Plan calls made to the planner, by result.", ["result"])
DRIFT_REPAIRS = Counter("scia_operator_drift_repairs_total", "Infrastructures restored after an out-of-band change.", ["kind"])
MEMORY_WRITES = Counter("scia_operator_memory_writes_total", "Outcomes written to the deployment memory, by result.", ["result"])


class ActiveDeployments:
    """scia_active_deployments from a per-Deployment map, so a strategy change or a deletion
    moves the count instead of leaking it."""

    def __init__(self) -> None:
        self._by_object: dict[tuple[str, str], str] = {}

    def set(self, namespace: str, name: str, strategy: str | None) -> None:
        key = (namespace, name)
        old = self._by_object.pop(key, None)
        if strategy:
            self._by_object[key] = strategy
        for ns, s in {(namespace, old), (namespace, strategy)}:
            if s:
                ACTIVE.labels(ns, s).set(sum(1 for (n, _), v in self._by_object.items() if n == ns and v == s))
