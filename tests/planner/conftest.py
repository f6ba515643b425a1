"""Fixtures of the planner tests: small real git repositories made on the fly."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "SCIA Tests",
    "GIT_AUTHOR_EMAIL": "tests@scia.invalid",
    "GIT_COMMITTER_NAME": "SCIA Tests",
    "GIT_COMMITTER_EMAIL": "tests@scia.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True, env=GIT_ENV).stdout.strip()


def write_files(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def make_git_repo(folder: Path, files: dict[str, str | bytes], *, branch: str = "main", message: str = "initial") -> Path:
    """A real repository: git init, the files, one commit on `branch`."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", branch, str(folder)], check=True, env=GIT_ENV)
    write_files(folder, files)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", message)
    return folder


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1_000_000))

    def factory(files: dict[str, str | bytes], **options) -> Path:
        return make_git_repo(tmp_path / f"repo{next(counter)}", files, **options)

    return factory
