"""Render SCIA Compositions the way Crossplane's function-kcl does, with kcl_lib."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from scia.compositions import build

ROOT = Path(__file__).resolve().parents[2]

REGIONS = {"aws": "eu-west-3", "gcp": "europe-west1", "azure": "westeurope"}
SSH_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDQm8n2Yx7vKkq3zLh0pW6r9T1sGfB5aJcXeN4dUoR2iVtH8yMZ ops@team-a"
WORKLOAD = {
    "vm": {"aws": {"instanceType": "t3.small"}, "gcp": {"instanceType": "e2-small"}, "azure": {"instanceType": "Standard_B2s"}},
    "kubernetes": {"aws": {"nodeType": "t3.medium"}, "gcp": {"nodeType": "e2-standard-2"}, "azure": {"nodeType": "Standard_D2s_v5"}},
    "serverless": {"aws": {"memoryMb": 512, "timeoutSeconds": 30}},
}


def make_xr(cloud: str, strategy: str, **overrides) -> dict:
    """A minimal valid Infrastructure for cloud/strategy; keyword arguments override parameters."""
    params = {
        "cloud": cloud,
        "strategy": strategy,
        "region": REGIONS[cloud],
        "team": "team-a",
        "deploymentName": "shop-api",
        "providerConfigName": f"{cloud}-prod",
        "framework": "flask",
        "appPort": 5000,
        "startCommand": "gunicorn app:app",
        "repositoryUrl": "https://github.com/acme/shop.git",
        strategy: copy.deepcopy(WORKLOAD[strategy][cloud]),
        "tags": {"cost-center": "cc-1042"},
    }
    if cloud == "azure":
        params["sshPublicKey"] = SSH_KEY
    if strategy == "serverless":
        params["image"] = "123456789012.dkr.ecr.eu-west-3.amazonaws.com/shop:1.0"
    for key, value in overrides.items():
        if value is None:
            params.pop(key, None)
        elif isinstance(value, dict) and isinstance(params.get(key), dict):
            params[key] = {**params[key], **value}
        else:
            params[key] = value
    return {
        "apiVersion": "scia.io/v1alpha1",
        "kind": "Infrastructure",
        "metadata": {"name": "shop-api-r1", "namespace": "team-a", "uid": "7f1c2a9e-0000-4000-8000-000000000001"},
        "spec": {"parameters": params},
    }


class Rendered(list):
    """The items of one render: managed resources plus the XR status update."""

    @property
    def managed(self) -> list[dict]:
        return [r for r in self if r["kind"] != "Infrastructure"]

    @property
    def xr_status(self) -> dict:
        (xr,) = [r for r in self if r["kind"] == "Infrastructure"]
        return xr["status"]

    def names(self) -> list[str]:
        return [r["metadata"]["annotations"]["krm.kcl.dev/composition-resource-name"] for r in self.managed]

    def kinds(self) -> list[str]:
        return [r["kind"] for r in self.managed]

    def count(self, kind: str) -> int:
        return self.kinds().count(kind)

    def get(self, name: str) -> dict:
        (found,) = [r for r in self.managed if r["metadata"]["annotations"]["krm.kcl.dev/composition-resource-name"] == name]
        return found

    def has(self, name: str) -> bool:
        return name in self.names()

    def fp(self, name: str) -> dict:
        return self.get(name)["spec"]["forProvider"]


@pytest.fixture(scope="session")
def compositions() -> dict[str, dict]:
    return {spec.name: yaml.safe_load(spec.path.read_text()) for spec in build.COMPOSITIONS}


@pytest.fixture(scope="session")
def render(compositions):
    """render(cloud, strategy, xr=None, observed=None, **overrides) -> Rendered, from the YAML."""

    def _render(cloud: str, strategy: str, xr: dict | None = None, observed: dict | None = None, **overrides) -> Rendered:
        spec = build.find(cloud, strategy)
        source = build.embedded_source(compositions[spec.name])
        return Rendered(build.render(source, xr or make_xr(cloud, strategy, **overrides), observed, filename=f"{spec.name}.k"))

    return _render
