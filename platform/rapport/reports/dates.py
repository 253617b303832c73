"""Date buckets for report groupings: one SQL expression per dialect, the same keys on both.

A bucket key is text that sorts in time order: day ``2026-03-15``, week ``2026-03-09`` (the
Monday starting the ISO week), month ``2026-03``, quarter ``2026-Q1``, year ``2026``.
Datetimes are bucketed in UTC, as they are stored."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, Text, cast, func, literal

BUCKETS = ("day", "week", "month", "quarter", "year")

_KEY = {
    "day": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    "week": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "year": re.compile(r"^(\d{4})$"),
}

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def bucket_expression(col: Any, bucket: str, dialect: str) -> Any:
    """The bucket key of ``col`` (a date or datetime column) as a text expression."""
    if dialect == "postgresql":
        if bucket == "week":
            return func.to_char(func.date_trunc("week", col), "YYYY-MM-DD")
        pattern = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "quarter": 'YYYY-"Q"Q',
                   "year": "YYYY"}[bucket]
        return func.to_char(col, pattern)
    # SQLite keeps dates as ISO text: a prefix is the bucket, without parsing a date
    text = cast(col, Text)
    if bucket == "day":
        return func.substr(text, 1, 10)
    if bucket == "month":
        return func.substr(text, 1, 7)
    if bucket == "year":
        return func.substr(text, 1, 4)
    if bucket == "quarter":
        month = cast(func.substr(text, 6, 2), Integer)
        return func.substr(text, 1, 4) + literal("-Q") + cast((month + 2) // 3, Text)
    # the Monday on or before the day: forward to Sunday, back six days
    return func.date(func.substr(text, 1, 10), "weekday 0", "-6 days")


def bucket_range(bucket: str, key: str) -> tuple[date, date]:
    """[start, end) of the days in a bucket; ValueError for a key that is not one."""
    pattern = _KEY.get(bucket)
    m = pattern.match(key) if pattern and isinstance(key, str) else None
    if m is None:
        raise ValueError(f"'{str(key)[:40]}' is not a {bucket}")
    parts = [int(p) for p in m.groups()]
    if bucket in {"day", "week"}:
        start = date(*parts)
        return start, start + timedelta(days=1 if bucket == "day" else 7)
    if bucket == "month":
        start = date(parts[0], parts[1], 1)
        return start, _add_months(start, 1)
    if bucket == "quarter":
        start = date(parts[0], (parts[1] - 1) * 3 + 1, 1)
        return start, _add_months(start, 3)
    return date(parts[0], 1, 1), date(parts[0] + 1, 1, 1)


def bucket_label(bucket: str, key: Any, locale: str = "en") -> str:
    """A bucket key as people read it: "Mar 2026" / "2026年3月", "Q1 2026" / "2026年第1季度"."""
    if not isinstance(key, str):
        return str(key)
    try:
        start, _end = bucket_range(bucket, key)
    except ValueError:
        return key
    zh = locale.startswith("zh")
    if bucket == "day":
        return f"{start.year}年{start.month}月{start.day}日" if zh else start.isoformat()
    if bucket == "week":
        return f"{start.isoformat()} 起一周" if zh else f"Week of {start.isoformat()}"
    if bucket == "month":
        return f"{start.year}年{start.month}月" if zh else f"{_MONTHS_EN[start.month - 1]} {start.year}"
    if bucket == "quarter":
        q = (start.month - 1) // 3 + 1
        return f"{start.year}年第{q}季度" if zh else f"Q{q} {start.year}"
    return f"{start.year}年" if zh else str(start.year)


def _add_months(d: date, n: int) -> date:
    m = d.year * 12 + d.month - 1 + n
    return date(m // 12, m % 12 + 1, 1)
