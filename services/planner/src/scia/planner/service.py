"""The Planner gRPC service: validation, analysis, retrieval, the decision, error codes."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from urllib.parse import urlsplit

import grpc
from prometheus_client import Counter, Histogram

from scia.planner import decide, llm, retrieval
from scia.planner.analysis import CloneLimits, ReadLimits, analyze_repository
from scia.planner.config import PlannerSettings
from scia.planner.errors import CloneTimeout, InvalidSource, NothingToPlan, PlannerError, SourceNotFound, SourceTooLarge
from scia.planner.intent import understand
from scia.planner.pricing import Catalogue, bundled_catalogue, load_catalogue
from scia.runtime.client import create_channel
from scia.runtime.errors import Rejected
from scia.v1 import common_pb2, planner_pb2, planner_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = planner_pb2.DESCRIPTOR.services_by_name["Planner"].full_name
ERROR_CODES: dict[type[PlannerError], grpc.StatusCode] = {
    InvalidSource: grpc.StatusCode.INVALID_ARGUMENT,
    SourceNotFound: grpc.StatusCode.NOT_FOUND,
    SourceTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    CloneTimeout: grpc.StatusCode.DEADLINE_EXCEEDED,
    NothingToPlan: grpc.StatusCode.FAILED_PRECONDITION,
}

PLANS = Counter("scia_planner_plans_total", "Plans produced, by strategy and engine.", ["strategy", "engine"])
RETRIEVAL_SECONDS = Histogram("scia_planner_retrieval_seconds", "Time of one Retrieve call to the deployment memory.",
                              buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5))
ANALYSIS_SECONDS = Histogram("scia_planner_analysis_seconds", "Time to clone and analyse a repository.",
                             buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))


class PlannerServicer(planner_pb2_grpc.PlannerServicer):
    def __init__(self, settings: PlannerSettings, catalogue: Catalogue) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.rag_channel: grpc.aio.Channel | None = None
        # Set by PlannerApp.start when SCIA_PLANNER_LLM_BASE_URL is configured.
        self.llm: llm.LlmAdvisor | None = None
        self._clones = asyncio.Semaphore(settings.max_concurrent_clones)

    async def Analyze(self, request: planner_pb2.AnalyzeRequest, context: grpc.aio.ServicerContext) -> planner_pb2.AnalyzeResponse:
        return planner_pb2.AnalyzeResponse(analysis=await self._analyze(request.repository))

    async def Plan(self, request: planner_pb2.PlanRequest, context: grpc.aio.ServicerContext) -> planner_pb2.PlanResponse:
        return await self._plan(request)

    async def _analyze(self, repository: common_pb2.RepositoryRef) -> common_pb2.RepositoryAnalysis:
        if not repository.url.strip():
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, "repository.url is required (https, ssh, or a local path where allowed)")
        s = self.settings
        started = time.perf_counter()
        try:
            async with self._clones:
                analysis = await analyze_repository(
                    repository,
                    allow_local=s.allow_local_paths,
                    clone_limits=CloneLimits(s.clone_timeout_seconds, s.max_repo_bytes, s.git_executable, s.git_ssh_command),
                    read_limits=ReadLimits(s.max_files, s.max_file_bytes, s.max_total_read_bytes),
                    work_dir=s.work_dir,
                )
        except PlannerError as error:
            raise Rejected(ERROR_CODES.get(type(error), grpc.StatusCode.INTERNAL), str(error)) from None
        ANALYSIS_SECONDS.observe(time.perf_counter() - started)
        return analysis

    async def _plan(self, request: planner_pb2.PlanRequest) -> planner_pb2.PlanResponse:
        self._validate(request)
        source = request.WhichOneof("source")
        if source == "repository":
            analysis = await self._analyze(request.repository)
        elif source == "analysis":
            analysis = request.analysis
        else:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, "set either repository or analysis")
        if not analysis.applications:
            raise Rejected(grpc.StatusCode.FAILED_PRECONDITION,
                           "no deployable application in the analysis: " + ("; ".join(analysis.warnings) or "no applications"))
        understanding = understand(request.intent.prompt)
        retrieved, note = await self._retrieve(request, analysis)
        plan = decide.make_plan(analysis, request.intent, understanding, request.constraints, self.catalogue, retrieved)
        if retrieved is None:
            plan.provenance.retrieval_note = note
        elif not retrieved:
            plan.provenance.retrieval_note = "retrieval returned no similar past deployments"
        if self.llm is not None:
            # The knowledge-base plan is the baseline the LLM reviews and the answer when it is rejected.
            plan = await self.llm.refine(plan, analysis, request.intent, understanding, request.constraints, retrieved)
        PLANS.labels(decide.STRATEGY_NAMES[plan.strategy], plan.provenance.engine).inc()
        return planner_pb2.PlanResponse(analysis=analysis, plan=plan)

    def _validate(self, request: planner_pb2.PlanRequest) -> None:
        intent = request.intent
        if len(intent.prompt) > self.settings.max_prompt_chars:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                           f"intent.prompt has {len(intent.prompt)} characters, over the limit of {self.settings.max_prompt_chars}")
        budget = intent.budget
        if budget.max_monthly_cost_usd < 0:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, "intent.budget.max_monthly_cost_usd must be >= 0 (0 means no budget)")
        for name, value in (("intent.budget.alert_threshold", budget.alert_threshold), ("constraints.alert_threshold", request.constraints.alert_threshold)):
            if not 0 <= value <= 1:
                raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"{name} must be in [0, 1], got {value}")
        if request.constraints.monthly_budget_usd < 0:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, "constraints.monthly_budget_usd must be >= 0")
        for name, value in (("intent.cloud", intent.cloud), ("constraints.cloud", request.constraints.cloud)):
            if value not in decide.pricing.CLOUD_KEYS and value != common_pb2.CLOUD_UNSPECIFIED:
                raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"{name} has unknown value {value}")
        if intent.strategy not in decide.STRATEGY_NAMES and intent.strategy != common_pb2.STRATEGY_UNSPECIFIED:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"intent.strategy has unknown value {intent.strategy}")

    async def _retrieve(self, request: planner_pb2.PlanRequest, analysis: common_pb2.RepositoryAnalysis):
        """(results, note): results None when retrieval was not used, with the note saying why."""
        if request.disable_retrieval:
            return None, "no retrieval context: retrieval disabled by the request"
        if self.rag_channel is None:
            return None, "no retrieval context: no deployment memory configured (SCIA_PLANNER_RAG_TARGET)"
        if not request.tenant:
            return None, "no retrieval context: no tenant given"
        started = time.perf_counter()
        try:
            results = await retrieval.retrieve(self.rag_channel, request.tenant, analysis, request.intent,
                                               limit=self.settings.retrieval_limit, timeout=self.settings.rag_timeout_seconds)
        except grpc.RpcError as error:
            code = error.code().name if hasattr(error, "code") else "error"
            log.warning("deployment memory unavailable", extra={"code": code})
            return None, f"no retrieval context: memory unavailable ({code}: {error.details() if hasattr(error, 'details') else error})"
        except Exception as error:  # a broken memory must never break planning
            log.exception("retrieval failed")
            return None, f"no retrieval context: retrieval failed ({type(error).__name__})"
        finally:
            RETRIEVAL_SECONDS.observe(time.perf_counter() - started)
        return results, ""


class PlannerApp:
    """The planner as the runtime runs it."""

    service_names = (SERVICE_NAME,)

    def __init__(self, settings: PlannerSettings, catalogue: Catalogue | None = None) -> None:
        self.settings = settings
        # Loaded (and validated) now, so a bad catalogue fails the start-up, not a call.
        if catalogue is None:
            catalogue = load_catalogue(settings.pricing_path) if settings.pricing_path else bundled_catalogue()
        self.servicer = PlannerServicer(settings, catalogue)

    def register(self, server: grpc.aio.Server) -> None:
        planner_pb2_grpc.add_PlannerServicer_to_server(self.servicer, server)

    async def start(self) -> None:
        if self.settings.rag_target:
            # One attempt per call: a planner must not stall on a memory that is down.
            self.servicer.rag_channel = create_channel(self.settings.rag_target, [retrieval.DEPLOYMENT_MEMORY],
                                                       timeout=self.settings.rag_timeout_seconds, max_attempts=1)
            log.info("retrieval enabled", extra={"rag_target": self.settings.rag_target})
        config = llm.config_from_settings(self.settings)
        if config is not None:
            advisor = llm.LlmAdvisor(config, self.servicer.catalogue)
            await advisor.start()
            self.servicer.llm = advisor
            # The key is never logged; only whether there is one.
            log.info("LLM backend enabled", extra={"llm_endpoint": config.endpoint, "llm_model": config.model,
                                                   "llm_api_key_set": bool(config.api_key)})
            if config.api_key and config.base_url.startswith("http://") and not _loopback(config.base_url):
                log.warning("the LLM API key is sent over plain HTTP to a non-loopback host; use https",
                            extra={"llm_endpoint": config.endpoint})

    async def stop(self) -> None:
        channel, self.servicer.rag_channel = self.servicer.rag_channel, None
        if channel is not None:
            await channel.close()
        advisor, self.servicer.llm = self.servicer.llm, None
        if advisor is not None:
            await advisor.close()


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
