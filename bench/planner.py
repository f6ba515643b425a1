"""Planner decision-accuracy benchmark (issue 4): does the planner learn from recorded outcomes?

`python -m bench planner` (or `python -m bench.planner --scenarios 30` for a quick run; the env
variable SCIA_BENCH_PLANNER_SCENARIOS does the same for `python -m bench planner`). Diagnostics:
`python -m bench.planner --explain --plot '' --output /tmp/planner.json` also records, per
learning step, what the planner's Retrieve request returns and how `retrieval.assess` weighs it.
`--seed N` runs another world of the same generator; `--seeds 2027,2028,...` runs several and writes
their headline numbers to bench/results/planner-seeds.json after each (the recorded seed is the one the
planner was diagnosed on; the others show how far that carries, as long as nobody diagnoses on
them: docs/benchmarks.md says which seeds have been).

Protocol, with the embedder, the RAG service (an embedded PostgreSQL in a fresh data folder under
`.scia/bench/`, so memory starts EMPTY) and the planner as their own processes on loopback:

1. A seeded sequence of scenarios from `bench.scenarios` (each a fresh app with its intent; the
   oracle knows the app's latent family, the planner never sees it).
2. For each, in order: Plan over gRPC with the scenario's `analysis` (no clone) and intent, no
   LLM; score the plan; record what happened into the RAG service as the control plane would:
   RecordDeployment (the plan the planner returned, outcome PENDING), UpdateOutcome (the simulated
   outcome, its reason and metrics) and the team's vote, RecordFeedback +1/-1 with a structured
   comment saying why ("right-sized: peak memory 45% of t3.small", "over-provisioned: peak memory
   12% of t3.large", "OOMKilled on t3.small", "no high availability: ...", "over budget: ...").
3. The same sequence, same order, with `disable_retrieval=true` into another tenant: the
   baseline. Anything the first run gains over it comes from retrieval.
4. A held-out set (scenarios from the same generator and families, indices disjoint, never
   recorded), planned after learning, with and without retrieval.

Scoring, two numbers, both reported:

- **Accuracy (thumbs up)**, what the architecture documents mean by decision accuracy (user
  feedback): the simulated team's vote (`scenarios.verdict`) is +1: the deployment succeeded (no
  failure, no degradation), did what the intent asked (high availability, autoscaling, the
  budget when a working plan fits it; cloud and region, checked here) and is not wasteful (less
  than two doublings of memory above the smallest size that works for its strategy).
- **Strict**: strategy and size class both equal the oracle's (`scenarios.is_correct`). Many
  right answers are strictly wrong (two VMs where the oracle has a cluster, one size up...).

Sizes: `scenarios.choice_of` only knows the four instance types per cloud the generator uses and
falls back to "medium" for any other, which would score a 1 GB t3.micro as "medium". Here VM and
Kubernetes sizes are classified by the instance's memory from the planner's pricing catalogue
(below the 2 GB "small" class: `below-small`, strictly always wrong; above 16 GB:
`above-xlarge`), and the world judges a plan on that real memory (`simulate(memory_mb=...)`): a
1 GiB instance runs an app whose working set fits half of it. Serverless keeps `choice_of`'s
classes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import shutil
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import scenarios
from bench.common import exit_on_sigterm, percentiles, service_process, write_results
from bench.scenarios import SIZES, PlanChoice, Scenario, SimulatedOutcome
from scia.planner.pricing import Catalogue, bundled_catalogue
from scia.v1 import common_pb2, planner_pb2, planner_pb2_grpc, rag_pb2, rag_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".scia" / "bench"
DOCS_PLOT = ROOT / "docs" / "planner-learning-curve.png"
SEED = 2026
SCENARIOS = 200
HELD_OUT = 50
HELD_OUT_START = 1_000_000  # disjoint from the sequence's indices
WINDOW = 20
TARGET_ACCURACY = 0.9
TARGET_P50_MS = 200.0
LEARNING_TENANT = "bench-learning"
BASELINE_TENANT = "bench-baseline"
RECURRING_TENANT = "bench-recurring"
RECURRING_BASELINE_TENANT = "bench-recurring-baseline"

BELOW = "below-small"
ABOVE = "above-xlarge"
# The oracle's size ladder extended with the classes a real catalogue adds at both ends.
CLASS_LADDER = (BELOW, *SIZES, ABOVE)

PLANNER = planner_pb2.DESCRIPTOR.services_by_name["Planner"]
MEMORY = rag_pb2.DESCRIPTOR.services_by_name["DeploymentMemory"]


# --- scoring (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A planner's Plan in the oracle's terms, plus what it ran on (for the outcome's wording)."""

    strategy: int
    size: str  # one of CLASS_LADDER
    instances: int
    autoscaling: bool
    where: str  # instance/node type, or "<n> MB" for functions
    memory_mb: float = 0.0  # of one instance/node/function, from the catalogue
    cloud: int = 0
    region: str = ""
    cost: float = 0.0  # the plan's monthly total (the planner's catalogue)
    billed: int = 1  # instances or nodes paid for (pods are not billed, nodes are)
    vcpus: float = 0.0  # of one instance/node, from the catalogue (0: functions)
    peak: int = 1  # instances or nodes it can scale out to (its maximum)

    @property
    def label(self) -> str:
        scaling = "+autoscaling" if self.autoscaling else ""
        return f"{scenarios.STRATEGY_NAMES.get(self.strategy, '?')}/{self.size}/x{self.instances}{scaling}"


