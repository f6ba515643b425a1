"""SCIA v1 history import: the row conversion, and `scia-rag import-v1` against the service."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from scia.rag.commands import main as command_main
from scia.rag.v1 import convert_row, kubernetes_name
from scia.v1 import common_pb2, rag_pb2

from tests.rag.harness import tenant_name

ASYNC = pytest.mark.asyncio(loop_scope="module")

V1_SCHEMA = """
CREATE TABLE deployments (
    id INTEGER PRIMARY KEY, app_name TEXT, user_prompt TEXT, repo_url TEXT, repo_commit_sha TEXT,
    strategy TEXT, region TEXT, status TEXT, terraform_state_key TEXT, terraform_dir TEXT,
    llm_provider TEXT, llm_model TEXT, analysis TEXT, config TEXT, outputs TEXT, warnings TEXT,
    optimizations TEXT, error_message TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP
)"""


def v1_row(id: int, **overrides) -> dict:
    row = {
        "id": id,
        "app_name": "My Shop API",
        "user_prompt": "Deploy my Flask shop API with high availability",
        "repo_url": "https://github.com/example/shop",
        "repo_commit_sha": "b" * 40,
        "strategy": "ec2",
        "region": "eu-west-3",
        "status": "deployed",
        "terraform_state_key": "states/1.tfstate",
        "terraform_dir": "/tmp/tf/1",
        "llm_provider": "anthropic",
        "llm_model": "claude",
        "error_message": None,
        "analysis": json.dumps(
            {"language": "python", "framework": "flask", "dependencies": ["flask", "gunicorn"], "port": 8000}
        ),
        "config": json.dumps({"instance_type": "t3.small", "instance_count": 2, "estimated_monthly_cost": "$61.20"}),
        "outputs": json.dumps({"db_password": "hunter2"}),
        "warnings": json.dumps(["no HTTPS"]),
        "optimizations": json.dumps(["use t4g.small"]),
        "created_at": "2025-03-01 10:00:00",
        "updated_at": "2025-03-01 10:20:00",
    }
    row.update(overrides)
    return row


def test_convert_row_maps_the_v1_columns():
    converted = convert_row(v1_row(7))
    record = converted.record
    assert converted.source_key == "v1:7" and record is not None
    assert (record.name, record.uid, record.revision) == ("my-shop-api", "scia-v1-7", 1)
    assert record.analysis.applications[0].framework == "flask"
    assert [d.name for d in record.analysis.applications[0].dependencies] == ["flask", "gunicorn"]
    assert record.plan.strategy == common_pb2.STRATEGY_VM and record.plan.configuration.vm.instance_count == 2
    assert record.plan.cost.monthly_total_usd == pytest.approx(61.2)
    assert record.outcome == common_pb2.OUTCOME_SUCCESS and record.intent.cloud == common_pb2.CLOUD_AWS
    assert list(record.plan.warnings) == ["no HTTPS", "optimization: use t4g.small"]
    assert record.plan.provenance.llm_model == "anthropic/claude"
    assert record.created_at.ToJsonString() == "2025-03-01T10:00:00Z"
    assert "hunter2" not in str(record)  # Terraform outputs are never imported

    failed = convert_row(v1_row(8, status="failed", strategy="eks", error_message="nodes never joined")).record
    assert failed.outcome == common_pb2.OUTCOME_FAILED and failed.outcome_reason == "nodes never joined"
    assert failed.plan.strategy == common_pb2.STRATEGY_KUBERNETES


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"analysis": "{not json"}, "analysis is not valid JSON"),
        ({"created_at": "yesterday"}, "created_at 'yesterday' is not a timestamp"),
        ({"user_prompt": "", "analysis": None}, "nothing to learn from"),
    ],
)
def test_convert_row_skips_with_a_reason(overrides, reason):
    converted = convert_row(v1_row(9, **overrides))
    assert converted.record is None and reason in converted.skip_reason


def test_kubernetes_names():
    assert kubernetes_name("  Hello_World!! ", "x") == "hello-world"
    assert kubernetes_name("!!!", "v1-deployment-3") == "v1-deployment-3"


@ASYNC
async def test_import_v1_command_is_idempotent(rag, tmp_path, capsys):
    path = tmp_path / "scia.db"
    with sqlite3.connect(path) as db:
        db.execute(V1_SCHEMA)
        rows = [
            v1_row(1),
            v1_row(
                2,
                app_name="billing",
                status="failed",
                strategy="lambda",
                error_message="timeout after 30 s",
                analysis=json.dumps({"language": "node", "framework": "express"}),
                config=json.dumps({"memory": 512, "timeout": 30}),
            ),
            v1_row(3, analysis="{broken"),
            v1_row(4, user_prompt="x" * 20_000),  # over the service's prompt limit
        ]
        for row in rows:
            db.execute(
                f"INSERT INTO deployments ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            )
    tenant = tenant_name("v1")
    argv = ["import-v1", str(path), "--tenant", tenant, "--target", rag.target]
    assert await asyncio.to_thread(command_main, argv) == 0
    first = capsys.readouterr().out
    assert "read 4 rows: 2 created, 0 updated, 2 skipped" in first
    assert "v1:3: analysis is not valid JSON" in first and "v1:4: record.intent.prompt" in first
    assert await asyncio.to_thread(command_main, argv) == 0
    assert "read 4 rows: 0 created, 2 updated, 2 skipped" in capsys.readouterr().out
    listed = await rag.stub.ListDeployments(rag_pb2.ListDeploymentsRequest(tenant=tenant))
    assert listed.total == 2
    billing = next(r for r in listed.records if r.name == "billing")
    assert billing.outcome == common_pb2.OUTCOME_FAILED and billing.plan.configuration.serverless.memory_mb == 512
    found = await rag.stub.Retrieve(
        rag_pb2.RetrieveRequest(
            tenant=tenant,
            text="express function timeout",
            filter=rag_pb2.DeploymentFilter(outcomes=[common_pb2.OUTCOME_FAILED]),
        )
    )
    assert [r.record.name for r in found.results] == ["billing"]


@ASYNC
async def test_import_v1_command_errors(tmp_path, capsys):
    assert await asyncio.to_thread(command_main, ["import-v1", str(tmp_path / "missing.db"), "--tenant", "team-a"]) == 1
    assert "no such file" in capsys.readouterr().err
    assert await asyncio.to_thread(command_main, ["import-v1", str(tmp_path / "x.db"), "--tenant", "Team_A"]) == 1
    assert "--tenant: 'Team_A' is not a Kubernetes namespace name" in capsys.readouterr().err
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert await asyncio.to_thread(command_main, ["import-v1", str(empty), "--tenant", "team-a"]) == 1
    assert "no `deployments` table" in capsys.readouterr().err
