"""OpenAPI 3.1 for the REST API, generated from the workspace's metadata."""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..auth.access import MASK
from ..meta.model import FieldDef, ObjectDef, label_text
from ..records.query import MAX_LIMIT

ERRORS = {"400": "Malformed request", "401": "Not authenticated", "403": "Not allowed",
          "404": "Not found", "409": "Conflict", "412": "Stale version", "413": "Body too large",
          "422": "Invalid input"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    t = schema.get("type")
    if isinstance(t, str):
        return {**schema, "type": [t, "null"]}
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    return schema


def field_schema(f: FieldDef, *, output: bool) -> dict[str, Any]:
    vt = f.value_type
    s: dict[str, Any]
    if vt in {"text", "textarea", "rich_text", "email", "phone", "url"}:
        s = {"type": "string"}
    elif vt == "integer":
        s = {"type": "integer"}
    elif vt in {"decimal", "currency", "percent"}:
        s = {"type": "number"} if output else {"type": ["number", "string"]}
    elif vt == "boolean":
        s = {"type": "boolean"}
    elif vt == "date":
        s = {"type": "string", "format": "date"}
    elif vt == "datetime":
        s = {"type": "string", "format": "date-time"}
    elif vt == "picklist":
        s = {"type": "string", "enum": list(f.option_values)}
    elif vt == "multi_picklist":
        s = {"type": "array", "items": {"type": "string", "enum": list(f.option_values)}}
    elif vt in {"lookup", "master_detail"}:
        s = {"type": "integer", "minimum": 1, "description": f"id of a {f.target}"}
    elif vt == "json":
        return {"description": label_text(f.label, "en", f.name)}
    else:
        s = {"type": "string"} if output else {}
    if f.is_computed:
        s["readOnly"] = True
    s.setdefault("description", label_text(f.label, "en", f.name))
    return _nullable(s) if s.get("type") or "enum" in s else s


def _record_schema(obj: ObjectDef) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "created_by": {"type": ["integer", "null"]},
        "owner": {"type": ["integer", "null"]},
        "version": {"type": "integer"},
    }
    for f in obj.fields:
        props[f.name] = field_schema(f, output=True)
        if f.sensitive:  # masked for most readers (docs/security.md)
            props[f.name] = {"anyOf": [props[f.name], {"type": "string", "const": MASK}],
                             "description": "masked unless revealed"}
    return {"type": "object", "title": label_text(obj.label, "en", obj.name),
            "properties": props, "required": ["id", "version"]}


def _input_schema(obj: ObjectDef) -> dict[str, Any]:
    props: dict[str, Any] = {"owner": {"type": ["integer", "null"], "minimum": 1}}
    for f in obj.fields:
        if not f.is_computed:
            props[f.name] = field_schema(f, output=False)
    return {"type": "object", "properties": props, "additionalProperties": False}


def _filter_params(obj: ObjectDef, types: Any) -> list[dict[str, Any]]:
    params = []
    for f in obj.fields:
        if f.type not in types:
            continue
        ops = types[f.value_type].operators if f.type == "formula" and f.value_type in types \
            else types[f.type].operators
        for op in ops:
            key = f"filter[{f.name}]" if op == "eq" else f"filter[{f.name}][{op}]"
            params.append({"name": key, "in": "query", "required": False,
                           "schema": {"type": "string"},
                           "description": f"{f.name} {op.replace('_', ' ')} (lists: a,b)"})
    return params


