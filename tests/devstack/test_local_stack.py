"""The README's first command: the local stack starts every service, walks a Deployment from
GraphQL through the operator to a rendered Infrastructure and a remembered outcome, and stops
cleanly; a second run finds the memory it left."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import free_ports

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("embedder", "rag", "planner", "kubernetes", "operator", "gateway")


def run_stack(state_dir: Path) -> str:
    base = free_ports(6)  # the stack takes six consecutive ports from here
    result = subprocess.run(
        [
            sys.executable, "-m", "scia.devstack", "up", "--once",
            "--base-port", str(base), "--metrics-base-port", str(free_ports(4)),
            "--state-dir", str(state_dir), "--repository", str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_scia_dev_up_runs_the_whole_flow_and_stops_cleanly(tmp_path):
    out = run_stack(tmp_path)
    for name in SERVICES:
        assert f"{name:<10} ready on 127.0.0.1:" in out
    # 1-2: embedding, then a plan of the example app with its analysis and cost.
    assert "sentence-transformers/all-MiniLM-L6-v2: 3 x 384 dims" in out
    assert "analysis: python/flask, ports [5000]" in out
    assert "backing services ['postgres', 'redis']" in out
    assert "within the $300.00 budget" in out
    # 3: through the gateway and the operator, phase by phase, to a rendered Infrastructure.
    assert "createDeployment team-demo/flask-shop" in out
    assert out.index("phase Planning") < out.index("phase Provisioning") < out.index("phase Running")
    assert "composition aws-vm-v1 renders" in out
    assert "LoadBalancer" in out or "LB " in out
    assert "Certificate" in out  # require_https
    assert "stand-in for Crossplane" in out
    # 4: the operator recorded the outcome in the memory.
    assert "rev 1: outcome success" in out
    assert "GraphQL: http://127.0.0.1:" in out and "token for demo" in out
    assert "stopped: gateway (clean), operator (clean), kubernetes (clean), planner (clean), rag (clean), embedder (clean)" in out

    # The memory lives in the state folder: a second run recalls the first run's deployment.
    again = run_stack(tmp_path)
    assert again.count("outcome success") >= 2
    # Recalled through the gateway (GraphQL -> RAG over gRPC from the real gateway process).
    assert "recalled: " in again and ", success (similarity" in again
