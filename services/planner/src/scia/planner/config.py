"""Planner settings, read from SCIA_PLANNER_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from scia.runtime.config import ServiceSettings


class PlannerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCIA_PLANNER_")

    grpc_port: int = Field(50053, ge=0, le=65535, description="gRPC port; 0 picks a free port.")

    # --- repository access ---------------------------------------------------------------
    allow_local_paths: bool = Field(
        False,
        description="Accept local paths and file:// URLs. Off in a shared control plane: a tenant "
        "could otherwise make the planner read any folder the pod can see.",
    )
    git_executable: str = Field("git", description="The git CLI used to clone.")
    git_ssh_command: str = Field(
        "ssh -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new",
        description="GIT_SSH_COMMAND for ssh URLs; BatchMode so a missing key fails instead of prompting.",
    )
    clone_timeout_seconds: float = Field(60.0, gt=0, le=3600, description="Time limit of one clone.")
    max_repo_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Largest repository accepted (fetched objects and checkout)."
    )
    max_files: int = Field(5000, ge=10, le=1_000_000, description="Files read per analysis; the rest are listed only.")
    max_file_bytes: int = Field(512 * 1024, ge=256, description="Files larger than this are not read.")
    max_total_read_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="Bytes read per analysis.")
    max_concurrent_clones: int = Field(4, ge=1, le=256, description="Clones running at once; more calls wait.")
    work_dir: Path | None = Field(None, description="Where checkouts go (deleted after use); empty means the system temp dir.")

    # --- planning ------------------------------------------------------------------------
    pricing_path: Path | None = Field(None, description="A pricing catalogue JSON; empty means the bundled one.")
    max_prompt_chars: int = Field(4000, ge=16, le=100_000)

    # --- retrieval (the RAG service) -----------------------------------------------------
    rag_target: str = Field("", description="host:port of scia.v1.DeploymentMemory; empty disables retrieval.")
    rag_timeout_seconds: float = Field(2.0, gt=0, le=60, description="Deadline of one Retrieve call.")
    retrieval_limit: int = Field(8, ge=1, le=50, description="Past deployments retrieved per plan.")
