"""Conversions between DeploymentRecord messages and table rows, page tokens, SQL filters.

Pure functions: the store runs the SQL they build.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from scia.rag.validation import InvalidArgument
from scia.v1 import common_pb2, rag_pb2

# Fields held in their own columns (or owned by the server) and left out of the jsonb copy, so
# that there is exactly one source of truth for each of them.
SERVER_FIELDS = (
    "id",
    "tenant",
    "outcome",
    "outcome_reason",
    "feedback",
    "metrics",
    "created_at",
    "updated_at",
    "outcome_at",
)


@dataclass(frozen=True)
class RecordColumns:
    name: str
    uid: str
    revision: int
    repo_url: str
    repo_commit: str
    language: str
    framework: str
    strategy: int
    cloud: int
    region: str
    estimated_monthly_cost_usd: float
    record_json: dict[str, Any]
    record_pb: bytes  # the same stripped record, in binary form (read back much faster)
    created_at: datetime | None


def primary_application(record: common_pb2.DeploymentRecord) -> common_pb2.Application | None:
    return record.analysis.applications[0] if record.analysis.applications else None


def columns_of(record: common_pb2.DeploymentRecord) -> RecordColumns:
    """The denormalised columns of a record, for filters and listing."""
    app = primary_application(record)
    stripped = common_pb2.DeploymentRecord()
    stripped.CopyFrom(record)
    for name in SERVER_FIELDS:
        stripped.ClearField(name)
    repository = record.repository if record.HasField("repository") else record.analysis.repository
    return RecordColumns(
        name=record.name,
        uid=record.uid,
        revision=record.revision,
        repo_url=repository.url,
        repo_commit=repository.commit_sha,
        language=(app.language if app else "").strip().lower(),
        framework=(app.framework if app else "").strip().lower(),
        # What was deployed (the plan) wins over what was asked (the intent: maybe "auto").
        strategy=record.plan.strategy or record.intent.strategy,
        cloud=record.plan.configuration.cloud or record.intent.cloud,
        region=record.plan.configuration.region or record.intent.region,
        estimated_monthly_cost_usd=record.plan.cost.monthly_total_usd,
        record_json=json_format.MessageToDict(stripped, preserving_proto_field_name=True),
        record_pb=stripped.SerializeToString(deterministic=True),
        created_at=record.created_at.ToDatetime(tzinfo=UTC) if record.HasField("created_at") else None,
    )


@dataclass(frozen=True)
class Vote:
    user: str
    vote: int
    comment: str
    updated_at: datetime


def record_from_row(row: Mapping[str, Any], votes: Sequence[Vote] = ()) -> common_pb2.DeploymentRecord:
    """A DeploymentRecord from a `deployments` row (as a dict) and its votes."""
    if row.get("record_pb") is not None:
        record = common_pb2.DeploymentRecord.FromString(row["record_pb"])
    else:  # written before migration 0002 and not back-filled yet
        record = json_format.ParseDict(row["record"], common_pb2.DeploymentRecord(), ignore_unknown_fields=True)
    record.id = str(row["id"])
    record.tenant = row["tenant"]
    record.outcome = row["outcome"]
    record.outcome_reason = row["outcome_reason"]
    if row.get("metrics"):
        json_format.ParseDict(row["metrics"], record.metrics, ignore_unknown_fields=True)
    record.created_at.FromDatetime(row["created_at"])
    record.updated_at.FromDatetime(row["updated_at"])
    if row.get("outcome_at") is not None:
        record.outcome_at.FromDatetime(row["outcome_at"])
    summary = record.feedback
    for vote in votes:
        if vote.vote > 0:
            summary.up += 1
        else:
            summary.down += 1
        item = summary.votes.add(user=vote.user, vote=vote.vote, comment=vote.comment)
        item.updated_at.FromDatetime(vote.updated_at)
    return record


def merged_for_text(record: common_pb2.DeploymentRecord, outcome: int, reason: str) -> common_pb2.DeploymentRecord:
    """A copy of `record` carrying the outcome the text is to describe."""
    merged = common_pb2.DeploymentRecord()
    merged.CopyFrom(record)
    merged.outcome = outcome
    merged.outcome_reason = reason
    return merged


# --- filters -----------------------------------------------------------------------------------


def filter_sql(tenants: Sequence[str], value: rag_pb2.DeploymentFilter) -> tuple[str, list[Any]]:
    """A WHERE clause (without the keyword) and its parameters. The tenant condition is always
    first and always present: tenancy is enforced in SQL, never after the fact.

    One tenant (no sharing configured, the usual case) is `tenant = %s`, not `= ANY(%s)`: only
    then can PostgreSQL read the (tenant, created_at) index in order and stop early (listing
    newest first, the bounded full-text branch)."""
    if not tenants:
        raise ValueError("no tenant to scope the query to")
    if len(tenants) == 1:
        clauses, params = ["tenant = %s"], [tenants[0]]
    else:
        clauses, params = ["tenant = ANY(%s)"], [list(tenants)]
    if value.frameworks:
        clauses.append("framework = ANY(%s)")
        params.append([f.strip().lower() for f in value.frameworks])
    if value.languages:
        clauses.append("language = ANY(%s)")
        params.append([lang.strip().lower() for lang in value.languages])
    if value.clouds:
        clauses.append("cloud = ANY(%s)")
        params.append(list(value.clouds))
    if value.strategies:
        clauses.append("strategy = ANY(%s)")
        params.append(list(value.strategies))
    if value.outcomes:
        clauses.append("outcome = ANY(%s)")
        params.append(list(value.outcomes))
    if value.max_monthly_cost_usd > 0:
        clauses.append("estimated_monthly_cost_usd <= %s")
        params.append(value.max_monthly_cost_usd)
    if value.HasField("created_after"):
        clauses.append("created_at >= %s")
        params.append(value.created_after.ToDatetime(tzinfo=UTC))
    if value.HasField("created_before"):
        clauses.append("created_at < %s")
        params.append(value.created_before.ToDatetime(tzinfo=UTC))
    if value.name:
        clauses.append("name = %s")
        params.append(value.name)
    return " AND ".join(clauses), params


# --- page tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Position after the last record of a page, in (created_at DESC, id DESC) order."""

    created_at: datetime
    id: str


def query_fingerprint(tenant: str, value: rag_pb2.DeploymentFilter) -> str:
    """Binds a page token to the query it came from: reusing it with another filter is an error,
    not a silently wrong page."""
    digest = hashlib.sha256(tenant.encode() + b"\0" + value.SerializeToString(deterministic=True))
    return digest.hexdigest()[:16]


def encode_page_token(cursor: Cursor, fingerprint: str) -> str:
    payload = {"c": cursor.created_at.isoformat(), "i": cursor.id, "q": fingerprint}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_page_token(token: str, fingerprint: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        cursor = Cursor(datetime.fromisoformat(payload["c"]), str(payload["i"]))
        given = payload["q"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidArgument("page_token", "is not a token returned by ListDeployments") from None
    if given != fingerprint:
        raise InvalidArgument("page_token", "belongs to a different tenant or filter: list again from the first page")
    return cursor
