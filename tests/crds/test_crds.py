"""The CRDs and the XRD: structural, well-formed, and accepting exactly what they should.

Every example under examples/ and every fixture here is validated against the schemas, with
negative cases that the API server must reject.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.crds.k8s_schema import (
    ROOT,
    definitions,
    errors,
    json_path_exists,
    load_yaml,
    openapi_schema,
    structural_problems,
)

EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))

DEPLOYMENT = {
    "apiVersion": "scia.io/v1alpha1",
    "kind": "Deployment",
    "metadata": {"name": "shop-api", "namespace": "team-a"},
    "spec": {
        "repository": {"url": "https://github.com/acme/shop.git", "ref": "main"},
        "prompt": "Flask API with HA under $300/month",
        "cloudProvider": "aws-prod",
        "region": "eu-west-3",
        "budget": {"maxMonthlyCost": 300, "alertThreshold": 0.8, "enforcementMode": "hard"},
        "policies": ["require-https", "enable-monitoring"],
        "strategy": "auto",
    },
    # What the operator writes: every status field, so the status schema is exercised.
    "status": {
        "phase": "Running",
        "observedGeneration": 3,
        "lastOutcome": "Success",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Available", "message": "", "lastTransitionTime": "2025-06-01T10:00:00Z", "observedGeneration": 3},
            {"type": "BudgetOk", "status": "False", "reason": "OverAlertThreshold", "message": "85% of budget", "lastTransitionTime": "2025-06-01T10:00:00Z"},
            {"type": "Drifted", "status": "False", "reason": "InSync", "lastTransitionTime": "2025-06-01T10:00:00Z"},
        ],
        "decision": {
            "strategy": "vm",
            "reason": "single Flask service without Dockerfile",
            "confidence": 0.86,
            "engine": "knowledge-base+retrieval",
            "alternatives": [{"strategy": "kubernetes", "reason": "HA but costlier", "confidence": 0.4, "estimatedMonthlyCost": 250.5}],
            "citations": [{"recordId": "r-12", "summary": "flask on t3.small failed (OOM)", "outcome": "Failed", "score": 0.91, "influence": "t3.small -> t3.medium"}],
            "warnings": ["no health endpoint found"],
        },
        "cost": {
            "estimatedMonthly": 255.4,
            "currency": "USD",
            "budgetVerdict": "Alert",
            "pricingSource": "aws-2025-06",
            "items": [{"name": "ec2", "description": "3 x t3.medium x 730 h", "quantity": 2190, "unit": "hour", "unitPrice": 0.0416, "monthly": 91.1}],
        },
        "endpoints": ["https://shop-api.team-a.example.com"],
        "infrastructureRef": {"apiVersion": "scia.io/v1alpha1", "kind": "Infrastructure", "name": "shop-api-r3", "namespace": "team-a"},
        "history": [
            {
                "revision": 3,
                "timestamp": "2025-06-01T09:55:00Z",
                "infrastructureRef": {"name": "shop-api-r3"},
                "strategy": "vm",
                "compositionName": "aws-vm-v1",
                "parameters": {"cloud": "aws", "vm": {"instanceType": "t3.medium"}},
                "estimatedMonthlyCost": 255.4,
                "outcome": "Success",
                "reason": "Ready in 4m12s",
            }
        ],
    },
}

CLOUD_PROVIDER = {
    "apiVersion": "scia.io/v1alpha1",
    "kind": "CloudProvider",
    "metadata": {"name": "aws-prod", "namespace": "team-a"},
    "spec": {
        "type": "aws",
        "credentialsSecretRef": {"name": "aws-credentials", "key": "credentials"},
        "defaultRegion": "eu-west-3",
        "allowedRegions": ["eu-west-3"],
        "quotas": {"maxInstances": 10, "maxClusters": 1, "maxFunctions": 20, "maxMonthlyCost": 1000},
        "costControl": {"monthlyBudget": 800, "alertThreshold": 0.9},
        "tags": {"cost-center": "cc-1"},
    },
    "status": {
        "observedGeneration": 1,
        "providerConfigName": "aws-prod",
        "usage": {"deployments": 2, "instances": 4, "estimatedMonthlyCost": 300.5},
        "conditions": [{"type": "Ready", "status": "True", "reason": "CredentialsFound", "lastTransitionTime": "2025-06-01T10:00:00Z"}],
    },
}


def _with(obj: dict, path: str, value, *, delete: bool = False) -> dict:
    out = copy.deepcopy(obj)
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if delete:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return out


# --- definitions --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["Deployment", "CloudProvider", "Infrastructure"])
def test_schema_is_structural(kind):
    assert structural_problems(openapi_schema(kind)) == []


def test_structural_checker_catches_violations():
    bad = {
        "type": "object",
        "properties": {
            "a": {"properties": {"b": {"type": "string"}}},
            "c": {"type": "object", "properties": {"d": {"type": "string"}}, "additionalProperties": {"type": "string"}},
            "e": {"type": "array"},
            "f": {"type": "string", "enum": ["x", 1]},
            "g": {"type": "integer", "minimum": 1, "default": 0},
            "h": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"], "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
        },
        "required": ["zzz"],
    }
    found = "\n".join(structural_problems(bad))
    for expected in [".a: no type", ".c: properties and additionalProperties", ".e: array without items",
                     ".f: enum values", ".g: default 0 is invalid", "list-map key 'k' must be required", "required field 'zzz'"]:
        assert expected in found


@pytest.mark.parametrize("kind", ["Deployment", "CloudProvider"])
def test_crd_shape(kind):
    crd = definitions()[kind]
    spec = crd["spec"]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert spec["group"] == "scia.io" and spec["scope"] == "Namespaced"
    assert crd["metadata"]["name"] == f"{spec['names']['plural']}.scia.io"
    assert "scia" in spec["names"]["categories"]
    assert spec["names"]["shortNames"] and "deploy" not in spec["names"]["shortNames"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    for column in version["additionalPrinterColumns"]:
        assert json_path_exists(version["schema"]["openAPIV3Schema"], column["jsonPath"]), column


def test_deployment_printer_columns():
    columns = [c["name"] for c in definitions()["Deployment"]["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert [c for c in columns if c in {"Strategy", "Phase", "Cost", "Ready", "Age"}] == ["Strategy", "Phase", "Cost", "Ready", "Age"]


def test_xrd_shape():
    xrd = definitions()["Infrastructure"]
    spec = xrd["spec"]
    assert xrd["apiVersion"] == "apiextensions.crossplane.io/v2"
    assert xrd["metadata"]["name"] == "infrastructures.scia.io"
    assert spec["scope"] == "Namespaced" and spec["group"] == "scia.io"
    assert spec["names"]["plural"] == "infrastructures"
    assert spec["defaultCompositionUpdatePolicy"] == "Manual"
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["referenceable"]
    params = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["parameters"]
    serverless = params["properties"]["serverless"]["properties"]
    assert (serverless["memoryMb"]["minimum"], serverless["memoryMb"]["maximum"]) == (128, 10240)
    assert (serverless["timeoutSeconds"]["minimum"], serverless["timeoutSeconds"]["maximum"]) == (1, 900)
    for column in version["additionalPrinterColumns"]:
        assert json_path_exists(openapi_schema("Infrastructure"), column["jsonPath"]), column


def test_xrd_parameters_carry_the_plan_configuration():
    """Every field of the planner's Configuration (common.proto) has a camelCase parameter."""
    props = openapi_schema("Infrastructure")["properties"]["spec"]["properties"]["parameters"]["properties"]
    expected = {
        "region": None, "https": None, "monitoring": None, "appPort": None, "startCommand": None, "tags": None,
        "vm": {"instanceType", "instanceCount", "minCount", "maxCount", "volumeSizeGb", "zones"},
        "kubernetes": {"nodeType", "minNodes", "maxNodes", "desiredNodes", "nodeVolumeSizeGb", "replicas", "podCpuMillicores", "podMemoryMb"},
        "serverless": {"memoryMb", "timeoutSeconds", "provisionedConcurrency"},
        "managedServices": {"kind", "instanceClass", "storageGb", "highAvailability"},
    }
    for name, fields in expected.items():
        assert name in props, name
        if fields:
            node = props[name]["items"] if props[name]["type"] == "array" else props[name]
            assert fields <= set(node["properties"]), (name, fields - set(node["properties"]))


