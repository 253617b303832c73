"""The designer's screens: objects, fields, picklists, layouts, rules, workflows and
approvals, revisions, export and import. Every save is first a plan (the same
``ws.plan`` the CLI prints), applied with the revision it was computed on."""

from __future__ import annotations

import copy
import json
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...errors import (
    DataLossRefused,
    MetadataError,
    MetaProblem,
    NotFound,
    PermissionDenied,
    RapportError,
)
from ...formulas import FormulaError, compile_formula
from ...formulas.sql import rule_condition
from ...meta.history import diff_revisions, rollback_change
from ...meta.loader import Document
from ...meta.model import (
    BUILTIN_TYPES,
    CHOICE_TYPES,
    NUMBER_TYPES,
    RELATION_TYPES,
    ObjectDef,
    label_text,
)
from ...records.actor import Actor
from ...storage.plan import Plan
from ...workspace import StaleRevision
from .access import can_design
from .diagrams import approval_svg, workflow_svg
from .flows import (
    APPROVER_KINDS,
    approval_from_form,
    approval_rows,
    workflow_from_form,
    workflow_rows,
)
from .forms import (
    FIELD_KEYS,
    default_text,
    drop_references,
    field_from_form,
    follow_value_renames,
    label_from,
    label_parts,
    place_problems,
    rename_references,
    rule_from_form,
    text,
    types_of,
)

if TYPE_CHECKING:
    from ..screens import Screens

MAX_PAYLOAD = 4 * 1024 * 1024
TEST_RULE_LIMIT = 20_000
FAILING_SHOWN = 5
TYPE_ORDER = ["text", "textarea", "rich_text", "email", "phone", "url", "integer", "decimal",
              "currency", "percent", "boolean", "date", "datetime", "picklist", "multi_picklist",
              "lookup", "master_detail", "autonumber", "formula", "rollup", "json"]
KIND_FOLDERS = {"object": "objects", "workflow": "workflows", "approval": "approvals",
                "report": "reports", "dashboard": "dashboards"}


def _safe_back(target: str) -> str:
    if target.startswith("/designer") and "//" not in target and "\\" not in target:
        return target
    return "/designer"


