"""scia.compositions as an installed library: select(), render(xr), and a built wheel that
renders on its own (no repository checkout), as the gateway and operator images use it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

import pytest
import scia.compositions as compositions
from scia.compositions import NoComposition, RenderError, render, select
from scia.compositions.xr import desired_infrastructure

from tests.compositions.conftest import ROOT, make_xr


def test_select_picks_the_composition_by_its_labels():
    chosen = select("gcp", "kubernetes")
    assert chosen["metadata"]["name"] == "gcp-kubernetes-v1" and chosen["kind"] == "Composition"
    assert select("aws", "vm", version=1)["metadata"]["name"] == "aws-vm-v1"
    with pytest.raises(NoComposition, match=r"no Composition has the labels scia.io/cloud=gcp, scia.io/strategy=serverless; available: aws-kubernetes-v1"):
        select("gcp", "serverless")
    with pytest.raises(NoComposition, match="scia.io/version=v9"):
        select("aws", "vm", version=9)


def test_render_an_infrastructure_built_like_the_operator_builds_it():
    params = make_xr("aws", "kubernetes")["spec"]["parameters"]
    deployment = {"metadata": {"name": "shop-api", "namespace": "team-a", "uid": "u-1", "generation": 3}}
    xr = desired_infrastructure(deployment, params, "v1")
    rendered = render(xr)
    assert rendered.composition == "aws-kubernetes-v1"
    kinds = [r["kind"] for r in rendered.resources]
    assert "Cluster" in kinds and "NodeGroup" in kinds and "Infrastructure" not in kinds
    assert rendered.composite is not None and rendered.composite["kind"] == "Infrastructure"
    names = [compositions.resource_name(r) for r in rendered.resources]
    assert all(names) and len(set(names)) == len(names)
    # Rendering is deterministic: the same XR gives the same manifests.
    assert render(xr).resources == rendered.resources


def test_render_falls_back_to_the_parameters_without_a_selector_and_reports_bad_input():
    xr = make_xr("azure", "vm")
    assert "crossplane" not in xr["spec"]
    assert render(xr).composition == "azure-vm-v1"
    with pytest.raises(RenderError, match="region must be a region name"):
        render(make_xr("aws", "vm", region="Not A Region"))
    xr["spec"]["crossplane"] = {"compositionSelector": {"matchLabels": {"scia.io/cloud": "azure", "scia.io/strategy": "serverless"}}}
    with pytest.raises(NoComposition, match="scia.io/strategy=serverless"):
        render(xr)


def test_a_built_wheel_carries_the_compositions_and_renders_without_the_checkout(tmp_path):
    """What the service images install: the wheel alone (package data, no compositions/ folder)."""
    # Built from a copy: setuptools leaves build/ and *.egg-info next to the sources.
    source = shutil.copytree(ROOT / "compositions", tmp_path / "src", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("scia_compositions-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "scia/compositions/aws-vm-v1.yaml" in names and "scia/compositions/kcl/lib/common.k" in names
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    xr = json.dumps(make_xr("gcp", "vm"))
    script = (
        "import json, sys, scia.compositions as c\n"
        "r = c.render(json.loads(sys.argv[1]))\n"
        "print(json.dumps({'file': c.__file__, 'composition': r.composition, 'count': len(r.resources),"
        " 'stale': c.build.main(['--check'])}))\n"
    )
    # The extracted wheel comes first on sys.path, so the editable checkout install is not used.
    done = subprocess.run(
        [sys.executable, "-c", script, xr], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(tmp_path / "site")) and result["composition"] == "gcp-vm-v1"
    assert result["count"] > 3 and result["stale"] == 0  # the packaged YAMLs match the packaged KCL
