"""DeploymentRecord builders for the RAG tests: realistic records, not random vectors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from scia.v1 import common_pb2, rag_pb2

LANGUAGE_OF = {
    "flask": "python",
    "django": "python",
    "fastapi": "python",
    "gin": "go",
    "echo": "go",
    "express": "node",
    "nextjs": "node",
    "spring-boot": "java",
    "rails": "ruby",
}
DEPENDENCIES = {
    "flask": ["flask", "gunicorn", "sqlalchemy", "psycopg2-binary"],
    "django": ["django", "gunicorn", "celery", "psycopg2-binary"],
    "fastapi": ["fastapi", "uvicorn", "pydantic", "sqlalchemy"],
    "gin": ["github.com/gin-gonic/gin", "gorm.io/gorm"],
    "echo": ["github.com/labstack/echo/v4"],
    "express": ["express", "pg", "redis"],
    "nextjs": ["next", "react", "react-dom"],
    "spring-boot": ["spring-boot-starter-web", "spring-boot-starter-data-jpa"],
    "rails": ["rails", "puma", "sidekiq"],
}


def make_record(
    tenant: str,
    framework: str,
    *,
    prompt: str = "",
    name: str | None = None,
    uid: str | None = None,
    revision: int = 1,
    strategy: int = common_pb2.STRATEGY_VM,
    cloud: int = common_pb2.CLOUD_AWS,
    region: str = "eu-west-3",
    cost: float = 100.0,
    instance_type: str = "t3.small",
    outcome: int = common_pb2.OUTCOME_UNSPECIFIED,
    reason: str = "",
    created_at: datetime | None = None,
) -> common_pb2.DeploymentRecord:
    language = LANGUAGE_OF.get(framework, "python")
    record = common_pb2.DeploymentRecord(
        tenant=tenant,
        name=name or f"{framework}-app",
        uid=uid or str(uuid.uuid4()),
        revision=revision,
        repository=common_pb2.RepositoryRef(url=f"https://github.com/example/{framework}-app", commit_sha="a" * 40),
        outcome=outcome,
        outcome_reason=reason,
    )
    app = record.analysis.applications.add(name=record.name, language=language, framework=framework, confidence=0.95)
    for dependency in DEPENDENCIES.get(framework, []):
        app.dependencies.add(name=dependency, ecosystem="pypi" if language == "python" else "npm")
    app.ports.add(number=8000)
    record.intent.prompt = prompt or f"{framework} web API with a PostgreSQL database"
    record.intent.cloud = cloud
    record.intent.region = region
    record.plan.strategy = strategy
    record.plan.configuration.cloud = cloud
    record.plan.configuration.region = region
    if strategy == common_pb2.STRATEGY_KUBERNETES:
        record.plan.configuration.kubernetes.node_type = instance_type
        record.plan.configuration.kubernetes.desired_nodes = 2
        record.plan.configuration.kubernetes.replicas = 2
    elif strategy == common_pb2.STRATEGY_SERVERLESS:
        record.plan.configuration.serverless.memory_mb = 512
        record.plan.configuration.serverless.timeout_seconds = 30
    else:
        record.plan.configuration.vm.instance_type = instance_type
        record.plan.configuration.vm.instance_count = 1
    record.plan.cost.monthly_total_usd = cost
    if created_at is not None:
        record.created_at.FromDatetime(created_at.astimezone(UTC))
    return record


def deployment_query(framework: str, prompt: str, budget: float = 0.0) -> rag_pb2.DeploymentQuery:
    query = rag_pb2.DeploymentQuery()
    app = query.analysis.applications.add(framework=framework, language=LANGUAGE_OF.get(framework, "python"))
    for dependency in DEPENDENCIES.get(framework, []):
        app.dependencies.add(name=dependency)
    query.intent.prompt = prompt
    query.intent.cloud = common_pb2.CLOUD_AWS
    if budget:
        query.intent.budget.max_monthly_cost_usd = budget
    return query
