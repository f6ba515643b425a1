"""An in-memory, read-only view of a repository's files, and its safe loading from disk.

Detectors only ever see a `RepoFiles`, so they are pure functions testable without git or a
disk. Loading is the one place that touches the checkout, and it is defensive: the checkout
is untrusted input from a tenant.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Folders that hold vendored, generated or tool state, never the application's own sources.
SKIPPED_DIRS = frozenset(
    {
        ".git", "node_modules", "vendor", ".venv", "venv", "env", "__pycache__", ".tox", ".mypy_cache",
        ".pytest_cache", ".ruff_cache", "target", ".gradle", ".idea", ".vscode", "bin", "obj",
        ".next", ".nuxt", "coverage", ".terraform", "bower_components", ".bundle",
    }
)
# Files worth reading: manifests, code, configuration. Images, archives and data are only listed.
READ_EXTENSIONS = frozenset(
    {
        ".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".vue", ".svelte", ".go", ".java", ".kt",
        ".kts", ".gradle", ".rb", ".ru", ".php", ".rs", ".cs", ".csproj", ".fsproj", ".json", ".toml",
        ".yaml", ".yml", ".xml", ".txt", ".cfg", ".ini", ".properties", ".env", ".html", ".htm",
        ".example", ".sample", ".conf", ".lock",
    }
)
READ_NAMES = frozenset(
    {
        "dockerfile", "containerfile", "procfile", "gemfile", "pipfile", "rakefile", "artisan",
        "makefile", "go.mod", "go.work", ".python-version", ".nvmrc", ".node-version", ".ruby-version",
        "runtime.txt", "crontab", ".env.example", ".env.sample", ".env.template", ".env.dist",
    }
)
# Lock files are large and add nothing the manifests do not say.
UNREAD_NAMES = frozenset(
    {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "cargo.lock", "composer.lock",
     "gemfile.lock", "go.sum", "pipfile.lock", "packages.lock.json"}
)


def wants_content(path: str) -> bool:
    name = posixpath.basename(path).lower()
    if name in UNREAD_NAMES:
        return False
    if name in READ_NAMES or name.startswith(("dockerfile", "containerfile", "requirements", ".env")):
        return True
    return posixpath.splitext(name)[1] in READ_EXTENSIONS


@dataclass
class RepoFiles:
    """Relative POSIX paths -> text of the files that were read, plus every path that was seen."""

    texts: dict[str, str]
    paths: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    size_bytes: int = 0

    def __post_init__(self) -> None:
        self.paths |= set(self.texts)

    @classmethod
    def from_dict(cls, files: dict[str, str]) -> RepoFiles:
        """For tests and callers that already hold the files."""
        return cls(texts=dict(files), size_bytes=sum(len(t.encode()) for t in files.values()))

    def text(self, path: str) -> str | None:
        return self.texts.get(path)

    def exists(self, path: str) -> bool:
        return path in self.paths

    def glob(self, pattern: str, under: str = "") -> list[str]:
        """Read files whose path relative to `under` matches `pattern` (fnmatch, '*' spans '/')."""
        return sorted(p for p in self.texts if _relative(p, under) is not None and fnmatch.fnmatch(_relative(p, under), pattern))

    def under(self, folder: str, exclude: Iterable[str] = ()) -> RepoFiles:
        """The files below `folder`, paths kept relative to the repository root."""
        excluded = tuple(e.rstrip("/") + "/" for e in exclude if e)
        keep = lambda p: _relative(p, folder) is not None and not p.startswith(excluded)  # noqa: E731
        return RepoFiles(
            texts={p: t for p, t in self.texts.items() if keep(p)},
            paths={p for p in self.paths if keep(p)},
        )

    def lines(self, path: str) -> Iterator[tuple[int, str]]:
        """1-based numbered lines of a read file."""
        for number, line in enumerate((self.texts.get(path) or "").splitlines(), start=1):
            yield number, line


def _relative(path: str, folder: str) -> str | None:
    if not folder:
        return path
    prefix = folder.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else None


@dataclass(frozen=True)
class ReadLimits:
    max_files: int = 5000
    max_file_bytes: int = 512 * 1024
    max_total_bytes: int = 32 * 1024 * 1024
    # Paths listed (read or not): bounds memory on repositories with huge generated trees.
    max_listed: int = 50_000


def load_files(root: Path, limits: ReadLimits = ReadLimits()) -> RepoFiles:
    """Read a checkout into a RepoFiles without ever leaving `root`.

    Symbolic links are never followed out of the checkout: a link whose target resolves outside
    is reported and skipped; links inside are read only when they point at a regular file, and
    directory links are not descended (no loops). Files are opened with O_NOFOLLOW so a link
    swapped in after the check is refused too.
    """
    root = root.resolve()
    texts: dict[str, str] = {}
    paths: set[str] = set()
    warnings: list[str] = []
    total = 0
    read_count = 0
    notes = {"files": False, "bytes": False, "listed": False}

    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        rel_dir = Path(directory).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        for d in list(dirnames):
            full = os.path.join(directory, d)
            if os.path.islink(full):
                dirnames.remove(d)  # never descend through a link
                rel = posixpath.join(rel_dir, d)
                if not _inside(root, full):
                    warnings.append(f"{rel}: symbolic link points outside the repository; ignored")
        for name in sorted(filenames):
            rel = posixpath.join(rel_dir, name) if rel_dir else name
            full = os.path.join(directory, name)
            if len(paths) >= limits.max_listed:
                if not notes["listed"]:
                    warnings.append(f"more than {limits.max_listed} files; the rest were not listed")
                    notes["listed"] = True
                break
            if os.path.islink(full):
                if not _inside(root, full):
                    warnings.append(f"{rel}: symbolic link points outside the repository; ignored")
                    continue
                if not os.path.isfile(full):
                    continue
                target = os.path.realpath(full)
            else:
                target = full
            paths.add(rel)
            if not wants_content(rel):
                continue
            if read_count >= limits.max_files:
                if not notes["files"]:
                    warnings.append(f"more than {limits.max_files} files to read; the rest were not read (limit max_files)")
                    notes["files"] = True
                continue
            content = _read_capped(target, rel, limits, warnings)
            if content is None:
                continue
            if total + len(content) > limits.max_total_bytes:
                if not notes["bytes"]:
                    warnings.append(
                        f"read limit of {limits.max_total_bytes} bytes reached; remaining files were not read"
                    )
                    notes["bytes"] = True
                continue
            if b"\x00" in content[:8192]:
                continue  # binary
            texts[rel] = content.decode("utf-8", errors="replace")
            total += len(content)
            read_count += 1
    return RepoFiles(texts=texts, paths=paths, warnings=warnings, size_bytes=total)


def _inside(root: Path, path: str) -> bool:
    real = os.path.realpath(path)
    return real == str(root) or real.startswith(str(root) + os.sep)


def _read_capped(path: str, rel: str, limits: ReadLimits, warnings: list[str]) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        warnings.append(f"{rel}: cannot be read ({error.strerror})")
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None  # fifo, device: never block on them
        if info.st_size > limits.max_file_bytes:
            warnings.append(
                f"{rel}: {info.st_size} bytes, over the per-file limit of {limits.max_file_bytes}; not read"
            )
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limits.max_file_bytes + 1)[: limits.max_file_bytes]
    finally:
        os.close(fd)
