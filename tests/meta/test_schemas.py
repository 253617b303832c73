"""The metadata language: metadata/schemas/*.schema.json and the core objects written in it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "metadata" / "schemas"
CORE_DIR = ROOT / "metadata" / "core"
BASE = "https://rapport.dev/schemas/"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.schema.json"))
CORE_FILES = sorted(p for p in CORE_DIR.glob("*.json") if "fields" in json.loads(p.read_text()))
CORE_WORKFLOWS = sorted(p for p in CORE_DIR.glob("*.json") if "stages" in json.loads(p.read_text()))
CORE_APPROVALS = sorted(p for p in CORE_DIR.glob("*.json") if "steps" in json.loads(p.read_text()))
CORE_REPORTS = sorted(p for p in CORE_DIR.glob("*.json")
                      if json.loads(p.read_text()).get("kind") == "report")
CORE_DASHBOARDS = sorted(p for p in CORE_DIR.glob("*.json") if "tiles" in json.loads(p.read_text()))
EXPECTED_SCHEMAS = {
    "common", "field", "object", "extension", "workflow", "approval", "report", "dashboard",
    "pack", "definitions",
}
PLATFORM_FIELDS = {"id", "created_at", "updated_at", "created_by", "owner", "version"}
LOCALES = {"en", "zh-CN"}


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def registry() -> Registry:
    resources = [Resource.from_contents(load(p), default_specification=DRAFT202012)
                 for p in SCHEMA_FILES]
    return Registry().with_resources((r.id(), r) for r in resources)


def validator(registry: Registry, kind: str) -> Draft202012Validator:
    return Draft202012Validator(registry.contents(f"{BASE}{kind}.schema.json"),
                                registry=registry)


def pointer(error: ValidationError) -> str:
    """The RFC 6901 JSON pointer of the instance an error is about."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1")
                   for part in error.absolute_path)


def problems(registry: Registry, kind: str, doc: Any) -> list[tuple[str, str]]:
    return sorted((pointer(e), e.message) for e in validator(registry, kind).iter_errors(doc))


# ----------------------------------------------------------------------------- the schemas


def test_all_schema_files_present():
    assert {p.name.removesuffix(".schema.json") for p in SCHEMA_FILES} == EXPECTED_SCHEMAS


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path: Path):
    schema = load(path)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT
    assert schema["$id"] == BASE + path.name
    assert schema.get("title") and schema.get("description")


