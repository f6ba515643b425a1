"""The README's first command: the local stack starts every service, proves it works, stops cleanly."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import free_port


def test_scia_dev_up_starts_serves_and_stops_every_service(tmp_path):
    result = subprocess.run(
        [
            sys.executable, "-m", "scia.devstack", "up", "--once",
            "--base-port", str(free_port()), "--metrics-base-port", str(free_port()),
            "--state-dir", str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "embedder  SERVING on 127.0.0.1:" in out
    assert "sentence-transformers/all-MiniLM-L6-v2: 3 x 384 dims" in out
    assert "|v|=1.000" in out
    assert "stopped: embedder (exit 0)" in out
    assert (tmp_path / "logs" / "embedder.log").read_text().count('"message": "serving"') == 1
