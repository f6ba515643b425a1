"""scia-dev up builds the web UI only when needed (scia.devstack.webui): npm ci when the lock
changed, npm run build when a source is newer than the build, and without npm it says so and
carries on. The real build runs in the end-to-end tests; here a tiny UI folder is enough."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from scia.devstack.webui import STAMP, ensure_ui, lock_hash, needs_build, needs_install


@pytest.fixture
def ui(tmp_path: Path) -> Path:
    root = tmp_path / "ui"
    (root / "src").mkdir(parents=True)
    (root / "package.json").write_text('{"name": "x"}')
    (root / "package-lock.json").write_text('{"lockfileVersion": 3}')
    (root / "src" / "main.tsx").write_text("export {};")
    return root


def age(path: Path, seconds: float) -> None:
    """Make a file look `seconds` old (mtime granularity differs between filesystems)."""
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_install_is_needed_until_node_modules_matches_the_lock(ui: Path):
    assert needs_install(ui)  # no node_modules
    (ui / "node_modules").mkdir()
    assert needs_install(ui)  # installed by hand: no stamp, so not known to match
    (ui / "node_modules" / STAMP).write_text(lock_hash(ui))
    assert not needs_install(ui)
    (ui / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {}}')
    assert needs_install(ui)


def test_build_is_needed_when_a_source_is_newer_than_the_build(ui: Path):
    assert needs_build(ui)  # never built
    for path in (ui / "package.json", ui / "package-lock.json", ui / "src" / "main.tsx"):
        age(path, 60)
    (ui / "dist").mkdir()
    (ui / "dist" / "index.html").write_text("<html></html>")
    assert not needs_build(ui)
    (ui / "src" / "nested").mkdir()
    (ui / "src" / "nested" / "new.tsx").write_text("export {};")
    assert needs_build(ui)


def fake_npm(folder: Path, script: str) -> str:
    npm = folder / "npm"
    npm.write_text("#!/bin/sh\n" + script)
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    return str(npm)


def test_without_npm_the_stack_goes_on_without_the_ui(ui: Path, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    lines: list[str] = []
    assert ensure_ui(ui, report=lines.append) is None
    assert "npm was not found" in lines[-1] and "make ui" in lines[-1]


def test_a_failed_build_is_reported_with_its_output(ui: Path, tmp_path: Path):
    npm = fake_npm(tmp_path, 'if [ "$1" = ci ]; then mkdir -p node_modules; exit 0; fi\necho "src/App.tsx(3,1): error TS1005" >&2; exit 2\n')
    lines: list[str] = []
    assert ensure_ui(ui, report=lines.append, npm=npm) is None
    assert lines[0].endswith(f"ci --no-audit in {ui} ...")
    assert "`npm run build` failed (exit 2)" in lines[-1] and "error TS1005" in lines[-1]
    # npm ci succeeded, so its stamp is there and the next run only builds.
    assert not needs_install(ui)


def test_a_successful_build_is_used_and_then_left_alone(ui: Path, tmp_path: Path):
    for path in (ui / "package.json", ui / "package-lock.json", ui / "src" / "main.tsx"):
        age(path, 60)
    npm = fake_npm(tmp_path, 'if [ "$1" = ci ]; then mkdir -p node_modules; else mkdir -p dist; echo "<html></html>" > dist/index.html; fi\n')
    lines: list[str] = []
    assert ensure_ui(ui, report=lines.append, npm=npm) == ui / "dist"
    assert [line.split(" in ")[0].strip() for line in lines[:2]] == ["web UI     ci --no-audit", "web UI     run build"]
    lines.clear()
    assert ensure_ui(ui, report=lines.append, npm=npm) == ui / "dist"
    assert lines == [f"  web UI     up to date ({ui / 'dist'})"]
