"""The kopf layer: fetch, call the pure functions in `reconcile`, write the results.

One `OperatorRegistry` per `Operator` (tests run several in one process, one after another).

Flows (docs/operator.md has the narrative):
- Deployment created / spec changed / operator resumed -> `_on_spec`: skip when
  observedGeneration == generation (only check the Infrastructure), else plan and apply.
- Infrastructure watch event, and a rare periodic re-check per Deployment (a safety net: the
  watch catches drift at once) -> `converge`: restore drift, reflect Crossplane's Ready/Synced
  into the Deployment, record final outcomes in the memory (retried with backoff while the
  memory is down, `_retry_memory`).
- Deployment deleted -> `_on_delete` (finalizer scia.io/finalizer): delete the Infrastructure,
  wait until it is gone, record DELETED, release.

Every read-modify-write of one Deployment's status happens under that Deployment's lock: the
spec handler, the Infrastructure watch and the timer would otherwise overwrite each other's
`conditions` (a merge patch replaces a list). Across replicas, kopf peering keeps one active.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
import os
import random
import secrets
from collections import defaultdict
from typing import Any

import grpc
import kopf

from scia.operator import metrics
from scia.operator import reconcile as r
from scia.operator.config import PEERING_PRIORITY_RANGE, OperatorSettings
from scia.operator.kube import Conflict, Kube
from scia.runtime.client import create_channel
from scia.v1 import planner_pb2, planner_pb2_grpc, rag_pb2, rag_pb2_grpc

log = logging.getLogger(__name__)

DEPLOYMENTS, CLOUDPROVIDERS, INFRASTRUCTURES = "deployments", "cloudproviders", "infrastructures"
PLANNER_SERVICE = planner_pb2.DESCRIPTOR.services_by_name["Planner"]
MEMORY_SERVICE = rag_pb2.DESCRIPTOR.services_by_name["DeploymentMemory"]
# Worth retrying: the service is down, overloaded or slow. Anything else is about the request.
TRANSIENT_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.CANCELLED,
}
PHASE_EVENT_TYPES = {r.FAILED: "Warning"}


def now_iso() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds_since(timestamp: str) -> float | None:
    try:
        then = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except (TypeError, ValueError):
        return None
    return max(0.0, (datetime.datetime.now(tz=datetime.UTC) - then).total_seconds())


def _rpc_text(error: grpc.aio.AioRpcError) -> str:
    return f"{error.code().name}: {error.details() or 'no details'}"


class Operator:
    """The handlers of one operator instance, bound to its settings and clients."""

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings
        self.registry = kopf.OperatorRegistry()
        self.kube: Kube | None = None
        self.planner: planner_pb2_grpc.PlannerStub | None = None
        self.memory: rag_pb2_grpc.DeploymentMemoryStub | None = None
        self._channels: list[grpc.aio.Channel] = []
        self._locks: dict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        # (namespace, Deployment) -> resourceVersion of its Infrastructure as last converged: a
        # watch re-list (after a 410 Gone, a reconnect) re-sends unchanged objects; those are skipped.
        self._converged: dict[tuple[str, str], str] = {}
        # (namespace, Deployment) -> the task retrying an outcome the memory did not take.
        self._memory_retries: dict[tuple[str, str], asyncio.Task] = {}
        # Outcome writes in flight at once. Each embeds a record in the memory: 400 Deployments
        # turning Running together sent 400 at once, the memory missed its deadlines, and every
        # retry re-sent the work (a retry storm, seen in the benchmark). Waiting for a slot does
        # not count against a call's deadline.
        self._memory_slots = asyncio.Semaphore(settings.memory_concurrency)
        self.active = metrics.ActiveDeployments()
        self._register()

    # ---------------------------------------------------------------------------------------
    # registration

    def _register(self) -> None:
        reg, s = self.registry, self.settings
        kopf.on.startup(registry=reg)(self._startup)
        kopf.on.cleanup(registry=reg)(self._cleanup)
        kopf.on.login(registry=reg)(self._login)
        for decorator in (kopf.on.create, kopf.on.update, kopf.on.resume):
            decorator(r.GROUP, r.VERSION, DEPLOYMENTS, registry=reg, id="reconcile")(self._on_spec)
        kopf.on.delete(r.GROUP, r.VERSION, DEPLOYMENTS, registry=reg, id="finalize")(self._on_delete)
        # The first re-check of each Deployment is at a random point of the first interval, then one
        # every interval after it: an operator (re)started with 500 Deployments spreads their checks
        # evenly instead of running them all at once, every interval.
        kopf.timer(
            r.GROUP, r.VERSION, DEPLOYMENTS, registry=reg, id="recheck",
            interval=s.recheck_interval_seconds, initial_delay=self._first_recheck_delay,
        )(self._on_timer)
        kopf.on.event(
            r.GROUP, r.VERSION, INFRASTRUCTURES, registry=reg, id="infrastructure",
            labels={"app.kubernetes.io/managed-by": r.MANAGED_BY},
        )(self._on_infrastructure)

    async def _startup(self, settings: kopf.OperatorSettings, logger: logging.Logger, **_: Any) -> None:
        s = self.settings
        settings.persistence.finalizer = r.FINALIZER
        # Handler progress and the diff base live in annotations: status belongs to the CRD's
        # schema (status.kopf would be pruned by a real API server).
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="scia.io")
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="scia.io", key="last-handled-configuration")
        settings.watching.server_timeout = s.server_timeout_seconds
        settings.watching.client_timeout = s.client_timeout_seconds
        settings.watching.connect_timeout = s.connect_timeout_seconds
        settings.networking.request_timeout = max(30.0, s.connect_timeout_seconds * 3)
        # Events are posted on purpose (phase changes, drift, budget), not for every log line.
        settings.posting.loggers = False
        settings.posting.level = logging.INFO
        self.kube = Kube(settings, logger)
        planner_channel = create_channel(s.planner_target, [PLANNER_SERVICE], timeout=s.planner_timeout_seconds)
        self._channels.append(planner_channel)
        self.planner = planner_pb2_grpc.PlannerStub(planner_channel)
        if s.rag_target:
            memory_channel = create_channel(s.rag_target, [MEMORY_SERVICE], timeout=s.rag_timeout_seconds)
            self._channels.append(memory_channel)
            self.memory = rag_pb2_grpc.DeploymentMemoryStub(memory_channel)
        logger.info("operator ready: planner %s, memory %s", s.planner_target, s.rag_target or "disabled")

    def _first_recheck_delay(self, **_: Any) -> float:
        s = self.settings
        return s.recheck_interval_seconds * (1 - s.recheck_jitter) + random.uniform(0, s.recheck_interval_seconds * s.recheck_jitter)

    async def _cleanup(self, **_: Any) -> None:
        retries = list(self._memory_retries.values())
        for task in retries:
            task.cancel()
        await asyncio.gather(*retries, return_exceptions=True)
        self._memory_retries.clear()
        for channel in self._channels:
            await channel.close()
        self._channels.clear()

    def _login(self, **kwargs: Any) -> kopf.ConnectionInfo | None:
        s = self.settings
        if s.kubernetes_url:
            # The local emulator: plain HTTP on loopback, no credentials.
            return kopf.ConnectionInfo(server=s.kubernetes_url, insecure=True, default_namespace="default")
        in_cluster = s.in_cluster if s.in_cluster is not None else bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        if in_cluster:
            return kopf.login_with_service_account(**kwargs)
        if s.kubeconfig is not None:
            os.environ["KUBECONFIG"] = str(s.kubeconfig)
        return kopf.login_with_kubeconfig(**kwargs)

    # ---------------------------------------------------------------------------------------
    # plumbing

    def lock(self, namespace: str, name: str) -> asyncio.Lock:
        return self._locks[(namespace, name)]

    def delay(self, retry: int) -> float:
        return r.retry_delay(retry, self.settings.retry_delay_seconds, self.settings.max_retry_delay_seconds)

    async def write_status(self, deployment: dict, changes: dict) -> dict:
        """Patch only what changed, through the status subresource; post an Event when the
        phase changes. Returns the Deployment as it now is."""
        assert self.kube is not None
        meta = deployment["metadata"]
        old = deployment.get("status") or {}
        patch = {k: v for k, v in changes.items() if old.get(k) != v}
        if "conditions" in patch and r.conditions_equal(old.get("conditions"), patch["conditions"]):
            del patch["conditions"]
        if not patch:
            return deployment
        updated = await self.kube.merge_patch(DEPLOYMENTS, meta["namespace"], meta["name"], {"status": patch}, status=True)
        if "phase" in patch:
            message = changes.get("message") or f"phase {patch['phase']}"
            kopf.event(deployment, type=PHASE_EVENT_TYPES.get(patch["phase"], "Normal"), reason=patch["phase"], message=message[:1024])
        if updated is None:
            return deployment
        deployment = dict(deployment)
        deployment["status"] = {**old, **patch}
        return deployment

    async def _fetch(self, namespace: str, name: str) -> dict | None:
        assert self.kube is not None
        return await self.kube.get(DEPLOYMENTS, namespace, name)

    # ---------------------------------------------------------------------------------------
    # handlers

    async def _on_spec(self, name: str, namespace: str, retry: int, logger: logging.Logger, **_: Any) -> None:
        async with self.lock(namespace, name):
            deployment = await self._fetch(namespace, name)
            if deployment is None or r.get_path(deployment, "metadata", "deletionTimestamp"):
                return
            if r.get_path(deployment, "spec", "paused", default=False):
                logger.info("paused: not reconciling")
                return
            if not r.needs_planning(deployment):
                # Resume or a metadata-only change: no planning, but make sure the
                # Infrastructure still matches (it may have changed while we were away).
                await self.converge(deployment, logger, source="resume")
                return
            await self.apply_revision(deployment, retry, logger)

    async def _on_timer(self, name: str, namespace: str, logger: logging.Logger, **_: Any) -> None:
        async with self.lock(namespace, name):
            deployment = await self._fetch(namespace, name)
            if deployment is None or r.get_path(deployment, "metadata", "deletionTimestamp") or r.needs_planning(deployment):
                return  # deletion and planning have their own handlers
            if r.get_path(deployment, "spec", "paused", default=False):
                return
            await self.converge(deployment, logger, source="periodic re-check")

    async def _on_infrastructure(self, body: kopf.Body, type: str | None, namespace: str, logger: logging.Logger, **_: Any) -> None:
        owner = body.metadata.labels.get("scia.io/deployment") or next(
            (o["name"] for o in body.metadata.get("ownerReferences", []) if o.get("kind") == "Deployment"), None
        )
        if not owner:
            return
        key, version = (namespace, owner), body.metadata.get("resourceVersion")
        if type != "DELETED" and version and self._converged.get(key) == version:
            return  # this very version was converged already (a re-listed, unchanged object)
        async with self.lock(namespace, owner):
            deployment = await self._fetch(namespace, owner)
            if deployment is None or r.get_path(deployment, "metadata", "deletionTimestamp") or r.needs_planning(deployment):
                return
            if r.get_path(deployment, "spec", "paused", default=False):
                return
            # The event carries the Infrastructure as it is: no need to read it again. A deletion
            # is checked with a read (the object may already be back).
            observed: Any = self._MISSING if type == "DELETED" else copy.deepcopy(dict(body))
            await self.converge(deployment, logger, source="watch", observed=observed)

    async def _on_delete(self, name: str, namespace: str, retry: int, logger: logging.Logger, **_: Any) -> None:
        assert self.kube is not None
        async with self.lock(namespace, name):
            deployment = await self._fetch(namespace, name)
            if deployment is None:
                return
            status = deployment.get("status") or {}
            xr_name = r.get_path(status, "infrastructureRef", "name") or r.infrastructure_name(deployment)
            observed = await self.kube.get(INFRASTRUCTURES, namespace, xr_name)
            if observed is not None:
                if not r.get_path(observed, "metadata", "deletionTimestamp"):
                    await self.kube.delete(INFRASTRUCTURES, namespace, xr_name)
                    kopf.info(deployment, reason="DeletingInfrastructure", message=f"deleting Infrastructure {xr_name}; the Deployment is released once it is gone")
                deployment = await self.write_status(
                    deployment, {"phase": r.DELETING, "message": f"waiting for Infrastructure {xr_name} to be deleted"}
                )
                raise kopf.TemporaryError(f"waiting for Infrastructure {xr_name} to be deleted", delay=self.settings.deletion_poll_seconds)
            if status.get("phase") != r.DELETING:
                deployment = await self.write_status(deployment, {"phase": r.DELETING, "message": "the Infrastructure is gone"})
            entry = r.applied_entry(status.get("history") or [])
            if entry is not None and entry.get("outcome") != r.OUTCOME_DELETED:
                ok, why = await self.record_outcome(deployment, entry, r.OUTCOME_DELETED, "the Deployment was deleted")
                if not ok:
                    if retry + 1 < self.settings.deletion_memory_attempts:
                        raise kopf.TemporaryError(f"recording DELETED in the memory failed ({why})", delay=self.delay(retry))
                    kopf.warn(deployment, reason="MemoryUnavailable", message=f"released without recording DELETED in the memory: {why}")
                metrics.DEPLOYMENTS.labels(entry.get("strategy", ""), entry["parameters"].get("framework", ""), r.OUTCOME_DELETED).inc()
            self.active.set(namespace, name, None)
            logger.info("released: the Infrastructure is gone")
        self._locks.pop((namespace, name), None)
        self._converged.pop((namespace, name), None)
        retry_task = self._memory_retries.pop((namespace, name), None)
        if retry_task is not None and retry_task is not asyncio.current_task():
            retry_task.cancel()

    # ---------------------------------------------------------------------------------------
    # applying a revision

    async def apply_revision(self, deployment: dict, retry: int, logger: logging.Logger) -> None:
        assert self.kube is not None and self.planner is not None
        s = self.settings
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        namespace, name = meta["namespace"], meta["name"]
        status = deployment.get("status") or {}
        generation = r.revision_of(deployment)
        started = now_iso()
        conditions = status.get("conditions") or []

        def cond(type_: str, state: str, reason: str, message: str) -> None:
            nonlocal conditions
            conditions = r.set_condition(conditions, type_, state, reason, message, generation=generation, now=now_iso())

        # What the planner found in the repository, kept with the revision for the memory.
        summary: dict | None = None

        async def refuse(reason: str, message: str, extra: dict | None = None, *, estimated: float | None = None) -> None:
            """Final for this revision: Failed, with the reason, and the revision in history."""
            cond("Ready", "False", reason, message)
            entry = r.history_entry(
                deployment, now=started, parameters=None, estimated_monthly=estimated, reason=f"{reason}: {message}", analysis=summary
            )
            changes = {
                "phase": r.FAILED,
                "observedGeneration": generation,
                "message": message,
                "conditions": conditions,
                "history": r.upsert_history(status.get("history"), entry),
                "lastOutcome": r.OUTCOME_FAILED,
                **(extra or {}),
            }
            kopf.warn(deployment, reason=reason, message=message[:1024])
            updated = await self.write_status(deployment, changes)
            if estimated is not None:  # there was a plan: the memory learns from refusals too
                await self.converge(updated, logger, source="refusal")

        # 1. The CloudProvider: missing -> wait for it; region not allowed -> refuse.
        provider_name = spec.get("cloudProvider") or ""
        provider = await self.kube.get(CLOUDPROVIDERS, namespace, provider_name) if provider_name else None
        check = r.check_cloud_provider(deployment, provider)
        if check.retry:
            cond("CloudProviderReady", "False", check.reason, check.message)
            await self.write_status(deployment, {"phase": r.PENDING, "message": check.message, "conditions": conditions})
            raise kopf.TemporaryError(check.message, delay=self.delay(retry))
        if check.refused:
            cond("CloudProviderReady", "False", check.reason, check.message)
            await refuse(check.reason, check.message)
            return
        cond("CloudProviderReady", "True", "Found", check.message)
        assert provider is not None

        # 2. Parameters: from history (rollback) or from a new plan.
        decision, cost = status.get("decision"), status.get("cost")
        rollback_to = spec.get("rollbackTo")
        if rollback_to:
            target, why = r.rollback_target(status.get("history") or [], int(rollback_to))
            if target is None:
                await refuse("RollbackTargetNotFound", why)
                return
            parameters = r.rollback_parameters(deployment, target)
            summary = target.get("analysis")
            estimated = float(target.get("estimatedMonthlyCost") or 0)
            reason = f"rollback to revision {rollback_to}"
            cond("Planned", "True", "RolledBack", f"parameters of revision {rollback_to} re-applied; remove spec.rollbackTo to plan again")
            kopf.info(deployment, reason="RollingBack", message=f"re-applying the parameters of revision {rollback_to}")
        else:
            cond("Planned", "Unknown", "Planning", f"asking the planner ({s.planner_target})")
            deployment = await self.write_status(
                deployment, {"phase": r.PLANNING, "message": "analysing the repository and planning", "conditions": conditions}
            )
            status = deployment.get("status") or {}
            request = r.plan_request(deployment, provider, check.region)
            try:
                response = await self.planner.Plan(request, timeout=s.planner_timeout_seconds)
            except grpc.aio.AioRpcError as error:
                if error.code() in TRANSIENT_CODES:
                    metrics.PLANS.labels("unavailable").inc()
                    delay = self.delay(retry)
                    message = f"planner {s.planner_target} unavailable ({_rpc_text(error)}); retrying in {delay:g}s"
                    cond("PlannerAvailable", "False", "PlannerUnavailable", message)
                    cond("Planned", "False", "PlannerUnavailable", message)
                    await self.write_status(deployment, {"message": message, "conditions": conditions})
                    raise kopf.TemporaryError(message, delay=delay) from None
                metrics.PLANS.labels("rejected").inc()
                cond("PlannerAvailable", "True", "Available", "the planner answered")
                cond("Planned", "False", "PlanningFailed", _rpc_text(error))
                await refuse("PlanningFailed", f"the planner refused the request: {_rpc_text(error)}")
                return
            metrics.PLANS.labels("ok").inc()
            plan = response.plan
            summary = r.analysis_summary(response.analysis, plan.requirements)
            cond("PlannerAvailable", "True", "Available", "the planner answered")
            decision, cost = r.decision_status(plan), r.cost_status(plan)
            budget = r.check_budget(plan, deployment)
            cond("BudgetOk", "True" if budget.ok else "False", budget.reason, budget.message)
            planned = {"decision": decision, "cost": cost}
            if budget.refuse:
                cond("Planned", "False", "BudgetExceeded", budget.message)
                await refuse("BudgetExceeded", budget.message, planned, estimated=plan.cost.monthly_total_usd)
                return
            if plan.rejected:
                cond("Planned", "False", "PlanRejected", plan.rejection_reason)
                await refuse("PlanRejected", f"the planner rejected every option: {plan.rejection_reason}", planned, estimated=plan.cost.monthly_total_usd)
                return
            parameters = r.parameters_from_plan(deployment, plan, response.analysis, provider)
            others = [
                d for d in await self.kube.list(DEPLOYMENTS, namespace)
                if d["metadata"]["name"] != name and r.get_path(d, "spec", "cloudProvider") == provider_name
            ]
            quota = r.check_quotas(parameters, plan.cost.monthly_total_usd, provider, others)
            if quota:
                cond("Planned", "False", "QuotaExceeded", quota)
                await refuse("QuotaExceeded", quota, planned, estimated=plan.cost.monthly_total_usd)
                return
            if budget.warn:
                kopf.warn(deployment, reason=budget.reason, message=budget.message[:1024])
            estimated = plan.cost.monthly_total_usd
            reason = plan.reason
            cond("Planned", "True", "Planned", f"{parameters['strategy']} on {parameters['cloud']} {parameters['region']}, ${estimated:,.2f}/month")

        # 3. The Infrastructure: exactly one, created or patched in place.
        desired = r.desired_infrastructure(deployment, parameters, s.composition_version)
        observed = await self.kube.get(INFRASTRUCTURES, namespace, desired["metadata"]["name"])
        if r.needs_replacement(desired, observed):
            if not r.get_path(observed, "metadata", "deletionTimestamp"):
                await self.kube.delete(INFRASTRUCTURES, namespace, desired["metadata"]["name"])
            message = "cloud or region changed: replacing the Infrastructure, waiting for the old one to be deleted"
            await self.write_status(deployment, {"message": message, "conditions": conditions})
            raise kopf.TemporaryError(message, delay=s.deletion_poll_seconds)
        observed = await self._put_infrastructure(desired, observed)
        entry = r.history_entry(
            deployment, now=started, parameters=parameters, estimated_monthly=estimated, reason=reason,
            composition_version=s.composition_version, analysis=summary,
        )
        state = r.infrastructure_state(observed)
        cond("Synced", *state.synced)
        cond("Ready", *state.ready)
        cond("Drifted", "False", "InSync", "the Infrastructure matches the applied revision")
        changes = {
            "phase": r.PROVISIONING,
            "observedGeneration": generation,
            "message": f"Infrastructure {desired['metadata']['name']} applied (revision {generation}): {parameters['strategy']} on {parameters['cloud']} {parameters['region']}",
            "conditions": conditions,
            "infrastructureRef": entry["infrastructureRef"],
            "history": r.upsert_history(status.get("history"), entry),
            "endpoints": state.endpoints,
            "lastOutcome": r.OUTCOME_PENDING,
        }
        if decision is not None:
            changes["decision"] = decision
        if cost is not None:
            changes["cost"] = cost
        deployment = await self.write_status(deployment, changes)
        self.active.set(namespace, name, parameters["strategy"])
        # Crossplane may already have answered (a re-applied, unchanged Infrastructure).
        await self.converge(deployment, logger, source="apply", observed=observed)

    async def _put_infrastructure(self, desired: dict, observed: dict | None) -> dict:
        """Create, or patch what drifted; a concurrent create (409) becomes a patch."""
        assert self.kube is not None
        meta = desired["metadata"]
        if observed is None:
            try:
                return await self.kube.create(INFRASTRUCTURES, meta["namespace"], desired)
            except Conflict:
                observed = await self.kube.get(INFRASTRUCTURES, meta["namespace"], meta["name"])
                if observed is None:
                    raise kopf.TemporaryError("the Infrastructure is being deleted; retrying", delay=self.settings.deletion_poll_seconds) from None
        if r.infrastructure_drift(desired, observed):
            patched = await self.kube.merge_patch(INFRASTRUCTURES, meta["namespace"], meta["name"], r.repair_patch(desired, observed))
            return patched if patched is not None else await self._put_infrastructure(desired, None)
        return observed

    # ---------------------------------------------------------------------------------------
    # converging: drift, Crossplane's conditions, outcomes

    _MISSING: Any = object()

    async def converge(self, deployment: dict, logger: logging.Logger, *, source: str, observed: Any = _MISSING) -> dict:
        """Bring the Infrastructure back to the applied revision and the Deployment's status in
        line with it. Idempotent: with nothing to change it writes nothing."""
        assert self.kube is not None
        meta = deployment["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        status = deployment.get("status") or {}
        history = list(status.get("history") or [])
        generation = int(status.get("observedGeneration") or 0)
        current = r.entry_for(history, generation)
        applied = r.applied_entry(history)
        conditions = status.get("conditions") or []
        changes: dict[str, Any] = {}

        def cond(type_: str, state: str, reason: str, message: str) -> None:
            nonlocal conditions
            conditions = r.set_condition(conditions, type_, state, reason, message, generation=generation, now=now_iso())

        if applied is not None:
            desired = r.desired_infrastructure(deployment, applied["parameters"], self.settings.composition_version)
            if observed is self._MISSING:
                observed = await self.kube.get(INFRASTRUCTURES, namespace, desired["metadata"]["name"])
            if observed is not None and r.get_path(observed, "metadata", "deletionTimestamp"):
                return deployment  # being deleted by someone: recreate once it is gone
            drift = r.infrastructure_drift(desired, observed)
            if drift:
                kind = "deleted" if observed is None else "changed"
                observed = await self._put_infrastructure(desired, observed)
                metrics.DRIFT_REPAIRS.labels(kind).inc()
                message = f"Infrastructure {desired['metadata']['name']} was {kind} out of band and has been restored ({source}): " + "; ".join(drift[:8])
                cond("Drifted", "True", "DriftRepaired", message)
                kopf.warn(deployment, reason="Drifted", message=message[:1024])
                logger.warning(message)
            state = r.infrastructure_state(observed)
            cond("Synced", *state.synced)
            refused_now = current is not None and not current.get("parameters")
            if not refused_now:
                # The current revision is the applied one: its phase follows Crossplane.
                cond("Ready", *state.ready)
                changes.update({"phase": state.phase, "message": state.message, "endpoints": state.endpoints})
                if state.phase in (r.PROVISIONING, r.RUNNING):
                    self.active.set(namespace, name, applied.get("strategy"))

        # Record a final outcome once per revision (and again only if it changes).
        phase = changes.get("phase", status.get("phase"))
        outcome = r.outcome_for_phase(phase)
        if current is not None and outcome and current.get("outcome") != outcome and (current.get("parameters") or "estimatedMonthlyCost" in current):
            view = {**deployment, "status": {**status, **changes}}
            ok, why = await self.record_outcome(view, current, outcome, changes.get("message") or status.get("message") or "")
            if ok:
                cond("MemoryAvailable", "True", "Recorded", f"revision {current['revision']} recorded as {outcome}")
                current = {**current, "outcome": outcome}
                history = r.upsert_history(history, current)
                changes["history"] = history
                changes["lastOutcome"] = outcome
                labels = (current.get("strategy") or "", (current.get("parameters") or {}).get("framework", ""))
                metrics.DEPLOYMENTS.labels(*labels, outcome).inc()
                if outcome == r.OUTCOME_SUCCESS:
                    seconds = _seconds_since(current.get("timestamp", ""))
                    if seconds is not None:
                        metrics.DEPLOYMENT_SECONDS.labels(labels[0]).observe(seconds)
            else:
                cond("MemoryAvailable", "False", "MemoryUnavailable", f"recording revision {current['revision']} as {outcome} failed, will retry: {why}")
                self._retry_memory(namespace, name)
        changes["conditions"] = conditions
        updated = await self.write_status(deployment, changes)
        infrastructure_version = r.get_path(observed, "metadata", "resourceVersion") if isinstance(observed, dict) else None
        pending = r.get_path(r.condition(conditions, "MemoryAvailable"), "status") == "False"
        if infrastructure_version and not pending:
            self._converged[(namespace, name)] = infrastructure_version
        else:
            self._converged.pop((namespace, name), None)
        return updated

    def _retry_memory(self, namespace: str, name: str) -> None:
        """Retry recording an outcome with backoff until the memory takes it (one task per
        Deployment). The watch and the re-check would retry too, but only when something changes
        or every RECHECK_INTERVAL_SECONDS."""
        key = (namespace, name)
        task = self._memory_retries.get(key)
        if task is None or task.done():
            self._memory_retries[key] = asyncio.create_task(self._memory_retry_loop(namespace, name), name=f"memory retry {namespace}/{name}")

    async def _memory_retry_loop(self, namespace: str, name: str) -> None:
        attempt = 0
        try:
            while True:
                # Jittered: Deployments that failed together do not all retry together.
                await asyncio.sleep(self.delay(attempt) * random.uniform(0.75, 1.25))
                attempt += 1
                try:
                    async with self.lock(namespace, name):
                        deployment = await self._fetch(namespace, name)
                        if (
                            deployment is None or r.get_path(deployment, "metadata", "deletionTimestamp")
                            or r.needs_planning(deployment) or r.get_path(deployment, "spec", "paused", default=False)
                        ):
                            return  # deletion and a new revision record outcomes themselves
                        deployment = await self.converge(deployment, log, source="memory retry")
                except Exception as error:  # noqa: BLE001 - an API hiccup must not end the retries
                    log.warning("retrying the memory for %s/%s after: %r", namespace, name, error)
                    continue
                memory = r.condition(r.get_path(deployment, "status", "conditions"), "MemoryAvailable") or {}
                if memory.get("status") != "False":
                    return
        finally:
            if self._memory_retries.get((namespace, name)) is asyncio.current_task():
                del self._memory_retries[(namespace, name)]

    async def record_outcome(self, deployment: dict, entry: dict, outcome: str, reason: str) -> tuple[bool, str]:
        """RecordDeployment then UpdateOutcome; both idempotent by (tenant, uid, revision)."""
        if self.memory is None:
            return True, "memory disabled"
        record = r.memory_record(deployment, entry)
        try:
            async with self._memory_slots:
                response = await self.memory.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=record), timeout=self.settings.rag_timeout_seconds)
                await self.memory.UpdateOutcome(
                    rag_pb2.UpdateOutcomeRequest(tenant=record.tenant, id=response.record.id, outcome=r.OUTCOME_VALUES[outcome], reason=reason[:1000]),
                    timeout=self.settings.rag_timeout_seconds,
                )
        except grpc.aio.AioRpcError as error:
            metrics.MEMORY_WRITES.labels("error").inc()
            log.warning("recording %s/%s revision %s failed: %s", record.tenant, record.name, record.revision, _rpc_text(error))
            return False, f"memory {self.settings.rag_target}: {_rpc_text(error)}"
        metrics.MEMORY_WRITES.labels("ok").inc()
        return True, ""


def operator_kwargs(settings: OperatorSettings) -> dict[str, Any]:
    """kopf.operator() arguments for these settings (scope, peering, liveness)."""
    kwargs: dict[str, Any] = {"standalone": settings.standalone}
    if settings.health_port:
        # kopf answers /healthz while its event loop and watches are alive: the kubelet's liveness probe.
        kwargs["liveness_endpoint"] = f"http://{settings.health_host}:{settings.health_port}/healthz"
    if settings.namespaces:
        kwargs["namespaces"] = settings.namespaces
    else:
        kwargs["clusterwide"] = True
    if not settings.standalone:
        kwargs["peering_name"] = settings.peering_name
        # Distinct priorities: kopf pauses all operators that share one (see config.py).
        priority = settings.peering_priority
        if priority is None:
            priority = 1 + secrets.randbelow(PEERING_PRIORITY_RANGE - 1)
        kwargs["priority"] = priority
    return kwargs

