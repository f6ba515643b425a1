"""A deterministic scenario generator with an oracle: realistic apps, intents and deployment history.

Used by the RAG benchmark (seeding clustered, realistic records; held-out queries with relevance
labels; cross-encoder training pairs) and meant for the planner's decision-accuracy benchmark
(issue 4): plan a scenario, score the plan against `oracle()`, feed `simulate()`'s outcome back.

The model of the world, kept small enough to reason about:

- An **app** has a stack (language + framework, realistic dependencies, ports, traits, backing
  services) and belongs to a **family**. The family is a LATENT requirement that static analysis
  cannot see. It is only weakly correlated with visible facts (families tend to use certain
  libraries, the way one team's apps share a toolbox), so a planner can learn it only from
  recorded outcomes of similar apps:
    * `standard`: no hidden need; the knowledge-base rules are right.
    * `memory-hungry`: needs twice the memory its framework suggests -> OOMKilled on the usual size.
    * `cold-start`: heavy initialisation -> cold-start timeouts on serverless.
    * `needs-ha`: real traffic needs two or more instances -> a single instance degrades at peaks.
    * `bursty`: traffic bursts -> without autoscaling, latency goes over target.
- An **intent** is what the team writes: a prompt in varied words with traffic, HA, autoscaling,
  budget, region and cloud.
- The **oracle** gives the correct plan: strategy + size class (+ instance count and autoscaling,
  which follow from them). `knowledge_base_plan()` is what the same rules give without the latent
  family: the cold-start baseline a planner starts from.
- `simulate(scenario, plan)` is the outcome of deploying a plan: success, or failure/degradation
  with a reason like "OOMKilled on t3.small" or "cold-start timeouts on lambda". Memory is judged
  on the instance's real memory (`fits`): a VM's working set may use half of it, a Kubernetes
  pod 75% of what a node leaves after ~1 GiB of system reservation; a 1 GiB instance is judged
  by the same rule (docs/planner.md, "disagreements settled", says why each rule is what it is).
  CPU is judged too: each stack costs some milliseconds of CPU per request (`CPU_MS_PER_REQUEST`),
  and a fleet whose vCPUs (at its autoscaling maximum) cannot serve the peak degrades.
- `monthly_cost` bills instances (an autoscaling group at its minimum), a cluster's control plane,
  load balancers, volumes and the managed databases and caches the app declares.
- `verdict(scenario, plan, outcome)` is the team's vote: +1 when the plan worked, did what the
  intent asked and is not wasteful, else -1 with structured reasons ("over-provisioned: peak
  memory 12% of t3.large", "OOMKilled on t3.small", "over budget: ...").

Everything is a pure function of the seed: same seed, same scenarios, same records.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scia.v1 import common_pb2, rag_pb2

# --- stacks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    framework: str
    language: str
    ecosystem: str
    runtime_versions: tuple[str, ...]
    core: tuple[tuple[str, str], ...]  # always present: (name, version spec)
    optional: tuple[tuple[str, str], ...]  # some of these
    port: int
    start_command: str
    # Working-set memory of one instance at low traffic, MB: what the framework "suggests".
    memory_mb: int
    # Could this stack run as functions at all (cold start aside)?
    serverless_capable: bool = True


STACKS: dict[str, Stack] = {
    s.framework: s
    for s in (
        Stack("flask", "python", "pypi", ("3.10", "3.11", "3.12"),
              (("flask", "==3.0.3"), ("gunicorn", "==22.0.0")),
              (("sqlalchemy", "==2.0.30"), ("psycopg2-binary", "==2.9.9"), ("flask-login", "==0.6.3"),
               ("redis", "==5.0.4"), ("marshmallow", "==3.21.2"), ("requests", "==2.32.3"), ("flask-cors", "==4.0.1")),
              5000, "gunicorn app:app", 400),
        Stack("django", "python", "pypi", ("3.10", "3.11", "3.12"),
              (("django", "==5.0.6"), ("gunicorn", "==22.0.0")),
              (("psycopg2-binary", "==2.9.9"), ("djangorestframework", "==3.15.1"), ("django-environ", "==0.11.2"),
               ("whitenoise", "==6.6.0"), ("redis", "==5.0.4"), ("django-storages", "==1.14.3"), ("pillow", "==10.3.0")),
              8000, "gunicorn project.wsgi", 600),
        Stack("fastapi", "python", "pypi", ("3.11", "3.12"),
              (("fastapi", "==0.111.0"), ("uvicorn", "==0.30.1")),
              (("pydantic", "==2.7.4"), ("sqlalchemy", "==2.0.30"), ("asyncpg", "==0.29.0"), ("httpx", "==0.27.0"),
               ("alembic", "==1.13.1"), ("redis", "==5.0.4"), ("python-multipart", "==0.0.9")),
              8000, "uvicorn main:app --host 0.0.0.0", 350),
        Stack("express", "node", "npm", ("18", "20", "22"),
              (("express", "^4.19.2"),),
              (("pg", "^8.12.0"), ("mongoose", "^8.4.1"), ("cors", "^2.8.5"), ("dotenv", "^16.4.5"),
               ("jsonwebtoken", "^9.0.2"), ("ioredis", "^5.4.1"), ("morgan", "^1.10.0")),
              3000, "node server.js", 300),
        Stack("nextjs", "node", "npm", ("18", "20"),
              (("next", "^14.2.4"), ("react", "^18.3.1"), ("react-dom", "^18.3.1")),
              (("@prisma/client", "^5.15.0"), ("next-auth", "^4.24.7"), ("tailwindcss", "^3.4.4"), ("swr", "^2.2.5"),
               ("zod", "^3.23.8"), ("axios", "^1.7.2")),
              3000, "npm start", 700),
        Stack("nestjs", "node", "npm", ("18", "20"),
              (("@nestjs/core", "^10.3.9"), ("@nestjs/common", "^10.3.9"), ("reflect-metadata", "^0.2.2")),
              (("@nestjs/typeorm", "^10.0.2"), ("typeorm", "^0.3.20"), ("pg", "^8.12.0"), ("@nestjs/config", "^3.2.2"),
               ("class-validator", "^0.14.1"), ("rxjs", "^7.8.1")),
              3000, "node dist/main.js", 500),
        Stack("gin", "go", "go", ("1.21", "1.22"),
              (("github.com/gin-gonic/gin", "v1.10.0"),),
              (("gorm.io/gorm", "v1.25.10"), ("github.com/jackc/pgx/v5", "v5.6.0"), ("github.com/redis/go-redis/v9", "v9.5.3"),
               ("github.com/spf13/viper", "v1.19.0"), ("go.uber.org/zap", "v1.27.0")),
              8080, "./server", 120),
        Stack("echo", "go", "go", ("1.21", "1.22"),
              (("github.com/labstack/echo/v4", "v4.12.0"),),
              (("github.com/jmoiron/sqlx", "v1.4.0"), ("github.com/lib/pq", "v1.10.9"), ("github.com/rs/zerolog", "v1.33.0"),
               ("github.com/golang-jwt/jwt/v5", "v5.2.1")),
              8080, "./app", 110),
        Stack("spring-boot", "java", "maven", ("17", "21"),
              (("org.springframework.boot:spring-boot-starter-web", "3.3.0"),),
              (("org.springframework.boot:spring-boot-starter-data-jpa", "3.3.0"), ("org.postgresql:postgresql", "42.7.3"),
               ("org.springframework.boot:spring-boot-starter-actuator", "3.3.0"), ("org.flywaydb:flyway-core", "10.15.0"),
               ("org.springframework.boot:spring-boot-starter-security", "3.3.0")),
              8080, "java -jar target/app.jar", 900, serverless_capable=False),
        Stack("rails", "ruby", "rubygems", ("3.2", "3.3"),
              (("rails", "~> 7.1.3"), ("puma", "~> 6.4")),
              (("pg", "~> 1.5"), ("sidekiq", "~> 7.2"), ("devise", "~> 4.9"), ("redis", "~> 5.2"),
               ("bootsnap", "~> 1.18"), ("image_processing", "~> 1.12")),
              3000, "bundle exec puma -C config/puma.rb", 700, serverless_capable=False),
        Stack("laravel", "php", "packagist", ("8.2", "8.3"),
              (("laravel/framework", "^11.9"),),
              (("laravel/sanctum", "^4.0"), ("guzzlehttp/guzzle", "^7.8"), ("predis/predis", "^2.2"),
               ("laravel/horizon", "^5.24"), ("spatie/laravel-permission", "^6.7")),
              8000, "php artisan serve --host 0.0.0.0", 450, serverless_capable=False),
        Stack("axum", "rust", "cargo", ("1.78", "1.79"),
              (("axum", "0.7.5"), ("tokio", "1.38.0")),
              (("serde", "1.0.203"), ("sqlx", "0.7.4"), ("tower-http", "0.5.2"), ("tracing", "0.1.40"),
               ("reqwest", "0.12.4")),
              3000, "./target/release/server", 80),
        Stack("static", "static", "npm", ("20",),
              (("vite", "^5.3.1"),),
              (("react", "^18.3.1"), ("vue", "^3.4.29"), ("svelte", "^4.2.18"), ("typescript", "^5.4.5")),
              80, "", 32),
    )
}

# How common each stack is in the generated population (roughly GitHub-ish; static and Rust rarer).
STACK_WEIGHTS = {
    "flask": 9, "django": 9, "fastapi": 10, "express": 11, "nextjs": 8, "nestjs": 6, "gin": 6, "echo": 3,
    "spring-boot": 8, "rails": 5, "laravel": 5, "axum": 2, "static": 4,
}

# --- families (latent requirements) ------------------------------------------------------------

FAMILIES = ("standard", "memory-hungry", "cold-start", "needs-ha", "bursty")
FAMILY_WEIGHTS = {"standard": 50, "memory-hungry": 15, "cold-start": 12, "needs-ha": 12, "bursty": 11}

# Libraries a family's apps tend to use: the weak, visible correlate of the hidden need (teams
# with image pipelines need memory; heavy SDKs make slow cold starts). Present with probability
# SIGNATURE_P each, so no single rule on dependencies recovers the family.
SIGNATURE_P = 0.6
FAMILY_SIGNATURES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "memory-hungry": {
        "python": (("pandas", "==2.2.2"), ("numpy", "==1.26.4"), ("pillow", "==10.3.0")),
        "node": (("sharp", "^0.33.4"), ("puppeteer", "^22.11.0")),
        "java": (("org.apache.poi:poi-ooxml", "5.2.5"), ("com.github.ben-manes.caffeine:caffeine", "3.1.8")),
        "go": (("github.com/disintegration/imaging", "v1.6.2"),),
        "ruby": (("mini_magick", "~> 4.13"), ("prawn", "~> 2.5")),
        "php": (("intervention/image", "^3.7"), ("phpoffice/phpspreadsheet", "^2.1")),
        "rust": (("image", "0.25.1"),),
    },
    "cold-start": {
        "python": (("torch", "==2.3.1"), ("transformers", "==4.41.2"), ("boto3", "==1.34.127")),
        "node": (("aws-sdk", "^2.1643.0"), ("@tensorflow/tfjs-node", "^4.20.0")),
        "go": (("github.com/aws/aws-sdk-go-v2", "v1.27.2"),),
        "rust": (("aws-sdk-s3", "1.36.0"),),
    },
    "needs-ha": {
        "python": (("stripe", "==9.12.0"), ("sentry-sdk", "==2.5.1")),
        "node": (("stripe", "^15.12.0"), ("@sentry/node", "^8.9.2")),
        "java": (("com.stripe:stripe-java", "25.12.0"), ("io.sentry:sentry", "7.10.0")),
        "go": (("github.com/stripe/stripe-go/v78", "v78.12.0"),),
        "ruby": (("stripe", "~> 11.6"), ("sentry-ruby", "~> 5.17")),
        "php": (("stripe/stripe-php", "^14.9"), ("sentry/sentry-laravel", "^4.6")),
        "rust": (("sentry", "0.34.0"),),
    },
    "bursty": {
        "python": (("celery", "==5.4.0"), ("kombu", "==5.3.7")),
        "node": (("bullmq", "^5.8.2"), ("socket.io", "^4.7.5")),
        "java": (("org.springframework.kafka:spring-kafka", "3.2.0"),),
        "go": (("github.com/segmentio/kafka-go", "v0.4.47"),),
        "ruby": (("sidekiq", "~> 7.2"),),
        "php": (("laravel/horizon", "^5.24"),),
        "rust": (("rdkafka", "0.36.2"),),
    },
}

# What the product does: names, prompt wording and the traits it implies.
DOMAINS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("shop", "an online shop backend", (common_pb2.TRAIT_KIND_HEALTH_ENDPOINT,)),
    ("orders", "an order management API", (common_pb2.TRAIT_KIND_BACKGROUND_WORKER,)),
    ("blog", "a blog with an admin area", ()),
    ("chat", "a real-time chat service", (common_pb2.TRAIT_KIND_WEBSOCKETS,)),
    ("media", "an image and video upload service", (common_pb2.TRAIT_KIND_FILE_UPLOADS,)),
    ("reports", "a reporting service that builds large PDF exports", (common_pb2.TRAIT_KIND_LONG_RUNNING_JOBS,)),
    ("billing", "a billing and invoicing API", (common_pb2.TRAIT_KIND_SCHEDULED_JOBS,)),
    ("auth", "an authentication and user profile service", (common_pb2.TRAIT_KIND_HEALTH_ENDPOINT,)),
    ("dashboard", "an internal analytics dashboard", ()),
    ("notify", "a notification dispatcher for email and push", (common_pb2.TRAIT_KIND_BACKGROUND_WORKER,)),
    ("search", "a product search API", (common_pb2.TRAIT_KIND_PERSISTENT_STATE,)),
    ("booking", "a booking and scheduling app", (common_pb2.TRAIT_KIND_SCHEDULED_JOBS,)),
    ("docs", "a documentation site", (common_pb2.TRAIT_KIND_STATIC_SITE,)),
    ("landing", "a marketing landing page", (common_pb2.TRAIT_KIND_STATIC_SITE,)),
)
STATIC_DOMAINS = ("docs", "landing")
# Traits that rule serverless out, and the failure they cause there.
SERVERLESS_BLOCKERS = {
    common_pb2.TRAIT_KIND_WEBSOCKETS: "websocket connections dropped by the function gateway",
    common_pb2.TRAIT_KIND_LONG_RUNNING_JOBS: "jobs killed at the function timeout",
    common_pb2.TRAIT_KIND_FILE_UPLOADS: "uploads over the 6 MB function payload limit rejected",
    common_pb2.TRAIT_KIND_BACKGROUND_WORKER: "background worker cannot run between invocations",
}
BACKING = ("postgres", "mysql", "redis", "mongodb", "rabbitmq", "elasticsearch")

# --- clouds, sizes, prices ---------------------------------------------------------------------

SIZES = ("small", "medium", "large", "xlarge")  # each doubles the memory of the previous one
SIZE_MEMORY_MB = {"small": 2048, "medium": 4096, "large": 8192, "xlarge": 16384}
SERVERLESS_MEMORY_MB = {"small": 512, "medium": 1024, "large": 2048, "xlarge": 4096}
CLOUDS = {
    common_pb2.CLOUD_AWS: {
        "name": "aws", "function": "lambda",
        "regions": ("us-east-1", "us-west-2", "eu-west-1", "eu-west-3", "eu-central-1", "ap-southeast-1"),
        "instances": {"small": ("t3.small", 0.0208), "medium": ("t3.medium", 0.0416),
                      "large": ("t3.large", 0.0832), "xlarge": ("t3.xlarge", 0.1664)},
        "control_plane": 73.0, "load_balancer": 16.43,
    },
    common_pb2.CLOUD_GCP: {
        "name": "gcp", "function": "cloud run functions",
        "regions": ("us-central1", "europe-west1", "europe-west9", "asia-southeast1"),
        "instances": {"small": ("e2-small", 0.0168), "medium": ("e2-medium", 0.0335),
                      "large": ("e2-standard-2", 0.0670), "xlarge": ("e2-standard-4", 0.1340)},
        "control_plane": 73.0, "load_balancer": 18.26,
    },
    common_pb2.CLOUD_AZURE: {
        "name": "azure", "function": "azure functions",
        "regions": ("eastus", "westeurope", "francecentral", "southeastasia"),
        "instances": {"small": ("Standard_B1ms", 0.0207), "medium": ("Standard_B2s", 0.0416),
                      "large": ("Standard_B2ms", 0.0832), "xlarge": ("Standard_B4ms", 0.1660)},
        "control_plane": 73.0, "load_balancer": 18.25,
    },
}
CLOUD_WEIGHTS = {common_pb2.CLOUD_AWS: 6, common_pb2.CLOUD_GCP: 2, common_pb2.CLOUD_AZURE: 2}
# The 1 GiB types under the ladder (a plan may run on them; the world prices them too).
MICRO_INSTANCES = {common_pb2.CLOUD_AWS: ("t3.micro", 0.0104), common_pb2.CLOUD_GCP: ("e2-micro", 0.0084),
                   common_pb2.CLOUD_AZURE: ("Standard_B1s", 0.0104)}
INSTANCE_SIZE = {spec[0]: size for c in CLOUDS.values() for size, spec in c["instances"].items()}
# Managed backing services the world bills (the app's compose declares them; the smallest class of
# each provider, list prices per hour) and database storage per GB-month. High availability
# doubles them (a standby in another zone: RDS Multi-AZ, Cloud SQL HA, Azure zone-redundant HA).
MANAGED_SERVICES = {
    common_pb2.CLOUD_AWS: {"database": ("db.t3.micro", 0.018), "cache": ("cache.t3.micro", 0.017), "storage_gb": 0.115},
    common_pb2.CLOUD_GCP: {"database": ("db-f1-micro", 0.0150), "cache": ("basic-m1", 0.049), "storage_gb": 0.17},
    common_pb2.CLOUD_AZURE: {"database": ("Standard_B1ms", 0.0207), "cache": ("C0", 0.022), "storage_gb": 0.115},
}
MANAGED_KINDS = {"postgres": "database", "mysql": "database", "redis": "cache"}
MANAGED_STORAGE_GB = 20
# vCPUs of the ladder's types (the providers' listings; t3 "unlimited" and e2 shared-core types
# sustain them past their burst credits at a surcharge the world does not bill).
INSTANCE_VCPUS = {"t3.micro": 2, "e2-micro": 2, "Standard_B1s": 1, "t3.small": 2, "t3.medium": 2, "t3.large": 2, "t3.xlarge": 4,
                  "e2-small": 2, "e2-medium": 2, "e2-standard-2": 2, "e2-standard-4": 4,
                  "Standard_B1ms": 1, "Standard_B2s": 2, "Standard_B2ms": 2, "Standard_B4ms": 4}
# CPU time one request of a typical app of the stack costs at peak (ms): a sync worker (gunicorn,
# puma, php-fpm) serves one request at a time through ORM queries, serialisation and templates,
# 20-25 ms of CPU; async Python less; a Node event loop 4-5 ms (15 for server-side React
# rendering); compiled Go, Java (JIT-warm) and Rust servers 1-3 ms. One vCPU serves
# 1000 / cpu_ms requests/s flat out; past that requests queue and p99 latency goes over target.
CPU_MS_PER_REQUEST = {"flask": 20, "django": 25, "fastapi": 8, "express": 4, "nextjs": 15, "nestjs": 5,
                      "gin": 1.5, "echo": 1.5, "spring-boot": 3, "rails": 25, "laravel": 25, "axum": 0.7,
                      "static": 0.1}
# What a Kubernetes node's system pods (CNI, kube-proxy, CoreDNS, agents) and the kubelet's
# reservation keep of its CPU.
K8S_SYSTEM_VCPUS = 0.25
# An autoscaling group or cluster scales out to this many times its desired size.
AUTOSCALING_MAX_FACTOR = 3
TRAFFIC = {"low": (50, 5), "medium": (2_000, 60), "high": (30_000, 600)}  # (users, peak rps)
TRAFFIC_FACTOR = {"low": 1.0, "medium": 2.0, "high": 4.0}  # memory multiplier (more workers/connections)
SERVERLESS_REQUESTS = {"low": 300_000, "medium": 5_000_000, "high": 80_000_000}  # per month

STRATEGY_NAMES = {
    common_pb2.STRATEGY_VM: "vm",
    common_pb2.STRATEGY_KUBERNETES: "kubernetes",
    common_pb2.STRATEGY_SERVERLESS: "serverless",
}

# --- the data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class App:
    key: str
    name: str
    family: str
    framework: str
    language: str
    domain: str
    runtime_version: str
    dependencies: tuple[tuple[str, str, bool], ...]  # (name, version spec, dev)
    traits: tuple[int, ...]
    backing: tuple[str, ...]
    port: int
    has_dockerfile: bool
    repo_url: str

    @property
    def stack(self) -> Stack:
        return STACKS[self.framework]


@dataclass(frozen=True)
class Intent:
    prompt: str
    traffic: str  # low, medium, high
    high_availability: bool  # asked for explicitly
    autoscaling: bool  # asked for explicitly
    budget: float  # 0 = none
    cloud: int
    region: str


@dataclass(frozen=True)
class Scenario:
    key: str
    app: App
    intent: Intent

    @property
    def family(self) -> str:
        return self.app.family

    def analysis(self) -> common_pb2.RepositoryAnalysis:
        return analysis_of(self.app)

    def deployment_intent(self) -> common_pb2.DeploymentIntent:
        return intent_of(self.intent)

    def query(self) -> rag_pb2.DeploymentQuery:
        """What a planner would send to Retrieve for this scenario."""
        return rag_pb2.DeploymentQuery(analysis=self.analysis(), intent=self.deployment_intent())


@dataclass(frozen=True)
class PlanChoice:
    """The decision the oracle judges: strategy and size class (count and scaling follow)."""

    strategy: int
    size: str
    instances: int = 1
    autoscaling: bool = False

    @property
    def label(self) -> str:
        scaling = "+autoscaling" if self.autoscaling else ""
        return f"{STRATEGY_NAMES[self.strategy]}/{self.size}/x{self.instances}{scaling}"


@dataclass(frozen=True)
class SimulatedOutcome:
    outcome: int
    reason: str
    memory_utilization: float
    latency_p99_ms: float
    error_rate: float
    restarts: int


# --- analysis and intent as contract messages -------------------------------------------------


def analysis_of(app: App) -> common_pb2.RepositoryAnalysis:
    stack = app.stack
    analysis = common_pb2.RepositoryAnalysis(repository=common_pb2.RepositoryRef(url=app.repo_url))
    manifest = {"pypi": "requirements.txt", "npm": "package.json", "go": "go.mod", "maven": "pom.xml",
                "rubygems": "Gemfile", "packagist": "composer.json", "cargo": "Cargo.toml"}[stack.ecosystem]
    application = analysis.applications.add(
        name=app.name,
        language=app.language,
        framework="" if app.framework == "static" else app.framework,
        confidence=0.9,
        runtime_version=app.runtime_version,
        start_command=stack.start_command,
        has_dockerfile=app.has_dockerfile,
    )
    for line, (name, spec, dev) in enumerate(app.dependencies, start=2):
        application.dependencies.add(
            name=name, version_spec=spec, ecosystem=stack.ecosystem, dev=dev,
            evidence=common_pb2.Evidence(file=manifest, line=line, rule=f"{stack.ecosystem}.manifest"),
        )
    application.ports.add(number=app.port, protocol="tcp",
                          evidence=common_pb2.Evidence(rule="port.framework-default"))
    for kind in app.traits:
        application.traits.add(kind=kind, evidence=[common_pb2.Evidence(rule="trait.domain")])
    for kind in app.backing:
        analysis.backing_services.add(kind=kind, name=kind)
    analysis.has_compose = bool(app.backing)
    return analysis


def intent_of(intent: Intent) -> common_pb2.DeploymentIntent:
    message = common_pb2.DeploymentIntent(prompt=intent.prompt, cloud=intent.cloud, region=intent.region)
    if intent.budget:
        message.budget.max_monthly_cost_usd = intent.budget
        message.budget.enforcement = common_pb2.BUDGET_ENFORCEMENT_SOFT
    return message


# --- the oracle and the world ------------------------------------------------------------------


# How much of a node a Kubernetes workload can use. On a managed node the kubelet reserves memory
# (EKS: 255 MiB + 11 MiB per pod the node type allows, plus 100 MiB eviction threshold) and the
# system DaemonSets (CNI, kube-proxy, CoreDNS replicas, CSI driver, log/metrics agents) take
# 0.5-1 GiB more: about 1 GiB per node is gone before the first application pod. Of the rest, the
# app's working set may use 75% (the pod's limit is its headroom; no OS to leave room for): a 2 GiB
# node holds an app of at most 768 MB (marginal), a 4 GiB node 2.3 GB.
K8S_SYSTEM_RESERVED_MB = 1024
K8S_USABLE_SHARE = 0.75
# Smallest instance below the "small" class: 1 GiB (t3.micro, e2-micro, Standard_B1s). The oracle's
# ladder starts at small, but a 1 GiB instance is real and runs small low-traffic services; the
# world judges it with the same rule as every other size (see `fits`).
MICRO_MEMORY_MB = 1024


def memory_need_mb(app: App, traffic: str, family: str = "standard") -> float:
    """The working set of one instance of the app (MB): the framework's memory at low traffic, more
    with more load (worker processes, connections), +50% for a worker beside the web process,
    x2 for the memory-hungry family (the latent need)."""
    need = app.stack.memory_mb * TRAFFIC_FACTOR[traffic]
    if common_pb2.TRAIT_KIND_BACKGROUND_WORKER in app.traits:
        need *= 1.5  # a worker process beside the web process
    if family == "memory-hungry":
        need *= 2
    return need


def usable_mb(strategy: int, memory_mb: float) -> float:
    """What the app may use on an instance/node of `memory_mb`: half of it on a VM (the OS, peaks
    and page cache take the rest), 75% of what a Kubernetes node leaves after its system
    reservation. Functions are judged by class (one request at a time), see `fits`."""
    if strategy == common_pb2.STRATEGY_KUBERNETES:
        return max(0.0, (memory_mb - K8S_SYSTEM_RESERVED_MB) * K8S_USABLE_SHARE)
    return memory_mb * 0.5


def _size_for(need_mb: float, strategy: int) -> str:
    for size in SIZES:
        if need_mb <= usable_mb(strategy, SIZE_MEMORY_MB[size]):
            return size
    return SIZES[-1]


def _suggested_size(app: App, traffic: str, strategy: int = common_pb2.STRATEGY_VM) -> str:
    """The size class the framework's memory profile suggests: what static analysis can know."""
    return _size_for(memory_need_mb(app, traffic), strategy)


