"""The REST API under /api/v1: records, history and metadata, as JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import FieldProblem, NotFound, PermissionDenied, RapportError, ValidationError
from ..records.actor import Actor
from ..records.query import MAX_LIMIT, And, Cond, Query, parse_sort
from ..records.service import to_json
from ..workspace import Workspace

MAX_BODY = 20 * 1024 * 1024
FILTER_KEY = re.compile(r"^filter\[([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?)\](?:\[([a-z_]+)\])?$")


class BadRequest(RapportError):
    status = 400
    code = "bad_request"


class TooLarge(RapportError):
    status = 413
    code = "too_large"


def record_json(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: to_json(v) for k, v in record.items()}


_BIG = Decimal(10) ** 15


def _decimal(value: Decimal) -> float | str:
    # to_json's rule (a float unless that loses digits), cheapest test first
    return float(value) if -_BIG < value < _BIG or value == value.to_integral_value() \
        else str(value)


_BY_TYPE: dict[type, Callable[[Any], Any]] = {
    Decimal: _decimal, datetime: datetime.isoformat, date: date.isoformat}


def _default(value: Any) -> Any:
    """Record values JSON has no type for, as ``to_json`` writes them."""
    convert = _BY_TYPE.get(type(value))
    if convert is not None:
        return convert(value)
    if isinstance(value, Decimal | datetime | date):
        return to_json(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Records are encoded as they are: the C encoder writes str, int, float, bool and None
# itself and calls _default only for decimals and dates (a copy of every record through
# record_json cost a quarter of a list request). Same output as Starlette's JSONResponse.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                            default=_default)


def dump_json(data: Any) -> bytes:
    return _ENCODER.encode(data).encode("utf-8")


class JsonResponse(Response):
    """JSON with record values (decimals, dates) encoded by ``dump_json``; bytes are taken
    as already encoded (built in the worker thread, off the event loop)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else dump_json(content)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse(data, status_code=status, headers=headers)


def parse_query(params: Any) -> Query:
    """``filter[f]=v``, ``filter[f][op]=v``, ``q``, ``sort``, ``limit``, ``cursor``."""
    conds = []
    for key, value in params.multi_items():
        if not key.startswith("filter"):
            continue
        m = FILTER_KEY.match(key)
        if m is None:
            raise ValidationError([FieldProblem(key[:80], "invalid_query",
                                                "filters look like filter[field]=value or "
                                                "filter[field][op]=value")])
        op = m.group(2) or "eq"
        if op in {"is_blank", "is_not_blank"}:
            if value.lower() in {"0", "false"}:
                op = "is_not_blank" if op == "is_blank" else "is_blank"
            value = None
        conds.append(Cond(m.group(1), op, value))
    limit_text = params.get("limit", "50")
    try:
        limit = int(limit_text)
    except ValueError:
        limit = -1
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError([FieldProblem("limit", "invalid_query",
                                            f"limit must be a whole number from 1 to {MAX_LIMIT}")])
    return Query(filter=And(tuple(conds)) if conds else None, search=params.get("q") or None,
                 sort=parse_sort(params.get("sort")), limit=limit,
                 cursor=params.get("cursor") or None)


async def read_json(request: Request) -> Any:
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_BODY:
        raise TooLarge(f"the request body is larger than {MAX_BODY // 1024 // 1024} MB")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise TooLarge(f"the request body is larger than {MAX_BODY // 1024 // 1024} MB")
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


async def read_object(request: Request) -> dict[str, Any]:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object")
    return data


def _pool_slots(ws: Workspace, default: int = 8) -> int:
    """How many connections the read engine's pool keeps open (QueuePool: 5)."""
    size = getattr(ws.read_engine.pool, "size", None)
    try:
        return max(1, int(size())) if callable(size) else default
    except (TypeError, ValueError):
        return default


