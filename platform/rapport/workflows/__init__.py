"""Stage workflows: the stages a record moves through on one picklist, the moves allowed
between them, and the record of every move (stage history, time in stage).

The record service asks ``Workflows`` about every write that touches a stage field, so
the API, the screens, the kanban, imports and plugins obey the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, literal, select, update

from ..errors import FieldProblem, FormulaError, NotFound, ValidationError
from ..formulas import Formula, FunctionLibrary, compile_formula
from ..meta.model import Definition, Label, MetadataSet, ObjectDef, humanize, label_text
from ..records.actor import Actor

if TYPE_CHECKING:
    from ..records.runtime import ObjectRuntime
    from ..workspace import Workspace

BLANK = (None, "", [])

#: The rules' messages (labels come from the metadata in the same language).
MESSAGES = {
    "en": {
        "unknown_stage": "'{to}' is not a stage of {workflow}",
        "not_allowed": "{workflow}: cannot move from {frm} to {to} (no transition allows it)",
        "not_backward": "{workflow}: cannot move back from {frm} to {to}",
        "role": "only {roles} may move from {frm} to {to}",
        "condition": "moving from {frm} to {to} needs {when}",
        "condition_error": "the condition to move to {to} failed to run: {error}",
        "required": "{field} is required to enter {to}",
        "set_error": "setting {field} on entering {to} failed: {error}",
    },
    "zh-CN": {
        "unknown_stage": "“{to}”不是{workflow}的阶段",
        "not_allowed": "{workflow}：不能从“{frm}”转到“{to}”（没有允许的转换）",
        "not_backward": "{workflow}：不能从“{frm}”退回“{to}”",
        "role": "只有 {roles} 可以从“{frm}”转到“{to}”",
        "condition": "从“{frm}”转到“{to}”需要满足 {when}",
        "condition_error": "转到“{to}”的条件无法计算：{error}",
        "required": "进入“{to}”前必须填写{field}",
        "set_error": "进入“{to}”时设置{field}失败：{error}",
    },
}


def message(locale: str, key: str, **values: Any) -> str:
    catalogue = MESSAGES.get(locale) or MESSAGES.get(locale.split("-")[0]) or MESSAGES["en"]
    return catalogue[key].format(**values)


@dataclass(frozen=True)
class Stage:
    name: str
    position: int
    label: Label | None = None
    probability: float | None = None
    category: str = "open"
    guidance: Label | None = None
    required: tuple[str, ...] = ()
    color: str | None = None


@dataclass(frozen=True)
class Transition:
    source: str  # a stage name or "*"
    to: str
    label: Label | None = None
    when: Formula | None = None
    when_text: str | None = None
    roles: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    assign: tuple[tuple[str, Formula], ...] = ()
    message: Label | None = None       # what a false ``when`` says (else the formula)

    def matches(self, from_stage: str | None, to_stage: str) -> bool:
        return self.to == to_stage and self.source in ("*", from_stage)


@dataclass(frozen=True)
class Move:
    """The verdict on one stage change: allowed, or why not."""

    from_stage: str | None
    to_stage: str
    transition: Transition | None
    problems: tuple[FieldProblem, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.problems

    @property
    def reason(self) -> str:
        return "; ".join(p.message for p in self.problems)


class StageWorkflow:
    """One workflow definition, typed and compiled (built once per metadata revision)."""

    def __init__(self, d: Definition, obj: ObjectDef, library: FunctionLibrary):
        data = d.data
        self.name = d.name
        self.label: Label | None = data.get("label")
        self.obj = obj
        self.field = obj.field(data["field"])
        self.allow_backward = bool(data.get("allow_backward", True))
        options = {o.value: o for o in self.field.options}
        self.stages = tuple(
            Stage(s["name"], i, s.get("label") or (options[s["name"]].label
                                                   if s["name"] in options else None),
                  s.get("probability"), s.get("category", "open"), s.get("guidance"),
                  tuple(s.get("required", ())),
                  s.get("color") or (options[s["name"]].color if s["name"] in options else None))
            for i, s in enumerate(data["stages"]))
        self.by_name = {s.name: s for s in self.stages}
        self.transitions = tuple(
            Transition(t.get("from", "*"), t["to"], t.get("label"),
                       compile_formula(t["when"], library) if t.get("when") else None,
                       t.get("when"), tuple(t.get("roles", ())), tuple(t.get("required", ())),
                       tuple((k, compile_formula(str(v), library))
                             for k, v in (t.get("set") or {}).items()),
                       t.get("message"))
            for t in data.get("transitions", ()))
        self.has_probability = obj.has_field("probability") and \
            obj.field("probability").value_type in {"percent", "decimal", "integer"}

    def display_label(self, locale: str = "en") -> str:
        return label_text(self.label, locale, self.obj.display_label(locale))

    def stage_label(self, name: str | None, locale: str = "en") -> str:
        if name is None:
            return "—"
        stage = self.by_name.get(name)
        return label_text(stage.label if stage else None, locale, humanize(name))

    def is_backward(self, from_stage: str | None, to_stage: str) -> bool:
        a, b = self.by_name.get(from_stage or ""), self.by_name.get(to_stage)
        return a is not None and b is not None and b.position < a.position

    # -- the rules ---------------------------------------------------------------------

    def judge(self, from_stage: str | None, to_stage: str, record: Mapping[str, Any],
              get: Callable[[str], Any], actor: Actor, locale: str = "en") -> Move:
        """Whether ``record`` (with its new values, ``to_stage`` included) may move."""
        f = self.field
        to_label = self.stage_label(to_stage, locale)
        from_label = self.stage_label(from_stage, locale)
        workflow = self.display_label(locale)
        if to_stage not in self.by_name:
            return Move(from_stage, to_stage, None, (FieldProblem(
                f.name, "unknown_stage",
                message(locale, "unknown_stage", to=to_label, workflow=workflow)),))
        candidates = [t for t in self.transitions if t.matches(from_stage, to_stage)]
        backward = self.is_backward(from_stage, to_stage)
        if not candidates:
            if not self.transitions and (not backward or self.allow_backward):
                return self._entering(from_stage, to_stage, None, record, locale)
            if backward and self.allow_backward:
                return self._entering(from_stage, to_stage, None, record, locale)
            key = "not_backward" if backward else "not_allowed"
            return Move(from_stage, to_stage, None, (FieldProblem(
                f.name, "transition_not_allowed",
                message(locale, key, workflow=workflow, frm=from_label, to=to_label)),))
        refusals: list[FieldProblem] = []
        for t in sorted(candidates, key=lambda t: t.source == "*"):  # the specific one first
            problem = self._refusal(t, from_label, to_label, record, get, actor, locale)
            if problem is None:
                return self._entering(from_stage, to_stage, t, record, locale)
            refusals.append(problem)
        return Move(from_stage, to_stage, candidates[0], (refusals[0],))

    def _refusal(self, t: Transition, from_label: str, to_label: str, record: Mapping[str, Any],
                 get: Callable[[str], Any], actor: Actor, locale: str) -> FieldProblem | None:
        f = self.field
        if t.roles and actor.id is not None and actor.role not in t.roles:
            return FieldProblem(f.name, "transition_role", message(
                locale, "role", roles=", ".join(t.roles), frm=from_label, to=to_label))
        if t.when is not None:
            try:
                ok = t.when.evaluate(record, get=get)
            except FormulaError as exc:
                return FieldProblem(f.name, "transition_error", message(
                    locale, "condition_error", to=to_label, error=exc))
            if not ok:
                return FieldProblem(f.name, "transition_condition", label_text(
                    t.message, locale) if t.message else message(
                    locale, "condition", frm=from_label, to=to_label, when=t.when_text))
        return None

    def _entering(self, from_stage: str | None, to_stage: str, t: Transition | None,
                  record: Mapping[str, Any], locale: str) -> Move:
        """The fields the stage (and the transition) need filled."""
        needed = [*self.by_name[to_stage].required, *(t.required if t else ())]
        problems = []
        for name in dict.fromkeys(needed):
            if record.get(name) in BLANK:
                label = self.obj.field(name).display_label(locale) if self.obj.has_field(name) \
                    else name
                problems.append(FieldProblem(name, "stage_required", message(
                    locale, "required", field=label, to=self.stage_label(to_stage, locale))))
        return Move(from_stage, to_stage, t, tuple(problems))

    def entry_values(self, move: Move, record: Mapping[str, Any], get: Callable[[str], Any],
                     locale: str = "en") -> tuple[dict[str, Any], list[FieldProblem]]:
        """What entering the stage sets: the stage's probability, then the transition's
        ``set`` formulas (evaluated on the record with its new stage)."""
        values: dict[str, Any] = {}
        problems: list[FieldProblem] = []
        stage = self.by_name[move.to_stage]
        if self.has_probability and stage.probability is not None:
            values["probability"] = stage.probability
        for name, formula in move.transition.assign if move.transition else ():
            try:
                values[name] = formula.evaluate({**record, **values}, get=get)
            except FormulaError as exc:
                problems.append(FieldProblem(name, "transition_error", message(
                    locale, "set_error", field=name, to=self.stage_label(move.to_stage, locale),
                    error=exc)))
        return values, problems

    def options(self, from_stage: str | None, record: Mapping[str, Any],
                get: Callable[[str], Any], actor: Actor, locale: str = "en") -> list[Move]:
        """Every other stage with the verdict on moving there (the stage path's buttons)."""
        out = []
        for stage in self.stages:
            if stage.name == from_stage:
                continue
            moved = {**record, self.field.name: stage.name}
            out.append(self.judge(from_stage, stage.name, moved, get, actor, locale))
        return out


class Workflows:
    """The stage workflows of one workspace (``ws.workflows``), compiled per revision."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self._built: tuple[int, dict[str, tuple[StageWorkflow, ...]]] | None = None

    def _all(self) -> dict[str, tuple[StageWorkflow, ...]]:
        meta: MetadataSet = self.ws.meta
        built = self._built
        if built is None or built[0] != meta.revision:
            by_object: dict[str, list[StageWorkflow]] = {}
            for d in meta.workflows.values():
                obj = meta.objects.get(d.data.get("object", ""))
                if obj is None or not obj.has_field(d.data.get("field", "")):
                    continue
                by_object.setdefault(obj.name, []).append(StageWorkflow(d, obj, self.ws.library))
            built = self._built = (meta.revision, {k: tuple(v) for k, v in by_object.items()})
        return built[1]

    def of(self, object_name: str) -> tuple[StageWorkflow, ...]:
        return self._all().get(object_name, ())

    def on_field(self, object_name: str, field_name: str) -> StageWorkflow | None:
        for wf in self.of(object_name):
            if wf.field.name == field_name:
                return wf
        return None

    # -- the record service's calls ------------------------------------------------------

    def before_update(self, rt: ObjectRuntime, previous: Mapping[str, Any],
                      record: dict[str, Any], get: Callable[[str], Any],
                      actor: Actor, problems: list[FieldProblem]
                      ) -> list[tuple[StageWorkflow, Move]]:
        """Judge every stage change of an update and apply what entering sets. A move no
        rule allows raises ValidationError naming the rule; blank fields the new stage
        requires join ``problems`` (with the field checks'). Returns the moves made."""
        moves = []
        for wf in self.of(rt.name):
            name = wf.field.name
            old, new = previous.get(name), record.get(name)
            if old == new or new is None:
                continue
            move = wf.judge(old, new, record, get, actor, actor.locale)
            blanks = [p for p in move.problems if p.code == "stage_required"]
            if len(blanks) != len(move.problems):
                raise ValidationError([p for p in move.problems if p.code != "stage_required"])
            problems.extend(blanks)
            self.ws.records._hook("stage_before_transition", object_name=rt.name, record=record,
                                  from_stage=old, to_stage=new, user=actor)
            self._apply_entry(rt, wf, move, record, get, actor.locale)
            moves.append((wf, move))
        return moves

    def _apply_entry(self, rt: ObjectRuntime, wf: StageWorkflow, move: Move,
                     record: dict[str, Any], get: Callable[[str], Any], locale: str) -> None:
        values, problems = wf.entry_values(move, record, get, locale)
        if values:
            coerced = self.ws.records.plan(rt).coerce(values, problems, True)
            record.update(coerced)
        if problems:
            raise ValidationError(problems)

    def start(self, rt: ObjectRuntime, records: Sequence[dict[str, Any]]) -> None:
        """New records' first stage sets their probability when they give none."""
        plan = self.ws.records.plan(rt)
        for wf in self.of(rt.name):
            if not wf.has_probability:
                continue
            field = wf.field.name
            coerced = {st.name: plan.coerce({"probability": st.probability}, [], True)
                       ["probability"] for st in wf.stages if st.probability is not None}
            for record in records:
                if record.get("probability") is None and record.get(field) in coerced:
                    record["probability"] = coerced[record[field]]

    def starting_problems(self, rt: ObjectRuntime, records: Sequence[Mapping[str, Any]],
                          locale: str) -> list[list[FieldProblem]]:
        """Each new record's blank fields that its first stage requires."""
        out: list[list[FieldProblem]] = [[] for _ in records]
        for wf in self.of(rt.name):
            field = wf.field.name
            required = {st.name: st.required for st in wf.stages if st.required}
            if not required:
                continue
            for record, problems in zip(records, out, strict=True):
                needed = required.get(record.get(field))  # type: ignore[arg-type]
                if needed is None:
                    continue
                for name in needed:
                    if record.get(name) in BLANK:
                        problems.extend(wf._entering(None, record[field], None, record, locale)
                                        .problems)
                        break
        return out

    def after_update(self, c: Connection, rt: ObjectRuntime, record: Mapping[str, Any],
                     moves: Sequence[tuple[StageWorkflow, Move]], actor: Actor,
                     when: datetime) -> None:
        """Close the stage left, open the stage entered; the after-transition hooks."""
        if not moves:
            return
        h = self.ws.table_of("rapport_stage_history")
        for wf, move in moves:
            c.execute(update(h).where(h.c.object == rt.name, h.c.record_id == record["id"],
                                      h.c.field == wf.field.name, h.c.left_at.is_(None))
                      .values(left_at=when))
            c.execute(insert(h).values(object=rt.name, record_id=record["id"],
                                       field=wf.field.name, stage=move.to_stage,
                                       from_stage=move.from_stage, entered_at=when,
                                       user_id=actor.id))
            self._notify_owner(c, rt, wf, record, move, actor)
            self.ws.records._hook("stage_after_transition", object_name=rt.name, record=record,
                                  from_stage=move.from_stage, to_stage=move.to_stage, user=actor,
                                  connection=c)

    def _notify_owner(self, c: Connection, rt: ObjectRuntime, wf: StageWorkflow,
                      record: Mapping[str, Any], move: Move, actor: Actor) -> None:
        """The record's owner hears of a move someone else made."""
        owner = record.get("owner")
        if owner is None or owner == actor.id:
            return
        title = str(record.get(rt.obj.title) or f"{rt.name} {record['id']}")
        frm, to = wf.stage_label(move.from_stage), wf.stage_label(move.to_stage)
        self.ws.notifications.notify(
            c, [owner], "stage_changed",
            f"{actor.name or actor.email} moved “{title}” from {frm} to {to}",
            object=rt.name, record_id=record["id"],
            data={"title": title, "field": wf.field.name, "from": move.from_stage,
                  "to": move.to_stage, "by": actor.name or actor.email}, skip=actor.id)

    def after_create(self, c: Connection, rt: ObjectRuntime, records: Sequence[Mapping[str, Any]],
                     actor: Actor, when: datetime) -> None:
        """Each new record enters its first stage."""
        ids = [r["id"] for r in records]
        for wf in self.of(rt.name):
            field = wf.field.name
            self.ws.records.copy_rows(
                c, self.ws.table_of("rapport_stage_history"),
                {"object": rt.name, "field": field, "entered_at": when, "user_id": actor.id},
                {"record_id": "id", "stage": field}, rt.table, ids,
                rt.table.c[field].is_not(None))

    def enter_existing(self, c: Connection, name: str) -> None:
        """Records that were in a stage before the workflow ``name`` (or its current stage
        field) existed enter it as of their last change, so time in stage and funnels
        count them. One INSERT ... SELECT; records already in the history are left alone."""
        wf = next((w for group in self._all().values() for w in group if w.name == name), None)
        if wf is None:
            return
        t, h = self.ws.table(wf.obj.name), self.ws.table_of("rapport_stage_history")
        field = t.c[wf.field.name]
        known = select(h.c.id).where(h.c.object == wf.obj.name, h.c.field == wf.field.name,
                                     h.c.record_id == t.c.id)
        c.execute(insert(h).from_select(
            ["object", "record_id", "field", "stage", "entered_at"],
            select(literal(wf.obj.name, h.c.object.type), t.c.id,
                   literal(wf.field.name, h.c.field.type), field, t.c.updated_at)
            .where(field.is_not(None), ~known.exists())))

    # -- moving and reading ---------------------------------------------------------------------

    def _workflow(self, object_name: str, field: str | None) -> StageWorkflow:
        workflows = self.of(object_name)
        if field is not None:
            found = [wf for wf in workflows if wf.field.name == field]
        else:
            found = list(workflows)
        if not found:
            raise NotFound(f"{object_name} has no stage workflow"
                           + (f" on '{str(field)[:60]}'" if field else ""))
        if len(found) > 1:
            raise ValidationError(f"{object_name} has several stage workflows: name the field "
                                  f"({', '.join(wf.field.name for wf in found)})", field="field")
        return found[0]

    def transition(self, object_name: str, rid: Any, to: str, actor: Actor,
                   expected_version: int | None = None, field: str | None = None,
                   conn: Connection | None = None) -> dict[str, Any]:
        """Move a record to the stage ``to`` (the record service judges the move)."""
        self.ws.records.runtime(object_name)
        wf = self._workflow(object_name, field)
        return self.ws.records.update(object_name, rid, {wf.field.name: to}, actor,
                                      expected_version, conn=conn)

    def path(self, object_name: str, record: Mapping[str, Any], actor: Actor,
             field: str | None = None) -> dict[str, Any]:
        """The record's stage path: every stage (visited, current, ahead) with the verdict on
        moving there, the current stage's guidance and how long the record has been in it."""
        from ..records.service import _Resolver, now_utc

        wf = self._workflow(object_name, field)
        current = record.get(wf.field.name)
        locale = actor.locale
        with self.ws.read_engine.connect() as conn:
            get = _Resolver(self.ws.records, conn).getter(wf.obj, record)
            moves = {m.to_stage: m for m in wf.options(current, record, get, actor, locale)}
        history = [h for h in self.history(object_name, record["id"], now_utc())
                   if h["field"] == wf.field.name]
        visited = {h["stage"] for h in history}
        here = history[-1] if history and history[-1]["stage"] == current else None
        position = wf.by_name[current].position if current in wf.by_name else -1
        stages = []
        for stage in wf.stages:
            state = "current" if stage.name == current else \
                "done" if stage.name in visited or stage.position < position else "ahead"
            move = moves.get(stage.name)
            stages.append({"name": stage.name, "label": wf.stage_label(stage.name, locale),
                           "probability": stage.probability, "category": stage.category,
                           "color": stage.color, "state": state,
                           "guidance": label_text(stage.guidance, locale, "") or None,
                           "allowed": bool(move and move.allowed),
                           "reason": move.reason if move else None,
                           "action": label_text(move.transition.label, locale, "")
                           if move and move.transition and move.transition.label else None})
        stage = wf.by_name.get(current or "")
        return {"workflow": wf.name, "label": wf.display_label(locale), "field": wf.field.name,
                "current": current, "category": stage.category if stage else None,
                "guidance": label_text(stage.guidance, locale, "") or None if stage else None,
                "entered_at": here["entered_at"] if here else None,
                "seconds_in_stage": here["seconds"] if here else None,
                "stages": stages, "history": history}

    # -- reading ----------------------------------------------------------------------------

    def history(self, object_name: str, rid: int, now: datetime) -> list[dict[str, Any]]:
        """The record's stage visits, oldest first, with the time spent in each."""
        h = self.ws.table_of("rapport_stage_history")
        with self.ws.read_engine.connect() as conn:
            rows = conn.execute(select(h).where(h.c.object == object_name, h.c.record_id == rid)
                                .order_by(h.c.id)).all()
        out = []
        for r in rows:
            item = dict(r._mapping)
            end = item["left_at"] or now
            item["seconds"] = max(0, int((end - item["entered_at"]).total_seconds()))
            out.append(item)
        return out


__all__ = ["MESSAGES", "Move", "Stage", "StageWorkflow", "Transition", "Workflows"]
