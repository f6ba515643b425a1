"""The Infrastructure XR that a Deployment's plan becomes: the one mapping both the operator
(which creates it) and the gateway (which renders it for previewPlan) use.

Pure functions over plain bodies (dicts) and the contracts' Plan/RepositoryAnalysis messages; no
I/O. docs/resources.md describes the parameters, one to one with Plan.configuration in camelCase.
"""

from __future__ import annotations

import copy
from typing import Any

from scia.v1 import common_pb2

API_VERSION = "scia.io/v1alpha1"
MANAGED_BY = "scia-operator"
DEFAULT_APP_PORT = 8080
STRATEGY_NAMES = {
    common_pb2.STRATEGY_VM: "vm",
    common_pb2.STRATEGY_KUBERNETES: "kubernetes",
    common_pb2.STRATEGY_SERVERLESS: "serverless",
}
CLOUD_NAMES = {common_pb2.CLOUD_AWS: "aws", common_pb2.CLOUD_GCP: "gcp", common_pb2.CLOUD_AZURE: "azure"}


def get_path(body: dict | None, *path: str, default: Any = None) -> Any:
    value: Any = body or {}
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value if value is not None else default


def revision_of(deployment: dict) -> int:
    """The revision the spec describes: the API server bumps metadata.generation on spec changes."""
    return int(get_path(deployment, "metadata", "generation", default=1) or 1)


def infrastructure_name(deployment: dict) -> str:
    """Exactly one Infrastructure per Deployment, named after it (deterministic, so a retry or a
    second replica finds the existing one instead of creating another)."""
    return get_path(deployment, "metadata", "name")


def nonzero(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v not in (None, "", [], {})}


def parameters_from_plan(
    deployment: dict,
    plan: common_pb2.Plan,
    analysis: common_pb2.RepositoryAnalysis | None,
    provider: dict,
) -> dict:
    """The Infrastructure's spec.parameters for a plan.

    Every field the XRD defaults is written explicitly, so what the API server stores equals what
    the operator wants and drift detection can compare exactly (a default filled in server-side
    would otherwise look like an out-of-band change)."""
    config = plan.configuration
    spec = deployment.get("spec") or {}
    meta = deployment.get("metadata") or {}
    pspec = provider.get("spec") or {}
    strategy = STRATEGY_NAMES.get(plan.strategy) or config.WhichOneof("workload") or "vm"
    cloud = CLOUD_NAMES.get(config.cloud) or pspec.get("type")
    params: dict[str, Any] = {
        "cloud": cloud,
        "strategy": strategy,
        "region": config.region,
        "team": meta.get("namespace"),
        "deploymentName": meta.get("name"),
        "revision": revision_of(deployment),
        "providerConfigName": get_path(provider, "metadata", "name", default="default"),
        "providerConfigKind": "ProviderConfig",
        "appPort": int(config.app_port or DEFAULT_APP_PORT),
        "healthCheckPath": "/",
        "https": bool(config.https),
        "monitoring": bool(config.monitoring),
    }
    app = analysis.applications[0] if analysis is not None and analysis.applications else None
    if app is not None:
        if app.framework:
            params["framework"] = app.framework.lower()
        if any(t.kind == common_pb2.TRAIT_KIND_HEALTH_ENDPOINT and t.value.startswith("/") for t in app.traits):
            params["healthCheckPath"] = next(
                t.value for t in app.traits if t.kind == common_pb2.TRAIT_KIND_HEALTH_ENDPOINT and t.value.startswith("/")
            )
    repository = spec.get("repository") or {}
    params.update(
        nonzero(
            {
                "startCommand": config.start_command,
                "repositoryUrl": repository.get("url", ""),
                "repositoryRef": repository.get("ref", ""),
                "image": spec.get("image", ""),
                "domainName": spec.get("domainName", ""),
                "sshPublicKey": pspec.get("sshPublicKey", "") if cloud == "azure" and strategy == "vm" else "",
            }
        )
    )
    workload = config.WhichOneof("workload")
    if workload == "vm":
        vm = config.vm
        params["vm"] = {"instanceType": vm.instance_type, "instanceCount": int(vm.instance_count or 1), "volumeSizeGb": int(vm.volume_size_gb or 30)}
        if vm.max_count:
            params["vm"]["minCount"] = int(vm.min_count)
            params["vm"]["maxCount"] = int(vm.max_count)
        if vm.zones:
            params["vm"]["zones"] = list(vm.zones)
    elif workload == "kubernetes":
        k = config.kubernetes
        params["kubernetes"] = {
            "nodeType": k.node_type,
            "minNodes": int(k.min_nodes or 1),
            "maxNodes": int(k.max_nodes or 3),
            "desiredNodes": int(k.desired_nodes or 2),
            "nodeVolumeSizeGb": int(k.node_volume_size_gb or 50),
            "replicas": int(k.replicas or 2),
            "podCpuMillicores": int(k.pod_cpu_millicores or 250),
            "podMemoryMb": int(k.pod_memory_mb or 512),
        }
    elif workload == "serverless":
        s = config.serverless
        params["serverless"] = {
            "memoryMb": int(s.memory_mb or 512),
            "timeoutSeconds": int(s.timeout_seconds or 30),
            "provisionedConcurrency": int(s.provisioned_concurrency),
        }
    if config.managed_services:
        params["managedServices"] = [
            nonzero({"kind": m.kind, "instanceClass": m.instance_class, "storageGb": int(m.storage_gb)})
            | {"highAvailability": bool(m.high_availability)}
            for m in config.managed_services
        ]
    if config.tags:
        params["tags"] = dict(sorted(config.tags.items()))
    return params


def composition_labels(parameters: dict, version: str = "") -> dict[str, str]:
    labels = {"scia.io/cloud": parameters["cloud"], "scia.io/strategy": parameters["strategy"]}
    if version:
        labels["scia.io/version"] = version
    return labels


def owner_reference(deployment: dict) -> dict:
    meta = deployment.get("metadata") or {}
    return {
        "apiVersion": API_VERSION,
        "kind": "Deployment",
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def infrastructure_labels(deployment: dict, parameters: dict) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "scia.io/deployment": get_path(deployment, "metadata", "name"),
        "scia.io/team": get_path(deployment, "metadata", "namespace"),
        "scia.io/cloud": parameters["cloud"],
        "scia.io/strategy": parameters["strategy"],
        "scia.io/revision": str(parameters.get("revision", "")),
    }


def desired_infrastructure(deployment: dict, parameters: dict, composition_version: str = "") -> dict:
    """The Infrastructure XR for `parameters`, owned by the Deployment (so deleting the Deployment
    without the operator still garbage-collects it)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Infrastructure",
        "metadata": {
            "name": infrastructure_name(deployment),
            "namespace": get_path(deployment, "metadata", "namespace"),
            "labels": infrastructure_labels(deployment, parameters),
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": {
            "crossplane": {"compositionSelector": {"matchLabels": composition_labels(parameters, composition_version)}},
            "parameters": copy.deepcopy(parameters),
        },
    }
