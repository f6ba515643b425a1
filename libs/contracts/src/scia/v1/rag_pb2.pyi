import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from scia.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RecordDeploymentRequest(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: _common_pb2.DeploymentRecord
    def __init__(self, record: _Optional[_Union[_common_pb2.DeploymentRecord, _Mapping]] = ...) -> None: ...

class RecordDeploymentResponse(_message.Message):
    __slots__ = ("record", "created")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    record: _common_pb2.DeploymentRecord
    created: bool
    def __init__(self, record: _Optional[_Union[_common_pb2.DeploymentRecord, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class UpdateOutcomeRequest(_message.Message):
    __slots__ = ("tenant", "id", "outcome", "reason", "metrics")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    id: str
    outcome: _common_pb2.Outcome
    reason: str
    metrics: _common_pb2.PerformanceMetrics
    def __init__(self, tenant: _Optional[str] = ..., id: _Optional[str] = ..., outcome: _Optional[_Union[_common_pb2.Outcome, str]] = ..., reason: _Optional[str] = ..., metrics: _Optional[_Union[_common_pb2.PerformanceMetrics, _Mapping]] = ...) -> None: ...

class RecordFeedbackRequest(_message.Message):
    __slots__ = ("tenant", "id", "user", "vote", "comment")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    VOTE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    id: str
    user: str
    vote: int
    comment: str
    def __init__(self, tenant: _Optional[str] = ..., id: _Optional[str] = ..., user: _Optional[str] = ..., vote: _Optional[int] = ..., comment: _Optional[str] = ...) -> None: ...

class DeploymentFilter(_message.Message):
    __slots__ = ("frameworks", "languages", "clouds", "strategies", "outcomes", "max_monthly_cost_usd", "created_after", "created_before", "name")
    FRAMEWORKS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    CLOUDS_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    MAX_MONTHLY_COST_USD_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    frameworks: _containers.RepeatedScalarFieldContainer[str]
    languages: _containers.RepeatedScalarFieldContainer[str]
    clouds: _containers.RepeatedScalarFieldContainer[_common_pb2.Cloud]
    strategies: _containers.RepeatedScalarFieldContainer[_common_pb2.Strategy]
    outcomes: _containers.RepeatedScalarFieldContainer[_common_pb2.Outcome]
    max_monthly_cost_usd: float
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    name: str
    def __init__(self, frameworks: _Optional[_Iterable[str]] = ..., languages: _Optional[_Iterable[str]] = ..., clouds: _Optional[_Iterable[_Union[_common_pb2.Cloud, str]]] = ..., strategies: _Optional[_Iterable[_Union[_common_pb2.Strategy, str]]] = ..., outcomes: _Optional[_Iterable[_Union[_common_pb2.Outcome, str]]] = ..., max_monthly_cost_usd: _Optional[float] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class RerankWeights(_message.Message):
    __slots__ = ("relevance", "feedback", "recency", "cost_efficiency", "outcome")
    RELEVANCE_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    RECENCY_FIELD_NUMBER: _ClassVar[int]
    COST_EFFICIENCY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    relevance: float
    feedback: float
    recency: float
    cost_efficiency: float
    outcome: float
    def __init__(self, relevance: _Optional[float] = ..., feedback: _Optional[float] = ..., recency: _Optional[float] = ..., cost_efficiency: _Optional[float] = ..., outcome: _Optional[float] = ...) -> None: ...

class RetrieveRequest(_message.Message):
    __slots__ = ("tenant", "deployment", "text", "filter", "limit", "candidates", "rerank", "weights")
    class Rerank(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        RERANK_UNSPECIFIED: _ClassVar[RetrieveRequest.Rerank]
        RERANK_NONE: _ClassVar[RetrieveRequest.Rerank]
        RERANK_FEATURES: _ClassVar[RetrieveRequest.Rerank]
        RERANK_CROSS_ENCODER: _ClassVar[RetrieveRequest.Rerank]
    RERANK_UNSPECIFIED: RetrieveRequest.Rerank
    RERANK_NONE: RetrieveRequest.Rerank
    RERANK_FEATURES: RetrieveRequest.Rerank
    RERANK_CROSS_ENCODER: RetrieveRequest.Rerank
    TENANT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    RERANK_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    deployment: DeploymentQuery
    text: str
    filter: DeploymentFilter
    limit: int
    candidates: int
    rerank: RetrieveRequest.Rerank
    weights: RerankWeights
    def __init__(self, tenant: _Optional[str] = ..., deployment: _Optional[_Union[DeploymentQuery, _Mapping]] = ..., text: _Optional[str] = ..., filter: _Optional[_Union[DeploymentFilter, _Mapping]] = ..., limit: _Optional[int] = ..., candidates: _Optional[int] = ..., rerank: _Optional[_Union[RetrieveRequest.Rerank, str]] = ..., weights: _Optional[_Union[RerankWeights, _Mapping]] = ...) -> None: ...

class DeploymentQuery(_message.Message):
    __slots__ = ("analysis", "intent")
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    analysis: _common_pb2.RepositoryAnalysis
    intent: _common_pb2.DeploymentIntent
    def __init__(self, analysis: _Optional[_Union[_common_pb2.RepositoryAnalysis, _Mapping]] = ..., intent: _Optional[_Union[_common_pb2.DeploymentIntent, _Mapping]] = ...) -> None: ...

class ScoreComponents(_message.Message):
    __slots__ = ("vector_similarity", "text_rank", "fused", "relevance", "feedback", "recency", "cost_efficiency", "outcome")
    VECTOR_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    TEXT_RANK_FIELD_NUMBER: _ClassVar[int]
    FUSED_FIELD_NUMBER: _ClassVar[int]
    RELEVANCE_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    RECENCY_FIELD_NUMBER: _ClassVar[int]
    COST_EFFICIENCY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    vector_similarity: float
    text_rank: float
    fused: float
    relevance: float
    feedback: float
    recency: float
    cost_efficiency: float
    outcome: float
    def __init__(self, vector_similarity: _Optional[float] = ..., text_rank: _Optional[float] = ..., fused: _Optional[float] = ..., relevance: _Optional[float] = ..., feedback: _Optional[float] = ..., recency: _Optional[float] = ..., cost_efficiency: _Optional[float] = ..., outcome: _Optional[float] = ...) -> None: ...

class RetrievedDeployment(_message.Message):
    __slots__ = ("record", "score", "components", "vector_rank", "text_rank")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    VECTOR_RANK_FIELD_NUMBER: _ClassVar[int]
    TEXT_RANK_FIELD_NUMBER: _ClassVar[int]
    record: _common_pb2.DeploymentRecord
    score: float
    components: ScoreComponents
    vector_rank: int
    text_rank: int
    def __init__(self, record: _Optional[_Union[_common_pb2.DeploymentRecord, _Mapping]] = ..., score: _Optional[float] = ..., components: _Optional[_Union[ScoreComponents, _Mapping]] = ..., vector_rank: _Optional[int] = ..., text_rank: _Optional[int] = ...) -> None: ...

class RetrieveResponse(_message.Message):
    __slots__ = ("results", "reranker", "full_text_only", "notes")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    RERANKER_FIELD_NUMBER: _ClassVar[int]
    FULL_TEXT_ONLY_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RetrievedDeployment]
    reranker: str
    full_text_only: bool
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, results: _Optional[_Iterable[_Union[RetrievedDeployment, _Mapping]]] = ..., reranker: _Optional[str] = ..., full_text_only: _Optional[bool] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class GetDeploymentRequest(_message.Message):
    __slots__ = ("tenant", "id")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    id: str
    def __init__(self, tenant: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class ListDeploymentsRequest(_message.Message):
    __slots__ = ("tenant", "filter", "page_size", "page_token")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    filter: DeploymentFilter
    page_size: int
    page_token: str
    def __init__(self, tenant: _Optional[str] = ..., filter: _Optional[_Union[DeploymentFilter, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDeploymentsResponse(_message.Message):
    __slots__ = ("records", "next_page_token", "total")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[_common_pb2.DeploymentRecord]
    next_page_token: str
    total: int
    def __init__(self, records: _Optional[_Iterable[_Union[_common_pb2.DeploymentRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total: _Optional[int] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ("tenant", "filter")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    filter: DeploymentFilter
    def __init__(self, tenant: _Optional[str] = ..., filter: _Optional[_Union[DeploymentFilter, _Mapping]] = ...) -> None: ...

class Stats(_message.Message):
    __slots__ = ("total", "by_outcome", "by_strategy", "by_framework", "feedback_up", "feedback_down", "estimated_monthly_cost_usd", "reranker")
    class ByOutcomeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ByStrategyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ByFrameworkEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BY_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    BY_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    BY_FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_UP_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_DOWN_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_MONTHLY_COST_USD_FIELD_NUMBER: _ClassVar[int]
    RERANKER_FIELD_NUMBER: _ClassVar[int]
    total: int
    by_outcome: _containers.ScalarMap[str, int]
    by_strategy: _containers.ScalarMap[str, int]
    by_framework: _containers.ScalarMap[str, int]
    feedback_up: int
    feedback_down: int
    estimated_monthly_cost_usd: float
    reranker: str
    def __init__(self, total: _Optional[int] = ..., by_outcome: _Optional[_Mapping[str, int]] = ..., by_strategy: _Optional[_Mapping[str, int]] = ..., by_framework: _Optional[_Mapping[str, int]] = ..., feedback_up: _Optional[int] = ..., feedback_down: _Optional[int] = ..., estimated_monthly_cost_usd: _Optional[float] = ..., reranker: _Optional[str] = ...) -> None: ...

class ImportRequest(_message.Message):
    __slots__ = ("tenant", "record", "source_key")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    SOURCE_KEY_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    record: _common_pb2.DeploymentRecord
    source_key: str
    def __init__(self, tenant: _Optional[str] = ..., record: _Optional[_Union[_common_pb2.DeploymentRecord, _Mapping]] = ..., source_key: _Optional[str] = ...) -> None: ...

class ImportSummary(_message.Message):
    __slots__ = ("received", "created", "updated", "skipped", "skipped_records")
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    received: int
    created: int
    updated: int
    skipped: int
    skipped_records: _containers.RepeatedCompositeFieldContainer[SkippedRecord]
    def __init__(self, received: _Optional[int] = ..., created: _Optional[int] = ..., updated: _Optional[int] = ..., skipped: _Optional[int] = ..., skipped_records: _Optional[_Iterable[_Union[SkippedRecord, _Mapping]]] = ...) -> None: ...

class SkippedRecord(_message.Message):
    __slots__ = ("source_key", "reason")
    SOURCE_KEY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    source_key: str
    reason: str
    def __init__(self, source_key: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
