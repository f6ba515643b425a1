from scia.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnalyzeRequest(_message.Message):
    __slots__ = ("repository",)
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    repository: _common_pb2.RepositoryRef
    def __init__(self, repository: _Optional[_Union[_common_pb2.RepositoryRef, _Mapping]] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("analysis",)
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    analysis: _common_pb2.RepositoryAnalysis
    def __init__(self, analysis: _Optional[_Union[_common_pb2.RepositoryAnalysis, _Mapping]] = ...) -> None: ...

class CloudConstraints(_message.Message):
    __slots__ = ("cloud", "default_region", "allowed_regions", "quotas", "monthly_budget_usd", "alert_threshold", "tags")
    class QuotasEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CLOUD_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_REGION_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_REGIONS_FIELD_NUMBER: _ClassVar[int]
    QUOTAS_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_BUDGET_USD_FIELD_NUMBER: _ClassVar[int]
    ALERT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    cloud: _common_pb2.Cloud
    default_region: str
    allowed_regions: _containers.RepeatedScalarFieldContainer[str]
    quotas: _containers.ScalarMap[str, int]
    monthly_budget_usd: float
    alert_threshold: float
    tags: _containers.ScalarMap[str, str]
    def __init__(self, cloud: _Optional[_Union[_common_pb2.Cloud, str]] = ..., default_region: _Optional[str] = ..., allowed_regions: _Optional[_Iterable[str]] = ..., quotas: _Optional[_Mapping[str, int]] = ..., monthly_budget_usd: _Optional[float] = ..., alert_threshold: _Optional[float] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PlanRequest(_message.Message):
    __slots__ = ("tenant", "repository", "analysis", "intent", "constraints", "disable_retrieval")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    DISABLE_RETRIEVAL_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    repository: _common_pb2.RepositoryRef
    analysis: _common_pb2.RepositoryAnalysis
    intent: _common_pb2.DeploymentIntent
    constraints: CloudConstraints
    disable_retrieval: bool
    def __init__(self, tenant: _Optional[str] = ..., repository: _Optional[_Union[_common_pb2.RepositoryRef, _Mapping]] = ..., analysis: _Optional[_Union[_common_pb2.RepositoryAnalysis, _Mapping]] = ..., intent: _Optional[_Union[_common_pb2.DeploymentIntent, _Mapping]] = ..., constraints: _Optional[_Union[CloudConstraints, _Mapping]] = ..., disable_retrieval: _Optional[bool] = ...) -> None: ...

class PlanResponse(_message.Message):
    __slots__ = ("analysis", "plan")
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    analysis: _common_pb2.RepositoryAnalysis
    plan: _common_pb2.Plan
    def __init__(self, analysis: _Optional[_Union[_common_pb2.RepositoryAnalysis, _Mapping]] = ..., plan: _Optional[_Union[_common_pb2.Plan, _Mapping]] = ...) -> None: ...
