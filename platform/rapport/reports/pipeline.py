"""Pipeline analytics over a stage workflow and its stage history, each one SQL statement.

- ``funnel``: how many records reached each stage (the furthest open or won stage a record
  ever entered counts for that stage and every stage before it), how many are in it now,
  and the conversion from the stage before and from the first stage.
- ``time_in_stage``: per stage, the visits and the average days a visit lasts (a visit
  still running counts until now).
- ``win_rate``: won, lost and open records and won / (won + lost), optionally per grouping.
- ``forecast``: open pipeline, the weighted forecast (amount × the stage's probability) and
  won amount per period of a date field (by close month unless grouped otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, Table, and_, case, func, literal, select

from ..meta.model import FieldDef
from ..storage.types import UTCDateTime
from .engine import Column, Joins, ReportCompiler, ReportResult, _locale_table, report_problem

if TYPE_CHECKING:
    from ..workflows import StageWorkflow

MEASURES = ("funnel", "time_in_stage", "win_rate", "forecast")

_WORDS = {
    "en": {"stage": "Stage", "reached": "Reached", "in_stage": "In stage now",
           "conversion": "Conversion from previous", "from_first": "Conversion from first",
           "visits": "Visits", "avg_days": "Average days in stage", "won": "Won", "lost": "Lost",
           "open": "Open", "win_rate": "Win rate", "won_amount": "Won amount",
           "pipeline_amount": "Open pipeline", "weighted_amount": "Weighted forecast",
           "count_open": "Open records"},
    "zh-CN": {"stage": "阶段", "reached": "到达数", "in_stage": "当前在此阶段",
              "conversion": "较上一阶段转化率", "from_first": "较首阶段转化率", "visits": "进入次数",
              "avg_days": "平均停留天数", "won": "赢单", "lost": "输单", "open": "进行中",
              "win_rate": "赢率", "won_amount": "赢单金额", "pipeline_amount": "在途金额",
              "weighted_amount": "加权预测", "count_open": "进行中记录数"},
}


def _ratio(part: Any, whole: Any) -> Decimal | None:
    """A percentage with one decimal, None when there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(int(part or 0)) * 100 / Decimal(int(whole))).quantize(Decimal("0.1"))


