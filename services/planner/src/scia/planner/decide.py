"""The knowledge-base engine: analysis + intent + constraints (+ retrieved memory) -> Plan.

Pure functions, no I/O. The knowledge base is written as data below (framework profiles,
strategy rules, anti-patterns, defaults) and documented in docs/planner.md. The decision:

1. resolve cloud, region and budget (explicit fields > prompt > CloudProvider > defaults);
2. build a fully sized and priced candidate for each strategy, scored by the strategy rules,
   with anti-patterns as blockers (impossible) or risks (penalised, warned about);
3. let past deployments move the scores and sizes (scia.planner.retrieval);
4. choose, honouring an explicit strategy unless a blocker forbids it;
5. price, judge the budget, explain.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from scia.planner import pricing, retrieval
from scia.planner.intent import Understanding, derived_rps, resolve_location
from scia.planner.pricing import Catalogue
from scia.v1 import common_pb2, planner_pb2, rag_pb2

Strategy = common_pb2.Strategy
Cloud = common_pb2.Cloud
TraitKind = common_pb2.TraitKind
VM, K8S, FN = Strategy.STRATEGY_VM, Strategy.STRATEGY_KUBERNETES, Strategy.STRATEGY_SERVERLESS
STRATEGY_NAMES = {VM: "vm", K8S: "kubernetes", FN: "serverless"}

# --- the knowledge base -------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """Memory of one process (MB, typical..peak), throughput of one vCPU, cold start, request time."""

    memory_mb: tuple[int, int]
    rps_per_vcpu: float
    cold_start: str  # "fast" | "slow"
    duration_ms: float
    pod_cpu_millicores: int


PROFILES: dict[str, Profile] = {
    "flask": Profile((256, 512), 60, "fast", 120, 250),
    "django": Profile((512, 1024), 50, "slow", 150, 500),
    "fastapi": Profile((128, 256), 250, "fast", 60, 250),
    "streamlit": Profile((512, 1024), 20, "slow", 300, 500),
    "celery": Profile((256, 512), 20, "fast", 500, 250),
    "express": Profile((128, 256), 300, "fast", 50, 250),
    "fastify": Profile((128, 256), 500, "fast", 40, 250),
    "koa": Profile((128, 256), 300, "fast", 50, 250),
    "nestjs": Profile((256, 512), 250, "fast", 60, 250),
    "nextjs": Profile((256, 512), 80, "slow", 150, 500),
    "go": Profile((20, 100), 1500, "fast", 20, 100),
    "spring-boot": Profile((512, 1024), 600, "slow", 40, 500),
    "rails": Profile((512, 1024), 40, "slow", 150, 500),
    "sinatra": Profile((128, 256), 80, "fast", 80, 250),
    "laravel": Profile((256, 512), 60, "slow", 120, 250),
    "symfony": Profile((256, 512), 60, "slow", 120, 250),
    "rust": Profile((20, 80), 3000, "fast", 10, 100),
    "aspnet-core": Profile((128, 256), 1000, "slow", 30, 250),
    "static": Profile((32, 64), 5000, "fast", 5, 50),
}
FRAMEWORK_PROFILE_ALIASES = {"gin": "go", "echo": "go", "fiber": "go", "net-http": "go", "axum": "rust", "actix": "rust",
                             "rocket": "rust", "vite": "static", "create-react-app": "static", "angular": "static",
                             "vue-cli": "static", "jekyll": "static"}
LANGUAGE_PROFILES = {"python": "flask", "node": "express", "go": "go", "java": "spring-boot", "ruby": "rails", "php": "laravel",
                     "rust": "rust", "dotnet": "aspnet-core", "static": "static"}
ML_MEMORY_MB = 1536  # model weights and tensors beside the web process
TARGET_UTILISATION = 0.7  # headroom so a peak does not saturate the CPU
LAMBDA_MAX_SECONDS = 900
SERVERLESS_MAX_PAYLOAD_MB = 6
VM_MAX_SERVICES = 5
DEFAULT_VOLUME_GB = 30
DEFAULT_NODE_VOLUME_GB = 30
DEFAULT_FUNCTION_TIMEOUT = 30
DEFAULT_MANAGED_STORAGE_GB = 20
KNOWN_POLICIES = {"require-https", "enable-monitoring"}
VM_HEADROOM = 1.5
WORKER_MEMORY_FACTOR = 1.5  # a worker process beside the web process: +50% of its working set
VM_OS_MB = 512
# Kubernetes nodes start at the ladder's third type (4 GB: t3.medium, e2-medium, Standard_B2s):
# on a 2 GB node the kubelet's reservation and the system DaemonSets leave about 1 GB for pods.
K8S_MIN_NODE_INDEX = 2


# The working set of an instance grows with the load it serves: a light load runs on one worker
# process; a moderate one needs a worker per vCPU (gunicorn/puma/php-fpm/cluster), their connection
# pools and buffers; a heavy one keeps every worker busy with more requests in flight. The
# profiles' peak is the light-load figure. (requests/s up to, factor, name)
LOAD_MEMORY_FACTORS: tuple[tuple[float, float, str], ...] = ((10.0, 1.0, "light"), (100.0, 2.0, "moderate"), (math.inf, 4.0, "heavy"))
# Functions below this get a CPU share too small for a web framework (Lambda gives CPU in
# proportion to memory; cold starts of Python/Node frameworks grow sharply under 512 MB).
MIN_FUNCTION_MEMORY_MB = 512


def load_memory_factor(rps: float) -> tuple[float, str]:
    """(memory multiplier, load name) for a peak of `rps` requests/s."""
    for limit, factor, name in LOAD_MEMORY_FACTORS:
        if rps <= limit:
            return factor, name
    return LOAD_MEMORY_FACTORS[-1][1], LOAD_MEMORY_FACTORS[-1][2]


def expected_working_set_mb(app: common_pb2.Application, requirements: common_pb2.Requirements) -> float:
    """The working set this knowledge base expects of one VM instance of `app` under `requirements`
    (its profile's peak, ML libraries, the load factor, a worker beside the web process; MB), as
    `build_context` and `size_vm` size it: what a deployment's observed memory is compared with."""
    if requirements.memory_mb:
        return float(requirements.memory_mb)
    _name, profile = profile_for(app)
    memory = profile.memory_mb[1]
    if any(t.kind == TraitKind.TRAIT_KIND_ML_INFERENCE for t in app.traits):
        memory += ML_MEMORY_MB
    memory *= load_memory_factor(derived_rps(requirements)[0])[0]
    if any(t.kind == TraitKind.TRAIT_KIND_BACKGROUND_WORKER for t in app.traits):
        memory *= WORKER_MEMORY_FACTOR
    return float(memory)


def vm_holds_mb(memory_gb: float) -> float:
    """The working set a VM of `memory_gb` holds by `size_vm`'s headroom rule (MB)."""
    return max(0.0, (memory_gb * 1024 - VM_OS_MB) / VM_HEADROOM)


WORKING_SET_MODEL = retrieval.WorkingSetModel(expected_mb=expected_working_set_mb, vm_holds_mb=vm_holds_mb)


def profile_for(app: common_pb2.Application) -> tuple[str, Profile]:
    key = FRAMEWORK_PROFILE_ALIASES.get(app.framework, app.framework)
    if key not in PROFILES:
        key = LANGUAGE_PROFILES.get(app.language, "flask")
    return key, PROFILES[key]


# --- context --------------------------------------------------------------------------------------


@dataclass
class Context:
    analysis: common_pb2.RepositoryAnalysis
    app: common_pb2.Application
    understanding: Understanding
    intent: common_pb2.DeploymentIntent
    constraints: planner_pb2.CloudConstraints
    catalogue: Catalogue
    cloud: int = Cloud.CLOUD_AWS
    region: str = ""
    rps: float = 10.0
    rps_note: str = ""
    monthly_requests: float = 0.0
    memory_mb: int = 512  # working set of one instance/pod at the planned load
    function_memory_mb: int = 512  # of one function instance (one request at a time)
    memory_note: str = ""
    profile: Profile = PROFILES["flask"]
    profile_name: str = "flask"
    budget: float = 0.0
    alert_threshold: float = 0.0
    enforcement: int = common_pb2.BUDGET_ENFORCEMENT_SOFT
    https: bool = False
    monitoring: bool = False
    # Plan a VM's working set at most this share of its memory (learned from out-of-memory
    # failures' utilisation, retrieval.vm_utilisation_limit); 0: the headroom rule alone.
    vm_max_utilisation: float = 0.0
    # Needs memory taught that the request did not state (see _learned_needs).
    learned_needs: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    quotas: dict[str, int] = field(default_factory=dict)

    @property
    def req(self) -> common_pb2.Requirements:
        return self.understanding.requirements

    def trait(self, kind: int) -> common_pb2.Trait | None:
        return next((t for t in self.app.traits if t.kind == kind), None)

    def services_count(self) -> int:
        """Containers the deployment runs: the applications plus compose's backing services."""
        return len(self.analysis.applications) + len(self.analysis.backing_services)


def _where(trait: common_pb2.Trait | None) -> str:
    if trait is None or not trait.evidence:
        return ""
    e = trait.evidence[0]
    return f" ({e.file}:{e.line})" if e.file and e.line else f" ({e.file or e.rule})"


def build_context(
    analysis: common_pb2.RepositoryAnalysis,
    intent: common_pb2.DeploymentIntent,
    understanding: Understanding,
    constraints: planner_pb2.CloudConstraints,
    catalogue: Catalogue,
) -> Context:
    app = analysis.applications[0]
    ctx = Context(analysis, app, understanding, intent, constraints, catalogue)
    ctx.quotas = {k.lower().replace("_", "").replace("-", ""): v for k, v in constraints.quotas.items()}

    # Cloud: the CloudProvider's account is authoritative; an explicit request for another cloud is an error.
    asked = intent.cloud or understanding.cloud
    if constraints.cloud and asked and asked != constraints.cloud:
        ctx.rejections.append(
            f"the intent asks for {Cloud.Name(asked)} but the CloudProvider {intent.cloud_provider or ''} is {Cloud.Name(constraints.cloud)}".replace("  ", " "))
    ctx.cloud = constraints.cloud or asked or Cloud.CLOUD_AWS

    # Region: explicit field > prompt > CloudProvider default > catalogue default; must be allowed.
    explicit = intent.region or understanding.region or (resolve_location(understanding.location, ctx.cloud) if understanding.location else "")
    region = explicit or constraints.default_region or catalogue.cloud(ctx.cloud)["default_region"]
    allowed = list(constraints.allowed_regions)
    if allowed and region not in allowed:
        if explicit:
            ctx.rejections.append(f"region {region} is not allowed by the CloudProvider (allowed: {', '.join(allowed)})")
        else:
            ctx.warnings.append(f"default region {region} is not allowed; using {allowed[0]}")
            region = allowed[0]
    ctx.region = region
    if not catalogue.has_region(ctx.cloud, region):
        ctx.warnings.append(catalogue.region_prices(ctx.cloud, region)[1])

    # Load and memory.
    ctx.rps, ctx.rps_note = derived_rps(understanding.requirements)
    ctx.monthly_requests = understanding.monthly_requests or ctx.rps / 3 * 2_628_000
    ctx.profile_name, ctx.profile = profile_for(app)
    memory = ctx.profile.memory_mb[1]
    notes = [f"{ctx.profile_name} profile {ctx.profile.memory_mb[0]}-{ctx.profile.memory_mb[1]} MB"]
    if ctx.trait(TraitKind.TRAIT_KIND_ML_INFERENCE):
        memory += ML_MEMORY_MB
        notes.append(f"+{ML_MEMORY_MB} MB for ML libraries{_where(ctx.trait(TraitKind.TRAIT_KIND_ML_INFERENCE))}")
    # A function instance serves one request at a time: its memory is the process's, whatever the load.
    ctx.function_memory_mb = memory
    factor, tier = load_memory_factor(ctx.rps)
    if factor > 1:
        memory = int(memory * factor)
        notes.append(f"x{factor:g} for {tier} load ({ctx.rps:g} requests/s: more worker processes and connections per instance)")
    if understanding.requirements.memory_mb:
        memory = ctx.function_memory_mb = understanding.requirements.memory_mb
        notes = [f"{memory} MB asked for in the intent"]
    ctx.memory_mb, ctx.memory_note = memory, ", ".join(notes)

    # Budget: explicit field > prompt > CloudProvider team budget.
    ctx.budget = intent.budget.max_monthly_cost_usd or understanding.budget_usd or constraints.monthly_budget_usd
    ctx.alert_threshold = intent.budget.alert_threshold or constraints.alert_threshold or pricing.DEFAULT_ALERT_THRESHOLD
    ctx.enforcement = intent.budget.enforcement or (common_pb2.BUDGET_ENFORCEMENT_HARD if understanding.hard_budget else common_pb2.BUDGET_ENFORCEMENT_SOFT)

    for policy in intent.policies:
        if policy == "require-https":
            ctx.https = True
        elif policy == "enable-monitoring":
            ctx.monitoring = True
        else:
            ctx.warnings.append(f"unknown policy {policy!r} ignored (known: {', '.join(sorted(KNOWN_POLICIES))})")
    return ctx


# --- candidates ---------------------------------------------------------------------------------


@dataclass
class Candidate:
    strategy: int
    score: float = 0.5
    pros: list[str] = field(default_factory=list)
    cons: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    configuration: common_pb2.Configuration = field(default_factory=common_pb2.Configuration)
    cost: common_pb2.CostEstimate = field(default_factory=common_pb2.CostEstimate)
    sizing_notes: list[str] = field(default_factory=list)

    def adjust(self, delta: float, why: str) -> None:
        self.score += delta
        (self.pros if delta > 0 else self.cons).append(why)

    @property
    def confidence(self) -> float:
        return 0.0 if self.blockers else round(min(0.97, max(0.05, self.score)), 2)


def _smallest_with(ctx: Context, memory_mb: float, *, above_gb: float = 0.0, minimum: str = "") -> str:
    ladder = ctx.catalogue.ladder(ctx.cloud)
    start = ladder.index(minimum) if minimum in ladder else 0
    for name in ladder[start:]:
        gb = ctx.catalogue.memory_gb(ctx.cloud, name)
        if gb * 1024 >= memory_mb and gb > above_gb:
            return name
    return ladder[-1]


def _override_type(ctx: Context) -> str:
    wanted = ctx.req.instance_type
    if not wanted:
        return ""
    if ctx.catalogue.spec(ctx.cloud, wanted):
        return wanted
    elsewhere = ctx.catalogue.find_type(wanted)
    if elsewhere:
        ctx.warnings.append(f"instance type {wanted} is a {Cloud.Name(elsewhere[0])} type, not available on {Cloud.Name(ctx.cloud)}; ignored")
    else:
        ctx.warnings.append(f"instance type {wanted} is not in the pricing catalogue; ignored")
    return ""


def size_vm(ctx: Context, floor_gb: float = 0.0, preferred: str = "") -> tuple[common_pb2.VmConfig, list[str]]:
    notes = []
    gpu = ctx.trait(TraitKind.TRAIT_KIND_GPU)
    # Headroom: the OS and the cloud's agents (SSM, logs, metrics) take ~0.5 GB; +50% for the
    # page cache, peaks and a deploy that starts the new process before stopping the old one.
    need = _vm_working_set_mb(ctx) * VM_HEADROOM + VM_OS_MB
    learned_limit = bool(ctx.vm_max_utilisation) and _vm_minimum_mb(ctx) > need
    need = max(need, _vm_minimum_mb(ctx))
    override = _override_type(ctx)
    if override:
        instance = override
        notes.append(f"{instance} as asked")
    elif gpu:
        instance = ctx.catalogue.cloud(ctx.cloud)["gpu_types"][0]
        notes.append(f"{instance}: GPU required{_where(gpu)}")
    else:
        instance = preferred or _smallest_with(ctx, need, above_gb=floor_gb)
        if learned_limit:
            notes.append(f"{instance} fits {need:.0f} MB ({ctx.memory_note}, at most {ctx.vm_max_utilisation:.0%} of the "
                         "instance: similar instances ran out of memory fuller than that)")
        else:
            notes.append(f"{instance} fits {need:.0f} MB ({ctx.memory_note}, +50% headroom, "
                         f"+{VM_OS_MB} MB OS and agents)")
    spec = ctx.catalogue.spec(ctx.cloud, instance) or {"vcpu": 1}
    per_instance = spec["vcpu"] * ctx.profile.rps_per_vcpu * TARGET_UTILISATION
    count = max(1, math.ceil(ctx.rps / per_instance))
    ladder = ctx.catalogue.ladder(ctx.cloud)
    if count > 4 and not override and not gpu and instance in ladder:
        instance, count, per_instance = _cheapest_fleet(ctx, ladder, instance, count)
    notes.append(f"{count} instance(s) for {ctx.rps_note} at {per_instance:.0f} requests/s each")
    if ctx.req.high_availability and count < 2:
        count = 2
        notes.append("2 instances across zones for high availability")
    if ctx.req.node_count:
        count = ctx.req.node_count
        notes.append(f"{count} instance(s) as asked")
        if ctx.req.high_availability and count < 2:
            ctx.warnings.append("high availability asked with a single instance: no redundancy")
    minimum, maximum = count, count
    if ctx.req.autoscaling and ctx.req.node_count:
        maximum = max(count * 3, count + 2)
        notes.append(f"autoscaling group {minimum}-{maximum}")
    elif ctx.req.autoscaling:
        peak = count
        count = minimum = instances_kept(ctx, peak)
        maximum = surge_fleet(peak, minimum)
        notes.append(f"autoscaling group {minimum}-{maximum}: {minimum} for the ordinary load, {peak} at the peak, "
                     f"room for surges (priced at {minimum})")
    volume = DEFAULT_VOLUME_GB
    if ctx.trait(TraitKind.TRAIT_KIND_PERSISTENT_STATE):
        volume = 50
    if ctx.trait(TraitKind.TRAIT_KIND_ML_INFERENCE):
        volume = 60
    vm = common_pb2.VmConfig(instance_type=instance, instance_count=count, min_count=minimum, max_count=maximum,
                             volume_size_gb=volume, zones=ctx.catalogue.zones(ctx.cloud, ctx.region, max(count, 2 if ctx.req.high_availability else 1)))
    return vm, notes


# An autoscaling fleet is sized for the day's ordinary load and scales out for the peak: web
# traffic's daily peak is typically 2-4x its average (the diurnal curve), so the fleet keeps a
# third of what the peak needs (at least what availability needs) and may grow to twice the peak's
# fleet for surges. Sizing the minimum for the peak, as before, paid for the peak all month.
PEAK_TO_ORDINARY_LOAD = 3
SURGE_FACTOR = 2


def base_fleet(peak: int, floor: int) -> int:
    """Instances/pods an autoscaling fleet keeps outside peaks when `peak` serve the peak."""
    return max(floor, math.ceil(peak / PEAK_TO_ORDINARY_LOAD))


def instances_kept(ctx: Context, peak: int) -> int:
    """Instances a VM fleet that serves `peak` with that many keeps running, and is billed for: an
    autoscaling group its `base_fleet`, a fixed fleet all of them; two at least with high
    availability. (A count the request fixes replaces either.)"""
    floor = 2 if ctx.req.high_availability else 1
    return base_fleet(peak, floor) if ctx.req.autoscaling and not ctx.req.node_count else max(peak, floor)


def surge_fleet(peak: int, minimum: int) -> int:
    """An autoscaling fleet's maximum: twice what the peak needs, at least two above its minimum."""
    return max(peak * SURGE_FACTOR, minimum + 2)


def _vm_minimum_mb(ctx: Context) -> float:
    """The least VM memory that holds the working set (a worker's included): the process + 256 MB,
    or as much as keeps it under a learned utilisation limit."""
    working = _vm_working_set_mb(ctx)
    return max(ctx.memory_mb + 256, working / ctx.vm_max_utilisation if ctx.vm_max_utilisation else 0.0)


def _vm_working_set_mb(ctx: Context) -> float:
    """The working set of one VM instance: the web process, and a worker process beside it
    (`expected_working_set_mb`'s rule, on the context's memory, which may carry a learned scale)."""
    return ctx.memory_mb * (WORKER_MEMORY_FACTOR if ctx.trait(TraitKind.TRAIT_KIND_BACKGROUND_WORKER) else 1.0)


def _cheapest_fleet(ctx: Context, ladder: list[str], smallest: str, count: int) -> tuple[str, int, float]:
    """(type, count, requests/s per instance) of the cheapest fleet serving the peak, among the
    types from `smallest` (the one that holds the working set) up. Larger types only when the
    fleet costs no more: fewer instances are simpler to run, but general-purpose ladders add memory
    faster than vCPUs (t3.medium, t3.large: 2 vCPUs each, the second at twice the price), so
    stepping up for CPU alone would buy memory nobody uses. Costed as the plan is priced: a fixed
    fleet at its peak count, an autoscaling group at the minimum it keeps (`instances_kept`), where
    smaller types keep a smaller share of the peak running (8 x t3.large keep 3, 2 x t3.2xlarge
    keep 2, four times the memory)."""
    def fleet(name: str) -> tuple[float, int, float, str]:
        per = (ctx.catalogue.spec(ctx.cloud, name) or {"vcpu": 1})["vcpu"] * ctx.profile.rps_per_vcpu * TARGET_UTILISATION
        n = max(1, math.ceil(ctx.rps / per))
        return instances_kept(ctx, n) * pricing.instance_price(ctx.catalogue, ctx.cloud, ctx.region, name), n, per, name
    options = [fleet(name) for name in ladder[ladder.index(smallest):]]
    # At the same cost a fixed fleet takes fewer, larger instances (fewer to run); an autoscaling
    # group the smaller type: it scales in smaller steps, so it idles less after each step out.
    scaling = ctx.req.autoscaling and not ctx.req.node_count
    _cost, n, per, name = min(options, key=lambda o: (round(o[0], 2), -o[1] if scaling else o[1]))
    return name, n, per


def size_kubernetes(ctx: Context, floor_gb: float = 0.0, preferred: str = "", pod_floor_mb: int = 0) -> tuple[common_pb2.KubernetesConfig, list[str]]:
    notes = []
    pod_memory = int(math.ceil(max(ctx.memory_mb * 1.25, pod_floor_mb) / 64) * 64)
    pod_cpu = ctx.profile.pod_cpu_millicores
    per_pod = ctx.profile.rps_per_vcpu * pod_cpu / 1000 * TARGET_UTILISATION
    replicas = max(1, math.ceil(ctx.rps / per_pod))
    if ctx.req.high_availability or ctx.req.autoscaling:
        replicas = max(replicas, 2)
    notes.append(f"{replicas} pod(s) of {pod_cpu}m CPU / {pod_memory} MB for {ctx.rps_note}")
    other_pods = len(ctx.analysis.applications) - 1 + (1 if ctx.trait(TraitKind.TRAIT_KIND_BACKGROUND_WORKER) else 0)
    total_memory = replicas * pod_memory + other_pods * pod_memory
    total_cpu = replicas * pod_cpu + other_pods * pod_cpu
    override = _override_type(ctx)
    gpu = ctx.trait(TraitKind.TRAIT_KIND_GPU)
    ladder = ctx.catalogue.ladder(ctx.cloud)
    if override:
        node = override
    elif gpu:
        node = ctx.catalogue.cloud(ctx.cloud)["gpu_types"][0]
    else:
        # Nodes under 4 GB are mostly eaten by the system pods; start at the 4 GB type.
        node = preferred or _smallest_with(ctx, max(4096, pod_memory * 1.5), above_gb=floor_gb, minimum=ladder[K8S_MIN_NODE_INDEX])
    spec = ctx.catalogue.spec(ctx.cloud, node) or {"vcpu": 2, "memory_gb": 4}
    allocatable_mb = spec["memory_gb"] * 1024 * 0.75 - 256
    allocatable_cpu = spec["vcpu"] * 1000 * 0.85 - 100
    nodes = max(math.ceil(total_memory / allocatable_mb), math.ceil(total_cpu / allocatable_cpu), 2)
    notes.append(f"{nodes} x {node} for {total_memory} MB / {total_cpu}m of pods (75% of node memory allocatable)")
    if ctx.req.node_count:
        nodes = ctx.req.node_count
        notes.append(f"{nodes} node(s) as asked")
    minimum, maximum = nodes, nodes + 1
    if ctx.req.autoscaling:
        # The plan's replica count is fixed (it has no pod autoscaler's range), so the nodes those
        # pods need stay up: the cluster is priced at the peak's nodes and may grow for surges.
        minimum, maximum = max(2 if ctx.req.high_availability else 1, math.ceil(nodes / 2)), max(nodes * 2, nodes + 2)
        notes.append(f"cluster autoscaler {minimum}-{maximum} nodes")
    config = common_pb2.KubernetesConfig(node_type=node, min_nodes=min(minimum, nodes), max_nodes=maximum, desired_nodes=nodes,
                                         node_volume_size_gb=DEFAULT_NODE_VOLUME_GB, replicas=replicas,
                                         pod_cpu_millicores=pod_cpu, pod_memory_mb=pod_memory)
    return config, notes


def size_serverless(ctx: Context, floor_mb: int = 0) -> tuple[common_pb2.ServerlessConfig, list[str]]:
    if ctx.trait(TraitKind.TRAIT_KIND_STATIC_SITE):
        return common_pb2.ServerlessConfig(memory_mb=128, timeout_seconds=3), ["static files from object storage behind a CDN"]
    memory = pricing.round_function_memory(max(ctx.function_memory_mb, MIN_FUNCTION_MEMORY_MB, floor_mb + 1))
    notes = [f"{memory} MB per function ({ctx.profile_name} profile {ctx.function_memory_mb} MB, at least "
             f"{MIN_FUNCTION_MEMORY_MB} MB for the CPU share a web framework needs)"]
    timeout = DEFAULT_FUNCTION_TIMEOUT
    long_jobs = ctx.trait(TraitKind.TRAIT_KIND_LONG_RUNNING_JOBS)
    if long_jobs and long_jobs.value.rstrip("s").isdigit():
        timeout = min(LAMBDA_MAX_SECONDS, int(long_jobs.value.rstrip("s")))
    provisioned = 0
    if ctx.req.latency_p99_ms and (ctx.req.latency_p99_ms <= 300 or ctx.profile.cold_start == "slow"):
        provisioned = 2 if ctx.req.high_availability else 1
        notes.append(f"{provisioned} pre-warmed instance(s): a {ctx.req.latency_p99_ms} ms p99 target leaves no room for cold starts")
    return common_pb2.ServerlessConfig(memory_mb=memory, timeout_seconds=timeout, provisioned_concurrency=provisioned), notes


def managed_services(ctx: Context) -> list[common_pb2.ManagedService]:
    out = []
    heavy = ctx.rps >= 200
    for service in ctx.analysis.backing_services:
        key = pricing.MANAGED_KEYS.get(service.kind)
        if key is None:
            if service.kind not in ("zookeeper", "aws-emulator"):
                ctx.warnings.append(f"{service.kind} ({service.name or service.evidence.file}) has no managed offering in the catalogue; "
                                    "run it in the cluster or provision it separately (not priced)")
            continue
        if any(m.kind == service.kind for m in out):
            continue
        classes = ctx.catalogue.cloud(ctx.cloud)["database_classes" if key.startswith("database") else "cache_classes"]
        ladder = sorted(classes, key=lambda name: classes[name])
        # The class follows the load (connections, queries per second). High availability is a
        # standby of the same class in another zone (`high_availability`, priced x2), not a
        # bigger class: bumping it too paid for availability twice. A learned need for two
        # instances is a lesson about the app's capacity (one instance saturated at peak), not a
        # request for a database that survives losing a zone: it buys no standby.
        standby = ctx.req.high_availability and "high_availability" not in ctx.learned_needs
        index = 2 if heavy else 1 if ctx.rps >= 50 else 0
        out.append(common_pb2.ManagedService(kind=service.kind, instance_class=ladder[min(index, len(ladder) - 1)],
                                             storage_gb=DEFAULT_MANAGED_STORAGE_GB if key.startswith("database") else 0,
                                             high_availability=standby))
    return out


def _configure(ctx: Context, candidate: Candidate) -> None:
    config = common_pb2.Configuration(cloud=ctx.cloud, region=ctx.region, https=ctx.https, monitoring=ctx.monitoring,
                                      app_port=ctx.app.ports[0].number if ctx.app.ports else 0, start_command=ctx.app.start_command)
    config.tags.update({"managed-by": "scia", "app": ctx.app.name or "app"})
    config.tags.update(dict(ctx.constraints.tags))
    config.managed_services.extend(managed_services(ctx))
    candidate.configuration = config


def price(ctx: Context, candidate: Candidate) -> None:
    config = candidate.configuration
    cat = ctx.catalogue
    if candidate.strategy == VM:
        vm = config.vm
        candidate.cost = pricing.vm_cost(cat, ctx.cloud, ctx.region, vm, load_balancer=vm.max_count > 1, monitoring=ctx.monitoring)
    elif candidate.strategy == K8S:
        candidate.cost = pricing.kubernetes_cost(cat, ctx.cloud, ctx.region, config.kubernetes, monitoring=ctx.monitoring)
    elif ctx.trait(TraitKind.TRAIT_KIND_STATIC_SITE):
        candidate.cost = pricing.static_site_cost(cat, ctx.cloud, ctx.region, monthly_requests=ctx.monthly_requests)
    else:
        candidate.cost = pricing.serverless_cost(cat, ctx.cloud, ctx.region, config.serverless,
                                                 monthly_requests=ctx.monthly_requests, duration_ms=ctx.profile.duration_ms)
    for service in config.managed_services:
        pricing.add_items(candidate.cost, pricing.managed_service_items(cat, ctx.cloud, ctx.region, service))


def build_candidate(ctx: Context, strategy: int, memory: retrieval.MemoryEvidence | None = None,
                    score_ctx: Context | None = None) -> Candidate:
    """A sized, scored and priced candidate. `score_ctx`: the context the strategy rules judge by
    when it differs from the one the candidate is sized by (needs learned from past deployments
    size every candidate but earn no strategy points, see `make_plan`)."""
    candidate = Candidate(strategy)
    _configure(ctx, candidate)
    floor_gb = memory.memory_floor_gb.get(strategy, 0.0) if memory else 0.0
    if strategy == VM:
        vm, candidate.sizing_notes = size_vm(ctx, floor_gb)
        candidate.configuration.vm.CopyFrom(vm)
    elif strategy == K8S:
        k8s, candidate.sizing_notes = size_kubernetes(ctx, floor_gb)
        candidate.configuration.kubernetes.CopyFrom(k8s)
    else:
        fn, candidate.sizing_notes = size_serverless(ctx, int(floor_gb * 1024))
        candidate.configuration.serverless.CopyFrom(fn)
    if memory and strategy in memory.memory_ceiling_gb:
        _size_down_under_ceiling(ctx, candidate, memory.memory_ceiling_gb[strategy], floor_gb)
    _score(score_ctx or ctx, candidate)
    price(ctx, candidate)
    return candidate


def _size_down_under_ceiling(ctx: Context, candidate: Candidate, ceiling_gb: float, floor_gb: float) -> None:
    """One size down when similar deployments were voted over-provisioned at this size or a smaller
    one, if the smaller size still holds the process (+ OS, or the pod on a node that keeps the
    knowledge base's 4 GB node minimum) and stays above any memory floor. Never for an instance
    type the request names or a GPU type."""
    if ctx.req.instance_type or ctx.trait(TraitKind.TRAIT_KIND_GPU) or candidate.strategy not in (VM, K8S):
        return
    config = candidate.configuration
    current = config.vm.instance_type if candidate.strategy == VM else config.kubernetes.node_type
    ladder = ctx.catalogue.ladder(ctx.cloud)
    if current not in ladder or ctx.catalogue.memory_gb(ctx.cloud, current) < ceiling_gb:
        return
    index = ladder.index(current)
    lowest = K8S_MIN_NODE_INDEX if candidate.strategy == K8S else 0
    if index - 1 < lowest:
        return
    lower = ladder[index - 1]
    lower_mb = ctx.catalogue.memory_gb(ctx.cloud, lower) * 1024
    if lower_mb <= floor_gb * 1024:
        return
    if candidate.strategy == VM:
        if lower_mb < _vm_minimum_mb(ctx):
            return
        vm, notes = size_vm(ctx, floor_gb, preferred=lower)
        config.vm.CopyFrom(vm)
    else:
        if lower_mb * 0.75 - 256 < config.kubernetes.pod_memory_mb:
            return
        k8s, notes = size_kubernetes(ctx, floor_gb, preferred=lower)
        config.kubernetes.CopyFrom(k8s)
    candidate.sizing_notes = notes + [f"{lower} rather than {current}: similar deployments were voted over-provisioned at "
                                      f"{ceiling_gb:g} GB or less"]


def _score(ctx: Context, c: Candidate) -> None:
    """The strategy rules and anti-patterns, each adjusting the score with its reason."""
    app, req = ctx.app, ctx.req
    deps = len([d for d in app.dependencies if not d.dev])
    services = ctx.services_count()
    websockets = ctx.trait(TraitKind.TRAIT_KIND_WEBSOCKETS)
    worker = ctx.trait(TraitKind.TRAIT_KIND_BACKGROUND_WORKER)
    state = ctx.trait(TraitKind.TRAIT_KIND_PERSISTENT_STATE)
    gpu = ctx.trait(TraitKind.TRAIT_KIND_GPU)
    uploads = ctx.trait(TraitKind.TRAIT_KIND_FILE_UPLOADS)
    long_jobs = ctx.trait(TraitKind.TRAIT_KIND_LONG_RUNNING_JOBS)
    static = ctx.trait(TraitKind.TRAIT_KIND_STATIC_SITE)
    app_services = len(ctx.analysis.applications)

    if c.strategy == VM:
        c.score = 0.5
        if not app.has_dockerfile:
            c.adjust(0.1, "no Dockerfile: runs directly on a VM")
        if app_services == 1:
            c.adjust(0.1, "a single application")
        if deps < 15:
            c.adjust(0.05, f"{deps} runtime dependencies (< 15)")
        if state:
            c.adjust(0.1, f"keeps state on local disk{_where(state)}")
        if ctx.rps < 50 and not req.autoscaling:
            c.adjust(0.1, f"steady light load ({ctx.rps:g} requests/s)")
        if websockets:
            c.adjust(0.05, f"long-lived websocket connections{_where(websockets)} suit always-on instances")
        if gpu:
            c.adjust(0.1, f"GPU instance{_where(gpu)}")
        if services > VM_MAX_SERVICES:
            c.adjust(-0.4, f"anti-pattern: {services} services (> {VM_MAX_SERVICES}) on VMs")
        if req.autoscaling:
            c.adjust(-0.05, "autoscaling on VMs is coarse (whole instances, minutes)")
        if static:
            c.adjust(-0.3, "a static site does not need a server")
    elif c.strategy == K8S:
        c.score = 0.4
        if app.has_dockerfile or ctx.analysis.has_compose:
            c.adjust(0.15, "already containerised (Dockerfile/compose)")
        if req.high_availability:
            c.adjust(0.1, "high availability: pods rescheduled across nodes and zones")
        if req.autoscaling:
            c.adjust(0.15, "autoscaling of pods and nodes")
        if app_services >= 2 or services >= 4:
            c.adjust(0.2, f"{services} services to run together")
        if deps > 20:
            c.adjust(0.05, f"{deps} runtime dependencies (> 20)")
        if ctx.rps >= 200:
            c.adjust(0.1, f"high load ({ctx.rps:g} requests/s)")
        if app_services == 1 and services <= 2:
            # Autoscaling one service does not need a cluster: an autoscaling group of VMs does it.
            c.adjust(-0.15, "a cluster and its control plane for a single small service is overkill"
                     + (" (an autoscaling group of VMs scales one service too)" if req.autoscaling else ""))
        if static:
            c.adjust(-0.3, "a static site does not need a cluster")
        if ctx.quotas.get("maxclusters", ctx.quotas.get("maxeksclusters", 1)) == 0:
            c.blockers.append("the CloudProvider's quota allows no cluster (maxClusters=0)")
    else:
        c.score = 0.4
        if static:
            c.adjust(0.45, f"static site{_where(static)}: object storage + CDN")
        if not (state or websockets or worker):
            c.adjust(0.1, "stateless request/response")
        if deps < 5:
            c.adjust(0.1, f"{deps} runtime dependencies (< 5)")
        if ctx.rps < 20:
            c.adjust(0.15, f"light or intermittent traffic ({ctx.rps:g} requests/s): pay per request")
        elif ctx.rps > 500:
            c.adjust(-0.15, f"sustained {ctx.rps:g} requests/s costs more per request than instances")
        if req.autoscaling:
            c.adjust(0.1, "scales per request without configuration")
        if ctx.profile.cold_start == "slow" and not static:
            c.adjust(-0.15, f"{ctx.profile_name} starts slowly (cold starts)")
        if req.latency_p99_ms and req.latency_p99_ms <= 100 and not static:
            c.adjust(-0.15, f"a {req.latency_p99_ms} ms p99 target is hard to meet with cold starts")
        if app.has_dockerfile and not static:
            c.adjust(-0.05, "packaged as a long-running container")
        if websockets:
            c.adjust(-0.5, f"anti-pattern: websockets{_where(websockets)} need long-lived connections")
        if worker:
            c.adjust(-0.2, f"anti-pattern: a background worker{_where(worker)} needs an always-on process")
        if state:
            c.adjust(-0.3, f"anti-pattern: local persistent state{_where(state)} is lost between invocations")
        if uploads:
            limit = uploads.value
            size_mb = float(limit[:-2]) if limit.endswith("MB") else None
            if size_mb is None or size_mb > SERVERLESS_MAX_PAYLOAD_MB:
                described = f"up to {limit}" if limit else "with no declared size limit"
                c.adjust(-0.3, f"anti-pattern: file uploads {described}{_where(uploads)}; function payloads are capped at {SERVERLESS_MAX_PAYLOAD_MB} MB")
        if gpu:
            c.blockers.append(f"functions have no GPU{_where(gpu)}")
        if long_jobs and long_jobs.value.rstrip("s").isdigit() and int(long_jobs.value.rstrip("s")) > LAMBDA_MAX_SECONDS:
            c.blockers.append(f"jobs run {long_jobs.value}{_where(long_jobs)}, over the {LAMBDA_MAX_SECONDS // 60}-minute function limit")
        elif long_jobs and not long_jobs.value.rstrip("s").isdigit():
            # Like uploads with no declared limit: nothing says the jobs end before the function timeout.
            c.adjust(-0.3, f"anti-pattern: long-running jobs{_where(long_jobs)} with no declared duration; functions stop at "
                           f"{LAMBDA_MAX_SECONDS // 60} minutes")
        if ctx.function_memory_mb > 10240:  # one request per instance: the process's memory, not the loaded VM's
            c.blockers.append(f"{ctx.function_memory_mb} MB is over the 10240 MB function maximum")
    if c.strategy == VM and "maxinstances" in ctx.quotas or c.strategy == VM and "maxec2instances" in ctx.quotas:
        limit = ctx.quotas.get("maxinstances", ctx.quotas.get("maxec2instances", 0))
        if c.configuration.vm.max_count > limit:
            c.blockers.append(f"{c.configuration.vm.max_count} instances exceed the CloudProvider quota of {limit}")
    if c.strategy == K8S and "maxnodes" in ctx.quotas and c.configuration.kubernetes.max_nodes > ctx.quotas["maxnodes"]:
        c.blockers.append(f"{c.configuration.kubernetes.max_nodes} nodes exceed the CloudProvider quota of {ctx.quotas['maxnodes']}")
    if c.strategy in ctx.understanding.excluded_strategies:
        c.blockers.append("excluded in the request")


# --- the decision -------------------------------------------------------------------------------


def make_plan(
    analysis: common_pb2.RepositoryAnalysis,
    intent: common_pb2.DeploymentIntent,
    understanding: Understanding,
    constraints: planner_pb2.CloudConstraints,
    catalogue: Catalogue,
    retrieved: list[rag_pb2.RetrievedDeployment] | None = None,
) -> common_pb2.Plan:
    """The plan for analysis.applications[0]. `retrieved` None means retrieval was not used."""
    stated = understanding  # what the request said: the plan's `requirements`
    understanding, implied = _implied_needs(understanding)
    ctx = build_context(analysis, intent, understanding, constraints, catalogue)
    if implied:
        ctx.warnings.append(implied)
    memory = (retrieval.assess(retrieved or [], ctx.app, catalogue, rps=ctx.rps, model=WORKING_SET_MODEL)
              if retrieved else None)

    # Knowledge-base candidates first, without memory, to know what memory changed.
    baseline = {s: build_candidate(ctx, s) for s in (VM, K8S, FN)}
    _penalise_over_budget(ctx, baseline)
    base_ctx = ctx
    asked = intent.strategy or understanding.strategy
    learned = _learned_needs(understanding, memory) if memory else []
    if memory:
        ctx, candidates = _with_memory(analysis, intent, understanding, constraints, catalogue, base_ctx, memory, learned)
        second_hand = [need for need in learned if need not in memory.first_hand_needs]
        cost = _choose(ctx, candidates, asked, quiet=True).cost.monthly_total_usd
        if ctx.budget and second_hand and cost > ctx.budget:
            # A stated budget outranks a lesson only passed on by successes that were planned
            # with it (they show it did no harm, not that it was needed): it may not put the
            # plan over the budget, or further over. Failures that taught it first hand still
            # outrank the budget.
            kept = [need for need in learned if need not in second_hand]
            ctx_without, without = _with_memory(analysis, intent, understanding, constraints, catalogue, base_ctx, memory, kept)
            cheaper = _choose(ctx_without, without, asked, quiet=True).cost.monthly_total_usd
            if cheaper < cost:
                ctx_without.warnings.append(
                    "not planned for " + " and ".join(NEED_WORDS[need] for need in second_hand)
                    + f", which similar deployments were planned with and ran well: it would cost ${cost:,.2f}/month instead of"
                    f" ${cheaper:,.2f}, over the ${ctx.budget:,.0f} budget, and no similar deployment failed without it")
                ctx, candidates, learned = ctx_without, without, kept
    else:
        candidates = baseline

    chosen = _choose(ctx, candidates, asked)
    kb_choice = _choose(ctx, baseline, asked, quiet=True)
    plan = common_pb2.Plan(strategy=chosen.strategy, requirements=stated.requirements)
    citations: list[common_pb2.Citation] = []
    memory_sentences: list[str] = []
    if memory:
        for need in learned:
            records = memory.needs[need]
            words = NEED_WORDS[need]
            memory_sentences.append(f"{retrieval.describe(records)} -> planned for {words}")
            citations += retrieval.cite(records, f"requirement learned: {words}")
        if chosen.strategy != kb_choice.strategy:
            influence = f"strategy {STRATEGY_NAMES[kb_choice.strategy]} -> {STRATEGY_NAMES[chosen.strategy]}"
            memory_sentences.append(f"past deployments changed the strategy ({influence})")
            citations += retrieval.cite(memory.strategy_records.get(kb_choice.strategy, []) + memory.strategy_records.get(chosen.strategy, []), influence)
        citations += _size_citations(ctx, baseline[chosen.strategy], chosen, memory, memory_sentences)
        if not citations:
            for record, note in memory.reinforcing(chosen.strategy):
                citations += retrieval.cite([(record, note)], f"supports {STRATEGY_NAMES[chosen.strategy]} (no change)")

    plan.confidence = chosen.confidence
    plan.configuration.CopyFrom(chosen.configuration)
    plan.cost.CopyFrom(chosen.cost)
    plan.citations.extend(citations)
    for strategy, alternative in candidates.items():
        if strategy != chosen.strategy:
            plan.alternatives.append(common_pb2.Alternative(strategy=strategy, reason=_alternative_reason(alternative),
                                                            confidence=alternative.confidence, cost=alternative.cost))
    plan.alternatives.sort(key=lambda a: -a.confidence)

    verdict = pricing.budget_verdict(plan.cost.monthly_total_usd, ctx.budget, ctx.alert_threshold, ctx.enforcement)
    plan.budget.CopyFrom(verdict)
    if verdict.status == common_pb2.BudgetVerdict.STATUS_OVER:
        if verdict.enforcement == common_pb2.BUDGET_ENFORCEMENT_HARD:
            ctx.rejections.append(verdict.message)
        else:
            ctx.warnings.append(verdict.message)
    elif verdict.status == common_pb2.BudgetVerdict.STATUS_ALERT:
        ctx.warnings.append(verdict.message)
    if chosen.blockers:
        ctx.rejections.append(f"no strategy is possible: {STRATEGY_NAMES[chosen.strategy]}: {'; '.join(chosen.blockers)}")
    plan.warnings.extend(dict.fromkeys(base_ctx.warnings + ctx.warnings if ctx is not base_ctx else ctx.warnings))
    if ctx.rejections:
        plan.rejected = True
        plan.rejection_reason = "; ".join(ctx.rejections)
    plan.reason = _reason(ctx, chosen, memory_sentences)
    plan.provenance.engine = "knowledge-base+retrieval" if retrieved else "knowledge-base"
    plan.provenance.retrieval_used = retrieved is not None
    return plan


def _penalise_over_budget(ctx: Context, candidates: dict[int, Candidate]) -> None:
    """A candidate over budget loses points (another may fit)."""
    for c in candidates.values():
        if ctx.budget and c.cost.monthly_total_usd > ctx.budget:
            # More over, more penalty: when nothing fits, the least over the budget is preferred.
            # 0.2, +0.1 per doubling over it, at most 0.6.
            penalty = min(0.6, 0.2 + 0.1 * math.log2(c.cost.monthly_total_usd / ctx.budget))
            c.adjust(-penalty, _over_budget(ctx, c))


def _with_memory(analysis: common_pb2.RepositoryAnalysis, intent: common_pb2.DeploymentIntent, understanding: Understanding,
                 constraints: planner_pb2.CloudConstraints, catalogue: Catalogue, base_ctx: Context,
                 memory: retrieval.MemoryEvidence, learned: list[str]) -> tuple[Context, dict[int, Candidate]]:
    """The context and candidates once memory has spoken: planned for the `learned` needs, sized
    for the working set and utilisation similar deployments showed, scored with their evidence."""
    ctx = base_ctx
    if learned:
        # Past deployments taught requirements the intent did not state: plan as if it had.
        ctx = dataclasses.replace(build_context(analysis, intent, _with_needs(understanding, learned), constraints, catalogue),
                                  learned_needs=tuple(learned))
    if memory.memory_scale > 1 and not understanding.requirements.memory_mb:
        # Similar deployments' observed memory says apps like this one use more than the profile:
        # size every candidate for that working set (a copy: the baseline keeps the profile's).
        scale = memory.memory_scale
        ctx = dataclasses.replace(
            ctx, memory_mb=int(ctx.memory_mb * scale), function_memory_mb=int(ctx.function_memory_mb * scale),
            memory_note=f"{ctx.memory_note}, x{scale:.2f} as similar deployments' observed memory shows")
    if memory.vm_max_utilisation:
        ctx = dataclasses.replace(ctx, vm_max_utilisation=memory.vm_max_utilisation)
    # Its own list of warnings: the plan's are the knowledge base's and this variant's, and what is
    # said while a variant is built that make_plan then sets aside must not reach the plan.
    ctx = dataclasses.replace(ctx, warnings=list(ctx.warnings))
    # Learned needs are lessons about capacity (instances, scaling), which every strategy can
    # provide: each candidate is sized for them, but the strategy rules score the request as
    # stated. Otherwise a learned need would earn a cluster the points an asked-for one earns
    # ("high availability: pods rescheduled", "autoscaling of pods and nodes") and move cheap
    # plans onto a control plane, often over the budget, when two VMs or a VM group meet it.
    candidates = {s: build_candidate(ctx, s, memory, score_ctx=base_ctx) for s in (VM, K8S, FN)}
    _penalise_over_budget(ctx, candidates)
    for strategy, (delta, why) in memory.strategy_delta.items():
        if abs(delta) >= 0.01:
            candidates[strategy].adjust(delta, why)
    return ctx, candidates


NEED_WORDS = {"high_availability": "two or more instances (high availability)", "autoscaling": "autoscaling"}


# Past this peak (the "heavy" load tier) a fixed fleet sized for the peak is idle most of the day
# and still has no margin for a surge: plan autoscaling unless the request fixes the size.
HEAVY_LOAD_RPS = LOAD_MEMORY_FACTORS[1][0]


def _implied_needs(understanding: Understanding) -> tuple[Understanding, str]:
    """Requirements the knowledge base adds to what the request says, with the sentence saying so."""
    req = understanding.requirements
    rps, _note = derived_rps(req)
    if rps > HEAVY_LOAD_RPS and not req.autoscaling and not req.node_count and not req.instance_type:
        return _with_needs(understanding, ["autoscaling"]), (
            f"autoscaling planned although not asked for: {rps:g} requests/s at peak is a heavy load (> {HEAVY_LOAD_RPS:g})")
    return understanding, ""


def _learned_needs(understanding: Understanding, memory: retrieval.MemoryEvidence) -> list[str]:
    """Needs memory taught that the intent does not already state (an explicit node count wins)."""
    req = understanding.requirements
    return [need for need in retrieval.LEARNED_NEEDS
            if need in memory.needs and not getattr(req, need) and not (need == "high_availability" and req.node_count)]


def _with_needs(understanding: Understanding, needs: list[str]) -> Understanding:
    requirements = common_pb2.Requirements()
    requirements.CopyFrom(understanding.requirements)
    for need in needs:
        setattr(requirements, need, True)
    return dataclasses.replace(understanding, requirements=requirements,
                               excluded_strategies=set(understanding.excluded_strategies))


def _choose(ctx: Context, candidates: dict[int, Candidate], asked: int, quiet: bool = False) -> Candidate:
    ranked = sorted(candidates.values(), key=lambda c: (bool(c.blockers), -c.score, c.strategy))
    if asked in candidates:
        wanted = candidates[asked]
        if not wanted.blockers:
            risks = [con for con in wanted.cons if con.startswith("anti-pattern")]
            if risks and not quiet:
                ctx.warnings.append(f"{STRATEGY_NAMES[asked]} was asked for despite: {'; '.join(risks)}")
            if not quiet:  # a quiet choice (the baseline's, maybe the same candidate) only compares
                wanted.pros.insert(0, "asked for explicitly")
            return wanted
        if not quiet:
            ctx.warnings.append(f"{STRATEGY_NAMES[asked]} was asked for but is not possible ({'; '.join(wanted.blockers)}); "
                                f"chose {STRATEGY_NAMES[ranked[0].strategy]} instead")
    return ranked[0]


def _size_label(strategy: int, config: common_pb2.Configuration) -> str:
    if strategy == VM:
        return config.vm.instance_type
    if strategy == K8S:
        return config.kubernetes.node_type
    return f"{config.serverless.memory_mb} MB"


def _size_citations(ctx: Context, before: Candidate, after: Candidate, memory: retrieval.MemoryEvidence, sentences: list[str]) -> list[common_pb2.Citation]:
    """Cite the records that moved the chosen strategy's size, and pull toward well-rated successes."""
    if before.strategy != after.strategy:
        return []
    strategy = after.strategy
    citations = []
    old, new = _size_label(strategy, before.configuration), _size_label(strategy, after.configuration)
    if old != new:
        influence = f"{old} -> {new}"
        smaller = _memory_of(ctx, strategy, after.configuration) < _memory_of(ctx, strategy, before.configuration)
        if smaller and memory.ceiling_records.get(strategy):
            records = memory.ceiling_records[strategy]
            influence += " (voted over-provisioned)"
            sentences.append(f"{retrieval.describe(records)} -> {new} instead of {old} (over-provisioned)")
        else:
            records = (memory.floor_records.get(strategy, [])
                       + (memory.scale_records if memory.memory_scale > 1 else [])
                       + (memory.utilisation_records if strategy == VM and ctx.vm_max_utilisation else []))
            sentences.append(f"{retrieval.describe(records)} -> {new} instead of {old}")
        citations += retrieval.cite(records, influence)
        return citations
    # No failure moved the size: a well-rated success one size up may pull toward it. Only up: a
    # success one size down shows that its app fit there, not that this one will once the
    # headroom rule's margin is gone (the world's teams, like real ones, call one size up ordinary
    # caution; a size too small is an out-of-memory kill). Evidence for smaller is an
    # over-provisioned vote, a memory ceiling above. Measured: on six seeds, 9 of the 11 plans a
    # pull had moved down ran out of memory.
    pull = memory.pull.get(strategy)
    if pull and strategy in (VM, K8S) and not ctx.req.instance_type:
        target, records = pull
        if _ladder_distance(ctx, old, target) == 1:
            pulled = dataclasses.replace(after, configuration=common_pb2.Configuration())  # priced below
            pulled.configuration.CopyFrom(after.configuration)
            if strategy == VM:
                vm, notes = size_vm(ctx, preferred=target)
                pulled.configuration.vm.CopyFrom(vm)
            else:
                k8s, notes = size_kubernetes(ctx, preferred=target)
                pulled.configuration.kubernetes.CopyFrom(k8s)
            price(ctx, pulled)
            cost, before_cost = pulled.cost.monthly_total_usd, after.cost.monthly_total_usd
            if ctx.budget and cost > before_cost and cost > ctx.budget:
                # A pull is a preference (similar apps ran well there), the budget a constraint.
                return citations
            before_note = _over_budget(ctx, after)
            after.configuration.CopyFrom(pulled.configuration)
            after.cost.CopyFrom(pulled.cost)
            after.sizing_notes = notes
            if before_note in after.cons:  # the trade-off states the cost the plan has now
                after.cons.remove(before_note)
                if ctx.budget and cost > ctx.budget:
                    after.cons.append(_over_budget(ctx, after))
            influence = f"{old} -> {target}"
            sentences.append(f"{retrieval.describe(records)} -> {target} instead of {old}")
            citations += retrieval.cite(records, influence)
    return citations


def _over_budget(ctx: Context, c: Candidate) -> str:
    return f"${c.cost.monthly_total_usd:,.0f}/month is over the ${ctx.budget:,.0f} budget"


def _memory_of(ctx: Context, strategy: int, config: common_pb2.Configuration) -> float:
    if strategy == FN:
        return config.serverless.memory_mb / 1024
    return ctx.catalogue.memory_gb(ctx.cloud, _size_label(strategy, config))


def _ladder_distance(ctx: Context, a: str, b: str) -> int:
    ladder = ctx.catalogue.ladder(ctx.cloud)
    if a not in ladder or b not in ladder:
        return 99
    return ladder.index(b) - ladder.index(a)


def _alternative_reason(c: Candidate) -> str:
    name = STRATEGY_NAMES[c.strategy]
    if c.blockers:
        return f"{name} ruled out: {'; '.join(c.blockers)}"
    parts = []
    if c.cons:
        parts.append("against: " + "; ".join(c.cons))
    if c.pros:
        parts.append("for: " + "; ".join(c.pros))
    return f"{name} ({_summary(c)}, ${c.cost.monthly_total_usd:,.2f}/month): " + ". ".join(parts)


def _summary(c: Candidate) -> str:
    cfg = c.configuration
    if c.strategy == VM:
        v = cfg.vm
        scaling = f", autoscaling {v.min_count}-{v.max_count}" if v.max_count != v.min_count else ""
        return f"{v.instance_count} x {v.instance_type}{scaling}"
    if c.strategy == K8S:
        k = cfg.kubernetes
        return f"{k.desired_nodes} x {k.node_type} nodes ({k.min_nodes}-{k.max_nodes}), {k.replicas} replica(s)"
    s = cfg.serverless
    return f"functions {s.memory_mb} MB / {s.timeout_seconds} s" + (f", {s.provisioned_concurrency} pre-warmed" if s.provisioned_concurrency else "")


def _reason(ctx: Context, chosen: Candidate, memory_sentences: list[str]) -> str:
    app = ctx.app
    described = f"{app.framework or 'no-framework'} {app.language} app"
    evidence = app.framework_evidence[0] if app.framework_evidence else None
    if evidence is not None and evidence.file:
        described += f" ({evidence.file}:{evidence.line})" if evidence.line else f" ({evidence.file})"
    where = f"{Cloud.Name(ctx.cloud).removeprefix('CLOUD_')} {ctx.region}"
    display = {VM: "VM", K8S: "Kubernetes", FN: "Serverless"}[chosen.strategy]
    text = (f"{display} for a {described} in {where}: {_summary(chosen)}, "
            f"${chosen.cost.monthly_total_usd:,.2f}/month. Why: {'; '.join(chosen.pros) or 'best remaining option'}.")
    if chosen.cons:
        text += f" Trade-offs: {'; '.join(chosen.cons)}."
    text += f" Sizing: {'; '.join(chosen.sizing_notes)}."
    if memory_sentences:
        text += " Learned from past deployments: " + "; ".join(memory_sentences) + "."
    return text
