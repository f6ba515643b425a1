"""The gateway chart (deploy/helm/gateway) alone and in the umbrella, rendered offline like
test_charts.py: HTTP probes, the Service and Ingress of the front door, its RBAC (impersonation),
its NetworkPolicy, token verification only from OIDC or a Secret, and an environment the
gateway's own settings class accepts."""

from __future__ import annotations

import json
import re
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.helm.test_charts import HELM_DIR, NAMESPACE, UMBRELLA, Rendered, env_of, port_of, render, restricted_pod_of
from tests.helm.test_suite_charts import EXTERNAL_DB, RAG, REPO, SHARED_SCHEMA_KEYS, load_settings, target_host, values_of_set

GATEWAY = HELM_DIR / "gateway"
PLANNER = HELM_DIR / "planner"
RELEASE = "scia-gateway"
OIDC = {"config": {"oidcJwksUrl": "https://login.example.com/certs", "oidcIssuer": "https://login.example.com"}}
JWT_SECRET = {"secretKeyRef": {"name": "scia-gateway-jwt", "key": "key"}}
SHARED_KEY = {"config": {"jwtSharedKey": JWT_SECRET}}

EXPECTED_RULES = [
    {"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]},
    {"apiGroups": ["scia.io"], "resources": ["deployments", "cloudproviders"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
]  # fmt: skip

NON_DEFAULT: dict[str, Any] = {
    "config": {
        "oidcJwksUrl": "https://login.example.com/realms/scia/protocol/openid-connect/certs",
        "oidcIssuer": "https://login.example.com/realms/scia",
        "jwtAudience": "scia-api",
        "groupsClaim": "roles",
        "roleBindings": {"platform-team-a": "team-a:deployer", "sre": "*:viewer"},
        "maxPageSize": 200,
        "subscriberQueueSize": 64,
        "compositionVersion": "v1",
    },
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "host": "scia.example.com",
        "tlsSecretName": "scia-tls",
        "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"},
    },
    "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9},
    "podDisruptionBudget": {"enabled": True, "minAvailable": 2},
    "networkPolicy": {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]},
    "metrics": {"serviceMonitor": {"enabled": True}},
}


def gateway_of(values: dict[str, Any] | None = None, release: str = RELEASE) -> Rendered:
    """The chart with OIDC (it renders nothing without a token verifier) plus `values`."""
    values = dict(values or {})
    return render(GATEWAY, {**values, "config": {**OIDC["config"], **values.get("config", {})}}, release=release)


@pytest.fixture(scope="module")
def gateway() -> Rendered:
    return gateway_of()


@pytest.fixture(scope="module")
def custom() -> Rendered:
    return render(GATEWAY, NON_DEFAULT, release=RELEASE)


def lint_findings(values: dict[str, Any]) -> list:
    report = helm.lint(GATEWAY, values, strict=True)
    return [m for m in report["messages"] if m["severity"] >= 2] + list(report["errors"])


@pytest.mark.parametrize("values", [OIDC, SHARED_KEY, NON_DEFAULT], ids=["oidc", "shared-key", "non-default"])
def test_gateway_lints_strict(values: dict[str, Any]) -> None:
    assert not lint_findings(values)


def test_gateway_refuses_to_render_without_a_way_to_verify_tokens() -> None:
    with pytest.raises(helm.HelmRenderError, match="needs a way to verify tokens") as error:
        render(GATEWAY, release=RELEASE)
    assert "config.oidcJwksUrl" in str(error.value) and "config.jwtSharedKey" in str(error.value)


# --- defaults ----------------------------------------------------------------------------------


def test_gateway_default_objects(gateway: Rendered) -> None:
    assert set(gateway.objects) == {
        ("Deployment", RELEASE),
        ("Service", RELEASE),
        ("ServiceAccount", RELEASE),
        ("NetworkPolicy", RELEASE),
        ("ClusterRole", RELEASE),
        ("ClusterRoleBinding", RELEASE),
    }


