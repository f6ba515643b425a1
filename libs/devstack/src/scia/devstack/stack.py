"""Start, watch and stop the local services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from scia.runtime.healthcheck import check


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service locally."""

    name: str
    module: str
    env_prefix: str
    grpc_port: int
    metrics_port: int
    # Seconds to wait for SERVING; the embedder loads torch and a model first.
    start_timeout: float = 120.0
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def default_services(state_dir: Path, base_port: int = 50051, metrics_base_port: int = 9101) -> list[ServiceSpec]:
    """The services that exist so far, in start order (each after what it calls)."""
    embedder = ServiceSpec("embedder", "scia.embedder", "SCIA_EMBEDDER_", base_port, metrics_base_port)
    rag = ServiceSpec(
        "rag",
        "scia.rag",
        "SCIA_RAG_",
        base_port + 1,
        metrics_base_port + 1,
        extra_env={
            "SCIA_RAG_EMBEDDER_TARGET": embedder.target,
            # Embedded PostgreSQL: the memory survives restarts of the stack in this folder.
            "SCIA_RAG_DATA_DIR": str(state_dir / "postgres"),
            "SCIA_RAG_RERANKER_MODEL_PATH": str(state_dir / "models" / "cross-encoder" / "current"),
        },
    )
    planner = ServiceSpec(
        "planner",
        "scia.planner",
        "SCIA_PLANNER_",
        base_port + 2,
        metrics_base_port + 2,
        extra_env={
            "SCIA_PLANNER_RAG_TARGET": rag.target,
            # Local repositories are fine on a developer's machine; a shared control plane refuses them.
            "SCIA_PLANNER_ALLOW_LOCAL_PATHS": "true",
        },
    )
    return [embedder, rag, planner]


class StartupError(RuntimeError):
    pass


class RunningService:
    def __init__(self, spec: ServiceSpec, log_dir: Path) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        env = {
            **os.environ,
            f"{spec.env_prefix}GRPC_HOST": "127.0.0.1",
            f"{spec.env_prefix}GRPC_PORT": str(spec.grpc_port),
            f"{spec.env_prefix}METRICS_HOST": "127.0.0.1",
            f"{spec.env_prefix}METRICS_PORT": str(spec.metrics_port),
            **spec.extra_env,
        }
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", spec.module],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Own process group: Ctrl-C in the terminal reaches only the stack, which then stops
            # each service in order with SIGTERM.
            start_new_session=True,
        )

    def wait_serving(self) -> float:
        started = time.monotonic()
        deadline = started + self.spec.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartupError(
                    f"{self.spec.name} exited with code {self.process.returncode} while starting; "
                    f"last lines of {self.log_path}:\n{self.tail()}"
                )
            if check(self.spec.target, timeout=1.0) == "SERVING":
                return time.monotonic() - started
            time.sleep(0.25)
        raise StartupError(
            f"{self.spec.name} was not SERVING after {self.spec.start_timeout:.0f} s; "
            f"last lines of {self.log_path}:\n{self.tail()}"
        )

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class LocalStack:
    def __init__(self, services: list[ServiceSpec], state_dir: Path) -> None:
        self.specs = services
        self.log_dir = state_dir / "logs"
        self.running: list[RunningService] = []

    def start(self, report=print) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            service = RunningService(spec, self.log_dir)
            self.running.append(service)
            report(f"  starting {spec.name:<9} (python -m {spec.module}) ...")
            seconds = service.wait_serving()
            report(f"  {spec.name:<9} SERVING on {spec.target} after {seconds:.1f} s")

    def stop(self) -> dict[str, int]:
        # Reverse order: consumers stop before what they call.
        return {service.spec.name: service.stop() for service in reversed(self.running)}

    def exited(self) -> list[RunningService]:
        return [service for service in self.running if service.process.poll() is not None]
