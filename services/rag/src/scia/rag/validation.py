"""Request validation: pure functions that raise InvalidArgument naming the field and the limit.

Everything a caller sends is checked here, before any I/O, so a bad request never reaches the
embedder or the database and its error message says exactly what to fix.
"""

from __future__ import annotations

import math
import re
import uuid

from scia.v1 import common_pb2, rag_pb2

# A Kubernetes namespace name: DNS-1123 label (RFC 1123), at most 63 characters.
TENANT_PATTERN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
TENANT_MAX_CHARS = 63
NAME_MAX_CHARS = 253  # a DNS-1123 subdomain, what Kubernetes allows for resource names
UID_MAX_CHARS = 128
USER_MAX_CHARS = 256
SHORT_FIELD_MAX_CHARS = 256  # framework, language, region and similar labels
DEFAULT_LIMIT = 5
DEFAULT_CANDIDATES = 20
DEFAULT_PAGE_SIZE = 50


class InvalidArgument(ValueError):
    """A request field is missing, malformed or over a limit."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def tenant(value: str, field: str = "tenant") -> str:
    if not value:
        raise InvalidArgument(field, "is required (the team's Kubernetes namespace)")
    if len(value) > TENANT_MAX_CHARS:
        raise InvalidArgument(field, f"has {len(value)} characters, over the limit of {TENANT_MAX_CHARS}")
    if not TENANT_PATTERN.fullmatch(value):
        raise InvalidArgument(
            field,
            f"{value!r} is not a Kubernetes namespace name: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
    return value


def record_id(value: str, field: str = "id") -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidArgument(field, f"{value[:80]!r} is not a UUID") from None


def text(value: str, field: str, max_chars: int, *, required: bool = False) -> str:
    if required and not value.strip():
        raise InvalidArgument(field, "is required")
    if len(value) > max_chars:
        raise InvalidArgument(field, f"has {len(value)} characters, over the limit of {max_chars}")
    return value


def enum_value(value: int, enum: object, field: str) -> int:
    """Reject numbers the enum does not define (proto3 keeps unknown values as plain ints)."""
    values = enum.DESCRIPTOR.values_by_number  # type: ignore[attr-defined]
    if value not in values:
        raise InvalidArgument(field, f"{value} is not a valid {enum.DESCRIPTOR.name}")  # type: ignore[attr-defined]
    return value


def deployment_record(
    record: common_pb2.DeploymentRecord,
    *,
    max_record_bytes: int,
    max_prompt_chars: int,
    max_reason_chars: int,
    field: str = "record",
) -> None:
    """What RecordDeployment and Import accept. The server assigns id and the timestamps it owns."""
    size = record.ByteSize()
    if size > max_record_bytes:
        raise InvalidArgument(field, f"is {size} bytes serialised, over the limit of {max_record_bytes}")
    tenant(record.tenant, f"{field}.tenant")
    if not record.uid:
        raise InvalidArgument(f"{field}.uid", "is required (the Deployment resource's uid)")
    text(record.uid, f"{field}.uid", UID_MAX_CHARS)
    if not record.name.strip():
        raise InvalidArgument(f"{field}.name", "is required (the Deployment resource's name)")
    text(record.name, f"{field}.name", NAME_MAX_CHARS)
    if record.revision < 1:
        raise InvalidArgument(
            f"{field}.revision", f"is {record.revision}: it must be at least 1 (the Deployment's generation)"
        )
    text(record.intent.prompt, f"{field}.intent.prompt", max_prompt_chars)
    text(record.outcome_reason, f"{field}.outcome_reason", max_reason_chars)
    enum_value(record.outcome, common_pb2.Outcome, f"{field}.outcome")
    enum_value(record.intent.cloud, common_pb2.Cloud, f"{field}.intent.cloud")
    enum_value(record.plan.strategy, common_pb2.Strategy, f"{field}.plan.strategy")
    enum_value(record.intent.strategy, common_pb2.Strategy, f"{field}.intent.strategy")
    text(record.intent.region, f"{field}.intent.region", SHORT_FIELD_MAX_CHARS)
    for index, app in enumerate(record.analysis.applications):
        text(app.framework, f"{field}.analysis.applications[{index}].framework", SHORT_FIELD_MAX_CHARS)
        text(app.language, f"{field}.analysis.applications[{index}].language", SHORT_FIELD_MAX_CHARS)
    cost = record.plan.cost.monthly_total_usd
    if not math.isfinite(cost) or cost < 0:
        raise InvalidArgument(f"{field}.plan.cost.monthly_total_usd", f"is {cost}: it must be a finite number >= 0")
    if record.id:
        # The id is the server's; accepting a caller's would let two tenants collide.
        raise InvalidArgument(f"{field}.id", "must be empty: the service assigns ids")


def outcome_update(request: rag_pb2.UpdateOutcomeRequest, *, max_reason_chars: int) -> None:
    tenant(request.tenant)
    record_id(request.id)
    enum_value(request.outcome, common_pb2.Outcome, "outcome")
    if request.outcome == common_pb2.OUTCOME_UNSPECIFIED:
        raise InvalidArgument("outcome", "is required: PENDING, SUCCESS, FAILED, DEGRADED or DELETED")
    text(request.reason, "reason", max_reason_chars)


def feedback(request: rag_pb2.RecordFeedbackRequest, *, max_reason_chars: int) -> None:
    tenant(request.tenant)
    record_id(request.id)
    text(request.user, "user", USER_MAX_CHARS, required=True)
    if request.vote not in (1, -1):
        raise InvalidArgument("vote", f"is {request.vote}: it must be +1 or -1")
    text(request.comment, "comment", max_reason_chars)


def deployment_filter(value: rag_pb2.DeploymentFilter, field: str = "filter") -> None:
    for index, outcome in enumerate(value.outcomes):
        enum_value(outcome, common_pb2.Outcome, f"{field}.outcomes[{index}]")
    for index, strategy in enumerate(value.strategies):
        enum_value(strategy, common_pb2.Strategy, f"{field}.strategies[{index}]")
    for index, cloud in enumerate(value.clouds):
        enum_value(cloud, common_pb2.Cloud, f"{field}.clouds[{index}]")
    for name, values in (("frameworks", value.frameworks), ("languages", value.languages)):
        if len(values) > 50:
            raise InvalidArgument(f"{field}.{name}", f"has {len(values)} entries, over the limit of 50")
        for index, item in enumerate(values):
            text(item, f"{field}.{name}[{index}]", SHORT_FIELD_MAX_CHARS)
    cost = value.max_monthly_cost_usd
    if not math.isfinite(cost) or cost < 0:
        raise InvalidArgument(f"{field}.max_monthly_cost_usd", f"is {cost}: it must be >= 0 (0 means no limit)")
    text(value.name, f"{field}.name", NAME_MAX_CHARS)
    if (
        value.HasField("created_after")
        and value.HasField("created_before")
        and value.created_after.ToDatetime() >= value.created_before.ToDatetime()
    ):
        raise InvalidArgument(f"{field}.created_after", "must be before created_before")


def weights(value: rag_pb2.RerankWeights, defaults: dict[str, float]) -> dict[str, float]:
    """The request's weights, or the configured defaults when all are zero."""
    given = {
        "relevance": value.relevance,
        "feedback": value.feedback,
        "recency": value.recency,
        "cost_efficiency": value.cost_efficiency,
        "outcome": value.outcome,
    }
    for name, weight in given.items():
        if not math.isfinite(weight) or weight < 0:
            raise InvalidArgument(f"weights.{name}", f"is {weight}: weights must be finite and >= 0")
    return dict(defaults) if not any(given.values()) else given