def _responses(ok: str, ok_body: dict[str, Any] | None, *codes: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ok_body is None:
        out[ok] = {"description": "Done"}
    else:
        out[ok] = {"description": "OK", "content": {"application/json": {"schema": ok_body}}}
    for code in ("400", "401", "403", *codes):
        out[code] = {"description": ERRORS[code], "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return out


def openapi_spec(ws: Any) -> dict[str, Any]:
    meta = ws.meta
    schemas: dict[str, Any] = {
        "Problem": {"type": "object", "required": ["status", "title"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {
                "field": {"type": ["string", "null"]}, "code": {"type": "string"},
                "message": {"type": "string"}}}}}},
        "History": {"type": "object", "properties": {"data": {"type": "array", "items": {
            "type": "object", "properties": {
                "id": {"type": "integer"}, "action": {"type": "string"},
                "field": {"type": ["string", "null"]}, "old_value": {}, "new_value": {},
                "user_id": {"type": ["integer", "null"]},
                "at": {"type": "string", "format": "date-time"}}}}}},
        "StagePath": {"type": "object", "description": "A record's stage path: every stage "
                      "with the verdict on moving there now, and its stage history",
                      "properties": {
                          "workflow": {"type": "string"}, "field": {"type": "string"},
                          "current": {"type": ["string", "null"]},
                          "guidance": {"type": ["string", "null"]},
                          "seconds_in_stage": {"type": ["integer", "null"]},
                          "stages": {"type": "array", "items": {"type": "object", "properties": {
                              "name": {"type": "string"}, "label": {"type": "string"},
                              "state": {"enum": ["done", "current", "ahead"]},
                              "allowed": {"type": "boolean"},
                              "reason": {"type": ["string", "null"]}}}},
                          "history": {"type": "array", "items": {"type": "object", "properties": {
                              "stage": {"type": "string"}, "from_stage": {"type": ["string", "null"]},
                              "entered_at": {"type": "string", "format": "date-time"},
                              "left_at": {"type": ["string", "null"], "format": "date-time"},
                              "seconds": {"type": "integer"}}}}}},
        "Definition": {"type": "object", "description": "An object definition (see the "
                       "metadata language's object.schema.json)"},
    }
    paths: dict[str, Any] = {}
    id_param = {"name": "id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1}}
    list_params = [
        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "search text"},
        {"name": "sort", "in": "query", "schema": {"type": "string"},
         "description": "fields, - for descending: -amount,name"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                    "maximum": MAX_LIMIT, "default": 50}},
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    ]
    for name, obj in sorted(meta.objects.items()):
        rec, inp = f"{name}_record", f"{name}_input"
        schemas[rec] = _record_schema(obj)
        schemas[inp] = _input_schema(obj)
        ref = {"$ref": f"#/components/schemas/{rec}"}
        body = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{inp}"}}}}
        filters = _filter_params(obj, ws.types)
        tag = [name]
        paths[f"/api/v1/records/{name}"] = {
            "get": {"operationId": f"list_{name}", "tags": tag, "parameters": list_params + filters,
                    "responses": _responses("200", {"type": "object", "required": ["data"],
                                                    "properties": {
                                                        "data": {"type": "array", "items": ref},
                                                        "next_cursor": {"type": ["string", "null"]}}},
                                            "404", "422")},
            "post": {"operationId": f"create_{name}", "tags": tag, "requestBody": body,
                     "responses": _responses("201", ref, "404", "409", "413", "422")},
        }
        paths[f"/api/v1/records/{name}/count"] = {
            "get": {"operationId": f"count_{name}", "tags": tag,
                    "parameters": [list_params[0], *filters],
                    "responses": _responses("200", {"type": "object", "properties": {
                        "count": {"type": "integer"}}}, "404", "422")}}
        if_match = {"name": "If-Match", "in": "header", "required": False,
                    "schema": {"type": "string"}, "description": "the version you edited"}
        paths[f"/api/v1/records/{name}/{{id}}"] = {
            "parameters": [id_param],
            "get": {"operationId": f"get_{name}", "tags": tag,
                    "responses": _responses("200", ref, "404")},
            "patch": {"operationId": f"update_{name}", "tags": tag, "parameters": [if_match],
                      "requestBody": body,
                      "responses": _responses("200", ref, "404", "409", "412", "413", "422")},
            "delete": {"operationId": f"delete_{name}", "tags": tag,
                       "responses": _responses("204", None, "404", "409", "422")},
        }
        paths[f"/api/v1/records/{name}/{{id}}/history"] = {
            "parameters": [id_param],
            "get": {"operationId": f"history_{name}", "tags": tag,
                    "responses": _responses("200", {"$ref": "#/components/schemas/History"}, "404")}}
        share = {"type": "object", "properties": {
            "id": {"type": "integer"}, "user": {"type": ["integer", "null"]},
            "team": {"type": ["integer", "null"]}, "level": {"type": "string",
                                                             "enum": ["read", "edit"]},
            "created_by": {"type": ["integer", "null"]},
            "created_at": {"type": ["string", "null"]}}}
        paths[f"/api/v1/records/{name}/{{id}}/shares"] = {
            "parameters": [id_param],
            "get": {"operationId": f"shares_{name}", "tags": tag,
                    "description": "Whom the record is shared with (see docs/security.md)",
                    "responses": _responses("200", {"type": "object", "properties": {
                        "data": {"type": "array", "items": share}}}, "404")},
            "post": {"operationId": f"share_{name}", "tags": tag,
                     "description": "Share the record with a user or a team, to read or edit",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "properties": {
                             "user": {"type": "integer"}, "team": {"type": "integer"},
                             "level": {"type": "string", "enum": ["read", "edit"]}}}}}},
                     "responses": _responses("201", share, "404", "413", "422")}}
        paths[f"/api/v1/records/{name}/{{id}}/shares/{{share_id}}"] = {
            "parameters": [id_param, {"name": "share_id", "in": "path", "required": True,
                                      "schema": {"type": "integer", "minimum": 1}}],
            "delete": {"operationId": f"unshare_{name}", "tags": tag,
                       "responses": _responses("204", None, "404")}}
        sensitive = sorted(obj.sensitive_names)
        if sensitive:
            paths[f"/api/v1/records/{name}/{{id}}/reveal/{{field}}"] = {
                "parameters": [id_param, {"name": "field", "in": "path", "required": True,
                                          "schema": {"type": "string", "enum": sensitive}}],
                "get": {"operationId": f"reveal_{name}", "tags": tag,
                        "description": "A sensitive value unmasked; the reveal is audited",
                        "responses": _responses("200", {"type": "object", "properties": {
                            "id": {"type": "integer"}, "field": {"type": "string"},
                            "value": {}}}, "404")}}
        workflows = ws.workflows.of(name)
        if workflows:
            stages = sorted({st.name for wf in workflows for st in wf.stages})
            paths[f"/api/v1/records/{name}/{{id}}/transition"] = {
                "parameters": [id_param],
                "post": {"operationId": f"transition_{name}", "tags": tag, "parameters": [if_match],
                         "description": "Move the record to another stage of its workflow; "
                                        "a move the workflow refuses is 422 naming the rule.",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"type": "object", "required": ["to"], "properties": {
                                 "to": {"type": "string", "enum": stages},
                                 "field": {"type": "string", "enum": sorted(
                                     {wf.field.name for wf in workflows})},
                                 "version": {"type": "integer", "minimum": 1}}}}}},
                         "responses": _responses("200", ref, "404", "409", "412", "413",
                                                 "422")}}
            paths[f"/api/v1/records/{name}/{{id}}/stages"] = {
                "parameters": [id_param],
                "get": {"operationId": f"stages_{name}", "tags": tag,
                        "parameters": [{"name": "field", "in": "query",
                                        "schema": {"type": "string"}}],
                        "responses": _responses("200", {"$ref": "#/components/schemas/StagePath"},
                                                "404", "422")}}
    obj_param = {"name": "object", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}}
    flags = [{"name": "plan", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}},
             {"name": "allow_data_loss", "in": "query",
              "schema": {"type": "string", "enum": ["0", "1"]}}]
    definition = {"$ref": "#/components/schemas/Definition"}
    change = {"type": "object", "properties": {"applied": {"type": "boolean"},
                                               "revision": {"type": "integer"},
                                               "plan": {"type": "object"}}}
    paths["/api/v1/meta/objects"] = {"get": {
        "operationId": "list_object_definitions", "tags": ["meta"],
        "responses": _responses("200", {"type": "object", "properties": {
            "data": {"type": "array", "items": definition}}})}}
    paths["/api/v1/meta/objects/{object}"] = {
        "parameters": [obj_param],
        "get": {"operationId": "get_object_definition", "tags": ["meta"],
                "responses": _responses("200", definition, "404")},
        "put": {"operationId": "put_object_definition", "tags": ["meta"], "parameters": flags,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": definition}}},
                "responses": _responses("200", change, "404", "409", "413", "422")},
        "delete": {"operationId": "delete_object_definition", "tags": ["meta"], "parameters": flags,
                   "responses": _responses("200", change, "404", "409", "422")},
    }
    paths["/api/v1/openapi.json"] = {"get": {"operationId": "openapi", "tags": ["meta"],
                                             "responses": _responses("200", {"type": "object"})}}
    _approval_paths(paths, schemas, sorted(meta.objects), id_param)
    _action_paths(paths, sorted(meta.objects), sorted(r.name for r in ws.actions.all()),
                  id_param)
    _report_paths(paths, schemas, sorted(meta.reports), flags, change)
    from ..packs.web import openapi_paths as pack_paths

    pack_paths(paths, ws, _responses)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Rapport API", "version": __version__,
                 "description": "Generated from the workspace's metadata (revision "
                                f"{meta.revision})."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "rapport_session"}}},
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _null(t: str, **more: Any) -> dict[str, Any]:
    return {"type": [t, "null"], **more}


