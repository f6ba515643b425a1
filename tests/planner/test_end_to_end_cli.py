"""`scia-plan` against an in-process planner over real gRPC: main(argv) in a thread (the CLI is
synchronous, the server runs on the test's event loop) and the installed console script in a
subprocess."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys

import pytest

from scia.planner import cli
from scia.planner.config import PlannerSettings
from scia.planner.service import PlannerApp
from scia.v1 import common_pb2
from tests.helpers import free_port, serve

SHOP = {
    "requirements.txt": "flask==3.0.3\ngunicorn\npsycopg2-binary\n",
    "app.py": "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get('/healthz')\ndef health():\n    return 'ok'\n",
    "Procfile": "web: gunicorn app:app --bind 0.0.0.0:8000\n",
    "docker-compose.yml": "services:\n  db:\n    image: postgres:16\n",
}


def settings(**overrides) -> PlannerSettings:
    return PlannerSettings(grpc_host="127.0.0.1", grpc_port=0, metrics_port=0, **{"allow_local_paths": True, **overrides})


async def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(cli.main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_the_summary_shows_analysis_decision_cost_budget_and_alternatives(make_repo, capsys, monkeypatch):
    repo = make_repo(SHOP)
    monkeypatch.chdir(repo.parent)
    s = settings()
    async with serve(PlannerApp(s), s) as running:
        # A relative local path is sent as an absolute one.
        code, out, err = await run_cli(capsys, repo.name, "Flask API with high availability in Paris", "--target", running.target,
                                       "--budget", "300", "--policy", "require-https", "--tenant", "team-a")
    assert code == cli.EXIT_OK and not err
    assert f"Repository: {repo}" in out
    assert "Application: " in out and "flask (python)" in out and "evidence: requirements.txt:1  flask==3.0.3" in out
    assert "start: gunicorn app:app --bind 0.0.0.0:8000 (Procfile:1)" in out and "trait: health endpoint /healthz (app.py:" in out
    assert "Backing service: postgres 16 (docker-compose.yml:" in out
    assert "Plan: VM, confidence" in out and "reason: VM for a flask python app" in out
    assert "Configuration: AWS eu-west-3" in out and "2 x t3.small" in out and "managed postgres: db.t3.micro" in out and "HTTPS" in out
    assert "Monthly cost (USD):" in out and "compute                  2 x t3.small x 730 h" in out and "    total " in out
    assert "Budget: within: estimated $" in out and "within the $300.00 budget" in out
    assert "Alternatives:" in out and "Serverless (confidence" in out and "Kubernetes (confidence" in out
    assert "Past deployments cited: none" in out and "Retrieval: no retrieval context: no deployment memory configured" in out


async def test_json_output_and_a_rejected_plan(make_repo, capsys):
    repo = make_repo(SHOP)
    s = settings()
    async with serve(PlannerApp(s), s) as running:
        code, out, _ = await run_cli(capsys, str(repo), "Flask API", "--target", running.target, "--json", "--cloud", "gcp",
                                     "--strategy", "kubernetes")
        response = json.loads(out)
        assert code == cli.EXIT_OK
        assert response["analysis"]["applications"][0]["framework"] == "flask"
        assert response["plan"]["strategy"] == "STRATEGY_KUBERNETES" and response["plan"]["configuration"]["cloud"] == "CLOUD_GCP"
        assert response["plan"]["cost"]["monthly_total_usd"] > 0

        code, out, _ = await run_cli(capsys, str(repo), "Flask API", "--target", running.target, "--budget", "10", "--hard-budget")
    assert code == cli.EXIT_REJECTED
    out = " ".join(out.split())  # long lines are wrapped
    assert "REJECTED plan: " in out and "rejected because: estimated $" in out and "(hard budget: plan rejected)" in out


async def test_planner_errors_are_explained(make_repo, capsys):
    repo = make_repo(SHOP)
    s = settings(allow_local_paths=False)
    async with serve(PlannerApp(s), s) as running:
        code, _, err = await run_cli(capsys, str(repo), "Flask API", "--target", running.target)
    assert code == cli.EXIT_FAILED
    assert "answered INVALID_ARGUMENT: local repository paths are disabled" in err and "SCIA_PLANNER_ALLOW_LOCAL_PATHS=true" in err

    code, _, err = await run_cli(capsys, str(repo), "Flask API", "--target", f"127.0.0.1:{free_port()}", "--timeout", "2")
    assert code == cli.EXIT_FAILED and "UNAVAILABLE" in err and "is the planner running?" in err

    with pytest.raises(SystemExit) as usage:
        cli.main([str(repo), "x", "--cloud", "ibm"])
    assert usage.value.code == cli.EXIT_USAGE


def test_build_request_maps_every_option(tmp_path):
    args = cli.parser().parse_args(["https://github.com/org/shop.git", "shop api", "--ref", "v2", "--subdirectory", "api",
                                    "--cloud", "azure", "--region", "westeurope", "--budget", "250", "--hard-budget",
                                    "--strategy", "serverless", "--policy", "require-https", "--policy", "enable-monitoring",
                                    "--tenant", "team-b", "--no-retrieval"])
    request = cli.build_request(args)
    assert request.repository == common_pb2.RepositoryRef(url="https://github.com/org/shop.git", ref="v2", subdirectory="api")
    intent = request.intent
    assert (intent.cloud, intent.region, intent.strategy) == (common_pb2.CLOUD_AZURE, "westeurope", common_pb2.STRATEGY_SERVERLESS)
    assert intent.budget.max_monthly_cost_usd == 250 and intent.budget.enforcement == common_pb2.BUDGET_ENFORCEMENT_HARD
    assert list(intent.policies) == ["require-https", "enable-monitoring"] and request.tenant == "team-b" and request.disable_retrieval


async def test_the_console_script_in_a_subprocess(make_repo):
    repo = make_repo(SHOP)
    # The installed `scia-plan`, else the module (a venv installed before the script was added).
    command = [shutil.which("scia-plan")] if shutil.which("scia-plan") else [sys.executable, "-m", "scia.planner.cli"]
    s = settings()
    async with serve(PlannerApp(s), s) as running:
        process = await asyncio.create_subprocess_exec(
            *command, str(repo), "serverless Flask API, 100k requests a day", "--target", running.target, "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    plan = json.loads(out)["plan"]
    assert plan["strategy"] == "STRATEGY_SERVERLESS" and plan["configuration"]["serverless"]["memory_mb"] >= 128
