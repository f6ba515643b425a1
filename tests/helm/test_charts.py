"""The Helm charts under deploy/helm, rendered offline with the Helm v4 SDK (helm-python-sdk).

No cluster is involved: each test renders a chart with a set of values, parses the manifests
and checks what installing them would give users — the objects, the wiring between them
(ports, selectors, probes), the pod security, the service's environment — and that bad values
fail with a message naming the problem.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

HELM_DIR = Path(__file__).resolve().parents[2] / "deploy" / "helm"
EMBEDDER = HELM_DIR / "embedder"
UMBRELLA = HELM_DIR / "scia"
# Every chart, so a new service chart is linted and its dependencies checked without listing it.
CHARTS = sorted(chart_yaml.parent for chart_yaml in HELM_DIR.glob("*/Chart.yaml"))

NAMESPACE = "scia-system"
RELEASE = "scia-embedder"

# Volume types the "restricted" Pod Security Standard allows.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}

CUSTOM_VALUES: dict[str, Any] = {
    "replicaCount": 3,
    "ports": {"grpc": 6000, "metrics": 9100},
    "image": {"registry": "registry.example.com/scia", "tag": "1.2.3", "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "regcred"}],
    "config": {
        "logLevel": "DEBUG",
        "batching": False,
        "maxBatchSize": 128,
        "maxBatchWaitMs": 2.5,
        # Helm holds numbers as floats: a million must still reach the service as "1000000".
        "maxQueuedTexts": 1_000_000,
        "modelPath": "/models/custom",
    },
    "otel": {"endpoint": "http://otel-collector.observability:4317", "serviceName": "embedder-eu"},
    "env": {"HF_HUB_VERBOSITY": "info"},
    "extraEnv": [
        {"name": "SCIA_EMBEDDER_MODEL_NAME", "valueFrom": {"secretKeyRef": {"name": "embedder", "key": "model"}}}
    ],
    "podDisruptionBudget": {"enabled": True, "minAvailable": 2},
    "metrics": {
        "podAnnotations": False,
        "serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "kube-prometheus-stack"}},
    },
    "podAnnotations": {"example.com/team": "search"},
    "extraVolumes": [{"name": "model", "persistentVolumeClaim": {"claimName": "embedder-model", "readOnly": True}}],
    "extraVolumeMounts": [{"name": "model", "mountPath": "/models/custom", "readOnly": True}],
    "topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}
    ],
}

AUTOSCALED_VALUES: dict[str, Any] = {
    "autoscaling": {
        "enabled": True,
        "minReplicas": 2,
        "maxReplicas": 8,
        "targetCPUUtilizationPercentage": 60,
        "targetMemoryUtilizationPercentage": 80,
    },
}


DEFINITION_KINDS = {"CustomResourceDefinition", "CompositeResourceDefinition"}
SUBDOMAIN = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+"


def chart_metadata(chart_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((chart_dir / "Chart.yaml").read_text())


@dataclass
class Rendered:
    """A rendered release: its objects by (kind, name), and the chart's own NOTES.txt."""

    objects: dict[tuple[str, str], dict[str, Any]]
    notes: str

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return self.objects[(kind, name)]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for (k, _), obj in self.objects.items() if k == kind]

    @property
    def deployment(self) -> dict[str, Any]:
        (deployment,) = self.of_kind("Deployment")
        return deployment

    @property
    def pod(self) -> dict[str, Any]:
        return self.deployment["spec"]["template"]

    @property
    def container(self) -> dict[str, Any]:
        (container,) = self.pod["spec"]["containers"]
        return container