def _bigger(size: str, steps: int = 1) -> str:
    return SIZES[min(len(SIZES) - 1, SIZES.index(size) + steps)]


def peak_rps(traffic: str) -> float:
    return float(TRAFFIC[traffic][1])


def instance_rps(scenario: Scenario, strategy: int, vcpus: float) -> float:
    """Requests/s one instance or node of `vcpus` serves before its CPU saturates."""
    usable = max(0.0, vcpus - K8S_SYSTEM_VCPUS) if strategy == common_pb2.STRATEGY_KUBERNETES else vcpus
    return usable * 1000 / CPU_MS_PER_REQUEST[scenario.app.framework]


def ladder_vcpus(scenario: Scenario, size: str) -> int:
    return INSTANCE_VCPUS[CLOUDS[scenario.intent.cloud]["instances"][size][0]]


def billed_instances(plan: PlanChoice) -> int:
    """Instances/nodes a plan runs (and pays for) outside peaks: an autoscaling group keeps two."""
    return max(plan.instances, 2 if plan.autoscaling else 1)


def peak_instances(plan: PlanChoice) -> int:
    """Instances/nodes a plan can run at its peak (`plan_message`'s maximum)."""
    return billed_instances(plan) * (AUTOSCALING_MAX_FACTOR if plan.autoscaling else 1)