def _approval_schemas() -> dict[str, Any]:
    when = {"type": "string", "format": "date-time"}
    summary = {
        "id": {"type": "integer"}, "flow": {"type": "string"}, "flow_label": {"type": "string"},
        "object": {"type": "string"}, "object_label": {"type": "string"},
        "record_id": {"type": "integer"},
        "record_title": {"description": "the record's title field value (null once deleted)"},
        "status": {"enum": ["pending", "approved", "rejected", "recalled", "cancelled"]},
        "step": _null("integer", description="index of the current (or last) step"),
        "step_name": _null("string"), "step_label": _null("string"),
        "submitted_by": _null("integer"), "submitted_by_name": _null("string"),
        "submitted_at": when, "comment": _null("string"),
        "decided_by": _null("integer"), "decided_by_name": _null("string"),
        "decided_at": _null("string", format="date-time"),
        "revision": {"type": "integer", "description": "metadata revision of the flow run"},
        "task_id": {"type": "integer", "description": "inbox only: the caller's open task"},
        "on_behalf_of": _null("integer", description="inbox only: the approver who "
                                                     "delegated the task to the caller")}
    task = {"type": "object", "properties": {
        "id": {"type": "integer"}, "approver_id": {"type": "integer"},
        "approver_name": _null("string"), "delegated_from": _null("integer"),
        "delegated_from_name": _null("string"), "added_by": _null("integer"),
        "status": {"enum": ["pending", "approved", "rejected", "cancelled", "skipped"]},
        "comment": _null("string"), "decided_at": _null("string", format="date-time")}}
    step = {"type": "object", "properties": {
        "index": {"type": "integer"}, "name": {"type": "string"}, "label": {"type": "string"},
        "mode": {"enum": ["any", "all", "quorum"]}, "quorum": _null("integer"),
        "approvers": {"type": "string"},
        "status": {"enum": ["pending", "approved", "rejected", "skipped", "waiting",
                            "cancelled"]},
        "tasks": {"type": "array", "items": task}}}
    event = {"type": "object", "properties": {
        "id": {"type": "integer"}, "at": when, "user_id": _null("integer"),
        "user_name": _null("string"), "action": {"type": "string"}, "step": _null("integer"),
        "step_name": _null("string"), "comment": _null("string"), "detail": {"type": "object"}}}
    required = ["id", "flow", "object", "record_id", "status"]
    return {
        "ApprovalSummary": {"type": "object", "required": required, "properties": summary},
        "ApprovalRequest": {"type": "object", "required": [*required, "steps", "events"],
                            "properties": {
                                **summary, "steps": {"type": "array", "items": step},
                                "events": {"type": "array", "items": event},
                                "can_recall": {"type": "boolean"},
                                "can_decide": {"type": "boolean"}}},
        "Delegation": {"type": "object", "properties": {
            "user_id": {"type": "integer"}, "delegate_id": {"type": "integer"},
            "delegate_name": _null("string"), "until": _null("string", format="date-time"),
            "created_at": when, "active": {"type": "boolean"}}},
        "Notification": {"type": "object", "required": ["id", "kind", "message"], "properties": {
            "id": {"type": "integer"},
            "kind": {"enum": ["approval_assigned", "approval_decided", "approval_recalled",
                              "stage_changed"]},
            "object": _null("string"), "record_id": _null("integer"),
            "request_id": _null("integer"), "message": {"type": "string"},
            "data": {"type": "object"}, "created_at": when,
            "read_at": _null("string", format="date-time")}},
    }


