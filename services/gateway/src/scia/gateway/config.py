"""Gateway settings, read from SCIA_GATEWAY_* environment variables.

The gateway serves HTTP (GraphQL, /healthz, /metrics) on one port; the gRPC fields inherited
from ServiceSettings are unused here (it is a gRPC *client* of the planner and the memory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from scia.runtime.config import ServiceSettings

ROLES = ("viewer", "deployer", "admin")


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCIA_GATEWAY_")

    http_host: str = Field("0.0.0.0", description="Address the HTTP server binds to.")
    http_port: int = Field(8080, ge=0, le=65535, description="HTTP port of GraphQL, /healthz and /metrics.")
    mode: Literal["development", "production"] = Field(
        "production",
        description="production turns introspection and verbose (traceback) errors off.",
    )

    # --- backends --------------------------------------------------------------------------
    kubernetes_url: str = Field(
        "",
        description="Kubernetes API base URL. Empty means in-cluster: https://$KUBERNETES_SERVICE_HOST "
        "with the pod's service account token and CA.",
    )
    kubernetes_token_path: Path = Field(
        Path("/var/run/secrets/kubernetes.io/serviceaccount/token"),
        description="Service account token (re-read on every call: kubelet rotates it).",
    )
    kubernetes_ca_path: Path = Field(Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"))
    impersonate: bool | None = Field(
        None,
        description="Send Impersonate-User/-Group so Kubernetes RBAC applies to each caller. "
        "Empty means on in-cluster and off with an explicit kubernetes_url (the emulator has no RBAC).",
    )
    kubernetes_timeout_seconds: float = Field(10.0, gt=0, le=300)
    planner_target: str = Field("127.0.0.1:50053", description="gRPC target of scia.v1.Planner.")
    planner_timeout_seconds: float = Field(90.0, gt=0, le=900, description="Analyze/Plan clone and plan time.")
    rag_target: str = Field("127.0.0.1:50052", description="gRPC target of scia.v1.DeploymentMemory.")
    rag_timeout_seconds: float = Field(10.0, gt=0, le=300)

    # --- authentication ----------------------------------------------------------------------
    jwt_shared_key: SecretStr | None = Field(
        None, description="HS256 shared key, for local use. Never logged."
    )
    oidc_jwks_url: str = Field("", description="JWKS URL of the OIDC issuer (RS256/ES256 tokens).")
    oidc_issuer: str = Field("", description="Expected `iss`; empty skips the check (not advised with OIDC).")
    jwt_audience: str = Field("scia", description="Expected `aud`; empty skips the check.")
    user_claim: str = Field("sub", description="Claim naming the user (sub, email, preferred_username).")
    groups_claim: str = Field("groups", description="Claim listing the user's groups.")
    jwks_cache_seconds: float = Field(300.0, ge=0, le=86_400, description="How long fetched issuer keys are reused.")
    role_bindings: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {"group": "namespace:role"} mapping IdP groups to roles, e.g. '
        '{"oidc:platform-team-a": "team-a:deployer"}. A group shaped "namespace:role" needs no entry. '
        'Namespace "*" grants the role in every namespace.',
    )
    token_ttl_seconds: int = Field(8 * 3600, ge=60, le=30 * 86_400, description="Lifetime of `scia-gateway token`.")

    # --- abuse protection --------------------------------------------------------------------
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024, description="Largest request body.")
    max_depth: int = Field(10, ge=2, le=100, description="Deepest selection, fragments expanded.")
    max_aliases: int = Field(30, ge=0, le=10_000, description="Aliases per operation, fragments expanded.")
    max_cost: int = Field(5000, ge=1, le=10_000_000, description="Ariadne cost validator limit.")
    max_batch: int = Field(5, ge=1, le=100, description="Operations per HTTP request (JSON array batches).")
    persisted_queries_path: Path | None = Field(
        None, description='JSON {"<sha256 of the query>": "<query>"}: queries clients may send by hash.'
    )
    persisted_queries_only: bool = Field(
        False, description="Refuse any query that is not in the persisted-query safelist."
    )
    keepalive_seconds: float = Field(15.0, gt=0, le=600, description="graphql-transport-ws server ping interval.")
    max_page_size: int = Field(100, ge=1, le=1000, description="Largest `first` of a connection.")
    public_host: str = Field(
        "",
        max_length=253,
        description="Host name the gateway is published under (the Ingress host; the chart sets it). /metrics "
        "answers 404 to requests addressed to it: publishing / for the web UI must not publish the metrics.",
    )
    # Same meaning as the operator's SCIA_OPERATOR_COMPOSITION_VERSION: set both alike, so a
    # preview renders the Composition version the operator will select.
    composition_version: str = Field(
        "", pattern=r"^(v[0-9]+)?$", description="Composition version (scia.io/version) previewPlan renders; empty: the newest."
    )
    subscriber_queue_size: int = Field(
        256, ge=1, le=100_000,
        description="Events buffered per subscriber of a shared watch; a subscriber that falls this far behind is disconnected.",
    )

    # --- web UI ------------------------------------------------------------------------------
    ui_dir: Path | None = Field(
        None,
        description="Folder of the built web UI (services/gateway/ui/dist, with index.html), served at /. "
        "Unset or without index.html: / says the UI is not built and how to build it.",
    )

    # --- development ---------------------------------------------------------------------------
    allow_local_repositories: bool = Field(
        False,
        description="Accept local paths in analyzeRepository/previewPlan (the planner must allow them too). "
        "For the local stack and tests only: Deployments themselves always need an https/ssh URL.",
    )

    @field_validator("role_bindings")
    @classmethod
    def _bindings(cls, value: dict[str, str]) -> dict[str, str]:
        for group, binding in value.items():
            namespace, _, role = binding.partition(":")
            if not namespace or role not in ROLES:
                raise ValueError(f"binding of {group!r} must be 'namespace:role' with a role in {ROLES}, got {binding!r}")
        return value

    @field_validator("kubernetes_url", "oidc_jwks_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _auth(self) -> GatewaySettings:
        if self.jwt_shared_key is None and not self.oidc_jwks_url:
            raise ValueError(
                "no way to verify tokens: set SCIA_GATEWAY_JWT_SHARED_KEY (local use) or SCIA_GATEWAY_OIDC_JWKS_URL"
            )
        if self.jwt_shared_key is not None and len(self.jwt_shared_key.get_secret_value()) < 32:
            raise ValueError("SCIA_GATEWAY_JWT_SHARED_KEY must be at least 32 characters (HS256 key strength)")
        if self.persisted_queries_only and self.persisted_queries_path is None:
            raise ValueError("SCIA_GATEWAY_PERSISTED_QUERIES_ONLY needs SCIA_GATEWAY_PERSISTED_QUERIES_PATH")
        return self

    @property
    def production(self) -> bool:
        return self.mode == "production"

    def use_impersonation(self) -> bool:
        return self.impersonate if self.impersonate is not None else not self.kubernetes_url
