"""The rag, planner, operator and tenant charts, the whole suite in the umbrella chart, and the
images and Skaffold modules they deploy. Rendered offline like test_charts.py (no cluster).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.helm.test_charts import (
    HELM_DIR,
    NAMESPACE,
    UMBRELLA,
    Rendered,
    env_of,
    port_of,
    render,
    restricted_pod_of,
)

REPO = HELM_DIR.parents[1]
RAG = HELM_DIR / "rag"
PLANNER = HELM_DIR / "planner"
OPERATOR = HELM_DIR / "operator"
TENANT = HELM_DIR / "tenant"
EXTERNAL_DB = {"database": {"existingSecret": "scia-rag-db"}}
SCIA_POD = {"app.kubernetes.io/part-of": "scia"}


def load_settings(settings_class: type, prefix: str, env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Parse a rendered environment with the service's own settings class, as the pod would."""
    from scia.runtime import config as runtime_config

    for name in [name for name in os.environ if name.startswith(prefix)]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if isinstance(value, str):  # valueFrom variables come from the cluster
            monkeypatch.setenv(name, value)
    return runtime_config.load_settings(settings_class)


def target_host(target: str) -> tuple[str, str, int]:
    """dns:///<service>.<namespace>.svc.cluster.local:<port> -> (service, namespace, port)."""
    assert target.startswith("dns:///"), target
    host, port = target.removeprefix("dns:///").rsplit(":", 1)
    service, namespace, rest = host.split(".", 2)
    assert rest == "svc.cluster.local", target
    return service, namespace, int(port)


def network_policy_allows_scia_only(rendered: Rendered, name: str) -> None:
    """gRPC only from SCIA pods of the namespace; the policy selects exactly the service's pods."""
    policy = rendered.get("NetworkPolicy", name)["spec"]
    assert policy["podSelector"]["matchLabels"] == rendered.deployment["spec"]["selector"]["matchLabels"]
    assert policy["policyTypes"] == ["Ingress"]
    grpc_rule, metrics_rule = policy["ingress"]
    assert grpc_rule["from"] == [{"podSelector": {"matchLabels": SCIA_POD}}]  # no namespaceSelector: this namespace
    assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    assert metrics_rule == {"ports": [{"port": "metrics", "protocol": "TCP"}]}
    # The pods the rule admits are SCIA's: every SCIA pod carries the label.
    assert SCIA_POD.items() <= rendered.pod["metadata"]["labels"].items()


# --- shared values contract --------------------------------------------------------------------


SHARED_SCHEMA_KEYS = [
    "nameOverride", "fullnameOverride", "image", "imagePullSecrets", "otel", "env", "extraEnv", "resources",
    "terminationGracePeriodSeconds", "serviceAccount", "service", "metrics", "networkPolicy", "podAnnotations",
    "podLabels", "tmpSizeLimit", "extraVolumes", "extraVolumeMounts", "nodeSelector", "tolerations", "affinity",
    "topologySpreadConstraints", "global",
]  # fmt: skip


@pytest.mark.parametrize("chart_dir", [RAG, PLANNER, OPERATOR], ids=lambda path: path.name)
def test_service_charts_share_the_scia_lib_values_contract(chart_dir: Path) -> None:
    """The scia-lib part of every schema is the embedder's, so a fix there reaches every chart."""
    reference = json.loads((HELM_DIR / "embedder" / "values.schema.json").read_text())
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    for key in SHARED_SCHEMA_KEYS:
        assert schema["properties"][key] == reference["properties"][key], key
    for name, definition in reference["definitions"].items():
        assert schema["definitions"][name] == definition, name


# --- rag ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rag() -> Rendered:
    return render(RAG, EXTERNAL_DB, release="scia-rag")


def test_rag_refuses_to_render_without_a_database() -> None:
    with pytest.raises(helm.HelmRenderError, match="embedded PostgreSQL is for development only") as error:
        render(RAG, release="scia-rag")
    assert "database.existingSecret" in str(error.value) and "cnpg.enabled" in str(error.value)


def test_rag_refuses_two_databases() -> None:
    with pytest.raises(helm.HelmRenderError, match="not both"):
        render(RAG, {**EXTERNAL_DB, "cnpg": {"enabled": True}}, release="scia-rag")


def test_rag_refuses_a_dsn_in_plain_env() -> None:
    with pytest.raises(helm.HelmRenderError, match="database.existingSecret"):
        render(RAG, {**EXTERNAL_DB, "env": {"SCIA_RAG_DSN": "postgresql://u:secret@db/rag"}}, release="scia-rag")


def test_rag_default_objects(rag: Rendered) -> None:
    assert set(rag.objects) == {
        ("Deployment", "scia-rag"),
        ("Service", "scia-rag"),
        ("Service", "scia-rag-headless"),
        ("ServiceAccount", "scia-rag"),
        ("NetworkPolicy", "scia-rag"),
    }
    spec = restricted_pod_of(rag)
    assert spec["securityContext"]["runAsUser"] == 10001
    assert port_of(rag.container, "grpc") == 50052
    assert port_of(rag.container, "metrics") == 9092
    assert rag.container["readinessProbe"]["grpc"] == {"port": 50052}


