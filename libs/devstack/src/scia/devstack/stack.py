"""Start, watch and stop the local services."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from scia.devstack.kubeconfig import ClusterAccess, against_cluster
from scia.runtime.healthcheck import check


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service locally.

    gRPC services are ready when their health service says SERVING; HTTP ones (the
    Kubernetes API emulator, the operator's liveness endpoint, the gateway) when `ready_url`
    answers 200.
    """

    name: str
    module: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    ready_url: str = ""
    metrics_port: int = 0
    # Seconds to wait for readiness; the embedder loads torch and a model first.
    start_timeout: float = 120.0
    # Exit codes that mean "stopped cleanly after SIGTERM".
    clean_exit_codes: tuple[int, ...] = (0,)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def is_ready(self) -> bool:
        if not self.ready_url:
            return check(self.target, timeout=1.0) == "SERVING"
        try:
            with urllib.request.urlopen(self.ready_url, timeout=1.0) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False


def grpc_service(name: str, module: str, prefix: str, port: int, metrics_port: int, **env: str) -> ServiceSpec:
    return ServiceSpec(
        name,
        module,
        port,
        env={
            f"{prefix}GRPC_HOST": "127.0.0.1",
            f"{prefix}GRPC_PORT": str(port),
            f"{prefix}METRICS_HOST": "127.0.0.1",
            f"{prefix}METRICS_PORT": str(metrics_port),
            **env,
        },
        metrics_port=metrics_port,
    )


def local_signing_key(state_dir: Path) -> str:
    """The gateway's token key for this machine: made once, kept in the state folder (mode 600)."""
    path = state_dir / "gateway-jwt.key"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def default_services(
    state_dir: Path, base_port: int = 50051, metrics_base_port: int = 9101, ui_dir: Path | None = None,
    cluster: ClusterAccess | None = None,
) -> list[ServiceSpec]:
    """Every service, in start order (each after what it calls); the gateway serves ui_dir at /.
    With `cluster` (scia-dev up --kubeconfig), no emulator: the operator and the gateway use it."""
    embedder = grpc_service("embedder", "scia.embedder", "SCIA_EMBEDDER_", base_port, metrics_base_port)
    rag = grpc_service(
        "rag", "scia.rag", "SCIA_RAG_", base_port + 1, metrics_base_port + 1,
        SCIA_RAG_EMBEDDER_TARGET=embedder.target,
        # Embedded PostgreSQL: the memory survives restarts of the stack in this folder.
        SCIA_RAG_DATA_DIR=str(state_dir / "postgres"),
        SCIA_RAG_RERANKER_MODEL_PATH=str(state_dir / "models" / "cross-encoder" / "current"),
    )
    planner = grpc_service(
        "planner", "scia.planner", "SCIA_PLANNER_", base_port + 2, metrics_base_port + 2,
        SCIA_PLANNER_RAG_TARGET=rag.target,
        # Local repositories are fine on a developer's machine; a shared control plane refuses them.
        SCIA_PLANNER_ALLOW_LOCAL_PATHS="true",
    )
    kubernetes_port = base_port + 3
    kubernetes = ServiceSpec(
        "kubernetes",
        "scia.operator.emulator",
        kubernetes_port,
        # An in-memory Kubernetes API (no cluster here): it forgets everything on exit.
        args=("--port", str(kubernetes_port), "--namespace", "team-demo"),
        ready_url=f"http://127.0.0.1:{kubernetes_port}/version",
        start_timeout=30.0,
    )
    kubernetes_url = f"http://127.0.0.1:{kubernetes_port}"
    operator_health_port = base_port + 4
    operator = ServiceSpec(
        "operator",
        "scia.operator",
        operator_health_port,
        env={
            "SCIA_OPERATOR_KUBERNETES_URL": kubernetes_url,
            "SCIA_OPERATOR_PLANNER_TARGET": planner.target,
            "SCIA_OPERATOR_RAG_TARGET": rag.target,
            "SCIA_OPERATOR_STANDALONE": "true",
            "SCIA_OPERATOR_METRICS_HOST": "127.0.0.1",
            "SCIA_OPERATOR_METRICS_PORT": str(metrics_base_port + 3),
            "SCIA_OPERATOR_HEALTH_HOST": "127.0.0.1",
            "SCIA_OPERATOR_HEALTH_PORT": str(operator_health_port),
        },
        ready_url=f"http://127.0.0.1:{operator_health_port}/healthz",
        metrics_port=metrics_base_port + 3,
        start_timeout=60.0,
    )
    gateway_port = base_port + 5
    gateway = ServiceSpec(
        "gateway",
        "scia.gateway",
        gateway_port,
        env={
            "SCIA_GATEWAY_HTTP_HOST": "127.0.0.1",
            "SCIA_GATEWAY_HTTP_PORT": str(gateway_port),
            "SCIA_GATEWAY_MODE": "development",
            "SCIA_GATEWAY_ALLOW_LOCAL_REPOSITORIES": "true",
            "SCIA_GATEWAY_JWT_SHARED_KEY": local_signing_key(state_dir),
            "SCIA_GATEWAY_KUBERNETES_URL": kubernetes_url,
            "SCIA_GATEWAY_PLANNER_TARGET": planner.target,
            "SCIA_GATEWAY_RAG_TARGET": rag.target,
            # Empty means unset: / then says the UI is not built and how to build it.
            "SCIA_GATEWAY_UI_DIR": str(ui_dir) if ui_dir else "",
        },
        ready_url=f"http://127.0.0.1:{gateway_port}/healthz",
        metrics_port=gateway_port,
        start_timeout=60.0,
        # uvicorn re-raises SIGTERM after its graceful shutdown, so that supervisors see the signal.
        clean_exit_codes=(0, -signal.SIGTERM),
    )
    if cluster is not None:
        return [embedder, rag, planner, *against_cluster(cluster, operator, gateway, state_dir)]
    return [embedder, rag, planner, kubernetes, operator, gateway]


class StartupError(RuntimeError):
    pass


class RunningService:
    def __init__(self, spec: ServiceSpec, log_dir: Path) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", spec.module, *spec.args],
            env={**os.environ, **spec.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Own process group: Ctrl-C in the terminal reaches only the stack, which then stops
            # each service in order with SIGTERM.
            start_new_session=True,
        )

    def wait_ready(self) -> float:
        started = time.monotonic()
        deadline = started + self.spec.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartupError(
                    f"{self.spec.name} exited with code {self.process.returncode} while starting; "
                    f"last lines of {self.log_path}:\n{self.tail()}"
                )
            if self.spec.is_ready():
                return time.monotonic() - started
            time.sleep(0.25)
        raise StartupError(
            f"{self.spec.name} was not ready after {self.spec.start_timeout:.0f} s; "
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

    def spec(self, name: str) -> ServiceSpec:
        return next(spec for spec in self.specs if spec.name == name)

    def start(self, report=print) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            service = RunningService(spec, self.log_dir)
            self.running.append(service)
            report(f"  starting {spec.name:<10} (python -m {spec.module}) ...")
            seconds = service.wait_ready()
            report(f"  {spec.name:<10} ready on {spec.target} after {seconds:.1f} s")

    def stop(self) -> dict[str, int]:
        # Reverse order: consumers stop before what they call.
        return {service.spec.name: service.stop() for service in reversed(self.running)}

    def exited(self) -> list[RunningService]:
        return [service for service in self.running if service.process.poll() is not None]
