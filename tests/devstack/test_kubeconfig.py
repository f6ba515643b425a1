"""`scia-dev up --kubeconfig PATH`: the stack against a real cluster instead of the emulator.

No cluster here: what is tested is everything up to the cluster. The kubeconfig is resolved into
what each service gets (the operator the kubeconfig itself, the gateway a URL, token and CA
files), no emulator is among the services, and a kubeconfig that cannot work stops `up` with a
clear message before any service starts."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from scia.devstack.kubeconfig import KubeconfigError, resolve
from scia.devstack.stack import default_services

CA_PEM = b"-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"


def kubeconfig(folder: Path, *, user: dict | None = None, cluster: dict | None = None, current: str = "dev") -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "contexts": [{"name": "dev", "context": {"cluster": "c1", "user": "u1", "namespace": "team-demo"}}],
        "clusters": [{"name": "c1", "cluster": cluster if cluster is not None else {
            "server": "https://10.0.0.1:6443", "certificate-authority-data": base64.b64encode(CA_PEM).decode()}}],
        "users": [{"name": "u1", "user": user if user is not None else {"token": "tok-123"}}],
    }
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_services_against_a_cluster_have_no_emulator_and_point_at_it(tmp_path):
    access = resolve(kubeconfig(tmp_path))
    assert (access.context, access.server, access.namespace) == ("dev", "https://10.0.0.1:6443", "team-demo")
    specs = {spec.name: spec for spec in default_services(tmp_path / "state", 50051, 9101, None, access)}
    assert list(specs) == ["embedder", "rag", "planner", "operator", "gateway"]
    assert all(spec.module != "scia.operator.emulator" for spec in specs.values())

    operator = specs["operator"].env
    assert operator["SCIA_OPERATOR_KUBECONFIG"] == str(tmp_path / "kubeconfig")
    assert operator["SCIA_OPERATOR_KUBERNETES_URL"] == ""  # no emulator URL, even if the shell has one
    assert operator["SCIA_OPERATOR_IN_CLUSTER"] == "false"
    assert operator["SCIA_OPERATOR_PLANNER_TARGET"] == specs["planner"].target  # still the local planner

    gateway = specs["gateway"].env
    assert gateway["SCIA_GATEWAY_KUBERNETES_URL"] == "https://10.0.0.1:6443"
    token, ca = Path(gateway["SCIA_GATEWAY_KUBERNETES_TOKEN_PATH"]), Path(gateway["SCIA_GATEWAY_KUBERNETES_CA_PATH"])
    assert token.read_text() == "tok-123" and token.stat().st_mode & 0o777 == 0o600
    assert ca.read_bytes() == CA_PEM

    # The gateway's own settings accept what it is given.
    from scia.gateway.config import GatewaySettings

    settings = GatewaySettings(**{k.removeprefix("SCIA_GATEWAY_").lower(): v for k, v in gateway.items() if v != ""})
    assert settings.kubernetes_url == "https://10.0.0.1:6443" and settings.kubernetes_token_path == token


def test_without_a_kubeconfig_the_emulator_is_used(tmp_path):
    specs = {spec.name: spec for spec in default_services(tmp_path)}
    assert specs["kubernetes"].module == "scia.operator.emulator"
    assert specs["operator"].env["SCIA_OPERATOR_KUBERNETES_URL"] == f"http://{specs['kubernetes'].target}"
    assert "SCIA_OPERATOR_KUBECONFIG" not in specs["operator"].env


def test_a_kubectl_proxy_needs_no_credentials(tmp_path):
    access = resolve(kubeconfig(tmp_path, user={}, cluster={"server": "http://127.0.0.1:8001"}))
    gateway = {s.name: s for s in default_services(tmp_path / "state", cluster=access)}["gateway"].env
    assert gateway["SCIA_GATEWAY_KUBERNETES_URL"] == "http://127.0.0.1:8001"
    assert "SCIA_GATEWAY_KUBERNETES_TOKEN_PATH" not in gateway and "SCIA_GATEWAY_KUBERNETES_CA_PATH" not in gateway


def test_files_the_kubeconfig_names_are_used_as_they_are(tmp_path):
    (tmp_path / "ca.crt").write_bytes(CA_PEM)
    (tmp_path / "token").write_text("from-file")
    path = kubeconfig(tmp_path, user={"tokenFile": "token"}, cluster={"server": "https://k:6443", "certificate-authority": "ca.crt"})
    access = resolve(path)
    assert access.token_file == tmp_path / "token" and access.ca_file == tmp_path / "ca.crt"  # relative to the kubeconfig
    gateway = {s.name: s for s in default_services(tmp_path / "state", cluster=access)}["gateway"].env
    assert gateway["SCIA_GATEWAY_KUBERNETES_TOKEN_PATH"] == str(tmp_path / "token")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: p.unlink(), "does not exist"),
        (lambda p: p.write_text("clusters: [unclosed"), "is not readable YAML"),
        (lambda p: p.write_text("- just\n- a list\n"), "is not a kubeconfig"),
        (lambda p: kubeconfig(p.parent, current=""), "has no current-context"),
        (lambda p: kubeconfig(p.parent, current="prod"), "refers to context 'prod', which is not in its contexts list"),
        (lambda p: kubeconfig(p.parent, cluster={"server": "10.0.0.1:6443"}), "has no http(s) server URL"),
        (lambda p: kubeconfig(p.parent, cluster={"server": "https://k", "insecure-skip-tls-verify": True}), "skips TLS verification"),
        (lambda p: kubeconfig(p.parent, user={"client-certificate-data": "x", "client-key-data": "y"}), "needs a bearer token"),
        (lambda p: kubeconfig(p.parent, user={"exec": {"command": "aws"}}), "authenticates with exec"),
        (lambda p: kubeconfig(p.parent, user={}), "has no credentials"),
        (lambda p: kubeconfig(p.parent, user={"tokenFile": "missing"}), "tokenFile"),
        (lambda p: kubeconfig(p.parent, cluster={"server": "https://k", "certificate-authority-data": "%%%"}), "is not base64"),
    ],
)
def test_a_kubeconfig_that_cannot_work_is_refused_with_the_reason(tmp_path, change, expected):
    path = kubeconfig(tmp_path)
    change(path)
    with pytest.raises(KubeconfigError, match="kubeconfig .*") as error:
        resolve(path)
    assert expected in str(error.value) and str(tmp_path) in str(error.value)


@pytest.mark.parametrize("content", [None, "not: [valid"])
def test_up_with_a_bad_kubeconfig_stops_before_starting_anything(tmp_path, content):
    path = tmp_path / "kubeconfig"
    if content is not None:
        path.write_text(content)
    state = tmp_path / "state"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "scia.devstack", "up", "--once", "--no-ui", "--state-dir", str(state), "--kubeconfig", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"scia-dev up: kubeconfig {path}" in result.stderr
    assert ("does not exist" if content is None else "is not readable YAML") in result.stderr
    assert not (state / "logs").exists()  # no service (and no emulator) was started
    assert "starting" not in result.stdout
    assert time.monotonic() - started < 30
