"""CSV import (through the record service, all or nothing) and CSV/XLSX export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import select

from ..errors import FieldProblem, RapportError, ValidationError
from ..meta.model import SYSTEM_FIELDS, ObjectDef
from ..plugins import warnings
from .actor import SYSTEM, Actor
from .service import to_json

if TYPE_CHECKING:
    from ..workspace import Workspace

MAX_CELL = 1_000_000
#: Columns of an export that an import reads and ignores (the database sets them).
READ_ONLY_COLUMNS = frozenset(SYSTEM_FIELDS) - {"owner"}
csv.field_size_limit(MAX_CELL)


class ImportError_(RapportError):
    code = "import_error"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rows: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)   # (line, message)
    warnings: list[str] = field(default_factory=list)  # from plugins (a possible duplicate)

    @property
    def ok(self) -> bool:
        return not self.errors


def _header_map(obj: ObjectDef, header: list[str]) -> tuple[dict[int, str], list[str], list[str]]:
    """CSV column index -> field name (by name or label in any locale); unknown columns;
    columns naming a field another column already names."""
    names: dict[str, str] = {}
    for f in obj.fields:
        names[f.name.lower()] = f.name
        if isinstance(f.label, str):
            names.setdefault(f.label.lower(), f.name)
        elif f.label:
            for text in f.label.values():
                names.setdefault(text.lower(), f.name)
    for name in SYSTEM_FIELDS:  # an export's bookkeeping columns import back (and are ignored)
        names.setdefault(name, name)
    mapping: dict[int, str] = {}
    unknown, repeated = [], []
    for i, col in enumerate(header):
        key = col.strip().lower()
        if key in names:
            if names[key] in mapping.values():
                repeated.append(col)
            mapping[i] = names[key]
        elif key:
            unknown.append(col)
    return mapping, unknown, repeated


def read_csv(path: Path | str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    header, rows, _quoted = _read_csv(path)
    return header, rows


def _read_csv(path: Path | str) -> tuple[list[str], Iterator[tuple[int, list[str]]], bool]:
    """:func:`read_csv`, and whether any cell may need :func:`unescape_cell` (the file
    has an apostrophe somewhere)."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ImportError_(f"{path}: line {line}: not UTF-8 text (byte {exc.start}); save the "
                           "file as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportError_(f"{path}: the file is empty") from None
    except csv.Error as exc:
        raise ImportError_(f"{path}: line 1: {exc}") from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        """(the line a row starts on, its cells); a malformed row's cells are one marker."""
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, [f"\x00{exc}"]
                continue
            if row:
                yield start, row
    return header, rows(), "'" in text


