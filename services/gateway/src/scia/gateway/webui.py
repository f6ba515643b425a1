"""The web UI's static files, served by the gateway (no Node at run time).

The UI is a single-page app built by Vite into `dist/`: `index.html` plus content-hashed files
under `assets/`. `WebUI` is mounted at `/` *after* the API routes, so /graphql, /healthz and
/metrics always win. For every other GET:

- a file that exists in the build is served; hashed assets (`/assets/...`) never change under
  their name, so browsers may keep them for a year; other files (favicon) for an hour;
- a path that looks like a client route (no file extension, not under /assets/) gets index.html,
  so a reload on /deployments/team-a/shop works; index.html is never cached, so a new build
  is picked up at the next load;
- anything else is a 404 (a missing hashed asset must fail loudly, not return HTML).

When no build is configured or found, every UI path answers with a page that says so and how
to build it, instead of a bare 404.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

# Paths the API owns; the UI never answers under them, even when a route does not match
# (e.g. /graphql/x), so a typo in an API URL is a 404 and not the app's HTML.
RESERVED_PREFIXES = ("/graphql", "/healthz", "/metrics")
ASSETS_PREFIX = "/assets/"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=3600"
NO_CACHE = "no-cache"
# The app loads only its own scripts and styles and talks only to this origin (HTTP + WebSocket).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
}

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SCIA: web UI not built</title></head>
<body style="font-family: sans-serif; max-width: 44rem; margin: 3rem auto; line-height: 1.5">
<h1>The SCIA web UI is not built</h1>
<p>{reason}</p>
<p>Build it and point the gateway at the result:</p>
<pre>make ui      # or: cd services/gateway/ui &amp;&amp; npm ci &amp;&amp; npm run build
export SCIA_GATEWAY_UI_DIR=$PWD/services/gateway/ui/dist</pre>
<p><code>make up</code> does both. The GraphQL API is at <a href="/graphql">/graphql</a>.</p>
</body></html>
"""


def ui_status(ui_dir: Path | None) -> tuple[Path | None, str]:
    """The usable build folder (or None) and a sentence saying why not."""
    if ui_dir is None:
        return None, "SCIA_GATEWAY_UI_DIR is not set."
    if not (ui_dir / "index.html").is_file():
        return None, f"SCIA_GATEWAY_UI_DIR is {ui_dir}, but it has no index.html."
    return ui_dir.resolve(), ""


def classify(path: str) -> str:
    """What a request path is for: 'reserved', 'asset', 'route' (client-side) or 'file'."""
    if any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED_PREFIXES):
        return "reserved"
    if path.startswith(ASSETS_PREFIX):
        return "asset"
    name = PurePosixPath(path).name
    return "file" if "." in name else "route"


def resolve_file(root: Path, path: str) -> Path | None:
    """The file under root that path names, or None (also for anything escaping root)."""
    relative = path.lstrip("/")
    if not relative or "\x00" in relative:
        return None
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


class WebUI:
    """ASGI app serving the built UI (see the module docstring)."""

    def __init__(self, ui_dir: Path | None) -> None:
        self.root, self.reason = ui_status(ui_dir)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a WebSocket anywhere but /graphql
            await send({"type": "websocket.close", "code": 1008})
            return
        response = self.respond(scope["method"], scope["path"])
        await response(scope, receive, send)

    def respond(self, method: str, path: str) -> Response:
        kind = classify(path)
        if kind == "reserved":
            return PlainTextResponse("Not Found", status_code=404)
        if method not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"})
        if self.root is None:
            return HTMLResponse(NOT_BUILT.format(reason=self.reason), status_code=404, headers={"Cache-Control": NO_CACHE})
        if kind == "route" or path == "/":
            return self._index()
        found = resolve_file(self.root, path)
        if found is None:
            return PlainTextResponse("Not Found", status_code=404, headers={"Cache-Control": NO_CACHE})
        if found.name == "index.html":
            return self._index()
        cache = IMMUTABLE if kind == "asset" else SHORT
        return FileResponse(found, headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})

    def _index(self) -> Response:
        return FileResponse(
            self.root / "index.html", media_type="text/html", headers={"Cache-Control": NO_CACHE, **SECURITY_HEADERS}
        )