def _action_paths(paths: dict[str, Any], objects: list[str], actions: list[str],
                  id_param: dict[str, Any]) -> None:
    """The record actions plugins register (``register_actions``)."""
    obj = {"name": "object", "in": "path", "required": True,
           "schema": {"type": "string", "enum": objects}}
    result = {"type": "object", "required": ["message", "count", "ids"], "properties": {
        "message": {"type": "string"}, "count": {"type": "integer"},
        "ids": {"type": "array", "items": {"type": "integer"}}}}
    paths["/api/v1/records/{object}/actions"] = {"parameters": [obj], "get": {
        "operationId": "list_actions", "tags": ["actions"],
        "responses": _responses("200", {"type": "object", "properties": {"data": {
            "type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "label": {"type": "string"},
                "plugin": {"type": "string"}, "record": {"type": "boolean"},
                "bulk": {"type": "boolean"}}}}}}, "404")}}
    if not actions:
        return
    action = {"name": "action", "in": "path", "required": True,
              "schema": {"type": "string", "enum": actions}}
    paths["/api/v1/records/{object}/actions/{action}"] = {"parameters": [obj, action], "post": {
        "operationId": "run_bulk_action", "tags": ["actions"],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["ids"], "properties": {"ids": {
                "type": "array", "items": {"type": "integer", "minimum": 1},
                "maxItems": 500}}}}}},
        "responses": _responses("200", result, "404", "409", "412", "422")}}
    paths["/api/v1/records/{object}/{id}/actions/{action}"] = {
        "parameters": [obj, id_param, action], "post": {
            "operationId": "run_record_action", "tags": ["actions"],
            "responses": _responses("200", result, "404", "409", "412", "422")}}