def test_rag_dsn_comes_from_the_secret(rag: Rendered) -> None:
    env = env_of(rag.container)
    assert env["SCIA_RAG_DSN"] == {"secretKeyRef": {"name": "scia-rag-db", "key": "uri"}}
    rendered_text = yaml.safe_dump(rag.deployment)
    assert "postgresql://" not in rendered_text
    custom = render(RAG, {"database": {"existingSecret": "pg", "secretKey": "dsn"}}, release="scia-rag")
    assert env_of(custom.container)["SCIA_RAG_DSN"] == {"secretKeyRef": {"name": "pg", "key": "dsn"}}


def test_rag_calls_the_embedder_of_the_suite(rag: Rendered) -> None:
    target = env_of(rag.container)["SCIA_RAG_EMBEDDER_TARGET"]
    # Installed chart by chart, the embedder's release is scia-embedder: its headless Service.
    assert target == "dns:///scia-embedder-headless.scia-system.svc.cluster.local:50051"
    pinned = render(RAG, {**EXTERNAL_DB, "peers": {"embedder": {"target": "embedder.ml:50051"}}}, release="scia-rag")
    assert env_of(pinned.container)["SCIA_RAG_EMBEDDER_TARGET"] == "embedder.ml:50051"


def test_rag_standalone_target_matches_the_standalone_embedder(rag: Rendered) -> None:
    embedder = render(HELM_DIR / "embedder", release="scia-embedder")
    service, namespace, port = target_host(env_of(rag.container)["SCIA_RAG_EMBEDDER_TARGET"])
    assert ("Service", service) in embedder.objects
    assert embedder.get("Service", service)["spec"]["clusterIP"] == "None"
    assert (namespace, port) == (NAMESPACE, port_of(embedder.container, "grpc"))


def test_rag_network_policy_admits_only_scia_pods(rag: Rendered) -> None:
    network_policy_allows_scia_only(rag, "scia-rag")


def test_rag_network_policy_extra_peers_and_metrics_sources() -> None:
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    rendered = render(
        RAG,
        {**EXTERNAL_DB, "networkPolicy": {"extraFrom": [monitoring], "metricsFrom": [monitoring]}},
        release="scia-rag",
    )
    grpc_rule, metrics_rule = rendered.get("NetworkPolicy", "scia-rag")["spec"]["ingress"]
    assert grpc_rule["from"] == [{"podSelector": {"matchLabels": SCIA_POD}}, monitoring]
    assert metrics_rule["from"] == [monitoring]
    assert ("NetworkPolicy", "scia-rag") not in render(
        RAG, {**EXTERNAL_DB, "networkPolicy": {"enabled": False}}, release="scia-rag"
    ).objects


def test_rag_cnpg_cluster_with_pgvector() -> None:
    rendered = render(RAG, {"cnpg": {"enabled": True, "instances": 3, "storage": {"size": "20Gi"}}}, release="scia-rag")
    cluster = rendered.get("Cluster", "scia-rag-db")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert spec["instances"] == 3
    assert "-standard-" in spec["imageName"]  # CloudNativePG's standard images bundle pgvector
    assert spec["bootstrap"]["initdb"]["database"] == "scia_rag"
    assert "CREATE EXTENSION IF NOT EXISTS vector" in spec["bootstrap"]["initdb"]["postInitApplicationSQL"]
    assert spec["storage"] == {"size": "20Gi"}
    # The DSN is the URI CloudNativePG writes into the app Secret of that cluster.
    assert env_of(rendered.container)["SCIA_RAG_DSN"] == {"secretKeyRef": {"name": "scia-rag-db-app", "key": "uri"}}


def test_rag_reranker_volume_from_a_new_claim() -> None:
    rendered = render(
        RAG, {**EXTERNAL_DB, "reranker": {"persistence": {"enabled": True, "size": "5Gi"}}}, release="scia-rag"
    )
    claim = rendered.get("PersistentVolumeClaim", "scia-rag-reranker")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"  # trained models survive uninstall
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    spec = restricted_pod_of(rendered)
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes["reranker-model"]["persistentVolumeClaim"] == {"claimName": "scia-rag-reranker", "readOnly": True}
    mounts = {mount["name"]: mount for mount in rendered.container["volumeMounts"]}
    assert mounts["reranker-model"] == {
        "name": "reranker-model",
        "mountPath": "/models/cross-encoder",
        "readOnly": True,
    }
    assert env_of(rendered.container)["SCIA_RAG_RERANKER_MODEL_PATH"] == "/models/cross-encoder/current"


