"""Fixtures of the end-to-end UI tests: the whole local stack (`scia-dev up`'s services, started
with scia.devstack.stack, each its own process on loopback) serving the built UI, and Debian's
headless Chromium driven by Playwright (the Python package, with an explicit executable path;
Playwright's own browser download does not work here).

Everything is made once per module: the stack takes ~20 s to start (the embedder loads a model).
Tests run in file order and build on each other's deployments, as a user's session would.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import free_ports

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# A fresh profile per launch (Playwright makes one) and nothing that phones home.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


@dataclass
class Stack:
    url: str
    kubernetes_url: str
    shared_key: str
    stack: object
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, user: str, *groups: str) -> str:
        from scia.gateway.auth import issue_token

        return issue_token(self.shared_key, user, list(groups), ttl_seconds=3600)

    def gql(self, token: str, query: str, **variables) -> dict:
        """The raw GraphQL answer (data and errors), over plain HTTP like any client."""
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read())

    def data(self, token: str, query: str, **variables) -> dict:
        answer = self.gql(token, query, **variables)
        assert not answer.get("errors"), answer
        return answer["data"]

    def kube(self, method: str, path: str, body: dict | None = None, content_type: str = "application/json") -> dict | None:
        request = urllib.request.Request(
            f"{self.kubernetes_url}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise


def wait_for(what: str, probe: Callable[[], object], timeout: float = 120.0, interval: float = 0.3):
    """probe() until it returns something truthy; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last value: {last!r}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    from scia.devstack.stack import LocalStack, default_services
    from scia.devstack.webui import UI_PATH, ensure_ui

    if shutil.which("npm") is None:
        pytest.fail("npm is needed to build the web UI for the end-to-end tests (make test installs what it can)")
    lines: list[str] = []
    dist = ensure_ui(ROOT / UI_PATH, report=lines.append)
    assert dist is not None, "building the web UI failed:\n" + "\n".join(lines)
    state_dir = tmp_path_factory.mktemp("ui-stack")
    # Six gRPC/HTTP ports and four metrics ports, each block consecutive from its base.
    services = default_services(state_dir, free_ports(6), free_ports(4), ui_dir=dist)
    local = LocalStack(services, state_dir)
    try:
        local.start(report=lambda _line: None)
        gateway = local.spec("gateway")
        yield Stack(
            url=f"http://{gateway.target}",
            kubernetes_url=f"http://{local.spec('kubernetes').target}",
            shared_key=gateway.env["SCIA_GATEWAY_JWT_SHARED_KEY"],
            stack=local,
        )
    finally:
        local.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Pages:
    """Browser pages that record console errors and uncaught exceptions, checked after each test."""

    def __init__(self, browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts = []
        self.errors: list[str] = []
        self.allowed: list[str] = []
        # Every WebSocket frame the pages received, recorded from page creation on: the UI opens
        # its graphql-ws connection at sign-in and reuses it across screens, so a listener added
        # later in a test would miss it.
        self.frames: list[str] = []

    def new(self, *, width: int = 1280, height: int = 900):
        context = self.browser.new_context(viewport={"width": width, "height": height}, base_url=self.base_url)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: message.type == "error" and self.errors.append(f"console: {message.text}"))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: self.frames.append(str(payload))))
        return page

    def sign_in(self, token: str, *, width: int = 1280, height: int = 900):
        page = self.new(width=width, height=height)
        page.goto("/")
        page.get_by_label("Access token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_test_id("user").wait_for()
        return page

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(allowed in e for allowed in self.allowed)]

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser, stack) -> Iterator[Pages]:
    opened = Pages(browser, stack.url)
    try:
        yield opened
        assert opened.unexpected_errors() == [], "the browser logged errors"
    finally:
        opened.close()


def screenshot(page, name: str, *, max_height: int = 2400, **options) -> None:
    """A PNG for the docs, kept small: at most max_height pixels tall, reduced to 64 colours
    (UI screenshots are flat colours and text; this makes them ~4x smaller)."""
    import io

    from PIL import Image

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if options.get("full_page"):
        height = page.evaluate("document.documentElement.scrollHeight")
        options["clip"] = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": min(height, max_height)}
    image = Image.open(io.BytesIO(page.screenshot(**options))).convert("RGB")
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(SCREENSHOTS / f"{name}.png", optimize=True)
