"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Float, Numeric, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.processors import to_float
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (stored naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        # the same as process_result_value after the driver's own conversion, in one call
        # per value instead of three (every list page reads two of these per row)
        convert = self.impl_instance.result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if convert is not None:
                value = convert(value)
            if value is not None and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value

        return process


class _SQLiteDecimal(TypeDecorator[Decimal]):
    """SQLite has no decimal type: store a REAL, read back a Decimal of the field's scale."""

    impl = Float
    cache_ok = True

    def __init__(self, scale: int = 2):
        super().__init__()
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def process_bind_param(self, value: Any, dialect: Dialect) -> float | None:
        return None if value is None else float(value)

    def bind_processor(self, dialect: Dialect) -> Any:
        # process_bind_param then Float's own processor (float() again, a no-op on a float)
        # would be three Python calls per value; SQLAlchemy's C ``to_float`` is the same
        # function in one (bulk writes bind many of these)
        return to_float

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(repr(value)).quantize(self._quantum)


def decimal_type(scale: int) -> Any:
    return Numeric(18, scale, asdecimal=True).with_variant(_SQLiteDecimal(scale), "sqlite")


class JSONText(TypeDecorator[Any]):
    """JSON kept as text (a multi-picklist's list of values, a json field)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False, default=str)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)