def _walk(node: Any, where: str = ""):
    """Yield (json pointer, sub-schema dict) for every dict in a schema document."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{where}/{i}")


CONDITIONAL = {"if", "then", "else", "dependentSchemas"}


def _declared(schema: dict):
    """(pointer, sub-schema) for every sub-schema declaring properties, outside the
    conditional sub-schemas that only narrow properties declared elsewhere."""
    for where, node in _walk(schema):
        if isinstance(node.get("properties"), dict) and not CONDITIONAL & set(where.split("/")):
            yield where, node


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_cross_file_refs_resolve(path: Path, registry: Registry):
    schema = load(path)
    resolver = registry.resolver(base_uri=schema["$id"])
    refs = [(where, node["$ref"]) for where, node in _walk(schema) if "$ref" in node]
    for where, ref in refs:
        resolved = resolver.lookup(ref)
        assert isinstance(resolved.contents, dict), f"{path.name}{where}: {ref}"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_property_is_described(path: Path):
    """Descriptions show in editors: every declared property carries one (conditional
    sub-schemas under if/then/else/dependentSchemas only narrow what is declared)."""
    missing = [f"{where}/properties/{key}"
               for where, node in _declared(load(path))
               for key, sub in node["properties"].items()
               if not sub.get("description")]
    assert not missing


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_objects_are_closed(path: Path):
    """Every object-shaped schema with declared properties refuses unknown keys (typos)."""
    open_ = [where for where, node in _declared(load(path))
             if node.get("additionalProperties") is not False]
    assert not open_


# ----------------------------------------------------------------------------- core objects


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_object_validates(path: Path, registry: Registry):
    doc = load(path)
    assert problems(registry, "object", doc) == []
    assert problems(registry, "definitions", doc) == []
    assert doc["$schema"] == "../schemas/object.schema.json"
    assert doc["name"] == path.stem


def _bilingual(label: Any) -> bool:
    return isinstance(label, dict) and set(label) >= LOCALES and all(label.values())


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_object_is_labelled_in_every_locale(path: Path):
    doc = load(path)
    assert _bilingual(doc["label"]) and _bilingual(doc["plural_label"])
    for field in doc["fields"]:
        assert _bilingual(field.get("label")), field["name"]
        for option in field.get("options", []):
            assert isinstance(option, dict) and _bilingual(option.get("label")), option
        if "help" in field:
            assert _bilingual(field["help"]), field["name"]
    for rule in doc.get("validation_rules", []):
        assert _bilingual(rule["message"]), rule["name"]
    for section in doc["views"]["form"]["sections"]:
        assert _bilingual(section["label"])


def test_core_objects_are_consistent():
    """Names used inside the core objects point at fields and objects that exist."""
    objects = {p.stem: load(p) for p in CORE_FILES}
    assert {"user", "role", "team"} <= {n for n, d in objects.items() if d.get("system")}
    assert {"account", "contact", "lead", "opportunity", "activity", "product", "quote",
            "quote_line"} <= set(objects)

    def fields_of(name: str) -> dict[str, dict]:
        return {f["name"]: f for f in objects[name]["fields"]}

    for name, doc in objects.items():
        assert "id" not in doc
        fields = fields_of(name)
        assert len(fields) == len(doc["fields"]), f"{name}: duplicate field names"
        known = set(fields) | PLATFORM_FIELDS
        used = [doc["title_field"], *doc.get("search_fields", [])]
        for index in doc.get("indexes", []):
            used += index if isinstance(index, list) else index["fields"]
        views = doc.get("views", {})
        used += views.get("list", {}).get("columns", [])
        used += [key.lstrip("-") for key in views.get("list", {}).get("sort", "").split(",")
                 if key]
        if "kanban" in views:
            kanban = views["kanban"]
            used += [kanban["group_by"], *kanban.get("card", [])]
            used += [kanban["sum"]] if "sum" in kanban else []
            assert fields[kanban["group_by"]]["type"] == "picklist"
        for section in views["form"]["sections"]:
            used += section["fields"]
        used += [rule["field"] for rule in doc.get("validation_rules", []) if "field" in rule]
        assert not set(used) - known, f"{name}: unknown {set(used) - known}"

        for field in doc["fields"]:
            assert "id" not in field
            if field["type"] in {"lookup", "master_detail"}:
                assert field["target"] in objects, f"{name}.{field['name']}"
            if field["type"] == "rollup":
                child = fields_of(field["source"])
                relation = child[field["relation"]]
                assert relation["type"] in {"lookup", "master_detail"}
                assert relation["target"] == name
                if "field" in field:
                    assert field["field"] in child
            if field["type"] in {"picklist", "multi_picklist"} and "default" in field:
                values = [o if isinstance(o, str) else o["value"] for o in field["options"]]
                assert field["default"] in values, f"{name}.{field['name']}"


def test_core_opportunity_matches_design(registry: Registry):
    """The core opportunity is the DESIGN example, labelled and extended."""
    core = load(CORE_DIR / "opportunity.json")
    fields = {f["name"]: f for f in core["fields"]}
    for field in DESIGN_OBJECT["fields"]:
        mine = {k: v for k, v in fields[field["name"]].items() if k != "label"}
        if "options" in mine:
            mine["options"] = [o["value"] for o in mine["options"]]
        assert mine == field
    # DESIGN's index, and one that covers the sales dashboard's period reports (by stage,
    # owner and source) so they read the index alone
    assert ["stage", "amount"] in core["indexes"] \
        and ["close_date", "stage", "amount", "owner", "source"] in core["indexes"]
    assert core["views"]["list"] == DESIGN_OBJECT["views"]["list"]
    assert core["views"]["kanban"] == DESIGN_OBJECT["views"]["kanban"]
    rule = {k: v for k, v in core["validation_rules"][0].items() if k != "message"}
    design_rule = {k: v for k, v in DESIGN_OBJECT["validation_rules"][0].items()
                   if k != "message"}
    assert rule == design_rule


# ----------------------------------------------------------------------------- DESIGN examples

DESIGN_OBJECT = {
    "$schema": "../../metadata/schemas/object.schema.json",
    "name": "opportunity", "label": {"en": "Opportunity", "zh-CN": "商机"},
    "title_field": "name",
    "fields": [
        {"name": "name", "type": "text", "required": True, "max_length": 200},
        {"name": "account", "type": "lookup", "target": "account", "on_delete": "restrict"},
        {"name": "amount", "type": "currency", "min": 0},
        {"name": "stage", "type": "picklist",
         "options": ["prospecting", "qualification", "proposal", "negotiation", "closed_won",
                     "closed_lost"],
         "default": "prospecting"},
        {"name": "probability", "type": "percent"},
        {"name": "close_date", "type": "date"},
        {"name": "expected_revenue", "type": "formula", "result_type": "currency",
         "expression": "amount * probability / 100"},
    ],
    "indexes": [["stage", "amount"]],
    "validation_rules": [
        {"name": "close_date_required_late",
         "when": "stage in ('proposal', 'negotiation') and is_blank(close_date)",
         "message": "Close date is required from the proposal stage on",
         "field": "close_date"},
    ],
    "views": {"list": {"columns": ["name", "account", "amount", "stage"], "sort": "-amount"},
              "kanban": {"group_by": "stage", "card": ["name", "account", "amount"],
                         "sum": "amount"},
              "form": {"sections": [{"label": "Deal", "fields": ["name", "account", "amount"]}]}},
}

DESIGN_WORKFLOW = {
    "name": "opportunity_sales", "object": "opportunity", "field": "stage",
    "stages": [{"name": "prospecting", "probability": 10},
               {"name": "proposal", "probability": 50, "required": ["close_date"],
                "guidance": "Send the proposal within a week"},
               {"name": "closed_won", "probability": 100, "category": "won"},
               {"name": "closed_lost", "probability": 0, "category": "lost"}],
    "transitions": [{"from": "prospecting", "to": "proposal", "when": "amount > 0"},
                    {"from": "*", "to": "closed_lost"},
                    {"from": "proposal", "to": "closed_won", "roles": ["sales_manager"],
                     "set": {"probability": "100"}}],
}

DESIGN_APPROVAL = {
    "name": "big_discount", "object": "quote", "when": "discount > 20",
    "lock": True, "allow_recall": True,
    "steps": [{"name": "manager", "approvers": {"manager_of": "owner"}, "mode": "any"},
              {"name": "finance", "approvers": {"role": "finance"}, "mode": "all",
               "when": "total > 100000"}],
    "on_approve": {"set": {"status": "'approved'"}},
    "on_reject": {"set": {"status": "'rejected'"}},
}

DESIGN_REPORT = {
    "name": "pipeline_by_stage", "object": "opportunity",
    "filters": [{"field": "close_date", "op": "in_period", "value": "this_year"}],
    "group_by": [{"field": "stage"}, {"field": "close_date", "bucket": "month"}],
    "aggregates": [{"fn": "count"}, {"fn": "sum", "field": "amount"}],
    "chart": {"type": "bar", "x": "stage", "y": "sum_amount"},
}

DASHBOARD = {
    "name": "sales_overview", "label": {"en": "Sales overview", "zh-CN": "销售概览"},
    "date_filter": {"field": "close_date", "default": "this_quarter"},
    "tiles": [{"report": "pipeline_by_stage", "type": "chart", "width": 8, "height": 3},
              {"report": "pipeline_by_stage", "type": "kpi", "aggregate": "sum_amount",
               "title": {"en": "Pipeline", "zh-CN": "销售管道"}, "width": 4}],
}

EXTENSION = {
    "object": "account",
    "fields": [{"name": "plant_count", "type": "integer", "min": 0,
                "label": {"en": "Plants", "zh-CN": "工厂数"}}],
    "validation_rules": [{"name": "plants_for_manufacturers",
                          "when": "industry != 'manufacturing' and plant_count > 0",
                          "message": "Only manufacturers have plants", "field": "plant_count"}],
}

PACK = {
    "$schema": "../../metadata/schemas/pack.schema.json",
    "name": "manufacturing", "version": "1.0.0",
    "label": {"en": "Manufacturing", "zh-CN": "制造业"},
    "description": {"en": "Plants, work orders and quality", "zh-CN": "工厂、工单与质量"},
    "requires": {"core": ">=0.1.0"},
    "objects": ["objects/work_order.json", "objects/plant.json"],
    "extends": ["extends/account.json"],
    "workflows": ["workflows/work_order.json"],
    "approvals": ["approvals/scrap.json"],
    "reports": ["reports/work_orders_by_plant.json"],
    "dashboards": ["dashboards/plant_floor.json"],
    "sample_data": ["sample_data/plant.csv", "sample_data/work_order.json"],
}

VALID = [
    ("object", DESIGN_OBJECT),
    ("workflow", DESIGN_WORKFLOW),
    ("approval", DESIGN_APPROVAL),
    ("report", DESIGN_REPORT),
    ("dashboard", DASHBOARD),
    ("extension", EXTENSION),
    ("pack", PACK),
]


@pytest.mark.parametrize(("kind", "doc"), VALID, ids=[k for k, _ in VALID])
def test_design_examples_validate(registry: Registry, kind: str, doc: dict):
    assert problems(registry, kind, doc) == []
    if kind != "pack":
        assert problems(registry, "definitions", doc) == []
        assert problems(registry, "definitions", {**doc, "kind": kind}) == []


def test_definitions_file_may_hold_a_list(registry: Registry):
    docs = [doc for kind, doc in VALID if kind != "pack"]
    assert problems(registry, "definitions", docs) == []
    bad = copy.deepcopy(docs)
    bad[2]["steps"][0]["mode"] = "some"
    assert problems(registry, "definitions", bad) == [
        ("/2/steps/0/mode", "'some' is not one of ['any', 'all', 'quorum']")]


def test_definitions_recognised_by_shape_or_kind(registry: Registry):
    # shape: a workflow with a typo is checked as a workflow
    assert problems(registry, "definitions", {**DESIGN_WORKFLOW, "stage": []}) == [
        ("", "Additional properties are not allowed ('stage' was unexpected)")]
    # kind wins over shape; the kind must be known
    assert problems(registry, "definitions", {**DESIGN_REPORT, "kind": "dashboard"})
    assert problems(registry, "definitions", {"kind": "widget", "name": "x"})
    # neither kind nor a known shape
    assert problems(registry, "definitions", {"name": "mystery"}) == [
        ("", "'kind' is a required property")]


# ----------------------------------------------------------------------------- bad documents


def _obj(*fields: dict, **extra: Any) -> dict:
    return {"name": "thing", "fields": list(fields), **extra}


BAD = [
    pytest.param("object", _obj({"name": "a", "type": "text", "requird": True}),
                 "/fields/0", "'requird' was unexpected", id="typo-in-field-key"),
    pytest.param("object", _obj({"name": "a", "type": "lookup"}),
                 "/fields/0", "'target' is a required property", id="lookup-without-target"),
    pytest.param("object", _obj({"name": "Bad-Name", "type": "text"}),
                 "/fields/0/name", "does not match", id="bad-field-name"),
    pytest.param("object", {"name": "Bad-Name", "fields": [{"name": "a", "type": "text"}]},
                 "/name", "does not match", id="bad-object-name"),
    pytest.param("object", _obj({"name": "a", "type": "picklist"}),
                 "/fields/0", "'options' is a required property", id="picklist-without-options"),
    pytest.param("object", _obj({"name": "a", "type": "picklist", "options": []}),
                 "/fields/0/options", "should be non-empty", id="picklist-empty-options"),
    pytest.param("object", _obj({"name": "a", "type": "text", "target": "account"}),
                 "/fields/0/target", "should not be valid", id="key-not-for-type"),
    pytest.param("object", _obj({"name": "owner", "type": "lookup", "target": "user"}),
                 "/fields/0/name", "should not be valid", id="platform-field-declared"),
    pytest.param("object", _obj({"name": "a", "type": "formula", "expression": "1"}),
                 "/fields/0", "'result_type' is a required property", id="formula-no-type"),
    pytest.param("object", _obj({"name": "a", "type": "formula", "expression": "1",
                                 "result_type": "integer", "default": 2}),
                 "/fields/0/default", "should not be valid", id="computed-with-default"),
    pytest.param("object", _obj({"name": "a", "type": "rollup", "source": "line",
                                 "relation": "parent", "aggregate": "sum"}),
                 "/fields/0", "'field' is a required property", id="rollup-sum-without-field"),
    pytest.param("object", _obj({"name": "a", "type": "autonumber", "format": "Q-{x}"}),
                 "/fields/0/format", "does not match", id="autonumber-without-counter"),
    pytest.param("object", _obj({"name": "a", "type": "master_detail", "target": "b",
                                 "on_delete": "set_null"}),
                 "/fields/0/on_delete", "is not one of", id="master-detail-set-null"),
    pytest.param("object", _obj({"name": "a", "type": "text", "default": "x",
                                 "default_formula": "'y'"}),
                 "/fields/0/default_formula", "should not be valid", id="two-defaults"),
    pytest.param("object", _obj({"name": "a", "type": "picklist",
                                 "options": [{"value": "x", "colour": "#ffffff"}]}),
                 "/fields/0/options/0", "'colour' was unexpected", id="option-typo"),
    pytest.param("object", _obj({"name": "a", "type": "text"}, label={"english": "Thing"}),
                 "/label", "does not match", id="bad-locale"),
    pytest.param("object", _obj({"name": "a", "type": "text"},
                                views={"kanban": {"card": ["a"]}}),
                 "/views/kanban", "'group_by' is a required property", id="kanban-no-group"),
    pytest.param("object", _obj({"name": "a", "type": "text"}, indexes=[[]]),
                 "/indexes/0", "should be non-empty", id="empty-index"),
    pytest.param("workflow", {**DESIGN_WORKFLOW, "stages": [{"name": "x", "probability": 120}]},
                 "/stages/0/probability", "greater than the maximum", id="probability-over-100"),
    pytest.param("workflow", {**DESIGN_WORKFLOW, "transitions": [{"from": "a"}]},
                 "/transitions/0", "'to' is a required property", id="transition-without-to"),
    pytest.param("approval", {**DESIGN_APPROVAL, "steps": [
        {"name": "s", "approvers": {"role": "finance", "team": "sales"}}]},
                 "/steps/0/approvers", "has too many properties", id="two-approver-kinds"),
    pytest.param("approval", {**DESIGN_APPROVAL, "steps": [
        {"name": "s", "approvers": {"role": "finance"}, "mode": "quorum"}]},
                 "/steps/0", "'quorum' is a required property", id="quorum-without-count"),
    pytest.param("approval", {**DESIGN_APPROVAL, "steps": [
        {"name": "s", "approvers": {"role": "finance"}, "quorum": 2}]},
                 "/steps/0/quorum", "should not be valid", id="quorum-without-mode"),
    pytest.param("report", {**DESIGN_REPORT, "aggregates": [{"fn": "sum"}]},
                 "/aggregates/0", "'field' is a required property", id="sum-without-field"),
    pytest.param("report", {**DESIGN_REPORT, "filters": [
        {"field": "close_date", "op": "in_period", "value": "next_week_maybe"}]},
                 "/filters/0/value", "is not valid under any", id="bad-period"),
    pytest.param("report", {**DESIGN_REPORT, "group_by": [{"field": "a"}] * 3},
                 "/group_by", "is too long", id="three-groupings"),
    pytest.param("report", {**DESIGN_REPORT, "kind": "summary"},
                 "/kind", "'report' was expected", id="report-kind-is-definition-kind"),
    pytest.param("dashboard", {**DASHBOARD, "tiles": [{"report": "r", "width": 13}]},
                 "/tiles/0/width", "greater than the maximum", id="tile-too-wide"),
    pytest.param("pack", {**PACK, "version": "1.0"},
                 "/version", "does not match", id="pack-version-not-semver"),
    pytest.param("pack", {**PACK, "objects": ["../core/account.json"]},
                 "/objects/0", "does not match", id="pack-path-escapes"),
    pytest.param("extension", {"object": "account"},
                 "", "'fields' is a required property", id="extension-without-fields"),
]


@pytest.mark.parametrize(("kind", "doc", "where", "message"), BAD)
def test_bad_document_is_rejected_at_the_right_place(registry: Registry, kind: str, doc: dict,
                                                     where: str, message: str):
    found = problems(registry, kind, doc)
    assert any(p == where and message in m for p, m in found), found


def test_plugin_field_types_are_allowed(registry: Registry):
    doc = _obj({"name": "location", "type": "geo_point", "settings": {"srid": 4326}})
    assert problems(registry, "object", doc) == []
    assert problems(registry, "object", _obj({"name": "a", "type": "Geo-Point"}))


def test_refusals_carry_a_readable_reason(registry: Registry):
    """A key refused by a `not` schema has the reason in that schema's description, so the
    loader can report it instead of jsonschema's "should not be valid under {}"."""
    doc = _obj({"name": "owner", "type": "text", "target": "account", "default": "x",
                "default_formula": "'y'"},
               {"name": "total", "type": "formula", "expression": "1", "result_type": "integer",
                "required": True})
    errors = list(validator(registry, "object").iter_errors(doc))
    reasons = {pointer(e): e.schema.get("description") for e in errors if e.validator == "not"}
    assert reasons == {
        "/fields/0/name": "A platform field every record already has (id, created_at, "
                          "updated_at, created_by, owner, version); do not declare it.",
        "/fields/0/target": "This key does not apply to this field type.",
        "/fields/0/default_formula": "Use default or default_formula, not both.",
        "/fields/1/required": "A computed field (autonumber, formula, rollup) takes no default, "
                              "default_formula or required.",
    }


