"""SCIA's Crossplane Compositions as a library (distribution `scia-compositions`).

The Composition YAMLs and their KCL sources in the repository's compositions/ folder are this
package's data, so an installed service (the gateway's previews, the operator) renders exactly
what Crossplane will run, without a repository checkout:

    from scia.compositions import render, select
    select("aws", "vm")["metadata"]["name"]        # 'aws-vm-v1'
    rendered = render(xr)                         # the managed resources of an Infrastructure
    [r["kind"] for r in rendered.resources]       # nothing is created anywhere

`scia.compositions.xr` builds the Infrastructure XR from a Deployment and its plan (shared by
the operator and the gateway); `scia.compositions.build` regenerates the YAMLs from kcl/.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import yaml

from scia.compositions.build import COMPOSITIONS, XR_KIND, CompositionSpec, RenderError, embedded_source
from scia.compositions.build import render as run_program

RESOURCE_NAME_ANNOTATION = "krm.kcl.dev/composition-resource-name"
SELECTOR_LABELS = ("scia.io/cloud", "scia.io/strategy", "scia.io/version")

# kcl_lib calls into one native library; one program at a time keeps it safe from threads
# (a render takes ~20 ms, callers run it off their event loop).
_KCL_LOCK = threading.Lock()


class NoComposition(LookupError):
    """No packaged Composition matches what the XR asks for; the message names the labels."""


@functools.cache
def compositions() -> dict[str, dict]:
    """Every packaged Composition object, by name (read once: package data does not change)."""
    return {spec.name: yaml.safe_load(spec.path.read_text()) for spec in COMPOSITIONS}


def _labels(composition: dict) -> dict[str, str]:
    return composition["metadata"].get("labels") or {}


def select_by_labels(match_labels: dict[str, str]) -> dict:
    """The Composition an XR's spec.crossplane.compositionSelector.matchLabels picks.

    Crossplane picks any one of several matches; here the newest version wins so a preview is
    deterministic (the operator pins scia.io/version when several versions are installed).
    """
    matches = [c for c in compositions().values() if all(_labels(c).get(k) == v for k, v in match_labels.items())]
    if not matches:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(match_labels.items())) or "(none)"
        available = ", ".join(sorted(compositions()))
        raise NoComposition(f"no Composition has the labels {shown}; available: {available}")
    return max(matches, key=lambda c: int(_labels(c).get("scia.io/version", "v0").lstrip("v") or 0))


def select(cloud: str, strategy: str, version: int | None = None) -> dict:
    """The Composition Crossplane uses for `cloud`/`strategy` (the newest unless `version`)."""
    labels = {"scia.io/cloud": cloud, "scia.io/strategy": strategy}
    if version is not None:
        labels["scia.io/version"] = f"v{version}"
    return select_by_labels(labels)


def selector_of(xr: dict) -> dict[str, str]:
    """The labels an Infrastructure selects its Composition by (the operator always sets them;
    a hand-written XR without a selector falls back to its parameters' cloud and strategy)."""
    selector = ((xr.get("spec") or {}).get("crossplane") or {}).get("compositionSelector") or {}
    labels = dict(selector.get("matchLabels") or {})
    if not labels:
        params = (xr.get("spec") or {}).get("parameters") or {}
        labels = {"scia.io/cloud": str(params.get("cloud", "")), "scia.io/strategy": str(params.get("strategy", ""))}
    return labels


def resource_name(resource: dict) -> str:
    """A rendered resource's composition-resource-name: stable across renders and revisions."""
    return ((resource.get("metadata") or {}).get("annotations") or {}).get(RESOURCE_NAME_ANNOTATION, "")


@dataclass(frozen=True)
class Rendering:
    composition: str
    resources: list[dict]  # the managed (cloud) resources Crossplane would create
    composite: dict | None  # what the program returns for the XR itself (its status), if anything


def render(xr: dict, observed: dict | None = None) -> Rendering:
    """Render an Infrastructure with the Composition it selects, as function-kcl runs it.

    The program is the one embedded in the packaged YAML (what Crossplane runs), not the kcl/
    sources. `observed` maps composition-resource-names to observed resources (function-kcl's
    ocds), for the parts that depend on cloud-assigned values. Raises NoComposition or
    RenderError (the Composition's own assertion message, naming the bad parameter).
    """
    composition = select_by_labels(selector_of(xr))
    name = composition["metadata"]["name"]
    with _KCL_LOCK:
        items = run_program(embedded_source(composition), xr, observed, filename=f"{name}.k")
    # function-kcl also returns the composite (its status); only the others are cloud resources.
    resources = [item for item in items if item.get("kind") != XR_KIND]
    composite = next((item for item in items if item.get("kind") == XR_KIND), None)
    return Rendering(name, resources, composite)


__all__ = [
    "COMPOSITIONS", "CompositionSpec", "NoComposition", "RenderError", "Rendering", "compositions", "render",
    "resource_name", "select", "select_by_labels", "selector_of",
]
