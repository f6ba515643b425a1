"""The ASGI application: GraphQL over HTTP and graphql-transport-ws, /healthz and /metrics.

`create_app(settings)` is the factory uvicorn, the tests and the benchmark use. Every HTTP
GraphQL request is authenticated before its body is read (401 otherwise), the body is read up
to max_body_bytes, JSON-array batches are capped, persisted queries are resolved, and Ariadne
then validates with the shape and cost rules before anything executes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from ariadne import format_error as ariadne_format_error
from ariadne.asgi import GraphQL
from ariadne.asgi.handlers import GraphQLHTTPHandler, GraphQLTransportWSHandler
from graphql import GraphQLError
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketState

from scia.gateway.auth import AuthError, bearer_token
from scia.gateway.backends import Backends, RequestContext
from scia.gateway.config import GatewaySettings
from scia.gateway.limits import DocumentCache, PersistedQueryError, load_safelist, resolve_persisted_query, validation_rules
from scia.gateway.resolvers import build_schema
from scia.gateway.webui import WebUI

log = logging.getLogger(__name__)

REQUESTS = Counter("scia_gateway_requests_total", "GraphQL operations, by transport and result.", ["transport", "result"])
REFUSALS = Counter("scia_gateway_refusals_total", "Requests refused before execution, by reason.", ["reason"])
SECONDS = Histogram(
    "scia_gateway_request_seconds", "Time to answer an HTTP GraphQL request.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30, 90),
)
PRINCIPAL_KEY = "scia.principal"


def graphql_error_response(message: str, code: str, status: int, headers: dict | None = None) -> JSONResponse:
    REFUSALS.labels(code).inc()
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status, headers=headers)


class GatewayHTTPHandler(GraphQLHTTPHandler):
    def __init__(self, backends: Backends, safelist: dict[str, str]) -> None:
        super().__init__()
        self.backends = backends
        self.settings = backends.settings
        self.safelist = safelist

    async def graphql_http_server(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            return await self._serve(request)
        finally:
            SECONDS.observe(time.perf_counter() - started)

    async def _serve(self, request: Request) -> Response:
        try:
            principal = await self.backends.verifier.verify(bearer_token(request.headers.get("authorization")))
        except AuthError as error:
            return graphql_error_response(
                f"Unauthenticated: {error}", "UNAUTHENTICATED", 401,
                {"WWW-Authenticate": 'Bearer realm="scia", error="invalid_token"'},
            )
        request.scope[PRINCIPAL_KEY] = principal
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return graphql_error_response("Send the operation as Content-Type: application/json.", "BAD_REQUEST", 415)
        body = await self._read_body(request)
        if body is None:
            return graphql_error_response(
                f"The request body exceeds {self.settings.max_body_bytes} bytes.", "REQUEST_TOO_LARGE", 413
            )
        try:
            data = json.loads(body)
        except ValueError as error:
            return graphql_error_response(f"The body is not valid JSON: {error}", "BAD_REQUEST", 400)
        if isinstance(data, list):
            if not data or len(data) > self.settings.max_batch:
                return graphql_error_response(
                    f"A batch must hold 1 to {self.settings.max_batch} operations, got {len(data)}.", "BATCH_TOO_LARGE", 400
                )
            results = [await self._execute(request, item) for item in data]
            return JSONResponse([result for result, _ in results])
        result, ok = await self._execute(request, data)
        return JSONResponse(result, status_code=200 if ok else 400)

    async def _read_body(self, request: Request) -> bytes | None:
        """The body, or None past the limit; Content-Length is checked first so an oversized
        request is refused without reading it, and the stream is counted in case it lies."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _execute(self, request: Request, data: Any) -> tuple[dict, bool]:
        if not isinstance(data, dict):
            REFUSALS.labels("BAD_REQUEST").inc()
            return {"errors": [{"message": "Each operation must be a JSON object.", "extensions": {"code": "BAD_REQUEST"}}]}, False
        try:
            data = resolve_persisted_query(data, self.safelist, self.settings.persisted_queries_only)
        except PersistedQueryError as error:
            REFUSALS.labels((error.extensions or {}).get("code", "PERSISTED_QUERY")).inc()
            return {"errors": [error.formatted]}, False
        ok, result = await self.execute_graphql_query(request, data)
        REQUESTS.labels("http", "ok" if ok and not result.get("errors") else "error").inc()
        return result, ok