def test_gateway_pod_serves_http_with_http_probes(gateway: Rendered) -> None:
    spec = restricted_pod_of(gateway)
    assert spec["securityContext"]["runAsUser"] == 10001
    assert gateway.container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = gateway.container[probe_name]
        assert probe["httpGet"] == {"path": "/healthz", "port": "http"}, probe_name
        assert "grpc" not in probe
    assert gateway.container["startupProbe"]["failureThreshold"] == 12
    assert gateway.deployment["spec"]["replicas"] == 1
    annotations = gateway.pod["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}


def test_gateway_service_maps_port_80_to_http_and_exposes_metrics(gateway: Rendered) -> None:
    service = gateway.get("Service", RELEASE)["spec"]
    assert service["type"] == "ClusterIP"
    assert service["selector"] == gateway.deployment["spec"]["selector"]["matchLabels"]
    assert {port["name"]: (port["port"], port["targetPort"]) for port in service["ports"]} == {
        "http": (80, "http"),
        "metrics": (8080, "http"),
    }
    assert port_of(gateway.container, "http") == 8080


def test_gateway_runs_in_cluster_with_its_token_and_impersonates(gateway: Rendered) -> None:
    env = env_of(gateway.container)
    assert gateway.pod["spec"]["automountServiceAccountToken"] is True
    assert gateway.pod["spec"]["serviceAccountName"] == RELEASE
    assert gateway.get("ServiceAccount", RELEASE)["automountServiceAccountToken"] is True
    assert "SCIA_GATEWAY_KUBERNETES_URL" not in env  # empty: in-cluster
    assert env["SCIA_GATEWAY_IMPERSONATE"] == "true"
    assert env["SCIA_GATEWAY_ALLOW_LOCAL_REPOSITORIES"] == "false"
    assert env["SCIA_GATEWAY_MODE"] == "production"
    assert env["SCIA_GATEWAY_HTTP_PORT"] == "8080"


def test_gateway_cluster_role_is_exactly_impersonation_and_its_reads(gateway: Rendered) -> None:
    role = gateway.get("ClusterRole", RELEASE)
    assert role["rules"] == EXPECTED_RULES
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert all("*" not in item for item in rule[field]), rule
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
    binding = gateway.get("ClusterRoleBinding", RELEASE)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": RELEASE}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]
    without = gateway_of({"rbac": {"create": False}})
    assert not without.of_kind("ClusterRole") and not without.of_kind("ClusterRoleBinding")


def test_gateway_network_policy_opens_http_to_everyone_and_leaves_egress(gateway: Rendered) -> None:
    policy = gateway.get("NetworkPolicy", RELEASE)["spec"]
    assert policy["podSelector"]["matchLabels"] == gateway.deployment["spec"]["selector"]["matchLabels"]
    assert policy["policyTypes"] == ["Ingress"]  # no Egress: egress unconstrained
    assert policy["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]  # no `from`: any source
    assert ("NetworkPolicy", RELEASE) not in gateway_of({"networkPolicy": {"enabled": False}}).objects


def test_gateway_calls_the_planner_and_rag_of_the_suite(gateway: Rendered) -> None:
    """Installed chart by chart (skaffold), the targets are the headless Services of the
    releases scia-planner and scia-rag."""
    env = env_of(gateway.container)
    for variable, chart, release, values in (
        ("SCIA_GATEWAY_PLANNER_TARGET", PLANNER, "scia-planner", {}),
        ("SCIA_GATEWAY_RAG_TARGET", RAG, "scia-rag", EXTERNAL_DB),
    ):
        service, namespace, port = target_host(env[variable])
        callee = render(chart, values, release=release)
        assert callee.get("Service", service)["spec"]["clusterIP"] == "None", variable
        assert (namespace, port) == (NAMESPACE, port_of(callee.container, "grpc"))
    pinned = gateway_of({"peers": {"rag": {"target": "dns:///rag-headless.ml.svc.cluster.local:50052"}}})
    assert env_of(pinned.container)["SCIA_GATEWAY_RAG_TARGET"] == "dns:///rag-headless.ml.svc.cluster.local:50052"


def test_gateway_notes(gateway: Rendered) -> None:
    assert "http://scia-gateway.scia-system.svc.cluster.local/graphql" in gateway.notes
    assert "dns:///scia-planner-headless.scia-system.svc.cluster.local:50053" in gateway.notes


# --- non-default values ------------------------------------------------------------------------


def test_gateway_ingress_with_tls_routes_graphql_and_the_web_ui(custom: Rendered) -> None:
    ingress = custom.get("Ingress", RELEASE)
    assert ingress["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"}
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["scia.example.com"], "secretName": "scia-tls"}]
    (rule,) = spec["rules"]
    assert rule["host"] == "scia.example.com"
    backend = {"service": {"name": RELEASE, "port": {"name": "http"}}}
    assert rule["http"]["paths"] == [
        {"path": "/graphql", "pathType": "Prefix", "backend": backend},
        {"path": "/", "pathType": "Prefix", "backend": backend},
    ]
    # / publishes the web UI; the gateway refuses /metrics addressed to the public host.
    assert env_of(custom.container)["SCIA_GATEWAY_PUBLIC_HOST"] == "scia.example.com"
    assert "SCIA_GATEWAY_PUBLIC_HOST" not in env_of(gateway_of().container)
    assert {port["name"] for port in custom.get("Service", RELEASE)["spec"]["ports"]} >= {"http"}
    assert "https://scia.example.com/graphql" in custom.notes
    plain = gateway_of({"ingress": {"enabled": True, "host": "scia.internal"}})
    assert "tls" not in plain.get("Ingress", RELEASE)["spec"]
    assert "ingressClassName" not in plain.get("Ingress", RELEASE)["spec"]
    with pytest.raises(helm.HelmRenderError, match="ingress.enabled needs ingress.host"):
        gateway_of({"ingress": {"enabled": True}})


