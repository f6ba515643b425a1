"""Repository analysis: a thin clone layer (`clone`) around pure detectors (`detect`)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from scia.planner.analysis.clone import CloneLimits, clone, parse_source, validate_ref, validate_subdirectory
from scia.planner.analysis.detect import analyze_files
from scia.planner.analysis.files import ReadLimits, RepoFiles, load_files
from scia.planner.errors import SourceNotFound
from scia.v1 import common_pb2

__all__ = ["analyze_files", "analyze_repository", "RepoFiles", "ReadLimits", "CloneLimits"]


async def analyze_repository(
    ref: common_pb2.RepositoryRef,
    *,
    allow_local: bool,
    clone_limits: CloneLimits,
    read_limits: ReadLimits,
    work_dir: Path | None = None,
) -> common_pb2.RepositoryAnalysis:
    """Clone `ref` shallowly into a temporary folder, analyse it, delete the checkout.

    Raises the errors of scia.planner.errors (invalid, not found, too large, timeout).
    """
    source = parse_source(ref.url, allow_local)
    revision = validate_ref(ref.ref)
    subdirectory = validate_subdirectory(ref.subdirectory)
    checkout_parent = Path(tempfile.mkdtemp(prefix="scia-planner-", dir=work_dir))
    try:
        checkout = checkout_parent / "repo"
        sha = await clone(source, revision, checkout, clone_limits)
        root = checkout / subdirectory if subdirectory else checkout
        if subdirectory and (root.is_symlink() or not root.resolve().is_relative_to(checkout.resolve()) or not root.is_dir()):
            raise SourceNotFound(f"subdirectory {subdirectory!r} does not exist in {source.display} at {revision or 'HEAD'}")
        files = await asyncio.to_thread(load_files, root, read_limits)
    finally:
        await asyncio.to_thread(shutil.rmtree, checkout_parent, True)
    resolved = common_pb2.RepositoryRef(url=ref.url, ref=revision, commit_sha=sha, subdirectory=subdirectory)
    analysis = analyze_files(files, resolved)
    analysis.analyzed_at.FromDatetime(datetime.now(UTC))
    return analysis
