"""Shared pieces of the report tests: a small, known set of accounts and opportunities."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from rapport.auth.users import create_user
from rapport.workspace import Workspace

ACCOUNTS = [("Acme", "manufacturing"), ("Globex", "finance"), ("Initech", None)]

#: (name, account index or None, amount, stage, close date, source)
DEALS: list[tuple[str, int | None, int | None, str, date | None, str | None]] = [
    ("A1", 0, 1000, "prospecting", date(2025, 1, 5), "web"),
    ("A2", 0, 2500, "prospecting", date(2025, 1, 28), "web"),
    ("A3", 0, 4000, "qualification", date(2025, 2, 14), "referral"),
    ("B1", 1, 8000, "proposal", date(2025, 2, 2), "event"),
    ("B2", 1, 500, "proposal", date(2025, 3, 30), None),
    ("B3", 1, 12000, "negotiation", date(2025, 5, 11), "partner"),
    ("C1", 2, 3000, "closed_won", date(2025, 6, 1), "web"),
    ("C2", 2, 7000, "closed_lost", date(2025, 6, 15), "referral"),
    ("D1", None, None, "prospecting", None, "other"),
    ("D2", None, 600, "closed_won", date(2025, 12, 31), "web"),
]


def seed(ws: Workspace) -> dict[str, Any]:
    """The accounts and opportunities above, created with their stages; returns ids."""
    users = [create_user(ws, f"rep{i}@example.com", "member", full_name=f"Rep {i}")["id"]
             for i in range(2)]
    accounts = [ws.records.create("account", {"name": n, "industry": ind, "owner": users[0]})["id"]
                for n, ind in ACCOUNTS]
    ids = {}
    for i, (name, acc, amount, stage, close, source) in enumerate(DEALS):
        ids[name] = ws.records.create("opportunity", {
            "name": name, "account": accounts[acc] if acc is not None else None,
            "amount": amount, "stage": stage, "close_date": close.isoformat() if close else None,
            "source": source, "owner": users[i % 2]})["id"]
    return {"users": users, "accounts": accounts, "deals": ids}


def expected_by(key: Any) -> dict[Any, tuple[int, Decimal | None]]:
    """(count, sum of amount) per key(deal), computed from DEALS in Python."""
    out: dict[Any, list[Any]] = defaultdict(lambda: [0, None])
    for deal in DEALS:
        k = key(deal)
        out[k][0] += 1
        if deal[2] is not None:
            out[k][1] = (out[k][1] or Decimal(0)) + Decimal(deal[2])
    return {k: (c, s.quantize(Decimal("0.01")) if s is not None else None)
            for k, (c, s) in out.items()}


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())