class Api:
    def __init__(self, ws: Workspace, authenticate: Callable[..., Any]):
        self.ws = ws
        self.authenticate = authenticate
        # Record calls run in worker threads, at most as many reads (and as many writes) at
        # once as the engine's pool keeps connections: beyond that each extra call opened and
        # closed a connection of its own (~1.5 ms of CPU on SQLite), and the threads only
        # queued for the GIL anyway. Writes have their own slots: a write waiting for the
        # database's lock never holds up a read.
        self._slots = _pool_slots(ws)
        self._limiters: dict[bool, RunVar[CapacityLimiter]] = {
            write: RunVar(f"rapport_api_{'write' if write else 'read'}_slots_{id(self)}")
            for write in (False, True)}

    async def actor(self, request: Request) -> Actor:
        return await self.authenticate(request, api=True)

    async def run(self, fn: Callable[..., Any], *args: Any, write: bool = False) -> Any:
        """Call the record service in a worker thread, on the current metadata revision
        (a change applied by another worker process is picked up here)."""
        def call() -> Any:
            self.ws.refresh()
            return fn(*args)
        slots = self._limiters[write]
        try:
            limiter = slots.get()
        except LookupError:  # one limiter per event loop (a test client runs several)
            limiter = CapacityLimiter(self._slots)
            slots.set(limiter)
        return await to_thread.run_sync(call, limiter=limiter)

    def _object(self, request: Request) -> str:
        """The object named in the URL (checked again on the refreshed metadata)."""
        return request.path_params["object"]

    # -- records --------------------------------------------------------------------

    async def list_records(self, request: Request) -> Response:
        actor = await self.actor(request)
        name = self._object(request)
        query = parse_query(request.query_params)

        def page_json() -> bytes:
            page = self.ws.records.query(name, query, actor)
            return dump_json({"data": page.data, "next_cursor": page.next_cursor})
        return _json(await self.run(page_json))

    async def count_records(self, request: Request) -> Response:
        actor = await self.actor(request)
        name = self._object(request)
        query = parse_query(request.query_params)
        n = await self.run(self.ws.records.count, name, query, actor)
        return _json({"count": n})

    async def create_record(self, request: Request) -> Response:
        actor = await self.actor(request)
        name = self._object(request)
        values = await read_object(request)
        record = await self.run(self.ws.records.create, name, values, actor, write=True)
        record = self._visible(actor, name, record)
        return _json(record, 201, {
            "Location": f"/api/v1/records/{name}/{record['id']}", "ETag": f'"{record["version"]}"'})

    async def get_record(self, request: Request) -> Response:
        actor = await self.actor(request)
        name = self._object(request)
        record = await self.run(self.ws.records.get, name, request.path_params["id"], actor)
        return _json(record, headers={"ETag": f'"{record["version"]}"'})

    async def update_record(self, request: Request) -> Response:
        actor = await self.actor(request)
        name = self._object(request)
        changes = await read_object(request)
        expected = _if_match(request)
        record = await self.run(self.ws.records.update, name, request.path_params["id"],
                                changes, actor, expected, write=True)
        record = self._visible(actor, name, record)
        return _json(record, headers={"ETag": f'"{record["version"]}"'})

    async def delete_record(self, request: Request) -> Response:
        actor = await self.actor(request)
        name = self._object(request)
        await self.run(self.ws.records.delete, name, request.path_params["id"], actor, write=True)
        return Response(status_code=204)

    async def history(self, request: Request) -> Response:
        actor = await self.actor(request)
        name = self._object(request)
        rows = await self.run(self.ws.records.history, name, request.path_params["id"], 200,
                              actor)
        return _json({"data": rows})

    def _visible(self, actor: Actor, name: str, record: dict[str, Any]) -> dict[str, Any]:
        return self.ws.access.visible(actor, self.ws.meta.objects[name], record)

    async def reveal(self, request: Request) -> Response:
        """A sensitive value in clear, the reveal written to the audit log."""
        actor = await self.actor(request)
        name = self._object(request)
        field = request.path_params["field"]

        def shown() -> dict[str, Any]:
            from ..auth import audit

            obj = self.ws.records.runtime(name).obj
            if not self.ws.access.may_reveal(actor, obj, field):
                raise NotFound(f"{name} has no sensitive field '{field[:60]}' you may see")
            record = self.ws.records.get(name, request.path_params["id"], actor, reveal=[field])
            audit.record(self.ws, "reveal", actor, address=_address(request), object_name=name,
                         record_id=record["id"], detail={"field": field})
            return {"id": record["id"], "field": field, "value": to_json(record.get(field))}
        return _json(await self.run(shown), headers={"cache-control": "no-store"})

    async def list_shares(self, request: Request) -> Response:
        actor = await self.actor(request)
        name = self._object(request)
        rows = await self.run(self.ws.access.shares_of, name, request.path_params["id"],
                              actor)
        return _json({"data": rows})

    async def add_share(self, request: Request) -> Response:
        actor = await self.actor(request)
        name = self._object(request)
        body = await read_object(request)
        row = await self.run(self.ws.access.share, name, request.path_params["id"], body,
                             actor, write=True)
        return _json(row, 201)

    async def remove_share(self, request: Request) -> Response:
        actor = await self.actor(request)
        name = self._object(request)
        await self.run(self.ws.access.unshare, name, request.path_params["id"],
                       request.path_params["share_id"], actor, write=True)
        return Response(status_code=204)

    # -- stages -------------------------------------------------------------------------

    async def transition(self, request: Request) -> Response:
        """Move a record to another stage of its workflow (judged like any other write)."""
        actor = await self.actor(request)
        name = self._object(request)
        body = await read_object(request)
        to, field = body.get("to"), body.get("field")
        if not isinstance(to, str) or not to:
            raise ValidationError("give the stage to move to as a string", field="to",
                                  code="required")
        if field is not None and not isinstance(field, str):
            raise ValidationError("field must be the name of the stage field", field="field")
        version = body.get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise ValidationError("version must be the record's version number", field="version")
        expected = _if_match(request) or version
        record = await self.run(self.ws.workflows.transition, name, request.path_params["id"],
                                to, actor, expected, field, write=True)
        return _json(record, headers={"ETag": f'"{record["version"]}"'})

    async def stages(self, request: Request) -> Response:
        """The record's stage path: stages, the moves allowed now and why not, the time
        spent in each stage."""
        actor = await self.actor(request)
        name = self._object(request)
        field = request.query_params.get("field")

        def path() -> dict[str, Any]:
            record = self.ws.records.get(name, request.path_params["id"], actor)
            return self.ws.workflows.path(name, record, actor, field)
        return _json(await self.run(path))

    # -- metadata ---------------------------------------------------------------------

    async def list_objects(self, request: Request) -> Response:
        await self.actor(request)
        await self.run(lambda: None)
        docs = self.ws.state.documents
        return _json({"data": [dict(d) for (k, _n), d in sorted(docs.items()) if k == "object"]})

    async def get_object(self, request: Request) -> Response:
        await self.actor(request)
        name = self._object(request)
        await self.run(lambda: None)
        doc = self.ws.state.documents.get(("object", name))
        if doc is None:
            raise NotFound(f"no object named '{name[:60]}'")
        return _json(dict(doc))

    def _admin(self, actor: Actor) -> None:
        if not actor.is_admin:
            raise PermissionDenied("only admins change the metadata")

    async def put_object(self, request: Request) -> Response:
        actor = await self.actor(request)
        self._admin(actor)
        name = request.path_params["object"]
        data = await read_object(request)
        data.setdefault("name", name)
        if data["name"] != name:
            raise ValidationError("the body's name differs from the URL's", field="name")
        data.pop("kind", None)
        docs = self.ws.documents_from({**data, "kind": "object"}, f"object/{name}")
        return await self._change(request, actor, docs, [])

    async def delete_object(self, request: Request) -> Response:
        actor = await self.actor(request)
        self._admin(actor)
        name = self._object(request)
        await self.run(lambda: None)
        if name not in self.ws.meta.objects:
            raise NotFound(f"no object named '{name[:60]}'")
        return await self._change(request, actor, [], [("object", name)])

    async def _change(self, request: Request, actor: Actor, docs: list[Any],
                      remove: list[tuple[str, str]]) -> Response:
        params = request.query_params
        allow = params.get("allow_data_loss") in {"1", "true"}
        if params.get("plan") in {"1", "true"}:
            plan = await run_in_threadpool(self.ws.plan, docs, remove)
            return _json({"applied": False, "revision": plan.old.revision,
                          "plan": plan.as_dict()})
        # If-Match: the metadata revision the change was reviewed on (412 when it moved on)
        expected = _if_match(request, "the metadata revision")
        plan = await run_in_threadpool(lambda: self.ws.apply(
            docs, allow_data_loss=allow, author=actor.email, remove=remove,
            expected_revision=expected))
        return _json({"applied": True, "revision": self.ws.meta.revision, "plan": plan.as_dict()})

    async def openapi(self, request: Request) -> Response:
        await self.actor(request)
        from .openapi import openapi_spec

        return _json(await self.run(openapi_spec, self.ws))

    def routes(self) -> list[Route]:
        return [
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/meta/objects", self.list_objects, methods=["GET"]),
            Route("/meta/objects/{object}", self.get_object, methods=["GET"]),
            Route("/meta/objects/{object}", self.put_object, methods=["PUT"]),
            Route("/meta/objects/{object}", self.delete_object, methods=["DELETE"]),
            Route("/records/{object}", self.list_records, methods=["GET"]),
            Route("/records/{object}", self.create_record, methods=["POST"]),
            Route("/records/{object}/count", self.count_records, methods=["GET"]),
            Route("/records/{object}/{id:int}", self.get_record, methods=["GET"]),
            Route("/records/{object}/{id:int}", self.update_record, methods=["PATCH"]),
            Route("/records/{object}/{id:int}", self.delete_record, methods=["DELETE"]),
            Route("/records/{object}/{id:int}/history", self.history, methods=["GET"]),
            Route("/records/{object}/{id:int}/reveal/{field}", self.reveal, methods=["GET"]),
            Route("/records/{object}/{id:int}/shares", self.list_shares, methods=["GET"]),
            Route("/records/{object}/{id:int}/shares", self.add_share, methods=["POST"]),
            Route("/records/{object}/{id:int}/shares/{share_id:int}", self.remove_share,
                  methods=["DELETE"]),
            Route("/records/{object}/{id:int}/transition", self.transition, methods=["POST"]),
            Route("/records/{object}/{id:int}/stages", self.stages, methods=["GET"]),
        ]


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _if_match(request: Request, what: str = "the record's version number") -> int | None:
    header = request.headers.get("if-match")
    if not header or header.strip() == "*":
        return None
    text = header.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 12:
        raise ValidationError([FieldProblem("If-Match", "invalid_header",
                                            f"If-Match must be {what}")])
    return int(text)
