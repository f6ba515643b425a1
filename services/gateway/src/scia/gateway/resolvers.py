"""Resolvers of schema.graphql. Authorization first (`require`), validation before any write,
and mutations answer with typed user errors instead of raising."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator
from importlib import resources

import grpc
import scia.compositions as compositions
from ariadne import EnumType, MutationType, ObjectType, QueryType, ScalarType, SubscriptionType, make_executable_schema
from graphql import FieldNode, FragmentSpreadNode, GraphQLError, GraphQLSchema, InlineFragmentNode
from scia.compositions import xr
from scia.v1 import planner_pb2, rag_pb2

from scia.gateway import convert, policy, validation
from scia.gateway.auth import ROLE_RANK, Forbidden, require
from scia.gateway.backends import SCIA_API_VERSION, RequestContext, grpc_unavailable
from scia.gateway.kube import CLOUDPROVIDERS, DEPLOYMENTS, KubeError
from scia.gateway.policy import UserError
from scia.gateway.watches import SlowSubscriber

log = logging.getLogger(__name__)

query = QueryType()
mutation = MutationType()
subscription = SubscriptionType()
deployment_type = ObjectType("Deployment")
tenant_type = ObjectType("Tenant")
viewer_type = ObjectType("Viewer")
json_scalar = ScalarType("JSON")
datetime_scalar = ScalarType("DateTime")
policy_enum = EnumType("Policy", {
    "require_https": "require-https", "enable_monitoring": "enable-monitoring",
    "high_availability": "high-availability", "enable_autoscaling": "enable-autoscaling",
    "encrypt_at_rest": "encrypt-at-rest", "cost_optimized": "cost-optimized",
})


class ClientError(GraphQLError):
    """A refusal meant for the caller (its message is shown even in production)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


def ctx(info) -> RequestContext:
    return info.context


def authorize(info, action: str, namespace: str) -> RequestContext:
    context = ctx(info)
    try:
        require(context.principal, action, namespace)
    except Forbidden as error:
        raise ClientError(str(error), "FORBIDDEN") from None
    return context


def kube_failure(error: KubeError) -> ClientError:
    code = {401: "FORBIDDEN", 403: "FORBIDDEN", 404: "NOT_FOUND"}.get(error.status, "UNAVAILABLE")
    return ClientError(f"Kubernetes API: {error.message}", code)


def payload_error(error: KubeError, field: list[str] | None = None) -> UserError:
    """Map an API server refusal of a write to a user error."""
    if error.status in (401, 403):
        return UserError("FORBIDDEN", [], f"Kubernetes refused it: {error.message}")
    if error.status == 404:
        return UserError("NOT_FOUND", field or [], error.message)
    if error.status == 409:
        return UserError("CONFLICT", field or ["metadata", "name"], error.message)
    if error.status == 422:
        return UserError("VALIDATION", field or [], error.message)
    return UserError("UNAVAILABLE", [], f"Kubernetes API: {error.message}")


def errors_payload(errors: list[UserError], **values) -> dict:
    return {**values, "errors": [e.as_dict() for e in errors]}


# --- queries ---------------------------------------------------------------------------------

@query.field("me")
def resolve_me(_, info) -> dict:
    principal = ctx(info).principal
    return {"user": principal.user, "groups": list(principal.groups), "_principal": principal}


@viewer_type.field("tenants")
def resolve_tenants(viewer, _info) -> list[dict]:
    principal = viewer["_principal"]
    return [{"namespace": ns, "role": principal.role_in(ns)} for ns in principal.namespaces()]


@tenant_type.field("costSummary")
async def resolve_tenant_cost(tenant, info) -> dict:
    return await resolve_cost_summary(None, info, tenant["namespace"])


@query.field("deployment")
async def resolve_deployment(_, info, namespace: str, name: str) -> dict | None:
    context = authorize(info, "read", namespace)
    try:
        obj = await context.loaders.deployment.load((namespace, name))
    except KubeError as error:
        raise kube_failure(error) from None
    return convert.deployment(obj) if obj else None