def test_rag_reranker_volume_from_an_existing_claim_or_any_volume() -> None:
    claim = render(RAG, {**EXTERNAL_DB, "reranker": {"existingClaim": "models"}}, release="scia-rag")
    assert ("PersistentVolumeClaim", "scia-rag-reranker") not in claim.objects
    volumes = {volume["name"]: volume for volume in claim.pod["spec"]["volumes"]}
    assert volumes["reranker-model"]["persistentVolumeClaim"]["claimName"] == "models"
    csi = {"csi": {"driver": "models.example.com", "readOnly": True}}
    rendered = render(RAG, {**EXTERNAL_DB, "reranker": {"volume": csi}}, release="scia-rag")
    volumes = {volume["name"]: volume for volume in restricted_pod_of(rendered)["volumes"]}
    assert volumes["reranker-model"] == {"name": "reranker-model", **csi}
    with pytest.raises(helm.HelmRenderError, match="only one of"):
        render(RAG, {**EXTERNAL_DB, "reranker": {"existingClaim": "models", "volume": csi}}, release="scia-rag")
    with pytest.raises(helm.HelmValuesError, match="hostPath"):
        render(RAG, {**EXTERNAL_DB, "reranker": {"volume": {"hostPath": {"path": "/models"}}}}, release="scia-rag")


def test_rag_autoscaling_and_custom_settings() -> None:
    rendered = render(
        RAG,
        {
            **EXTERNAL_DB,
            "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6},
            "config": {"poolMaxSize": 20, "sharedTenants": {"platform": ["team-a", "team-b"]}, "hnswEfSearch": 200},
        },
        release="scia-rag",
    )
    assert rendered.get("HorizontalPodAutoscaler", "scia-rag")["spec"]["maxReplicas"] == 6
    env = env_of(rendered.container)
    assert env["SCIA_RAG_POOL_MAX_SIZE"] == "20"
    assert json.loads(env["SCIA_RAG_SHARED_TENANTS"]) == {"platform": ["team-a", "team-b"]}


@pytest.mark.parametrize(
    ("values", "location"),
    [
        ({"config": {"dsn": "postgresql://x"}}, "additional properties 'dsn' not allowed"),
        ({"config": {"embedderTarget": "x:1"}}, "additional properties 'embedderTarget' not allowed"),
        ({"config": {"poolMaxSize": 0}}, "at '/config/poolMaxSize'"),
        ({"config": {"sharedTenants": {"Team_A": []}}}, "invalid propertyName 'Team_A'"),
        ({"cnpg": {"instances": 0}}, "at '/cnpg/instances'"),
    ],
    ids=["inline-dsn", "target-in-config", "pool-zero", "bad-tenant", "no-instances"],
)
def test_rag_schema_rejects_bad_values(values: dict[str, Any], location: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(location)):
        render(RAG, {**EXTERNAL_DB, **values}, release="scia-rag")


# Set by the chart itself (ports, peers, database, model path) or meaningless in a cluster (the
# embedded development database): the only RagSettings the chart's `config` must not accept.
RAG_SETTINGS_OWNED_BY_THE_CHART = {
    "grpc_host", "grpc_port", "metrics_host", "metrics_port", "dsn", "data_dir", "embedded_database",
    "embedder_target", "reranker_model_path",
}


def test_every_rag_setting_can_be_set_through_the_chart() -> None:
    """A setting added to the service but not to the chart's schema cannot be set by a
    `helm upgrade` at all (the schema refuses unknown keys)."""
    from scia.rag.config import RagSettings

    schema = json.loads((RAG / "values.schema.json").read_text())
    accepted = set(schema["properties"]["config"]["properties"])

    def camel(name: str) -> str:
        first, *rest = name.split("_")
        return first + "".join(part.title() for part in rest)

    missing = {camel(n) for n in RagSettings.model_fields if n not in RAG_SETTINGS_OWNED_BY_THE_CHART} - accepted
    assert not missing, f"settings the chart's schema refuses: {sorted(missing)}"


def test_rag_environment_is_a_valid_rag_configuration(rag: Rendered, monkeypatch: pytest.MonkeyPatch) -> None:
    from scia.rag.config import RagSettings

    settings = load_settings(RagSettings, "SCIA_RAG_", env_of(rag.container), monkeypatch)
    assert (settings.grpc_port, settings.metrics_port) == (50052, 9092)
    assert settings.embedder_target.startswith("dns:///scia-embedder-headless.")
    assert str(settings.reranker_model_path) == "/models/cross-encoder/current"


# --- planner -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planner() -> Rendered:
    return render(PLANNER, release="scia-planner")


def test_planner_default_objects_and_pod(planner: Rendered) -> None:
    assert set(planner.objects) == {
        ("Deployment", "scia-planner"),
        ("Service", "scia-planner"),
        ("Service", "scia-planner-headless"),
        ("ServiceAccount", "scia-planner"),
        ("NetworkPolicy", "scia-planner"),
    }
    restricted_pod_of(planner)
    assert port_of(planner.container, "grpc") == 50053
    network_policy_allows_scia_only(planner, "scia-planner")


