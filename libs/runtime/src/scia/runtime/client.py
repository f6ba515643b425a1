"""gRPC client channels as every SCIA service should open them.

- a deadline on every call (a default one when the caller gives none);
- retries with exponential backoff for the methods the contracts mark idempotent
  (`option idempotency_level`), so a restarting replica costs a retry, not an error;
- keepalive pings, so dead connections are noticed;
- round_robin load balancing: with a `dns:///name-headless.ns.svc:port` target the client
  resolves every pod behind a headless Service and spreads calls over them (a plain Service
  would pin the one HTTP/2 connection to a single pod).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import grpc
from google.protobuf import descriptor, descriptor_pb2
from opentelemetry.instrumentation.grpc import aio_client_interceptors

_RETRYABLE_LEVELS = (
    descriptor_pb2.MethodOptions.IDEMPOTENT,
    descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS,
)


def idempotent_methods(services: Iterable[descriptor.ServiceDescriptor]) -> list[dict[str, str]]:
    """The unary methods the contracts declare safe to retry, as service-config names."""
    return [
        {"service": service.full_name, "method": method.name}
        for service in services
        for method in service.methods
        if method.GetOptions().idempotency_level in _RETRYABLE_LEVELS
        and not method.client_streaming
        and not method.server_streaming
    ]


def service_config(
    services: Iterable[descriptor.ServiceDescriptor],
    *,
    max_attempts: int = 4,
    retryable_codes: Sequence[str] = ("UNAVAILABLE",),
) -> dict:
    config: dict = {"loadBalancingConfig": [{"round_robin": {}}]}
    names = idempotent_methods(services)
    if names and max_attempts >= 2:  # gRPC refuses a retry policy of fewer than 2 attempts
        config["methodConfig"] = [
            {
                "name": names,
                "retryPolicy": {
                    "maxAttempts": max_attempts,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": list(retryable_codes),
                },
            }
        ]
    return config


class _DefaultDeadline(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """Gives every call a deadline: the caller's own, or the channel's default."""

    def __init__(self, unary_timeout: float, streaming_timeout: float) -> None:
        self.unary_timeout = unary_timeout
        self.streaming_timeout = streaming_timeout

    @staticmethod
    def _with_timeout(details: grpc.aio.ClientCallDetails, timeout: float) -> grpc.aio.ClientCallDetails:
        return details if details.timeout is not None else details._replace(timeout=timeout)

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await continuation(self._with_timeout(client_call_details, self.unary_timeout), request)

    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await continuation(self._with_timeout(client_call_details, self.streaming_timeout), request)

    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return await continuation(self._with_timeout(client_call_details, self.streaming_timeout), request_iterator)

    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return await continuation(self._with_timeout(client_call_details, self.streaming_timeout), request_iterator)


def create_channel(
    target: str,
    services: Iterable[descriptor.ServiceDescriptor] = (),
    *,
    timeout: float = 10.0,
    streaming_timeout: float = 600.0,
    max_attempts: int = 4,
    retryable_codes: Sequence[str] = ("UNAVAILABLE",),
    max_message_bytes: int = 8 * 1024 * 1024,
) -> grpc.aio.Channel:
    """An insecure (in-cluster, mesh-encrypted or loopback) channel to `target`.

    `services` are the descriptors of the services called through it (e.g.
    `embedder_pb2.DESCRIPTOR.services_by_name["Embedder"]`); their idempotent methods get the
    retry policy.
    """
    options = [
        ("grpc.service_config", json.dumps(service_config(services, max_attempts=max_attempts, retryable_codes=retryable_codes))),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    interceptors = [_DefaultDeadline(timeout, streaming_timeout), *aio_client_interceptors()]
    return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
