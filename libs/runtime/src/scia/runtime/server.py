"""gRPC server bootstrap shared by every SCIA service.

A service provides a `ServiceApp`: the gRPC services it registers, what must happen before it
can serve (`start`: load a model, open a pool) and after it stopped serving (`stop`). The
runtime adds the standard health service (NOT_SERVING until `start` returned), reflection,
tracing and metrics interceptors, and graceful shutdown on SIGTERM/SIGINT: health turns
NOT_SERVING, no new calls are accepted, in-flight calls get the grace period to finish, then
the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from scia.runtime.config import ConfigError, ServiceSettings, load_settings
from scia.runtime.logs import configure_logging
from scia.runtime.telemetry import MetricsInterceptor, configure_tracing, start_metrics_server

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class ServiceApp(Protocol):
    """What a service plugs into the runtime."""

    #: Full gRPC service names ("scia.v1.Embedder"), for health and reflection.
    service_names: Sequence[str]

    def register(self, server: grpc.aio.Server) -> None:
        """Add the service's servicers to the server."""

    async def start(self) -> None:
        """Get ready to serve. Health reports NOT_SERVING until this returns."""

    async def stop(self) -> None:
        """Release resources once no call is in flight any more."""


class GrpcServer:
    """One grpc.aio server running one ServiceApp."""

    def __init__(self, app: ServiceApp, settings: ServiceSettings) -> None:
        self.app = app
        self.settings = settings
        self.health = health_aio.HealthServicer()
        self.port: int | None = None
        self._server = grpc.aio.server(
            interceptors=[aio_server_interceptor(), MetricsInterceptor()],
            options=[
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_send_message_length", settings.max_message_bytes),
                # Let clients keep idle connections alive with pings every 10 s or more.
                ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
                ("grpc.keepalive_permit_without_calls", 1),
                *_connection_age_options(settings.max_connection_age_seconds),
            ],
        )
        self._stopped = asyncio.Event()

    async def start(self) -> int:
        """Bind and start serving health and reflection, then run the app's start-up.

        Returns the bound port (useful when the configured port is 0).
        """
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self.app.register(self._server)
        reflection.enable_server_reflection(
            [*self.app.service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
            self._server,
        )
        for name in ("", *self.app.service_names):
            await self.health.set(name, NOT_SERVING)
        address = f"{self.settings.grpc_host}:{self.settings.grpc_port}"
        self.port = self._server.add_insecure_port(address)
        if not self.port:
            raise OSError(f"cannot bind gRPC server to {address}")
        await self._server.start()
        log.info("gRPC listening", extra={"address": f"{self.settings.grpc_host}:{self.port}"})
        await self.app.start()
        for name in ("", *self.app.service_names):
            await self.health.set(name, SERVING)
        log.info("serving", extra={"services": list(self.app.service_names)})
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting calls, let in-flight ones finish within the grace period, then stop the app."""
        if self._stopped.is_set():
            return
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        log.info("shutting down", extra={"grace_seconds": grace})
        # Readiness fails first, so load balancers stop sending work here.
        await self.health.enter_graceful_shutdown()
        await self._server.stop(grace)
        await self.app.stop()
        self._stopped.set()
        log.info("stopped")

    async def wait_stopped(self) -> None:
        await self._stopped.wait()


def _connection_age_options(seconds: float) -> list[tuple[str, int]]:
    """Recycle client connections now and then.

    round_robin clients resolve a headless Service's DNS name only when a connection drops, so
    without this, replicas added by the autoscaler would get no traffic from existing clients.
    In-flight calls get as long as a bulk stream may take (the client's streaming deadline).
    """
    if seconds <= 0:
        return []
    return [("grpc.max_connection_age_ms", int(seconds * 1000)), ("grpc.max_connection_age_grace_ms", 600_000)]


async def serve(app: ServiceApp, settings: ServiceSettings, *, on_ready: Callable[[int], None] | None = None) -> None:
    """Run `app` until SIGTERM or SIGINT, then drain and return."""
    server = GrpcServer(app, settings)
    loop = asyncio.get_running_loop()
    shutdown = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, shutdown.set)
    start = asyncio.create_task(server.start())
    waiter = asyncio.create_task(shutdown.wait())
    done, _ = await asyncio.wait({start, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if start in done:
        port = start.result()  # re-raises a failed start-up
        if on_ready is not None:
            on_ready(port)
        await waiter
    else:
        # Asked to stop while still starting (e.g. loading a model): abandon the start-up.
        start.cancel()
        await asyncio.gather(start, return_exceptions=True)
    await server.stop()


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def run(service: str, settings_class: type[SettingsT], app_factory: Callable[[SettingsT], ServiceApp]) -> None:
    """Console entry point of a service: validate the configuration, set up telemetry, serve.

    Exits 2 with a message naming the bad variables when the configuration is invalid, 1 when
    start-up fails, 0 after a graceful shutdown.
    """
    try:
        settings = load_settings(settings_class)
    except ConfigError as error:
        print(f"{service}: {error}", file=sys.stderr)
        sys.exit(2)
    configure_logging(service, settings.log_level)
    configure_tracing(service)
    metrics_port = start_metrics_server(settings.metrics_host, settings.metrics_port)
    if metrics_port:
        log.info("metrics listening", extra={"address": f"{settings.metrics_host}:{metrics_port}"})
    try:
        asyncio.run(serve(app_factory(settings), settings))
    except Exception:
        log.exception("%s failed", service)
        sys.exit(1)