class Pipeline:
    def __init__(self, reports: ReportCompiler, workflow: StageWorkflow, spec: Mapping[str, Any],
                 now: datetime, history: Table):
        self.rc = reports
        self.history = history
        self.wf = workflow
        self.spec = spec
        self.now = now
        self.words = _locale_table(_WORDS, reports.locale)

    def column(self, key: str, value_type: str, role: str = "aggregate", fn: str = "sum",
               f: FieldDef | None = None) -> Column:
        return Column(key, self.words[key], role, value_type, f, fn=fn)

    def stage_column(self) -> Column:
        return Column(self.wf.field.name, self.rc.path_label(self.wf.obj, self.wf.field.name),
                      "group", "picklist", self.wf.field, self.wf.field.name)

    def run(self, conn: Any, joins: Joins, where: Any, result: ReportResult,
            data: Mapping[str, Any], limit: int | None) -> None:
        measure = self.spec.get("measure")
        if measure not in MEASURES:
            raise report_problem("/pipeline/measure", f"unknown measure '{str(measure)[:30]}' "
                                 f"(one of {', '.join(MEASURES)})")
        result.layout = "summary"
        if measure in {"funnel", "time_in_stage"}:
            if data.get("group_by"):
                raise report_problem("/group_by", f"a {measure} report is grouped by stage only")
            getattr(self, measure)(conn, joins, where, result)
        else:
            getattr(self, measure)(conn, joins, where, result, data, limit)

    # -- over the stage history -----------------------------------------------------------------

    def _visits(self, joins: Joins, where: Any) -> tuple[Any, Any]:
        """(the history table, the condition selecting the visits of the report's records)."""
        h = self.history
        ids = select(joins.base.c.id).select_from(joins.source).where(where)
        return h, and_(h.c.object == self.wf.obj.name, h.c.field == self.wf.field.name,
                       h.c.record_id.in_(ids))

    def funnel(self, conn: Any, joins: Joins, where: Any, result: ReportResult) -> None:
        steps = [s for s in self.wf.stages if s.category != "lost"]
        h, visits = self._visits(joins, where)
        position = case({s.name: i for i, s in enumerate(steps)}, value=h.c.stage, else_=-1)
        furthest = select(h.c.record_id.label("rid"), func.max(position).label("reached")) \
            .where(visits).group_by(h.c.record_id).subquery()
        base = joins.base
        stage_col = base.c[self.wf.field.name]
        cols = []
        for i, s in enumerate(steps):
            cols.append(func.sum(case((furthest.c.reached >= i, 1), else_=0)).label(f"r{i}"))
            cols.append(func.sum(case((stage_col == s.name, 1), else_=0)).label(f"c{i}"))
        found = conn.execute(select(*cols).select_from(
            furthest.join(base, base.c.id == furthest.c.rid))).first()
        row = found._mapping if found is not None else {}
        stage = self.stage_column()
        result.columns = [stage, self.column("reached", "integer"),
                          self.column("in_stage", "integer"),
                          self.column("conversion", "percent", fn="ratio"),
                          self.column("from_first", "percent", fn="ratio")]
        first = None
        previous = None
        for i, s in enumerate(steps):
            reached = int(row.get(f"r{i}") or 0)
            first = reached if first is None else first
            result.rows.append({stage.key: s.name, "reached": reached,
                                "in_stage": int(row.get(f"c{i}") or 0),
                                "conversion": _ratio(reached, previous) if i else None,
                                "from_first": _ratio(reached, first) if i else None})
            previous = reached
        result.labels[stage.key] = {s.name: self.wf.stage_label(s.name, self.rc.locale)
                                    for s in steps}
        result.totals = {"reached": first or 0,
                         "in_stage": sum(r["in_stage"] for r in result.rows)}

    def time_in_stage(self, conn: Any, joins: Joins, where: Any, result: ReportResult) -> None:
        h, visits = self._visits(joins, where)
        end = func.coalesce(h.c.left_at, literal(self.now, UTCDateTime))
        if self.rc.dialect == "postgresql":
            seconds = func.extract("epoch", end - h.c.entered_at)
        else:
            seconds = (func.julianday(end) - func.julianday(h.c.entered_at)) * 86400
        stmt = select(h.c.stage, func.count().label("visits"),
                      func.avg(seconds).label("avg_seconds"),
                      func.sum(seconds).label("sum_seconds")).where(visits).group_by(h.c.stage)
        found = {r.stage: r for r in conn.execute(stmt)}
        stage = self.stage_column()
        result.columns = [stage, self.column("visits", "integer"),
                          self.column("avg_days", "decimal", fn="avg")]
        total_visits, total_seconds = 0, 0.0
        for s in self.wf.stages:
            r = found.get(s.name)
            visits_n = int(r.visits) if r else 0
            result.rows.append({stage.key: s.name, "visits": visits_n,
                                "avg_days": _days(r.avg_seconds) if r else None})
            if r:
                total_visits += visits_n
                total_seconds += float(r.sum_seconds or 0)
        result.labels[stage.key] = {s.name: self.wf.stage_label(s.name, self.rc.locale)
                                    for s in self.wf.stages}
        result.totals = {"visits": total_visits,
                         "avg_days": _days(total_seconds / total_visits) if total_visits else None}

    # -- over the records' current stage ------------------------------------------------------------

    def _amount(self, joins: Joins) -> tuple[FieldDef, Any]:
        name = self.spec.get("amount") or ("amount" if self.wf.obj.has_field("amount") else None)
        if not name:
            raise report_problem("/pipeline/amount", f"name the amount field of {self.wf.obj.name}")
        f, col, _o = joins.resolve(name, "/pipeline/amount")
        if f.value_type not in {"integer", "decimal", "currency"}:
            raise report_problem("/pipeline/amount", f"'{name}' is not a number field")
        return f, col

    def _categories(self, joins: Joins) -> tuple[Any, list[str], list[str]]:
        col = joins.base.c[self.wf.field.name]
        won = [s.name for s in self.wf.stages if s.category == "won"]
        lost = [s.name for s in self.wf.stages if s.category == "lost"]
        return col, won, lost

    def win_rate(self, conn: Any, joins: Joins, where: Any, result: ReportResult,
                 data: Mapping[str, Any], limit: int | None) -> None:
        stage, won, lost = self._categories(joins)
        is_won, is_lost = stage.in_(won), stage.in_(lost)
        aggregates = [
            (self.column("won", "integer"), func.sum(case((is_won, 1), else_=0)), None),
            (self.column("lost", "integer"), func.sum(case((is_lost, 1), else_=0)), None),
            (self.column("open", "integer"),
             func.sum(case((is_won | is_lost, 0), else_=1)), None)]
        if self.spec.get("amount") or self.wf.obj.has_field("amount"):
            f, amount = self._amount(joins)
            aggregates.append((self.column("won_amount", f.value_type, f=f),
                               func.sum(case((is_won, amount), else_=None)), None))
        self._grouped(conn, joins, where, result, {**data, "sort": None, "limit": None}, None,
                      aggregates, default_group=None)
        rate = self.column("win_rate", "percent", fn="ratio")
        result.columns.insert(len(result.groups) + 3, rate)
        for item in [*result.rows, *result.subtotals.values(), result.totals]:
            item["win_rate"] = _ratio(item.get("won"), (item.get("won") or 0) + (item.get("lost") or 0))
        if result.groups:
            self.rc.sort_rows(result, data.get("sort"), limit or data.get("limit"))

    def forecast(self, conn: Any, joins: Joins, where: Any, result: ReportResult,
                 data: Mapping[str, Any], limit: int | None) -> None:
        stage, won, _lost = self._categories(joins)
        f, amount = self._amount(joins)
        open_stages = [s for s in self.wf.stages if s.category == "open"]
        is_open = stage.in_([s.name for s in open_stages])
        probability = case({s.name: literal(float(s.probability or 0), Float)
                            for s in open_stages}, value=stage, else_=None)
        aggregates = [
            (self.column("pipeline_amount", f.value_type, f=f),
             func.sum(case((is_open, amount), else_=None)), None),
            (self.column("weighted_amount", f.value_type, f=f),
             func.sum(amount * probability / 100), None),
            (self.column("won_amount", f.value_type, f=f),
             func.sum(case((stage.in_(won), amount), else_=None)), None),
            (self.column("count_open", "integer"), func.sum(case((is_open, 1), else_=0)), None)]
        date_field = self.spec.get("date") or ("close_date" if self.wf.obj.has_field("close_date")
                                               else None)
        default = {"field": date_field, "bucket": "month"} if date_field else None
        self._grouped(conn, joins, where, result, data, limit, aggregates, default_group=default)

    def _grouped(self, conn: Any, joins: Joins, where: Any, result: ReportResult,
                 data: Mapping[str, Any], limit: int | None,
                 aggregates: list[tuple[Column, Any, Any]],
                 default_group: Mapping[str, Any] | None) -> None:
        specs: Sequence[Mapping[str, Any]] = data.get("group_by") or \
            ([default_group] if default_group else [])
        if specs:
            groups = self.rc.groupings(joins, specs)
            self.rc.run_grouped(conn, joins, result, groups, aggregates, where, data.get("sort"),
                                limit or data.get("limit"))
            return
        # no grouping: one row over every record
        row = conn.execute(select(*(e.label(c.key) for c, e, _a in aggregates))
                           .select_from(joins.source).where(where)).first()
        result.columns = [c for c, _e, _a in aggregates]
        result.totals = {c.key: _number(c, row._mapping[c.key] if row else None)
                         for c, _e, _a in aggregates}
        result.rows = [dict(result.totals)]


def _days(seconds: Any) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(str(float(seconds))) / 86400).quantize(Decimal("0.1"))


def _number(c: Column, value: Any) -> Any:
    if value is None:
        return 0 if c.value_type == "integer" else None
    if c.value_type == "integer":
        return int(value)
    return Decimal(str(value)).quantize(Decimal("0.01"))