def render(chart_dir: Path, values: dict[str, Any] | None = None, *, release: str = RELEASE) -> Rendered:
    """Render a chart and parse every manifest, checking each object is well-formed."""
    with helm.Chart.load(chart_dir) as chart:
        chart_name = chart.name
        files = chart.render(values or {}, name=release, namespace=NAMESPACE)
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    notes = ""
    for path, text in sorted(files.items()):
        if path.endswith("NOTES.txt"):
            # Helm shows only the top chart's notes, not the subcharts'.
            if path == f"{chart_name}/templates/NOTES.txt":
                notes = text
            continue
        for obj in yaml.safe_load_all(text):
            if obj is None:  # a template that rendered nothing (feature switched off)
                continue
            assert isinstance(obj.get("apiVersion"), str) and obj["apiVersion"], f"{path}: no apiVersion"
            assert isinstance(obj.get("kind"), str) and obj["kind"], f"{path}: no kind"
            name = obj.get("metadata", {}).get("name")
            # Definitions of API types are named <plural>.<group>, a DNS subdomain; the rest a DNS label.
            pattern = SUBDOMAIN if obj["kind"] in DEFINITION_KINDS else r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
            assert isinstance(name, str) and re.fullmatch(pattern, name), f"{path}: bad metadata.name {name!r}"
            key = (obj["kind"], name)
            assert key not in objects, f"{key} rendered twice"
            objects[key] = obj
    return Rendered(objects, notes)


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """name -> value (plain variables) or the valueFrom object."""
    names = [var["name"] for var in container.get("env", [])]
    assert len(names) == len(set(names)), f"duplicate environment variables: {names}"
    return {var["name"]: var["value"] if "value" in var else var["valueFrom"] for var in container["env"]}


def port_of(container: dict[str, Any], name: str) -> int:
    (port,) = [port["containerPort"] for port in container["ports"] if port["name"] == name]
    return port


def assert_restricted(pod_spec: dict[str, Any]) -> None:
    """The Pod Security Standard "restricted" (which includes "baseline"), as the admission controller checks it."""
    pod_context = pod_spec.get("securityContext", {})
    for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod_spec.get(host_namespace), host_namespace
    for volume in pod_spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        assert kinds <= RESTRICTED_VOLUME_TYPES, f"volume {volume['name']} is of type {kinds}"
    assert pod_context.get("runAsUser", 1) != 0
    containers = pod_spec["containers"] + pod_spec.get("initContainers", [])
    for container in containers:
        context = container.get("securityContext", {})
        assert not context.get("privileged"), container["name"]
        assert context.get("allowPrivilegeEscalation") is False, container["name"]
        assert context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True, container["name"]
        assert context.get("runAsUser", pod_context.get("runAsUser")) not in (0, None), container["name"]
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        assert seccomp.get("type") in ("RuntimeDefault", "Localhost"), container["name"]
        capabilities = context.get("capabilities", {})
        assert "ALL" in capabilities.get("drop", []), container["name"]
        assert set(capabilities.get("add", [])) <= {"NET_BIND_SERVICE"}, container["name"]
        assert all("hostPort" not in port for port in container.get("ports", [])), container["name"]


