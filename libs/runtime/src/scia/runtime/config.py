"""Service configuration from environment variables, validated at start-up.

Each service subclasses `ServiceSettings` with its own prefix (`SCIA_EMBEDDER_`, `SCIA_RAG_`,
...). `load_settings` turns pydantic's validation errors into one `ConfigError` whose message
names each offending variable, the problem and the value it got, so a misconfigured pod says
exactly what to fix instead of crashing later.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class ConfigError(Exception):
    """The environment does not describe a valid configuration."""


class ServiceSettings(BaseSettings):
    """Settings every gRPC service has. Subclasses set `env_prefix`."""

    # Subclasses only set env_prefix; pydantic merges the rest of this config into theirs.
    # An empty variable counts as unset, so `FOO=` in a manifest means "the default".
    model_config = SettingsConfigDict(env_prefix="SCIA_", extra="ignore", frozen=True, env_ignore_empty=True)

    grpc_host: str = Field("0.0.0.0", description="Address the gRPC server binds to.")
    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port; 0 picks a free port.")
    metrics_port: int = Field(9090, ge=0, le=65535, description="Prometheus /metrics port; 0 disables it.")
    metrics_host: str = Field("0.0.0.0", description="Address the metrics server binds to.")
    log_level: LogLevel = "INFO"
    shutdown_grace_seconds: float = Field(
        10.0, gt=0, le=300, description="How long in-flight calls may finish after SIGTERM."
    )
    max_connection_age_seconds: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="Clients reconnect (and so re-resolve DNS and find new replicas) after this; 0 disables.",
    )
    max_message_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024, description="Largest gRPC message accepted."
    )


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(settings_class: type[SettingsT], **overrides: object) -> SettingsT:
    """Read and validate the settings; raise ConfigError naming every bad variable."""
    try:
        return settings_class(**overrides)
    except ValidationError as error:
        raise ConfigError(describe_errors(settings_class, error)) from None


def describe_errors(settings_class: type[ServiceSettings], error: ValidationError) -> str:
    prefix = settings_class.model_config.get("env_prefix", "")
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "?"
        variable = f"{prefix}{field}".upper()
        if problem["type"] == "missing":
            lines.append(f"{variable}: is required but not set")
        else:
            lines.append(f"{variable}: {problem['msg']} (got {problem.get('input')!r})")
    return "invalid configuration:\n  " + "\n  ".join(lines)
