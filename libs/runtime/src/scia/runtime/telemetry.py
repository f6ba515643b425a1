"""Tracing (OpenTelemetry) and metrics (Prometheus) for servers and clients.

Tracing is always on in-process, so trace ids reach the logs and W3C trace context is
propagated to the next service; spans are exported over OTLP only when
OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads the standard OTEL_* variables).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator

import grpc
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import Counter, Histogram, start_http_server

from scia.runtime.errors import Rejected

log = logging.getLogger(__name__)

GRPC_SERVER_HANDLED = Counter(
    "scia_grpc_server_handled_total",
    "gRPC calls completed by the server, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_SERVER_SECONDS = Histogram(
    "scia_grpc_server_handling_seconds",
    "Time to handle a gRPC call, by method.",
    ["grpc_service", "grpc_method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def configure_tracing(service_name: str) -> TracerProvider:
    """Install the global tracer provider once; export over OTLP when configured."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    )
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        # Imported here: the exporter pulls in its own gRPC stack, only worth loading when used.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("exporting traces over OTLP")
    trace.set_tracer_provider(provider)
    return provider


def start_metrics_server(host: str, port: int) -> int | None:
    """Serve Prometheus metrics over HTTP at /metrics; returns the bound port, None when off."""
    if port == 0:
        return None
    server, _thread = start_http_server(port, addr=host)
    return server.server_port


def _split_method(full_method: str) -> tuple[str, str]:
    # "/scia.v1.Embedder/Embed" -> ("scia.v1.Embedder", "Embed")
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


def _code_name(context: grpc.aio.ServicerContext, failed: bool) -> str:
    code = context.code()
    if code is None:
        return "UNKNOWN" if failed else "OK"
    return code.name if isinstance(code, grpc.StatusCode) else str(code)


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts calls and times them per method; answers `Rejected` with its status; logs
    handler crashes with their method.

    A crash in a handler becomes UNKNOWN for that call only (gRPC's own behaviour); the
    interceptor makes sure it is logged with the trace id and counted, never swallowed.
    """

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], object],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        service, method = _split_method(handler_call_details.method)

        @contextlib.contextmanager
        def observed(context: grpc.aio.ServicerContext) -> Iterator[None]:
            started, failed = time.perf_counter(), False
            try:
                yield
            except BaseException as error:
                failed = True
                # abort() raises AbortError after setting the code, and a client that goes away
                # cancels the call: answers and hang-ups, not crashes.
                if not isinstance(error, grpc.aio.AbortError | grpc.RpcError | asyncio.CancelledError | GeneratorExit):
                    log.exception("unhandled error in %s/%s", service, method, exc_info=error)
                raise
            finally:
                GRPC_SERVER_SECONDS.labels(service, method).observe(time.perf_counter() - started)
                GRPC_SERVER_HANDLED.labels(service, method, _code_name(context, failed)).inc()

        if handler.response_streaming:
            inner = handler.unary_stream or handler.stream_stream

            async def streaming(request: object, context: grpc.aio.ServicerContext) -> AsyncIterator[object]:
                with observed(context):
                    try:
                        result = inner(request, context)
                        if inspect.isasyncgen(result):
                            async for response in result:
                                yield response
                        else:  # a handler that writes with context.write() and returns
                            await result
                    except Rejected as rejected:
                        await context.abort(rejected.code, rejected.message)

            factory = grpc.unary_stream_rpc_method_handler if handler.unary_stream else grpc.stream_stream_rpc_method_handler
            behaviour: object = streaming
        else:
            inner = handler.unary_unary or handler.stream_unary

            async def unary(request: object, context: grpc.aio.ServicerContext) -> object:
                with observed(context):
                    try:
                        return await inner(request, context)
                    except Rejected as rejected:
                        await context.abort(rejected.code, rejected.message)

            factory = grpc.unary_unary_rpc_method_handler if handler.unary_unary else grpc.stream_unary_rpc_method_handler
            behaviour = unary
        return factory(
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
