"""SCIA v1 history (its SQLite `deployments` table) -> DeploymentRecords. Pure conversion.

v1 table: id, app_name, user_prompt, repo_url, repo_commit_sha, strategy, region, status,
terraform_state_key, terraform_dir, llm_provider, llm_model, analysis/config/outputs/warnings/
optimizations (JSON text), error_message, created_at, updated_at.

Mapping choices (see docs/rag.md):
- uid `scia-v1-<id>`, revision 1: re-importing the same file updates the same records.
- v1 deployed to AWS only: cloud is AWS.
- `outputs`, `terraform_state_key` and `terraform_dir` are not imported: Terraform outputs can
  hold endpoints and secrets, and state locations mean nothing to v2.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scia.v1 import common_pb2

V1_COLUMNS = (
    "id",
    "app_name",
    "user_prompt",
    "repo_url",
    "repo_commit_sha",
    "strategy",
    "region",
    "status",
    "terraform_state_key",
    "terraform_dir",
    "llm_provider",
    "llm_model",
    "analysis",
    "config",
    "outputs",
    "warnings",
    "optimizations",
    "error_message",
    "created_at",
    "updated_at",
)

STRATEGIES = {
    "vm": common_pb2.STRATEGY_VM,
    "ec2": common_pb2.STRATEGY_VM,
    "virtual_machine": common_pb2.STRATEGY_VM,
    "asg": common_pb2.STRATEGY_VM,
    "kubernetes": common_pb2.STRATEGY_KUBERNETES,
    "k8s": common_pb2.STRATEGY_KUBERNETES,
    "eks": common_pb2.STRATEGY_KUBERNETES,
    "serverless": common_pb2.STRATEGY_SERVERLESS,
    "lambda": common_pb2.STRATEGY_SERVERLESS,
    "faas": common_pb2.STRATEGY_SERVERLESS,
}
OUTCOMES = {
    "deployed": common_pb2.OUTCOME_SUCCESS,
    "success": common_pb2.OUTCOME_SUCCESS,
    "succeeded": common_pb2.OUTCOME_SUCCESS,
    "completed": common_pb2.OUTCOME_SUCCESS,
    "active": common_pb2.OUTCOME_SUCCESS,
    "running": common_pb2.OUTCOME_SUCCESS,
    "failed": common_pb2.OUTCOME_FAILED,
    "error": common_pb2.OUTCOME_FAILED,
    "rolled_back": common_pb2.OUTCOME_FAILED,
    "degraded": common_pb2.OUTCOME_DEGRADED,
    "unhealthy": common_pb2.OUTCOME_DEGRADED,
    "destroyed": common_pb2.OUTCOME_DELETED,
    "deleted": common_pb2.OUTCOME_DELETED,
    "pending": common_pb2.OUTCOME_PENDING,
    "planning": common_pb2.OUTCOME_PENDING,
    "planned": common_pb2.OUTCOME_PENDING,
    "deploying": common_pb2.OUTCOME_PENDING,
    "in_progress": common_pb2.OUTCOME_PENDING,
}
_COST_KEYS = ("estimated_monthly_cost", "estimated_monthly_cost_usd", "monthly_cost", "estimated_cost", "cost")
_NAME_INVALID = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class Converted:
    source_key: str
    record: common_pb2.DeploymentRecord | None
    skip_reason: str = ""


def _json(row: dict[str, Any], column: str) -> Any:
    raw = row.get(column)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{column} is not valid JSON ({error})") from None


def _timestamp(value: Any, column: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{column} {value!r} is not a timestamp") from None
    # SQLite's CURRENT_TIMESTAMP is UTC without an offset.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def kubernetes_name(app_name: str, fallback: str) -> str:
    """A DNS-1123 name from a v1 app name ("My Shop API" -> "my-shop-api")."""
    name = _NAME_INVALID.sub("-", app_name.strip().lower()).strip("-")[:253].strip("-")
    return name or fallback


def _number(mapping: dict[str, Any], *keys: str) -> float:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.replace("$", "").replace(",", "").strip())
            except ValueError:
                continue
    return 0.0


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [f"{k}: {v}" for k, v in value.items()]
    if isinstance(value, list):
        return [item if isinstance(item, str) else json.dumps(item, sort_keys=True) for item in value]
    return [str(value)]


def _analysis(data: Any, record: common_pb2.DeploymentRecord) -> None:
    if not isinstance(data, dict):
        return
    app = record.analysis.applications.add(name=record.name)
    app.language = str(data.get("language") or "").lower()
    app.framework = str(data.get("framework") or "").lower()
    app.runtime_version = str(
        data.get("runtime_version") or data.get("python_version") or data.get("node_version") or ""
    )
    dependencies = data.get("dependencies") or []
    if isinstance(dependencies, dict):
        dependencies = [{"name": k, "version_spec": v if isinstance(v, str) else ""} for k, v in dependencies.items()]
    for item in dependencies if isinstance(dependencies, list) else []:
        if isinstance(item, str):
            app.dependencies.add(name=item)
        elif isinstance(item, dict) and item.get("name"):
            app.dependencies.add(
                name=str(item["name"]), version_spec=str(item.get("version") or item.get("version_spec") or "")
            )
    ports = data.get("ports") or ([data["port"]] if data.get("port") else [])
    for port in ports if isinstance(ports, list) else []:
        if isinstance(port, int) and 0 < port < 65536:
            app.ports.add(number=port)
    if data.get("start_command"):
        app.start_command = str(data["start_command"])
    app.has_dockerfile = bool(data.get("has_dockerfile"))
    for service in data.get("databases") or data.get("backing_services") or []:
        if isinstance(service, str):
            record.analysis.backing_services.add(kind=service.lower())


def _configuration(data: Any, record: common_pb2.DeploymentRecord) -> None:
    if not isinstance(data, dict):
        return
    configuration = record.plan.configuration
    strategy = record.plan.strategy
    if strategy == common_pb2.STRATEGY_KUBERNETES:
        k8s = configuration.kubernetes
        k8s.node_type = str(data.get("node_type") or data.get("instance_type") or "")
        k8s.desired_nodes = int(_number(data, "desired_nodes", "node_count", "nodes"))
        k8s.min_nodes = int(_number(data, "min_nodes", "min_size")) or k8s.desired_nodes
        k8s.max_nodes = int(_number(data, "max_nodes", "max_size")) or k8s.desired_nodes
        k8s.replicas = int(_number(data, "replicas"))
    elif strategy == common_pb2.STRATEGY_SERVERLESS:
        fn = configuration.serverless
        fn.memory_mb = int(_number(data, "memory_mb", "memory", "memory_size"))
        fn.timeout_seconds = int(_number(data, "timeout_seconds", "timeout"))
    elif strategy == common_pb2.STRATEGY_VM:
        vm = configuration.vm
        vm.instance_type = str(data.get("instance_type") or "")
        vm.instance_count = int(_number(data, "instance_count", "desired_capacity", "count")) or 1
        vm.min_count = int(_number(data, "min_size", "min_count")) or vm.instance_count
        vm.max_count = int(_number(data, "max_size", "max_count")) or vm.instance_count
        vm.volume_size_gb = int(_number(data, "volume_size", "volume_size_gb", "disk_size"))
    cost = _number(data, *_COST_KEYS)
    if cost > 0:
        record.plan.cost.monthly_total_usd = cost
        record.plan.cost.pricing_source = "scia-v1 estimate"


def convert_row(row: dict[str, Any]) -> Converted:
    """One v1 row -> a record to import, or the reason it cannot be imported."""
    source_key = f"v1:{row.get('id')}"
    if row.get("id") in (None, ""):
        return Converted(source_key, None, "id is empty")
    try:
        analysis, config = _json(row, "analysis"), _json(row, "config")
        warnings, optimizations = _json(row, "warnings"), _json(row, "optimizations")
        created_at, updated_at = (
            _timestamp(row.get("created_at"), "created_at"),
            _timestamp(row.get("updated_at"), "updated_at"),
        )
    except ValueError as error:
        return Converted(source_key, None, str(error))
    prompt = str(row.get("user_prompt") or "").strip()
    if not prompt and not isinstance(analysis, dict):
        return Converted(source_key, None, "neither user_prompt nor analysis: nothing to learn from")
    v1_id = str(row["id"])
    record = common_pb2.DeploymentRecord(
        name=kubernetes_name(str(row.get("app_name") or ""), f"v1-deployment-{v1_id.lower()}"),
        uid=f"scia-v1-{v1_id}",
        revision=1,
    )
    record.repository.url = str(row.get("repo_url") or "")
    record.repository.commit_sha = str(row.get("repo_commit_sha") or "")
    record.intent.prompt = prompt
    record.intent.cloud = common_pb2.CLOUD_AWS
    record.intent.region = str(row.get("region") or "")
    strategy_name = str(row.get("strategy") or "").strip().lower()
    record.plan.strategy = STRATEGIES.get(strategy_name, common_pb2.STRATEGY_UNSPECIFIED)
    record.plan.configuration.cloud = common_pb2.CLOUD_AWS
    record.plan.configuration.region = record.intent.region
    _analysis(analysis, record)
    _configuration(config, record)
    record.plan.warnings.extend(_strings(warnings))
    record.plan.warnings.extend(f"optimization: {item}" for item in _strings(optimizations))
    if row.get("llm_model"):
        record.plan.provenance.engine = "llm"
        record.plan.provenance.llm_model = "/".join(
            str(p) for p in (row.get("llm_provider"), row.get("llm_model")) if p
        )
    status = str(row.get("status") or "").strip().lower()
    record.outcome = OUTCOMES.get(status, common_pb2.OUTCOME_PENDING)
    if record.outcome in (common_pb2.OUTCOME_FAILED, common_pb2.OUTCOME_DEGRADED):
        record.outcome_reason = str(row.get("error_message") or "")[:4000]
    if created_at is not None:
        record.created_at.FromDatetime(created_at)
    if updated_at is not None and record.outcome != common_pb2.OUTCOME_PENDING:
        record.outcome_at.FromDatetime(updated_at)
    return Converted(source_key, record)
