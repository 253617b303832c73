"""The metadata language's JSON Schemas (metadata/schemas/), as validators."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from ..errors import MetaProblem
from ..resources import bundled

SCHEMA_FILES = {
    "object": "object.schema.json",
    "workflow": "workflow.schema.json",
    "approval": "approval.schema.json",
    "report": "report.schema.json",
    "dashboard": "dashboard.schema.json",
    "pack": "pack.schema.json",
    "extension": "extension.schema.json",
    "field": "field.schema.json",
}


@cache
def _registry() -> tuple[Registry, dict[str, dict[str, Any]]]:
    schemas = {}
    resources = []
    for path in sorted(bundled("metadata").joinpath("schemas").glob("*.schema.json")):
        schema = json.loads(path.read_text("utf-8"))
        schemas[path.name] = schema
        resource = Resource.from_contents(schema)
        resources.append((schema.get("$id", path.name), resource))
    return Registry().with_resources(resources), schemas


@cache
def validator(kind: str) -> Draft202012Validator:
    registry, schemas = _registry()
    return Draft202012Validator(schemas[SCHEMA_FILES[kind]], registry=registry)


def _pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def schema_problems(kind: str, data: Mapping[str, Any], source: str,
                    pointer: str = "") -> list[MetaProblem]:
    """Every schema violation of one document, most specific first, one per location."""
    problems = []
    seen = set()
    errors = sorted(validator(kind).iter_errors(data), key=lambda e: list(e.absolute_path))
    for error in errors:
        # anyOf/oneOf failures say little; their best sub-error says more
        best = error
        while best.context:
            best = min(best.context, key=lambda e: (-len(e.absolute_path), len(e.message)))
        where = pointer + _pointer(best.absolute_path)
        if where in seen:
            continue
        seen.add(where)
        message = best.message
        if best.validator == "not" and isinstance(best.schema, dict) and best.schema.get("description"):
            message = best.schema["description"]
        elif best.validator == "additionalProperties":
            message = message.replace("Additional properties are not allowed",
                                      "unknown key").replace("were unexpected", "").strip()
        problems.append(MetaProblem(source, where, message))
    return problems