def retrieve(
    request: rag_pb2.RetrieveRequest,
    *,
    max_limit: int,
    max_candidates: int,
    max_query_chars: int,
    max_prompt_chars: int,
) -> tuple[int, int]:
    """Validates a Retrieve request; returns (limit, candidates) with the defaults applied."""
    tenant(request.tenant)
    kind = request.WhichOneof("query")
    if kind is None:
        raise InvalidArgument("query", "is required: set deployment or text")
    if kind == "text":
        text(request.text, "text", max_query_chars, required=True)
    else:
        query = request.deployment
        text(query.intent.prompt, "deployment.intent.prompt", max_prompt_chars)
        if not query.intent.prompt.strip() and not query.analysis.applications:
            raise InvalidArgument("deployment", "is empty: give an intent prompt or an analysis with an application")
        budget = query.intent.budget.max_monthly_cost_usd
        if not math.isfinite(budget) or budget < 0:
            raise InvalidArgument("deployment.intent.budget.max_monthly_cost_usd", f"is {budget}: it must be >= 0")
    deployment_filter(request.filter)
    enum_value(request.rerank, rag_pb2.RetrieveRequest.Rerank, "rerank")
    limit = request.limit or DEFAULT_LIMIT
    if limit > max_limit:
        raise InvalidArgument("limit", f"is {limit}, over the limit of {max_limit}")
    candidates = request.candidates or DEFAULT_CANDIDATES
    if candidates > max_candidates:
        raise InvalidArgument("candidates", f"is {candidates}, over the limit of {max_candidates}")
    # Fewer candidates than results could never fill the page.
    return limit, max(candidates, limit)


def page_size(value: int, max_page_size: int) -> int:
    size = value or min(DEFAULT_PAGE_SIZE, max_page_size)
    if size > max_page_size:
        raise InvalidArgument("page_size", f"is {size}, over the limit of {max_page_size}")
    return size