def size_class(memory_gb: float) -> str:
    """The oracle's class of an instance with this much memory (classes double from 2 GB)."""
    if memory_gb * 1024 < scenarios.SIZE_MEMORY_MB[SIZES[0]]:
        return BELOW
    if memory_gb * 1024 > scenarios.SIZE_MEMORY_MB[SIZES[-1]]:
        return ABOVE
    # The largest class the instance holds: a 6 GB type runs what "medium" (4 GB) runs, not "large".
    return [s for s in SIZES if scenarios.SIZE_MEMORY_MB[s] <= memory_gb * 1024][-1]


def decision_of(plan: common_pb2.Plan, catalogue: Catalogue) -> Decision:
    choice = scenarios.choice_of(plan)
    config = plan.configuration
    workload = config.WhichOneof("workload")
    billed = config.kubernetes.desired_nodes if workload == "kubernetes" else config.vm.instance_count if workload == "vm" else 1
    peak = (max(config.kubernetes.max_nodes, billed) if workload == "kubernetes"
            else max(config.vm.max_count, billed) if workload == "vm" else 1)
    common = {"cloud": config.cloud, "region": config.region, "cost": plan.cost.monthly_total_usd, "billed": max(1, billed),
              "peak": max(1, peak)}
    if workload == "serverless":
        return Decision(plan.strategy, choice.size, choice.instances, choice.autoscaling, f"{config.serverless.memory_mb} MB",
                        float(config.serverless.memory_mb), **common)
    name = config.vm.instance_type if workload == "vm" else config.kubernetes.node_type
    found = catalogue.find_type(name) if name else None
    if found is None:
        raise ValueError(f"plan runs on {name or 'nothing'}, which is not in the planner's catalogue: cannot classify its size")
    memory_gb = float(found[1]["memory_gb"])
    return Decision(plan.strategy, size_class(memory_gb), choice.instances, choice.autoscaling, name, memory_gb * 1024,
                    vcpus=float(found[1]["vcpu"]), **common)


def is_correct(scenario: Scenario, decision: Decision) -> bool:
    """Strict: strategy and size class equal the oracle's."""
    return scenarios.is_correct(scenario, decision.strategy, decision.size)


def stand_in_of(decision: Decision) -> PlanChoice:
    """The plan on the world's ladder (sizes outside it clamped to its ends) for the world's rules
    that need a class: the failure wording of functions, the world's price."""
    size = SIZES[0] if decision.size == BELOW else SIZES[-1] if decision.size == ABOVE else decision.size
    return PlanChoice(decision.strategy, size, decision.instances, decision.autoscaling)


def outcome_of(scenario: Scenario, decision: Decision, seed: int = 0) -> tuple[SimulatedOutcome, PlanChoice]:
    """The simulated world's outcome of deploying `decision`, judged on the memory of what it really
    ran on (a 1 GiB t3.micro, a 32 GiB type...), and the PlanChoice that stands for it in the
    world's terms. The reason names the instance the plan really used."""
    stand_in = stand_in_of(decision)
    memory = decision.memory_mb or None
    serverless = decision.strategy == common_pb2.STRATEGY_SERVERLESS
    return scenarios.simulate(scenario, stand_in, seed=seed, memory_mb=memory, where=None if serverless else decision.where,
                              vcpus=None if serverless else decision.vcpus, peak=decision.peak), stand_in


def verdict_of(scenario: Scenario, decision: Decision, result: SimulatedOutcome) -> scenarios.Verdict:
    """The simulated team's thumbs up or down (`scenarios.verdict`), plus the plan's placement: a
    plan in another cloud or region than the intent names is wrong whatever else it does."""
    stand_in = stand_in_of(decision)
    where = decision.where if decision.strategy != common_pb2.STRATEGY_SERVERLESS else None
    # The bill in the world's prices, for the instances/nodes really kept running (not pods), a
    # 1 GiB instance at its own price.
    micro = scenarios.MICRO_INSTANCES[scenario.intent.cloud] if decision.size == BELOW else None
    cost = scenarios.monthly_cost(scenario, stand_in, instances=decision.billed, instance=micro)[0]
    judged = scenarios.verdict(scenario, stand_in, result, memory_mb=decision.memory_mb or None, where=where, cost=cost)
    misplaced = []
    if decision.cloud and decision.cloud != scenario.intent.cloud:
        misplaced.append(f"wrong cloud: {common_pb2.Cloud.Name(decision.cloud)}")
    if decision.region and decision.region != scenario.intent.region:
        misplaced.append(f"wrong region: {decision.region} instead of {scenario.intent.region}")
    if misplaced:
        return scenarios.Verdict(-1, tuple(misplaced) + (judged.reasons if not judged.up else ()))
    return judged


@dataclass(frozen=True)
class Step:
    """One planned scenario: what was decided, whether it was right, what happened."""

    index: int
    key: str
    family: str
    framework: str
    oracle: str
    knowledge_base: str  # the generator's visible-facts plan (its rules without the latent family)
    decision: str
    correct: bool  # strict: strategy + size class equal the oracle's
    strategy_correct: bool
    size_correct: bool
    outcome: str
    reason: str
    citations: int
    latency_ms: float
    thumbs_up: bool = False  # the simulated team's verdict (the accuracy the documents mean)
    vote_comment: str = ""
    explain: str = ""  # with --explain: what retrieval found for this plan (diagnostics)

    @property
    def succeeded(self) -> bool:
        return self.outcome == "success"