def test_gateway_oidc_settings_reach_the_container(custom: Rendered) -> None:
    env = env_of(custom.container)
    assert env["SCIA_GATEWAY_OIDC_JWKS_URL"] == "https://login.example.com/realms/scia/protocol/openid-connect/certs"
    assert env["SCIA_GATEWAY_OIDC_ISSUER"] == "https://login.example.com/realms/scia"
    assert env["SCIA_GATEWAY_JWT_AUDIENCE"] == "scia-api"
    assert env["SCIA_GATEWAY_GROUPS_CLAIM"] == "roles"
    assert json.loads(env["SCIA_GATEWAY_ROLE_BINDINGS"]) == {"platform-team-a": "team-a:deployer", "sre": "*:viewer"}
    assert "SCIA_GATEWAY_JWT_SHARED_KEY" not in env


def test_gateway_autoscaling_disruption_budget_and_monitoring(custom: Rendered) -> None:
    assert "replicas" not in custom.deployment["spec"]  # the HPA owns the count
    hpa = custom.get("HorizontalPodAutoscaler", RELEASE)["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 9)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": RELEASE}
    assert custom.get("PodDisruptionBudget", RELEASE)["spec"]["minAvailable"] == 2
    monitor = custom.get("ServiceMonitor", RELEASE)["spec"]
    service_ports = {port["name"] for port in custom.get("Service", RELEASE)["spec"]["ports"]}
    assert [endpoint["port"] for endpoint in monitor["endpoints"]] == ["metrics"]
    assert "metrics" in service_ports
    assert gateway_of({"replicaCount": 3}).deployment["spec"]["replicas"] == 3


