"""Build the web UI for the local stack when it is missing or stale.

`npm ci` runs when node_modules is missing or was installed from a different package-lock.json
(a stamp with the lock's hash is kept in node_modules); `npm run build` runs when a source file
is newer than dist/index.html. Without npm, the stack runs without the UI and says so.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

UI_PATH = Path("services/gateway/ui")
STAMP = ".scia-package-lock.sha256"
# What a build depends on; node_modules and dist are outputs, never inputs.
SOURCES = ("src", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json", "public")


def lock_hash(ui_root: Path) -> str:
    return hashlib.sha256((ui_root / "package-lock.json").read_bytes()).hexdigest()


def needs_install(ui_root: Path) -> bool:
    stamp = ui_root / "node_modules" / STAMP
    return not stamp.is_file() or stamp.read_text().strip() != lock_hash(ui_root)


def source_files(ui_root: Path) -> Iterable[Path]:
    for name in SOURCES:
        path = ui_root / name
        if path.is_dir():
            yield from (p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path


def needs_build(ui_root: Path) -> bool:
    index = ui_root / "dist" / "index.html"
    if not index.is_file():
        return True
    built = index.stat().st_mtime
    return any(path.stat().st_mtime > built for path in source_files(ui_root))


def ensure_ui(ui_root: Path, report: Callable[[str], None] = print, npm: str | None = None) -> Path | None:
    """The built UI's folder (dist), building it first if needed; None when it cannot be built."""
    if not (ui_root / "package.json").is_file():
        report(f"  web UI     not found at {ui_root}: the gateway serves the API only")
        return None
    install, build = needs_install(ui_root), needs_build(ui_root)
    if not install and not build:
        report(f"  web UI     up to date ({ui_root / 'dist'})")
        return ui_root / "dist"
    npm = npm or shutil.which("npm")
    if npm is None:
        report("  web UI     npm was not found, so the UI is not built: install Node.js 20.19+ and npm, "
               "then run `make ui`. The stack continues without the UI (GraphQL works).")
        return (ui_root / "dist") if (ui_root / "dist" / "index.html").is_file() else None
    steps = ([[npm, "ci", "--no-audit", "--no-fund"]] if install else []) + [[npm, "run", "build"]]
    for step in steps:
        report(f"  web UI     {' '.join(step[1:3])} in {ui_root} ...")
        result = subprocess.run(step, cwd=ui_root, capture_output=True, text=True)
        if result.returncode != 0:
            # npm puts the cause first (then its usage text); tsc and vite print errors throughout.
            lines = (result.stderr + result.stdout).strip().splitlines()
            tail = "\n".join(lines[:12] + (["..."] + lines[-6:] if len(lines) > 18 else lines[12:]))
            report(f"  web UI     `npm {' '.join(step[1:])}` failed (exit {result.returncode}); "
                   f"the stack continues without the UI:\n{tail}")
            return None
        if step[1] == "ci":
            (ui_root / "node_modules" / STAMP).write_text(lock_hash(ui_root))
    report(f"  web UI     built into {ui_root / 'dist'}")
    return ui_root / "dist"
