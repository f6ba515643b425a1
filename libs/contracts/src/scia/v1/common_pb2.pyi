import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Strategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STRATEGY_UNSPECIFIED: _ClassVar[Strategy]
    STRATEGY_VM: _ClassVar[Strategy]
    STRATEGY_KUBERNETES: _ClassVar[Strategy]
    STRATEGY_SERVERLESS: _ClassVar[Strategy]

class Cloud(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLOUD_UNSPECIFIED: _ClassVar[Cloud]
    CLOUD_AWS: _ClassVar[Cloud]
    CLOUD_GCP: _ClassVar[Cloud]
    CLOUD_AZURE: _ClassVar[Cloud]

class BudgetEnforcement(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_ENFORCEMENT_UNSPECIFIED: _ClassVar[BudgetEnforcement]
    BUDGET_ENFORCEMENT_SOFT: _ClassVar[BudgetEnforcement]
    BUDGET_ENFORCEMENT_HARD: _ClassVar[BudgetEnforcement]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_PENDING: _ClassVar[Outcome]
    OUTCOME_SUCCESS: _ClassVar[Outcome]
    OUTCOME_FAILED: _ClassVar[Outcome]
    OUTCOME_DEGRADED: _ClassVar[Outcome]
    OUTCOME_DELETED: _ClassVar[Outcome]

class TraitKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAIT_KIND_UNSPECIFIED: _ClassVar[TraitKind]
    TRAIT_KIND_WEBSOCKETS: _ClassVar[TraitKind]
    TRAIT_KIND_BACKGROUND_WORKER: _ClassVar[TraitKind]
    TRAIT_KIND_SCHEDULED_JOBS: _ClassVar[TraitKind]
    TRAIT_KIND_GPU: _ClassVar[TraitKind]
    TRAIT_KIND_PERSISTENT_STATE: _ClassVar[TraitKind]
    TRAIT_KIND_HEALTH_ENDPOINT: _ClassVar[TraitKind]
    TRAIT_KIND_FILE_UPLOADS: _ClassVar[TraitKind]
    TRAIT_KIND_LONG_RUNNING_JOBS: _ClassVar[TraitKind]
    TRAIT_KIND_STATIC_SITE: _ClassVar[TraitKind]
    TRAIT_KIND_ML_INFERENCE: _ClassVar[TraitKind]
STRATEGY_UNSPECIFIED: Strategy
STRATEGY_VM: Strategy
STRATEGY_KUBERNETES: Strategy
STRATEGY_SERVERLESS: Strategy
CLOUD_UNSPECIFIED: Cloud
CLOUD_AWS: Cloud
CLOUD_GCP: Cloud
CLOUD_AZURE: Cloud
BUDGET_ENFORCEMENT_UNSPECIFIED: BudgetEnforcement
BUDGET_ENFORCEMENT_SOFT: BudgetEnforcement
BUDGET_ENFORCEMENT_HARD: BudgetEnforcement
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_PENDING: Outcome
OUTCOME_SUCCESS: Outcome
OUTCOME_FAILED: Outcome
OUTCOME_DEGRADED: Outcome
OUTCOME_DELETED: Outcome
TRAIT_KIND_UNSPECIFIED: TraitKind
TRAIT_KIND_WEBSOCKETS: TraitKind
TRAIT_KIND_BACKGROUND_WORKER: TraitKind
TRAIT_KIND_SCHEDULED_JOBS: TraitKind
TRAIT_KIND_GPU: TraitKind
TRAIT_KIND_PERSISTENT_STATE: TraitKind
TRAIT_KIND_HEALTH_ENDPOINT: TraitKind
TRAIT_KIND_FILE_UPLOADS: TraitKind
TRAIT_KIND_LONG_RUNNING_JOBS: TraitKind
TRAIT_KIND_STATIC_SITE: TraitKind
TRAIT_KIND_ML_INFERENCE: TraitKind

class RepositoryRef(_message.Message):
    __slots__ = ("url", "ref", "commit_sha", "subdirectory")
    URL_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    COMMIT_SHA_FIELD_NUMBER: _ClassVar[int]
    SUBDIRECTORY_FIELD_NUMBER: _ClassVar[int]
    url: str
    ref: str
    commit_sha: str
    subdirectory: str
    def __init__(self, url: _Optional[str] = ..., ref: _Optional[str] = ..., commit_sha: _Optional[str] = ..., subdirectory: _Optional[str] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("file", "line", "rule", "detail")
    FILE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    file: str
    line: int
    rule: str
    detail: str
    def __init__(self, file: _Optional[str] = ..., line: _Optional[int] = ..., rule: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Dependency(_message.Message):
    __slots__ = ("name", "version_spec", "ecosystem", "dev", "evidence")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_SPEC_FIELD_NUMBER: _ClassVar[int]
    ECOSYSTEM_FIELD_NUMBER: _ClassVar[int]
    DEV_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version_spec: str
    ecosystem: str
    dev: bool
    evidence: Evidence
    def __init__(self, name: _Optional[str] = ..., version_spec: _Optional[str] = ..., ecosystem: _Optional[str] = ..., dev: _Optional[bool] = ..., evidence: _Optional[_Union[Evidence, _Mapping]] = ...) -> None: ...

class Port(_message.Message):
    __slots__ = ("number", "protocol", "evidence")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    number: int
    protocol: str
    evidence: Evidence
    def __init__(self, number: _Optional[int] = ..., protocol: _Optional[str] = ..., evidence: _Optional[_Union[Evidence, _Mapping]] = ...) -> None: ...

class Trait(_message.Message):
    __slots__ = ("kind", "value", "evidence")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    kind: TraitKind
    value: str
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    def __init__(self, kind: _Optional[_Union[TraitKind, str]] = ..., value: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ...) -> None: ...

class BackingService(_message.Message):
    __slots__ = ("kind", "name", "version", "evidence")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    version: str
    evidence: Evidence
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., evidence: _Optional[_Union[Evidence, _Mapping]] = ...) -> None: ...

class Application(_message.Message):
    __slots__ = ("path", "name", "language", "framework", "confidence", "framework_evidence", "dependencies", "ports", "start_command", "start_command_evidence", "has_dockerfile", "traits", "runtime_version")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    FRAMEWORK_EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    START_COMMAND_FIELD_NUMBER: _ClassVar[int]
    START_COMMAND_EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    HAS_DOCKERFILE_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_VERSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    name: str
    language: str
    framework: str
    confidence: float
    framework_evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    dependencies: _containers.RepeatedCompositeFieldContainer[Dependency]
    ports: _containers.RepeatedCompositeFieldContainer[Port]
    start_command: str
    start_command_evidence: Evidence
    has_dockerfile: bool
    traits: _containers.RepeatedCompositeFieldContainer[Trait]
    runtime_version: str
    def __init__(self, path: _Optional[str] = ..., name: _Optional[str] = ..., language: _Optional[str] = ..., framework: _Optional[str] = ..., confidence: _Optional[float] = ..., framework_evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., dependencies: _Optional[_Iterable[_Union[Dependency, _Mapping]]] = ..., ports: _Optional[_Iterable[_Union[Port, _Mapping]]] = ..., start_command: _Optional[str] = ..., start_command_evidence: _Optional[_Union[Evidence, _Mapping]] = ..., has_dockerfile: _Optional[bool] = ..., traits: _Optional[_Iterable[_Union[Trait, _Mapping]]] = ..., runtime_version: _Optional[str] = ...) -> None: ...

class RepositoryAnalysis(_message.Message):
    __slots__ = ("repository", "applications", "has_compose", "backing_services", "file_count", "size_bytes", "warnings", "analyzed_at")
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    HAS_COMPOSE_FIELD_NUMBER: _ClassVar[int]
    BACKING_SERVICES_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    ANALYZED_AT_FIELD_NUMBER: _ClassVar[int]
    repository: RepositoryRef
    applications: _containers.RepeatedCompositeFieldContainer[Application]
    has_compose: bool
    backing_services: _containers.RepeatedCompositeFieldContainer[BackingService]
    file_count: int
    size_bytes: int
    warnings: _containers.RepeatedScalarFieldContainer[str]
    analyzed_at: _timestamp_pb2.Timestamp
    def __init__(self, repository: _Optional[_Union[RepositoryRef, _Mapping]] = ..., applications: _Optional[_Iterable[_Union[Application, _Mapping]]] = ..., has_compose: _Optional[bool] = ..., backing_services: _Optional[_Iterable[_Union[BackingService, _Mapping]]] = ..., file_count: _Optional[int] = ..., size_bytes: _Optional[int] = ..., warnings: _Optional[_Iterable[str]] = ..., analyzed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ("max_monthly_cost_usd", "alert_threshold", "enforcement")
    MAX_MONTHLY_COST_USD_FIELD_NUMBER: _ClassVar[int]
    ALERT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ENFORCEMENT_FIELD_NUMBER: _ClassVar[int]
    max_monthly_cost_usd: float
    alert_threshold: float
    enforcement: BudgetEnforcement
    def __init__(self, max_monthly_cost_usd: _Optional[float] = ..., alert_threshold: _Optional[float] = ..., enforcement: _Optional[_Union[BudgetEnforcement, str]] = ...) -> None: ...

class DeploymentIntent(_message.Message):
    __slots__ = ("prompt", "cloud", "region", "budget", "policies", "strategy", "cloud_provider")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    CLOUD_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CLOUD_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    cloud: Cloud
    region: str
    budget: Budget
    policies: _containers.RepeatedScalarFieldContainer[str]
    strategy: Strategy
    cloud_provider: str
    def __init__(self, prompt: _Optional[str] = ..., cloud: _Optional[_Union[Cloud, str]] = ..., region: _Optional[str] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ..., policies: _Optional[_Iterable[str]] = ..., strategy: _Optional[_Union[Strategy, str]] = ..., cloud_provider: _Optional[str] = ...) -> None: ...

class Requirements(_message.Message):
    __slots__ = ("expected_rps", "expected_users", "high_availability", "autoscaling", "latency_p99_ms", "instance_type", "node_count", "memory_mb", "evidence")
    EXPECTED_RPS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_USERS_FIELD_NUMBER: _ClassVar[int]
    HIGH_AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    AUTOSCALING_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_MS_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    NODE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    expected_rps: float
    expected_users: int
    high_availability: bool
    autoscaling: bool
    latency_p99_ms: int
    instance_type: str
    node_count: int
    memory_mb: int
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    def __init__(self, expected_rps: _Optional[float] = ..., expected_users: _Optional[int] = ..., high_availability: _Optional[bool] = ..., autoscaling: _Optional[bool] = ..., latency_p99_ms: _Optional[int] = ..., instance_type: _Optional[str] = ..., node_count: _Optional[int] = ..., memory_mb: _Optional[int] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ...) -> None: ...

class VmConfig(_message.Message):
    __slots__ = ("instance_type", "instance_count", "min_count", "max_count", "volume_size_gb", "zones")
    INSTANCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MIN_COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_COUNT_FIELD_NUMBER: _ClassVar[int]
    VOLUME_SIZE_GB_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    instance_type: str
    instance_count: int
    min_count: int
    max_count: int
    volume_size_gb: int
    zones: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, instance_type: _Optional[str] = ..., instance_count: _Optional[int] = ..., min_count: _Optional[int] = ..., max_count: _Optional[int] = ..., volume_size_gb: _Optional[int] = ..., zones: _Optional[_Iterable[str]] = ...) -> None: ...

class KubernetesConfig(_message.Message):
    __slots__ = ("node_type", "min_nodes", "max_nodes", "desired_nodes", "node_volume_size_gb", "replicas", "pod_cpu_millicores", "pod_memory_mb")
    NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    MIN_NODES_FIELD_NUMBER: _ClassVar[int]
    MAX_NODES_FIELD_NUMBER: _ClassVar[int]
    DESIRED_NODES_FIELD_NUMBER: _ClassVar[int]
    NODE_VOLUME_SIZE_GB_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    POD_CPU_MILLICORES_FIELD_NUMBER: _ClassVar[int]
    POD_MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    node_type: str
    min_nodes: int
    max_nodes: int
    desired_nodes: int
    node_volume_size_gb: int
    replicas: int
    pod_cpu_millicores: int
    pod_memory_mb: int
    def __init__(self, node_type: _Optional[str] = ..., min_nodes: _Optional[int] = ..., max_nodes: _Optional[int] = ..., desired_nodes: _Optional[int] = ..., node_volume_size_gb: _Optional[int] = ..., replicas: _Optional[int] = ..., pod_cpu_millicores: _Optional[int] = ..., pod_memory_mb: _Optional[int] = ...) -> None: ...

class ServerlessConfig(_message.Message):
    __slots__ = ("memory_mb", "timeout_seconds", "provisioned_concurrency")
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PROVISIONED_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    memory_mb: int
    timeout_seconds: int
    provisioned_concurrency: int
    def __init__(self, memory_mb: _Optional[int] = ..., timeout_seconds: _Optional[int] = ..., provisioned_concurrency: _Optional[int] = ...) -> None: ...

class ManagedService(_message.Message):
    __slots__ = ("kind", "instance_class", "storage_gb", "high_availability")
    KIND_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_CLASS_FIELD_NUMBER: _ClassVar[int]
    STORAGE_GB_FIELD_NUMBER: _ClassVar[int]
    HIGH_AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    kind: str
    instance_class: str
    storage_gb: int
    high_availability: bool
    def __init__(self, kind: _Optional[str] = ..., instance_class: _Optional[str] = ..., storage_gb: _Optional[int] = ..., high_availability: _Optional[bool] = ...) -> None: ...

class Configuration(_message.Message):
    __slots__ = ("cloud", "region", "vm", "kubernetes", "serverless", "managed_services", "https", "monitoring", "app_port", "start_command", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CLOUD_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    VM_FIELD_NUMBER: _ClassVar[int]
    KUBERNETES_FIELD_NUMBER: _ClassVar[int]
    SERVERLESS_FIELD_NUMBER: _ClassVar[int]
    MANAGED_SERVICES_FIELD_NUMBER: _ClassVar[int]
    HTTPS_FIELD_NUMBER: _ClassVar[int]
    MONITORING_FIELD_NUMBER: _ClassVar[int]
    APP_PORT_FIELD_NUMBER: _ClassVar[int]
    START_COMMAND_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    cloud: Cloud
    region: str
    vm: VmConfig
    kubernetes: KubernetesConfig
    serverless: ServerlessConfig
    managed_services: _containers.RepeatedCompositeFieldContainer[ManagedService]
    https: bool
    monitoring: bool
    app_port: int
    start_command: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, cloud: _Optional[_Union[Cloud, str]] = ..., region: _Optional[str] = ..., vm: _Optional[_Union[VmConfig, _Mapping]] = ..., kubernetes: _Optional[_Union[KubernetesConfig, _Mapping]] = ..., serverless: _Optional[_Union[ServerlessConfig, _Mapping]] = ..., managed_services: _Optional[_Iterable[_Union[ManagedService, _Mapping]]] = ..., https: _Optional[bool] = ..., monitoring: _Optional[bool] = ..., app_port: _Optional[int] = ..., start_command: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CostItem(_message.Message):
    __slots__ = ("name", "description", "quantity", "unit", "unit_price_usd", "monthly_usd")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_USD_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_USD_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    quantity: float
    unit: str
    unit_price_usd: float
    monthly_usd: float
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., quantity: _Optional[float] = ..., unit: _Optional[str] = ..., unit_price_usd: _Optional[float] = ..., monthly_usd: _Optional[float] = ...) -> None: ...

class CostEstimate(_message.Message):
    __slots__ = ("items", "monthly_total_usd", "pricing_source")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_TOTAL_USD_FIELD_NUMBER: _ClassVar[int]
    PRICING_SOURCE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[CostItem]
    monthly_total_usd: float
    pricing_source: str
    def __init__(self, items: _Optional[_Iterable[_Union[CostItem, _Mapping]]] = ..., monthly_total_usd: _Optional[float] = ..., pricing_source: _Optional[str] = ...) -> None: ...

class BudgetVerdict(_message.Message):
    __slots__ = ("status", "budget_usd", "estimated_usd", "enforcement", "message")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[BudgetVerdict.Status]
        STATUS_NO_BUDGET: _ClassVar[BudgetVerdict.Status]
        STATUS_WITHIN: _ClassVar[BudgetVerdict.Status]
        STATUS_ALERT: _ClassVar[BudgetVerdict.Status]
        STATUS_OVER: _ClassVar[BudgetVerdict.Status]
    STATUS_UNSPECIFIED: BudgetVerdict.Status
    STATUS_NO_BUDGET: BudgetVerdict.Status
    STATUS_WITHIN: BudgetVerdict.Status
    STATUS_ALERT: BudgetVerdict.Status
    STATUS_OVER: BudgetVerdict.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_USD_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_USD_FIELD_NUMBER: _ClassVar[int]
    ENFORCEMENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    status: BudgetVerdict.Status
    budget_usd: float
    estimated_usd: float
    enforcement: BudgetEnforcement
    message: str
    def __init__(self, status: _Optional[_Union[BudgetVerdict.Status, str]] = ..., budget_usd: _Optional[float] = ..., estimated_usd: _Optional[float] = ..., enforcement: _Optional[_Union[BudgetEnforcement, str]] = ..., message: _Optional[str] = ...) -> None: ...

class Alternative(_message.Message):
    __slots__ = ("strategy", "reason", "confidence", "cost")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    strategy: Strategy
    reason: str
    confidence: float
    cost: CostEstimate
    def __init__(self, strategy: _Optional[_Union[Strategy, str]] = ..., reason: _Optional[str] = ..., confidence: _Optional[float] = ..., cost: _Optional[_Union[CostEstimate, _Mapping]] = ...) -> None: ...

class Citation(_message.Message):
    __slots__ = ("record_id", "summary", "outcome", "score", "influence")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    INFLUENCE_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    summary: str
    outcome: Outcome
    score: float
    influence: str
    def __init__(self, record_id: _Optional[str] = ..., summary: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., score: _Optional[float] = ..., influence: _Optional[str] = ...) -> None: ...

class PlanProvenance(_message.Message):
    __slots__ = ("engine", "retrieval_used", "retrieval_note", "llm_model", "llm_rejection_reason")
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    RETRIEVAL_USED_FIELD_NUMBER: _ClassVar[int]
    RETRIEVAL_NOTE_FIELD_NUMBER: _ClassVar[int]
    LLM_MODEL_FIELD_NUMBER: _ClassVar[int]
    LLM_REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    engine: str
    retrieval_used: bool
    retrieval_note: str
    llm_model: str
    llm_rejection_reason: str
    def __init__(self, engine: _Optional[str] = ..., retrieval_used: _Optional[bool] = ..., retrieval_note: _Optional[str] = ..., llm_model: _Optional[str] = ..., llm_rejection_reason: _Optional[str] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("strategy", "reason", "confidence", "alternatives", "configuration", "cost", "budget", "citations", "warnings", "rejected", "rejection_reason", "provenance", "requirements")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    strategy: Strategy
    reason: str
    confidence: float
    alternatives: _containers.RepeatedCompositeFieldContainer[Alternative]
    configuration: Configuration
    cost: CostEstimate
    budget: BudgetVerdict
    citations: _containers.RepeatedCompositeFieldContainer[Citation]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    rejected: bool
    rejection_reason: str
    provenance: PlanProvenance
    requirements: Requirements
    def __init__(self, strategy: _Optional[_Union[Strategy, str]] = ..., reason: _Optional[str] = ..., confidence: _Optional[float] = ..., alternatives: _Optional[_Iterable[_Union[Alternative, _Mapping]]] = ..., configuration: _Optional[_Union[Configuration, _Mapping]] = ..., cost: _Optional[_Union[CostEstimate, _Mapping]] = ..., budget: _Optional[_Union[BudgetVerdict, _Mapping]] = ..., citations: _Optional[_Iterable[_Union[Citation, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ..., rejected: _Optional[bool] = ..., rejection_reason: _Optional[str] = ..., provenance: _Optional[_Union[PlanProvenance, _Mapping]] = ..., requirements: _Optional[_Union[Requirements, _Mapping]] = ...) -> None: ...

class Feedback(_message.Message):
    __slots__ = ("user", "vote", "comment", "updated_at")
    USER_FIELD_NUMBER: _ClassVar[int]
    VOTE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    user: str
    vote: int
    comment: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, user: _Optional[str] = ..., vote: _Optional[int] = ..., comment: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FeedbackSummary(_message.Message):
    __slots__ = ("up", "down", "votes")
    UP_FIELD_NUMBER: _ClassVar[int]
    DOWN_FIELD_NUMBER: _ClassVar[int]
    VOTES_FIELD_NUMBER: _ClassVar[int]
    up: int
    down: int
    votes: _containers.RepeatedCompositeFieldContainer[Feedback]
    def __init__(self, up: _Optional[int] = ..., down: _Optional[int] = ..., votes: _Optional[_Iterable[_Union[Feedback, _Mapping]]] = ...) -> None: ...

class PerformanceMetrics(_message.Message):
    __slots__ = ("time_to_ready_seconds", "actual_monthly_cost_usd", "cpu_utilization", "memory_utilization", "latency_p99_ms", "error_rate", "restarts")
    TIME_TO_READY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_MONTHLY_COST_USD_FIELD_NUMBER: _ClassVar[int]
    CPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    MEMORY_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    time_to_ready_seconds: float
    actual_monthly_cost_usd: float
    cpu_utilization: float
    memory_utilization: float
    latency_p99_ms: float
    error_rate: float
    restarts: int
    def __init__(self, time_to_ready_seconds: _Optional[float] = ..., actual_monthly_cost_usd: _Optional[float] = ..., cpu_utilization: _Optional[float] = ..., memory_utilization: _Optional[float] = ..., latency_p99_ms: _Optional[float] = ..., error_rate: _Optional[float] = ..., restarts: _Optional[int] = ...) -> None: ...

class DeploymentRecord(_message.Message):
    __slots__ = ("id", "tenant", "name", "uid", "revision", "repository", "analysis", "intent", "plan", "outcome", "outcome_reason", "feedback", "metrics", "created_at", "updated_at", "outcome_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_REASON_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant: str
    name: str
    uid: str
    revision: int
    repository: RepositoryRef
    analysis: RepositoryAnalysis
    intent: DeploymentIntent
    plan: Plan
    outcome: Outcome
    outcome_reason: str
    feedback: FeedbackSummary
    metrics: PerformanceMetrics
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    outcome_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., tenant: _Optional[str] = ..., name: _Optional[str] = ..., uid: _Optional[str] = ..., revision: _Optional[int] = ..., repository: _Optional[_Union[RepositoryRef, _Mapping]] = ..., analysis: _Optional[_Union[RepositoryAnalysis, _Mapping]] = ..., intent: _Optional[_Union[DeploymentIntent, _Mapping]] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., outcome_reason: _Optional[str] = ..., feedback: _Optional[_Union[FeedbackSummary, _Mapping]] = ..., metrics: _Optional[_Union[PerformanceMetrics, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
