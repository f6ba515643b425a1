"""What every benchmark shares: the machine description, percentiles, results files, services."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from scia.runtime.healthcheck import check

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, object]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "python": platform.python_version(),
        "commit": commit or "unknown",
    }


def percentiles(samples_seconds: list[float]) -> dict[str, float]:
    values = np.array(samples_seconds) * 1000
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p99_ms": round(float(np.percentile(values, 99)), 2)}


def write_results(name: str, results: dict, path: Path | None = None) -> Path:
    """Write `results` with the machine to bench/results/<name>.json, or to `path`."""
    if path is None:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **results}, indent=2) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exit_on_sigterm() -> None:
    """Make SIGTERM (`kill`, a CI timeout) end the run like Ctrl-C does: through every `finally`,
    so the services it started are stopped and their data folders removed, not left running."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def http_ready(url: str) -> Callable[[], bool]:
    """Readiness of an HTTP process: `url` answers 200."""

    def ready() -> bool:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
        return False

    return ready


@contextlib.contextmanager
def running_process(
    args: list[str], env: dict[str, str], ready: Callable[[], bool], log_path: Path, timeout: float = 180
) -> Iterator[subprocess.Popen]:
    """`python <args>` as its own process, yielded once `ready()` holds; SIGTERM on exit.

    Its output goes to `log_path`, never to a pipe nobody reads while it runs (a full pipe blocks
    the writer); the log's tail is in the error when it does not start.
    """
    with log_path.open("ab") as log_file:
        process = subprocess.Popen([sys.executable, *args], env={**os.environ, **env}, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{args} did not start ({'exited' if process.poll() is not None else 'timeout'}):\n{tail}")
            time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def service_process(module: str, env_prefix: str, timeout: float = 180, **settings: str) -> Iterator[str]:
    """Run a gRPC service as its own process on loopback (as deployed); yield its target."""
    port = free_port()
    target = f"127.0.0.1:{port}"
    env = {
        f"{env_prefix}GRPC_HOST": "127.0.0.1",
        f"{env_prefix}GRPC_PORT": str(port),
        f"{env_prefix}METRICS_PORT": "0",
        f"{env_prefix}LOG_LEVEL": "WARNING",
        **{f"{env_prefix}{key.upper()}": value for key, value in settings.items()},
    }
    with tempfile.TemporaryDirectory(prefix="scia-bench-") as logs:
        log_path = Path(logs) / f"{module}.log"
        with running_process(["-m", module], env, lambda: check(target, timeout=1) == "SERVING", log_path, timeout):
            yield target
