"""Credit limits: no opportunity above the limit, a "Credit review" action, a daily count
of the deals waiting for review, and a small JSON page. Drop this file into a workspace's
plugins/ folder (or run rapport --plugins-dir examples/plugins ...)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import rapport
from rapport.plugins import Action
from rapport.records.query import Cond, Query

log = logging.getLogger("credit_limit")
LIMIT = Decimal("100000")
REVIEW = "Credit review"


@rapport.hookimpl
def register_formula_functions() -> dict[str, Any]:
    # usable in formulas and validation rules: amount > credit_limit()
    return {"credit_limit": lambda: float(LIMIT)}


@rapport.hookimpl
def record_before_save(object_name: str, record: dict[str, Any]) -> None:
    # every write path passes here: API, screens, imports, other plugins
    if object_name == "opportunity" and (record.get("amount") or 0) > LIMIT:
        raise rapport.ValidationError(f"above the credit limit of {LIMIT:,}", field="amount")


def send_to_review(workspace: Any, object_name: str, records: list[dict[str, Any]],
                   user: Any, connection: Any) -> dict[str, str]:
    for r in records:  # through the record service, in the action's transaction
        workspace.records.update(object_name, r["id"], {"next_step": REVIEW}, user,
                                 conn=connection)
    return {"en": f"{len(records)} sent to credit review",
            "zh-CN": f"已提交 {len(records)} 条信用审核"}


@rapport.hookimpl
def register_actions(workspace: Any) -> list[Action]:
    return [Action("credit_review", {"en": "Credit review", "zh-CN": "信用审核"},
                   send_to_review, objects=("opportunity",),
                   available=lambda r: r.get("next_step") != REVIEW)]


def waiting(workspace: Any) -> int:
    return workspace.records.count("opportunity",
                                   Query(filter=Cond("next_step", "eq", REVIEW)))


def morning_count(workspace: Any) -> None:
    log.info("%d opportunities wait for a credit review", waiting(workspace))


@rapport.hookimpl
def scheduled_jobs(workspace: Any) -> list[Any]:
    return [("0 6 * * mon-fri", morning_count)]  # 06:00 UTC on weekdays, once per tick


@rapport.hookimpl
def register_routes(workspace: Any, screens: Any) -> list[Route]:
    async def status(request: Request) -> JSONResponse:
        await screens.actor(request)  # logged in (the session cookie), or 401
        count = await run_in_threadpool(waiting, workspace)  # the database, off the loop
        return JSONResponse({"limit": float(LIMIT), "waiting": count})

    return [Route("/x/credit/status", status)]