def test_planner_never_reads_local_paths(planner: Rendered) -> None:
    assert env_of(planner.container)["SCIA_PLANNER_ALLOW_LOCAL_PATHS"] == "false"
    with pytest.raises(helm.HelmValuesError, match="additional properties 'allowLocalPaths' not allowed"):
        render(PLANNER, {"config": {"allowLocalPaths": True}})
    for values in (
        {"env": {"SCIA_PLANNER_ALLOW_LOCAL_PATHS": "true"}},
        {"extraEnv": [{"name": "SCIA_PLANNER_ALLOW_LOCAL_PATHS", "value": "true"}]},
    ):
        with pytest.raises(helm.HelmRenderError, match="SCIA_PLANNER_ALLOW_LOCAL_PATHS stays false"):
            render(PLANNER, values)


def test_planner_clones_into_a_size_limited_empty_dir(planner: Rendered) -> None:
    volumes = {volume["name"]: volume for volume in planner.pod["spec"]["volumes"]}
    assert volumes["clones"] == {"name": "clones", "emptyDir": {"sizeLimit": "2Gi"}}
    mounts = {mount["name"]: mount["mountPath"] for mount in planner.container["volumeMounts"]}
    assert mounts["clones"] == env_of(planner.container)["SCIA_PLANNER_WORK_DIR"] == "/var/lib/scia/clones"
    in_memory = render(PLANNER, {"clones": {"sizeLimit": "512Mi", "medium": "Memory"}})
    volumes = {volume["name"]: volume for volume in in_memory.pod["spec"]["volumes"]}
    assert volumes["clones"]["emptyDir"] == {"sizeLimit": "512Mi", "medium": "Memory"}


def test_planner_calls_the_rag_of_the_suite(planner: Rendered) -> None:
    rag = render(RAG, EXTERNAL_DB, release="scia-rag")
    service, namespace, port = target_host(env_of(planner.container)["SCIA_PLANNER_RAG_TARGET"])
    assert rag.get("Service", service)["spec"]["clusterIP"] == "None"
    assert (namespace, port) == (NAMESPACE, port_of(rag.container, "grpc"))
    without = render(PLANNER, {"peers": {"rag": {"enabled": False}}})
    assert "SCIA_PLANNER_RAG_TARGET" not in env_of(without.container)


def test_planner_llm_settings_with_the_key_from_a_secret() -> None:
    rendered = render(
        PLANNER,
        {
            "config": {
                "llmBaseUrl": "http://vllm.ml:8000/v1",
                "llmModel": "qwen2.5",
                "llmApiKey": {"secretKeyRef": {"name": "planner-llm", "key": "api-key"}},
                "llmMaxTokens": 2048,
                # A setting the planner adds later needs no chart change.
                "llmTemperature": 0.2,
            }
        },
    )
    env = env_of(rendered.container)
    assert env["SCIA_PLANNER_LLM_BASE_URL"] == "http://vllm.ml:8000/v1"
    assert env["SCIA_PLANNER_LLM_MODEL"] == "qwen2.5"
    assert env["SCIA_PLANNER_LLM_API_KEY"] == {"secretKeyRef": {"name": "planner-llm", "key": "api-key"}}
    assert env["SCIA_PLANNER_LLM_MAX_TOKENS"] == "2048"
    assert env["SCIA_PLANNER_LLM_TEMPERATURE"] == "0.2"


@pytest.mark.parametrize(
    ("values", "location"),
    [
        ({"config": {"llmApiKey": "sk-inline"}}, "at '/config/llmApiKey'"),
        ({"config": {"llmBaseUrl": "https://user:pw@api.example.com/v1"}}, "at '/config/llmBaseUrl'"),
        ({"config": {"workDir": "/data"}}, "additional properties 'workDir' not allowed"),
        ({"clones": {"sizeLimit": "lots"}}, "at '/clones/sizeLimit'"),
    ],
    ids=["inline-api-key", "credentials-in-url", "work-dir-in-config", "bad-size"],
)
def test_planner_schema_rejects_bad_values(values: dict[str, Any], location: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(location)):
        render(PLANNER, values)