@query.field("deployments")
async def resolve_deployments(_, info, namespace: str, filter=None, first: int = 20, after: str | None = None) -> dict:
    context = authorize(info, "read", namespace)
    limit = context.backends.settings.max_page_size
    if first < 0 or first > limit:
        raise ClientError(f"first must be between 0 and {limit}, got {first}", "BAD_USER_INPUT")
    try:
        items = await context.loaders.namespace_deployments.load(namespace)
    except KubeError as error:
        raise kube_failure(error) from None
    try:
        connection = policy.paginate([o for o in items if policy.matches(o, filter)], first, after)
    except ValueError as error:
        raise ClientError(str(error), "BAD_USER_INPUT") from None
    for edge in connection["edges"]:
        edge["node"] = convert.deployment(edge["node"])
    if connection["edges"]:
        await _prefetch(context, namespace, selected_fields(info, "edges", "node"))
    return connection


def selected_fields(info, *path: str) -> set[str]:
    """Names of the fields selected at `path` below the current field (fragments expanded)."""

    def fields(selection_set) -> list:
        found = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                found.extend(fields(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in info.fragments:
                found.extend(fields(info.fragments[selection.name.value].selection_set))
        return found

    level = [node for node in info.field_nodes]
    for name in path:
        level = [f for node in level for f in fields(node.selection_set) if f.name.value == name]
    return {f.name.value for node in level for f in fields(node.selection_set)}


async def _prefetch(context: RequestContext, namespace: str, wanted: set[str]) -> None:
    """Load a page's events and memory records up front, one call each for the namespace, so each
    node's field is a synchronous lookup. A failure here is left to the per-node resolvers,
    which report it on their own fields as before."""
    loads = []
    if "events" in wanted:
        loads.append(context.loaders.events.load((namespace, "")))
    if wanted & {"feedback", "pastRevisions"}:
        loads.append(context.loaders.records.load((namespace, "")))
    await asyncio.gather(*loads, return_exceptions=True)


@query.field("cloudProviders")
async def resolve_cloud_providers(_, info, namespace: str) -> list[dict]:
    context = authorize(info, "read", namespace)
    try:
        items = await context.loaders.namespace_providers.load(namespace)
    except KubeError as error:
        raise kube_failure(error) from None
    return [convert.cloud_provider(o) for o in sorted(items, key=policy.name_of)]


@query.field("costSummary")
async def resolve_cost_summary(_, info, namespace: str) -> dict:
    context = authorize(info, "read", namespace)
    try:
        deployments = await context.loaders.namespace_deployments.load(namespace)
        providers = await context.loaders.namespace_providers.load(namespace)
    except KubeError as error:
        raise kube_failure(error) from None
    return policy.cost_summary(namespace, deployments, providers)


@query.field("similarDeployments")
async def resolve_similar(_, info, namespace: str, deployment: str | None = None, text: str | None = None, limit: int = 5) -> dict:
    context = authorize(info, "read", namespace)
    if (deployment is None) == (text is None):
        raise ClientError("give exactly one of deployment and text", "BAD_USER_INPUT")
    if not 1 <= limit <= 50:
        raise ClientError(f"limit must be between 1 and 50, got {limit}", "BAD_USER_INPUT")
    # The tenant is always the namespace the caller was authorized for: the memory then only
    # returns that tenant's records (and those explicitly shared with it).
    request = rag_pb2.RetrieveRequest(tenant=namespace, limit=limit)
    if text is not None:
        request.text = text
    else:
        try:
            obj = await context.loaders.deployment.load((namespace, deployment))
            provider = None
            if obj:
                provider = await context.backends.kube.get(CLOUDPROVIDERS, namespace, obj["spec"].get("cloudProvider", ""), context.identity)
        except KubeError as error:
            raise kube_failure(error) from None
        if obj is None:
            raise ClientError(f"no Deployment {deployment!r} in namespace {namespace!r}", "NOT_FOUND")
        records = await _records(context, namespace, deployment)
        query_message = rag_pb2.DeploymentQuery(intent=convert.intent(obj["spec"], provider))
        if records and records[0].HasField("analysis"):
            query_message.analysis.CopyFrom(records[0].analysis)
        request.deployment.CopyFrom(query_message)
        # The deployment itself is not "similar" to itself.
        request.limit = min(limit + len(records), 50)
    try:
        response = await context.backends.retrieve(request)
    except grpc.aio.AioRpcError as error:
        raise _grpc_failure("the deployment memory", error) from None
    results = [
        convert.past_deployment(r.record, r)
        for r in response.results
        if not (deployment is not None and r.record.tenant == namespace and r.record.name == deployment)
    ][:limit]
    return {"results": results, "reranker": response.reranker, "fullTextOnly": response.full_text_only, "notes": list(response.notes)}


def _grpc_failure(what: str, error: grpc.aio.AioRpcError) -> ClientError:
    if grpc_unavailable(error):
        return ClientError(f"{what} is unavailable, retry later ({error.code().name})", "UNAVAILABLE")
    if error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.OUT_OF_RANGE):
        return ClientError(f"{what} refused the request: {error.details()}", "BAD_USER_INPUT")
    if error.code() == grpc.StatusCode.NOT_FOUND:
        return ClientError(f"{what}: {error.details()}", "NOT_FOUND")
    if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return ClientError(f"{what} is over a limit: {error.details()}", "RESOURCE_EXHAUSTED")
    log.error("%s failed: %s %s", what, error.code().name, error.details())
    return ClientError(f"{what} failed ({error.code().name})", "INTERNAL")


def _check_repository(context: RequestContext, repository: dict) -> list[UserError]:
    """The CRD's repository rules, unless local paths are allowed (local stack and tests)."""
    if context.backends.settings.allow_local_repositories and repository.get("url", "").startswith(("/", "file://")):
        return []
    probe = {"apiVersion": SCIA_API_VERSION, "kind": "Deployment", "metadata": {"name": "probe"},
             "spec": {"repository": convert.drop_none(repository), "cloudProvider": "probe"}}
    return [UserError("VALIDATION", e.field, e.message) for e in validation.validate("Deployment", probe)]


@query.field("analyzeRepository")
async def resolve_analyze(_, info, namespace: str, repository: dict) -> dict:
    context = authorize(info, "preview", namespace)
    problems = _check_repository(context, repository)
    if problems:
        raise ClientError("; ".join(f"{'.'.join(p.field)}: {p.message}" for p in problems), "BAD_USER_INPUT")
    try:
        response = await context.backends.analyze(planner_pb2.AnalyzeRequest(repository=convert.repository_ref(repository)))
    except grpc.aio.AioRpcError as error:
        raise _grpc_failure("the planner", error) from None
    return convert.analysis(response.analysis)


@query.field("previewPlan")
async def resolve_preview(_, info, namespace: str, spec: dict, name: str | None = None) -> dict:
    context = authorize(info, "preview", namespace)
    spec = convert.drop_none(spec)
    # The name only shapes resource names (it is checked like a Deployment's); generation 1 is
    # the revision a new Deployment gets.
    obj = _deployment_object(namespace, name or "preview", spec)
    obj["metadata"]["generation"] = 1
    errors = [UserError("VALIDATION", e.field, e.message) for e in validation.validate("Deployment", obj)
              if not (e.field[:3] == ["spec", "repository", "url"] and not _check_repository(context, spec["repository"]))]
    try:
        provider = await context.backends.kube.get(CLOUDPROVIDERS, namespace, spec["cloudProvider"], context.identity)
        others = await context.loaders.namespace_deployments.load(namespace)
    except KubeError as error:
        raise kube_failure(error) from None
    errors += policy.check_against_provider("", obj["spec"], provider, others)
    request = planner_pb2.PlanRequest(
        tenant=namespace, repository=convert.repository_ref(spec["repository"]),
        intent=convert.intent(obj["spec"], provider), constraints=convert.constraints(provider),
    )
    try:
        response = await context.backends.plan(request)
    except grpc.aio.AioRpcError as error:
        raise _grpc_failure("the planner", error) from None
    plan = convert.plan(response.plan)
    composition, resources = None, []
    if not response.plan.rejected:
        rendered = await _render_preview(context, obj, response, provider)
        if isinstance(rendered, UserError):
            errors.append(rendered)
        else:
            composition, resources = rendered
    return {"analysis": convert.analysis(response.analysis), "plan": plan, "cost": plan["cost"],
            "errors": [e.as_dict() for e in errors], "composition": composition, "resources": resources}


async def _render_preview(context: RequestContext, obj: dict, response: planner_pb2.PlanResponse,
                          provider: dict | None) -> tuple[str, list[dict]] | UserError:
    """The cloud resources the plan becomes: the Infrastructure built exactly as the operator
    builds it, rendered with the Composition it selects (KCL, as function-kcl runs it)."""
    parameters = xr.parameters_from_plan(obj, response.plan, response.analysis, provider or {})
    infrastructure = xr.desired_infrastructure(obj, parameters, context.backends.settings.composition_version)
    try:
        # ~20 ms of CPU in KCL's native library: off the event loop.
        rendering = await asyncio.to_thread(compositions.render, infrastructure)
    except (compositions.NoComposition, compositions.RenderError) as error:
        return UserError("VALIDATION", ["plan", "parameters"], f"the Composition refused the planned parameters: {error}")
    return rendering.composition, [
        {"name": compositions.resource_name(r), "apiVersion": r.get("apiVersion", ""), "kind": r.get("kind", ""), "manifest": r}
        for r in rendering.resources
    ]


# --- Deployment fields that reach other backends ------------------------------------------------

async def _records(context: RequestContext, namespace: str, name: str) -> list:
    try:
        records = await context.loaders.records.load((namespace, name))
    except grpc.aio.AioRpcError as error:
        raise _grpc_failure("the deployment memory", error) from None
    return sorted(records, key=lambda r: r.revision, reverse=True)


# These return the value itself when the page prefetched it, and an awaitable otherwise: for
# 100 nodes that is the difference between a plain loop and 100 tasks gathered by graphql-core.

@deployment_type.field("events")
def resolve_events(obj, info):
    cached = ctx(info).loaders.cached_events(obj["namespace"], obj["name"])
    return cached if cached is not None else _load_events(ctx(info), obj["namespace"], obj["name"])


async def _load_events(context: RequestContext, namespace: str, name: str) -> list[dict]:
    try:
        return await context.loaders.events.load((namespace, name))
    except KubeError as error:
        raise kube_failure(error) from None


def _feedback(records: list) -> dict | None:
    return convert.feedback(records[0]) if records else None


def _past(records: list) -> list[dict]:
    return [convert.past_deployment(r) for r in records]


async def _then(records, shape):
    return shape(await records)


def _from_records(obj, info, build):
    """`build` applied to the Deployment's memory records: the ones already loaded for this
    request when there are, else fetched."""
    cached = ctx(info).loaders.cached_records(obj["namespace"], obj["name"])
    if cached is not None:
        return build(cached)
    return _then(_records(ctx(info), obj["namespace"], obj["name"]), build)


@deployment_type.field("feedback")
def resolve_feedback(obj, info):
    return _from_records(obj, info, _feedback)


@deployment_type.field("pastRevisions")
def resolve_past_revisions(obj, info):
    return _from_records(obj, info, _past)


# --- mutations -------------------------------------------------------------------------------

def _deployment_object(namespace: str, name: str, spec: dict) -> dict:
    return {"apiVersion": SCIA_API_VERSION, "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace}, "spec": copy.deepcopy(spec)}


def _schema_errors(kind: str, obj: dict, old: dict | None = None) -> list[UserError]:
    return [UserError("VALIDATION", e.field, e.message) for e in validation.validate(kind, obj, old)]


async def _checked_deployment(context: RequestContext, namespace: str, name: str, obj: dict) -> list[UserError]:
    errors = _schema_errors("Deployment", obj)
    if errors:
        return errors
    provider = await context.backends.kube.get(CLOUDPROVIDERS, namespace, obj["spec"]["cloudProvider"], context.identity)
    others = await context.loaders.namespace_deployments.load(namespace)
    return policy.check_against_provider(name, obj["spec"], provider, others)


def _forbidden(info, action: str, namespace: str) -> list[UserError]:
    try:
        require(ctx(info).principal, action, namespace)
    except Forbidden as error:
        return [UserError("FORBIDDEN", [], str(error))]
    return []


@mutation.field("createDeployment")
async def resolve_create_deployment(_, info, namespace: str, name: str, spec: dict) -> dict:
    if errors := _forbidden(info, "write_deployment", namespace):
        return errors_payload(errors, deployment=None)
    context = ctx(info)
    obj = _deployment_object(namespace, name, convert.drop_none(spec))
    try:
        errors = await _checked_deployment(context, namespace, name, obj)
        if errors:
            return errors_payload(errors, deployment=None)
        created = await context.backends.kube.create(DEPLOYMENTS, namespace, obj, context.identity)
    except KubeError as error:
        return errors_payload([payload_error(error)], deployment=None)
    return errors_payload([], deployment=convert.deployment(created))


def _merge(base: dict, patch: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@mutation.field("updateDeployment")
async def resolve_update_deployment(_, info, namespace: str, name: str, spec: dict, resourceVersion: str | None = None) -> dict:
    if errors := _forbidden(info, "write_deployment", namespace):
        return errors_payload(errors, deployment=None)
    context = ctx(info)
    changes = convert.drop_none(spec)
    try:
        current = await context.backends.kube.get(DEPLOYMENTS, namespace, name, context.identity)
        if current is None:
            return errors_payload([UserError("NOT_FOUND", ["name"], f"no Deployment {name!r} in namespace {namespace!r}")], deployment=None)
        if resourceVersion and current["metadata"].get("resourceVersion") not in (None, resourceVersion):
            return errors_payload([UserError("CONFLICT", ["resourceVersion"], "the Deployment changed since it was read; reload and retry")], deployment=None)
        merged = _deployment_object(namespace, name, _merge(current.get("spec") or {}, changes))
        errors = await _checked_deployment(context, namespace, name, merged)
        if errors:
            return errors_payload(errors, deployment=None)
        patch: dict = {"spec": changes}
        if resourceVersion:
            patch["metadata"] = {"resourceVersion": resourceVersion}  # the API server's optimistic lock
        updated = await context.backends.kube.patch(DEPLOYMENTS, namespace, name, patch, context.identity)
    except KubeError as error:
        return errors_payload([payload_error(error)], deployment=None)
    return errors_payload([], deployment=convert.deployment(updated))


@mutation.field("deleteDeployment")
async def resolve_delete_deployment(_, info, namespace: str, name: str) -> dict:
    if errors := _forbidden(info, "write_deployment", namespace):
        return errors_payload(errors, deleted=False)
    context = ctx(info)
    try:
        await context.backends.kube.delete(DEPLOYMENTS, namespace, name, context.identity)
    except KubeError as error:
        return errors_payload([payload_error(error, ["name"])], deleted=False)
    return errors_payload([], deleted=True)


@mutation.field("rollbackDeployment")
async def resolve_rollback(_, info, namespace: str, name: str, revision: int) -> dict:
    if errors := _forbidden(info, "write_deployment", namespace):
        return errors_payload(errors, deployment=None)
    context = ctx(info)
    try:
        current = await context.backends.kube.get(DEPLOYMENTS, namespace, name, context.identity)
        if current is None:
            return errors_payload([UserError("NOT_FOUND", ["name"], f"no Deployment {name!r} in namespace {namespace!r}")], deployment=None)
        if error := policy.rollback_error(current, revision):
            return errors_payload([error], deployment=None)
        updated = await context.backends.kube.patch(DEPLOYMENTS, namespace, name, {"spec": {"rollbackTo": revision}}, context.identity)
    except KubeError as error:
        return errors_payload([payload_error(error)], deployment=None)
    return errors_payload([], deployment=convert.deployment(updated))


@mutation.field("provideFeedback")
async def resolve_feedback_mutation(_, info, namespace: str, name: str, vote: int, comment: str | None = None, revision: int | None = None) -> dict:
    if errors := _forbidden(info, "feedback", namespace):
        return errors_payload(errors, feedback=None)
    context = ctx(info)
    if vote not in (1, -1):
        return errors_payload([UserError("VALIDATION", ["vote"], f"vote must be +1 or -1, got {vote}")], feedback=None)
    if comment is not None and len(comment) > 4000:
        return errors_payload([UserError("VALIDATION", ["comment"], "comment is longer than 4000 characters")], feedback=None)
    try:
        records = await _records(context, namespace, name)
    except ClientError as error:
        return errors_payload([UserError("UNAVAILABLE", [], error.message)], feedback=None)
    if revision is not None:
        records = [r for r in records if r.revision == revision]
    if not records:
        what = f"revision {revision} of {name!r}" if revision is not None else f"{name!r}"
        return errors_payload([UserError("NOT_FOUND", ["revision" if revision is not None else "name"],
                                         f"the deployment memory holds no {what} in namespace {namespace!r} yet")], feedback=None)
    try:
        record = await context.backends.record_feedback(rag_pb2.RecordFeedbackRequest(
            tenant=namespace, id=records[0].id, user=context.principal.user, vote=vote, comment=comment or ""))
    except grpc.aio.AioRpcError as error:
        failure = _grpc_failure("the deployment memory", error)
        code = "UNAVAILABLE" if failure.extensions["code"] == "UNAVAILABLE" else "VALIDATION"
        return errors_payload([UserError(code, [], failure.message)], feedback=None)
    return errors_payload([], feedback=convert.feedback(record))


def _cloud_provider_object(namespace: str, name: str, spec: dict) -> dict:
    return {"apiVersion": SCIA_API_VERSION, "kind": "CloudProvider",
            "metadata": {"name": name, "namespace": namespace}, "spec": convert.drop_none(spec)}


@mutation.field("createCloudProvider")
async def resolve_create_cloud_provider(_, info, namespace: str, name: str, spec: dict) -> dict:
    if errors := _forbidden(info, "write_cloudprovider", namespace):
        return errors_payload(errors, cloudProvider=None)
    context = ctx(info)
    obj = _cloud_provider_object(namespace, name, spec)
    if errors := _schema_errors("CloudProvider", obj):
        return errors_payload(errors, cloudProvider=None)
    try:
        created = await context.backends.kube.create(CLOUDPROVIDERS, namespace, obj, context.identity)
    except KubeError as error:
        return errors_payload([payload_error(error)], cloudProvider=None)
    return errors_payload([], cloudProvider=convert.cloud_provider(created))


@mutation.field("updateCloudProvider")
async def resolve_update_cloud_provider(_, info, namespace: str, name: str, spec: dict) -> dict:
    if errors := _forbidden(info, "write_cloudprovider", namespace):
        return errors_payload(errors, cloudProvider=None)
    context = ctx(info)
    obj = _cloud_provider_object(namespace, name, spec)
    try:
        current = await context.backends.kube.get(CLOUDPROVIDERS, namespace, name, context.identity)
        if current is None:
            return errors_payload([UserError("NOT_FOUND", ["name"], f"no CloudProvider {name!r} in namespace {namespace!r}")], cloudProvider=None)
        if errors := _schema_errors("CloudProvider", obj, current):
            return errors_payload(errors, cloudProvider=None)
        # A merge patch cannot remove list items or keys that the new spec leaves out; send
        # explicit nulls for them so the stored spec becomes exactly the one given.
        removed = {k: None for k in (current.get("spec") or {}) if k not in obj["spec"]}
        updated = await context.backends.kube.patch(CLOUDPROVIDERS, namespace, name, {"spec": {**obj["spec"], **removed}}, context.identity)
    except KubeError as error:
        return errors_payload([payload_error(error)], cloudProvider=None)
    return errors_payload([], cloudProvider=convert.cloud_provider(updated))


# --- subscriptions ---------------------------------------------------------------------------

@subscription.source("deploymentUpdated")
async def deployment_updated_source(_, info, namespace: str, name: str | None = None) -> AsyncIterator[dict]:
    # Authorized here, before the stream starts, so a refusal is the subscription's error
    # answer rather than a failure after it was accepted.
    context = authorize(info, "read", namespace)
    return _watch_deployments(context, namespace, name)


async def _watch_deployments(context: RequestContext, namespace: str, name: str | None) -> AsyncIterator[dict]:
    """Events of the namespace's shared watch (see watches.py), resolved for this subscriber."""
    try:
        async for kind, obj in context.backends.watches.subscribe(namespace, name, context.identity):
            context.fresh_loaders()  # fields like events and feedback must be current for each event
            yield {"type": kind, "deployment": convert.deployment(obj)}
    except KubeError as error:
        raise kube_failure(error) from None
    except SlowSubscriber as error:
        raise ClientError(str(error), "SLOW_SUBSCRIBER") from None


@subscription.field("deploymentUpdated")
def resolve_deployment_updated(event, _info, **_arguments) -> dict:
    return event


@json_scalar.serializer
def serialize_json(value):
    return value


@datetime_scalar.serializer
def serialize_datetime(value):
    return value


def build_schema() -> GraphQLSchema:
    sdl = (resources.files("scia.gateway") / "schema.graphql").read_text()
    return make_executable_schema(
        sdl, query, mutation, subscription, deployment_type, tenant_type, viewer_type,
        json_scalar, datetime_scalar, policy_enum,
    )


__all__ = ["build_schema", "ClientError", "ROLE_RANK"]
