"""The hand-written baseline of the web benchmark: what a developer would write by hand for
one object, with Starlette and SQLAlchemy Core, without Rapport's machinery.

Run by ``test_web_benchmark.py`` as its own process, under uvicorn with one worker and the
same uvicorn settings ``rapport serve`` uses::

    python handwritten_app.py --database /path/to/rapport.db --port 8001

* ``GET  /api/opportunities?filter[stage]=X&filter[amount][gte]=a&filter[amount][lte]=b
  &sort=-amount&limit=50`` -> ``{"data": [...], "next_cursor": "..."|null}``, the same page
  (same rows, all columns) as ``GET /api/v1/records/opportunity`` with those parameters;
* ``POST /api/opportunities`` -> 201 and the record: the same checks the core metadata
  declares for these fields (required name, amount >= 0, stage option, close date from
  the proposal stage on), the ``expected_revenue`` formula, and the record's ``create``
  history row, in one transaction;
* both ask for ``Authorization: Bearer <token>`` (a Rapport API token, looked up once by
  its hash and then kept in a dict: Rapport keeps it 5 s).

The engines are configured like a workspace's (``rapport.storage.engine``: WAL,
synchronous=NORMAL, BEGIN IMMEDIATE for writes, a separate read engine), so the comparison
is about the web layer and the record service, not about SQLite settings.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import MetaData, Table, insert, select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from rapport.storage.engine import make_engine, make_read_engine

STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")
LATE = ("proposal", "negotiation")
MAX_LIMIT = 200


class Db:
    def __init__(self, path: str):
        url = f"sqlite:///{path}"
        self.write = make_engine(url)
        self.read = make_read_engine(url)
        md = MetaData()
        self.t = Table("opportunity", md, autoload_with=self.read)
        self.history = Table("rapport_history", md, autoload_with=self.read)
        self.tokens = Table("rapport_token", md, autoload_with=self.read)
        self.known: dict[str, int] = {}

    def user_of(self, token: str) -> int | None:
        if token in self.known:
            return self.known[token]
        digest = hashlib.sha256(token.encode()).hexdigest()
        tk = self.tokens
        with self.read.connect() as conn:
            user_id = conn.scalar(select(tk.c.user_id).where(tk.c.token_hash == digest,
                                                            tk.c.revoked_at.is_(None)))
        if user_id is not None:
            self.known[token] = user_id
        return user_id


DB: Db | None = None


def db() -> Db:
    global DB
    if DB is None:
        DB = Db(os.environ["BENCH_HANDWRITTEN_DB"])
    return DB


def plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def problem(status: int, detail: str) -> Response:
    return JSONResponse({"title": detail, "status": status}, status_code=status,
                        media_type="application/problem+json")


async def user_id(request: Request) -> int | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    token = header[7:].strip()
    d = db()
    if token in d.known:
        return d.known[token]
    return await run_in_threadpool(d.user_of, token)


async def list_opportunities(request: Request) -> Response:
    if await user_id(request) is None:
        return problem(401, "log in")
    p = request.query_params
    try:
        stage = p["filter[stage]"]
        low = float(p["filter[amount][gte]"])
        high = float(p["filter[amount][lte]"])
        limit = int(p.get("limit", "50"))
    except (KeyError, ValueError):
        return problem(422, "filter[stage], filter[amount][gte] and [lte] are needed")
    if p.get("sort", "-amount") != "-amount" or not 1 <= limit <= MAX_LIMIT:
        return problem(422, "sort=-amount only, limit 1..200")
    d = db()
    t = d.t
    stmt = (select(t).where(t.c.stage == stage, t.c.amount >= low, t.c.amount <= high)
            .order_by(t.c.amount.desc(), t.c.id.desc()).limit(limit + 1))

    def fetch() -> list[dict[str, Any]]:
        with d.read.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    rows = await run_in_threadpool(fetch)
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        raw = json.dumps([last["amount"], last["id"]], separators=(",", ":")).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return JSONResponse({"data": [{k: plain(v) for k, v in r.items()} for r in rows],
                         "next_cursor": cursor})


def _number(data: dict[str, Any], name: str, errors: list[str]) -> float | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors.append(f"{name} must be a number")
        return None
    try:
        return float(value)
    except ValueError:
        errors.append(f"{name} must be a number")
        return None


async def create_opportunity(request: Request) -> Response:
    uid = await user_id(request)
    if uid is None:
        return problem(401, "log in")
    try:
        data = await request.json()
    except ValueError:
        return problem(400, "the body is not valid JSON")
    if not isinstance(data, dict):
        return problem(422, "the body must be a JSON object")
    errors: list[str] = []
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.append("name is required (at most 200 characters)")
    amount = _number(data, "amount", errors)
    if amount is not None and amount < 0:
        errors.append("amount must be at least 0")
    probability = _number(data, "probability", errors)
    stage = data.get("stage") or "prospecting"
    if stage not in STAGES:
        errors.append("stage is not one of the options")
    close_date = None
    if data.get("close_date"):
        try:
            close_date = date.fromisoformat(str(data["close_date"]))
        except ValueError:
            errors.append("close_date must be a date")
    if stage in LATE and close_date is None:
        errors.append("Close date is required from the proposal stage on")
    if errors:
        return problem(422, "; ".join(errors))
    expected = round(amount * probability / 100, 2) if amount is not None and \
        probability is not None else None
    now = datetime.now(UTC).replace(tzinfo=None)
    row = {"created_at": now, "updated_at": now, "created_by": uid, "owner": uid, "version": 1,
           "name": name, "account": None, "amount": amount, "stage": stage,
           "probability": probability, "close_date": close_date, "expected_revenue": expected,
           "type": data.get("type"), "source": data.get("source"),
           "next_step": data.get("next_step"), "description": data.get("description")}
    d = db()

    def write() -> int:
        with d.write.begin() as conn:
            rid = conn.execute(insert(d.t).values(row).returning(d.t.c.id)).scalar_one()
            conn.execute(insert(d.history).values(object="opportunity", record_id=rid,
                                                  action="create", user_id=uid, at=now))
        return int(rid)

    rid = await run_in_threadpool(write)
    body = {"id": rid, **{k: plain(v) for k, v in row.items()}}
    return JSONResponse(body, status_code=201, headers={
        "Location": f"/api/opportunities/{rid}", "ETag": '"1"'})


async def ping(request: Request) -> Response:
    return PlainTextResponse("ok")


app = Starlette(routes=[
    Route("/ping", ping),
    Route("/api/opportunities", list_opportunities, methods=["GET"]),
    Route("/api/opportunities", create_opportunity, methods=["POST"]),
])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    os.environ["BENCH_HANDWRITTEN_DB"] = args.database
    db()
    # the settings `rapport serve` passes to uvicorn.run (one worker, access log on)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=True)


if __name__ == "__main__":
    main()