def test_planner_environment_is_a_valid_planner_configuration(
    planner: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scia.planner.config import PlannerSettings

    settings = load_settings(PlannerSettings, "SCIA_PLANNER_", env_of(planner.container), monkeypatch)
    assert settings.allow_local_paths is False
    assert str(settings.work_dir) == "/var/lib/scia/clones"
    assert settings.rag_target.startswith("dns:///scia-rag-headless.")


# --- operator ----------------------------------------------------------------------------------


EXPECTED_OPERATOR_RULES = [
    {"apiGroups": ["scia.io"], "resources": ["deployments", "cloudproviders"], "verbs": ["get", "list", "watch", "patch", "update"]},
    {"apiGroups": ["scia.io"], "resources": ["deployments/status", "cloudproviders/status"], "verbs": ["get", "patch", "update"]},
    {"apiGroups": ["scia.io"], "resources": ["deployments/finalizers", "cloudproviders/finalizers"], "verbs": ["update"]},
    {"apiGroups": ["scia.io"], "resources": ["infrastructures"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
    {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings", "kopfpeerings"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list", "watch"]},
]  # fmt: skip


@pytest.fixture(scope="module")
def operator() -> Rendered:
    return render(OPERATOR, release="scia-operator")


def test_operator_objects(operator: Rendered) -> None:
    assert set(operator.objects) == {
        ("Deployment", "scia-operator"),
        ("Service", "scia-operator"),
        ("ServiceAccount", "scia-operator"),
        ("NetworkPolicy", "scia-operator"),
        ("ClusterRole", "scia-operator"),
        ("ClusterRoleBinding", "scia-operator"),
        ("ClusterRole", "scia-viewer"),
        ("ClusterRole", "scia-deployer"),
        ("ClusterRole", "scia-admin"),
        ("ClusterKopfPeering", "scia-operator"),
        ("CompositeResourceDefinition", "infrastructures.scia.io"),
    }


def test_operator_pod_has_no_grpc_and_probes_kopf_liveness(operator: Rendered) -> None:
    spec = restricted_pod_of(operator)
    assert spec["securityContext"]["runAsUser"] == 10001
    assert {port["name"] for port in operator.container["ports"]} == {"metrics", "health"}
    for probe_name in ("startupProbe", "livenessProbe"):
        probe = operator.container[probe_name]
        assert probe["httpGet"] == {"path": "/healthz", "port": "health"}
        assert "grpc" not in probe
    assert "readinessProbe" not in operator.container  # no Service sends it traffic
    env = env_of(operator.container)
    assert env["SCIA_OPERATOR_HEALTH_PORT"] == "8080"
    assert "SCIA_OPERATOR_GRPC_PORT" not in env
    assert operator.deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert operator.deployment["spec"]["replicas"] == 1
    # Metrics only: a ClusterIP Service for scraping, no headless Service, no gRPC port anywhere.
    assert [port["name"] for port in operator.get("Service", "scia-operator")["spec"]["ports"]] == ["metrics"]
    (rule,) = operator.get("NetworkPolicy", "scia-operator")["spec"]["ingress"]
    assert rule == {"ports": [{"port": "metrics", "protocol": "TCP"}]}
    without = render(OPERATOR, {"probes": {"kind": "none"}}, release="scia-operator")
    assert not {"startupProbe", "livenessProbe", "readinessProbe"} & set(without.container)


def test_operator_uses_its_service_account_token(operator: Rendered) -> None:
    assert operator.pod["spec"]["automountServiceAccountToken"] is True
    binding = operator.get("ClusterRoleBinding", "scia-operator")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "scia-operator",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": operator.pod["spec"]["serviceAccountName"], "namespace": NAMESPACE}
    ]


def test_operator_rbac_is_exactly_what_it_needs(operator: Rendered) -> None:
    assert operator.get("ClusterRole", "scia-operator")["rules"] == EXPECTED_OPERATOR_RULES


def test_no_role_uses_wildcards(operator: Rendered) -> None:
    for kind in ("ClusterRole", "Role"):
        for role in operator.of_kind(kind):
            for rule in role["rules"]:
                for field in ("apiGroups", "resources", "verbs"):
                    assert "*" not in rule.get(field, []), (role["metadata"]["name"], rule)
                    assert all("*" not in item for item in rule.get(field, [])), (role["metadata"]["name"], rule)
                assert "nonResourceURLs" not in rule


def test_user_roles_aggregate_into_the_builtin_roles(operator: Rendered) -> None:
    read = {
        "apiGroups": ["scia.io"],
        "resources": ["deployments", "cloudproviders", "infrastructures"],
        "verbs": ["get", "list", "watch"],
    }
    write = ["create", "update", "patch", "delete"]
    expected = {
        "scia-viewer": ("view", [read]),
        "scia-deployer": ("edit", [read, {"apiGroups": ["scia.io"], "resources": ["deployments"], "verbs": write}]),
        "scia-admin": (
            "admin",
            [
                read,
                {"apiGroups": ["scia.io"], "resources": ["deployments"], "verbs": write},
                {"apiGroups": ["scia.io"], "resources": ["cloudproviders"], "verbs": write},
            ],
        ),
    }  # fmt: skip
    for name, (builtin, rules) in expected.items():
        role = operator.get("ClusterRole", name)
        labels = role["metadata"]["labels"]
        assert labels[f"rbac.authorization.k8s.io/aggregate-to-{builtin}"] == "true"
        assert [key for key in labels if key.startswith("rbac.authorization.k8s.io/aggregate-to-")] == [
            f"rbac.authorization.k8s.io/aggregate-to-{builtin}"
        ]
        assert role["rules"] == rules, name
    # Nobody but the operator writes Infrastructures.
    for name in expected:
        for rule in operator.get("ClusterRole", name)["rules"]:
            assert "infrastructures" not in rule["resources"] or rule["verbs"] == ["get", "list", "watch"]


def test_operator_extra_rules_and_switches() -> None:
    extra = {"apiGroups": ["aws.m.upbound.io"], "resources": ["providerconfigs"], "verbs": ["get", "create"]}
    rendered = render(
        OPERATOR,
        {"rbac": {"extraRules": [extra], "userRoles": False}, "crossplane": {"installXRD": False}},
        release="scia-operator",
    )
    assert rendered.get("ClusterRole", "scia-operator")["rules"] == [*EXPECTED_OPERATOR_RULES, extra]
    assert {name for kind, name in rendered.objects if kind == "ClusterRole"} == {"scia-operator"}
    assert not rendered.of_kind("CompositeResourceDefinition")


def test_operator_peering(operator: Rendered) -> None:
    env = env_of(operator.container)
    assert env["SCIA_OPERATOR_PEERING_NAME"] == "scia-operator"
    assert ("ClusterKopfPeering", "scia-operator") in operator.objects
    standalone = render(OPERATOR, {"peering": {"enabled": False}}, release="scia-operator")
    assert env_of(standalone.container)["SCIA_OPERATOR_STANDALONE"] == "true"
    assert not standalone.of_kind("ClusterKopfPeering")
    # Watching some namespaces, one KopfPeering of the same name in each (render() keys objects
    # by kind and name only, so this reads the manifest itself).
    with helm.Chart.load(OPERATOR) as chart:
        files = chart.render({"config": {"namespaces": "team-a,team-b"}}, name="scia-operator", namespace=NAMESPACE)
    peerings = [obj for obj in yaml.safe_load_all(files["operator/templates/peering.yaml"]) if obj]
    assert [(obj["kind"], obj["metadata"]["name"], obj["metadata"]["namespace"]) for obj in peerings] == [
        ("KopfPeering", "scia-operator", "team-a"),
        ("KopfPeering", "scia-operator", "team-b"),
    ]


def test_operator_installs_the_repository_crds() -> None:
    """Every CRD of crds/ is a symlink in the chart's crds/ (Helm installs them before the
    templates); the Crossplane XRD, not a CRD, is a template."""
    repo_crds = {}
    for path in sorted((REPO / "crds").glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        repo_crds[path.name] = document["kind"]
    for name, kind in repo_crds.items():
        if kind == "CustomResourceDefinition":
            link = OPERATOR / "crds" / name
            assert link.is_symlink() and link.resolve() == (REPO / "crds" / name).resolve(), name
        else:
            assert kind == "CompositeResourceDefinition", name
            link = OPERATOR / "files" / name
            assert link.is_symlink() and link.resolve() == (REPO / "crds" / name).resolve(), name
    with helm.Chart.load(OPERATOR) as chart:
        loaded = {Path(crd["filename"]).name for crd in chart.crds}
    assert loaded == {name for name, kind in repo_crds.items() if kind == "CustomResourceDefinition"} | {
        "kopf.dev_peerings.yaml"
    }


def test_operator_xrd_is_the_repository_one_and_is_kept(operator: Rendered) -> None:
    xrd = operator.get("CompositeResourceDefinition", "infrastructures.scia.io")
    source = yaml.safe_load((REPO / "crds" / "scia.io_infrastructures.xrd.yaml").read_text())
    assert xrd["spec"] == source["spec"]
    assert xrd["apiVersion"] == source["apiVersion"]
    assert xrd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


@pytest.mark.parametrize(
    ("values", "location"),
    [
        ({"replicaCount": 2}, "at '/replicaCount'"),
        ({"config": {"kubernetesUrl": "http://127.0.0.1:6443"}}, "invalid propertyName 'kubernetesUrl'"),
        ({"config": {"peeringName": "other"}}, "invalid propertyName 'peeringName'"),
        ({"config": {"namespaces": "Team A"}}, "at '/config/namespaces'"),
        ({"probes": {"kind": "grpc"}}, "at '/probes/kind'"),
        ({"autoscaling": {"enabled": True}}, "additional properties 'autoscaling' not allowed"),
    ],
    ids=["two-replicas", "emulator-url", "peering-in-config", "bad-namespaces", "grpc-probes", "autoscaling"],
)
def test_operator_schema_rejects_bad_values(values: dict[str, Any], location: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(location)):
        render(OPERATOR, values, release="scia-operator")


def test_operator_passes_new_settings_generically() -> None:
    rendered = render(
        OPERATOR, {"config": {"recheckIntervalSeconds": 60, "someFutureSetting": "x"}}, release="scia-operator"
    )
    env = env_of(rendered.container)
    assert env["SCIA_OPERATOR_RECHECK_INTERVAL_SECONDS"] == "60"
    assert env["SCIA_OPERATOR_SOME_FUTURE_SETTING"] == "x"


def test_operator_environment_is_a_valid_operator_configuration(
    operator: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scia.operator.config import OperatorSettings

    settings = load_settings(OperatorSettings, "SCIA_OPERATOR_", env_of(operator.container), monkeypatch)
    assert settings.metrics_port == 9094
    assert settings.peering_name == "scia-operator"
    assert settings.standalone is False
    assert settings.planner_target.startswith("dns:///scia-planner-headless.")
    assert settings.rag_target.startswith("dns:///scia-rag-headless.")
    assert settings.namespaces == []


def test_http_probes_need_a_health_port() -> None:
    with pytest.raises(helm.HelmRenderError, match="probes.kind http needs ports.health"):
        render(OPERATOR, {"ports": {"health": None}}, release="scia-operator")


# --- tenant ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant() -> Rendered:
    values = {
        "name": "team-a",
        "groups": {"viewers": ["auditors"], "deployers": ["team-a-devs"], "admins": ["team-a-leads"]},
    }
    return render(TENANT, values, release="tenant-team-a")


def test_tenant_objects(tenant: Rendered) -> None:
    assert set(tenant.objects) == {
        ("Namespace", "team-a"),
        ("ResourceQuota", "scia"),
        ("RoleBinding", "scia-viewer"),
        ("RoleBinding", "scia-deployer"),
        ("RoleBinding", "scia-admin"),
        ("NetworkPolicy", "default-deny-ingress-except-scia"),
    }
    for (kind, _), obj in tenant.objects.items():
        if kind != "Namespace":
            assert obj["metadata"]["namespace"] == "team-a"


def test_tenant_namespace_enforces_the_restricted_standard(tenant: Rendered) -> None:
    namespace = tenant.get("Namespace", "team-a")
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert labels["scia.io/tenant"] == "team-a"
    assert namespace["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    # A label value cannot loosen the standard.
    loose = render(
        TENANT, {"name": "team-b", "labels": {"pod-security.kubernetes.io/enforce": "privileged", "team": "b"}}
    )
    labels = loose.get("Namespace", "team-b")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["team"] == "b"


def test_tenant_quota_bindings_and_network_policy(tenant: Rendered) -> None:
    hard = tenant.get("ResourceQuota", "scia")["spec"]["hard"]
    assert hard == {"count/deployments.scia.io": "20", "count/cloudproviders.scia.io": "5"}
    for role, group in (("scia-viewer", "auditors"), ("scia-deployer", "team-a-devs"), ("scia-admin", "team-a-leads")):
        binding = tenant.get("RoleBinding", role)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}
        assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]
    policy = tenant.get("NetworkPolicy", "default-deny-ingress-except-scia")["spec"]
    assert policy["podSelector"] == {}
    assert policy["policyTypes"] == ["Ingress"]
    assert policy["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "scia-system"}},
                    "podSelector": {"matchLabels": SCIA_POD},
                }
            ]
        }
    ]


