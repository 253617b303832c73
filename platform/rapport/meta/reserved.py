"""Names a definition may not take: SQL keywords that break queries, and our own."""

from __future__ import annotations

import re

NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")

SQL_RESERVED = frozenset(["all", "alter", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "between", "binary", "both", "case", "cast", "check", "collate", "column", "concurrently", "constraint", "create", "cross", "current_catalog", "current_date", "current_role", "current_schema", "current_time", "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do", "drop", "else", "end", "except", "exists", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant", "group", "having", "ilike", "in", "index", "initially", "inner", "insert", "intersect", "into", "is", "isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime", "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or", "order", "outer", "overlaps", "placing", "primary", "references", "returning", "right", "select", "session_user", "similar", "some", "symmetric", "table", "tablesample", "then", "to", "trailing", "true", "union", "unique", "update", "using", "values", "variadic", "verbose", "when", "where", "window", "with", "rowid", "oid"])

#: Names of objects our runtime, API or screens use for themselves.
PLATFORM_OBJECT_NAMES = frozenset(["meta", "api", "records", "record", "approvals", "approval", "reports", "report", "packs", "pack", "static", "login", "logout", "designer", "settings", "admin", "kanban", "history", "version", "openapi", "none", "true", "false", "today", "now"])

#: Every record has these columns; a definition never declares them.
PLATFORM_FIELD_NAMES = frozenset(["id", "created_at", "updated_at", "created_by", "owner", "version", "none", "true", "false"])

#: Prefix of the platform's own tables.
SYSTEM_TABLE_PREFIX = "rapport_"


def reserved_reason(name: str, *, is_field: bool = False) -> str | None:
    """Why ``name`` cannot be used, or None when it can."""
    if not NAME.fullmatch(name):
        return f"'{name!r}' is not a valid name (lowercase letters, digits and _, starting with a letter)"
    if name in SQL_RESERVED:
        return f"'{name}' is an SQL reserved word"
    if name in (PLATFORM_FIELD_NAMES if is_field else PLATFORM_OBJECT_NAMES):
        return f"'{name}' is reserved by the platform"
    if name.startswith(SYSTEM_TABLE_PREFIX) or name.startswith("_"):
        return f"names starting with '{SYSTEM_TABLE_PREFIX}' are reserved by the platform"
    return None