# --- examples and fixtures ------------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_is_valid(path: Path):
    docs = load_yaml(path)
    assert docs
    for doc in docs:
        assert doc["apiVersion"] == "scia.io/v1alpha1"
        assert errors(doc) == []


def test_examples_cover_the_required_cases():
    docs = [d for p in EXAMPLES for d in load_yaml(p)]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert {d["kind"] for d in docs} == {"Deployment", "CloudProvider", "Infrastructure"}
    providers = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs if d["kind"] == "CloudProvider"}
    # Every example Deployment names a CloudProvider that exists in its namespace.
    for d in deployments:
        assert (d["metadata"]["namespace"], d["spec"]["cloudProvider"]) in providers
    assert any(d["spec"].get("budget") and "high-availability" in d["spec"].get("policies", []) for d in deployments)
    assert any(d["spec"]["strategy"] == "kubernetes" and providers[(d["metadata"]["namespace"], d["spec"]["cloudProvider"])]["spec"]["type"] == "gcp" for d in deployments)


@pytest.mark.parametrize("obj", [DEPLOYMENT, CLOUD_PROVIDER], ids=["Deployment", "CloudProvider"])
def test_full_fixture_is_valid(obj):
    assert errors(obj) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.strategy", "lambda", "is not one of"),
        ("spec.budget.alertThreshold", 1.5, "is greater than the maximum"),
        ("spec.budget.alertThreshold", 0, "less than or equal to the minimum"),
        ("spec.budget.enforcementMode", "strict", "is not one of"),
        ("spec.budget.maxMonthlyCost", -5, "less than the minimum"),
        ("spec.repository.url", "ftp://example.com/repo.git", "does not match"),
        ("spec.repository.url", "github.com/acme/shop", "does not match"),
        ("spec.repository.url", "file://relative/path", "does not match"),
        ("spec.policies", ["require-https", "make-it-fast"], "is not one of"),
        ("spec.cloudProvider", "AWS_Prod", "does not match"),
        ("spec.prompt", "x" * 4001, "is too long"),
        ("spec.rollbackTo", 0, "less than the minimum"),
        ("spec.paused", "yes", "is not of type 'boolean'"),
        ("spec.region", "EU West 3", "does not match"),
        ("spec.replicas", 3, "Additional properties are not allowed"),
        ("status.phase", "Done", "is not one of"),
        ("status.conditions.0.status", "Yes", "is not one of"),
        ("status.conditions.0.lastTransitionTime", "yesterday", "is not a 'date-time'"),
        ("status.decision.confidence", 1.2, "greater than the maximum"),
        ("status.cost.currency", "EUR", "is not one of"),
        ("status.history", [DEPLOYMENT["status"]["history"][0]] * 21, "is too long"),
    ],
)
def test_deployment_rejects(path, value, expected):
    found = errors(_with(DEPLOYMENT, path, value))
    assert any(expected in e for e in found), found