def _approval_paths(paths: dict[str, Any], schemas: dict[str, Any], objects: list[str],
                    id_param: dict[str, Any]) -> None:
    """Approval requests, delegation and notifications."""
    schemas.update(_approval_schemas())
    request, tag = _ref("ApprovalRequest"), ["approvals"]

    def body(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "properties": properties,
                                  "additionalProperties": False}
        if required:
            schema["required"] = list(required)
        return {"required": bool(required),
                "content": {"application/json": {"schema": schema}}}

    def listing(item: str) -> dict[str, Any]:
        return {"type": "object", "required": ["data"],
                "properties": {"data": {"type": "array", "items": _ref(item)}}}

    comment = {"comment": _null("string", maxLength=4000)}
    user = {"type": ["integer", "string"], "description": "a user's id or email"}
    decision = body(comment)
    paths["/api/v1/records/{object}/{id}/approvals"] = {
        "parameters": [{"name": "object", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": objects}}, id_param],
        "get": {"operationId": "record_approvals", "tags": tag,
                "responses": _responses("200", listing("ApprovalRequest"), "404")},
        "post": {"operationId": "submit_for_approval", "tags": tag,
                 "requestBody": body({"flow": _null("string"), **comment}),
                 "responses": _responses("201", request, "404", "409", "413", "422")},
    }
    paths["/api/v1/approvals"] = {"get": {
        "operationId": "list_approvals", "tags": tag,
        "parameters": [{"name": "mine", "in": "query", "schema": {"enum": ["0", "1"]},
                        "description": "1: the requests waiting for the caller's decision"}],
        "responses": _responses("200", listing("ApprovalSummary"), "422")}}
    paths["/api/v1/approvals/{id}"] = {"parameters": [id_param], "get": {
        "operationId": "get_approval", "tags": tag,
        "responses": _responses("200", request, "404")}}
    for action in ("approve", "reject", "recall"):
        paths[f"/api/v1/approvals/{{id}}/{action}"] = {"parameters": [id_param], "post": {
            "operationId": f"{action}_approval", "tags": tag, "requestBody": decision,
            "responses": _responses("200", request, "404", "409", "413", "422")}}
    paths["/api/v1/approvals/{id}/reassign"] = {"parameters": [id_param], "post": {
        "operationId": "reassign_approval", "tags": tag,
        "requestBody": body({"to": user, "task": {"type": "integer"}, **comment}, ("to",)),
        "responses": _responses("200", request, "404", "409", "413", "422")}}
    paths["/api/v1/approvals/{id}/add-signer"] = {"parameters": [id_param], "post": {
        "operationId": "add_approval_signer", "tags": tag,
        "requestBody": body({"user": user, **comment}, ("user",)),
        "responses": _responses("200", request, "404", "409", "413", "422")}}
    delegation = {"type": "object", "properties": {"delegation": {
        "oneOf": [_ref("Delegation"), {"type": "null"}]}}}
    paths["/api/v1/me/delegation"] = {
        "get": {"operationId": "get_delegation", "tags": tag,
                "responses": _responses("200", delegation)},
        "put": {"operationId": "put_delegation", "tags": tag,
                "requestBody": body({"to": user, "until": _null("string", format="date-time")},
                                    ("to",)),
                "responses": _responses("200", delegation, "413", "422")},
        "delete": {"operationId": "delete_delegation", "tags": tag,
                   "responses": _responses("204", None)},
    }
    paths["/api/v1/notifications"] = {"get": {
        "operationId": "list_notifications", "tags": ["notifications"],
        "parameters": [{"name": "unread", "in": "query", "schema": {"enum": ["0", "1"]}}],
        "responses": _responses("200", {**listing("Notification"), "properties": {
            **listing("Notification")["properties"], "unread": {"type": "integer"}}}, "422")}}
    paths["/api/v1/notifications/read"] = {"post": {
        "operationId": "mark_notifications_read", "tags": ["notifications"],
        "requestBody": body({"ids": {"type": "array", "items": {"type": "integer"}}}),
        "responses": _responses("200", {"type": "object", "properties": {
            "marked": {"type": "integer"}, "unread": {"type": "integer"}}}, "413", "422")}}



def _report_paths(paths: dict[str, Any], schemas: dict[str, Any], reports: list[str],
                  flags: list[dict[str, Any]], change: dict[str, Any]) -> None:
    """Running reports (JSON, CSV, XLSX), the preview and drill-down, and reports and
    dashboards as metadata."""
    tag = ["reports"]
    values = {"type": "object", "additionalProperties": True}
    schemas["ReportResult"] = {
        "type": "object", "required": ["report", "layout", "columns", "rows", "totals"],
        "properties": {
            "report": {"type": "string"}, "label": {"type": "string"},
            "layout": {"enum": ["tabular", "summary", "matrix"]}, "object": {"type": "string"},
            "columns": {"type": "array", "items": {"type": "object", "properties": {
                "key": {"type": "string"}, "label": {"type": "string"},
                "role": {"enum": ["group", "aggregate", "field"]}, "type": {"type": "string"},
                "path": _null("string"), "bucket": _null("string"), "fn": _null("string")}}},
            "rows": {"type": "array", "items": values},
            "totals": values,
            "subtotals": {"type": "array", "items": values},
            "column_totals": {"type": "array", "items": values},
            "labels": {"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": {"type": "string"}}},
            "truncated": {"type": "boolean"}, "count": _null("integer"),
            "chart": values},
        "description": "A report's result: rows of group values and aggregates (summary, "
                       "matrix) or of columns (tabular, with an id), totals and display labels."}
    name = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
    report_param = {"name": "report", "in": "path", "required": True,
                    "schema": {**name, "examples": reports[:3]}}
    run_params = [
        {"name": "period", "in": "query", "schema": {"type": "string"},
         "description": "A relative period (this_month, last_30_days...) applied to "
                        "period_field when the report's object has it"},
        {"name": "period_field", "in": "query", "schema": name,
         "description": "The date field the period filters (default close_date)"}]
    result = _ref("ReportResult")
    paths["/api/v1/reports"] = {"get": {
        "operationId": "list_reports", "tags": tag,
        "responses": _responses("200", {"type": "object", "properties": {
            "data": {"type": "array", "items": values}}})}}
    paths["/api/v1/reports/preview"] = {"post": {
        "operationId": "preview_report", "tags": tag,
        "requestBody": {"required": True, "content": {"application/json": {"schema": values}}},
        "responses": _responses("200", result, "413", "422")}}
    binary = {"type": "string", "format": "binary"}
    ok = _responses("200", result, "404", "422")
    ok["200"]["content"].update({
        "text/csv": {"schema": binary},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": binary}})
    paths["/api/v1/reports/{report}"] = {"parameters": [report_param], "get": {
        "operationId": "run_report", "tags": tag,
        "parameters": [{"name": "format", "in": "query",
                        "schema": {"enum": ["json", "csv", "xlsx"]}}, *run_params],
        "responses": ok}}
    paths["/api/v1/reports/{report}/records"] = {"parameters": [report_param], "get": {
        "operationId": "report_records", "tags": tag,
        "parameters": [{"name": "keys", "in": "query", "required": True,
                        "schema": {"type": "string"},
                        "description": 'The group values as a JSON list: ["proposal","2026-03"]'},
                       *run_params],
        "responses": _responses("200", result, "404", "422")}}
    definition = {"type": "object", "additionalProperties": True}
    for folder, kind in (("reports", "report"), ("dashboards", "dashboard")):
        paths[f"/api/v1/meta/{folder}/{{name}}"] = {
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": name}],
            "get": {"operationId": f"get_{kind}_definition", "tags": ["meta"],
                    "responses": _responses("200", definition, "404")},
            "put": {"operationId": f"put_{kind}_definition", "tags": ["meta"],
                    "parameters": flags,
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": definition}}},
                    "responses": _responses("200", change, "404", "409", "413", "422")},
            "delete": {"operationId": f"delete_{kind}_definition", "tags": ["meta"],
                       "parameters": flags,
                       "responses": _responses("200", change, "404", "409", "422")},
        }
