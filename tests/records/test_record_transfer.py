"""CSV import (all or nothing, or --skip-invalid; --upsert-key) and CSV/XLSX export, through
the functions and the command line."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from rapport.cli import main
from rapport.errors import RapportError
from rapport.records.actor import Actor
from rapport.records.query import Cond, Query
from rapport.records.transfer import (
    ImportReport,
    export_rows,
    import_csv,
    safe_cell,
    unescape_cell,
    write_csv,
    write_xlsx,
)
from rapport.workspace import Workspace


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def count(ws: Workspace, obj: str, flt: Any = None) -> int:
    return ws.records.count(obj, Query(filter=flt))


def rows_of(ws: Workspace, obj: str) -> list[dict[str, Any]]:
    return ws.records.query(obj, Query(sort=[("id", False)], limit=1000)).data


def cli(ws: Workspace, *args: str) -> Any:
    return CliRunner().invoke(main, ["--workspace", str(ws.root), *args])


# -- import -------------------------------------------------------------------------------------


def test_a_good_csv_imports_every_row(clean: Workspace, tmp_path: Path) -> None:
    lines = ["Account name,Industry,employees,Website,邮箱,description"]
    lines += [f"Company {i},retail,{i * 10},company{i}.example,c{i}@example.com,"
              for i in range(25)]
    lines.append('"Quoted, Inc.",,"1,000",,,"two\nlines"')
    path = write(tmp_path / "accounts.csv", "\ufeff" + "\r\n".join(lines) + "\r\n")
    report = import_csv(clean, "account", path)
    assert report.errors == []
    assert (report.created, report.updated, report.rows) == (26, 0, 26)
    stored = rows_of(clean, "account")
    assert len(stored) == 26
    first = stored[0]
    assert (first["name"], first["industry"], first["employees"], first["website"],
            first["email"], first["description"]) == \
        ("Company 0", "retail", 0, "https://company0.example", "c0@example.com", None)
    last = stored[-1]
    assert (last["name"], last["industry"], last["employees"], last["description"]) == \
        ("Quoted, Inc.", None, 1000, "two\nlines")
    assert [h["action"] for h in clean.records.history("account", last["id"])] == ["create"]


def test_an_import_runs_as_the_actor(clean: Workspace, tmp_path: Path, bob: Actor) -> None:
    path = write(tmp_path / "a.csv", "name\nAcme\n")
    assert import_csv(clean, "account", path, actor=bob).created == 1  # a manager imports
    acme = rows_of(clean, "account")[0]
    assert (acme["created_by"], acme["owner"]) == (bob.id, bob.id)


def test_missing_required_unknown_and_repeated_columns(clean: Workspace, tmp_path: Path) -> None:
    report = import_csv(clean, "account", write(tmp_path / "a.csv", "industry\nretail\n"))
    assert report.errors == [(1, "missing required column(s): name")]
    report = import_csv(clean, "account", write(tmp_path / "b.csv", "name,colour\nAcme,red\n"))
    assert report.errors == [(1, "unknown column(s): colour")]
    report = import_csv(clean, "account",
                        write(tmp_path / "c.csv", "name,Account name\nAcme,Acme Corp\n"))
    assert report.errors == [(1, "column(s) given twice: Account name")]
    assert report.created == 0 and count(clean, "account") == 0


def test_a_file_that_is_not_utf8_is_refused_with_its_line(clean: Workspace,
                                                          tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.csv", "name,billing_city\nAcme,Paris\nCafé Crème,Zürich\n",
                 encoding="latin-1")
    with pytest.raises(RapportError) as info:
        import_csv(clean, "account", path)
    assert "line 3" in str(info.value) and "not UTF-8" in str(info.value)
    assert count(clean, "account") == 0
    result = cli(clean, "import", "account", str(path))
    assert result.exit_code == 1
    assert "not UTF-8" in result.output
    assert count(clean, "account") == 0


def test_a_malformed_row_is_reported_and_nothing_is_imported(clean: Workspace,
                                                             tmp_path: Path) -> None:
    text = 'name,description\nGood,"a\nb"\n"Bad"x,1\nAlso good,\nShort\nToo,many,cells\n'
    report = import_csv(clean, "account", write(tmp_path / "bad.csv", text))
    assert [line for line, _msg in report.errors] == [4, 6, 7]
    assert report.errors[0][1].startswith("malformed CSV")
    assert report.errors[1][1] == "has 1 cells, the header has 2"
    assert report.created == 0 and count(clean, "account") == 0
    report = import_csv(clean, "account", write(tmp_path / "open.csv", 'name\n"never closed\n'))
    assert [line for line, _msg in report.errors] == [2]
    assert count(clean, "account") == 0


def test_a_ten_megabyte_cell_is_refused(clean: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "huge.csv", "name,description\nFine,\nHuge," + "x" * 10_485_760
                 + "\nAlso fine,\n")
    report = import_csv(clean, "account", path)
    assert [line for line, _msg in report.errors] == [3]
    assert "larger than field limit" in report.errors[0][1]
    assert count(clean, "account") == 0


def test_bad_values_are_reported_by_line(clean: Workspace, tmp_path: Path) -> None:
    text = ("name,stage,close_date,amount\n"
            "Fine,prospecting,,10\n"
            "Late,proposal,,\n"                 # a validation rule, the stage's fields
            ",prospecting,,30\n"                # required
            "Odd,prospecting,2024-02-30,x\n")   # two bad values
    report = import_csv(clean, "opportunity", write(tmp_path / "o.csv", text))
    assert [line for line, _msg in report.errors] == [3, 4, 5]
    assert "Close date is required from the proposal stage on" in report.errors[0][1]
    assert "Amount is required to enter Proposal" in report.errors[0][1]
    assert "required" in report.errors[1][1]
    assert "2024-02-30" in report.errors[2][1] and "amount" in report.errors[2][1].lower()
    assert count(clean, "opportunity") == 0


def test_a_bad_value_on_row_50001_imports_nothing(ws: Workspace, tmp_path: Path) -> None:
    ws.apply(ws.documents_from({"name": "reading", "fields": [
        {"name": "label", "type": "text", "required": True},
        {"name": "value", "type": "integer"}]}))
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("label,value\n")
        fh.writelines(f"r{i},{i}\n" for i in range(50_000))
        fh.write("bad,not a number\n")
    report = import_csv(ws, "reading", path)
    assert report.created == 0
    assert [line for line, _msg in report.errors] == [50_002]
    assert "not a whole number" in report.errors[0][1]
    assert count(ws, "reading") == 0


def test_skip_invalid_imports_the_rest(clean: Workspace, tmp_path: Path) -> None:
    lines = ["name,employees"] + [f"A{i},{i}" for i in range(8)]
    lines[3] = "A2,many"
    lines[6] = ",5"
    path = write(tmp_path / "a.csv", "\n".join(lines) + "\n")
    report = import_csv(clean, "account", path, skip_invalid=True)
    assert report.created == 6
    assert [line for line, _msg in report.errors] == [4, 7]
    assert sorted(r["name"] for r in rows_of(clean, "account")) == \
        ["A0", "A1", "A3", "A4", "A6", "A7"]


def test_upsert_key_updates_existing_records(clean: Workspace, tmp_path: Path) -> None:
    old = clean.records.create("product", {"name": "Old widget", "code": "W-1", "unit_price": 1})
    clean.records.create("product", {"name": "Gadget", "code": "G-1", "unit_price": 2})
    text = "code,name,unit_price\nW-1,Widget,9.5\nN-1,New thing,3\nG-1,Gadget,2.5\n"
    report = import_csv(clean, "product", write(tmp_path / "p.csv", text), upsert_key="code")
    assert report.errors == []
    assert (report.created, report.updated) == (1, 2)
    widget = clean.records.get("product", old["id"])
    assert (widget["name"], widget["unit_price"], widget["version"]) == \
        ("Widget", Decimal("9.50"), 2)
    assert count(clean, "product") == 3
    history = clean.records.history("product", old["id"])
    assert {h["field"] for h in history if h["action"] == "update"} == {"name", "unit_price"}


def test_upsert_sets_read_only_fields(ws: Workspace, tmp_path: Path) -> None:
    ws.apply(ws.documents_from({"name": "ticket", "fields": [
        {"name": "ref", "type": "text", "unique": True},
        {"name": "origin", "type": "text", "read_only": True}]}))
    ws.records.create("ticket", {"ref": "T-1", "origin": "email"})
    report = import_csv(ws, "ticket", write(tmp_path / "t.csv", "ref,origin\nT-1,phone\n"),
                        upsert_key="ref")
    assert (report.errors, report.updated) == ([], 1)
    assert rows_of(ws, "ticket")[0]["origin"] == "phone"


def test_upsert_with_a_bad_row_changes_nothing(clean: Workspace, tmp_path: Path) -> None:
    clean.records.create("product", {"name": "Widget", "code": "W-1", "unit_price": 1})
    text = "code,name,unit_price\nW-1,Renamed,5\nN-1,New,-3\n"
    report = import_csv(clean, "product", write(tmp_path / "p.csv", text), upsert_key="code")
    assert [line for line, _msg in report.errors] == [3]
    assert (report.created, report.updated) == (0, 0)
    assert [r["name"] for r in rows_of(clean, "product")] == ["Widget"]
    report = import_csv(clean, "product", write(tmp_path / "q.csv", "name\nX\n"),
                        upsert_key="code")
    assert report.errors == [(1, "upsert key 'code' is not a column of the file")]


# -- export ----------------------------------------------------------------------------------------

EVERY_TYPE: list[dict[str, Any]] = [
    {"name": "Full", "code": "AB-1", "ref": "r1", "notes": "line 1\nline 2, \"quoted\"",
     "body": "<p>Hi</p>", "email": "a@example.com", "phone": "+1 555 0100",
     "site": "https://example.com/x?y=1", "qty": 7, "weight": "1.125", "price": "19.99",
     "share": "12.5", "active": False, "due": "2024-02-29",
     "seen_at": "2024-03-01T10:00:00.123456+02:00", "color": "blue", "tags": ["ab", "b"],
     "meta": {"list": [1, "two", None], "nested": {"ok": True}}, "opened": "2020-01-01",
     "slug": "full"},
    {"name": "=cmd|' /C calc'!A0", "notes": "-2+3", "body": "@SUM(A1)", "meta": [1, 2, 3],
     "tags": ["a"], "phone": "(555) 010", "qty": 3, "weight": "-1.5", "share": None,
     "slug": "'=already quoted", "ref": "'plain 1"},
    {"name": "Blank", "active": None, "color": None, "opened": None, "slug": None},
]
COMPARED = ["name", "code", "ref", "notes", "body", "email", "phone", "site", "qty", "weight",
            "price", "share", "active", "due", "seen_at", "color", "tags", "account", "meta",
            "opened", "slug", "owner", "label", "no_account"]


def _export_csv(ws: Workspace, obj: str) -> str:
    header, rows = export_rows(ws, obj)
    out = io.StringIO()
    write_csv(header, rows, out)
    return out.getvalue()


def test_export_csv_round_trips_through_import(clean: Workspace, tmp_path: Path,
                                               alice: Actor) -> None:
    acme = clean.records.create("account", {"name": "Acme"})["id"]
    made = [clean.records.create("gadget", {**values, "account": acme if i == 0 else None},
                                 alice if i == 1 else Actor(None))
            for i, values in enumerate(EVERY_TYPE)]
    before = [{k: clean.records.get("gadget", g["id"])[k] for k in COMPARED} for g in made]
    assert before[0]["seen_at"] == datetime(2024, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert before[0]["due"] == date(2024, 2, 29)
    path = tmp_path / "gadgets.csv"
    path.write_text(_export_csv(clean, "gadget"), encoding="utf-8")
    for g in made:
        clean.records.delete("gadget", g["id"])
    report = import_csv(clean, "gadget", path)
    assert report.errors == [] and report.created == 3
    after = [{k: r[k] for k in COMPARED} for r in rows_of(clean, "gadget")]
    assert after == before
    # and once more: the second export is the same file but for ids, serials and times
    again = list(csv.reader(io.StringIO(_export_csv(clean, "gadget"))))
    first = list(csv.reader(path.open(encoding="utf-8", newline="")))
    columns = [i for i, name in enumerate(first[0]) if name in COMPARED]
    assert [[row[i] for i in columns] for row in again] == \
        [[row[i] for i in columns] for row in first]


def test_formula_like_cells_are_neutralised(clean: Workspace, tmp_path: Path) -> None:
    for name in ("=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "plain"):
        clean.records.create("account", {"name": name, "employees": 5, "annual_revenue": "-0"})
    text = _export_csv(clean, "account")
    table = list(csv.reader(io.StringIO(text)))
    names = [row[table[0].index("name")] for row in table[1:]]
    assert names == ["'=HYPERLINK(\"http://x\")", "'+1+2", "'-2+3", "'@SUM(A1)", "'\tTAB",
                     "plain"]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in table for cell in row
               if cell not in {"-0.0", "0.0"})

    header, rows = export_rows(clean, "account")
    path = tmp_path / "accounts.xlsx"
    with path.open("wb") as fh:
        assert write_xlsx(header, rows, fh, "account") == 6
    sheet = load_workbook(path).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == header
    col = header.index("name")
    assert [v[col] for v in values[1:]] == names
    for row in sheet.iter_rows(min_row=2):
        assert all(cell.data_type != "f" for cell in row)
    assert values[1][header.index("employees")] == 5  # numbers stay numbers


def test_quoting_is_reversible() -> None:
    for text in ("=x", "'=x", "''=x", "'plain", "plain", "", "'", "-", "'-"):
        assert unescape_cell(safe_cell(text)) == text
    assert safe_cell(5) == 5 and safe_cell(None) is None


# -- the command line ------------------------------------------------------------------------------


def test_cli_import_and_export(clean: Workspace, tmp_path: Path) -> None:
    good = write(tmp_path / "good.csv", "name,employees\nAcme,10\nBeta,20\n")
    result = cli(clean, "import", "account", str(good))
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated" in result.output

    bad = write(tmp_path / "bad.csv", "name,employees\nGamma,1\nDelta,lots\nEpsilon,3\n")
    result = cli(clean, "import", "account", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:3:" in result.output and "nothing imported" in result.output
    assert count(clean, "account") == 2
    result = cli(clean, "import", "account", str(bad), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 1 skipped" in result.output
    assert count(clean, "account") == 4

    update = write(tmp_path / "update.csv", "name,employees\nAcme,11\nZeta,1\n")
    result = cli(clean, "import", "account", str(update), "--upsert-key", "name")
    assert result.exit_code == 0, result.output
    assert "1 created, 1 updated" in result.output
    assert count(clean, "account", Cond("employees", "eq", 11)) == 1

    out = tmp_path / "accounts.csv"
    result = cli(clean, "export", "account", "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    exported = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert sorted(r["name"] for r in exported) == ["Acme", "Beta", "Epsilon", "Gamma", "Zeta"]
    result = cli(clean, "export", "account")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("id,name,")
    assert len(result.stdout.strip().splitlines()) == 6

    xlsx = tmp_path / "accounts.xlsx"
    result = cli(clean, "export", "account", "--format", "xlsx", "-o", str(xlsx))
    assert result.exit_code == 0, result.output
    assert load_workbook(xlsx).active.max_row == 6

    missing = cli(clean, "import", "nothing_here", str(good))
    assert missing.exit_code == 1 and "nothing_here" in missing.output


def test_import_report_ok() -> None:
    assert ImportReport().ok and not ImportReport(errors=[(1, "x")]).ok