def _doc_examples() -> list[tuple[int, Any]]:
    """The complete JSON examples of docs/metadata.md (fragments don't parse and are skipped)."""
    text = (ROOT / "docs" / "metadata.md").read_text(encoding="utf-8")
    examples = []
    for i, block in enumerate(text.split("```json\n")[1:]):
        try:
            examples.append((i, json.loads(block.split("```", 1)[0])))
        except json.JSONDecodeError:
            continue
    return examples


def _fragment_schema(doc: Any) -> str:
    """Which schema (or part of one) a documentation example is written against."""
    if isinstance(doc, dict):
        if "version" in doc:
            return "pack.schema.json"
        if "op" in doc:
            return "common.schema.json#/$defs/filter"
        if "when" in doc and "message" in doc:
            return "object.schema.json#/properties/validation_rules/items"
    if isinstance(doc, list) and all("type" in field for field in doc):
        return "object.schema.json#/properties/fields"
    return "definitions.schema.json"


def test_reference_examples_validate(registry: Registry):
    examples = _doc_examples()
    assert len(examples) >= 10
    for i, doc in examples:
        ref = _fragment_schema(doc)
        check = Draft202012Validator({"$ref": BASE + ref}, registry=registry)
        assert [(pointer(e), e.message) for e in check.iter_errors(doc)] == [], (i, ref)