def import_csv(ws: Workspace, object_name: str, path: Path | str, actor: Actor = SYSTEM,
               upsert_key: str | None = None, skip_invalid: bool = False,
               progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import a CSV file. Bad rows are reported by line; nothing is imported when any row
    is bad, unless ``skip_invalid``."""
    obj = ws.records.runtime(object_name).obj
    ws.access.require(actor, obj, "import")  # a user's import: their role allows it
    header, rows, quoted = _read_csv(path)
    mapping, unknown, repeated = _header_map(obj, header)
    report = ImportReport()
    if unknown:
        report.errors.append((1, f"unknown column(s): {', '.join(unknown)}"))
    if repeated:
        report.errors.append((1, f"column(s) given twice: {', '.join(repeated)}"))
    present = set(mapping.values())
    missing = [f.name for f in obj.fields if f.required and not f.is_computed
               and f.name not in present and f.default is None and not f.default_formula]
    if missing:
        report.errors.append((1, f"missing required column(s): {', '.join(missing)}"))
    if upsert_key and (not obj.has_field(upsert_key) or upsert_key not in present):
        report.errors.append((1, f"upsert key '{upsert_key}' is not a column of the file"))
    if report.errors:
        return report
    lines: list[int] = []
    records: list[dict[str, Any]] = []

    columns = [i for i, name in mapping.items() if name not in READ_ONLY_COLUMNS]
    names = [mapping[i] for i in columns]
    pick: Callable[[list[str]], Iterable[str]] = \
        itemgetter(*columns) if len(columns) > 1 else lambda row: [row[i] for i in columns]
    width = len(header)

    def parsed() -> Iterator[dict[str, Any]]:
        for line, row in rows:
            report.rows += 1
            if len(row) != width or row[0][:1] == "\x00":
                if row[0].startswith("\x00"):
                    report.errors.append((line, f"malformed CSV: {row[0][1:]}"))
                    continue
                if len(row) != width:
                    report.errors.append((line, f"has {len(row)} cells, the header has {width}"))
                    continue
            lines.append(line)
            cells = pick(row)
            yield dict(zip(names, map(unescape_cell, cells) if quoted else cells, strict=True))

    if upsert_key:
        records = list(parsed())
        _upsert(ws, obj, records, lines, upsert_key, actor, report, skip_invalid, progress)
        return report
    with ws.transaction() as conn:
        result = ws.records.create_many(object_name, parsed(), actor, conn=conn,
                                        skip_invalid=True, progress=progress)
        for index, problems in result.errors:
            report.errors.append((lines[index], _describe(problems)))
        report.errors.sort()
        if report.errors and not skip_invalid:
            conn.info["rapport_rollback"] = True
            return report
        report.created = result.created
        report.warnings = warnings(conn)
    return report


def _describe(problems: list[FieldProblem]) -> str:
    return "; ".join(f"{p.field}: {p.message}" if p.field and p.field not in p.message
                     else p.message for p in problems)


def _upsert(ws: Workspace, obj: ObjectDef, records: list[dict[str, Any]], lines: list[int],
            key: str, actor: Actor, report: ImportReport, skip_invalid: bool,
            progress: Callable[[int], None] | None) -> None:
    t = ws.table(obj.name)
    f = obj.field(key)
    with ws.transaction() as conn:
        creates: list[tuple[int, dict[str, Any]]] = []
        for i, record in enumerate(records):
            try:
                value = ws.types.of(f).coerce(f, record.get(key))
            except Exception as exc:  # a CoercionError: reported on the row
                report.errors.append((lines[i], f"{key}: {exc}"))
                continue
            existing = conn.scalar(select(t.c.id).where(t.c[key] == value)) \
                if value is not None else None
            if existing is not None and not ws.access.can_edit(obj, actor, existing, conn):
                report.errors.append((lines[i], f"{key} '{value}': no record you may change"))
                continue
            if existing is None:
                creates.append((i, record))
                continue
            try:
                ws.records.update(obj.name, existing, record, actor, conn=conn,
                                  allow_read_only=True)
                report.updated += 1
            except ValidationError as exc:
                report.errors.append((lines[i], _describe(exc.problems)))
            if progress:
                progress(1)
        result = ws.records.create_many(obj.name, [r for _i, r in creates], actor, conn=conn,
                                        skip_invalid=True, progress=progress)
        for index, problems in result.errors:
            report.errors.append((lines[creates[index][0]], _describe(problems)))
        report.errors.sort()
        report.created = result.created
        report.warnings = warnings(conn)
        if report.errors and not skip_invalid:
            conn.info["rapport_rollback"] = True
            report.created = report.updated = 0
            report.warnings = []


# -- export ----------------------------------------------------------------------------------

DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")


def _needs_quote(text: str) -> bool:
    return text.lstrip("'").startswith(DANGEROUS_START)


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula (CSV injection): text starting with
    = + - @ tab or CR gets a leading apostrophe (so does such text already quoted, which
    keeps the mapping reversible: :func:`unescape_cell` undoes it on import)."""
    if isinstance(value, str) and _needs_quote(value):
        return "'" + value
    return value


def unescape_cell(text: str) -> str:
    """The value :func:`safe_cell` quoted: an export imports back unchanged."""
    if text.startswith("'") and _needs_quote(text[1:]):
        return text[1:]
    return text


def export_rows(ws: Workspace, object_name: str,
                fields: list[str] | None = None) -> tuple[list[str], Iterator[list[Any]]]:
    obj = ws.records.runtime(object_name).obj
    names = fields or ["id", *obj.field_names, *[s for s in SYSTEM_FIELDS if s != "id"]]
    header = list(names)  # machine names: an export imports back unchanged
    t = ws.table(object_name)
    as_json = {f.name for f in obj.fields if f.value_type == "json"}

    def rows() -> Iterator[list[Any]]:
        last = 0
        with ws.read_engine.connect() as conn:
            while batch := conn.execute(select(t).where(t.c.id > last).order_by(t.c.id)
                                        .limit(5000)).all():
                last = batch[-1].id
                for row in batch:
                    m = row._mapping
                    out = []
                    for n in names:
                        v = to_json(m[n])
                        if n in as_json and v is not None:
                            v = json.dumps(v, ensure_ascii=False)
                        elif isinstance(v, list):  # a multi-picklist, as the import reads it
                            v = ";".join(map(str, v))
                        out.append(safe_cell(v))
                    yield out
    return header, rows()


def write_csv(header: list[str], rows: Iterator[list[Any]], out: IO[str]) -> int:
    writer = csv.writer(out)
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
        n += 1
    return n


def write_xlsx(header: list[str], rows: Iterator[list[Any]], out: IO[bytes],
               title: str = "export") -> int:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws_ = wb.create_sheet(title[:31])
    ws_.append(header)
    n = 0
    for row in rows:
        ws_.append(row)
        n += 1
    wb.save(out)
    return n