class GatewayWSHandler(GraphQLTransportWSHandler):
    """graphql-transport-ws with authentication in connection_init and server keep-alive pings."""

    def __init__(self, backends: Backends, safelist: dict[str, str]) -> None:
        super().__init__()
        self.backends = backends
        self.safelist = safelist

    async def handle_websocket(self, websocket: WebSocket):
        keepalive = asyncio.create_task(self._keepalive(websocket))
        try:
            await super().handle_websocket(websocket)
        finally:
            keepalive.cancel()

    async def _keepalive(self, websocket: WebSocket) -> None:
        # Pings keep idle subscriptions alive through proxies and load balancers that drop
        # silent connections, and make a vanished client visible.
        interval = self.backends.settings.keepalive_seconds
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(interval)
                if websocket.application_state != WebSocketState.CONNECTED or websocket.client_state != WebSocketState.CONNECTED:
                    return
                await websocket.send_json({"type": "ping", "payload": {"server": "scia-gateway"}})

    async def handle_websocket_connection_init_message(self, websocket, message, client_context):
        if not client_context.connection_init_received:
            payload = message.get("payload") if isinstance(message.get("payload"), dict) else {}
            header = payload.get("Authorization") or payload.get("authorization") or websocket.headers.get("authorization")
            if not header and isinstance(payload.get("token"), str):
                header = f"Bearer {payload['token']}"
            try:
                principal = await self.backends.verifier.verify(bearer_token(header))
            except AuthError as error:
                client_context.connection_init_received = True
                REFUSALS.labels("UNAUTHENTICATED").inc()
                # 4403 Forbidden is the protocol's answer to a refused connection_init; the
                # reason (at most 123 bytes in a close frame) says why.
                await websocket.close(code=4403, reason=f"Forbidden: {error}"[:120])
                return
            websocket.scope[PRINCIPAL_KEY] = principal
        await super().handle_websocket_connection_init_message(websocket, message, client_context)

    async def handle_websocket_subscribe(self, websocket, data, operation_id, client_context):
        if isinstance(data, dict):
            try:
                data = resolve_persisted_query(data, self.safelist, self.backends.settings.persisted_queries_only)
            except PersistedQueryError as error:
                await websocket.send_json({"type": "error", "id": operation_id, "payload": [error.formatted]})
                return
        REQUESTS.labels("websocket", "subscribe").inc()
        await super().handle_websocket_subscribe(websocket, data, operation_id, client_context)


def make_error_formatter(debug: bool):
    def format_error(error: GraphQLError, _debug: bool = False) -> dict:
        formatted = ariadne_format_error(error, debug)
        original = error.original_error
        # Our refusals are GraphQLErrors written for the caller. Anything else is a bug or a
        # backend failure whose text may reveal internals: logged, and hidden in production.
        if original is not None and not isinstance(original, GraphQLError):
            log.error("resolver failed at %s", error.path, exc_info=original)
            if not debug:
                formatted["message"] = "Internal server error"
                formatted["extensions"] = {"code": "INTERNAL"}
        return formatted

    return format_error


def create_app(settings: GatewaySettings, *, backends: Backends | None = None) -> Starlette:
    """The gateway as an ASGI app; backends default to the ones the settings describe."""
    backends = backends or Backends(settings)
    safelist = load_safelist(settings.persisted_queries_path)
    debug = not settings.production
    documents = DocumentCache()

    def context_value(request, _data) -> RequestContext:
        return RequestContext.create(backends, request.scope[PRINCIPAL_KEY])

    graphql_app = GraphQL(
        build_schema(),
        context_value=context_value,
        validation_rules=validation_rules(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_operations=settings.max_batch,
            max_cost=settings.max_cost,
            # In development the explorer's introspection query (13 levels) must pass.
            skip_introspection=debug,
        ),
        query_parser=documents.parse,
        query_validator=documents.validate,
        debug=debug,
        introspection=debug,
        error_formatter=make_error_formatter(debug),
        http_handler=GatewayHTTPHandler(backends, safelist),
        websocket_handler=GatewayWSHandler(backends, safelist),
    )

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    public_host = settings.public_host.strip().lower()

    async def metrics(request: Request) -> Response:
        # Prometheus scrapes the pod directly; a request addressed to the public host came
        # through the Ingress, which publishes / (the web UI) and so would publish this too.
        if public_host and (request.url.hostname or "").lower() == public_host:
            return PlainTextResponse("Not Found", status_code=404)
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        try:
            yield
        finally:
            await backends.close()

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            Route("/graphql", graphql_app.handle_request, methods=["GET", "POST", "OPTIONS"]),
            WebSocketRoute("/graphql", graphql_app.handle_websocket),
            # Last, so the API paths above always win; index.html for client-side routes.
            Mount("/", app=WebUI(settings.ui_dir)),
        ],
        # The UI's scripts and a page of deployments are text that shrinks 3-5x; compressing
        # here serves clients reaching the gateway without an Ingress that compresses (the local
        # stack, port-forwards). WebSockets pass through untouched.
        middleware=[Middleware(GZipMiddleware, minimum_size=1024)],
        lifespan=lifespan,
    )
    app.state.backends = backends
    return app
