"""The shared gRPC runtime: health, reflection, drain, crash isolation, metrics, retries,
deadlines, load balancing, tracing and JSON logs.

The service under test is a small raw-bytes service registered with gRPC's generic handlers,
so each behaviour of the runtime can be provoked on purpose.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from scia.runtime.client import create_channel, idempotent_methods, service_config
from scia.runtime.config import ServiceSettings
from scia.runtime.errors import Rejected
from scia.runtime.healthcheck import main as healthcheck_main
from scia.runtime.logs import JsonFormatter
from scia.runtime.telemetry import configure_tracing
from scia.v1 import embedder_pb2, rag_pb2
from tests.helpers import serve

# The test service borrows the Embedder's name so the retry policy (derived from the contract's
# idempotency levels) applies to GetModelInfo, and not to its other methods.
SERVICE = "scia.v1.Embedder"
EMBEDDER = embedder_pb2.DESCRIPTOR.services_by_name["Embedder"]


class ProbeApp:
    service_names = (SERVICE,)

    def __init__(self, name: str = "probe") -> None:
        self.name = name
        self.ready = asyncio.Event()
        self.ready.set()
        self.stopped = False
        self.calls = 0
        self.failures_left = 0
        self.release = asyncio.Event()

    def register(self, server: grpc.aio.Server) -> None:
        async def sleep(request: bytes, context) -> bytes:
            await asyncio.sleep(float(request.decode()))
            return b"slept"

        async def crash(request: bytes, context) -> bytes:
            raise ValueError("bug in a handler")

        async def flaky(request: bytes, context) -> bytes:
            self.calls += 1
            if self.failures_left > 0:
                self.failures_left -= 1
                await context.abort(grpc.StatusCode.UNAVAILABLE, "replica restarting")
            return self.name.encode()

        async def refuse(request: bytes, context) -> bytes:
            raise Rejected(grpc.StatusCode.FAILED_PRECONDITION, "no model is trained yet")

        async def wait_released(request: bytes, context) -> bytes:
            await self.release.wait()
            return b"released"

        def unary(fn):
            return grpc.unary_unary_rpc_method_handler(fn)

        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    SERVICE,
                    {
                        "Sleep": unary(sleep),
                        "Crash": unary(crash),
                        "Refuse": unary(refuse),
                        "GetModelInfo": unary(flaky),  # idempotent in the contract: retried
                        "Embed": unary(wait_released),
                        "NotIdempotent": unary(flaky),  # not in the contract: never retried
                    },
                ),
            )
        )

    async def start(self) -> None:
        await self.ready.wait()

    async def stop(self) -> None:
        self.stopped = True


def settings(**overrides) -> ServiceSettings:
    return ServiceSettings(grpc_host="127.0.0.1", grpc_port=0, metrics_port=0, **overrides)


def method(channel: grpc.aio.Channel, name: str):
    return channel.unary_unary(f"/{SERVICE}/{name}")


async def health(target: str, service: str = "") -> str:
    async with grpc.aio.insecure_channel(target) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


async def test_health_is_not_serving_until_the_app_has_started():
    from scia.runtime.server import GrpcServer

    app = ProbeApp()
    app.ready.clear()
    server = GrpcServer(app, settings())
    starting = asyncio.create_task(server.start())
    while server.port is None:
        await asyncio.sleep(0.01)
    target = f"127.0.0.1:{server.port}"
    assert await health(target) == "NOT_SERVING"
    assert await health(target, SERVICE) == "NOT_SERVING"
    app.ready.set()
    await starting
    assert await health(target) == "SERVING"
    assert await health(target, SERVICE) == "SERVING"
    await server.stop(grace=1)
    assert app.stopped


async def test_reflection_lists_the_services():
    async with serve(ProbeApp(), settings()) as running:
        async with grpc.aio.insecure_channel(running.target) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)

            async def requests():
                yield reflection_pb2.ServerReflectionRequest(list_services="")

            responses = [r async for r in stub.ServerReflectionInfo(requests())]
    names = {s.name for s in responses[0].list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


async def test_stop_drains_in_flight_calls_and_refuses_new_ones():
    app = ProbeApp()
    async with serve(app, settings()) as running:
        async with create_channel(running.target, max_attempts=1) as channel:
            in_flight = asyncio.ensure_future(method(channel, "Sleep")(b"0.8"))
            await asyncio.sleep(0.2)
            stopping = asyncio.create_task(running.server.stop(grace=5))
            await asyncio.sleep(0.1)
            assert await in_flight == b"slept"
            await stopping
            assert app.stopped
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await method(channel, "Sleep")(b"0", timeout=2)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_calls_outliving_the_grace_period_are_cancelled():
    async with serve(ProbeApp(), settings()) as running:
        async with create_channel(running.target, max_attempts=1) as channel:
            endless = asyncio.ensure_future(method(channel, "Sleep")(b"60"))
            await asyncio.sleep(0.2)
            loop = asyncio.get_running_loop()
            started = loop.time()
            await running.server.stop(grace=0.5)
            assert loop.time() - started < 5
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await endless
            assert error.value.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)


def handled(method_name: str, code: str) -> float:
    return REGISTRY.get_sample_value(
        "scia_grpc_server_handled_total", {"grpc_service": SERVICE, "grpc_method": method_name, "grpc_code": code}
    ) or 0.0


async def test_a_crashing_handler_fails_its_call_only_and_is_counted(caplog):
    before_crash, before_ok = handled("Crash", "UNKNOWN"), handled("Sleep", "OK")
    async with serve(ProbeApp(), settings()) as running:
        async with create_channel(running.target) as channel:
            with caplog.at_level(logging.ERROR), pytest.raises(grpc.aio.AioRpcError) as error:
                await method(channel, "Crash")(b"")
            assert error.value.code() == grpc.StatusCode.UNKNOWN
            assert await method(channel, "Sleep")(b"0") == b"slept"
    assert handled("Crash", "UNKNOWN") == before_crash + 1
    assert handled("Sleep", "OK") == before_ok + 1
    assert any("unhandled error in scia.v1.Embedder/Crash" in r.getMessage() for r in caplog.records)


async def test_a_rejected_call_gets_its_status_and_message_and_is_counted(caplog):
    before = handled("Refuse", "FAILED_PRECONDITION")
    async with serve(ProbeApp(), settings()) as running:
        async with create_channel(running.target) as channel:
            with caplog.at_level(logging.ERROR), pytest.raises(grpc.aio.AioRpcError) as error:
                await method(channel, "Refuse")(b"")
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.details() == "no model is trained yet"
    assert handled("Refuse", "FAILED_PRECONDITION") == before + 1
    assert not [r for r in caplog.records if "unhandled error" in r.getMessage()]


async def test_a_call_the_client_abandons_is_not_logged_as_a_crash(caplog):
    async with serve(ProbeApp(), settings()) as running:
        async with create_channel(running.target) as channel:
            with caplog.at_level(logging.ERROR), pytest.raises(grpc.aio.AioRpcError) as error:
                await method(channel, "Sleep")(b"5", timeout=0.2)
            assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            await asyncio.sleep(0.2)  # let the server notice the cancellation
    assert not [r for r in caplog.records if "unhandled error" in r.getMessage()]


def test_retry_policy_covers_exactly_the_idempotent_unary_methods():
    memory = rag_pb2.DESCRIPTOR.services_by_name["DeploymentMemory"]
    names = {(m["service"], m["method"]) for m in idempotent_methods([EMBEDDER, memory])}
    assert ("scia.v1.Embedder", "Embed") in names and ("scia.v1.Embedder", "GetModelInfo") in names
    assert ("scia.v1.Embedder", "EmbedStream") not in names  # streaming
    assert ("scia.v1.DeploymentMemory", "RecordDeployment") in names  # an idempotent upsert
    assert ("scia.v1.DeploymentMemory", "Import") not in names
    config = service_config([EMBEDDER])
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    assert config["methodConfig"][0]["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]


async def test_idempotent_methods_are_retried_and_others_are_not():
    app = ProbeApp()
    async with serve(app, settings()) as running:
        async with create_channel(running.target, [EMBEDDER]) as channel:
            app.failures_left = 2
            assert await method(channel, "GetModelInfo")(b"") == b"probe"
            assert app.calls == 3
            app.calls, app.failures_left = 0, 1
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await method(channel, "NotIdempotent")(b"")
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE and app.calls == 1


async def test_every_call_gets_the_channels_default_deadline():
    async with serve(ProbeApp(), settings()) as running:
        async with create_channel(running.target, timeout=0.3) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await method(channel, "Sleep")(b"5")
            assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            # A deadline the caller gives wins over the default.
            assert await method(channel, "Sleep")(b"0.5", timeout=3) == b"slept"


async def test_round_robin_spreads_calls_over_every_resolved_replica():
    async with serve(ProbeApp("a"), settings()) as first, serve(ProbeApp("b"), settings()) as second:
        # What a headless Service's DNS name resolves to: several pod addresses.
        target = f"ipv4:{first.target},{second.target}"
        async with create_channel(target, [EMBEDDER]) as channel:
            answers = [await method(channel, "GetModelInfo")(b"") for _ in range(20)]
    assert answers.count(b"a") >= 5 and answers.count(b"b") >= 5


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    configure_tracing("tests").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_trace_context_crosses_the_call_and_reaches_the_logs(spans):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("tests"))
    logger = logging.getLogger("tests.trace")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        async with serve(ProbeApp(), settings()) as running:
            async with create_channel(running.target) as channel:
                with trace.get_tracer("tests").start_as_current_span("caller") as caller:
                    await method(channel, "Sleep")(b"0")
                    logger.info("called", extra={"deployment": "shop"})
    finally:
        logger.removeHandler(handler)
    trace_id = caller.get_span_context().trace_id
    finished = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    kinds = {s.kind.name for s in finished}
    assert {"CLIENT", "SERVER"} <= kinds, kinds
    server_span = next(s for s in finished if s.kind.name == "SERVER")
    assert server_span.parent is not None and server_span.parent.trace_id == trace_id
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["trace_id"] == format(trace_id, "032x")
    assert line["message"] == "called" and line["deployment"] == "shop" and line["level"] == "INFO"


async def test_healthcheck_command_exits_zero_only_when_serving(capsys):
    async with serve(ProbeApp(), settings()) as running:
        assert await asyncio.to_thread(healthcheck_main, [running.target]) == 0
        target = running.target
    assert await asyncio.to_thread(healthcheck_main, [target, "--timeout", "0.5"]) == 1
    assert capsys.readouterr().out.split() == ["SERVING", "UNAVAILABLE"]
