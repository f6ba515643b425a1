"""Validate Deployment and CloudProvider specs with the CRDs' own rules before writing anything.

The OpenAPI schemas come from a packaged copy of crds/ (the image must be self-contained; a test
keeps the copy in sync). OpenAPI 3.0's `exclusiveMinimum: true` is JSON Schema draft 4
semantics, hence Draft4Validator. What the schema cannot say is added here the way the API
server does it: structural defaults, `x-kubernetes-list-type: set` uniqueness, and the CRDs'
CEL rules (there are two; each is implemented and named after its message).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft4Validator

CRD_FILES = {"Deployment": "scia.io_deployments.yaml", "CloudProvider": "scia.io_cloudproviders.yaml"}
# Deployment names become label values (scia.io/deployment) and parts of cloud resource names,
# so they are held to a DNS-1123 label, stricter than the API server's subdomain.
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class FieldError:
    field: list[str]
    message: str


def crd_text(kind: str) -> str:
    return (resources.files("scia.gateway") / "crds" / CRD_FILES[kind]).read_text()


@cache
def crd_schema(kind: str) -> dict:
    crd = yaml.safe_load(crd_text(kind))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    return version["schema"]["openAPIV3Schema"]


@cache
def _validator(kind: str) -> Draft4Validator:
    return Draft4Validator(_strip_extensions(crd_schema(kind)))


def _strip_extensions(schema: Any) -> Any:
    """Drop x-kubernetes-* keys and `format` (int64/date-time are API server checks of types we
    already constrain); jsonschema would ignore them anyway, this keeps the intent explicit."""
    if isinstance(schema, dict):
        return {k: _strip_extensions(v) for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "format"}
    if isinstance(schema, list):
        return [_strip_extensions(v) for v in schema]
    return schema


def apply_defaults(schema: dict, value: Any) -> Any:
    """Structural defaulting as the API server does it: a missing property with a `default` is
    set, recursively, inside objects that are present."""
    if isinstance(value, dict) and schema.get("type") == "object":
        for name, sub in (schema.get("properties") or {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = apply_defaults(sub, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def _set_duplicates(schema: dict, value: Any, path: list[str]) -> list[FieldError]:
    errors = []
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        for name, sub in schema["properties"].items():
            if name in value:
                errors += _set_duplicates(sub, value[name], [*path, name])
    elif isinstance(value, list):
        if schema.get("x-kubernetes-list-type") == "set":
            seen = set()
            for item in value:
                key = repr(item)
                if key in seen:
                    errors.append(FieldError(path, f"duplicate entry {item!r}: this list is a set"))
                seen.add(key)
    return errors


def _message(error) -> str:
    if error.validator == "pattern":
        hint = error.schema.get("description")
        return f"{error.instance!r} is not valid" + (f": {hint}" if hint else f" (must match {error.validator_value})")
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "required":
        return error.message.replace("'", "") + " but is missing"
    return error.message


def validate(kind: str, obj: dict, old: dict | None = None) -> list[FieldError]:
    """Errors of a whole object (apiVersion, kind, metadata, spec); `obj` gets the defaults.

    `old` is the stored object on an update, for transition rules (CEL `oldSelf`).
    """
    schema = crd_schema(kind)
    errors: list[FieldError] = []
    name = (obj.get("metadata") or {}).get("name", "")
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or len(name) > 63:
        errors.append(FieldError(["metadata", "name"], f"{name!r} must be a DNS label: lowercase letters, digits and '-', at most 63 characters"))
    apply_defaults(schema, obj)
    for error in sorted(_validator(kind).iter_errors(obj), key=lambda e: list(e.absolute_path)):
        path = [str(p) for p in error.absolute_path]
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = [*path, missing] if missing else path
            errors.append(FieldError(path, f"{missing or 'a field'} is required"))
        else:
            errors.append(FieldError(path, _message(error)))
    errors += _set_duplicates(schema, obj, [])
    errors += _cel_rules(kind, obj.get("spec") or {}, (old or {}).get("spec"))
    return errors


def _cel_rules(kind: str, spec: dict, old_spec: dict | None) -> list[FieldError]:
    errors = []
    if kind == "CloudProvider":
        allowed = spec.get("allowedRegions") or []
        # !has(self.allowedRegions) || size(self.allowedRegions) == 0 || self.defaultRegion in self.allowedRegions
        if allowed and spec.get("defaultRegion") not in allowed:
            errors.append(FieldError(["spec", "defaultRegion"], "defaultRegion must be one of allowedRegions"))
        # type: self == oldSelf
        if old_spec is not None and old_spec.get("type") != spec.get("type"):
            errors.append(FieldError(["spec", "type"], "type is immutable; create another CloudProvider"))
    return errors