def test_tenant_roles_exist_in_the_operator_chart(tenant: Rendered, operator: Rendered) -> None:
    for binding in tenant.of_kind("RoleBinding"):
        assert ("ClusterRole", binding["roleRef"]["name"]) in operator.objects


def test_tenant_needs_a_name() -> None:
    with pytest.raises(helm.HelmRenderError, match="name: the team's namespace"):
        render(TENANT)
    with pytest.raises(helm.HelmValuesError, match=re.escape("at '/name'")):
        render(TENANT, {"name": "Team_A"})
    only_deployers = render(TENANT, {"name": "team-c", "groups": {"deployers": ["devs"]}})
    assert [binding["metadata"]["name"] for binding in only_deployers.of_kind("RoleBinding")] == ["scia-deployer"]


# --- the suite in the umbrella chart -----------------------------------------------------------


def suite_of(values: dict[str, Any] | None = None, release: str = "scia") -> Rendered:
    return render(UMBRELLA, {"rag": EXTERNAL_DB, **(values or {})}, release=release)


def deployment_named(rendered: Rendered, name: str) -> dict[str, Any]:
    return rendered.get("Deployment", name)


def container_env(rendered: Rendered, name: str) -> dict[str, Any]:
    (container,) = deployment_named(rendered, name)["spec"]["template"]["spec"]["containers"]
    return env_of(container)


