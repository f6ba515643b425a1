"""The gateway serves the built web UI at / (scia.gateway.webui): hashed assets cached for a
year, index.html never cached and returned for client-side routes, the API paths never shadowed,
and a clear page when no build is configured. Runs the real app on uvicorn over loopback."""

from __future__ import annotations

import contextlib
from pathlib import Path

import aiohttp
import pytest
from scia.gateway.config import GatewaySettings
from scia.gateway.webui import classify, resolve_file

from tests.gateway.conftest import running_gateway
from tests.helpers import free_port

KEY = "webui-tests-shared-key-0123456789abcdef"
INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head></html>'


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A build folder shaped like Vite's output, and a secret next to it that must stay private."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-abc123.js").write_text("console.log('scia')")
    (dist / "robots.txt").write_text("User-agent: *\n")
    (tmp_path / "secret.txt").write_text("not for the web")
    return dist


@contextlib.asynccontextmanager
async def gateway(ui_dir: Path | None):
    settings = GatewaySettings(
        http_host="127.0.0.1", http_port=free_port(), metrics_port=0, jwt_shared_key=KEY,
        kubernetes_url="http://127.0.0.1:9", ui_dir=ui_dir,
    )
    async with running_gateway(settings) as url, aiohttp.ClientSession(url) as session:
        yield session


def test_paths_are_classified_so_the_api_is_never_shadowed():
    assert classify("/graphql") == classify("/graphql/x") == classify("/healthz") == classify("/metrics") == "reserved"
    assert classify("/graphqlish") == "route"
    assert classify("/assets/index-abc.js") == "asset"
    assert classify("/") == classify("/deployments/team-a/shop") == "route"
    assert classify("/robots.txt") == "file"


def test_files_outside_the_build_are_never_resolved(build: Path):
    root = build.resolve()
    assert resolve_file(root, "/robots.txt") == root / "robots.txt"
    assert resolve_file(root, "/../secret.txt") is None
    assert resolve_file(root, "/assets/../../secret.txt") is None
    assert resolve_file(root, "/assets") is None  # a folder is not a file
    assert resolve_file(root, "/nothing.js") is None


async def test_the_built_ui_is_served_with_the_right_caching(build: Path):
    async with gateway(build) as http:
        async with http.get("/") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/html")
            assert response.headers["Cache-Control"] == "no-cache"
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            assert await response.text() == INDEX
        # A reload on a client-side route gets the app, which then renders that route.
        async with http.get("/deployments/team-a/flask-shop") as response:
            assert response.status == 200 and await response.text() == INDEX
            assert response.headers["Cache-Control"] == "no-cache"
        async with http.get("/assets/index-abc123.js") as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert "javascript" in response.headers["Content-Type"]
        async with http.get("/robots.txt") as response:
            assert response.status == 200 and response.headers["Cache-Control"] == "public, max-age=3600"
        # A missing hashed asset (an old tab after a deploy) fails loudly, not with HTML.
        async with http.get("/assets/index-old.js") as response:
            assert response.status == 404 and "html" not in response.headers["Content-Type"]
        async with http.get("/%2e%2e/secret.txt") as response:
            assert response.status == 404
        async with http.post("/deployments") as response:
            assert response.status == 405


async def test_text_is_compressed_for_clients_that_accept_it(build: Path):
    script = "export function render(deployment) { return deployment.name; }\n" * 200
    (build / "assets" / "app-def456.js").write_text(script)
    async with gateway(build) as http:
        async with http.get("/assets/app-def456.js", headers={"Accept-Encoding": "gzip"}) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert int(response.headers["Content-Length"]) < len(script) // 4
            assert await response.text() == script  # aiohttp decompresses
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        async with http.get("/assets/app-def456.js", headers={"Accept-Encoding": "identity"}) as response:
            assert "Content-Encoding" not in response.headers and await response.text() == script
        # Small answers are not worth compressing.
        async with http.get("/healthz", headers={"Accept-Encoding": "gzip"}) as response:
            assert "Content-Encoding" not in response.headers


async def test_the_api_paths_still_belong_to_the_api(build: Path):
    async with gateway(build) as http:
        async with http.get("/healthz") as response:
            assert await response.json() == {"status": "ok"}
        async with http.get("/metrics") as response:
            assert "scia_gateway_requests_total" in await response.text()
        async with http.post("/graphql", json={"query": "{ me { user } }"}) as response:
            assert response.status == 401  # the API answered, not the UI
        async with http.get("/graphql/nope") as response:
            assert response.status == 404 and await response.text() == "Not Found"


@pytest.mark.parametrize("configured", [False, True], ids=["unset", "missing-index"])
async def test_without_a_build_the_root_says_how_to_build_it(tmp_path: Path, configured: bool):
    async with gateway(tmp_path / "empty" if configured else None) as http:
        for path in ("/", "/deployments/team-a"):
            async with http.get(path) as response:
                text = await response.text()
                assert response.status == 404
                assert "The SCIA web UI is not built" in text
                assert "make ui" in text and "SCIA_GATEWAY_UI_DIR" in text
                assert ("has no index.html" in text) if configured else ("is not set" in text)
        async with http.get("/healthz") as response:
            assert response.status == 200
