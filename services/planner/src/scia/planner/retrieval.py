"""Learning from past deployments: the retrieval-augmented adjustment and the RAG client.

`assess` is a pure function over RetrievedDeployment messages. Each past deployment is weighed
by its similarity (`lesson_weights`: from the RAG service's relevance component, at least
RETRIEVED for anything retrieved, 1 for a close match; its blended score, which also rewards
successes and upvotes, only when no component is sent) times how closely it matches the
application (same framework 1, same language 0.5, else 0.25) times kinship (below). Then:

- failures for lack of memory ("out of memory", "OOMKilled", exit 137...) set a memory floor
  for their strategy: the plan must be larger than what failed, unless similar successes at
  that size outweigh them (agreement);
- other failures (cold starts, timeouts, crashes) push away from their strategy;
- successes, the better rated the more, pull toward their strategy and their size;
- capacity failures of a single instance at peak ("saturated", "throttled") or under bursts
  without autoscaling are lessons about the load, not only about the strategy: with enough
  agreement (similar successes on one instance, or without autoscaling, contradict) they become
  learned requirements, high availability (two or more instances) and autoscaling, that the
  decision then plans for. Only deployments under a comparable load count for these. Such a
  failure of a VM or cluster is not held against its strategy (the lesson is the count). Well-rated
  successes planned with a learned need pass it on at half weight; a need failures alone teach is
  `first_hand_needs`, the only kind that may outweigh a stated budget (decide.make_plan);
- lessons about a size (it fitted, it was too big) transfer across loads only where they apply
  a fortiori (memory per instance grows with the load, `size_lesson_factor`);

- successes that users voted down as over-provisioned ("over-provisioned: peak memory 12% of
  t3.large") set a memory ceiling for their strategy: the plan steps down one size when it is at
  or above a size similar deployments found too big, unless well-rated successes at that size or
  larger contradict (agreement again), and never below a memory floor;
- neighbours are weighed by kinship too: past apps that share this app's uncommon dependencies
  (libraries most retrieved neighbours do not use) count more than those that share only the
  framework, so a lesson of apps with the same toolbox is not outvoted by the framework's many
  ordinary apps. Asymmetrically: kin failures count more, any failure at least in full; successes
  of apps without the toolbox count less (they do not show the toolbox is harmless), and not at
  all against a capacity need (high availability, autoscaling) when kin exist.

- what deployments really used (metrics.memory_utilization of their VM) over what the knowledge
  base expected of their app at their load is a working-set scale (`observed_scale`; out-of-memory
  failures give a lower bound): when similar deployments agree (`memory_scale`), the plan is sized
  for that scale at once, at any load, instead of one size above each failure;
- VMs that ran out of memory at a utilisation under what the headroom rule plans set how full an
  instance may be planned (`vm_utilisation_limit`).

Votes carry structured reasons in their comment ("over-provisioned: ...", "OOMKilled on ...",
"right-sized: ..."); `vote_reasons` reads them. A downvote for size is not a vote against the
strategy.

Every change the decision engine makes because of this is cited with its influence.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from scia.planner.intent import derived_rps
from scia.planner.pricing import Catalogue
from scia.v1 import common_pb2, rag_pb2, rag_pb2_grpc

Outcome = common_pb2.Outcome
Strategy = common_pb2.Strategy
STRATEGY_NAMES = {Strategy.STRATEGY_VM: "vm", Strategy.STRATEGY_KUBERNETES: "kubernetes", Strategy.STRATEGY_SERVERLESS: "serverless"}

# Net weight (supporting minus contradicting) a change needs: one close match (score >= 0.35)
# or several weaker ones that agree.
THRESHOLD = 0.35
MIN_SCORE = 0.15
# The similarity from which the closest neighbour counts as a close match (weight 1): on the RAG
# service's floor-mapped cosine scale, 0.5 is a cosine of 0.85 (same stack, similar request).
CLOSE_MATCH = 0.5
# What any retrieved neighbour weighs at least, when the service sent its relevance (`lesson_weights`).
RETRIEVED = 0.5
MAX_STRATEGY_DELTA = 0.4

MEMORY_FAILURE = re.compile(r"out of memory|out-of-memory|\boom|memoryerror|memory limit|heap space|exit code 137|\bkilled\b.*memory|memory exhausted", re.I)
COLD_START_FAILURE = re.compile(r"cold start|timed? ?out|timeout|deadline|init duration|task timed out", re.I)
# Capacity lessons: one instance was not enough at peak; the load came in bursts it could not follow.
SINGLE_INSTANCE_FAILURE = re.compile(r"single instance|one instance|\b1 x |saturat|throttl|concurrency limit", re.I)
BURST_FAILURE = re.compile(r"burst|spik|without autoscaling|no autoscaling|could not scale", re.I)
LEARNED_NEEDS = ("high_availability", "autoscaling")
# Net weight a learned need takes. Autoscaling is cheap insurance: a VM group is priced at the
# minimum it keeps (no more than the fixed fleet), a cluster autoscaler adds nodes only when
# needed; missing it is p99 latency over target in every burst. A second instance doubles the
# compute, so high availability needs the full threshold. (Benchmark run 25: one close kin's
# lesson, 0.3497 for and 0 against, had left a bursty app without autoscaling.)
NEED_THRESHOLDS = {"high_availability": THRESHOLD, "autoscaling": 0.2}
# How a plan's citation names a learned need (decide.NEED_WORDS starts with these).
NEED_PREFIXES = {"high_availability": "two or more instances", "autoscaling": "autoscaling"}
# Structured vote comments: "over-provisioned: peak memory 12% of t3.large" (size too big).
OVER_PROVISIONED = re.compile(r"over[\s-]?provisioned|over[\s-]?sized|too (?:big|large)", re.I)
# Kinship: a dependency is uncommon when at most this share of the retrieved neighbours (or 2 of
# them) use it: a framework's usual companions (an ORM in a third of its apps) are not.
UNCOMMON_SHARE = 0.25
# Weight multiplier range: no uncommon dependency shared -> KIN_MIN, all of them -> KIN_MIN + KIN_SPAN.
# Strong on purpose: what apps with the same unusual toolbox went through says more about this
# app than what the framework's many ordinary apps went through.
KIN_MIN = 0.15
KIN_SPAN = 1.85
CAPACITY_FAILURE = re.compile(r"\bcpu\b|throttl|latency|too slow|overload|saturat|too many requests|\b5\d\d\b", re.I)

Weighted = tuple[rag_pb2.RetrievedDeployment, str]


@dataclass
class MemoryEvidence:
    # strategy -> (score delta, explanation)
    strategy_delta: dict[int, tuple[float, str]] = field(default_factory=dict)
    strategy_records: dict[int, list[Weighted]] = field(default_factory=dict)
    # strategy -> the plan must have more memory per instance/node/function than this (GB)
    memory_floor_gb: dict[int, float] = field(default_factory=dict)
    floor_records: dict[int, list[Weighted]] = field(default_factory=dict)
    # strategy -> (instance/node type of well-rated successes, their records)
    pull: dict[int, tuple[str, list[Weighted]]] = field(default_factory=dict)
    successes: dict[int, list[Weighted]] = field(default_factory=dict)
    # "high_availability" / "autoscaling" -> the failures that taught it (only when learned)
    needs: dict[str, list[Weighted]] = field(default_factory=dict)
    # need -> (supporting, contradicting) weight, learned or not (for explanations and tests)
    need_balance: dict[str, tuple[float, float]] = field(default_factory=dict)
    # The learned needs that failures alone teach (net of what contradicts them), without the
    # lessons successes passed on: what may outweigh a stated budget (decide.make_plan).
    first_hand_needs: set[str] = field(default_factory=set)
    # strategy -> the plan should have less memory per instance/node than this (GB): similar
    # deployments at this size or smaller were voted down as over-provisioned
    memory_ceiling_gb: dict[int, float] = field(default_factory=dict)
    ceiling_records: dict[int, list[Weighted]] = field(default_factory=dict)
    # The app's working set is this many times what its framework profile says at its load
    # (observed in similar deployments, `memory_scale`); 1 when nothing shows more.
    memory_scale: float = 1.0
    scale_records: list[Weighted] = field(default_factory=list)
    # Plan VMs' working set at most this share of the instance's memory (0: the headroom rule only).
    vm_max_utilisation: float = 0.0
    utilisation_records: list[Weighted] = field(default_factory=list)

    def reinforcing(self, strategy: int) -> list[Weighted]:
        return self.successes.get(strategy, [])[:3]


def framework_of(record: common_pb2.DeploymentRecord) -> tuple[str, str]:
    if record.analysis.applications:
        app = record.analysis.applications[0]
        return app.framework, app.language
    return "", ""


def match_factor(record: common_pb2.DeploymentRecord, app: common_pb2.Application) -> float:
    framework, language = framework_of(record)
    if framework and framework == app.framework:
        return 1.0
    if language and language == app.language:
        return 0.5
    return 0.25


def similarity(result: rag_pb2.RetrievedDeployment) -> float:
    """How similar a past deployment is, apart from how well it went: the RAG service's relevance
    component when it sent one, else its score. The score also rewards successes, upvotes,
    recency and cheapness; weighing lessons by it would discount exactly the failures that teach
    (this module judges outcomes and votes itself)."""
    if result.HasField("components") and result.components.relevance > 0:
        return result.components.relevance
    return result.score


def lesson_weights(results: list[rag_pb2.RetrievedDeployment]) -> list[float]:
    """Per result (same order), how much its similarity weighs a lesson, in [0, 1].

    With the relevance component (the planner asks for relevance alone, among the application's
    language): RETRIEVED + (1 - RETRIEVED) x relevance relative to a close match, so a neighbour
    as close as CLOSE_MATCH (or the closest one, when closer) counts 1, and any retrieved neighbour
    at least RETRIEVED. Why a floor: the RAG service's relevance is absolute on its own scale,
    which clamps every cosine under its floor (0.7) to 0, and in the benchmark most retrieved
    same-framework neighbours, kin included, came back at 0: weighed by it, their lessons
    vanished (thumbs up 77% -> 59% when the service moved from min-max to this scale, no planner
    change). Being among the closest of the language already says they are related; the planner
    tells them apart by framework, shared toolbox and load itself. Without components (an older
    service): the score as it is.
    """
    if not any(r.HasField("components") for r in results):
        return [similarity(r) for r in results]
    best = max((r.components.relevance for r in results if r.HasField("components")), default=0.0)
    scale = max(best, CLOSE_MATCH)
    return [RETRIEVED + (1 - RETRIEVED) * min(1.0, r.components.relevance / scale)
            if r.HasField("components") else similarity(r) for r in results]


def vote_reasons(record: common_pb2.DeploymentRecord) -> list[tuple[int, str]]:
    """(vote, reason) for every reason of every vote: a comment may hold several, separated by ";"."""
    return [(vote.vote, part.strip()) for vote in record.feedback.votes for part in vote.comment.split(";") if part.strip()]


def over_provisioned_votes(record: common_pb2.DeploymentRecord) -> int:
    """Downvotes that say the size was too big (and nothing worse)."""
    return sum(1 for vote in record.feedback.votes if vote.vote < 0 and vote.comment
               and all(OVER_PROVISIONED.search(part) for part in vote.comment.split(";") if part.strip()))


def rating(record: common_pb2.DeploymentRecord) -> float:
    """Users' approval of the deployment's strategy in [0, 1]; 0.6 for a success nobody voted on
    (it worked, nobody complained). Downvotes only for the size (over-provisioned) are not held
    against the strategy: they neither count for nor against it."""
    up = record.feedback.up
    down = max(0, record.feedback.down - over_provisioned_votes(record))
    return up / (up + down) if up + down else 0.6


def dependency_names(app: common_pb2.Application) -> set[str]:
    return {d.name.lower() for d in app.dependencies if not d.dev and d.name}


def kinship(results: list[rag_pb2.RetrievedDeployment], app: common_pb2.Application) -> dict[str, float]:
    """Per record id, a weight multiplier for how much of this app's uncommon toolbox it shares.

    Uncommon = a runtime dependency of `app` used by at least one and at most UNCOMMON_SHARE (or 2)
    of the retrieved neighbours (the framework's own packages, used by all, say nothing; nor does
    one nobody uses). Each is weighed by its rarity (inverse document frequency among the
    neighbours); a neighbour's multiplier is KIN_MIN + KIN_SPAN x (its share of that weight). Without any uncommon dependency, or with fewer
    than 3 neighbours to tell common from rare, every multiplier is 1 (no information).
    """
    if len(results) < 3:
        return {}
    mine = dependency_names(app)
    theirs = {r.record.id: dependency_names(r.record.analysis.applications[0]) if r.record.analysis.applications else set()
              for r in results}
    n = len(theirs)
    rare = {}
    for name in mine:
        df = sum(1 for deps in theirs.values() if name in deps)
        if 0 < df <= max(2, UNCOMMON_SHARE * n):  # used by nobody: says nothing about which neighbour is kin
            rare[name] = math.log((n + 1) / (df + 0.5))
    total = sum(rare.values())
    if total <= 0:
        return {}
    return {rid: KIN_MIN + KIN_SPAN * sum(w for name, w in rare.items() if name in deps) / total for rid, deps in theirs.items()}


def size_of(record: common_pb2.DeploymentRecord, catalogue: Catalogue) -> tuple[str, float]:
    """(label, memory GB) of what the record ran on, for its strategy."""
    config = record.plan.configuration
    strategy = record.plan.strategy
    if strategy == Strategy.STRATEGY_SERVERLESS and config.HasField("serverless"):
        return f"{config.serverless.memory_mb} MB", config.serverless.memory_mb / 1024
    name = config.vm.instance_type if strategy == Strategy.STRATEGY_VM else config.kubernetes.node_type if strategy == Strategy.STRATEGY_KUBERNETES else ""
    found = catalogue.find_type(name) if name else None
    return name, float(found[1]["memory_gb"]) if found else 0.0


def load_factor(record: common_pb2.DeploymentRecord, rps: float) -> float:
    """How much a past deployment's capacity or memory lesson applies at `rps`: 1 within 3x of its
    load, 0.5 within 10x, 0.2 beyond (a lesson learned at 600 requests/s says little about 5).
    A fortiori, 1 whatever the ratio when the lesson points the same way as the difference: a
    failure under a lighter load than this one (it will fail here too), a success under a heavier
    one (it coped with more)."""
    if rps <= 0:
        return 1.0
    theirs, _ = derived_rps(record.plan.requirements)
    failed = record.outcome in (Outcome.OUTCOME_FAILED, Outcome.OUTCOME_DEGRADED)
    if (failed and theirs <= rps) or (record.outcome == Outcome.OUTCOME_SUCCESS and theirs >= rps):
        return 1.0
    ratio = max(theirs, rps) / max(min(theirs, rps), 1e-6)
    return 1.0 if ratio <= 3 else 0.5 if ratio <= 10 else 0.2


# Load tiers of the working set (requests/s up to): the same boundaries as the knowledge base's
# memory-per-load factors (decide.LOAD_MEMORY_FACTORS: x1 light, x2 moderate, x4 heavy).
LOAD_TIERS = (10.0, 100.0)
# What a size lesson from another load tier still counts for, when it does not apply a fortiori.
OTHER_TIER = 0.2


def load_tier(rps: float) -> int:
    return sum(1 for limit in LOAD_TIERS if rps > limit)


def size_lesson_factor(record: common_pb2.DeploymentRecord, rps: float, lesson: str) -> float:
    """How much a deployment's lesson about its *size* applies to a plan at `rps` (unknown load: 1).

    Memory per instance grows with the load (more workers, connections; in tiers). In full when it
    applies a fortiori: a size that was enough (`"fits"`) or too big (`"too-big"`) under a heavier
    load is so under a lighter one; a size a lighter or equal load needed (`"needed"`) is not too
    big for a heavier one. Otherwise only within the same load tier, discounted like `load_factor`
    by the ratio of the loads (1 within 3x, 0.5 within 10x, 0.2 beyond), and OTHER_TIER across
    tiers: t3.micro serving 0.5 or 5 requests/s does not show that 60 requests/s fit it. `"same"`:
    a pull toward a success's size, never a fortiori.
    """
    if rps <= 0:
        return 1.0
    theirs = derived_rps(record.plan.requirements)[0]
    a_fortiori = {"fits": theirs >= rps, "too-big": theirs >= rps, "needed": theirs <= rps, "same": False}[lesson]
    if a_fortiori:
        return 1.0
    if load_tier(theirs) != load_tier(rps):
        return OTHER_TIER
    ratio = max(theirs, rps) / max(min(theirs, rps), 1e-6)
    return 1.0 if ratio <= 3 else 0.5 if ratio <= 10 else 0.2


# A learned working-set scale below this is noise (framework profiles are ranges, not points).
MIN_MEMORY_SCALE = 1.15
# And above this it is not a calibration any more: a 1 GiB profile does not become 16 GiB.
MAX_MEMORY_SCALE = 4.0
# A success's observed peak counts against a scale when it is below this share of it.
SCALE_CONTRADICTION = 0.8


def observed_scale(record: common_pb2.DeploymentRecord, memory_gb: float, expected_mb: float,
                   vm_holds_mb: Callable[[float], float]) -> tuple[float, bool]:
    """(working set / what the planner's model expects for that app at its load, exact) of a VM
    deployment, from what it ran on; (0, False) when nothing can be said.

    A success's observed peak memory (metrics.memory_utilization of the instance) is its working
    set: exact. An out-of-memory failure shows at least its observed peak (a lower bound), or
    without metrics what the planner's own headroom rule says that instance holds. Not the larger
    of the two: an instance that died below what the headroom rule says it holds shows that
    instances here hold less (`vm_utilisation_limit` learns that); reading it as a larger working
    set too counted the same failure twice (a FastAPI app that died at 51% of 4 GB, 2.1 GB, read
    as 2.4 GB and then planned at most 46% full: 8 GB for its 1.4 GB).
    Why a ratio rather than a size: it transfers across loads and frameworks (the working set grows
    with the load, and an app whose toolbox doubles its memory doubles it at any load), so one
    lesson sizes the next app straight to the size the evidence supports, where a floor only moves
    one size above what failed, one failure per size.
    """
    if memory_gb <= 0 or expected_mb <= 0:
        return 0.0, False
    observed = record.metrics.memory_utilization * memory_gb * 1024 if record.HasField("metrics") else 0.0
    failed = record.outcome in (Outcome.OUTCOME_FAILED, Outcome.OUTCOME_DEGRADED)
    if failed and MEMORY_FAILURE.search(record.outcome_reason):
        return (observed or vm_holds_mb(memory_gb)) / expected_mb, False
    if record.outcome == Outcome.OUTCOME_SUCCESS and 0 < record.metrics.memory_utilization < 1:
        return observed / expected_mb, True
    return 0.0, False


Observation = tuple[rag_pb2.RetrievedDeployment, float, float, bool]


def memory_scale(observations: list[Observation]) -> tuple[float, list[rag_pb2.RetrievedDeployment]]:
    """The largest working-set scale similar deployments agree on, and the records showing it.

    `observations`: (result, weight, scale, contradicts): the scale as `observed_scale` gives it;
    `contradicts` when it is an exact observation (a success) that may speak against a larger
    scale (`assess`: when kin exist, only theirs). A scale r is supported by the deployments that
    needed at least r (failures' lower bounds, successes' observed peaks) and contradicted by
    well-rated successes observed clearly below it (under SCALE_CONTRADICTION x r); it holds when
    the support reaches THRESHOLD and is at least the contradiction. Safety first, unlike a floor's
    net rule: when apps with this toolbox disagree as strongly (one ran out of memory at 3x the
    profile, another ran at 1.4x), planning for the larger working set risks one size of money,
    the smaller an outage. Capped at MAX_MEMORY_SCALE; 1 below MIN_MEMORY_SCALE.
    """
    best, shown = 1.0, []
    for _result, _weight, candidate, _exact in observations:
        if candidate < MIN_MEMORY_SCALE or candidate <= best:
            continue
        support = sum(w for _r, w, scale, _e in observations if scale >= candidate)
        contra = sum(w for r, w, scale, exact in observations
                     if exact and scale < SCALE_CONTRADICTION * candidate and rating(r.record) >= 0.5)
        if support >= THRESHOLD and support >= contra:
            best = candidate
            shown = [r for r, _w, scale, _e in observations if scale >= candidate]
    return min(best, MAX_MEMORY_SCALE), shown


# Plan at most this share of the lowest utilisation instances ran out of memory at (a success
# observed fuller than that, still under it, raises the limit to its own).
UTILISATION_MARGIN = 0.9


def vm_utilisation_limit(oom: list[tuple[rag_pb2.RetrievedDeployment, float]],
                         ok: list[float]) -> tuple[float, list[rag_pb2.RetrievedDeployment]]:
    """How full (peak memory / instance memory) a VM may be planned, from out-of-memory failures
    whose metrics show the utilisation they died at, and the records showing it; (0, []) when no
    failure shows one.

    A property of the platform more than of the app (the OS, agents, page cache, a deploy's second
    process, memory spikes between two samples take their share whatever the app): instances
    that ran out of memory at 60% say 60% is too full there. The limit is UTILISATION_MARGIN x
    the lowest such failure, or the fullest a success ran below it when fuller (it ran fine so).
    The knowledge base's headroom rule plans ~60-65% at 4-8 GB; a platform where instances die
    fuller than half needs more, and one failure per size would teach it one size at a time.
    """
    if not oom:
        return 0.0, []
    lowest = min(u for _r, u in oom)
    below = [u for u in ok if u < lowest]
    limit = max([lowest * UTILISATION_MARGIN, *below])
    return round(limit, 3), [r for r, u in sorted(oom, key=lambda o: o[1])[:3]]


def instances_of(record: common_pb2.DeploymentRecord) -> tuple[int, bool]:
    """(instances, autoscaling) of the plan a record ran; functions count as scaling, one each."""
    config = record.plan.configuration
    workload = config.WhichOneof("workload")
    if workload == "vm":
        return max(config.vm.instance_count, 1), config.vm.max_count > config.vm.min_count
    if workload == "kubernetes":
        return max(config.kubernetes.replicas, 1), config.kubernetes.max_nodes > config.kubernetes.min_nodes
    return 1, workload == "serverless"


def describe_record(result: rag_pb2.RetrievedDeployment, catalogue: Catalogue | None = None, *, with_votes: bool = False) -> str:
    record = result.record
    framework, _language = framework_of(record)
    who = f"{record.tenant}/{record.name}" if record.name else record.id
    if record.revision:
        who += f" rev {record.revision}"
    where = ""
    if catalogue is not None:
        where = size_of(record, catalogue)[0]
    strategy = STRATEGY_NAMES.get(record.plan.strategy, "unknown strategy")
    outcome = Outcome.Name(record.outcome).removeprefix("OUTCOME_").lower()
    reason = f" ({record.outcome_reason})" if record.outcome_reason else ""
    if with_votes:
        downs = [text for vote, text in vote_reasons(record) if vote < 0]
        if downs:
            reason += f", voted down: {downs[0]}"
    return f"{who}: {framework or 'app'} on {strategy}{' ' + where if where else ''} {outcome}{reason}"


@dataclass(frozen=True)
class WorkingSetModel:
    """The planner's memory model, for reading other deployments' observed memory
    (`observed_scale`): the working set it expects of an application under requirements (MB),
    and how much working set a VM of a given memory holds (MB)."""

    expected_mb: Callable[[common_pb2.Application, common_pb2.Requirements], float]
    vm_holds_mb: Callable[[float], float]

    def expected_of(self, record: common_pb2.DeploymentRecord) -> float:
        """The working set expected of a record's app at the record's load (0 when unknown)."""
        if not record.analysis.applications:
            return 0.0
        return self.expected_mb(record.analysis.applications[0], record.plan.requirements)


def assess(results: list[rag_pb2.RetrievedDeployment], app: common_pb2.Application, catalogue: Catalogue,
           rps: float = 0.0, model: WorkingSetModel | None = None) -> MemoryEvidence:
    """The evidence of `results` for `app` (planned for `rps` peak requests/s; 0 if unknown).
    With `model`, also the working-set scale similar deployments' observed memory shows."""
    evidence = MemoryEvidence()
    # By object: hand-built or not-yet-stored records may share an empty id.
    close = {id(r): value for r, value in zip(results, lesson_weights(results), strict=True)}
    usable = [r for r in results if close[id(r)] >= MIN_SCORE and r.record.plan.strategy]
    kin = kinship(usable, app)
    # Kinship is asymmetric: what went wrong for a neighbour counts in full and more for kin (a
    # warning applies unless closer apps contradict it); what went right counts less for neighbours
    # without this app's unusual libraries (they are not evidence that the toolbox is harmless).
    weights: list[tuple[rag_pb2.RetrievedDeployment, float]] = []
    for r in usable:
        factor = kin.get(r.record.id, 1.0)
        failed = r.record.outcome in (Outcome.OUTCOME_FAILED, Outcome.OUTCOME_DEGRADED)
        weights.append((r, close[id(r)] * match_factor(r.record, app) * (max(1.0, factor) if failed else min(1.0, factor))))
    over: dict[int, list[tuple[rag_pb2.RetrievedDeployment, float, float]]] = defaultdict(list)
    delta: dict[int, float] = defaultdict(float)
    reasons: dict[int, list[str]] = defaultdict(list)
    oom: dict[int, list[tuple[rag_pb2.RetrievedDeployment, float, float]]] = defaultdict(list)
    ok: dict[int, list[tuple[rag_pb2.RetrievedDeployment, float, float, str]]] = defaultdict(list)
    # Support for a need: what failures taught first hand, and what successes passed on.
    need_first_hand: dict[str, float] = defaultdict(float)
    need_passed_on: dict[str, float] = defaultdict(float)
    need_contra: dict[str, float] = defaultdict(float)
    need_records: dict[str, list[Weighted]] = defaultdict(list)
    scales: list[Observation] = []
    # The working set this app is expected to have: what a memory floor's failures are compared with.
    mine_mb = model.expected_mb(app, common_pb2.Requirements(expected_rps=rps)) if model else 0.0
    oom_utilisation: list[tuple[rag_pb2.RetrievedDeployment, float]] = []
    ok_utilisation: list[float] = []
    for result, weight in weights:
        record = result.record
        strategy = record.plan.strategy
        label, memory_gb = size_of(record, catalogue)
        failed = record.outcome in (Outcome.OUTCOME_FAILED, Outcome.OUTCOME_DEGRADED)
        scale, expected = 0.0, 0.0
        if model is not None and strategy == Strategy.STRATEGY_VM:
            expected = model.expected_of(record)
            scale, exact = observed_scale(record, memory_gb, expected, model.vm_holds_mb)
            if scale > 0:
                # A working set is the app's own: weighed by kinship both ways (failures of apps
                # without this toolbox count less too, unlike a floor at their size, which is
                # about the instance). Otherwise apps that ran out of memory under a load read
                # differently, or with another toolbox, scaled every plan of the language. Only
                # successes of the same framework contradict (the ratio also holds how far off
                # each framework's profile is: a Django app at 1.2x Django's profile does not show
                # that a FastAPI app with the same libraries needs no more than FastAPI's), and as
                # for capacity needs, when kin exist only theirs.
                factor = kin.get(record.id, 1.0)
                same_framework = match_factor(record, app) >= 1.0
                scales.append((result, close[id(result)] * match_factor(record, app) * factor, scale,
                               exact and same_framework and (not kin or factor >= 1.0)))
        if strategy == Strategy.STRATEGY_VM and 0 < record.metrics.memory_utilization < 1:
            if failed and MEMORY_FAILURE.search(record.outcome_reason):
                oom_utilisation.append((result, record.metrics.memory_utilization))
            elif record.outcome == Outcome.OUTCOME_SUCCESS:
                ok_utilisation.append(record.metrics.memory_utilization)
        severity = 1.0 if record.outcome == Outcome.OUTCOME_FAILED else 0.5
        note = describe_record(result, catalogue)
        load = load_factor(record, rps)
        # Capacity lessons count in full even when the outcome was "degraded": degradation at the
        # peak is exactly how a missing instance or missing autoscaling shows itself.
        capacity_lesson = False
        if failed and SINGLE_INSTANCE_FAILURE.search(record.outcome_reason):
            need_first_hand["high_availability"] += weight * load
            need_records["high_availability"].append((result, note))
            capacity_lesson = True
        if failed and BURST_FAILURE.search(record.outcome_reason):
            need_first_hand["autoscaling"] += weight * load
            need_records["autoscaling"].append((result, note))
            capacity_lesson = True
        # Capacity needs are about the app's own traffic pattern: when some neighbours share this
        # app's unusual toolbox, only they can show it copes without (the others' ease says nothing).
        kin_or_none = not kin or kin.get(record.id, 0.0) >= 1.0
        if record.outcome == Outcome.OUTCOME_SUCCESS and rating(record) >= 0.5:
            # A requirement learned for a similar app that then worked is passed on (at half the
            # weight of a failure): the lesson survives once its teachers stop failing.
            for need in LEARNED_NEEDS:
                if any(c.influence.startswith(f"requirement learned: {NEED_PREFIXES[need]}") for c in record.plan.citations):
                    need_passed_on[need] += weight * 0.5 * load
                    need_records[need].append((result, note))
        if record.outcome == Outcome.OUTCOME_SUCCESS and rating(record) >= 0.5 and kin_or_none:
            # It coped without: evidence against the need, at a comparable load.
            count, scaling = instances_of(record)
            if count < 2 and not scaling:
                need_contra["high_availability"] += weight * load
            if not scaling:
                need_contra["autoscaling"] += weight * load
        # Memory grows with load: an out-of-memory failure under a very different load is weaker evidence.
        if failed and MEMORY_FAILURE.search(record.outcome_reason):
            # A floor transfers a fortiori: an app expected to need no more than this one ran out
            # of memory at that size. One expected to need more (a worker beside it, a heavier
            # load) teaches through its working-set scale above, which accounts for the difference;
            # as a floor it moved light apps a size up for a heavier neighbour's failure.
            if not scale or expected <= mine_mb:
                oom[strategy].append((result, weight * severity * load, memory_gb))
        elif failed and capacity_lesson and strategy != Strategy.STRATEGY_SERVERLESS:
            # One VM or one pod too few is a lesson about the count (a learned need, above), not
            # about the strategy: counting it against VMs too would send the next plan to
            # functions, which the same sustained or bursty load throttles.
            pass
        elif failed:
            push = (0.4 if COLD_START_FAILURE.search(record.outcome_reason) and strategy == Strategy.STRATEGY_SERVERLESS else 0.25) * weight * severity
            delta[strategy] -= push
            reasons[strategy].append(f"{note}, similarity {close[id(result)]:.2f}")
            evidence.strategy_records.setdefault(strategy, []).append((result, note))
        elif record.outcome == Outcome.OUTCOME_SUCCESS:
            r = rating(record)
            pull = 0.2 * weight * (r - 0.4) / 0.6  # a disliked success (< 0.4) counts against
            delta[strategy] += pull
            if r >= 0.5:
                reasons[strategy].append(f"{note}, rated {r:.0%}, similarity {close[id(result)]:.2f}")
                evidence.strategy_records.setdefault(strategy, []).append((result, note))
                evidence.successes.setdefault(strategy, []).append((result, note))
            ok[strategy].append((result, weight, memory_gb, label))
            if over_provisioned_votes(record) and memory_gb > 0:
                over[strategy].append((result, weight * size_lesson_factor(record, rps, "too-big") * over_provisioned_votes(record)
                                       / max(1, record.feedback.up + record.feedback.down), memory_gb))
    for strategy, value in delta.items():
        value = max(-MAX_STRATEGY_DELTA, min(MAX_STRATEGY_DELTA, value))
        direction = "for" if value > 0 else "against"
        evidence.strategy_delta[strategy] = (value, f"past deployments {direction} {STRATEGY_NAMES[strategy]}: " + "; ".join(reasons[strategy][:3]))

    for need in LEARNED_NEEDS:
        support = need_first_hand[need] + need_passed_on[need]
        evidence.need_balance[need] = (round(support, 3), round(need_contra[need], 3))
        if support - need_contra[need] >= NEED_THRESHOLDS[need]:
            evidence.needs[need] = need_records[need]
            if need_first_hand[need] - need_contra[need] >= NEED_THRESHOLDS[need]:
                evidence.first_hand_needs.add(need)

    # Memory floors, by agreement: failures at or above a size support "this size is too small";
    # successes at or below it contradict.
    for strategy, failures in oom.items():
        best_floor, best_records = 0.0, []
        for result, _weight, memory_gb in failures:
            if memory_gb <= 0:
                continue
            support = sum(w for _r, w, m in failures if m >= memory_gb)
            contra = sum(w * size_lesson_factor(r.record, rps, "fits") for r, w, m, _l in ok.get(strategy, [])
                         if 0 < m <= memory_gb and rating(r.record) >= 0.5)
            if support - contra >= THRESHOLD and memory_gb > best_floor:
                best_floor = memory_gb
                best_records = [(r, describe_record(r, catalogue)) for r, _w, m in failures if m >= memory_gb]
        if best_floor:
            evidence.memory_floor_gb[strategy] = best_floor
            evidence.floor_records[strategy] = best_records

    # Memory ceilings, by agreement: over-provisioned at a size or a smaller one supports "this size
    # is too big"; well-rated successes not voted over-provisioned at this size or larger contradict.
    for strategy, too_big in over.items():
        fine = [(w * size_lesson_factor(r.record, rps, "needed"), m) for r, w, m, _l in ok.get(strategy, [])
                if m > 0 and not over_provisioned_votes(r.record) and r.record.feedback.up > r.record.feedback.down]
        best_ceiling = 0.0
        for _result, _weight, memory_gb in too_big:
            support = sum(w for _r, w, m in too_big if m <= memory_gb)
            contra = sum(w for w, m in fine if m >= memory_gb)
            if support - contra >= THRESHOLD and (not best_ceiling or memory_gb < best_ceiling):
                best_ceiling = memory_gb
        if best_ceiling and best_ceiling > evidence.memory_floor_gb.get(strategy, 0.0):
            evidence.memory_ceiling_gb[strategy] = best_ceiling
            evidence.ceiling_records[strategy] = [(r, describe_record(r, catalogue, with_votes=True)) for r, _w, m in too_big if m <= best_ceiling]

    scale, shown = memory_scale(scales)
    if scale > 1:
        evidence.memory_scale = round(scale, 3)
        evidence.scale_records = [(r, describe_record(r, catalogue)) for r in shown]
    limit, failures = vm_utilisation_limit(oom_utilisation, ok_utilisation)
    if limit:
        evidence.vm_max_utilisation = limit
        evidence.utilisation_records = [(r, describe_record(r, catalogue)) for r in failures]

    # Pull toward the size of well-rated successes.
    for strategy, successes in ok.items():
        by_label: dict[str, float] = defaultdict(float)
        records: dict[str, list[Weighted]] = defaultdict(list)
        for result, weight, _memory, label in successes:
            if label and rating(result.record) >= 0.6 and not over_provisioned_votes(result.record):
                by_label[label] += weight * size_lesson_factor(result.record, rps, "same")
                records[label].append((result, describe_record(result, catalogue)))
        if by_label:
            label = max(by_label, key=by_label.get)
            if by_label[label] >= THRESHOLD:
                evidence.pull[strategy] = (label, records[label])
    return evidence


def cite(records: list[Weighted], influence: str) -> list[common_pb2.Citation]:
    seen = set()
    out = []
    for result, note in records:
        if result.record.id in seen:
            continue
        seen.add(result.record.id)
        out.append(common_pb2.Citation(record_id=result.record.id, summary=note[:300], outcome=result.record.outcome,
                                       score=round(result.score, 3), influence=influence))
    return out


def describe(records: list[Weighted]) -> str:
    if not records:
        return "similar deployments"
    first = records[0][1]
    more = f" (and {len(records) - 1} more)" if len(records) > 1 else ""
    return f"a similar deployment, {first}{more}"


# --- the RAG client -----------------------------------------------------------------------------

DEPLOYMENT_MEMORY = rag_pb2.DESCRIPTOR.services_by_name["DeploymentMemory"]


async def retrieve(
    channel: grpc.aio.Channel,
    tenant: str,
    analysis: common_pb2.RepositoryAnalysis,
    intent: common_pb2.DeploymentIntent,
    *,
    limit: int,
    timeout: float,
) -> list[rag_pb2.RetrievedDeployment]:
    """Similar past deployments of the same language (any framework: apps of one language share
    toolboxes, and `assess` weighs the framework and the shared libraries). Raises grpc.RpcError.

    One query. A second one by the toolbox alone (the application without the prompt, merged)
    was tried: it changed no vote in the 200-scenario benchmark and made Plan 2.5x slower
    (p50 ~150 -> 382 ms), so it went.
    """
    request = retrieve_request(tenant, analysis, intent, limit=limit)
    response = await rag_pb2_grpc.DeploymentMemoryStub(channel).Retrieve(request, timeout=timeout)
    return list(response.results)


# Candidates the RAG service fuses (vector and full-text lists) before ranking, per result asked
# for: the full-text list is where apps sharing an uncommon library (the kin) come from.
CANDIDATES_PER_RESULT = 4
MAX_CANDIDATES = 200  # the RAG service's limit


def retrieve_request(tenant: str, analysis: common_pb2.RepositoryAnalysis, intent: common_pb2.DeploymentIntent, *,
                     limit: int) -> rag_pb2.RetrieveRequest:
    """The Retrieve request for `analysis`: the same language, ranked by relevance alone.

    Relevance alone because the RAG service's default blend also rewards successes, upvotes,
    recency and cheap plans: with it, a language's many well-rated ordinary deployments fill the
    top results and push out the failures of similar apps, which are what this module learns
    from (`assess` weighs outcomes and votes itself). A wide candidate pool for the same reason.
    """
    app = analysis.applications[0]
    request = rag_pb2.RetrieveRequest(
        tenant=tenant,
        deployment=rag_pb2.DeploymentQuery(analysis=analysis, intent=intent),
        limit=limit,
        candidates=min(MAX_CANDIDATES, max(limit, limit * CANDIDATES_PER_RESULT)),
        # The service's best relevance (a cross-encoder's when one is loaded), nothing else.
        weights=rag_pb2.RerankWeights(relevance=1.0),
    )
    if app.language:
        request.filter.languages.append(app.language)
    elif app.framework:
        request.filter.frameworks.append(app.framework)
    return request