@pytest.mark.parametrize("path", CORE_WORKFLOWS, ids=lambda p: p.name)
def test_core_workflow_validates_and_speaks_every_locale(path: Path, registry: Registry):
    doc = load(path)
    assert problems(registry, "workflow", doc) == []
    assert problems(registry, "definitions", doc) == []
    assert doc["name"] == path.stem
    assert _bilingual(doc["label"])
    for stage in doc["stages"]:
        assert _bilingual(stage["guidance"]), stage["name"]
    for t in doc["transitions"]:
        assert _bilingual(t["label"]), t
    stage_field = next(f for f in load(CORE_DIR / f"{doc['object']}.json")["fields"]
                       if f["name"] == doc["field"])
    assert [s["name"] for s in doc["stages"]] == [o["value"] for o in stage_field["options"]]


@pytest.mark.parametrize("path", CORE_APPROVALS, ids=lambda p: p.name)
def test_core_approval_flow_validates_and_speaks_every_locale(path: Path, registry: Registry):
    doc = load(path)
    assert problems(registry, "approval", doc) == []
    assert problems(registry, "definitions", doc) == []
    assert doc["name"] == path.stem
    assert _bilingual(doc["label"])
    for step in doc["steps"]:
        assert _bilingual(step["label"]), step["name"]


@pytest.mark.parametrize("path", CORE_REPORTS + CORE_DASHBOARDS, ids=lambda p: p.name)
def test_core_report_or_dashboard_validates_and_speaks_every_locale(path: Path,
                                                                    registry: Registry):
    doc = load(path)
    assert problems(registry, doc["kind"], doc) == []
    assert problems(registry, "definitions", doc) == []
    assert doc["name"] == path.stem
    assert _bilingual(doc["label"])
    for tile in doc.get("tiles", ()):
        assert "title" not in tile or _bilingual(tile["title"]), tile


def test_every_core_file_is_an_object_a_workflow_an_approval_flow_a_report_or_a_dashboard():
    assert len(CORE_FILES) + len(CORE_WORKFLOWS) + len(CORE_APPROVALS) + len(CORE_REPORTS) \
        + len(CORE_DASHBOARDS) == len(list(CORE_DIR.glob("*.json")))
    assert CORE_WORKFLOWS and CORE_APPROVALS and CORE_REPORTS and CORE_DASHBOARDS
