"""Operator settings, read from SCIA_OPERATOR_* environment variables.

The operator is not a gRPC server: of the shared `ServiceSettings` it uses the logging and
metrics fields (`SCIA_OPERATOR_METRICS_PORT`, default 9094); the gRPC server fields are unused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from scia.runtime.config import ServiceSettings

# Random peering priorities are drawn below this: two replicas tie with odds 1 in ~100,000, and a
# hand-run operator with a priority at or above it always wins.
PEERING_PRIORITY_RANGE = 100_000


class OperatorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCIA_OPERATOR_")

    metrics_port: int = Field(9094, ge=0, le=65535, description="Prometheus /metrics port; 0 disables it.")
    health_port: int = Field(
        8080, ge=0, le=65535, description="kopf's liveness endpoint (/healthz) for the kubelet's probe; 0 disables it."
    )
    health_host: str = Field("0.0.0.0", description="Address the liveness endpoint binds to.")

    # --- the services the operator calls --------------------------------------------------
    planner_target: str = Field("127.0.0.1:50053", description="host:port of scia.v1.Planner.")
    planner_timeout_seconds: float = Field(
        120.0, gt=0, le=3600, description="Deadline of one Plan call (it clones and analyses the repository)."
    )
    rag_target: str = Field(
        "127.0.0.1:50052", description="host:port of scia.v1.DeploymentMemory; empty disables recording outcomes."
    )
    rag_timeout_seconds: float = Field(15.0, gt=0, le=600, description="Deadline of one memory call.")
    memory_concurrency: int = Field(
        4, ge=1, le=256, description="Outcome writes to the memory in flight at once (each embeds a record); the rest wait their turn."
    )

    # --- the Kubernetes API -----------------------------------------------------------------
    kubernetes_url: str = Field(
        "",
        description="An API server URL used without credentials or TLS checks: the local emulator "
        "(python -m scia.operator.emulator). Empty: in-cluster service account, else the kubeconfig.",
    )
    kubeconfig: Path | None = Field(None, description="A kubeconfig file; empty means $KUBECONFIG or ~/.kube/config.")
    in_cluster: bool | None = Field(
        None, description="Use the pod's service account; empty means auto-detect (KUBERNETES_SERVICE_HOST)."
    )
    emulator_port: int = Field(6443, ge=0, le=65535, description="Port of the in-process emulator started by --emulator.")
    # NoDecode: a plain comma-separated list, not JSON.
    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Namespaces to watch (comma-separated); empty means the whole cluster."
    )
    peering_name: str = Field(
        "scia-operator", description="kopf peering object shared by the replicas: only one is active at a time."
    )
    # kopf pauses EVERY operator that sees a live peer of the same priority (to avoid double
    # processing), so replicas left at kopf's default priority 0 would all pause and none would
    # reconcile. Each replica therefore takes a distinct priority: the highest works, the others
    # wait and take over when it leaves the peering.
    peering_priority: int | None = Field(
        None,
        ge=0,
        le=2**31 - 1,
        description="kopf peering priority of this replica (the highest live one is active). Empty: a random "
        f"priority in [1, {PEERING_PRIORITY_RANGE}) chosen at start, so replicas do not tie; give an "
        "operator run by hand a priority above that to pause the deployed ones while it runs.",
    )
    standalone: bool = Field(False, description="Skip peering (one replica only, and the emulator).")
    server_timeout_seconds: float = Field(
        300.0, gt=0, le=3600, description="Watch requests end server-side after this; kopf re-opens them."
    )
    client_timeout_seconds: float = Field(
        330.0, gt=0, le=3600, description="A watch silent for this long is dropped client-side and re-opened."
    )
    connect_timeout_seconds: float = Field(10.0, gt=0, le=300, description="TCP/TLS connect timeout to the API server.")

    # --- reconciliation -------------------------------------------------------------------
    # A safety net only: the Infrastructure watch catches drift within milliseconds. Each check is
    # two GETs per Deployment; at 30 s it was most of the operator's idle CPU with 500 Deployments.
    recheck_interval_seconds: float = Field(
        600.0, gt=0, le=86_400,
        description="Periodic drift check of every Infrastructure, a safety net behind the watch (which catches drift at once).",
    )
    recheck_jitter: float = Field(
        1.0, ge=0, le=1,
        description="Share of the interval over which each Deployment's first re-check is spread at random "
        "(1: anywhere in the first interval; 0: all at once, one interval after start).",
    )
    retry_delay_seconds: float = Field(
        5.0, gt=0, le=3600, description="First delay after a failure (planner/memory down, CloudProvider missing); doubles per retry."
    )
    max_retry_delay_seconds: float = Field(300.0, gt=0, le=86_400, description="Upper bound of that delay.")
    deletion_poll_seconds: float = Field(
        5.0, gt=0, le=3600, description="How often a deletion checks whether the Infrastructure is gone."
    )
    deletion_memory_attempts: int = Field(
        5, ge=1, le=1000, description="Attempts to record DELETED in the memory before a deletion proceeds without it."
    )
    composition_version: str = Field(
        "", pattern=r"^(v[0-9]+)?$", description="Pin new Infrastructures to this composition version (scia.io/version)."
    )

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split_namespaces(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _timeouts_are_ordered(self) -> "OperatorSettings":
        if self.client_timeout_seconds <= self.server_timeout_seconds:
            raise ValueError(
                "client_timeout_seconds must exceed server_timeout_seconds, or healthy idle watches are cut client-side"
            )
        if self.max_retry_delay_seconds < self.retry_delay_seconds:
            raise ValueError("max_retry_delay_seconds must be >= retry_delay_seconds")
        return self