def test_umbrella_refuses_to_render_rag_without_a_database() -> None:
    with pytest.raises(helm.HelmRenderError, match="rag.database.existingSecret or rag.cnpg.enabled"):
        render(UMBRELLA, release="scia")


@pytest.mark.parametrize("release", ["scia", "prod", "embedder-stack"])
def test_umbrella_installs_the_four_services_with_consistent_targets(release: str) -> None:
    rendered = suite_of(release=release)
    names = {name for kind, name in rendered.objects if kind == "Deployment"}
    assert len(names) == 4
    by_service = {
        obj["metadata"]["labels"]["app.kubernetes.io/name"]: name
        for (kind, name), obj in rendered.objects.items()
        if kind == "Deployment"
    }
    assert set(by_service) == {"embedder", "rag", "planner", "operator"}

    def headless_of(service: str) -> tuple[str, int]:
        services = [
            obj for (kind, _), obj in rendered.objects.items()
            if kind == "Service" and obj["spec"].get("clusterIP") == "None"
            and obj["metadata"]["labels"]["app.kubernetes.io/name"] == service
        ]  # fmt: skip
        (headless,) = services
        (port,) = headless["spec"]["ports"]
        return headless["metadata"]["name"], port["port"]

    for caller, variable, callee in (
        ("rag", "SCIA_RAG_EMBEDDER_TARGET", "embedder"),
        ("planner", "SCIA_PLANNER_RAG_TARGET", "rag"),
        ("operator", "SCIA_OPERATOR_PLANNER_TARGET", "planner"),
        ("operator", "SCIA_OPERATOR_RAG_TARGET", "rag"),
    ):
        service, namespace, port = target_host(container_env(rendered, by_service[caller])[variable])
        assert (service, port) == headless_of(callee), (caller, variable)
        assert namespace == NAMESPACE