def step_of(index: int, scenario: Scenario, plan: common_pb2.Plan, catalogue: Catalogue, latency_s: float,
            result: SimulatedOutcome | None) -> Step:
    decision = decision_of(plan, catalogue)
    expected = scenarios.oracle(scenario)
    if result is None:  # not recorded (held-out): judge what would have happened all the same
        result, _ = outcome_of(scenario, decision)
        outcome = ""
    else:
        outcome = common_pb2.Outcome.Name(result.outcome).removeprefix("OUTCOME_").lower()
    judged = verdict_of(scenario, decision, result)
    return Step(
        index=index, key=scenario.key, family=scenario.family, framework=scenario.app.framework,
        oracle=expected.label, knowledge_base=scenarios.knowledge_base_plan(scenario).label, decision=decision.label,
        correct=is_correct(scenario, decision), strategy_correct=decision.strategy == expected.strategy,
        size_correct=decision.size == expected.size,
        outcome=outcome, reason=result.reason if outcome else "", citations=len(plan.citations),
        latency_ms=round(latency_s * 1000, 2), thumbs_up=judged.up, vote_comment="; ".join(judged.reasons),
    )


def accuracy(steps: Sequence[Step], attribute: str = "correct") -> float | None:
    return round(sum(getattr(s, attribute) for s in steps) / len(steps), 4) if steps else None


def rolling(steps: Sequence[Step], window: int = WINDOW, attribute: str = "correct") -> list[float]:
    """Mean of `attribute` over the `window` scenarios ending at each position (fewer at the start)."""
    return [round(sum(getattr(s, attribute) for s in steps[max(0, i + 1 - window):i + 1]) / (i + 1 - max(0, i + 1 - window)), 4)
            for i in range(len(steps))]


def windows(steps: Sequence[Step], window: int = WINDOW, attribute: str = "correct") -> dict[str, float | None]:
    """The report's windows, 1-based and inclusive: the first `window`, the `window` ending at the
    100th deployment (81-100: planned with 80-99 outcomes in memory), and everything after the
    100th (101-N: planned with at least 100 outcomes in memory)."""
    n = len(steps)
    at = min(100, n)
    out = {f"first_{window}": accuracy(steps[:window], attribute),
           f"{max(1, at - window + 1)}_{at}": accuracy(steps[max(0, at - window):at], attribute)}
    if n > 100:
        out[f"101_{n}"] = accuracy(steps[100:], attribute)
    out["all"] = accuracy(steps, attribute)
    return out


def by_family(steps: Sequence[Step]) -> dict[str, dict[str, float | int | None]]:
    groups: dict[str, list[Step]] = defaultdict(list)
    for s in steps:
        groups[s.family].append(s)
    return {family: {"n": len(group), "accuracy": accuracy(group, "thumbs_up"), "strict": accuracy(group)}
            for family, group in sorted(groups.items())}


def outcomes(steps: Sequence[Step]) -> dict[str, int]:
    return dict(sorted(Counter(s.outcome for s in steps if s.outcome).items()))


