"""The embedder as a real process: health while loading, metrics, traces exported over OTLP,
SIGTERM drain, bad configuration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from scia.runtime.healthcheck import check
from scia.v1 import embedder_pb2, embedder_pb2_grpc
from tests.helpers import free_port


def queued_texts(metrics_port: int) -> float:
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    line = next(line for line in metrics.splitlines() if line.startswith("scia_embedder_queued_texts "))
    return float(line.split()[1])


def start_embedder(**env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "scia.embedder"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """Receives OTLP trace exports the way an OpenTelemetry collector does."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str]] = []  # (service.name, span name)

    def Export(self, request, context):
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), ""
            )
            for scope in resource_spans.scope_spans:
                self.spans += [(service, span.name) for span in scope.spans]
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def collector():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    received = Collector()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(received, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield received, f"http://127.0.0.1:{port}"
    server.stop(0)


def test_health_turns_serving_after_the_model_loads_and_sigterm_drains_in_flight_calls(collector):
    received, otlp_endpoint = collector
    grpc_port, metrics_port = free_port(), free_port()
    process = start_embedder(
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint,
        OTEL_EXPORTER_OTLP_INSECURE="true",
        SCIA_EMBEDDER_GRPC_HOST="127.0.0.1",
        SCIA_EMBEDDER_GRPC_PORT=str(grpc_port),
        SCIA_EMBEDDER_METRICS_HOST="127.0.0.1",
        SCIA_EMBEDDER_METRICS_PORT=str(metrics_port),
        SCIA_EMBEDDER_TORCH_THREADS="2",
        # Generous, so the drained call finishes even on a loaded CI machine.
        SCIA_EMBEDDER_SHUTDOWN_GRACE_SECONDS="120",
    )
    target = f"127.0.0.1:{grpc_port}"
    try:
        seen = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            status = check(target, timeout=1)
            if not seen or seen[-1] != status:
                seen.append(status)
            if status == "SERVING":
                break
            time.sleep(0.05)
        # The server answers health before the model is ready, and says NOT_SERVING meanwhile.
        assert "NOT_SERVING" in seen and seen[-1] == "SERVING", seen

        with grpc.insecure_channel(target) as channel:
            embedder = embedder_pb2_grpc.EmbedderStub(channel)
            assert len(embedder.Embed(embedder_pb2.EmbedRequest(texts=["warm"])).embeddings) == 1
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
            assert (
                'scia_grpc_server_handled_total{grpc_code="OK",grpc_method="Embed",grpc_service="scia.v1.Embedder"} 1.0'
                in metrics
            )
            assert "scia_embedder_batch_size_count" in metrics

            # A call that takes a while (256 long texts), then SIGTERM while it runs.
            slow = embedder.Embed.future(
                embedder_pb2.EmbedRequest(texts=["a long sentence about deploying web apps " * 12] * 256),
                timeout=120,
            )
            # SIGTERM only once the server holds the call: its texts wait in the batcher's queue.
            while queued_texts(metrics_port) == 0 and not slow.done():
                time.sleep(0.01)
            assert not slow.done()
            process.send_signal(signal.SIGTERM)
            response = slow.result()
            assert len(response.embeddings) == 256
        assert process.wait(30) == 0
        logs = process.stderr.read()
        assert '"message": "shutting down"' in logs and '"message": "stopped"' in logs
        # Spans of the calls reached the collector, flushed at shutdown at the latest.
        assert ("embedder", "/scia.v1.Embedder/Embed") in received.spans, received.spans
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SCIA_EMBEDDER_MAX_BATCH_SIZE": "0"}, "SCIA_EMBEDDER_MAX_BATCH_SIZE: Input should be greater than or equal to 1"),
        ({"SCIA_EMBEDDER_GRPC_PORT": "http"}, "SCIA_EMBEDDER_GRPC_PORT: Input should be a valid integer"),
        ({"SCIA_EMBEDDER_MODEL_PATH": "/nonexistent/model"}, "/nonexistent/model is not a sentence-transformers model folder"),
    ],
)
def test_a_bad_setting_stops_the_service_with_a_message_naming_it(env, expected):
    process = start_embedder(**env)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert expected in stderr