def _fleet_size(scenario: Scenario, strategy: int, size: str, minimum: int, autoscaling: bool) -> int:
    """The fewest instances/nodes (at least `minimum`) whose CPU serves the peak, at their
    autoscaling maximum when they scale."""
    per = instance_rps(scenario, strategy, ladder_vcpus(scenario, size))
    needed = math.ceil(peak_rps(scenario.intent.traffic) / per) if per > 0 else minimum
    if autoscaling:
        needed = math.ceil(needed / AUTOSCALING_MAX_FACTOR)
    return max(minimum, needed)


def autoscaling_plans(scenario: Scenario, family: str) -> tuple[PlanChoice, PlanChoice]:
    """(cluster, VM autoscaling group) that serve the scenario's peak when it needs to scale."""
    need = memory_need_mb(scenario.app, scenario.intent.traffic, family)
    minimum = 2 if scenario.intent.high_availability or family == "needs-ha" else 1
    node_size, size = _size_for(need, common_pb2.STRATEGY_KUBERNETES), _size_for(need, common_pb2.STRATEGY_VM)
    return (PlanChoice(common_pb2.STRATEGY_KUBERNETES, node_size,
                       _fleet_size(scenario, common_pb2.STRATEGY_KUBERNETES, node_size, minimum, True), True),
            PlanChoice(common_pb2.STRATEGY_VM, size, _fleet_size(scenario, common_pb2.STRATEGY_VM, size, minimum, True), True))


