"""The approvals part of the REST API: submit, decide, recall, reassign, add a signer,
delegate, and read one's notifications. Mounted under /api/v1 beside the records API,
whose authentication and worker threads it shares."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import FieldProblem, ValidationError
from .api import Api, _json, read_json

TRUE = frozenset({"1", "true"})
FALSE = frozenset({"0", "false", ""})


async def _body(request: Request, allowed: Collection[str]) -> dict[str, Any]:
    """The JSON object sent (an empty body: {}), with only the keys ``allowed``."""
    data = await read_json(request)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object")
    unknown = sorted(k for k in data if k not in allowed)
    if unknown:
        raise ValidationError([FieldProblem(k[:60], "unknown_field", (
            f"unknown key '{k[:60]}' (expected: {', '.join(sorted(allowed))})"))
            for k in unknown])
    return data


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, str) or "\x00" in value):
        raise ValidationError(f"{key} must be text (without NUL characters)", field=key,
                              code="invalid")
    return value


def _user_ref(data: dict[str, Any], key: str) -> int | str:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise ValidationError(f"{key} must be a user's id or email", field=key,
                              code="required" if value is None else "invalid")
    return value


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "").lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValidationError(f"{name} must be 1 or 0", field=name, code="invalid_query")


def _until(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("until must be a date-time text or null", field="until")
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError("until must be a date-time like 2026-12-31T00:00:00Z",
                              field="until") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class ApprovalsApi:
    def __init__(self, api: Api):
        self.api = api
        self.ws = api.ws

    # -- a record's requests --------------------------------------------------------------

    async def submit(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        data = await _body(request, {"flow", "comment"})
        flow, comment = _text(data, "flow"), _text(data, "comment")
        name, rid = request.path_params["object"], request.path_params["id"]
        result = await self.api.run(self.ws.approvals.submit, name, rid, actor, flow, comment,
                                    write=True)
        return _json(result, 201, {"Location": f"/api/v1/approvals/{result['id']}"})

    async def for_record(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        name, rid = request.path_params["object"], request.path_params["id"]

        def read() -> list[dict[str, Any]]:
            record = self.ws.records.get(name, rid, actor)
            return self.ws.approvals.for_record(name, record["id"])
        return _json({"data": await self.api.run(read)})

    # -- requests ---------------------------------------------------------------------------

    async def list(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        approvals = self.ws.approvals
        fn = approvals.inbox if _flag(request, "mine") else approvals.involving
        return _json({"data": await self.api.run(fn, actor)})

    async def get(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        return _json(await self.api.run(self.ws.approvals.get, request.path_params["id"], actor))

    def _decision(self, action: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
        """The endpoint of approve, reject or recall: {"comment"} -> the request."""
        async def endpoint(request: Request) -> Response:
            actor = await self.api.actor(request)
            data = await _body(request, {"comment"})
            return _json(await self.api.run(action, request.path_params["id"], actor,
                                            _text(data, "comment"), write=True))
        return endpoint

    async def reassign(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        data = await _body(request, {"to", "comment", "task"})
        task = data.get("task")
        if task is not None and (isinstance(task, bool) or not isinstance(task, int)):
            raise ValidationError("task must be a task id", field="task")
        return _json(await self.api.run(self.ws.approvals.reassign, request.path_params["id"],
                                        actor, _user_ref(data, "to"), _text(data, "comment"),
                                        task, write=True))

    async def add_signer(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        data = await _body(request, {"user", "comment"})
        return _json(await self.api.run(self.ws.approvals.add_signer, request.path_params["id"],
                                        actor, _user_ref(data, "user"), _text(data, "comment"),
                                        write=True))

    # -- delegation ---------------------------------------------------------------------------

    async def get_delegation(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        return _json({"delegation": await self.api.run(self.ws.approvals.delegation, actor)})

    async def put_delegation(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        data = await _body(request, {"to", "until"})
        to, until = _user_ref(data, "to"), _until(data.get("until"))
        result = await self.api.run(self.ws.approvals.set_delegation, actor, to, until,
                                    write=True)
        return _json({"delegation": result})

    async def delete_delegation(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        await self.api.run(self.ws.approvals.clear_delegation, actor, write=True)
        return Response(status_code=204)

    # -- notifications --------------------------------------------------------------------------

    async def notifications(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        unread = _flag(request, "unread")
        notes = self.ws.notifications

        def read() -> dict[str, Any]:
            return {"data": notes.list(actor, unread_only=unread),
                    "unread": notes.unread_count(actor)}
        return _json(await self.api.run(read))

    async def mark_read(self, request: Request) -> Response:
        actor = await self.api.actor(request)
        data = await _body(request, {"ids"})
        ids = data.get("ids")
        if ids is not None and (not isinstance(ids, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids)):
            raise ValidationError("ids must be a list of notification ids", field="ids")
        notes = self.ws.notifications

        def mark() -> dict[str, Any]:
            return {"marked": notes.mark_read(actor, ids), "unread": notes.unread_count(actor)}
        return _json(await self.api.run(mark, write=True))

    def routes(self) -> list[Route]:
        approvals = self.ws.approvals
        return [
            Route("/records/{object}/{id:int}/approvals", self.submit, methods=["POST"]),
            Route("/records/{object}/{id:int}/approvals", self.for_record, methods=["GET"]),
            Route("/approvals", self.list, methods=["GET"]),
            Route("/approvals/{id:int}", self.get, methods=["GET"]),
            *(Route(f"/approvals/{{id:int}}/{name}", self._decision(action), methods=["POST"])
              for name, action in (("approve", approvals.approve), ("reject", approvals.reject),
                                   ("recall", approvals.recall))),
            Route("/approvals/{id:int}/reassign", self.reassign, methods=["POST"]),
            Route("/approvals/{id:int}/add-signer", self.add_signer, methods=["POST"]),
            Route("/me/delegation", self.get_delegation, methods=["GET"]),
            Route("/me/delegation", self.put_delegation, methods=["PUT"]),
            Route("/me/delegation", self.delete_delegation, methods=["DELETE"]),
            Route("/notifications", self.notifications, methods=["GET"]),
            Route("/notifications/read", self.mark_read, methods=["POST"]),
        ]