@pytest.mark.parametrize("path", ["spec.repository.url", "spec.repository", "spec.cloudProvider", "spec"])
def test_deployment_requires(path):
    found = errors(_with(DEPLOYMENT, path, None, delete=True))
    assert any("is a required property" in e for e in found), found


def test_deployment_accepts_ssh_and_local_file_urls():
    # file:/// is for the local stack: the schema admits it, a shared planner refuses it.
    for url in ["git@github.com:acme/shop.git", "ssh://git@gitlab.example.com:2222/acme/shop.git", "file:///srv/repos/shop"]:
        assert errors(_with(DEPLOYMENT, "spec.repository.url", url)) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.type", "digitalocean", "is not one of"),
        ("spec.costControl.alertThreshold", 1.5, "greater than the maximum"),
        ("spec.quotas.maxInstances", -1, "less than the minimum"),
        ("spec.tags", {"k": 1}, "is not of type 'string'"),
        ("spec.credentialsSecretRef", {"key": "credentials"}, "'name' is a required property"),
        ("spec.allowedRegions", ["Europe West"], "does not match"),
        ("spec.sshPublicKey", "ssh-dss AAAAB3", "does not match"),
    ],
)
def test_cloud_provider_rejects(path, value, expected):
    found = errors(_with(CLOUD_PROVIDER, path, value))
    assert any(expected in e for e in found), found


def _xr() -> dict:
    return load_yaml(ROOT / "examples" / "infrastructure" / "aws-serverless.yaml")[0]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.parameters.serverless.memoryMb", 64, "less than the minimum"),
        ("spec.parameters.serverless.memoryMb", 20000, "greater than the maximum"),
        ("spec.parameters.serverless.timeoutSeconds", 901, "greater than the maximum"),
        ("spec.parameters.cloud", "oracle", "is not one of"),
        ("spec.parameters.strategy", "auto", "is not one of"),
        ("spec.parameters.appPort", 70000, "greater than the maximum"),
        ("spec.parameters.team", "Team A", "does not match"),
        ("spec.parameters.managedServices", [{"kind": "oracle-db"}], "is not one of"),
        ("spec.parameters.vm", {"instanceCount": 2}, "'instanceType' is a required property"),
    ],
)
def test_infrastructure_rejects(path, value, expected):
    found = errors(_with(_xr(), path, value))
    assert any(expected in e for e in found), found


@pytest.mark.parametrize("field", ["cloud", "strategy", "region", "team", "deploymentName"])
def test_infrastructure_requires(field):
    found = errors(_with(_xr(), f"spec.parameters.{field}", None, delete=True))
    assert any("is a required property" in e for e in found), found


def test_status_written_by_compositions_fits_the_xrd():
    xr = _xr()
    xr["status"] = {
        "composition": "aws-vm-v1", "endpoint": "lb-1.eu-west-3.elb.amazonaws.com", "url": "https://shop.example.com",
        "resourceCount": 30, "zones": ["eu-west-3a"], "loadBalanced": True, "clusterName": "c", "kubeconfigSecretName": "k",
        "functionName": "f", "certificateArn": "arn:aws:acm:eu-west-3:1:certificate/x",
        "certificateValidation": [{"name": "_x.shop.example.com.", "type": "CNAME", "value": "_y.acm-validations.aws."}],
        "workload": {"replicas": 2, "podCpuMillicores": 250, "podMemoryMb": 512, "appPort": 8080},
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    assert errors(xr) == []