def _plan_rules(scenario: Scenario, family: str) -> PlanChoice:
    """The knowledge-base rules, given a family (the oracle knows it; static analysis assumes standard).

    The cheapest plan that works and does what the intent asks: autoscaling (asked, high traffic or
    bursts) -> Kubernetes; high availability alone -> two VMs across zones behind a load balancer
    (the same redundancy as a two-node cluster for one service, without the control plane's fee);
    autoscaling within a budget the cluster's fee breaks -> a VM autoscaling group; light traffic on a stack that can run as functions -> serverless; else one VM.
    """
    app, intent = scenario.app, scenario.intent
    if app.framework == "static":
        return PlanChoice(common_pb2.STRATEGY_SERVERLESS, "small")
    need = memory_need_mb(app, intent.traffic, family)
    ha = intent.high_availability or family == "needs-ha"
    scaling = intent.autoscaling or intent.traffic == "high" or family == "bursty"
    size = _size_for(need, common_pb2.STRATEGY_VM)
    minimum = 2 if ha else 1
    if scaling:
        cluster, group = autoscaling_plans(scenario, family)
        if intent.budget and monthly_cost(scenario, cluster)[0] > intent.budget >= monthly_cost(scenario, group)[0]:
            return group  # the control plane's fee does not fit the budget; an autoscaling group does
        return cluster
    blocked = any(t in SERVERLESS_BLOCKERS for t in app.traits)
    if not ha and intent.traffic == "low" and app.stack.serverless_capable and not blocked and family != "cold-start":
        return PlanChoice(common_pb2.STRATEGY_SERVERLESS, size)
    # High availability: two VMs across zones at least; either way as many as the CPU needs.
    return PlanChoice(common_pb2.STRATEGY_VM, size, _fleet_size(scenario, common_pb2.STRATEGY_VM, size, minimum, False))


def oracle(scenario: Scenario) -> PlanChoice:
    """The correct plan, latent requirements included."""
    return _plan_rules(scenario, scenario.app.family)


def knowledge_base_plan(scenario: Scenario) -> PlanChoice:
    """What the rules give from visible facts only (every app assumed standard): the cold-start
    baseline. Wrong exactly where a latent requirement matters."""
    return _plan_rules(scenario, "standard")


def is_correct(scenario: Scenario, strategy: int, size: str) -> bool:
    """The strict decision-accuracy criterion: strategy and size class both match the oracle's."""
    expected = oracle(scenario)
    return strategy == expected.strategy and size == expected.size


def _where(scenario: Scenario, plan: PlanChoice) -> str:
    cloud = CLOUDS[scenario.intent.cloud]
    if plan.strategy == common_pb2.STRATEGY_SERVERLESS:
        return f"{cloud['function']} with {SERVERLESS_MEMORY_MB[plan.size]} MB"
    return cloud["instances"][plan.size][0]


def fits(scenario: Scenario, strategy: int, memory_mb: float) -> bool:
    """Does the app's real working set (latent family included) fit an instance, node or function
    of `memory_mb`? VMs and nodes by `usable_mb`; a function by the class its need falls in on a VM
    (functions serve one request at a time: 512 MB serves what a 2 GB VM serves)."""
    need = memory_need_mb(scenario.app, scenario.intent.traffic, scenario.family)
    if strategy == common_pb2.STRATEGY_SERVERLESS:
        return memory_mb >= SERVERLESS_MEMORY_MB[_size_for(need, common_pb2.STRATEGY_VM)]
    return need <= usable_mb(strategy, memory_mb)


def plan_memory_mb(plan: PlanChoice) -> int:
    """Memory of one instance/node/function of a plan on the oracle's ladder."""
    return SERVERLESS_MEMORY_MB[plan.size] if plan.strategy == common_pb2.STRATEGY_SERVERLESS else SIZE_MEMORY_MB[plan.size]


def simulate(scenario: Scenario, plan: PlanChoice, seed: int = 0, *, memory_mb: float | None = None,
             where: str | None = None, vcpus: float | None = None, peak: int | None = None) -> SimulatedOutcome:
    """Deploying `plan` for `scenario`: what happens, with a reason an engineer would write.

    Checks in the order a real failure shows itself: the platform refuses the workload, then the
    process dies (memory), then it runs but degrades (capacity, bursts). A plan as good as the
    oracle's always succeeds. `seed` only varies the metrics' noise, never the outcome.
    `memory_mb`/`where`/`vcpus`: the real memory, name and vCPUs of what the plan ran on, when it
    is not one of the ladder's four types (a 1 GiB t3.micro, a 32 GiB t3.2xlarge, a c5.large...);
    `peak`: how many instances/nodes it can run at its peak (default `peak_instances(plan)`).
    """
    app, intent = scenario.app, scenario.intent
    expected = oracle(scenario)
    rng = random.Random(f"{scenario.key}:{plan.label}:{seed}")
    where = where or _where(scenario, plan)
    serverless = plan.strategy == common_pb2.STRATEGY_SERVERLESS
    capacity_mb = float(memory_mb if memory_mb is not None else plan_memory_mb(plan))
    need_mb = memory_need_mb(app, intent.traffic, scenario.family)
    usable = capacity_mb if serverless else capacity_mb if plan.strategy == common_pb2.STRATEGY_VM else max(0.0, capacity_mb - K8S_SYSTEM_RESERVED_MB)
    # Peak memory over what the app may use (utilisation of the instance's memory).
    usage = min(1.0, need_mb / usable) if usable > 0 else 1.0

    def result(outcome: int, reason: str, latency: float, errors: float, restarts: int = 0) -> SimulatedOutcome:
        return SimulatedOutcome(outcome, reason, round(usage, 2), round(latency * rng.uniform(0.9, 1.1), 1),
                                round(errors, 4), restarts)

    if serverless and app.framework != "static":
        for trait in app.traits:
            if trait in SERVERLESS_BLOCKERS:
                return result(common_pb2.OUTCOME_FAILED, f"{SERVERLESS_BLOCKERS[trait]} on {where}", 0, 1.0)
        if not app.stack.serverless_capable:
            return result(common_pb2.OUTCOME_FAILED, f"{app.framework} start-up over the init limit on {where}", 0, 1.0)
        if app.family == "cold-start":
            return result(common_pb2.OUTCOME_FAILED, f"cold-start timeouts on {where} (init over 10 s)", 12_000, 0.35)
        if expected.strategy != common_pb2.STRATEGY_SERVERLESS:
            # Functions were the wrong call for this load: sustained or bursty traffic.
            if app.family == "needs-ha" or expected.instances >= 2:
                reason = f"throttled at the concurrency limit during peak traffic on {where}"
            elif app.family == "bursty" or expected.autoscaling:
                reason = f"p99 latency over target during traffic bursts: cold starts on {where}"
            else:
                reason = f"request timeouts under sustained load on {where}"
            return result(common_pb2.OUTCOME_DEGRADED, reason, 3_000, 0.03)
    if not serverless or app.framework != "static":
        if not fits(scenario, plan.strategy, capacity_mb):
            restarts = rng.randint(3, 40)
            return result(common_pb2.OUTCOME_FAILED, f"OOMKilled on {where}", 0, 0.6, restarts)
    if plan.strategy != common_pb2.STRATEGY_SERVERLESS:
        if (app.family == "needs-ha" or intent.high_availability) and plan.instances < 2:
            return result(common_pb2.OUTCOME_DEGRADED,
                          f"single instance saturated: 5xx during peak traffic on 1 x {where}", 2_500, 0.04)
        count = peak if peak is not None else peak_instances(plan)
        per = instance_rps(scenario, plan.strategy, vcpus if vcpus is not None else ladder_vcpus(scenario, plan.size))
        if count * per < peak_rps(intent.traffic):
            return result(common_pb2.OUTCOME_DEGRADED,
                          f"CPU saturated: p99 latency over target at {peak_rps(intent.traffic):.0f} requests/s on "
                          f"{count} x {where}", 2_000, 0.02)
        if expected.autoscaling and not plan.autoscaling:
            return result(common_pb2.OUTCOME_DEGRADED,
                          f"p99 latency over target during traffic bursts without autoscaling on {where}", 1_800, 0.01)
    latency = {"low": 80.0, "medium": 120.0, "high": 160.0}[intent.traffic]
    return result(common_pb2.OUTCOME_SUCCESS, "", latency, 0.001)