def test_umbrella_pods_are_restricted_and_run_as_10001() -> None:
    rendered = suite_of({"global": {"imageRegistry": "ghcr.io/acme"}})
    for deployment in rendered.of_kind("Deployment"):
        single = Rendered({("Deployment", deployment["metadata"]["name"]): deployment}, "")
        spec = restricted_pod_of(single)
        assert spec["securityContext"]["runAsUser"] == 10001
        assert single.container["image"].startswith("ghcr.io/acme/scia-")


def test_umbrella_ships_the_crds_and_lists_every_service() -> None:
    with helm.Chart.load(UMBRELLA) as chart:
        crds = {Path(crd["filename"]).name for crd in chart.crds}
    assert {"scia.io_deployments.yaml", "scia.io_cloudproviders.yaml", "kopf.dev_peerings.yaml"} <= crds
    notes = suite_of().notes
    for service in ("embedder", "rag", "planner"):
        assert f"dns:///scia-{service}-headless.scia-system.svc.cluster.local" in notes
    assert "operator (no gRPC server" in notes


def test_umbrella_services_can_be_switched_off() -> None:
    rendered = suite_of({"operator": {"enabled": False}, "planner": {"enabled": False}})
    assert {obj["metadata"]["labels"]["app.kubernetes.io/name"] for obj in rendered.of_kind("Deployment")} == {
        "embedder",
        "rag",
    }
    assert not rendered.of_kind("ClusterRole")


# --- images and Skaffold -----------------------------------------------------------------------


SERVICES = ["embedder", "rag", "planner", "operator", "gateway"]


@pytest.mark.parametrize("service", SERVICES)
def test_images_run_as_uid_10001_from_the_repository_root(service: str) -> None:
    dockerfile = (REPO / "services" / service / "Dockerfile").read_text()
    assert re.search(r"^USER 10001:10001$", dockerfile, re.MULTILINE)
    assert "useradd --system --uid 10001" in dockerfile
    assert "pip install -c requirements/constraints.txt" in dockerfile
    assert "COPY requirements/constraints.txt" in dockerfile  # the context is the repository root
    assert re.search(r"^HEALTHCHECK ", dockerfile, re.MULTILINE)
    assert re.search(rf'^ENTRYPOINT \["scia-{service}"\]$', dockerfile, re.MULTILINE)


def test_rag_image_installs_torch_only_with_the_reranker() -> None:
    dockerfile = (REPO / "services" / "rag" / "Dockerfile").read_text()
    assert "ARG WITH_RERANKER=false" in dockerfile
    assert '"services/rag[rerank]"' in dockerfile
    torch_install = re.search(
        r"pip install --index-url https://download.pytorch.org/whl/cpu torch==([0-9.]+)", dockerfile
    )
    assert torch_install
    constraints = (REPO / "requirements" / "constraints.txt").read_text()
    assert f"torch=={torch_install.group(1)}" in constraints.splitlines()


def test_planner_image_has_git_and_ssh() -> None:
    dockerfile = (REPO / "services" / "planner" / "Dockerfile").read_text()
    assert "git openssh-client ca-certificates" in dockerfile
    assert "GIT_TERMINAL_PROMPT=0" in dockerfile


def test_skaffold_has_a_module_per_service_and_the_suite_requires_them() -> None:
    configs = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all((REPO / "skaffold.yaml").read_text())}
    assert set(configs) == {*SERVICES, "scia"}
    assert configs["scia"]["requires"] == [{"configs": SERVICES}]
    for service in SERVICES:
        config = configs[service]
        (artifact,) = config["build"]["artifacts"]
        assert artifact["image"] == f"scia-{service}"
        assert artifact["context"] == "."
        assert (REPO / artifact["docker"]["dockerfile"]).is_file()
        (release,) = config["deploy"]["helm"]["releases"]
        # scia-<service> releases name the objects as the umbrella does, so the targets resolve.
        assert release["name"] == f"scia-{service}"
        assert (REPO / release["chartPath"] / "Chart.yaml").is_file()
        assert release["skipBuildDependencies"] is True


def values_of_set(set_values: dict[str, Any]) -> dict[str, Any]:
    """skaffold's setValues ({"a.b": v}) as the nested values `helm --set` makes of them."""
    values: dict[str, Any] = {}
    for dotted, value in set_values.items():
        node = values
        *parents, leaf = dotted.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return values


def test_skaffold_rag_release_renders_with_its_values() -> None:
    configs = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all((REPO / "skaffold.yaml").read_text())}
    (release,) = configs["rag"]["deploy"]["helm"]["releases"]
    values = values_of_set(release["setValues"])
    assert render(RAG, values, release=release["name"]).deployment