def restricted_pod_of(rendered: Rendered) -> dict[str, Any]:
    spec = rendered.pod["spec"]
    assert_restricted(spec)
    # Beyond "restricted": the root filesystem is read-only and /tmp is the writable scratch space.
    assert rendered.container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {mount["mountPath"]: mount["name"] for mount in rendered.container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    return spec


# --- every chart -------------------------------------------------------------------------------


def ci_values(chart_dir: Path) -> dict[str, Any]:
    """The chart's ci/*-values.yaml (the chart-testing convention), for charts that cannot render
    on their defaults alone (rag needs a database, the tenant chart a team name)."""
    values: dict[str, Any] = {}
    for path in sorted(chart_dir.glob("ci/*-values.yaml")):
        values.update(yaml.safe_load(path.read_text()) or {})
    return values


@pytest.mark.parametrize("chart_dir", CHARTS, ids=lambda path: path.name)
def test_chart_lints_strict_without_findings(chart_dir: Path) -> None:
    report = helm.lint(chart_dir, ci_values(chart_dir), strict=True)
    findings = [message for message in report["messages"] if message["severity"] >= 2]  # warnings, errors
    assert not findings, findings
    assert not report["errors"], report["errors"]


@pytest.mark.parametrize("values", [CUSTOM_VALUES, AUTOSCALED_VALUES], ids=["custom", "autoscaled"])
def test_embedder_lints_strict_with_non_default_values(values: dict[str, Any]) -> None:
    report = helm.lint(EMBEDDER, values, strict=True)
    assert not [message for message in report["messages"] if message["severity"] >= 2]
    assert not report["errors"]


@pytest.mark.parametrize(
    "chart_dir", [chart for chart in CHARTS if chart_metadata(chart).get("dependencies")], ids=lambda path: path.name
)
def test_file_dependencies_are_vendored_as_symlinks_to_the_sources(chart_dir: Path) -> None:
    """Rendering must use the dependencies as they are in the repository, never a stale archive."""
    dependencies = chart_metadata(chart_dir)["dependencies"]
    for dependency in dependencies:
        repository = dependency["repository"]
        assert repository.startswith("file://"), repository
        vendored = chart_dir / "charts" / dependency["name"]
        assert vendored.is_symlink(), f"{vendored} must be a symlink to {repository}"
        assert vendored.resolve() == (chart_dir / repository.removeprefix("file://")).resolve()
        assert chart_metadata(vendored)["version"] == dependency["version"]
    leftovers = sorted(path.name for path in (chart_dir / "charts").glob("*.tgz"))
    assert not leftovers, f"`helm dependency update` archives would load charts twice; delete {leftovers}"
    assert not (chart_dir / "Chart.lock").exists()
    statuses = {dep["name"]: dep["status"] for dep in helm.dependency_list(chart_dir)}
    assert statuses == {dep["name"]: "unpacked" for dep in dependencies}


# --- embedder, default values ------------------------------------------------------------------


@pytest.fixture(scope="module")
def default() -> Rendered:
    return render(EMBEDDER)


def test_default_release_objects(default: Rendered) -> None:
    assert set(default.objects) == {
        ("NetworkPolicy", "scia-embedder"),
        ("Deployment", "scia-embedder"),
        ("Service", "scia-embedder"),
        ("Service", "scia-embedder-headless"),
        ("ServiceAccount", "scia-embedder"),
    }


def test_every_object_carries_the_standard_labels(default: Rendered) -> None:
    app_version = chart_metadata(EMBEDDER)["appVersion"]
    for obj in default.objects.values():
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "embedder"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/version"] == app_version
        assert labels["app.kubernetes.io/component"] == "embedding"
        assert labels["app.kubernetes.io/part-of"] == "scia"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "embedder-0.1.0"


def test_services_select_the_deployment_pods(default: Rendered) -> None:
    selector = default.deployment["spec"]["selector"]["matchLabels"]
    pod_labels = default.pod["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    for service in default.of_kind("Service"):
        assert service["spec"]["selector"] == selector


def test_headless_service_resolves_to_pods_on_the_grpc_port(default: Rendered) -> None:
    headless = default.get("Service", "scia-embedder-headless")["spec"]
    assert headless["clusterIP"] == "None"
    assert not headless.get("publishNotReadyAddresses", False)  # only ready pods get calls
    (port,) = headless["ports"]
    assert port["name"] == "grpc"
    assert port["port"] == port_of(default.container, "grpc") == 50051
    assert port["targetPort"] == "grpc"


def test_cluster_ip_service_exposes_grpc_and_metrics(default: Rendered) -> None:
    spec = default.get("Service", "scia-embedder")["spec"]
    assert spec.get("clusterIP") != "None"
    ports = {port["name"]: (port["port"], port["targetPort"]) for port in spec["ports"]}
    assert ports == {"grpc": (50051, "grpc"), "metrics": (9090, "metrics")}
    assert port_of(default.container, "metrics") == 9090


def test_pod_meets_the_restricted_pod_security_standard(default: Rendered) -> None:
    spec = restricted_pod_of(default)
    assert spec["securityContext"]["runAsUser"] == 10001
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert default.container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_probes_ask_the_grpc_health_service(default: Rendered) -> None:
    grpc_port = port_of(default.container, "grpc")
    for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = default.container[probe_name]
        assert probe["grpc"] == {"port": grpc_port}, probe_name
        assert not {"httpGet", "tcpSocket", "exec"} & set(probe), probe_name


def test_startup_probe_waits_for_the_model_to_load(default: Rendered) -> None:
    startup = default.container["startupProbe"]
    window = startup.get("initialDelaySeconds", 0) + startup["failureThreshold"] * startup["periodSeconds"]
    assert window >= 60, f"the embedder needs up to ~60 s to load its model; the startup probe allows {window} s"


def test_termination_grace_outlasts_the_service_shutdown_grace(default: Rendered) -> None:
    shutdown_grace = float(env_of(default.container)["SCIA_EMBEDDER_SHUTDOWN_GRACE_SECONDS"])
    assert default.pod["spec"]["terminationGracePeriodSeconds"] > shutdown_grace


def test_default_settings_reach_the_service_environment(default: Rendered) -> None:
    env = env_of(default.container)
    assert {name: value for name, value in env.items() if name.startswith("SCIA_EMBEDDER_")} == {
        "SCIA_EMBEDDER_GRPC_PORT": "50051",
        "SCIA_EMBEDDER_METRICS_PORT": "9090",
        "SCIA_EMBEDDER_LOG_LEVEL": "INFO",
        "SCIA_EMBEDDER_SHUTDOWN_GRACE_SECONDS": "10",
        "SCIA_EMBEDDER_BATCHING": "true",
        "SCIA_EMBEDDER_MAX_BATCH_SIZE": "64",
        "SCIA_EMBEDDER_MAX_BATCH_WAIT_MS": "5",
        "SCIA_EMBEDDER_MAX_TEXTS_PER_REQUEST": "256",
        "SCIA_EMBEDDER_MAX_TEXT_CHARS": "10000",
        "SCIA_EMBEDDER_MAX_QUEUED_TEXTS": "4096",
        "SCIA_EMBEDDER_TORCH_THREADS": "0",
        # No SCIA_EMBEDDER_MODEL_PATH: left unset, the service serves the model bundled in the image.
    }
    # Tracing exports nothing without an endpoint.
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env
    # Kubernetes' service links would add SCIA_EMBEDDER_PORT & co. from the Service "scia-embedder".
    assert default.pod["spec"]["enableServiceLinks"] is False


def test_resources_come_from_values(default: Rendered) -> None:
    assert default.container["resources"] == {
        "requests": {"cpu": "500m", "memory": "768Mi"},
        "limits": {"memory": "1536Mi"},
    }


def test_image_tag_defaults_to_the_app_version(default: Rendered) -> None:
    app_version = chart_metadata(EMBEDDER)["appVersion"]
    assert default.container["image"] == f"scia-embedder:{app_version}"
    assert default.container["imagePullPolicy"] == "IfNotPresent"
    assert "imagePullSecrets" not in default.pod["spec"]


def test_one_replica_and_no_optional_objects(default: Rendered) -> None:
    assert default.deployment["spec"]["replicas"] == 1
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceMonitor"):
        assert not default.of_kind(kind), kind


def test_pods_run_as_their_own_service_account_without_api_token(default: Rendered) -> None:
    spec = default.pod["spec"]
    account = default.get("ServiceAccount", spec["serviceAccountName"])
    assert account["automountServiceAccountToken"] is False
    assert spec["automountServiceAccountToken"] is False


def test_prometheus_scrape_annotations(default: Rendered) -> None:
    annotations = default.pod["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
        "prometheus.io/path": "/metrics",
    }


def test_notes_give_the_balanced_grpc_address(default: Rendered) -> None:
    assert "dns:///scia-embedder-headless.scia-system.svc.cluster.local:50051" in default.notes


def test_default_environment_is_a_valid_embedder_configuration(
    default: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_embedder_settings(env_of(default.container), monkeypatch)
    assert settings.grpc_port == 50051
    assert settings.model_path is None  # the bundled model
    assert settings.batching is True


def load_embedder_settings(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Parse a rendered environment with the embedder's own settings class, as the pod would."""
    from scia.embedder import config
    from scia.runtime import config as runtime_config

    for name in [name for name in os.environ if name.startswith("SCIA_EMBEDDER_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if isinstance(value, str):  # valueFrom variables come from the cluster
            monkeypatch.setenv(name, value)
    return runtime_config.load_settings(config.EmbedderSettings)


# --- embedder, non-default values --------------------------------------------------------------


@pytest.fixture(scope="module")
def custom() -> Rendered:
    return render(EMBEDDER, CUSTOM_VALUES)


@pytest.fixture(scope="module")
def autoscaled() -> Rendered:
    return render(EMBEDDER, AUTOSCALED_VALUES)


def test_custom_release_objects(custom: Rendered) -> None:
    assert set(custom.objects) == {
        ("NetworkPolicy", "scia-embedder"),
        ("Deployment", "scia-embedder"),
        ("Service", "scia-embedder"),
        ("Service", "scia-embedder-headless"),
        ("ServiceAccount", "scia-embedder"),
        ("PodDisruptionBudget", "scia-embedder"),
        ("ServiceMonitor", "scia-embedder"),
    }
    assert custom.deployment["spec"]["replicas"] == 3


def test_ports_follow_values_everywhere(custom: Rendered) -> None:
    assert port_of(custom.container, "grpc") == 6000
    assert port_of(custom.container, "metrics") == 9100
    for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert custom.container[probe_name]["grpc"] == {"port": 6000}
    service_ports = {port["name"]: port["port"] for port in custom.get("Service", "scia-embedder")["spec"]["ports"]}
    assert service_ports == {"grpc": 6000, "metrics": 9100}
    headless_ports = custom.get("Service", "scia-embedder-headless")["spec"]["ports"]
    assert [(port["name"], port["port"]) for port in headless_ports] == [("grpc", 6000)]
    env = env_of(custom.container)
    assert (env["SCIA_EMBEDDER_GRPC_PORT"], env["SCIA_EMBEDDER_METRICS_PORT"]) == ("6000", "9100")
    assert "dns:///scia-embedder-headless.scia-system.svc.cluster.local:6000" in custom.notes


def test_custom_settings_and_env_reach_the_container(custom: Rendered) -> None:
    env = env_of(custom.container)
    assert env["SCIA_EMBEDDER_LOG_LEVEL"] == "DEBUG"
    assert env["SCIA_EMBEDDER_BATCHING"] == "false"
    assert env["SCIA_EMBEDDER_MAX_BATCH_SIZE"] == "128"
    assert env["SCIA_EMBEDDER_MAX_BATCH_WAIT_MS"] == "2.5"
    assert env["SCIA_EMBEDDER_MAX_QUEUED_TEXTS"] == "1000000"
    assert env["SCIA_EMBEDDER_MODEL_PATH"] == "/models/custom"
    assert env["HF_HUB_VERBOSITY"] == "info"
    assert env["SCIA_EMBEDDER_MODEL_NAME"] == {"secretKeyRef": {"name": "embedder", "key": "model"}}
    # extraEnv comes last, so it can override anything the chart sets.
    assert custom.container["env"][-1]["name"] == "SCIA_EMBEDDER_MODEL_NAME"


def test_tracing_exports_to_the_configured_endpoint(custom: Rendered) -> None:
    env = env_of(custom.container)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4317"
    assert env["OTEL_SERVICE_NAME"] == "embedder-eu"
    attributes = dict(item.split("=", 1) for item in env["OTEL_RESOURCE_ATTRIBUTES"].split(","))
    assert attributes == {
        "k8s.pod.name": "$(K8S_POD_NAME)",
        "k8s.namespace.name": "$(K8S_NAMESPACE_NAME)",
        "service.version": "1.2.3",
    }
    # $(VAR) references only expand to variables defined earlier in the list.
    names = [var["name"] for var in custom.container["env"]]
    assert names.index("K8S_POD_NAME") < names.index("OTEL_RESOURCE_ATTRIBUTES")
    assert names.index("K8S_NAMESPACE_NAME") < names.index("OTEL_RESOURCE_ATTRIBUTES")


def test_custom_environment_is_a_valid_embedder_configuration(
    custom: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = env_of(custom.container)
    del env["SCIA_EMBEDDER_MODEL_PATH"]  # exists only once the volume is mounted in the pod
    settings = load_embedder_settings(env, monkeypatch)
    assert (settings.grpc_port, settings.metrics_port) == (6000, 9100)
    assert settings.max_queued_texts == 1_000_000
    assert settings.max_batch_wait_ms == 2.5
    assert settings.batching is False


def test_image_registry_tag_and_pull_secrets(custom: Rendered) -> None:
    assert custom.container["image"] == "registry.example.com/scia/scia-embedder:1.2.3"
    assert custom.container["imagePullPolicy"] == "Always"
    assert custom.pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert custom.deployment["metadata"]["labels"]["app.kubernetes.io/version"] == "1.2.3"


def test_image_pinned_by_digest_keeps_a_valid_version_label() -> None:
    digest = "sha256:" + "ab" * 32
    rendered = render(EMBEDDER, {"image": {"repository": "localhost:5000/scia-embedder", "tag": f"v7@{digest}"}})
    assert rendered.container["image"] == f"localhost:5000/scia-embedder:v7@{digest}"
    assert rendered.deployment["metadata"]["labels"]["app.kubernetes.io/version"] == "v7"


def test_pod_disruption_budget(custom: Rendered) -> None:
    pdb = custom.get("PodDisruptionBudget", "scia-embedder")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 2
    assert "maxUnavailable" not in pdb["spec"]
    assert pdb["spec"]["selector"]["matchLabels"] == custom.deployment["spec"]["selector"]["matchLabels"]


def test_pod_disruption_budget_defaults_to_one_unavailable_pod() -> None:
    rendered = render(EMBEDDER, {"podDisruptionBudget": {"enabled": True}})
    assert rendered.get("PodDisruptionBudget", "scia-embedder")["spec"]["maxUnavailable"] == 1


def test_service_monitor_scrapes_the_metrics_port(custom: Rendered) -> None:
    monitor = custom.get("ServiceMonitor", "scia-embedder")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}
    ]
    selector = monitor["spec"]["selector"]["matchLabels"]
    service = custom.get("Service", "scia-embedder")
    assert selector.items() <= service["metadata"]["labels"].items()
    assert "metrics" in {port["name"] for port in service["spec"]["ports"]}


def test_pod_annotations_replace_scrape_annotations_when_asked(custom: Rendered) -> None:
    assert custom.pod["metadata"]["annotations"] == {"example.com/team": "search"}


def test_model_volume_keeps_the_pod_restricted(custom: Rendered) -> None:
    spec = restricted_pod_of(custom)
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes["model"]["persistentVolumeClaim"]["claimName"] == "embedder-model"
    mounts = {mount["mountPath"]: mount["name"] for mount in custom.container["volumeMounts"]}
    assert mounts["/models/custom"] == "model"


def test_topology_spread_selects_the_service_pods(custom: Rendered) -> None:
    (constraint,) = custom.pod["spec"]["topologySpreadConstraints"]
    assert constraint["topologyKey"] == "kubernetes.io/hostname"
    assert constraint["labelSelector"] == {"matchLabels": custom.deployment["spec"]["selector"]["matchLabels"]}


def test_autoscaler_owns_the_replica_count(autoscaled: Rendered) -> None:
    hpa = autoscaled.get("HorizontalPodAutoscaler", "scia-embedder")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scia-embedder"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 8)
    targets = {metric["resource"]["name"]: metric["resource"]["target"] for metric in hpa["spec"]["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 60},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }
    # A replica count in the Deployment would reset the autoscaler's choice on every upgrade.
    assert "replicas" not in autoscaled.deployment["spec"]


def test_long_release_names_still_give_valid_service_names() -> None:
    release = "x" * 53  # the longest release name Helm accepts
    rendered = render(EMBEDDER, release=release)  # render() checks every name is a valid DNS label
    assert ("Service", f"{release}-headless") in rendered.objects


# --- values that must be refused ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "location"),
    [
        pytest.param({"ports": {"grpc": -1}}, "at '/ports/grpc': minimum", id="negative-port"),
        pytest.param({"ports": {"metrics": 70000}}, "at '/ports/metrics': maximum", id="port-too-large"),
        pytest.param({"replicas": 3}, "additional properties 'replicas' not allowed", id="unknown-top-level-key"),
        pytest.param({"replicaCount": "3"}, "at '/replicaCount': got string, want integer", id="replicas-as-string"),
        pytest.param({"config": {"maxBatchSize": 0}}, "at '/config/maxBatchSize'", id="batch-size-zero"),
        pytest.param({"config": {"logLevel": "VERBOSE"}}, "at '/config/logLevel'", id="unknown-log-level"),
        pytest.param(
            {"config": {"maxBatchsize": 8}}, "additional properties 'maxBatchsize' not allowed", id="misspelt-setting"
        ),
        pytest.param({"config": {"modelPath": "models/custom"}}, "at '/config/modelPath'", id="relative-model-path"),
        pytest.param({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'", id="bad-pull-policy"),
        pytest.param(
            {"resources": {"requests": {"memory": "lots"}}}, "at '/resources/requests/memory'", id="bad-quantity"
        ),
        pytest.param(
            {"probes": {"startup": {"httpGet": {"path": "/"}}}},
            "additional properties 'httpGet' not allowed",
            id="probe-handler-override",
        ),
        pytest.param(
            {"extraVolumes": [{"name": "host", "hostPath": {"path": "/"}}]},
            "at '/extraVolumes/0/hostPath'",
            id="host-path-volume",
        ),
        pytest.param(
            {"podDisruptionBudget": {"maxUnavailable": "half"}},
            "at '/podDisruptionBudget/maxUnavailable'",
            id="bad-max-unavailable",
        ),
    ],
)
def test_schema_rejects_bad_values(values: dict[str, Any], location: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(location)):
        render(EMBEDDER, values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"terminationGracePeriodSeconds": 5}, "terminationGracePeriodSeconds (5) must be larger"),
        ({"ports": {"grpc": 9090}}, "ports.grpc and ports.metrics must differ"),
        (
            {"autoscaling": {"enabled": True, "minReplicas": 6, "maxReplicas": 3}},
            "autoscaling.minReplicas (6) must not exceed autoscaling.maxReplicas (3)",
        ),
        (
            {"autoscaling": {"enabled": True}, "resources": {"requests": {"cpu": None}}},
            "autoscaling needs resources.requests.cpu",
        ),
    ],
    ids=["termination-grace", "same-ports", "hpa-bounds", "hpa-without-cpu-request"],
)
def test_inconsistent_values_fail_with_an_explanation(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
        render(EMBEDDER, values)


# --- the umbrella chart ------------------------------------------------------------------------


GLOBALS = {
    "imageRegistry": "ghcr.io/acme",
    "imagePullSecrets": [{"name": "acme-pull"}],
    "otel": {"endpoint": "http://otel-collector.observability:4317"},
}


# The umbrella installs rag too, which refuses to render without a database.
SUITE_DATABASE = {"rag": {"database": {"existingSecret": "scia-rag-db"}}}


def embedder_only(rendered: Rendered) -> Rendered:
    """The embedder's objects of an umbrella render."""
    return Rendered(
        {
            key: obj
            for key, obj in rendered.objects.items()
            if obj["metadata"]["labels"].get("app.kubernetes.io/name") == "embedder"
        },
        rendered.notes,
    )


@pytest.fixture(scope="module")
def suite() -> Rendered:
    return render(UMBRELLA, {"global": GLOBALS, "embedder": {"replicaCount": 2}, **SUITE_DATABASE}, release="scia")


def test_umbrella_installs_the_embedder(suite: Rendered) -> None:
    embedder = embedder_only(suite)
    assert set(embedder.objects) == {
        ("Deployment", "scia-embedder"),
        ("Service", "scia-embedder"),
        ("Service", "scia-embedder-headless"),
        ("ServiceAccount", "scia-embedder"),
        ("NetworkPolicy", "scia-embedder"),
    }
    assert embedder.deployment["spec"]["replicas"] == 2  # the embedder section reaches the embedder chart
    restricted_pod_of(embedder)


def test_umbrella_global_values_reach_the_services(suite: Rendered) -> None:
    embedder = embedder_only(suite)
    app_version = chart_metadata(EMBEDDER)["appVersion"]
    assert embedder.container["image"] == f"ghcr.io/acme/scia-embedder:{app_version}"
    assert embedder.pod["spec"]["imagePullSecrets"] == [{"name": "acme-pull"}]
    assert env_of(embedder.container)["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4317"


def test_umbrella_notes_list_the_embedder(suite: Rendered) -> None:
    assert "dns:///scia-embedder-headless.scia-system.svc.cluster.local:50051" in suite.notes


def test_umbrella_without_the_embedder_installs_none_of_it() -> None:
    rendered = render(UMBRELLA, {"embedder": {"enabled": False}, **SUITE_DATABASE}, release="scia")
    assert not embedder_only(rendered).objects
    assert "embedder (" not in rendered.notes
    assert "scia-embedder" not in rendered.notes


@pytest.mark.parametrize(
    ("values", "location"),
    [
        ({"embeder": {"enabled": True}}, "additional properties 'embeder' not allowed"),
        ({"global": {"imageRegistry": 5}}, "at '/global/imageRegistry'"),
        ({"embedder": {"ports": {"grpc": 0}}}, "at '/ports/grpc'"),  # the embedder's own schema
    ],
    ids=["unknown-service", "bad-global", "bad-service-value"],
)
def test_umbrella_schema_rejects_bad_values(values: dict[str, Any], location: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(location)):
        render(UMBRELLA, {**SUITE_DATABASE, **values}, release="scia")