# Memory of every size a plan can run on, per strategy, smallest first: the oracle's ladder plus a
# 1 GiB instance for VMs (a 1 GiB Kubernetes node has nothing left for pods).
FIT_LADDER_MB = {
    common_pb2.STRATEGY_VM: (MICRO_MEMORY_MB, *SIZE_MEMORY_MB.values()),
    common_pb2.STRATEGY_KUBERNETES: tuple(SIZE_MEMORY_MB.values()),
    common_pb2.STRATEGY_SERVERLESS: tuple(SERVERLESS_MEMORY_MB.values()),
}
# "Not wasteful": at most this many doublings of memory above the smallest size that works for the
# plan's strategy. One class up is ordinary caution (peak memory still 25-50% of the instance);
# two or more (peak under ~25%) is what teams vote down for the bill.
WASTE_STEPS = 2


def smallest_fit_mb(scenario: Scenario, strategy: int) -> float | None:
    """Memory of the smallest instance/node/function of `strategy` the app fits (None: none does)."""
    return next((m for m in FIT_LADDER_MB[strategy] if fits(scenario, strategy, m)), None)


def size_steps_above_fit(scenario: Scenario, strategy: int, memory_mb: float) -> int:
    """Doublings of memory between `memory_mb` and the smallest size that works (0: it is the
    smallest; negative: too small)."""
    smallest = smallest_fit_mb(scenario, strategy)
    if smallest is None:
        return 0
    return round(math.log2(max(memory_mb, 1) / smallest))


def over_provisioned(scenario: Scenario, plan: PlanChoice, memory_mb: float | None = None) -> bool:
    """Two or more sizes above the smallest that works for the plan's strategy: it works, but
    people vote it down for the bill. `memory_mb`: the real memory when not on the ladder."""
    memory = memory_mb if memory_mb is not None else plan_memory_mb(plan)
    return size_steps_above_fit(scenario, plan.strategy, memory) >= WASTE_STEPS


def _meets_intent(scenario: Scenario, plan: PlanChoice) -> list[str]:
    """What the intent asked that the plan does not do (functions are multi-zone and scale by design)."""
    intent, missing = scenario.intent, []
    if plan.strategy == common_pb2.STRATEGY_SERVERLESS:
        return missing
    if intent.high_availability and plan.instances < 2:
        missing.append(f"no high availability: {plan.instances} instance, redundancy across zones was asked for")
    if intent.autoscaling and not plan.autoscaling:
        missing.append("no autoscaling, which was asked for")
    return missing


# Largest fleet the world's cheapest-plan search tries (600 requests/s of a 25 ms-per-request stack
# on 1-vCPU instances needs 15).
MAX_FLEET = 32


def cheapest_acceptable_cost(scenario: Scenario) -> float:
    """The world's monthly cost of the cheapest plan on the ladder that succeeds and does what the
    intent asks: what a budget can be compared with (a budget under it cannot be met)."""
    best = math.inf
    for strategy in (common_pb2.STRATEGY_VM, common_pb2.STRATEGY_KUBERNETES, common_pb2.STRATEGY_SERVERLESS):
        for size in SIZES:
            for scaling in (False, True):
                # The fewest instances that work are the cheapest of this shape; more only cost more.
                for instances in range(1, 2 if strategy == common_pb2.STRATEGY_SERVERLESS else MAX_FLEET + 1):
                    choice = PlanChoice(strategy, size, instances, scaling)
                    if simulate(scenario, choice).outcome == common_pb2.OUTCOME_SUCCESS and not _meets_intent(scenario, choice):
                        best = min(best, monthly_cost(scenario, choice)[0])
                        break
    return best


@dataclass(frozen=True)
class Verdict:
    """What the simulated team thinks of a deployed plan: a thumbs up or down and why. `reasons`
    are the structured comments (one per problem; the first is the vote's comment)."""

    vote: int
    reasons: tuple[str, ...]

    @property
    def up(self) -> bool:
        return self.vote > 0

    @property
    def comment(self) -> str:
        return self.reasons[0]


def verdict(scenario: Scenario, plan: PlanChoice, result: SimulatedOutcome, *, memory_mb: float | None = None,
            where: str | None = None, cost: float | None = None) -> Verdict:
    """Thumbs up when the deployment worked (no failure or degradation), did what the intent asked
    (high availability, autoscaling, budget) and is not wasteful (under `WASTE_STEPS` sizes above the
    smallest that works for its strategy). `memory_mb`/`where`: what it really ran on; `cost`: its
    monthly cost (default: the world's price of `plan`). Region and cloud are the caller's to check
    (a PlanChoice has neither).

    Budget: over it is a fault only when a plan that works and meets the intent fits it (a soft
    budget nobody can meet is a warning, not a wrong plan).
    """
    where = where or _where(scenario, plan)
    memory = float(memory_mb if memory_mb is not None else plan_memory_mb(plan))
    if result.outcome != common_pb2.OUTCOME_SUCCESS:
        return Verdict(-1, (result.reason,))
    problems = _meets_intent(scenario, plan)
    budget = scenario.intent.budget
    spent = monthly_cost(scenario, plan)[0] if cost is None else cost
    if budget and spent > budget and cheapest_acceptable_cost(scenario) <= budget:
        problems.append(f"over budget: ${spent:,.0f}/month for a ${budget:,.0f} budget")
    if over_provisioned(scenario, plan, memory):
        problems.append(f"over-provisioned: peak memory {result.memory_utilization:.0%} of {where}")
    if problems:
        return Verdict(-1, tuple(problems))
    return Verdict(1, (f"right-sized: peak memory {result.memory_utilization:.0%} of {where}",))


# --- plans as contract messages, costs ---------------------------------------------------------