def report(steps: Sequence[Step]) -> dict:
    """Everything the summary and the plot need from one sequence. `windows`/`rolling`: accuracy as
    the users judge it (thumbs up); `strict_*`: strategy + size class equal to the oracle's."""
    return {
        "windows": windows(steps, attribute="thumbs_up"),
        "strict_windows": windows(steps),
        "strategy_accuracy": accuracy(steps, "strategy_correct"),
        "size_accuracy": accuracy(steps, "size_correct"),
        "by_family": by_family(steps),
        "outcomes": outcomes(steps),
        "thumbs_down_reasons": thumbs_down_reasons(steps),
        "success_rate_first_half": accuracy([s for s in steps[: len(steps) // 2]], "succeeded"),
        "success_rate_second_half": accuracy([s for s in steps[len(steps) // 2:]], "succeeded"),
        "rolling": rolling(steps, attribute="thumbs_up"),
        "rolling_strict": rolling(steps),
        "rolling_success": rolling(steps, attribute="succeeded"),
        "plans_with_citations": sum(1 for s in steps if s.citations),
        "silent_errors": silent_errors(steps),
    }


def thumbs_down_reasons(steps: Sequence[Step]) -> dict[str, int]:
    """Why plans were voted down, by the first words of the vote's first reason (instance names and
    numbers dropped), most frequent first."""
    counts: Counter[str] = Counter()
    for s in steps:
        if not s.thumbs_up and s.vote_comment:
            first = s.vote_comment.split(";")[0]
            counts[" ".join(w for w in first.split(":")[0].split()[:6] if not any(c.isdigit() for c in w))] += 1
    return dict(counts.most_common())


def silent_errors(steps: Sequence[Step]) -> dict[str, int | float | None]:
    """Plans the strict criterion calls wrong that nevertheless got a thumbs up in the simulated
    world (a valid answer other than the oracle's: two VMs for HA, one size up, a VM where the
    oracle used functions...). No outcome or vote says anything is wrong with them."""
    wrong = [s for s in steps if not s.correct and s.outcome]
    silent = [s for s in wrong if s.succeeded and s.thumbs_up]
    return {"wrong": len(wrong), "succeeded_anyway": len(silent),
            "share_of_all": round(len(silent) / len(steps), 4) if steps else None}


def learnability(items: Sequence[Scenario], baseline: Sequence[Step], start: int = 100) -> dict:
    """An upper bound on accuracy from scenario `start` on, from the generator's side (the planner
    never sees this). A latent need can only be learned from an earlier deployment of the same app
    (in a stream where apps recur), or from similar apps if this app shows one of its family's
    signature libraries AND an earlier app of the same family and language shared one (the only
    visible trace of the family). Apps with no latent need are counted learnable. The rest can
    only be right by luck: when the no-memory plan (baseline) already gets a thumbs up.
    """
    signatures = {family: {name for libs in by_language.values() for name, _ in libs}
                  for family, by_language in scenarios.FAMILY_SIGNATURES.items()}
    learnable = unlearnable = lucky = 0
    for index in range(start, len(items)):
        scenario = items[index]
        if scenario.family == "standard":
            learnable += 1
            continue
        if scenarios.deployed_before(items, index):
            learnable += 1
            continue
        mine = {d[0] for d in scenario.app.dependencies} & signatures.get(scenario.family, set())
        kin = mine and any(p.family == scenario.family and p.app.language == scenario.app.language
                           and mine & {d[0] for d in p.app.dependencies} for p in items[:index])
        if kin:
            learnable += 1
        else:
            unlearnable += 1
            lucky += bool(index < len(baseline) and baseline[index].thumbs_up)
    n = max(1, len(items) - start)
    return {"from": start + 1, "n": len(items) - start, "learnable": learnable, "unlearnable": unlearnable,
            "unlearnable_right_without_memory": lucky, "ceiling": round((learnable + lucky) / n, 4)}


def held_out_report(steps: Sequence[Step]) -> dict:
    return {"accuracy": accuracy(steps, "thumbs_up"), "strict": accuracy(steps), "by_family": by_family(steps),
            "strategy_accuracy": accuracy(steps, "strategy_correct"), "size_accuracy": accuracy(steps, "size_correct"),
            "thumbs_down_reasons": thumbs_down_reasons(steps)}


def disagreement_with_world_rules(steps: Sequence[Step]) -> dict[str, float | None]:
    """How often the planner's no-memory plan differs from the generator's own visible-facts rules
    (`knowledge_base_plan`) on apps with NO latent need ("standard"): those differences are
    knowledge-base disagreements, not latent requirements; outcomes reveal them only when the
    planner's choice fails in the simulated world."""
    standard = [s for s in steps if s.family == "standard"]
    if not standard:
        return {"standard_n": 0, "strategy_differs": None, "plan_differs": None}
    return {
        "standard_n": len(standard),
        "plan_differs": round(sum(s.decision.split("/")[:2] != s.knowledge_base.split("/")[:2] for s in standard) / len(standard), 4),
        "strategy_differs": round(sum(s.decision.split("/")[0] != s.knowledge_base.split("/")[0] for s in standard) / len(standard), 4),
    }


# --- the run against the services -----------------------------------------------------------------


def scenario_record(scenario: Scenario, plan: common_pb2.Plan, tenant: str, uid: str) -> common_pb2.DeploymentRecord:
    """What the operator records when it applies a plan: the analysis, intent and the plan itself."""
    analysis = scenario.analysis()
    return common_pb2.DeploymentRecord(
        tenant=tenant, name=scenario.app.name, uid=uid, revision=1,
        repository=common_pb2.RepositoryRef(url=scenario.app.repo_url), analysis=analysis,
        intent=scenario.deployment_intent(), plan=plan, outcome=common_pb2.OUTCOME_PENDING,
    )


async def record_outcome(memory: rag_pb2_grpc.DeploymentMemoryStub, scenario: Scenario, plan: common_pb2.Plan,
                         result: SimulatedOutcome, judged: scenarios.Verdict, tenant: str) -> None:
    """RecordDeployment (PENDING), UpdateOutcome (outcome, reason, metrics), then the team's vote:
    RecordFeedback +1/-1 with the structured comment saying why ("over-provisioned: peak memory 12%
    of t3.large", "OOMKilled on t3.small", "right-sized: ...")."""
    uid = str(uuid.UUID(int=random.Random(f"{tenant}:{scenario.key}").getrandbits(128), version=4))
    created = await memory.RecordDeployment(rag_pb2.RecordDeploymentRequest(record=scenario_record(scenario, plan, tenant, uid)))
    record_id = created.record.id
    metrics = common_pb2.PerformanceMetrics(
        memory_utilization=result.memory_utilization, latency_p99_ms=result.latency_p99_ms,
        error_rate=result.error_rate, restarts=result.restarts, actual_monthly_cost_usd=plan.cost.monthly_total_usd,
    )
    await memory.UpdateOutcome(rag_pb2.UpdateOutcomeRequest(tenant=tenant, id=record_id, outcome=result.outcome,
                                                            reason=result.reason, metrics=metrics))
    await memory.RecordFeedback(rag_pb2.RecordFeedbackRequest(tenant=tenant, id=record_id, user=f"team-{scenario.app.name}",
                                                              vote=judged.vote, comment="; ".join(judged.reasons)[:1000]))


async def plan_one(planner: planner_pb2_grpc.PlannerStub, scenario: Scenario, tenant: str,
                   disable_retrieval: bool) -> tuple[common_pb2.Plan, float]:
    request = planner_pb2.PlanRequest(tenant=tenant, analysis=scenario.analysis(), intent=scenario.deployment_intent(),
                                      disable_retrieval=disable_retrieval)
    started = time.perf_counter()
    response = await planner.Plan(request, timeout=30)
    return response.plan, time.perf_counter() - started


async def explain_retrieval(memory: rag_pb2_grpc.DeploymentMemoryStub, scenario: Scenario, tenant: str,
                            catalogue: Catalogue, families: dict[str, str]) -> str:
    """Diagnostics, before the Plan (same memory): what the planner's own Retrieve request returns
    for this scenario and what `retrieval.assess` makes of it; how many retrieved neighbours (and
    how many of the records in memory) share the app's latent family, which only the generator
    knows. Says whether a missed lesson was not retrieved or not weighed enough."""
    from scia.planner import retrieval
    from scia.planner.decide import WORKING_SET_MODEL
    from scia.planner.intent import derived_rps, understand

    analysis, intent = scenario.analysis(), scenario.deployment_intent()
    request = retrieval.retrieve_request(tenant, analysis, intent, limit=16)  # the planner's own query
    results = list((await memory.Retrieve(request)).results)
    rps = derived_rps(understand(intent.prompt).requirements)[0]
    evidence = retrieval.assess(results, analysis.applications[0], catalogue, rps=rps, model=WORKING_SET_MODEL)
    kin = retrieval.kinship([r for r in results if r.record.plan.strategy], analysis.applications[0])
    same = [r for r in results if families.get(r.record.name) == scenario.family]
    in_memory = sum(1 for name, family in families.items() if family == scenario.family and name != scenario.app.name)
    floors = {scenarios.STRATEGY_NAMES[k]: v for k, v in evidence.memory_floor_gb.items()}
    ceilings = {scenarios.STRATEGY_NAMES[k]: v for k, v in evidence.memory_ceiling_gb.items()}
    relevance = sorted((retrieval.similarity(r) for r in results), reverse=True)
    spread = f"relevance {relevance[0]:.2f}..{relevance[-1]:.2f}" if relevance else "relevance -"
    return (f"retrieved {len(results)}, {spread}, same family {len(same)} (in memory {in_memory}) "
            f"relevance {[round(retrieval.similarity(r), 2) for r in same][:6]}, "
            f"same-family kin factors {[round(kin.get(r.record.id, 1.0), 2) for r in same][:6]}, "
            f"needs {sorted(evidence.needs)} balance {evidence.need_balance}, floors {floors}, ceilings {ceilings}, "
            f"memory scale {evidence.memory_scale:g}, vm utilisation limit {evidence.vm_max_utilisation:g}")


async def sequence(planner, memory, items: Sequence[Scenario], catalogue: Catalogue, tenant: str, *,
                   disable_retrieval: bool, record: bool, label: str, explain: bool = False) -> list[Step]:
    steps = []
    families: dict[str, str] = {}
    for index, scenario in enumerate(items):
        why = await explain_retrieval(memory, scenario, tenant, catalogue, families) if explain and not disable_retrieval else ""
        families[scenario.app.name] = scenario.family
        plan, latency = await plan_one(planner, scenario, tenant, disable_retrieval)
        result = None
        if record:
            decision = decision_of(plan, catalogue)
            result, _stand_in = outcome_of(scenario, decision)
            await record_outcome(memory, scenario, plan, result, verdict_of(scenario, decision, result), tenant)
        if why:
            why = f"{why}; plan: {plan.reason}"
        steps.append(dataclasses.replace(step_of(index, scenario, plan, catalogue, latency, result), explain=why))
        if (index + 1) % 25 == 0:
            print(f"  {label}: {index + 1}/{len(items)}, thumbs up so far {accuracy(steps, 'thumbs_up')}, "
                  f"strict {accuracy(steps)}", flush=True)
    return steps


async def _run_against(planner_target: str, rag_target: str, items: list[Scenario], held_out: list[Scenario],
                       recurring: list[Scenario], catalogue: Catalogue, explain: bool = False) -> dict:
    from scia.runtime.client import create_channel

    planner_channel = create_channel(planner_target, [PLANNER], timeout=30)
    memory_channel = create_channel(rag_target, [MEMORY], timeout=30)
    planner = planner_pb2_grpc.PlannerStub(planner_channel)
    memory = rag_pb2_grpc.DeploymentMemoryStub(memory_channel)
    try:
        print("sequence with retrieval", flush=True)
        learning = await sequence(planner, memory, items, catalogue, LEARNING_TENANT, disable_retrieval=False,
                                  record=True, label="retrieval", explain=explain)
        print("sequence without retrieval (baseline)", flush=True)
        baseline = await sequence(planner, memory, items, catalogue, BASELINE_TENANT, disable_retrieval=True,
                                  record=True, label="baseline")
        print("held-out set", flush=True)
        held_with = await sequence(planner, memory, held_out, catalogue, LEARNING_TENANT, disable_retrieval=False,
                                   record=False, label="held-out with retrieval")
        held_without = await sequence(planner, memory, held_out, catalogue, LEARNING_TENANT, disable_retrieval=True,
                                      record=False, label="held-out without retrieval")
        stats = await memory.GetStats(rag_pb2.GetStatsRequest(tenant=LEARNING_TENANT))
        recurring_runs: dict[str, list[Step]] = {}
        if recurring:
            print("recurring apps with retrieval", flush=True)
            recurring_runs["with"] = await sequence(planner, memory, recurring, catalogue, RECURRING_TENANT,
                                                    disable_retrieval=False, record=True, label="recurring",
                                                    explain=explain)
            print("recurring apps without retrieval", flush=True)
            recurring_runs["without"] = await sequence(planner, memory, recurring, catalogue, RECURRING_BASELINE_TENANT,
                                                       disable_retrieval=True, record=True, label="recurring baseline")
    finally:
        await planner_channel.close()
        await memory_channel.close()
    return {"learning": learning, "baseline": baseline, "held_with": held_with, "held_without": held_without,
            "memory_records": stats.total, "reranker": stats.reranker, "recurring": recurring_runs}


def run(count: int | None = None, held_out_count: int = HELD_OUT, plot_path: Path = DOCS_PLOT, explain: bool = False,
        recurring: bool = True, seed: int = SEED) -> dict:
    count = count or int(os.environ.get("SCIA_BENCH_PLANNER_SCENARIOS", SCENARIOS))
    generator = scenarios.ScenarioGenerator(seed=seed)
    items = generator.scenarios(count)
    held_out = generator.scenarios(held_out_count, start=HELD_OUT_START)
    recurring_items = generator.recurring_scenarios(count) if recurring else []
    catalogue = bundled_catalogue()
    # A fresh data folder each run: the memory must start empty, and a previous run's records
    # (same tenants, same uids) would otherwise be found.
    data_dir = BENCH_DIR / f"planner-postgres-{os.getpid()}-{int(time.time())}"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        with service_process("scia.embedder", "SCIA_EMBEDDER_") as embedder_target, \
                service_process("scia.rag", "SCIA_RAG_", embedder_target=embedder_target, data_dir=str(data_dir)) as rag_target, \
                service_process("scia.planner", "SCIA_PLANNER_", rag_target=rag_target, llm_base_url="") as planner_target:
            runs = asyncio.run(_run_against(planner_target, rag_target, items, held_out, recurring_items, catalogue, explain))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    learning, baseline = runs["learning"], runs["baseline"]
    latencies = [s.latency_ms / 1000 for s in learning + runs["held_with"]]
    results = {
        "seed": seed, "scenarios": count, "held_out": held_out_count, "window": WINDOW,
        "memory_records_after": runs["memory_records"], "reranker": runs["reranker"],
        "with_retrieval": report(learning),
        "without_retrieval": report(baseline),
        "held_out_with_retrieval": held_out_report(runs["held_with"]),
        "held_out_without_retrieval": held_out_report(runs["held_without"]),
        "knowledge_base_disagreement": disagreement_with_world_rules(baseline),
        "learnability_after_100": learnability(items, baseline),
        "plan_latency_with_retrieval": {**percentiles(latencies), "calls": len(latencies), "target_p50_ms": TARGET_P50_MS},
        "plan_latency_without_retrieval": {**percentiles([s.latency_ms / 1000 for s in baseline]), "calls": len(baseline)},
        "targets": {"accuracy_after_100": TARGET_ACCURACY},
        "steps_with_retrieval": [asdict(s) for s in learning],
        "steps_without_retrieval": [asdict(s) for s in baseline],
        "steps_held_out_with_retrieval": [asdict(s) for s in runs["held_with"]],
        "steps_held_out_without_retrieval": [asdict(s) for s in runs["held_without"]],
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    if runs["recurring"]:
        again = sum(1 for i in range(len(recurring_items)) if scenarios.deployed_before(recurring_items, i))
        results["recurring"] = {
            "share": scenarios.RECURRING_SHARE, "repeats": again,
            "with_retrieval": report(runs["recurring"]["with"]), "without_retrieval": report(runs["recurring"]["without"]),
            "learnability_after_100": learnability(recurring_items, runs["recurring"]["without"]),
            "steps_with_retrieval": [asdict(s) for s in runs["recurring"]["with"]],
            "steps_without_retrieval": [asdict(s) for s in runs["recurring"]["without"]],
        }
    if plot_path is not None:
        written = plot(results, plot_path).resolve()
        results["plot"] = str(written.relative_to(ROOT)) if written.is_relative_to(ROOT) else str(written)
    return results


# --- the learning curve ------------------------------------------------------------------------------


def plot(results: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display; and deterministic output
    import matplotlib.pyplot as plt

    on, off = results["with_retrieval"], results["without_retrieval"]
    x = list(range(1, len(on["rolling"]) + 1))
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    ax.plot(x, on["rolling"], label="accuracy (thumbs up) with retrieval", color="#1f77b4", linewidth=2)
    ax.plot(x, off["rolling"], label="accuracy (thumbs up), retrieval disabled", color="#ff7f0e", linewidth=2, linestyle="--")
    for key, color, name in (("with_retrieval", "#1f77b4", "strict (= oracle), with retrieval"),
                             ("without_retrieval", "#ff7f0e", "strict (= oracle), disabled")):
        if results[key].get("rolling_strict"):
            ax.plot(x, results[key]["rolling_strict"], color=color, linewidth=1.1, alpha=0.7, linestyle=":", label=name)
    if results.get("recurring"):
        again = results["recurring"]
        ax.plot(x[:len(again["with_retrieval"]["rolling"])], again["with_retrieval"]["rolling"], color="#9467bd", linewidth=1.4,
                label=f"second stream, apps recurring ({again['share']:.0%}), with retrieval")
        ax.plot(x[:len(again["without_retrieval"]["rolling"])], again["without_retrieval"]["rolling"], color="#9467bd",
                linewidth=1.1, linestyle="--", alpha=0.7, label="second stream, retrieval disabled")
    ax.axhline(results["targets"]["accuracy_after_100"], color="#2ca02c", linewidth=1, linestyle=":", label="target after 100")
    end = len(x) + 4
    for key, color, name in (("held_out_with_retrieval", "#1f77b4", "held-out, retrieval"),
                             ("held_out_without_retrieval", "#ff7f0e", "held-out, no retrieval")):
        value = results[key]["accuracy"]
        if value is not None:
            ax.scatter([end], [value], color=color, marker="D", zorder=3, label=f"{name}: {value:.0%}")
    ax.set_xlim(0, end + 4)
    ax.set_ylim(-0.02, 1.32)  # room above the curves for the legend
    ax.set_xlabel("deployments planned (in order; outcome and the team's vote recorded after each)")
    ax.set_ylabel(f"rolling mean over {results['window']} deployments")
    ax.set_title(f"Planner decision accuracy (seed {results['seed']}, no LLM)")
    ax.grid(alpha=0.3)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.legend(loc="upper center", fontsize=7.5, ncol=2, framealpha=0.95)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})  # no version stamp: reruns differ only by data
    plt.close(fig)
    return path


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def summary(results: dict) -> str:
    on, off = results["with_retrieval"], results["without_retrieval"]
    hw, hwo = results["held_out_with_retrieval"], results["held_out_without_retrieval"]
    lat, lat_off = results["plan_latency_with_retrieval"], results["plan_latency_without_retrieval"]
    kb = results["knowledge_base_disagreement"]
    w = results["window"]
    rows = [
        "| planner decision accuracy | thumbs up, with retrieval | thumbs up, retrieval disabled "
        "| strict (= oracle), with retrieval | strict, disabled | target |",
        "|---|---|---|---|---|---|",
    ]
    for key in on["windows"]:
        name = {"all": f"all {results['scenarios']}"}.get(key, key.replace("first_", "first ").replace("_", "-"))
        target = f">= {results['targets']['accuracy_after_100']:.0%}" if key.endswith("_100") else ""
        rows.append(f"| scenarios {name} | **{_pct(on['windows'][key])}** | {_pct(off['windows'][key])} "
                    f"| {_pct(on['strict_windows'][key])} | {_pct(off['strict_windows'][key])} | {target} |")
    rows += [
        f"| held-out {results['held_out']} after learning | **{_pct(hw['accuracy'])}** | {_pct(hwo['accuracy'])} "
        f"| {_pct(hw['strict'])} | {_pct(hwo['strict'])} | |",
        f"| strategy right / size right (strict, all {results['scenarios']}) | | | {_pct(on['strategy_accuracy'])} / "
        f"{_pct(on['size_accuracy'])} | {_pct(off['strategy_accuracy'])} / {_pct(off['size_accuracy'])} | |",
        f"| simulated success rate, 1st half / 2nd half | {_pct(on['success_rate_first_half'])} / {_pct(on['success_rate_second_half'])} "
        f"| {_pct(off['success_rate_first_half'])} / {_pct(off['success_rate_second_half'])} | | | |",
        f"| Plan latency, no LLM, no clone | p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms | p50 {lat_off['p50_ms']} ms, "
        f"p99 {lat_off['p99_ms']} ms | | | p50 <= {lat['target_p50_ms']:.0f} ms |",
        "",
        f"Per family (all {results['scenarios']} in sequence; thumbs up, strict in brackets):",
        "",
        "| family | n | with retrieval | retrieval disabled | held-out n | held-out with retrieval | held-out disabled |",
        "|---|---|---|---|---|---|---|",
    ]
    for family, row in on["by_family"].items():
        held = hw["by_family"].get(family, {"n": 0, "accuracy": None, "strict": None})
        held_off = hwo["by_family"].get(family, {"n": 0, "accuracy": None, "strict": None})
        base = off["by_family"][family]
        rows.append(f"| {family} | {row['n']} | {_pct(row['accuracy'])} ({_pct(row['strict'])}) "
                    f"| {_pct(base['accuracy'])} ({_pct(base['strict'])}) | {held['n']} "
                    f"| {_pct(held['accuracy'])} ({_pct(held['strict'])}) | {_pct(held_off['accuracy'])} ({_pct(held_off['strict'])}) |")
    downs = ", ".join(f"{k} {v}" for k, v in list(on["thumbs_down_reasons"].items())[:6]) or "none"
    downs_off = ", ".join(f"{k} {v}" for k, v in list(off["thumbs_down_reasons"].items())[:6]) or "none"
    rows += [
        "",
        f"Rolling window {w}. Thumbs down, with retrieval: {downs}. Retrieval disabled: {downs_off}. "
        f"Planner's no-memory plan differs from the generator's own visible-facts rules (strict) on "
        f"{_pct(kb['plan_differs'])} of the {kb['standard_n']} apps with no latent need (strategy alone: "
        f"{_pct(kb['strategy_differs'])}). Memory after the run: {results['memory_records_after']} records; "
        f"re-ranker: {results['reranker'] or 'n/a'}. Strictly wrong plans that got a thumbs up (valid answers other than "
        f"the oracle's): {on['silent_errors']['succeeded_anyway']} of {results['scenarios']} with retrieval, "
        f"{off['silent_errors']['succeeded_anyway']} without. Plans citing past deployments: {on['plans_with_citations']}.",
    ]
    bound = results.get("learnability_after_100")
    if bound:
        rows += [
            "",
            f"Learnability bound, scenarios {bound['from']}-{bound['from'] + bound['n'] - 1}: {bound['unlearnable']} of "
            f"{bound['n']} have a latent need with no visible trace that an earlier app shared (no signature library, or "
            f"none shared with an earlier app of the same family); {bound['unlearnable_right_without_memory']} of them "
            f"are right anyway without memory. Ceiling for any learner of this signal: {_pct(bound['ceiling'])}.",
        ]
    again = results.get("recurring")
    if again:
        on_a, off_a, bound_a = again["with_retrieval"], again["without_retrieval"], again["learnability_after_100"]
        rows += [
            "",
            f"Second stream, apps recurring (same seed; after the first, each deployment is with probability "
            f"{again['share']:.2f} a new deployment of an app deployed earlier in the stream, with a new intent: "
            f"{again['repeats']} of {results['scenarios']}; the headline above is the stream where every app is new):",
            "",
            "| recurring apps | thumbs up, with retrieval | thumbs up, retrieval disabled | strict, with retrieval | strict, disabled |",
            "|---|---|---|---|---|",
        ]
        for key in on_a["windows"]:
            name = {"all": f"all {results['scenarios']}"}.get(key, key.replace("first_", "first ").replace("_", "-"))
            rows.append(f"| scenarios {name} | **{_pct(on_a['windows'][key])}** | {_pct(off_a['windows'][key])} "
                        f"| {_pct(on_a['strict_windows'][key])} | {_pct(off_a['strict_windows'][key])} |")
        rows += ["", f"Learnability bound of this stream, scenarios {bound_a['from']}-{bound_a['from'] + bound_a['n'] - 1}: "
                     f"{bound_a['unlearnable']} of {bound_a['n']} unlearnable, {bound_a['unlearnable_right_without_memory']} "
                     f"of them right anyway; ceiling {_pct(bound_a['ceiling'])}."]
    return "\n".join(rows)


def seed_summary(results: dict) -> dict:
    """The numbers of one run that compare across generator seeds ("after_100": the window after
    the 100th deployment, the headline)."""
    summary = {
        "seed": results["seed"],
        "thumbs_up": results["with_retrieval"]["windows"],
        "thumbs_up_without_retrieval": results["without_retrieval"]["windows"],
        "after_100": _after_100(results["with_retrieval"]["windows"]),
        "after_100_without_retrieval": _after_100(results["without_retrieval"]["windows"]),
        "held_out": results["held_out_with_retrieval"]["accuracy"],
        "held_out_without_retrieval": results["held_out_without_retrieval"]["accuracy"],
        "learnability_after_100": results["learnability_after_100"],
    }
    if "recurring" in results:
        summary["recurring_after_100"] = _after_100(results["recurring"]["with_retrieval"]["windows"])
        summary["recurring_after_100_without_retrieval"] = _after_100(results["recurring"]["without_retrieval"]["windows"])
        summary["recurring_learnability_after_100"] = results["recurring"]["learnability_after_100"]
    return summary


def _after_100(windows: dict[str, float | None]) -> float | None:
    return next((value for key, value in windows.items() if key.startswith("101_")), None)


def seeds_table(summaries: Sequence[dict]) -> str:
    """Markdown: one row per seed, then the mean."""
    def row(name: str, values: list[float | None]) -> str:
        return f"| {name} | " + " | ".join(_pct(v) for v in values) + " |"
    header = ["| seed | after 100, retrieval | after 100, disabled | ceiling after 100 | held-out, retrieval "
              "| held-out, disabled | recurring, after 100 | recurring ceiling |", "|---|---|---|---|---|---|---|---|"]
    rows, columns = [], []
    for s in summaries:
        values = [s["after_100"], s["after_100_without_retrieval"], s["learnability_after_100"]["ceiling"],
                  s["held_out"], s["held_out_without_retrieval"],
                  s.get("recurring_after_100"), s.get("recurring_learnability_after_100", {}).get("ceiling")]
        columns.append(values)
        rows.append(row(str(s["seed"]), values))
    means = [statistics.fmean(c) if all(v is not None for v in c) else None for c in zip(*columns, strict=True)]
    return "\n".join(header + rows + [row("mean", means)])


def run_seeds(seeds: Sequence[int], run_one: Callable[[int], dict], output: Path | None = None) -> tuple[list[dict], Path | None]:
    """Run `run_one` for each seed and write the seeds' summaries after each one (to `output`, else
    bench/results/planner-seeds.json), and where: a run of ten seeds takes twenty minutes, and one
    that fails (a service that does not start) keeps the seeds it finished."""
    summaries: list[dict] = []
    path = output
    for seed in seeds:
        print(f"seed {seed}", flush=True)
        summaries.append(seed_summary(run_one(seed)))
        path = write_results("planner-seeds", {"seeds": summaries}, output)
    return summaries, path


def main(argv: Sequence[str] | None = None) -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.planner", description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=None, help=f"sequence length (default {SCENARIOS})")
    parser.add_argument("--held-out", type=int, default=HELD_OUT)
    parser.add_argument("--plot", default=str(DOCS_PLOT), help="PNG path ('' for none)")
    parser.add_argument("--explain", action="store_true",
                        help="record, per learning step, what retrieval found and how it was weighed (one more Retrieve per step)")
    parser.add_argument("--output", default="", help="write the results JSON here instead of bench/results/planner.json (planner-seeds.json with --seeds)")
    parser.add_argument("--no-recurring", action="store_true",
                        help="skip the second stream, where apps are deployed again (halves the run time)")
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"the scenario generator's seed (default {SEED}, the recorded run's; the planner was "
                             "diagnosed on it; docs/benchmarks.md says which other seeds have been)")
    parser.add_argument("--seeds", default="",
                        help="comma-separated seeds: run each (no plot), write bench/results/planner-seeds.json with "
                             "the numbers that compare across seeds, and print them")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.seeds:
        def one(seed: int) -> dict:
            return run(args.scenarios, args.held_out, None, recurring=not args.no_recurring, seed=seed)
        summaries, path = run_seeds([int(s) for s in args.seeds.split(",")], one,
                                    Path(args.output).resolve() if args.output else None)
        print(f"\n## planner across seeds ({path})\n\n{seeds_table(summaries)}\n")
        return
    results = run(args.scenarios, args.held_out, Path(args.plot) if args.plot else None, explain=args.explain,
                  recurring=not args.no_recurring, seed=args.seed)
    if args.output:
        path = Path(args.output).resolve()
        path.write_text(json.dumps(results, indent=2) + "\n")
    else:
        path = write_results("planner", results)
    print(f"\n## planner ({path})\n\n{summary(results)}\n")


if __name__ == "__main__":
    main()
