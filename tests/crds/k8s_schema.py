"""Kubernetes structural schemas, as jsonschema can use them.

The API server validates custom resources against the CRD's OpenAPI v3 schema; the kmock
emulator used elsewhere in the suite does not, so these tests do it. Differences handled here:
- x-kubernetes-* extensions are dropped (preserve-unknown-fields keeps the node open);
- `exclusiveMinimum: true` is the draft-4 boolean form, so Draft4Validator is used;
- unknown fields: the API server prunes them, `kubectl apply` (strict field validation, the
  default) rejects them; the tests take the strict side, so a typo in an example fails.
- CEL rules (x-kubernetes-validations) are not evaluated here; the compositions assert the
  same invariants in KCL and tests/compositions checks those.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"


def load_yaml(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@cache
def definitions() -> dict[str, dict]:
    """Every CRD and XRD under crds/, by kind of the resource it defines."""
    found = {}
    for path in sorted(CRDS.glob("*.yaml")):
        for doc in load_yaml(path):
            found[doc["spec"]["names"]["kind"]] = doc
    return found


def openapi_schema(kind: str) -> dict:
    """The OpenAPI v3 schema of `kind`'s storage version, as the API server would see it.

    For a Crossplane XRD that is the user schema plus what Crossplane adds to a v2 namespaced
    XR (apiVersion, kind, metadata, spec.crossplane, status.conditions)."""
    definition = definitions()[kind]
    version = next(v for v in definition["spec"]["versions"] if v.get("storage", v.get("referenceable")))
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
    if definition["apiVersion"].startswith("apiextensions.crossplane.io/"):
        props = schema.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
        props["spec"].setdefault("properties", {})["crossplane"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        status = props.setdefault("status", {"type": "object", "properties": {}})
        status.setdefault("properties", {})["conditions"] = {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return schema


def to_jsonschema(node: dict, *, at_root: bool = True) -> dict:
    out: dict = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            out[key] = {name: to_jsonschema(sub, at_root=False) for name, sub in value.items()}
        elif key == "items":
            out[key] = to_jsonschema(value, at_root=False)
        elif key == "additionalProperties" and isinstance(value, dict):
            out[key] = to_jsonschema(value, at_root=False)
        else:
            out[key] = copy.deepcopy(value)
    open_node = node.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in node
    if node.get("type") == "object" and "properties" in node and not open_node:
        out["additionalProperties"] = False
    if at_root:
        # metadata is validated by the API server itself, not by the CRD schema.
        out.setdefault("properties", {})["metadata"] = {"type": "object"}
    return out


# The API server checks date-time (RFC 3339) itself; jsonschema only does with an optional
# package, so the check is spelled out here.
_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value) -> bool:
    import re
    from datetime import datetime

    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value):
        raise ValueError(f"{value!r} is not RFC 3339")
    datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    return True


@cache
def _validator(kind: str) -> jsonschema.Draft4Validator:
    schema = to_jsonschema(openapi_schema(kind))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=_FORMATS)


def errors(obj: dict) -> list[str]:
    """Validation errors of a custom resource against its CRD ([] when valid)."""
    validator = _validator(obj["kind"])
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(obj))


# --- structural schema checker (the rules of apiextensions.k8s.io/v1) ---------------------------

_FORBIDDEN = {"$ref", "definitions", "additionalItems", "dependencies", "patternProperties", "id", "$schema"}
_TYPES = {"object", "array", "string", "integer", "number", "boolean"}


def structural_problems(node: dict, path: str = "") -> list[str]:
    problems: list[str] = []
    where = path or "<root>"
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if "type" not in node and not node.get("x-kubernetes-int-or-string") and not preserve:
        problems.append(f"{where}: no type")
    if "type" in node and node["type"] not in _TYPES:
        problems.append(f"{where}: unknown type {node['type']!r}")
    for key in _FORBIDDEN & node.keys():
        problems.append(f"{where}: {key} is not allowed in a structural schema")
    if node.get("uniqueItems") is True:
        problems.append(f"{where}: uniqueItems is not allowed (use x-kubernetes-list-type: set)")
    if "properties" in node and isinstance(node.get("additionalProperties"), dict):
        problems.append(f"{where}: properties and additionalProperties are mutually exclusive")
    if node.get("type") == "array" and "items" not in node:
        problems.append(f"{where}: array without items")
    if node.get("type") != "object" and ("properties" in node or "additionalProperties" in node):
        problems.append(f"{where}: properties on a non-object")
    for req in node.get("required", []):
        if req not in node.get("properties", {}):
            problems.append(f"{where}: required field {req!r} is not declared")
    if "enum" in node:
        kind = {"string": str, "integer": int, "number": (int, float), "boolean": bool}.get(node.get("type"))
        if kind and not all(isinstance(v, kind) for v in node["enum"]):
            problems.append(f"{where}: enum values do not match type {node['type']}")
    if "default" in node:
        try:
            jsonschema.Draft4Validator(to_jsonschema(node, at_root=False)).validate(node["default"])
        except jsonschema.ValidationError as exc:
            problems.append(f"{where}: default {node['default']!r} is invalid: {exc.message}")
    list_type = node.get("x-kubernetes-list-type")
    if list_type and node.get("type") != "array":
        problems.append(f"{where}: x-kubernetes-list-type on a non-array")
    if list_type == "map":
        item = node.get("items", {})
        for key in node.get("x-kubernetes-list-map-keys", []):
            if key not in item.get("required", []):
                problems.append(f"{where}: list-map key {key!r} must be required in items")
    elif "x-kubernetes-list-map-keys" in node:
        problems.append(f"{where}: x-kubernetes-list-map-keys needs x-kubernetes-list-type: map")
    for name, sub in node.get("properties", {}).items():
        problems += structural_problems(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        problems += structural_problems(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += structural_problems(node["additionalProperties"], f"{path}{{}}")
    return problems


def json_path_exists(schema: dict, json_path: str) -> bool:
    """Does a printer column's simple JSONPath (.a.b[0].c, .a[?(@.x=="y")].b) exist in schema?"""
    import re

    if json_path.startswith(".metadata."):
        return True  # ObjectMeta is served by the API server, not by the CRD schema
    node = schema
    # Filters such as [?(@.type=="Ready")] contain dots: reduce every subscript to "[]" first.
    for part in re.sub(r"\[.*?\]", "[]", json_path).strip(".").split("."):
        name = re.sub(r"\[.*?\]$", "", part)
        indexed = part != name
        if name not in node.get("properties", {}):
            return bool(node.get("x-kubernetes-preserve-unknown-fields", False))
        node = node["properties"][name]
        if indexed:
            if node.get("type") != "array":
                return False
            node = node["items"]
    return True