def monthly_cost(scenario: Scenario, plan: PlanChoice, *, instances: int | None = None,
                 instance: tuple[str, float] | None = None) -> tuple[float, list[common_pb2.CostItem]]:
    """The world's bill for `plan`. `instances`/`instance` (name, hourly price): what a real plan
    keeps running and on which type, when it is not the ladder's reading of `plan` (a planner's
    autoscaling group of one, a 1 GiB instance)."""
    cloud = CLOUDS[scenario.intent.cloud]
    items: list[common_pb2.CostItem] = []
    if plan.strategy == common_pb2.STRATEGY_SERVERLESS:
        requests = SERVERLESS_REQUESTS[scenario.intent.traffic]
        gb_seconds = requests * 0.2 * SERVERLESS_MEMORY_MB[plan.size] / 1024  # 200 ms per request
        items.append(common_pb2.CostItem(name="function compute", quantity=gb_seconds, unit="GB-second",
                                         unit_price_usd=0.0000166667, monthly_usd=round(gb_seconds * 0.0000166667, 2)))
        items.append(common_pb2.CostItem(name="function requests", quantity=requests, unit="request",
                                         unit_price_usd=0.0000002, monthly_usd=round(requests * 0.0000002, 2)))
    else:
        instance, hourly = instance or cloud["instances"][plan.size]
        count = billed_instances(plan) if instances is None else instances
        items.append(common_pb2.CostItem(name=instance, description=f"{count} x {instance} x 730 h",
                                         quantity=count * 730, unit="hour", unit_price_usd=hourly,
                                         monthly_usd=round(count * 730 * hourly, 2)))
        if plan.strategy == common_pb2.STRATEGY_KUBERNETES:
            items.append(common_pb2.CostItem(name="control plane", quantity=730, unit="hour",
                                             unit_price_usd=0.10, monthly_usd=cloud["control_plane"]))
        if count > 1 or plan.autoscaling or plan.strategy == common_pb2.STRATEGY_KUBERNETES:
            items.append(common_pb2.CostItem(name="load balancer", quantity=730, unit="hour",
                                             monthly_usd=cloud["load_balancer"]))
        items.append(common_pb2.CostItem(name="volumes", quantity=count * 20, unit="GB-month",
                                         unit_price_usd=0.08, monthly_usd=round(count * 20 * 0.08, 2)))
    items.extend(_managed_items(scenario))
    return round(sum(i.monthly_usd for i in items), 2), items


def _managed_items(scenario: Scenario) -> list[common_pb2.CostItem]:
    """The app's managed databases and caches, whatever the strategy (every plan needs them)."""
    prices, items = MANAGED_SERVICES[scenario.intent.cloud], []
    copies = 2 if scenario.intent.high_availability else 1
    for kind in scenario.app.backing:
        role = MANAGED_KINDS.get(kind)
        if role is None:
            continue
        name, hourly = prices[role]
        items.append(common_pb2.CostItem(name=f"{kind} ({name})", description=f"{copies} x {name} x 730 h",
                                         quantity=copies * 730, unit="hour", unit_price_usd=hourly,
                                         monthly_usd=round(copies * 730 * hourly, 2)))
        if role == "database":
            gb = copies * MANAGED_STORAGE_GB
            items.append(common_pb2.CostItem(name=f"{kind} storage", quantity=gb, unit="GB-month",
                                             unit_price_usd=prices["storage_gb"], monthly_usd=round(gb * prices["storage_gb"], 2)))
    return items


def plan_message(scenario: Scenario, plan: PlanChoice) -> common_pb2.Plan:
    cloud = CLOUDS[scenario.intent.cloud]
    message = common_pb2.Plan(strategy=plan.strategy, confidence=0.8,
                              reason=f"{STRATEGY_NAMES[plan.strategy]} for a {scenario.intent.traffic}-traffic "
                                     f"{scenario.app.framework} app")
    configuration = message.configuration
    configuration.cloud = scenario.intent.cloud
    configuration.region = scenario.intent.region
    configuration.app_port = scenario.app.port
    configuration.https = True
    count = billed_instances(plan)
    if plan.strategy == common_pb2.STRATEGY_SERVERLESS:
        configuration.serverless.memory_mb = SERVERLESS_MEMORY_MB[plan.size]
        configuration.serverless.timeout_seconds = 30
    elif plan.strategy == common_pb2.STRATEGY_KUBERNETES:
        k8s = configuration.kubernetes
        k8s.node_type = cloud["instances"][plan.size][0]
        k8s.desired_nodes = k8s.min_nodes = count
        k8s.max_nodes = peak_instances(plan)
        k8s.replicas = count
        k8s.pod_memory_mb = SIZE_MEMORY_MB[plan.size] // 2
    else:
        vm = configuration.vm
        vm.instance_type = cloud["instances"][plan.size][0]
        vm.instance_count = vm.min_count = count
        vm.max_count = peak_instances(plan)
        vm.volume_size_gb = 20
    for kind in scenario.app.backing:
        if kind in MANAGED_KINDS:
            role = MANAGED_KINDS[kind]
            configuration.managed_services.add(kind=kind, instance_class=MANAGED_SERVICES[scenario.intent.cloud][role][0],
                                               storage_gb=MANAGED_STORAGE_GB if role == "database" else 0,
                                               high_availability=scenario.intent.high_availability)
    total, items = monthly_cost(scenario, plan)
    message.cost.monthly_total_usd = total
    message.cost.items.extend(items)
    message.cost.pricing_source = "bench/scenarios.py catalogue (on-demand, 2026)"
    return message


def choice_of(plan: common_pb2.Plan) -> PlanChoice:
    """A planner's proto Plan back to the oracle's terms (for scoring a real planner)."""
    configuration = plan.configuration
    workload = configuration.WhichOneof("workload")
    if workload == "serverless":
        memory = configuration.serverless.memory_mb
        size = next((s for s in SIZES if memory <= SERVERLESS_MEMORY_MB[s]), SIZES[-1])
        return PlanChoice(plan.strategy, size)
    if workload == "kubernetes":
        k8s = configuration.kubernetes
        return PlanChoice(plan.strategy, INSTANCE_SIZE.get(k8s.node_type, "medium"),
                          max(k8s.desired_nodes, k8s.replicas, 1), k8s.max_nodes > k8s.min_nodes)
    vm = configuration.vm
    return PlanChoice(plan.strategy, INSTANCE_SIZE.get(vm.instance_type, "medium"), max(vm.instance_count, 1),
                      vm.max_count > vm.min_count)


# --- prompts -----------------------------------------------------------------------------------

_TEMPLATES = (
    "Deploy {what} ({stack}) for {users}.{ha}{scale}{budget}{where}",
    "We need to run {what} built with {stack}. Expect {users}.{ha}{scale}{budget}{where}",
    "Please host our {stack} app, {what}, for {users}.{ha}{scale}{budget}{where}",
    "{what} in {stack}: production deployment for {users}.{ha}{scale}{budget}{where}",
    "Set up {what} written in {stack}; traffic is {users}.{ha}{scale}{budget}{where}",
    "Ship {what} to the cloud. Stack: {stack}. Load: {users}.{ha}{scale}{budget}{where}",
)
_USERS = {
    "low": ("a handful of internal users", "about {n} users a day", "low traffic, maybe {n} users", "a small pilot"),
    "medium": ("around {n} daily users", "a few thousand users", "{n} users and steady traffic", "moderate load"),
    "high": ("{n} concurrent users at peak", "heavy traffic, {rps} requests per second", "a large audience",
             "tens of thousands of users"),
}
_HA = (" It must be highly available.", " No downtime allowed: run it across zones.",
       " This is business critical, make it HA.", " It needs redundancy across availability zones.")
_SCALE = (" It should autoscale.", " Scale out automatically under load.", " Traffic is spiky, add autoscaling.")
_BUDGET = (" Budget is ${b} per month.", " Keep it under ${b}/month.", " We can spend at most {b} USD a month.",
           " Cost matters: max ${b} monthly.")
_WHERE = (" Use {cloud} in {region}.", " Region {region} on {cloud}.", " Host it in {region}.", "")


def _prompt(rng: random.Random, app: App, intent: Intent) -> str:
    _, what, _ = next(d for d in DOMAINS if d[0] == app.domain)
    # The prompt states the load the world simulates: the tier's own users and requests/s. (It
    # used to state 0.5-3x the tier's users while the world simulated the tier: "90000 concurrent
    # users" ran at 30,000 users' 600 requests/s, "1000 users" at 2,000 users' memory.)
    n, rps = TRAFFIC[intent.traffic]
    words = {
        "what": what,
        "stack": "a static site" if app.framework == "static" else f"{app.framework} on {app.language}",
        "users": rng.choice(_USERS[intent.traffic]).format(n=n, rps=rps),
        "ha": rng.choice(_HA) if intent.high_availability else "",
        "scale": rng.choice(_SCALE) if intent.autoscaling else "",
        "budget": rng.choice(_BUDGET).format(b=int(intent.budget)) if intent.budget else "",
        "where": rng.choice(_WHERE).format(cloud=CLOUDS[intent.cloud]["name"].upper(), region=intent.region),
    }
    return rng.choice(_TEMPLATES).format(**words)


# --- the generator -----------------------------------------------------------------------------


def _pick(rng: random.Random, weights: dict) -> object:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _dns_name(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:50]


# In `recurring_scenarios`, the share of deployments that are an earlier app's new deployment.
RECURRING_SHARE = 1 / 3


def deployed_before(items: Sequence[Scenario], index: int) -> bool:
    """Whether the app of `items[index]` was deployed earlier in the stream."""
    return any(p.app.key == items[index].app.key for p in items[:index])
# Where history starts; records are dated from here, so the same seed gives the same records.
EPOCH = datetime(2025, 12, 1, tzinfo=UTC)
# History shape: records per distinct app codebase, and intents (environments) per app.
RECORDS_PER_APP = 20
INTENTS_PER_APP = 3
HISTORY_DAYS = 360


