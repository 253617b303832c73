"""A pack's sample data, loaded through the record service in the install's transaction.

A sample file is named after its object (``sample_data/mfg_rfq.json``) and holds an array
of records. Besides field values a record may carry:

* ``"_ref": "acme"`` a key other records use to point at it: a lookup (or ``owner``)
  value ``{"$ref": "acme"}`` becomes that record's id;
* dates relative to the day of the install: ``{"$today": -30}`` (a date or datetime);
* ``"_path": ["sample", "quotation"]`` stages the record then moves through, one
  transition each (stage rules apply, the stage history is written);
* ``"_days": [-60, -45, -30]`` the days (relative to today) it was created and entered
  each stage of its path, so the stage history and time-in-stage figures look lived-in;
* ``"_approval": {"flow": "quote_discount", "submitter": "u_sam",
  "decisions": [["u_maria", "approve", "fine"], ...]}`` an approval request submitted
  and decided by those users (``"pending"`` decisions are left open), after every
  record's stage path; ``{"$approval": {...}}`` in a ``_path`` runs one between two
  moves (a decision a transition waits for).

CSV files hold plain values, one record per row."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, update

from ..auth.users import actor_of
from ..errors import FieldProblem, MetadataError, MetaProblem, ValidationError
from ..records.actor import SYSTEM

if TYPE_CHECKING:
    from ..workspace import Workspace

BATCH = 500


def read_sample(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(fh)]
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise MetadataError([MetaProblem(str(path), "", "sample data must be an array of "
                                                       "records (JSON objects)")])
    return data


def count_samples(files: list[Path]) -> int:
    total = 0
    for f in files:
        for r in read_sample(f):
            total += 1 + len(r.get("_path", ())) + (1 if r.get("_approval") else 0)
    return total


class SampleLoader:
    def __init__(self, ws: Workspace, conn: Connection,
                 progress: Callable[[int], None] | None = None):
        self.ws = ws
        self.c = conn
        self.progress = progress or (lambda n: None)
        self.refs: dict[tuple[str, str], int] = {}
        self.today = datetime.now(UTC).date()
        self.counts: dict[str, int] = {}
        self.pending: list[tuple[str, int, dict[str, Any], str]] = []

    # -- values ---------------------------------------------------------------------

    def _value(self, obj: Any, name: str, value: Any, where: str) -> Any:
        if not isinstance(value, Mapping):
            return value
        if "$today" in value:
            day = self.today + timedelta(days=int(value["$today"]))
            f = obj.field(name) if obj.has_field(name) else None
            if (f is not None and f.type == "datetime") or name in {"created_at", "updated_at"}:
                return datetime.combine(day, time(10, 0), UTC).isoformat()
            return day.isoformat()
        if "$ref" in value:
            target = "user" if name in {"owner", "created_by"} else obj.field(name).target
            key = (target, str(value["$ref"]))
            if key not in self.refs:
                raise MetadataError([MetaProblem(where, f"/{name}", f"no sample {target} with "
                                                 f"_ref '{value['$ref']}' (yet)")])
            return self.refs[key]
        return value

    def _user(self, ref: str, where: str) -> Any:
        rid = self.refs.get(("user", ref))
        if rid is None:
            raise MetadataError([MetaProblem(where, "", f"no sample user with _ref '{ref}'")])
        return actor_of(self.ws.records.get("user", rid, conn=self.c))

    # -- loading --------------------------------------------------------------------

    def load(self, path: Path) -> None:
        """Create the file's records (their stage paths and approvals wait for
        :meth:`finish`, once every file's records exist)."""
        name = path.stem
        rows = read_sample(path)
        obj = self.ws.records.runtime(name).obj
        where = str(path)
        later: list[tuple[int, str, str]] = []  # (row, field, ref): records of this file

        def value(i: int, k: str, v: Any) -> Any:
            if isinstance(v, Mapping) and "$ref" in v and k not in {"owner", "created_by"} \
                    and obj.field(k).target == name and (name, str(v["$ref"])) not in self.refs:
                later.append((i, k, str(v["$ref"])))
                return None
            return self._value(obj, k, v, f"{where}#/{i}")

        plain = [{k: value(i, k, v) for k, v in r.items() if not k.startswith("_")}
                 for i, r in enumerate(rows)]
        ids = self._create(name, rows, plain, where)
        for r, rid in zip(rows, ids, strict=True):
            if "_ref" in r:
                self.refs[(name, str(r["_ref"]))] = rid
        for i, k, key in later:
            target = self._value(obj, k, {"$ref": key}, f"{where}#/{i}")
            self.ws.records.update(name, ids[i], {k: target}, SYSTEM, conn=self.c)
        for i, r in enumerate(rows):
            if any(k in r for k in ("_path", "_days", "_approval")):
                self.pending.append((name, ids[i], r, f"{where}#/{i}"))
        self.counts[name] = self.counts.get(name, 0) + len(ids)

    def finish(self) -> None:
        """Move the records along their stage paths, age them, run their approvals."""
        for name, rid, r, where in self.pending:
            for stage in r.get("_path", ()):
                if isinstance(stage, Mapping):  # an approval between two moves
                    self._approve(name, rid, stage["$approval"], where)
                    self.progress(1)
                    continue
                try:
                    self.ws.workflows.transition(name, rid, stage, SYSTEM, conn=self.c)
                except ValidationError as exc:
                    raise ValidationError([FieldProblem(p.field, p.code, f"{where} moving to "
                                                        f"{stage}: {p.message}")
                                           for p in exc.problems]) from None
                self.progress(1)
            if "_days" in r:
                self._age(name, rid, [int(d) for d in r["_days"]])
        for name, rid, r, where in self.pending:
            if r.get("_approval"):
                self._approve(name, rid, r["_approval"], where)
                self.progress(1)
        self.pending = []

    def _create(self, name: str, rows: list[dict[str, Any]], plain: list[dict[str, Any]],
                where: str) -> list[int]:
        ids: list[int | None] = [None] * len(rows)
        todo = list(range(len(rows)))
        if name == "user":  # users already there (by email) are reused
            t = self.ws.table("user")
            emails = {str(p.get("email", "")).lower(): i for i, p in enumerate(plain)}
            for row in self.c.execute(select(t.c.id, t.c.email)):
                if row.email.lower() in emails:
                    ids[emails[row.email.lower()]] = row.id
            todo = [i for i in todo if ids[i] is None]
        for start in range(0, len(todo), BATCH):
            chunk = todo[start:start + BATCH]
            result = self.ws.records.create_many(name, [plain[i] for i in chunk], SYSTEM,
                                                 conn=self.c)
            if result.errors:
                line, problems = result.errors[0]
                self.c.info.pop("rapport_rollback", None)
                raise ValidationError([FieldProblem(p.field, p.code,
                                       f"{where}#/{chunk[line]}: {p.message}")
                                       for p in problems])
            for i, rid in zip(chunk, result.ids, strict=True):
                ids[i] = rid
            self.progress(len(chunk))
        return [int(i) for i in ids if i is not None]

    def _age(self, name: str, rid: int, days: list[int]) -> None:
        """Backdate the record's creation and its stage visits to the days given."""
        def at(d: int) -> datetime:
            return datetime.combine(self.today + timedelta(days=d), time(10, 0), UTC)
        t = self.ws.table(name)
        self.c.execute(update(t).where(t.c.id == rid).values(created_at=at(days[0])))
        sh = self.ws.table("rapport_stage_history")
        visits = list(self.c.scalars(select(sh.c.id).where(sh.c.object == name,
                                                           sh.c.record_id == rid)
                                     .order_by(sh.c.id)))
        for n, vid in enumerate(visits):
            enter = days[min(n, len(days) - 1)]
            values: dict[str, Any] = {"entered_at": at(enter)}
            if n + 1 < len(visits):
                values["left_at"] = at(days[min(n + 1, len(days) - 1)])
            self.c.execute(update(sh).where(sh.c.id == vid).values(values))
        h = self.ws.table("rapport_history")
        self.c.execute(update(h).where(h.c.object == name, h.c.record_id == rid,
                                       h.c.action == "create").values(at=at(days[0])))

    def _approve(self, name: str, rid: int, spec: Mapping[str, Any], where: str) -> None:
        submitter = self._user(spec["submitter"], where) if spec.get("submitter") else SYSTEM
        req = self.ws.approvals.submit(name, rid, submitter, spec.get("flow"),
                                       spec.get("comment"), conn=self.c)
        for ref, verdict, *comment in spec.get("decisions", ()):
            if verdict == "pending":
                break
            actor = self._user(ref, where)
            decide = self.ws.approvals.approve if verdict == "approve" else \
                self.ws.approvals.reject
            req = decide(req["id"], actor, comment[0] if comment else None, conn=self.c)