class Designer:
    def __init__(self, screens: Screens):
        self.screens = screens
        self.ws = screens.ws
        # the sidebar's designer link asks the same question as the routes
        screens.env.globals["can_design"] = can_design

    # -- helpers -----------------------------------------------------------------------

    async def admin(self, request: Request) -> Actor:
        actor = await self.screens.actor(request)
        if not can_design(actor):
            raise PermissionDenied(self.screens.t(request, "designer.admins_only"))
        return actor

    def t(self, request: Request, key: str, **kw: Any) -> str:
        return self.screens.t(request, key, **kw)

    def render(self, request: Request, template: str, actor: Actor, status: int = 200,
               **context: Any) -> Response:
        return self.screens.render(request, f"designer/{template}", status=status, actor=actor,
                                   field_types=self.field_types(), **context)

    def field_types(self) -> list[str]:
        extra = sorted(n for n in self.ws.types.names() if n not in BUILTIN_TYPES)
        return [*TYPE_ORDER, *extra]

    def obj(self, request: Request) -> ObjectDef:
        name = request.path_params["object"]
        obj = self.ws.meta.objects.get(name)
        if obj is None:
            raise NotFound(self.t(request, "designer.no_object", name=str(name)[:60]))
        return obj

    def doc(self, name: str) -> dict[str, Any]:
        return copy.deepcopy(dict(self.ws.state.documents[("object", name)]))

    def definition_doc(self, request: Request, kind: str) -> dict[str, Any]:
        name = request.path_params["name"]
        found = self.ws.state.documents.get((kind, name))
        if found is None:
            raise NotFound(self.t(request, "designer.no_definition", kind=kind, name=name[:60]))
        return copy.deepcopy(dict(found))

    def documents(self, items: list[tuple[str, dict[str, Any]]]) -> list[Document]:
        docs: list[Document] = []
        for kind, data in items:
            docs += self.ws.documents_from({**data, "kind": kind}, f"{kind}/{data.get('name')}")
        return docs

    def prepare(self, items: list[tuple[str, dict[str, Any]]],
                remove: list[tuple[str, str]] = ()) -> Plan | list[MetaProblem]:
        """The plan of a change, or its problems (nothing is changed)."""
        try:
            return self.ws.plan(self.documents(items), remove)
        except MetadataError as exc:
            return exc.problems
        except RapportError as exc:
            return [MetaProblem("", "", str(exc))]

    def plan_page(self, request: Request, actor: Actor, plan: Plan,
                  items: list[tuple[str, dict[str, Any]]], remove: list[tuple[str, str]],
                  back: str, summary: str, status: int = 200, **extra: Any) -> Response:
        payload = json.dumps({"docs": [[k, d] for k, d in items], "remove": [list(r) for r in remove]},
                             ensure_ascii=False)
        return self.render(request, "plan.html", actor, status=status, plan=plan,
                           payload=payload, revision=plan.old.revision, back=_safe_back(back),
                           summary=summary, remove=remove,
                           plan_definitions=[(k, d.get("name")) for k, d in items], **extra)

    async def propose(self, request: Request, actor: Actor,
                      items: list[tuple[str, dict[str, Any]]], back: str, summary: str,
                      remove: list[tuple[str, str]] = ()) -> Response | list[MetaProblem]:
        result = await run_in_threadpool(self.prepare, items, list(remove))
        if isinstance(result, list):
            return result
        return self.plan_page(request, actor, result, items, list(remove), back, summary)

    # -- plan and apply ----------------------------------------------------------------

    async def apply(self, request: Request) -> Response:
        actor = await self.admin(request)
        form = await request.form()
        raw = str(form.get("payload") or "")
        back = _safe_back(text(form, "back", 300))
        summary = text(form, "summary", 300)
        try:
            if len(raw) > MAX_PAYLOAD:
                raise ValueError("too large")
            payload = json.loads(raw)
            items = [(str(k), dict(d)) for k, d in payload["docs"]]
            remove = [(str(k), str(n)) for k, n in payload.get("remove", [])]
            revision = int(str(form.get("revision") or ""))
        except (ValueError, KeyError, TypeError):
            self.screens.flash(request, self.t(request, "designer.bad_payload"), "error")
            return RedirectResponse(back, status_code=303)
        confirmed = form.get("confirm_loss") == "1"
        comment = text(form, "comment", 300) or summary or None

        def attempt() -> tuple[str, Any]:
            try:
                docs = self.documents(items)
                plan = self.ws.apply(docs, allow_data_loss=confirmed, author=actor.email,
                                     comment=comment, remove=remove, expected_revision=revision)
                return "applied", plan
            except StaleRevision:
                return "stale", self.prepare(items, remove)
            except DataLossRefused:
                return "loss", self.prepare(items, remove)
            except MetadataError as exc:
                return "problems", exc.problems
            except RapportError as exc:
                return "error", str(exc)

        outcome, value = await run_in_threadpool(attempt)
        if outcome == "applied":
            self.screens.flash(request, self.t(request, "designer.applied",
                                               n=self.ws.meta.revision))
            return RedirectResponse(back, status_code=303)
        if outcome in {"stale", "loss"} and isinstance(value, Plan):
            message = self.t(request, "designer.stale" if outcome == "stale" else
                             "designer.confirm_needed")
            return self.plan_page(request, actor, value, items, remove, back, summary,
                                  status=409 if outcome == "stale" else 422, message=message,
                                  stale=outcome == "stale")
        problems = value if isinstance(value, list) else [MetaProblem("", "", str(value))]
        return self.render(request, "problems.html", actor, status=422, back=back,
                           problems=problems, summary=summary)

    # -- objects -----------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        actor = await self.admin(request)
        locale = self.screens.locale(request, actor)
        objects = sorted(self.ws.meta.objects.values(), key=lambda o: o.display_label(locale))
        return self.render(request, "home.html", actor, objects=objects,
                           workflows=sorted(self.ws.meta.workflows),
                           approvals=sorted(self.ws.meta.approvals))

    async def new_object(self, request: Request) -> Response:
        actor = await self.admin(request)
        return self.render(request, "object_new.html", actor, values={}, errors={}, general=[])

    async def create_object(self, request: Request) -> Response:
        actor = await self.admin(request)
        form = await request.form()
        name = text(form, "name", 200)
        doc: dict[str, Any] = {"name": name, "fields": [{
            "name": "name", "type": "text", "required": True, "max_length": 200,
            "label": {"en": "Name", "zh-CN": "名称"}}], "title_field": "name"}
        self._settings(form, doc)
        errors: dict[str, str] = {}
        if name in self.ws.meta.objects:
            errors["name"] = self.t(request, "designer.name_taken", name=name)
        if not errors:
            result = await self.propose(request, actor, [("object", doc)],
                                        f"/designer/objects/{name}",
                                        self.t(request, "designer.summary_create", name=name))
            if isinstance(result, Response):
                return result
            errors, general = place_problems(result, "")
        else:
            general = []
        return self.render(request, "object_new.html", actor, status=422, values=dict(form),
                           errors=errors, general=general)

    def _settings(self, form: Any, doc: dict[str, Any]) -> None:
        for key, value in (("label", label_from(form, "label")),
                           ("plural_label", label_from(form, "plural")),
                           ("icon", text(form, "icon", 64)),
                           ("color", text(form, "color", 7) if form.get("use_color") else ""),
                           ("description", text(form, "description", 2000))):
            if value:
                doc[key] = value
            else:
                doc.pop(key, None)
        if "title_field" in form:
            title = text(form, "title_field", 63)
            if title:
                doc["title_field"] = title
            else:
                doc.pop("title_field", None)

    def object_context(self, obj: ObjectDef, doc: dict[str, Any]) -> dict[str, Any]:
        return {"obj": obj, "doc": doc, "label_parts": label_parts,
                "workflows": [w for w in self.ws.meta.workflows.values() if w.object == obj.name],
                "approvals": [a for a in self.ws.meta.approvals.values() if a.object == obj.name]}

    async def object_page(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        doc = self.doc(obj.name)
        return self.render(request, "object.html", actor, errors={}, general=[],
                           **self.object_context(obj, doc))

    async def save_object(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        form = await request.form()
        doc = self.doc(obj.name)
        self._settings(form, doc)
        result = await self.propose(request, actor, [("object", doc)],
                                    f"/designer/objects/{obj.name}",
                                    self.t(request, "designer.summary_settings", name=obj.name))
        if isinstance(result, Response):
            return result
        errors, general = place_problems(result, "")
        return self.render(request, "object.html", actor, status=422, errors=errors,
                           general=general, **self.object_context(obj, doc))

    async def delete_object(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        await request.form()
        if obj.system:
            raise PermissionDenied(self.t(request, "designer.system_object"))
        result = await self.propose(request, actor, [], "/designer",
                                    self.t(request, "designer.summary_delete", name=obj.name),
                                    remove=[("object", obj.name)])
        if isinstance(result, Response):
            return result
        return self.render(request, "problems.html", actor, status=422,
                           back=f"/designer/objects/{obj.name}", problems=result,
                           summary=self.t(request, "designer.summary_delete", name=obj.name))

    # -- fields ------------------------------------------------------------------------

    def field_context(self, request: Request, obj: ObjectDef, raw: dict[str, Any],
                      creating: bool, errors: dict[str, str], general: list[str]) -> dict[str, Any]:
        field_type = str(raw.get("type") or "text")
        options = [o if isinstance(o, dict) else {"value": o} for o in raw.get("options", [])]
        children = [(o.name, f.name) for o, f in self.ws.meta.children_of(obj.name)]
        records = self.recent_records(obj)
        return {"obj": obj, "raw": raw, "creating": creating, "field_type": field_type,
                "options": options, "errors": errors, "general": general,
                "label_parts": label_parts, "default_text": default_text(raw.get("default")),
                "shown_for": lambda key: types_of(key, self.field_types()),
                "objects": sorted(self.ws.meta.objects), "children": children,
                "records": records, "choice_types": CHOICE_TYPES,
                "number_types": NUMBER_TYPES, "relation_types": RELATION_TYPES,
                "field_keys": FIELD_KEYS}

    def recent_records(self, obj: ObjectDef) -> list[tuple[int, str]]:
        """(id, title) of the object's newest records, to preview a formula on one."""
        from ...records.query import Query

        try:
            page = self.ws.records.query(obj.name, Query(sort=(("id", True),), limit=20))
        except RapportError:
            return []
        title = obj.title
        return [(r["id"], str(r.get(title) or r["id"])) for r in page.data]

    async def new_field(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        field_type = str(request.query_params.get("type") or "text")[:63]
        if field_type not in self.field_types():
            field_type = "text"
        raw: dict[str, Any] = {"name": "", "type": field_type}
        return self.render(request, "field.html", actor,
                           **self.field_context(request, obj, raw, True, {}, []))

    async def edit_field(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        raw = self._raw_field(request, obj)
        return self.render(request, "field.html", actor,
                           **self.field_context(request, obj, raw, False, {}, []))

    def _raw_field(self, request: Request, obj: ObjectDef) -> dict[str, Any]:
        name = request.path_params["field"]
        for f in self.doc(obj.name)["fields"]:
            if f["name"] == name:
                return dict(f)
        raise NotFound(self.t(request, "designer.no_field", name=str(name)[:60], object=obj.name))

    async def save_field(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        form = await request.form()
        creating = "field" not in request.path_params
        doc = self.doc(obj.name)
        raw = None if creating else self._raw_field(request, obj)
        data, errors = field_from_form(form, raw)
        if creating:
            index = len(doc["fields"])
            if any(f["name"] == data["name"] for f in doc["fields"]):
                errors["name"] = self.t(request, "designer.field_taken", name=data["name"])
            doc["fields"].append(data)
        else:
            assert raw is not None
            index = next(i for i, f in enumerate(doc["fields"]) if f["name"] == raw["name"])
            doc["fields"][index] = data
            rename_references(doc, raw["name"], data["name"])
        renames = {o["renamed_from"]: o["value"] for o in data.get("options", [])
                   if isinstance(o, dict) and o.get("renamed_from")}
        others = [] if creating else follow_value_renames(doc, data["name"], renames,
                                                          self.ws.state.documents)
        if not errors:
            verb = "summary_field_add" if creating else "summary_field_edit"
            result = await self.propose(request, actor, [("object", doc), *others],
                                        f"/designer/objects/{obj.name}",
                                        self.t(request, f"designer.{verb}", name=data["name"],
                                               object=obj.name))
            if isinstance(result, Response):
                return result
            on_inputs, general = place_problems(result, f"/fields/{index}")
            errors.update(on_inputs)
        else:
            general = []
        return self.render(request, "field.html", actor, status=422,
                           **self.field_context(request, obj, data, creating, errors, general))

    async def remove_field(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        await request.form()
        raw = self._raw_field(request, obj)
        doc = self.doc(obj.name)
        doc["fields"] = [f for f in doc["fields"] if f["name"] != raw["name"]]
        drop_references(doc, raw["name"])
        summary = self.t(request, "designer.summary_field_remove", name=raw["name"],
                         object=obj.name)
        result = await self.propose(request, actor, [("object", doc)],
                                    f"/designer/objects/{obj.name}", summary)
        if isinstance(result, Response):
            return result
        return self.render(request, "problems.html", actor, status=422,
                           back=f"/designer/objects/{obj.name}", problems=result, summary=summary)

    async def order_fields(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        form = await request.form()
        order = [n for n in text(form, "order", 20_000).split(",") if n]
        doc = self.doc(obj.name)
        by_name = {f["name"]: f for f in doc["fields"]}
        if sorted(order) != sorted(by_name):
            self.screens.flash(request, self.t(request, "designer.bad_order"), "error")
            return RedirectResponse(f"/designer/objects/{obj.name}", status_code=303)
        doc["fields"] = [by_name[n] for n in order]
        result = await self.propose(request, actor, [("object", doc)],
                                    f"/designer/objects/{obj.name}",
                                    self.t(request, "designer.summary_order", object=obj.name))
        if isinstance(result, Response):
            return result
        return self.render(request, "problems.html", actor, status=422,
                           back=f"/designer/objects/{obj.name}", problems=result, summary="")

    # -- validation rules and formulas -----------------------------------------------------

    def _rule_index(self, request: Request, doc: dict[str, Any]) -> int:
        name = request.path_params["rule"]
        for i, r in enumerate(doc.get("validation_rules", [])):
            if r["name"] == name:
                return i
        raise NotFound(self.t(request, "designer.no_rule", name=str(name)[:60]))

    def rule_context(self, obj: ObjectDef, rule: dict[str, Any], creating: bool,
                     errors: dict[str, str], general: list[str]) -> dict[str, Any]:
        records = self.recent_records(obj)
        return {"obj": obj, "rule": rule, "creating": creating, "errors": errors,
                "general": general, "label_parts": label_parts, "records": records}

    async def rule_page(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        doc = self.doc(obj.name)
        if "rule" in request.path_params:
            index = self._rule_index(request, doc)
            rule = doc["validation_rules"][index]
            creating = False
        else:
            rule, creating = {"name": "", "when": "", "message": ""}, True
        return self.render(request, "rule.html", actor,
                           **self.rule_context(obj, rule, creating, {}, []))

    async def save_rule(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        form = await request.form()
        doc = self.doc(obj.name)
        rules = doc.setdefault("validation_rules", [])
        rule = rule_from_form(form)
        creating = "rule" not in request.path_params
        errors: dict[str, str] = {}
        if creating:
            index = len(rules)
            if any(r["name"] == rule["name"] for r in rules):
                errors["name"] = self.t(request, "designer.rule_taken", name=rule["name"])
            rules.append(rule)
        else:
            index = self._rule_index(request, doc)
            rules[index] = rule
        if not errors:
            result = await self.propose(request, actor, [("object", doc)],
                                        f"/designer/objects/{obj.name}",
                                        self.t(request, "designer.summary_rule",
                                               name=rule["name"], object=obj.name))
            if isinstance(result, Response):
                return result
            on_inputs, general = place_problems(result, f"/validation_rules/{index}")
            errors.update(on_inputs)
        else:
            general = []
        return self.render(request, "rule.html", actor, status=422,
                           **self.rule_context(obj, rule, creating, errors, general))

    async def remove_rule(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        await request.form()
        doc = self.doc(obj.name)
        index = self._rule_index(request, doc)
        name = doc["validation_rules"].pop(index)["name"]
        if not doc["validation_rules"]:
            doc.pop("validation_rules")
        summary = self.t(request, "designer.summary_rule_remove", name=name, object=obj.name)
        result = await self.propose(request, actor, [("object", doc)],
                                    f"/designer/objects/{obj.name}", summary)
        if isinstance(result, Response):
            return result
        return self.render(request, "problems.html", actor, status=422,
                           back=f"/designer/objects/{obj.name}", problems=result, summary=summary)

    def check_expression(self, obj: ObjectDef, expression: str, mode: str, result_type: str,
                         record_id: str, test_all: bool) -> dict[str, Any]:
        """Syntax and unknown names (the validation ``ws.apply`` runs), the value on one
        record, and for a rule how many records it refuses."""
        out: dict[str, Any] = {"expression": expression, "mode": mode, "problems": []}
        if not expression:
            return out
        doc = self.doc(obj.name)
        if mode == "rule":
            doc.setdefault("validation_rules", []).append(
                {"name": "designer_check", "when": expression, "message": "check"})
            prefix = f"/validation_rules/{len(doc['validation_rules']) - 1}"
        else:
            probe: dict[str, Any] = {"name": "designer_check", "type": "formula",
                                     "expression": expression}
            if result_type:
                probe["result_type"] = result_type
            doc["fields"].append(probe)
            prefix = f"/fields/{len(doc['fields']) - 1}"
        try:
            self.ws.validate(self.documents([("object", doc)]))
        except MetadataError as exc:
            out["problems"] = [p.message for p in exc.problems
                               if p.pointer.startswith(prefix)]
        if out["problems"]:
            return out
        try:
            formula = compile_formula(expression, self.ws.library)
        except FormulaError as exc:
            out["problems"] = [str(exc)]
            return out
        if record_id.isdigit():
            try:
                record = self.ws.records.get(obj.name, int(record_id))
                out["record"] = record
                with self.ws.read_engine.connect() as conn:
                    get = self.ws.records.path_reader(conn)(obj, record)
                    out["value"] = formula.evaluate(record, get)
            except NotFound:
                pass
            except FormulaError as exc:
                out["value_error"] = str(exc)
        if mode == "rule" and test_all:
            counted = self._count_rule(obj, expression)
            out["in_sql"] = counted is not None
            out["tested"], out["failing"], out["failing_ids"] = counted or \
                self._test_rule(obj, formula)
        return out

    def _count_rule(self, obj: ObjectDef, when: str) -> tuple[int, int, list[int]] | None:
        """The same counts in two SQL queries, when the rule translates (formulas/sql.py)."""
        from sqlalchemy import func, select

        table = self.ws.table(obj.name)
        condition = rule_condition(when, obj, table)
        if condition is None:
            return None
        with self.ws.read_engine.connect() as conn:
            total, failing = conn.execute(select(
                func.count(), func.count().filter(condition)).select_from(table)).one()
            ids = list(conn.scalars(select(table.c.id).where(condition)
                                    .order_by(table.c.id.desc()).limit(FAILING_SHOWN)))
        return int(total), int(failing), ids

    def _test_rule(self, obj: ObjectDef, formula: Any) -> tuple[int, int, list[int]]:
        """How many of the object's records the rule would refuse (at most TEST_RULE_LIMIT
        records read, newest first), and the ids of a few."""
        from sqlalchemy import select

        table = self.ws.table(obj.name)
        tested = failing = 0
        ids: list[int] = []
        with self.ws.read_engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id.desc()).limit(TEST_RULE_LIMIT))
            reader = self.ws.records.path_reader(conn)
            for row in rows.all():
                tested += 1
                values = dict(row._mapping)
                get = reader(obj, values)
                try:
                    refused = bool(formula.evaluate(values, get))
                except FormulaError:
                    refused = False
                if refused:
                    failing += 1
                    if len(ids) < FAILING_SHOWN:
                        ids.append(values["id"])
        return tested, failing, ids

    async def check(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        form = await request.form()
        source = "when" if form.get("check_source") == "when" else "expression"
        expression = text(form, source, 10_000)
        mode = "rule" if form.get("check_mode") == "rule" else "formula"
        result = await run_in_threadpool(
            self.check_expression, obj, expression, mode, text(form, "result_type", 20),
            text(form, "preview_record", 20), form.get("test_all") == "1")
        return self.render(request, "check.html", actor, obj=obj, check=result)

    # -- layouts -----------------------------------------------------------------------

    async def layout_page(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        return self.render(request, "layout.html", actor,
                           **self.layout_context(request, obj, self.doc(obj.name), {}, []))

    def layout_context(self, request: Request, obj: ObjectDef, doc: dict[str, Any],
                       errors: dict[str, str], general: list[str]) -> dict[str, Any]:
        locale = self.screens.locale(request)
        views = doc.get("views") or {}
        sections = (views.get("form") or {}).get("sections") or [
            {"label": obj.display_label(locale), "fields": list(obj.field_names)}]
        placed = {f for s in sections for f in s.get("fields", [])}
        lst = views.get("list") or {}
        columns = lst.get("columns") or list(obj.field_names[:5])
        sort = str(lst.get("sort") or "")
        kanban = views.get("kanban") or {}
        return {"obj": obj, "doc": doc, "sections": sections,
                "unplaced": [f for f in obj.field_names if f not in placed],
                "columns": columns, "not_columns": [f for f in obj.field_names if f not in columns],
                "sort_field": sort.split(",")[0].lstrip("-") if sort else "",
                "sort_desc": sort.startswith("-"), "kanban": kanban,
                "card": kanban.get("card") or [],
                "not_card": [f for f in obj.field_names if f not in (kanban.get("card") or [])],
                "picklists": [f for f in obj.fields if f.type == "picklist"],
                "numbers": [f for f in obj.fields if f.value_type in NUMBER_TYPES],
                "label_of": lambda name: obj.field(name).display_label(locale)
                if obj.has_field(name) else name,
                "label_text": label_text, "errors": errors, "general": general}

    async def save_layout(self, request: Request) -> Response:
        actor = await self.admin(request)
        obj = self.obj(request)
        form = await request.form()
        doc = self.doc(obj.name)
        views: dict[str, Any] = dict(doc.get("views") or {})

        def names(raw: str) -> list[str]:
            return [n for n in (p.strip() for p in raw.split(",")) if n]

        sections = []
        for label, fields in zip(form.getlist("section_label"), form.getlist("section_fields"),
                                 strict=False):
            chosen = names(str(fields)[:5000])
            if chosen:
                section: dict[str, Any] = {"fields": chosen}
                if str(label).strip():
                    section["label"] = str(label).strip()[:200]
                sections.append(section)
        if sections:
            views["form"] = {"sections": sections}
        else:
            views.pop("form", None)
        lst = dict(views.get("list") or {})
        columns = names(text(form, "list_columns", 5000))
        if columns:
            lst["columns"] = columns
        else:
            lst.pop("columns", None)
        sort_field = text(form, "sort_field", 63)
        if sort_field:
            lst["sort"] = ("-" if form.get("sort_desc") else "") + sort_field
        else:
            lst.pop("sort", None)
        if lst:
            views["list"] = lst
        else:
            views.pop("list", None)
        group_by = text(form, "kanban_group_by", 63)
        if group_by:
            kanban: dict[str, Any] = {"group_by": group_by}
            card = names(text(form, "kanban_card", 5000))
            if card:
                kanban["card"] = card
            if text(form, "kanban_sum", 63):
                kanban["sum"] = text(form, "kanban_sum", 63)
            views["kanban"] = kanban
        else:
            views.pop("kanban", None)
        if views:
            doc["views"] = views
        else:
            doc.pop("views", None)
        result = await self.propose(request, actor, [("object", doc)],
                                    f"/designer/objects/{obj.name}/layout",
                                    self.t(request, "designer.summary_layout", object=obj.name))
        if isinstance(result, Response):
            return result
        errors, general = place_problems(result, "/views")
        return self.render(request, "layout.html", actor, status=422,
                           **self.layout_context(request, obj, doc, errors, general))

    # -- JSON of one definition (every key the language has) ----------------------------------

    async def json_page(self, request: Request) -> Response:
        actor = await self.admin(request)
        kind = request.path_params["kind"]
        if kind not in KIND_FOLDERS:
            raise NotFound(self.t(request, "designer.no_kind", kind=kind[:30]))
        name = request.path_params["name"]
        found = self.ws.state.documents.get((kind, name))
        data = dict(found) if found else self.starter(kind, name,
                                                      text(request.query_params, "object", 63))
        return self.render(request, "json.html", actor, **self.json_context(
            kind, name, json.dumps(data, indent=2, ensure_ascii=False), [], found is None))

    def starter(self, kind: str, name: str, object_name: str) -> dict[str, Any]:
        """A new definition to start from: a workflow over the object's first picklist's
        values, an approval with one step for the record owner's manager."""
        obj = self.ws.meta.objects.get(object_name)
        if kind == "workflow" and obj is not None:
            pick = next((f for f in obj.fields if f.type == "picklist"), None)
            if pick is not None:
                values = pick.option_values
                return {"name": name, "object": obj.name, "field": pick.name,
                        "stages": [{"name": v} for v in values],
                        "transitions": [{"from": a, "to": b} for a, b in pairwise(values)]}
        if kind == "approval" and obj is not None:
            return {"name": name, "object": obj.name, "lock": True,
                    "steps": [{"name": "manager", "approvers": {"manager_of": "owner"},
                               "mode": "any"}]}
        if kind == "object":
            return {"name": name, "fields": [{"name": "name", "type": "text"}]}
        return {"name": name, "object": object_name}

    def json_context(self, kind: str, name: str, body: str, problems: list[str],
                     creating: bool) -> dict[str, Any]:
        diagram = None
        try:
            data = json.loads(body)
            if kind == "workflow" and isinstance(data, dict):
                diagram = workflow_svg(data)
            elif kind == "approval" and isinstance(data, dict):
                diagram = approval_svg(data)
        except (ValueError, TypeError, KeyError, AttributeError):
            diagram = None
        return {"kind": kind, "name": name, "body": body, "problems": problems,
                "creating": creating, "diagram": diagram,
                "objects": sorted(self.ws.meta.objects)}

    async def save_json(self, request: Request) -> Response:
        actor = await self.admin(request)
        kind = request.path_params["kind"]
        if kind not in KIND_FOLDERS:
            raise NotFound(self.t(request, "designer.no_kind", kind=kind[:30]))
        name = request.path_params["name"]
        form = await request.form()
        body = str(form.get("body") or "")[:MAX_PAYLOAD]
        creating = (kind, name) not in self.ws.state.documents
        problems: list[str] = []
        try:
            data = json.loads(body)
        except ValueError as exc:
            data = None
            problems.append(self.t(request, "designer.bad_json", error=str(exc)[:200]))
        if data is not None and not isinstance(data, dict):
            problems.append(self.t(request, "designer.not_an_object"))
        elif data is not None:
            data.pop("$schema", None)
            data.pop("kind", None)
            data.setdefault("name", name)
            if data.get("name") != name:
                problems.append(f"/name: {self.t(request, 'designer.name_differs')}")
            else:
                result = await self.propose(request, actor, [(kind, data)],
                                            f"/designer/{kind}/{name}",
                                            self.t(request, "designer.summary_json",
                                                   kind=kind, name=name))
                if isinstance(result, Response):
                    return result
                problems += [f"{p.pointer or '/'}: {p.message}" for p in result]
        return self.render(request, "json.html", actor, status=422,
                           **self.json_context(kind, name, body, problems, creating))

    # -- stage workflows and approval flows ------------------------------------------------

    def flow_context(self, kind: str, name: str, data: dict[str, Any], creating: bool,
                     errors: dict[str, str], general: list[str]) -> dict[str, Any]:
        obj = self.ws.meta.objects.get(str(data.get("object") or ""))
        rows = workflow_rows(data) if kind == "workflow" else approval_rows(data)
        try:
            diagram = workflow_svg(data) if kind == "workflow" else approval_svg(data)
        except (TypeError, ValueError, AttributeError, KeyError):
            diagram = None
        return {"kind": kind, "name": name, "data": data, "obj": obj, "creating": creating,
                "errors": errors, "general": general, "diagram": diagram,
                "objects": sorted(self.ws.meta.objects), "label_parts": label_parts,
                "approver_kinds": APPROVER_KINDS, **rows}

    def _flow_kind(self, request: Request) -> str:
        kind = request.path_params["kind"]
        if kind not in {"workflow", "approval"}:
            raise NotFound(self.t(request, "designer.no_kind", kind=kind[:30]))
        return kind

    async def flow_page(self, request: Request) -> Response:
        actor = await self.admin(request)
        kind = self._flow_kind(request)
        name = request.path_params["name"]
        found = self.ws.state.documents.get((kind, name))
        data = copy.deepcopy(dict(found)) if found else \
            self.starter(kind, name, text(request.query_params, "object", 63))
        return self.render(request, "flow.html", actor,
                           **self.flow_context(kind, name, data, found is None, {}, []))

    async def save_flow(self, request: Request) -> Response:
        actor = await self.admin(request)
        kind = self._flow_kind(request)
        name = request.path_params["name"]
        form = await request.form()
        stored = self.ws.state.documents.get((kind, name))
        build = workflow_from_form if kind == "workflow" else approval_from_form
        data, errors = build(form, stored, name)
        general: list[str] = []
        if not errors:
            result = await self.propose(request, actor, [(kind, data)],
                                        f"/designer/flows/{kind}/{name}",
                                        self.t(request, "designer.summary_json",
                                               kind=self.t(request, f"designer.kind_{kind}"),
                                               name=name))
            if isinstance(result, Response):
                return result
            general = [f"{p.pointer or '/'}: {p.message}" for p in result]
        return self.render(request, "flow.html", actor, status=422,
                           **self.flow_context(kind, name, data, stored is None, errors, general))

    async def new_definition(self, request: Request) -> Response:
        """A new workflow or approval: its name and object, then its JSON editor."""
        await self.admin(request)
        kind = text(request.query_params, "kind", 20)
        name = text(request.query_params, "name", 63)
        obj = text(request.query_params, "object", 63)
        if kind not in {"workflow", "approval"} or not name:
            return RedirectResponse("/designer", status_code=303)
        return RedirectResponse(f"/designer/flows/{kind}/{name}?object={obj}", status_code=303)

    async def remove_definition(self, request: Request) -> Response:
        actor = await self.admin(request)
        kind = request.path_params["kind"]
        name = request.path_params["name"]
        await request.form()
        if kind not in {"workflow", "approval", "report", "dashboard"} or \
                (kind, name) not in self.ws.state.documents:
            raise NotFound(self.t(request, "designer.no_definition", kind=kind[:30], name=name[:60]))
        summary = self.t(request, "designer.summary_remove", kind=kind, name=name)
        result = await self.propose(request, actor, [], "/designer", summary,
                                    remove=[(kind, name)])
        if isinstance(result, Response):
            return result
        return self.render(request, "problems.html", actor, status=422, back="/designer",
                           problems=result, summary=summary)

    # -- revisions ---------------------------------------------------------------------

    async def revisions(self, request: Request) -> Response:
        actor = await self.admin(request)
        rows = await run_in_threadpool(self.ws.revisions, 200)
        return self.render(request, "revisions.html", actor, revisions=rows)

    async def diff(self, request: Request) -> Response:
        actor = await self.admin(request)
        latest = self.ws.meta.revision
        try:
            b = int(request.query_params.get("b") or latest)
            a = int(request.query_params.get("a") or max(b - 1, 0))
        except ValueError:
            a, b = max(latest - 1, 0), latest
        a, b = max(0, min(a, latest)), max(0, min(b, latest))
        changes = await run_in_threadpool(diff_revisions, self.ws, a, b)
        return self.render(request, "diff.html", actor, a=a, b=b, latest=latest, changes=changes)

    async def rollback(self, request: Request) -> Response:
        actor = await self.admin(request)
        await request.form()
        revision = request.path_params["revision"]

        def change() -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, str]]]:
            docs, removals = rollback_change(self.ws, revision)
            return [(d.kind, dict(d.data)) for d in docs], removals

        items, removals = await run_in_threadpool(change)
        summary = self.t(request, "designer.summary_rollback", n=revision)
        result = await self.propose(request, actor, items, "/designer/revisions", summary,
                                    remove=removals)
        if isinstance(result, Response):
            return result
        return self.render(request, "problems.html", actor, status=422,
                           back="/designer/revisions", problems=result, summary=summary)

    # -- export and import -------------------------------------------------------------

    async def export(self, request: Request) -> Response:
        await self.admin(request)
        only = request.query_params.get("object")
        bodies = []
        for (kind, name), data in sorted(self.ws.state.documents.items()):
            if only and (kind, name) != ("object", only):
                continue
            body = {"$schema": f"https://rapport.dev/schemas/{kind}.schema.json", **data}
            if kind != "object":
                body["kind"] = kind
            bodies.append(body)
        if only and not bodies:
            raise NotFound(self.t(request, "designer.no_object", name=only[:60]))
        value: Any = bodies[0] if only else bodies
        filename = f"{only}.json" if only else f"rapport-model-r{self.ws.meta.revision}.json"
        return Response(json.dumps(value, indent=2, ensure_ascii=False) + "\n",
                        media_type="application/json",
                        headers={"content-disposition": f'attachment; filename="{filename}"',
                                 "cache-control": "no-store"})

    async def import_page(self, request: Request) -> Response:
        actor = await self.admin(request)
        return self.render(request, "import.html", actor, problems=[], body="")

    async def import_model(self, request: Request) -> Response:
        actor = await self.admin(request)
        form = await request.form()
        upload = form.get("file")
        body = str(form.get("body") or "")
        if upload is not None and hasattr(upload, "read"):
            content = await upload.read(MAX_PAYLOAD + 1)
            if content:
                body = content.decode("utf-8", "replace")
        problems: list[str] = []
        items: list[tuple[str, dict[str, Any]]] = []
        try:
            if len(body) > MAX_PAYLOAD:
                raise ValueError("larger than 4 MB")
            value = json.loads(body)
            docs = self.ws.documents_from(value, "import")
            items = [(d.kind, {k: v for k, v in d.data.items() if k not in {"$schema", "kind"}})
                     for d in docs]
        except ValueError as exc:
            problems.append(self.t(request, "designer.bad_json", error=str(exc)[:200]))
        except MetadataError as exc:
            problems += [str(p) for p in exc.problems]
        if not problems:
            result = await self.propose(request, actor, items, "/designer",
                                        self.t(request, "designer.summary_import", n=len(items)))
            if isinstance(result, Response):
                return result
            problems += [str(p) for p in result]
        return self.render(request, "import.html", actor, status=422, problems=problems,
                           body=body[:200_000])

    # -- routes ------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        o = "/designer/objects/{object}"
        return [
            Route("/designer", self.home, methods=["GET"]),
            Route("/designer/apply", self.apply, methods=["POST"]),
            Route("/designer/objects/new", self.new_object, methods=["GET"]),
            Route("/designer/objects/new", self.create_object, methods=["POST"]),
            Route("/designer/revisions", self.revisions, methods=["GET"]),
            Route("/designer/revisions/diff", self.diff, methods=["GET"]),
            Route("/designer/revisions/{revision:int}/rollback", self.rollback, methods=["POST"]),
            Route("/designer/export", self.export, methods=["GET"]),
            Route("/designer/import", self.import_page, methods=["GET"]),
            Route("/designer/import", self.import_model, methods=["POST"]),
            Route("/designer/definitions/new", self.new_definition, methods=["GET"]),
            Route(o, self.object_page, methods=["GET"]),
            Route(o, self.save_object, methods=["POST"]),
            Route(o + "/delete", self.delete_object, methods=["POST"]),
            Route(o + "/fields/new", self.new_field, methods=["GET"]),
            Route(o + "/fields/new", self.save_field, methods=["POST"]),
            Route(o + "/fields/order", self.order_fields, methods=["POST"]),
            Route(o + "/fields/{field}", self.edit_field, methods=["GET"]),
            Route(o + "/fields/{field}", self.save_field, methods=["POST"]),
            Route(o + "/fields/{field}/remove", self.remove_field, methods=["POST"]),
            Route(o + "/rules/new", self.rule_page, methods=["GET"]),
            Route(o + "/rules/new", self.save_rule, methods=["POST"]),
            Route(o + "/rules/{rule}", self.rule_page, methods=["GET"]),
            Route(o + "/rules/{rule}", self.save_rule, methods=["POST"]),
            Route(o + "/rules/{rule}/remove", self.remove_rule, methods=["POST"]),
            Route(o + "/check", self.check, methods=["POST"]),
            Route(o + "/layout", self.layout_page, methods=["GET"]),
            Route(o + "/layout", self.save_layout, methods=["POST"]),
            Route("/designer/flows/{kind}/{name}", self.flow_page, methods=["GET"]),
            Route("/designer/flows/{kind}/{name}", self.save_flow, methods=["POST"]),
            Route("/designer/{kind}/{name}", self.json_page, methods=["GET"]),
            Route("/designer/{kind}/{name}", self.save_json, methods=["POST"]),
            Route("/designer/{kind}/{name}/remove", self.remove_definition, methods=["POST"]),
        ]


def designer_routes(screens: Screens) -> list[BaseRoute]:
    return Designer(screens).routes()


__all__ = ["Designer", "designer_routes"]