@dataclass
class ScenarioGenerator:
    """Apps, scenarios and deployment history, all from `seed`."""

    seed: int = 0
    family_weights: dict[str, int] = field(default_factory=lambda: dict(FAMILY_WEIGHTS))
    stack_weights: dict[str, int] = field(default_factory=lambda: dict(STACK_WEIGHTS))

    def _rng(self, *parts: object) -> random.Random:
        # One independent stream per (purpose, index): adding apps never changes existing ones.
        return random.Random(hashlib.sha256(repr((self.seed, *parts)).encode()).digest())

    def app(self, index: int) -> App:
        rng = self._rng("app", index)
        framework = str(_pick(rng, self.stack_weights))
        stack = STACKS[framework]
        family = "standard" if framework == "static" else str(_pick(rng, self.family_weights))
        if framework == "static":
            domain = rng.choice(STATIC_DOMAINS)
        else:
            domain = rng.choice([d[0] for d in DOMAINS if d[0] not in STATIC_DOMAINS])
        traits = set(next(d for d in DOMAINS if d[0] == domain)[2])
        if framework != "static" and rng.random() < 0.5:
            traits.add(common_pb2.TRAIT_KIND_HEALTH_ENDPOINT)
        dependencies = [(name, spec, False) for name, spec in stack.core]
        dependencies += [(name, spec, False) for name, spec in rng.sample(stack.optional, rng.randint(1, min(4, len(stack.optional))))]
        for name, spec in FAMILY_SIGNATURES.get(family, {}).get(stack.language, ()):
            if rng.random() < SIGNATURE_P and all(name != d[0] for d in dependencies):
                dependencies.append((name, spec, False))
        # Noise: a signature library used by an app of another family (teams share toolboxes).
        if framework != "static" and rng.random() < 0.15:
            other = rng.choice([f for f in FAMILY_SIGNATURES if f != family])
            pool = FAMILY_SIGNATURES[other].get(stack.language, ())
            if pool:
                name, spec = rng.choice(pool)
                if all(name != d[0] for d in dependencies):
                    dependencies.append((name, spec, False))
        if stack.ecosystem in ("pypi", "npm") and framework != "static":
            dependencies.append(("pytest" if stack.ecosystem == "pypi" else "jest",
                                 "==8.2.2" if stack.ecosystem == "pypi" else "^29.7.0", True))
        backing: set[str] = set()
        if framework != "static":
            if rng.random() < 0.75:
                backing.add(rng.choice(("postgres", "postgres", "mysql", "mongodb")))
            if rng.random() < 0.4 or common_pb2.TRAIT_KIND_BACKGROUND_WORKER in traits:
                backing.add("redis")
            if rng.random() < 0.1:
                backing.add(rng.choice(("rabbitmq", "elasticsearch")))
        name = _dns_name(f"{domain}-{rng.choice(('api', 'service', 'app', 'web', 'backend', 'core'))}-{index}")
        return App(
            key=f"app-{index}",
            name=name,
            family=family,
            framework=framework,
            language=stack.language,
            domain=domain,
            runtime_version=rng.choice(stack.runtime_versions),
            dependencies=tuple(dependencies),
            traits=tuple(sorted(traits)),
            backing=tuple(sorted(backing)),
            port=stack.port,
            has_dockerfile=rng.random() < 0.6,
            repo_url=f"https://github.com/acme-{index % 97}/{name}",
        )

    def intent(self, app: App, index: int) -> Intent:
        rng = self._rng("intent", app.key, index)
        traffic = rng.choices(("low", "medium", "high"), weights=(35, 45, 20))[0]
        cloud = int(_pick(rng, CLOUD_WEIGHTS))
        region = rng.choice(CLOUDS[cloud]["regions"])
        ha = app.framework != "static" and rng.random() < (0.45 if traffic == "high" else 0.15)
        scaling = app.framework != "static" and rng.random() < 0.2
        budget = float(rng.choice((0, 0, 50, 100, 200, 300, 500, 1000)))
        draft = Intent("", traffic, ha, scaling, budget, cloud, region)
        return Intent(_prompt(rng, app, draft), traffic, ha, scaling, budget, cloud, region)

    def scenario(self, index: int, app_index: int | None = None) -> Scenario:
        """Scenario `index`: a fresh app (or app `app_index`) with a fresh intent."""
        app = self.app(index if app_index is None else app_index)
        return Scenario(f"s{self.seed}-{index}", app, self.intent(app, index))

    def scenarios(self, count: int, start: int = 0) -> list[Scenario]:
        """`count` scenarios, each with its own app: for a planner's decision-accuracy run. Use a
        different `start` (or seed) for a held-out set: indices never overlap."""
        return [self.scenario(i) for i in range(start, start + count)]

    def recurring_scenarios(self, count: int, share: float = RECURRING_SHARE) -> list[Scenario]:
        """`count` scenarios in which, after the first, each is with probability `share` a new
        deployment of an app already in the list (a new intent: another environment, a new
        version's load), as on a platform where teams deploy the same services again; the others
        are scenario `index`'s fresh app. A second, easier stream than `scenarios` (every app new)."""
        items: list[Scenario] = []
        for index in range(count):
            rng = self._rng("recurring", index)
            if items and rng.random() < share:
                earlier = items[rng.randrange(len(items))].app
                items.append(Scenario(f"s{self.seed}-again-{index}", earlier, self.intent(earlier, index)))
            else:
                items.append(self.scenario(index))
        return items

    # --- history ------------------------------------------------------------------------------

    def historical_choice(self, rng: random.Random, scenario: Scenario) -> PlanChoice:
        """How plans were chosen before SCIA learned: mostly the visible-facts rules, sometimes
        the right plan (an experienced engineer), sometimes a cheaper or bigger guess."""
        roll = rng.random()
        if roll < 0.5:
            return knowledge_base_plan(scenario)
        if roll < 0.7:
            return oracle(scenario)
        base = knowledge_base_plan(scenario)
        if roll < 0.85:
            smaller = SIZES[max(0, SIZES.index(base.size) - 1)]
            return PlanChoice(base.strategy, smaller, base.instances, base.autoscaling)
        if roll < 0.93:
            return PlanChoice(base.strategy, _bigger(base.size, 2), base.instances, base.autoscaling)
        return PlanChoice(common_pb2.STRATEGY_SERVERLESS, base.size)

    @staticmethod
    def fix(scenario: Scenario, plan: PlanChoice, result: SimulatedOutcome) -> PlanChoice:
        """What a team does after a failed or degraded revision: move toward what works."""
        expected = oracle(scenario)
        if result.outcome == common_pb2.OUTCOME_SUCCESS:
            return plan
        if "OOMKilled" in result.reason:
            return PlanChoice(plan.strategy, _bigger(plan.size), plan.instances, plan.autoscaling)
        if plan.strategy == common_pb2.STRATEGY_SERVERLESS:
            return PlanChoice(expected.strategy if expected.strategy != common_pb2.STRATEGY_SERVERLESS
                              else common_pb2.STRATEGY_VM, plan.size, 1, False)
        return PlanChoice(common_pb2.STRATEGY_KUBERNETES, plan.size, max(expected.instances, plan.instances),
                          expected.autoscaling or plan.autoscaling)

    def deployments(self, count: int | None, *, apps: int | None = None) -> Iterator[tuple[Scenario, list[PlanChoice]]]:
        """`count` deployments (app + intent), each with the plans of its revisions in order.

        Apps are reused across deployments (several environments and teams deploy the same kind
        of service), which is what makes the history clustered. A deployment has 1 to 8
        revisions: a failure is followed by a fix; a success is often re-deployed unchanged
        (new commits), so revisions repeat the plan and text.
        """
        apps = apps or max(1, (count or 3000) // 3)
        for index in itertools.count() if count is None else range(count):
            rng = self._rng("deployment", index)
            app = self.app(rng.randrange(apps))
            # An app is deployed with one of a few intents (its environments: the same words each
            # time), so deployments of one app+intent by several teams share their texts.
            variant = rng.randrange(INTENTS_PER_APP)
            scenario = Scenario(f"d{self.seed}-{index}", app, self.intent(app, 1_000_000 + variant))
            plans = [self.historical_choice(rng, scenario)]
            revisions = 1 + min(7, int(rng.expovariate(0.45)))
            while len(plans) < revisions:
                result = simulate(scenario, plans[-1])
                plans.append(self.fix(scenario, plans[-1], result) if rng.random() < 0.9 else plans[-1])
            yield scenario, plans

    def records(self, count: int, tenant: str, *, apps: int | None = None) -> Iterator[tuple[Scenario, PlanChoice, common_pb2.DeploymentRecord]]:
        """`count` DeploymentRecords of realistic history (plan, outcome, metrics, feedback votes
        in record.feedback), with the scenario and plan each came from."""
        produced = 0
        # About 3 revisions per deployment on average; the stream is unbounded, we stop at `count`.
        apps = apps or max(1, count // RECORDS_PER_APP)
        deployments = self.deployments(None, apps=apps)
        while produced < count:
            scenario, plans = next(deployments)
            rng = self._rng("record", scenario.key)
            start = EPOCH + timedelta(days=rng.uniform(0, HISTORY_DAYS - 30))
            uid = str(_uuid_from(rng))
            for revision, plan in enumerate(plans, start=1):
                if produced >= count:
                    break
                created = start + timedelta(hours=revision * rng.uniform(2, 72))
                yield scenario, plan, self.record(scenario, plan, tenant, uid, revision, created, rng)
                produced += 1

    def record(self, scenario: Scenario, plan: PlanChoice, tenant: str, uid: str, revision: int,
               created_at: datetime, rng: random.Random | None = None) -> common_pb2.DeploymentRecord:
        rng = rng or self._rng("record", scenario.key, revision)
        result = simulate(scenario, plan, seed=revision)
        record = common_pb2.DeploymentRecord(
            tenant=tenant, name=scenario.app.name, uid=uid, revision=revision,
            repository=common_pb2.RepositoryRef(url=scenario.app.repo_url, commit_sha=f"{rng.getrandbits(160):040x}"),
            analysis=scenario.analysis(), intent=scenario.deployment_intent(), plan=plan_message(scenario, plan),
            outcome=result.outcome, outcome_reason=result.reason,
        )
        record.analysis.repository.commit_sha = record.repository.commit_sha
        record.metrics.memory_utilization = result.memory_utilization
        record.metrics.latency_p99_ms = result.latency_p99_ms
        record.metrics.error_rate = result.error_rate
        record.metrics.restarts = result.restarts
        record.metrics.actual_monthly_cost_usd = round(record.plan.cost.monthly_total_usd * rng.uniform(0.85, 1.2), 2)
        record.created_at.FromDatetime(created_at)
        for user, vote, comment in feedback_votes(rng, scenario, plan, result):
            record.feedback.votes.add(user=user, vote=vote, comment=comment)
            if vote > 0:
                record.feedback.up += 1
            else:
                record.feedback.down += 1
        return record


def _uuid_from(rng: random.Random):
    import uuid

    return uuid.UUID(int=rng.getrandbits(128), version=4)


def feedback_votes(rng: random.Random, scenario: Scenario, plan: PlanChoice,
                   result: SimulatedOutcome) -> list[tuple[str, int, str]]:
    """Votes a team would leave: most records get none; right-sized successes collect upvotes,
    failures and over-provisioned plans downvotes."""
    if rng.random() < 0.6:
        return []
    users = [f"dev-{rng.randrange(40)}" for _ in range(rng.randint(1, 3))]
    if result.outcome == common_pb2.OUTCOME_SUCCESS and not over_provisioned(scenario, plan):
        return [(u, 1, "") for u in dict.fromkeys(users)]
    if result.outcome == common_pb2.OUTCOME_SUCCESS:
        return [(u, -1, "over-provisioned for the load") for u in dict.fromkeys(users)]
    return [(u, -1, result.reason) for u in dict.fromkeys(users)]


# --- relevance labels, evaluation sets and training pairs --------------------------------------


def relevance(query: Scenario, record_scenario: Scenario) -> int:
    """Graded relevance (0-3) of a past deployment to a query, by the oracle.

    3: same family and framework and the same correct plan (its lesson applies as is);
    2: same family and framework, or same framework and the same correct plan;
    1: same family and language, or same framework;
    0: otherwise.
    """
    a, b = query.app, record_scenario.app
    same_family, same_framework = a.family == b.family, a.framework == b.framework
    same_plan = oracle(query) == oracle(record_scenario)
    if same_family and same_framework and same_plan:
        return 3
    if same_family and same_framework or same_framework and same_plan:
        return 2
    if same_family and a.language == b.language or same_framework:
        return 1
    return 0


def write_jsonl(path: Path, items: Sequence[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(item, sort_keys=True) + "\n" for item in items), encoding="utf-8")
    return path


def evaluation_items(generator: ScenarioGenerator, records: int, queries: int, *, apps: int | None = None,
                     query_start: int = 5_000_000) -> list[dict]:
    """An evaluation set for `scia-rag evaluate-reranker`: a corpus of records (their text, ranking
    features and proto as JSON) and held-out queries (text and DeploymentQuery proto) with graded
    oracle labels for every corpus record of non-zero relevance. The protos are what a model of a
    structured input format (compact-v1) is fed from, as in the service. Held-out: the queries'
    intents never occur in the corpus; their apps may (as in production, where the same kind of
    service is deployed again)."""
    from google.protobuf import json_format
    from scia.rag.ranking import query_text, record_text

    items: list[dict] = []
    corpus: list[tuple[str, Scenario]] = []
    for number, (scenario, _plan, record) in enumerate(generator.records(records, "eval", apps=apps)):
        key = f"r{number}"
        corpus.append((key, scenario))
        items.append({
            "type": "record", "id": key, "text": record_text(record),
            "outcome": record.outcome, "cost": record.plan.cost.monthly_total_usd,
            "created_at": record.created_at.ToDatetime(tzinfo=UTC).isoformat(),
            "up": record.feedback.up, "down": record.feedback.down,
            "record": json_format.MessageToDict(record),
        })
    app_count = apps or max(1, records // RECORDS_PER_APP)  # the corpus's apps (records()'s default)
    for number in range(queries):
        rng = generator._rng("eval-query", number)
        app = generator.app(rng.randrange(app_count))
        scenario = Scenario(f"q{number}", app, generator.intent(app, query_start + number))
        labels = {key: gain for key, other in corpus if (gain := relevance(scenario, other)) > 0}
        items.append({
            "type": "query", "id": scenario.key,
            "text": query_text(scenario.analysis(), scenario.deployment_intent()),
            "budget": scenario.intent.budget, "relevance": labels,
            "query": json_format.MessageToDict(scenario.query()),
        })
    return items


def training_pairs(generator: ScenarioGenerator, queries: int, *, negatives: int = 4, apps: int = 400,
                   start: int = 7_000_000) -> list[dict]:
    """Judged (query, record text, label in [0, 1]) pairs for `scia-rag train-reranker --pairs`.

    Label = oracle relevance / 3. Per query: a few records of the same app cluster (positives and
    hard negatives: same framework, other family) and random others. Uses its own index range,
    disjoint from the evaluation queries' intents.
    """
    from scia.rag.ranking import query_text, record_text

    pool = list(generator.records(queries * 3, "train", apps=apps))
    by_framework: dict[str, list[tuple[Scenario, common_pb2.DeploymentRecord]]] = {}
    for scenario, _plan, record in pool:
        by_framework.setdefault(scenario.app.framework, []).append((scenario, record))
    pairs: list[dict] = []
    for number in range(queries):
        rng = generator._rng("train-query", number)
        app = generator.app(rng.randrange(apps))
        scenario = Scenario(f"t{number}", app, generator.intent(app, start + number))
        query = query_text(scenario.analysis(), scenario.deployment_intent())
        same = by_framework.get(app.framework, [])
        chosen = rng.sample(same, min(len(same), 2 + negatives // 2)) if same else []
        for _ in range(negatives - negatives // 2):
            other, _plan, record = pool[rng.randrange(len(pool))]
            chosen.append((other, record))
        for other, record in chosen:
            pairs.append({"query": query, "text": record_text(record), "label": relevance(scenario, other) / 3})
    return pairs


def describe(scenario: Scenario) -> dict:
    """A JSON-friendly view of a scenario with its oracle plan (for reports and debugging)."""
    return {
        "key": scenario.key, "family": scenario.family, "framework": scenario.app.framework,
        "traits": [common_pb2.TraitKind.Name(t) for t in scenario.app.traits],
        "intent": asdict(scenario.intent), "oracle": oracle(scenario).label,
        "knowledge_base": knowledge_base_plan(scenario).label,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m bench.scenarios eval-set|pairs|show`: write the generator's data sets."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.scenarios", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ev = commands.add_parser("eval-set", help="records + held-out labelled queries for scia-rag evaluate-reranker")
    ev.add_argument("--out", required=True)
    ev.add_argument("--records", type=int, default=3000)
    ev.add_argument("--queries", type=int, default=100)
    ev.add_argument("--seed", type=int, default=44)
    pairs = commands.add_parser("pairs", help="judged pairs for scia-rag train-reranker --pairs")
    pairs.add_argument("--out", required=True)
    pairs.add_argument("--queries", type=int, default=75)
    pairs.add_argument("--negatives", type=int, default=4)
    pairs.add_argument("--seed", type=int, default=43)
    show = commands.add_parser("show", help="print scenarios with their oracle and knowledge-base plans")
    show.add_argument("--count", type=int, default=10)
    show.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    generator = ScenarioGenerator(seed=args.seed)
    if args.command == "eval-set":
        path = write_jsonl(Path(args.out), evaluation_items(generator, args.records, args.queries))
    elif args.command == "pairs":
        path = write_jsonl(Path(args.out), training_pairs(generator, args.queries, negatives=args.negatives))
    else:
        for scenario in generator.scenarios(args.count):
            print(json.dumps(describe(scenario)))
        return
    print(path)


if __name__ == "__main__":
    main()
