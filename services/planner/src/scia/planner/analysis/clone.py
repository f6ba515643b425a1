"""The clone layer: validate a repository reference, then fetch one shallow revision with git.

The repository is untrusted: git runs without a shell, without any user or system
configuration (so no filters, hooks or credential helpers from the host), with terminal
prompts disabled, and only the transports we allow. Nothing from the checkout is executed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scia.planner.errors import CloneTimeout, InvalidSource, SourceNotFound, SourceTooLarge

MAX_URL_CHARS = 2048
_SCP_LIKE = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*):(?P<path>[A-Za-z0-9._~/-]+)$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_URL_PATH = re.compile(r"^/[A-Za-z0-9._~/%+-]+$")
_REF = re.compile(r"^[A-Za-z0-9._/+-]{1,255}$")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True)
class Source:
    """A validated repository location."""

    kind: str  # "remote" or "local"
    # What git is given: an https/ssh URL, or a file:// URL for local repositories.
    git_url: str
    # What messages show (never credentials).
    display: str


def parse_source(url: str, allow_local: bool) -> Source:
    """Validate `url`; raise InvalidSource naming what is wrong."""
    url = url.strip()
    if not url:
        raise InvalidSource("repository url is empty")
    if len(url) > MAX_URL_CHARS:
        raise InvalidSource(f"repository url has {len(url)} characters, over the limit of {MAX_URL_CHARS}")
    if _CONTROL.search(url):
        raise InvalidSource("repository url contains whitespace or control characters")
    if url.startswith("-"):
        raise InvalidSource("repository url must not start with '-'")
    lowered = url.lower()
    if lowered.startswith("https://"):
        return _https(url)
    if lowered.startswith("ssh://"):
        return _ssh_url(url)
    if lowered.startswith("file://") or url.startswith(("/", "./", "../", "~")):
        return _local(url, allow_local)
    if match := _SCP_LIKE.match(url):
        if ".." in match["path"].split("/"):
            raise InvalidSource(f"repository url {url!r}: '..' is not allowed in the path")
        return Source("remote", url, url)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise InvalidSource(f"repository url scheme {scheme!r} is not accepted: use https:// or ssh (git@host:org/repo.git)")
    raise InvalidSource(
        f"repository url {url!r} is neither an https:// or ssh URL nor an absolute local path"
    )


def _https(url: str) -> Source:
    parts = urlsplit(url)
    if parts.password is not None:
        raise InvalidSource("repository url must not embed credentials; configure them for the planner instead")
    host = parts.hostname or ""
    if not _HOST.match(host):
        raise InvalidSource(f"repository url {url!r} has no valid host name")
    if parts.query or parts.fragment:
        raise InvalidSource(f"repository url {url!r} must not have a query or fragment")
    if not parts.path or not _URL_PATH.match(parts.path) or ".." in parts.path.split("/"):
        raise InvalidSource(f"repository url {url!r} has no valid repository path")
    try:
        _ = parts.port
    except ValueError:
        raise InvalidSource(f"repository url {url!r} has an invalid port") from None
    return Source("remote", url, url)


def _ssh_url(url: str) -> Source:
    parts = urlsplit(url)
    if parts.password is not None:
        raise InvalidSource("repository url must not embed credentials")
    if not _HOST.match(parts.hostname or ""):
        raise InvalidSource(f"repository url {url!r} has no valid host name")
    if not parts.path or not _URL_PATH.match(parts.path) or ".." in parts.path.split("/"):
        raise InvalidSource(f"repository url {url!r} has no valid repository path")
    return Source("remote", url, url)


def _local(url: str, allow_local: bool) -> Source:
    if not allow_local:
        raise InvalidSource(
            "local repository paths are disabled on this planner (SCIA_PLANNER_ALLOW_LOCAL_PATHS=false); "
            "use an https or ssh URL"
        )
    if url.lower().startswith("file://"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise InvalidSource(f"file URL {url!r} must not name a host")
        path = Path(unquote(parts.path))
    else:
        path = Path(url).expanduser()
    if not path.is_absolute():
        path = path.resolve()
    if not path.exists():
        raise SourceNotFound(f"local repository {str(path)!r} does not exist")
    if not path.is_dir():
        raise InvalidSource(f"local repository {str(path)!r} is not a directory")
    resolved = path.resolve()
    return Source("local", resolved.as_uri(), str(resolved))


def validate_ref(ref: str) -> str:
    """A branch, tag or commit name git accepts and that cannot be read as an option."""
    ref = ref.strip()
    if not ref:
        return ""
    if (
        not _REF.match(ref)
        or ref.startswith(("-", "/", "."))
        or ref.endswith(("/", ".", ".lock"))
        or ".." in ref
        or "//" in ref
        or "/." in ref
    ):
        raise InvalidSource(
            f"ref {ref!r} is not a valid branch, tag or commit name "
            "(letters, digits and . _ / + - only, at most 255 characters, no '..')"
        )
    return ref


def validate_subdirectory(subdirectory: str) -> str:
    sub = subdirectory.strip().strip("/")
    if not sub:
        return ""
    parts = sub.split("/")
    if sub.startswith("~") or any(p in ("", ".", "..") for p in parts) or _CONTROL.search(sub) or "\\" in sub:
        raise InvalidSource(f"subdirectory {subdirectory!r} must be a relative folder inside the repository, without '..'")
    return sub


@dataclass(frozen=True)
class CloneLimits:
    timeout_seconds: float = 60.0
    max_bytes: int = 256 * 1024 * 1024
    git: str = "git"
    ssh_command: str = "ssh -o BatchMode=yes -o ConnectTimeout=10"


def git_environment(ssh_command: str) -> dict[str, str]:
    """A minimal environment: no prompts, no host configuration, no LFS downloads."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/nonexistent"),
        "LANG": "C",
        "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_LFS_SKIP_SMUDGE": "1",
        "GIT_SSH_COMMAND": ssh_command,
        "GIT_PROTOCOL_FROM_USER": "0",
    }
    for name in ("SSH_AUTH_SOCK", "TMPDIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


async def clone(source: Source, ref: str, dest: Path, limits: CloneLimits) -> str:
    """Fetch one revision of `source` (depth 1, no tags) into the empty folder `dest` and check it out.

    Returns the commit SHA. Fetching by name works for branches, tags and (on servers that allow
    it, which includes every protocol-v2 server) commit SHAs alike.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.timeout_seconds
    env = git_environment(limits.ssh_command)
    file_allow = "always" if source.kind == "local" else "never"
    safe = [
        "-c", f"protocol.file.allow={file_allow}",
        "-c", "protocol.ext.allow=never",
        "-c", "core.hooksPath=" + os.devnull,
        "-c", "advice.detachedHead=false",
        "-c", "core.fsmonitor=false",
    ]
    await _git(limits, env, deadline, ["init", "-q", str(dest)], dest, source)
    target = ref or "HEAD"
    await _git(
        limits, env, deadline,
        ["-C", str(dest), *safe, "fetch", "-q", "--depth", "1", "--no-tags", "--no-recurse-submodules",
         "--", source.git_url, target],
        dest, source, ref=target, watch_size=True,
    )
    # Refuse before checking out: the tree's blob sizes say what the checkout would weigh.
    listing = await _git(limits, env, deadline, ["-C", str(dest), "ls-tree", "-r", "-l", "FETCH_HEAD"], dest, source)
    tree_bytes = sum(int(f[3]) for line in listing.splitlines() if len(f := line.split(None, 4)) >= 4 and f[3].isdigit())
    if tree_bytes > limits.max_bytes:
        raise SourceTooLarge(
            f"repository {source.display} is {tree_bytes} bytes checked out, over the limit of {limits.max_bytes} bytes"
        )
    await _git(limits, env, deadline, ["-C", str(dest), *safe, "checkout", "-q", "FETCH_HEAD"], dest, source)
    sha = await _git(limits, env, deadline, ["-C", str(dest), "rev-parse", "HEAD"], dest, source)
    return sha.strip()


async def _git(
    limits: CloneLimits,
    env: dict[str, str],
    deadline: float,
    args: list[str],
    dest: Path,
    source: Source,
    *,
    ref: str = "",
    watch_size: bool = False,
) -> str:
    loop = asyncio.get_running_loop()
    try:
        process = await asyncio.create_subprocess_exec(
            limits.git, *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own process group: a timeout kills ssh and helpers too
        )
    except FileNotFoundError:
        raise RuntimeError(f"git executable {limits.git!r} not found") from None
    communicate = asyncio.ensure_future(process.communicate())
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise CloneTimeout(
                    f"cloning {source.display} did not finish within the time limit of {limits.timeout_seconds:g} s"
                )
            done, _ = await asyncio.wait({communicate}, timeout=min(remaining, 0.25))
            if done:
                break
            if watch_size:
                used = await asyncio.to_thread(_folder_bytes, dest)
                if used > limits.max_bytes:
                    raise SourceTooLarge(
                        f"repository {source.display} exceeds the size limit of {limits.max_bytes} bytes while fetching"
                    )
    except BaseException:
        _kill(process)
        communicate.cancel()
        with contextlib.suppress(BaseException):
            await process.wait()
        raise
    stdout, stderr = communicate.result()
    if process.returncode != 0:
        raise _classify(stderr.decode(errors="replace"), source, ref)
    return stdout.decode(errors="replace")


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _folder_bytes(folder: Path) -> int:
    total = 0
    for directory, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def _classify(stderr: str, source: Source, ref: str) -> Exception:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = lines[-1] if lines else "git failed without a message"
    detail = re.sub(r"(https?://)[^/@\s]+@", r"\1", detail)[:300]  # never echo credentials
    low = stderr.lower()
    if ref and any(s in low for s in ("couldn't find remote ref", "not our ref", "no such remote ref", "unadvertised object", "invalid refspec")):
        return SourceNotFound(f"ref {ref!r} not found in repository {source.display}")
    return SourceNotFound(f"repository {source.display} is unreachable or does not exist: {detail}")
