"""The README's first command: the local stack starts every service, walks through a real
plan, remembers it, and stops cleanly; a second run finds the memory it left."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def run_stack(state_dir: Path) -> str:
    result = subprocess.run(
        [
            sys.executable, "-m", "scia.devstack", "up", "--once",
            "--base-port", str(free_port()), "--metrics-base-port", str(free_port()),
            "--state-dir", str(state_dir), "--repository", str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_scia_dev_up_plans_the_example_remembers_it_and_stops_cleanly(tmp_path):
    out = run_stack(tmp_path)
    for name in ("embedder", "rag", "planner"):
        assert f"{name:<9} SERVING on 127.0.0.1:" in out
        assert '"message": "serving"' in (tmp_path / "logs" / f"{name}.log").read_text()
    assert "sentence-transformers/all-MiniLM-L6-v2: 3 x 384 dims" in out
    assert "analysis: python/flask, ports [5000]" in out
    assert "backing services ['postgres', 'redis']" in out
    assert "within the $300.00 budget" in out
    assert "created; outcome pending" in out
    assert "team-demo/flask-shop rev 1" in out
    assert "stopped: planner (exit 0), rag (exit 0), embedder (exit 0)" in out

    # The memory lives in the state folder: a second run updates the same record.
    again = run_stack(tmp_path)
    assert "updated; outcome pending" in again
