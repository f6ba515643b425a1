"""Tricky repositories and the clone layer's limits, on real git repositories."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from scia.planner.analysis import CloneLimits, ReadLimits, analyze_repository
from scia.planner.analysis.clone import parse_source, validate_ref, validate_subdirectory
from scia.planner.errors import CloneTimeout, InvalidSource, SourceNotFound, SourceTooLarge
from scia.v1 import common_pb2
from tests.planner.conftest import git

T = common_pb2.TraitKind


async def analyze(url: str, ref: str = "", subdirectory: str = "", *, allow_local: bool = True,
                  clone: CloneLimits = CloneLimits(timeout_seconds=30), read: ReadLimits = ReadLimits()):
    return await analyze_repository(common_pb2.RepositoryRef(url=url, ref=ref, subdirectory=subdirectory),
                                    allow_local=allow_local, clone_limits=clone, read_limits=read)


MONOREPO = {
    "package.json": '{"name": "mono", "private": true, "workspaces": ["apps/*", "packages/*"]}\n',
    "apps/web/package.json": '{"name": "web", "scripts": {"start": "next start"}, "dependencies": {"next": "14.2.0"}}\n',
    "apps/web/next.config.mjs": "export default {}\n",
    "apps/api/pyproject.toml": '[project]\nname = "api"\ndependencies = ["fastapi>=0.110", "uvicorn", "asyncpg"]\n',
    "apps/api/app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
    "apps/api/Dockerfile": "FROM python:3.12-slim\nEXPOSE 8000\nCMD [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\"]\n",
    "services/worker/requirements.txt": "celery[redis]==5.4.0\n",
    "services/worker/worker.py": "from celery import Celery\ncelery = Celery('w')\n",
    "packages/ui/package.json": '{"name": "ui", "dependencies": {"react": "^18"}}\n',
    "docs/requirements.txt": "mkdocs\n",
    "docker-compose.yml": "services:\n  api:\n    build: ./apps/api\n    ports: ['8000:8000']\n  worker:\n    build: ./services/worker\n    command: celery -A worker worker\n  db:\n    image: postgres:16-alpine\n  broker:\n    image: rabbitmq:3-management\n",
}


async def test_monorepo_finds_every_app_and_the_compose_services(make_repo):
    analysis = await analyze(str(make_repo(MONOREPO)))
    apps = {a.path: a for a in analysis.applications}
    assert set(apps) == {"apps/web", "apps/api", "services/worker", "packages/ui"}
    assert apps["apps/web"].framework == "nextjs"
    assert apps["apps/api"].framework == "fastapi" and apps["apps/api"].has_dockerfile
    assert apps["apps/api"].ports[0].number == 8000
    assert apps["services/worker"].framework == "celery"
    assert apps["packages/ui"].framework == ""
    assert analysis.applications[0].path in ("apps/api", "apps/web")  # a web framework is primary
    assert analysis.has_compose
    assert {(b.kind, b.name) for b in analysis.backing_services} >= {("postgres", "db"), ("rabbitmq", "broker")}
    assert any("applications found" in w for w in analysis.warnings)


async def test_subdirectory_analyses_one_app_of_a_monorepo(make_repo):
    analysis = await analyze(str(make_repo(MONOREPO)), subdirectory="apps/api")
    assert [a.framework for a in analysis.applications] == ["fastapi"]
    assert analysis.repository.subdirectory == "apps/api"
    with pytest.raises(SourceNotFound, match="subdirectory"):
        await analyze(str(make_repo(MONOREPO)), subdirectory="apps/missing")


async def test_no_framework_python_script(make_repo):
    analysis = await analyze(str(make_repo({"main.py": "print('hello')\n", "requirements.txt": "requests==2.32.0\n"})))
    app = analysis.applications[0]
    assert (app.language, app.framework) == ("python", "")
    assert app.confidence < 0.5
    assert app.framework_evidence[0].rule == "language.manifest"


async def test_dockerfile_only_repository(make_repo):
    files = {
        "Dockerfile": "ARG PY=3.12\nFROM python:${PY}-slim AS base\nRUN pip install --no-cache-dir flask==3.0.3 gunicorn\n"
                      "COPY app.py .\nEXPOSE 8080\nHEALTHCHECK CMD curl -f http://localhost:8080/ping || exit 1\n"
                      "CMD [\"gunicorn\", \"-b\", \"0.0.0.0:8080\", \"app:app\"]\n",
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
    }
    app = (await analyze(str(make_repo(files)))).applications[0]
    assert (app.language, app.framework, app.has_dockerfile) == ("python", "flask", True)
    assert app.runtime_version == "3.12"
    assert app.ports[0].number == 8080 and app.ports[0].evidence.rule == "port.dockerfile-expose"
    assert app.start_command == "gunicorn -b 0.0.0.0:8080 app:app"
    assert any(d.name == "flask" and d.evidence.rule == "docker.run-install" for d in app.dependencies)
    health = next(t for t in app.traits if t.kind == T.TRAIT_KIND_HEALTH_ENDPOINT)
    assert health.value == "/ping"


async def test_conflicting_signals_are_resolved_by_code_and_warned_about(make_repo):
    files = {
        "requirements.txt": "flask==3.0.0\ndjango==5.0\n",
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
    }
    analysis = await analyze(str(make_repo(files)))
    app = analysis.applications[0]
    assert app.framework == "flask"
    conflict = next(w for w in analysis.warnings if w.startswith("conflicting framework signals"))
    assert "django" in conflict and "requirements.txt:2" in conflict
    assert app.confidence < 0.9


async def test_symlink_out_of_the_repository_is_not_followed(make_repo, tmp_path):
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("TOP-SECRET-MARKER\n")
    outside_dir = tmp_path / "outside-dir"
    outside_dir.mkdir()
    (outside_dir / "requirements.txt").write_text("django\n")
    repo = make_repo({"requirements.txt": "flask\n", "app.py": "from flask import Flask\napp = Flask(__name__)\n"})
    os.symlink(secret, repo / "config.txt")
    os.symlink(outside_dir, repo / "linked")
    os.symlink("app.py", repo / "alias.py")  # inside: harmless
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "links")
    analysis = await analyze(str(repo))
    text = str(analysis)
    assert "TOP-SECRET-MARKER" not in text and "django" not in text.lower()
    assert any("config.txt: symbolic link points outside" in w for w in analysis.warnings)
    assert analysis.applications[0].framework == "flask"


def test_local_loader_never_reads_through_outside_links(tmp_path):
    from scia.planner.analysis.files import load_files

    (tmp_path / "outside.py").write_text("SECRET = 1\n")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "ok.py").write_text("x = 1\n")
    os.symlink(tmp_path / "outside.py", root / "leak.py")
    os.symlink(tmp_path, root / "up")
    os.mkfifo(root / "pipe.txt")  # must not block the loader
    files = load_files(root)
    assert set(files.texts) == {"ok.py"}
    assert sum("outside the repository" in w for w in files.warnings) == 2


async def test_oversized_file_is_listed_not_read(make_repo):
    repo = make_repo({"requirements.txt": "flask\n", "app.py": "from flask import Flask\n", "big.json": "[" + "1," * 5000 + "1]"})
    analysis = await analyze(str(repo), read=ReadLimits(max_file_bytes=4096))
    assert any("big.json" in w and "per-file limit of 4096" in w for w in analysis.warnings)
    assert analysis.applications[0].framework == "flask"


async def test_oversized_repository_is_refused(make_repo):
    repo = make_repo({"app.py": "x = 1\n", "data.txt": "y" * 200_000})
    with pytest.raises(SourceTooLarge, match="over the limit of 100000 bytes"):
        await analyze(str(repo), clone=CloneLimits(max_bytes=100_000))


async def test_refs_branch_tag_and_commit(make_repo):
    repo = make_repo({"app.py": "from flask import Flask\napp = Flask(__name__)\n", "requirements.txt": "flask\n"})
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "v1.0")
    git(repo, "checkout", "-q", "-b", "next")
    (repo / "requirements.txt").write_text("fastapi\n")
    (repo / "app.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    git(repo, "commit", "-q", "-am", "switch")
    assert (await analyze(repo.as_uri(), "next")).applications[0].framework == "fastapi"
    tagged = await analyze(repo.as_uri(), "v1.0")
    assert tagged.applications[0].framework == "flask" and tagged.repository.commit_sha == first
    assert (await analyze(str(repo), first)).repository.commit_sha == first
    with pytest.raises(SourceNotFound, match="ref 'nope' not found"):
        await analyze(str(repo), "nope")


async def test_missing_and_refused_sources(tmp_path, make_repo):
    with pytest.raises(SourceNotFound, match="does not exist"):
        await analyze(str(tmp_path / "absent"))
    not_git = tmp_path / "plain"
    not_git.mkdir()
    with pytest.raises(SourceNotFound, match="unreachable or does not exist"):
        await analyze(str(not_git))
    repo = make_repo({"a.py": "x = 1\n"})
    with pytest.raises(InvalidSource, match="local repository paths are disabled"):
        await analyze(str(repo), allow_local=False)
    with pytest.raises(InvalidSource, match="disabled"):
        await analyze(repo.as_uri(), allow_local=False)


async def test_clone_time_limit_kills_git(tmp_path, make_repo):
    slow_git = tmp_path / "slow-git"
    slow_git.write_text("#!/bin/sh\nexec sleep 30\n")
    slow_git.chmod(slow_git.stat().st_mode | stat.S_IEXEC)
    repo = make_repo({"a.py": "x = 1\n"})
    with pytest.raises(CloneTimeout, match="time limit of 0.5 s"):
        await analyze(str(repo), clone=CloneLimits(timeout_seconds=0.5, git=str(slow_git)))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("http://example.com/a/b.git", "scheme 'http' is not accepted"),
        ("ftp://example.com/a.git", "not accepted"),
        ("ext::sh -c touch% /tmp/pwned", "whitespace"),
        ("--upload-pack=touch /tmp/x", "whitespace"),
        ("-oProxyCommand=x", "must not start with '-'"),
        ("https://user:token@example.com/a/b.git", "credentials"),
        ("https:///nohost", "no valid host"),
        ("https://example.com/a/../../b", "no valid repository path"),
        ("https://example.com", "no valid repository path"),
        ("https://example.com/a/b?x=1", "query"),
        ("not a url", "whitespace"),
        ("example.com/a/b", "neither an https"),
        ("git@host:../etc", "'..'"),
        ("https://example.com/" + "a" * 3000, "over the limit"),
    ],
)
def test_malformed_urls_are_refused(url, message):
    with pytest.raises(InvalidSource, match=message):
        parse_source(url, allow_local=True)


def test_accepted_remote_urls():
    for url in ("https://github.com/org/repo.git", "https://gitlab.example.com:8443/group/sub/repo",
                "git@github.com:org/repo.git", "ssh://git@example.com:2222/org/repo.git"):
        assert parse_source(url, allow_local=False).kind == "remote"


@pytest.mark.parametrize("ref", ["-x", "a..b", "a b", "refs/heads/", "x.lock", "--upload-pack=x", "a\\b", "é", "@{-1}"])
def test_malformed_refs_are_refused(ref):
    with pytest.raises(InvalidSource, match="not a valid branch, tag or commit"):
        validate_ref(ref)


def test_valid_refs_and_subdirectories():
    assert validate_ref("release/1.2") == "release/1.2"
    assert validate_ref("a" * 40) == "a" * 40
    assert validate_subdirectory("/apps/api/") == "apps/api"
    for bad in ("../x", "a/../../b", "~root"):
        with pytest.raises(InvalidSource):
            validate_subdirectory(bad)


def test_loader_caps_the_number_of_files(tmp_path: Path):
    from scia.planner.analysis.files import load_files

    for i in range(30):
        (tmp_path / f"m{i:02}.py").write_text("x = 1\n")
    files = load_files(tmp_path, ReadLimits(max_files=10))
    assert len(files.texts) == 10 and len(files.paths) == 30
    assert any("max_files" in w for w in files.warnings)
