"""Planner settings, read from SCIA_PLANNER_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
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
    retrieval_limit: int = Field(16, ge=1, le=50, description="Past deployments retrieved per plan (enough to tell a library common among neighbours from a rare one).")

    # --- optional LLM backend (any OpenAI-compatible chat-completions endpoint) ----------
    llm_base_url: str = Field(
        "",
        description="Base URL of an OpenAI-compatible API, the part before /chat/completions "
        "(http://127.0.0.1:11434/v1 for Ollama, http://vllm:8000/v1, https://api.openai.com/v1). "
        "Empty disables the LLM: the knowledge base alone plans.",
    )
    llm_model: str = Field("", description="Model name sent with each request; required with a base URL.")
    # SecretStr: masked in repr() and logs; only ever put in the Authorization header.
    llm_api_key: SecretStr | None = Field(None, description="Bearer key, if the endpoint needs one. Never logged.")
    llm_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Time limit of one LLM exchange; past it the knowledge-base plan answers."
    )
    llm_max_tokens: int = Field(1024, ge=64, le=32768, description="max_tokens of the answer (a plan is ~300 tokens).")
    llm_response_format: Literal["json_schema", "json_object", "none"] = Field(
        "json_schema",
        description="How the answer's shape is asked for. json_schema (OpenAI, vLLM, recent Ollama) falls back to "
        "json_object once when the endpoint answers 400 about it. The answer is validated either way.",
    )
    llm_max_context_chars: int = Field(
        16000, ge=2000, le=200_000, description="Most characters of repository/memory data sent to the LLM per plan."
    )

    @field_validator("llm_base_url")
    @classmethod
    def _check_llm_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:11434/v1")
        if parts.username or parts.password:
            raise ValueError("must not embed credentials (they would be logged); use SCIA_PLANNER_LLM_API_KEY")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        if value.endswith("/chat/completions"):
            raise ValueError("is the base URL without /chat/completions, e.g. http://127.0.0.1:11434/v1")
        return value

    @model_validator(mode="after")
    def _check_llm_model(self) -> PlannerSettings:
        if self.llm_base_url and not self.llm_model.strip():
            raise ValueError("SCIA_PLANNER_LLM_MODEL is required when SCIA_PLANNER_LLM_BASE_URL is set")
        return self
