"""A real OpenAI-compatible chat-completions server for the planner's LLM tests.

An aiohttp web application on loopback speaking `POST /v1/chat/completions` as OpenAI, vLLM and
Ollama do (bearer auth, `response_format`, `choices[0].message.content`, `finish_reason`,
`{"error": {"message": ...}}` bodies). Each test scripts its answers:

    async with llm_server(api_key="sk-test") as server:
        server.script(Reply.json({...}))                # one answer, then the default
        server.responder = lambda body: Reply.json(...)  # computed from the request
        ... settings(llm_base_url=server.base_url, llm_model="m", llm_api_key="sk-test") ...
        server.requests[0]["messages"]                 # what the planner sent

A Reply can be valid or malformed JSON content, a truncated answer (finish_reason "length"), a
refusal, an HTTP error status (500, 429, ...), a raw non-chat body, or slow (delay seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiohttp import web

CHAT_PATH = "/v1/chat/completions"
FAKE: web.AppKey[FakeLlm] = web.AppKey("fake", object)


@dataclass
class Reply:
    content: str | None = ""
    status: int = 200
    delay: float = 0.0
    finish_reason: str = "stop"
    refusal: str | None = None
    raw: bytes | None = None  # sent as the whole body instead of a chat completion
    error: str = ""  # message of an OpenAI-style error body for non-200 statuses

    @classmethod
    def json(cls, answer: object, **options) -> Reply:
        return cls(content=json.dumps(answer), **options)

    @classmethod
    def failure(cls, status: int, message: str) -> Reply:
        return cls(content=None, status=status, error=message)


@dataclass
class FakeLlm:
    base_url: str = ""
    api_key: str = ""
    # Answer 400 to response_format json_schema, as older endpoints do.
    reject_json_schema: bool = False
    responder: Callable[[dict], Reply] | None = None
    requests: list[dict] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _script: deque[Reply] = field(default_factory=deque)

    def script(self, *replies: Reply) -> None:
        self._script.extend(replies)

    def next_reply(self, body: dict) -> Reply:
        if self._script:
            return self._script.popleft()
        if self.responder is not None:
            return self.responder(body)
        return Reply.failure(500, "no reply scripted for this request")

    @staticmethod
    def data_block(body: dict) -> dict:
        """The JSON data the planner put between its markers in the user message."""
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        start = user.index(">\n", user.index("<scia-data-")) + 2
        end = user.rindex("\n</scia-data-")
        return json.loads(user[start:end])


async def _handle(request: web.Request) -> web.StreamResponse:
    fake = request.app[FAKE]
    fake.headers.append(dict(request.headers))
    if fake.api_key and request.headers.get("Authorization") != f"Bearer {fake.api_key}":
        return web.json_response({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}, status=401)
    try:
        body = await request.json()
    except json.JSONDecodeError:
        return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
    fake.requests.append(body)
    if not isinstance(body.get("messages"), list) or not body.get("model"):
        return web.json_response({"error": {"message": "model and messages are required"}}, status=400)
    response_format = body.get("response_format") or {}
    if fake.reject_json_schema and response_format.get("type") == "json_schema":
        return web.json_response({"error": {"message": "response_format type json_schema is not supported by this model"}}, status=400)
    reply = fake.next_reply(body)
    if reply.delay:
        await asyncio.sleep(reply.delay)
    if reply.raw is not None:
        return web.Response(body=reply.raw, status=reply.status, content_type="application/json")
    if reply.status != 200:
        return web.json_response({"error": {"message": reply.error or "error", "type": "server_error"}}, status=reply.status)
    message: dict = {"role": "assistant", "content": reply.content}
    if reply.refusal is not None:
        message["refusal"] = reply.refusal
    return web.json_response({
        "id": f"chatcmpl-{len(fake.requests)}", "object": "chat.completion", "created": 1_700_000_000, "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    })


@contextlib.asynccontextmanager
async def llm_server(**options) -> AsyncIterator[FakeLlm]:
    """The server on a free loopback port; FakeLlm.base_url is what SCIA_PLANNER_LLM_BASE_URL would be."""
    fake = FakeLlm(**options)
    app = web.Application()
    app[FAKE] = fake
    app.router.add_post(CHAT_PATH, _handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base_url = f"http://{host}:{port}/v1"
    try:
        yield fake
    finally:
        await runner.cleanup()