def test_gateway_network_policy_can_admit_only_the_ingress_controller(custom: Rendered) -> None:
    (rule,) = custom.get("NetworkPolicy", RELEASE)["spec"]["ingress"]
    assert rule["from"] == NON_DEFAULT["networkPolicy"]["from"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


# --- the JWT key comes from a Secret, never a plain value ----------------------------------------


def test_gateway_jwt_key_comes_from_a_secret() -> None:
    rendered = render(GATEWAY, SHARED_KEY, release=RELEASE)
    env = env_of(rendered.container)
    assert env["SCIA_GATEWAY_JWT_SHARED_KEY"] == JWT_SECRET
    assert "Tokens:  HS256 shared key from Secret scia-gateway-jwt" in rendered.notes


@pytest.mark.parametrize(
    "values",
    [
        {"env": {"SCIA_GATEWAY_JWT_SHARED_KEY": "k" * 40}},
        {"extraEnv": [{"name": "SCIA_GATEWAY_JWT_SHARED_KEY", "value": "k" * 40}]},
    ],
    ids=["env", "extraEnv"],
)
def test_gateway_refuses_a_jwt_key_in_plain_env(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmRenderError, match="SCIA_GATEWAY_JWT_SHARED_KEY"):
        gateway_of(values)


def test_gateway_refuses_overrides_of_what_the_chart_sets() -> None:
    for values in (
        {"env": {"SCIA_GATEWAY_IMPERSONATE": "false"}},
        {"env": {"SCIA_GATEWAY_KUBERNETES_URL": "http://127.0.0.1:6443"}},
        {"extraEnv": [{"name": "SCIA_GATEWAY_ALLOW_LOCAL_REPOSITORIES", "value": "true"}]},
    ):
        with pytest.raises(helm.HelmRenderError, match="set by the chart"):
            gateway_of(values)


@pytest.mark.parametrize(
    ("values", "location"),
    [
        ({"config": {"jwtSharedKey": "inline-key-of-more-than-32-characters"}}, "at '/config/jwtSharedKey'"),
        ({"config": {"kubernetesUrl": "http://127.0.0.1:6443"}}, "additional properties 'kubernetesUrl' not allowed"),
        ({"config": {"impersonate": False}}, "additional properties 'impersonate' not allowed"),
        ({"config": {"plannerTarget": "x:1"}}, "additional properties 'plannerTarget' not allowed"),
        ({"config": {"allowLocalRepositories": True}}, "additional properties 'allowLocalRepositories' not allowed"),
        ({"config": {"httpPort": 9000}}, "additional properties 'httpPort' not allowed"),
        ({"config": {"mode": "debug"}}, "at '/config/mode'"),
        ({"config": {"oidcJwksUrl": "ftp://login.example.com/certs"}}, "at '/config/oidcJwksUrl'"),
        ({"config": {"roleBindings": {"ops": "team-a:root"}}}, "at '/config/roleBindings/ops'"),
        ({"config": {"maxBodyBytes": 10}}, "at '/config/maxBodyBytes'"),
        ({"ports": {"grpc": 50051}}, "additional properties 'grpc' not allowed"),
        ({"ingress": {"host": "Not A Host"}}, "at '/ingress/host'"),
        ({"probes": {"kind": "grpc"}}, "additional properties 'kind' not allowed"),
    ],
    ids=[
        "inline-jwt-key", "kubernetes-url", "impersonate", "planner-target", "local-repositories",
        "http-port-in-config", "bad-mode", "bad-jwks-url", "bad-role", "tiny-body", "grpc-port",
        "bad-host", "probe-kind",
    ],
)  # fmt: skip
def test_gateway_schema_rejects_bad_values(values: dict[str, Any], location: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(location)):
        gateway_of(values)


def test_gateway_persisted_queries_only_needs_the_safelist() -> None:
    with pytest.raises(helm.HelmRenderError, match="persistedQueriesOnly needs config.persistedQueriesPath"):
        gateway_of({"config": {"persistedQueriesOnly": True}})


def test_gateway_shares_the_scia_lib_values_contract() -> None:
    """Like the other service charts, except the keys whose meaning differs for an HTTP front door:
    networkPolicy (the http port is open, not SCIA-only) and service (its HTTP port)."""
    reference = json.loads((HELM_DIR / "embedder" / "values.schema.json").read_text())
    schema = json.loads((GATEWAY / "values.schema.json").read_text())
    for key in set(SHARED_SCHEMA_KEYS) - {"networkPolicy", "service"}:
        assert schema["properties"][key] == reference["properties"][key], key
    for name, definition in reference["definitions"].items():
        assert schema["definitions"][name] == definition, name


# --- the rendered environment is a valid gateway configuration -----------------------------------


def test_gateway_oidc_environment_is_a_valid_gateway_configuration(
    custom: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scia.gateway.config import GatewaySettings

    settings = load_settings(GatewaySettings, "SCIA_GATEWAY_", env_of(custom.container), monkeypatch)
    assert settings.http_port == 8080
    assert settings.production is True
    assert settings.use_impersonation() is True and settings.kubernetes_url == ""
    assert settings.oidc_jwks_url.endswith("/openid-connect/certs")
    assert settings.jwt_shared_key is None
    assert settings.role_bindings == {"platform-team-a": "team-a:deployer", "sre": "*:viewer"}
    assert settings.max_page_size == 200
    assert settings.planner_target == "dns:///scia-planner-headless.scia-system.svc.cluster.local:50053"
    assert settings.rag_target == "dns:///scia-rag-headless.scia-system.svc.cluster.local:50052"
    assert settings.allow_local_repositories is False


def test_gateway_shared_key_environment_is_a_valid_gateway_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from scia.gateway.config import GatewaySettings

    env = env_of(render(GATEWAY, SHARED_KEY, release=RELEASE).container)
    assert env.pop("SCIA_GATEWAY_JWT_SHARED_KEY") == JWT_SECRET
    # The kubelet resolves the secretKeyRef; here the Secret's value stands in for it.
    env["SCIA_GATEWAY_JWT_SHARED_KEY"] = "a-secret-hs256-key-of-at-least-32-characters"
    settings = load_settings(GatewaySettings, "SCIA_GATEWAY_", env, monkeypatch)
    assert settings.jwt_shared_key is not None and settings.oidc_jwks_url == ""
    assert settings.production and settings.use_impersonation()


# --- in the umbrella -----------------------------------------------------------------------------


def suite_with_gateway(release: str) -> Rendered:
    return render(UMBRELLA, {"rag": EXTERNAL_DB, "gateway": {"enabled": True, **OIDC}}, release=release)


def test_umbrella_leaves_the_gateway_off_by_default() -> None:
    rendered = render(UMBRELLA, {"rag": EXTERNAL_DB}, release="scia")
    assert "gateway" not in {obj["metadata"]["labels"]["app.kubernetes.io/name"] for obj in rendered.of_kind("Deployment")}
    assert "gateway (" not in rendered.notes


@pytest.mark.parametrize("release", ["scia", "prod", "gateway-stack"])
def test_umbrella_gateway_targets_are_the_planner_and_rag_headless_services(release: str) -> None:
    rendered = suite_with_gateway(release)
    by_service = {
        obj["metadata"]["labels"]["app.kubernetes.io/name"]: obj for obj in rendered.of_kind("Deployment")
    }
    assert set(by_service) == {"embedder", "rag", "planner", "operator", "gateway"}
    (container,) = by_service["gateway"]["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    for variable, callee in (("SCIA_GATEWAY_PLANNER_TARGET", "planner"), ("SCIA_GATEWAY_RAG_TARGET", "rag")):
        headless = [
            obj for obj in rendered.of_kind("Service")
            if obj["spec"].get("clusterIP") == "None" and obj["metadata"]["labels"]["app.kubernetes.io/name"] == callee
        ]  # fmt: skip
        (service,) = headless
        (port,) = service["spec"]["ports"]
        assert target_host(env[variable]) == (service["metadata"]["name"], NAMESPACE, port["port"]), variable
    gateway_name = by_service["gateway"]["metadata"]["name"]
    assert rendered.get("ClusterRole", gateway_name)["rules"] == EXPECTED_RULES
    assert f"http://{gateway_name}.{NAMESPACE}.svc.cluster.local/graphql" in rendered.notes
    restricted_pod_of(Rendered({("Deployment", gateway_name): by_service["gateway"]}, ""))


def test_skaffold_gateway_module_renders_and_the_suite_requires_it() -> None:
    configs = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all((REPO / "skaffold.yaml").read_text())}
    assert "gateway" in configs["scia"]["requires"][0]["configs"]
    config = configs["gateway"]
    (artifact,) = config["build"]["artifacts"]
    assert artifact["image"] == "scia-gateway" and artifact["context"] == "."
    assert artifact["docker"]["dockerfile"] == "services/gateway/Dockerfile"
    assert (REPO / artifact["docker"]["dockerfile"]).is_file()
    (release,) = config["deploy"]["helm"]["releases"]
    assert release["name"] == RELEASE and release["skipBuildDependencies"] is True
    values = values_of_set(release["setValues"])
    rendered = render(REPO / release["chartPath"], values, release=release["name"])
    assert env_of(rendered.container)["SCIA_GATEWAY_JWT_SHARED_KEY"] == JWT_SECRET
    (forward,) = config["portForward"]
    assert (forward["resourceName"], forward["port"]) == (RELEASE, 80)
