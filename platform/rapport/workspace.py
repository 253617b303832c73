"""The workspace: one database, its metadata and everything built from it.

Nothing here is global: tests build many workspaces in one process, and one server can
later host several. Metadata is cached per revision; ``refresh()`` picks up a change made
by another process.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, insert, inspect, select, text

from .approvals import Approvals, Notifications
from .auth.access import Access
from .errors import MetadataError, MetaProblem, RapportError
from .fieldtypes import FieldTypes
from .formulas import FunctionLibrary, default_library
from .meta.loader import Document, build, documents_from_json, fold_extensions, read_paths
from .meta.model import Definition, MetadataSet, ObjectDef
from .meta.validate import validate_documents
from .plugins import SCRATCH
from .plugins.actions import Actions
from .plugins.lifecycle import start_plugins, workspace_plugins
from .records.query import QueryCompiler
from .records.runtime import ObjectRuntime, build_runtime
from .records.service import RecordService
from .reports import Reports
from .resources import bundled
from .storage import versions
from .storage.engine import make_engine, make_read_engine
from .storage.plan import (
    Plan,
    apply_plan,
    assign_identities,
    check_allowed,
    make_plan,
    sqlite_fk_guard,
)
from .storage.tables import build_metadata, object_indexes, system_tables
from .workflows import Workflows

log = logging.getLogger("rapport")

CONFIG_FILE = "rapport.json"
DB_FILE = "rapport.db"


LATEST_REVISION_SQL = "SELECT max(id) FROM rapport_meta_revision"


class WorkspaceError(RapportError):
    code = "workspace_error"


class StaleRevision(WorkspaceError):
    """A change computed on a metadata revision that is no longer the latest."""

    status = 412
    code = "stale_revision"

    def __init__(self, expected: int, latest: int):
        self.expected = expected
        self.latest = latest
        super().__init__(f"the metadata changed meanwhile (revision {latest}, the change was "
                         f"made on revision {expected}); review it again")


@dataclass
class _State:
    """What is built from one metadata revision."""

    meta: MetadataSet
    documents: dict[tuple[str, str], dict[str, Any]]
    tables: MetaData
    runtimes: dict[str, ObjectRuntime] = field(default_factory=dict)
    compiler: QueryCompiler | None = None


def find_root(start: str | Path | None = None) -> Path:
    """The workspace directory: RAPPORT_HOME, else ``start`` or the current directory."""
    if start is None and os.environ.get("RAPPORT_HOME"):
        return Path(os.environ["RAPPORT_HOME"]).resolve()
    return Path(start or ".").resolve()


class Workspace:
    def __init__(self, database_url: str, root: Path | None = None,
                 config: Mapping[str, Any] | None = None, plugin_modules: Iterable[Any] = (),
                 plugin_dirs: Iterable[str | Path] = ()):
        self.root = root
        self.config = dict(config or {})
        self.database_url = database_url
        self.engine: Engine = make_engine(database_url)
        versions.track(self.engine)
        read_url = os.environ.get("RAPPORT_READ_DATABASE_URL") or database_url
        self.read_engine: Engine = make_read_engine(read_url) if database_url.startswith("sqlite") \
            or read_url != database_url else self.engine
        self.plugins = workspace_plugins(self.config, root, plugin_modules, plugin_dirs)
        self.types = FieldTypes(self.plugins.collect("register_field_types"), builtins=False)
        self.library: FunctionLibrary = default_library()
        for plugin, group in self.plugins.call_each("register_formula_functions"):
            try:
                self.library = self.library.extend(group or {})
            except RapportError as exc:  # a clash or a bad function: that plugin's are left out
                self.plugins.note(plugin, "register_formula_functions", exc)
        self.records = RecordService(self)
        self.access = Access(self)
        self.workflows = Workflows(self)
        self.approvals = Approvals(self)
        self.reports = Reports(self)
        self.notifications = Notifications(self)
        self._state: _State | None = None
        self._uncommitted: int | None = None
        self._lock = threading.Lock()
        start_plugins(self)
        self.actions = Actions(self)

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def open(cls, root: str | Path | None = None, database_url: str | None = None,
             **kwargs: Any) -> Workspace:
        path = find_root(root)
        config_path = path / CONFIG_FILE
        config: dict[str, Any] = {}
        if config_path.exists():
            config = json.loads(config_path.read_text("utf-8"))
        elif database_url is None and not os.environ.get("RAPPORT_DATABASE_URL"):
            raise WorkspaceError(f"{path} is not a Rapport workspace (no {CONFIG_FILE}); "
                                 "run 'rapport init' or set RAPPORT_HOME")
        url = database_url or os.environ.get("RAPPORT_DATABASE_URL") or config.get("database_url") \
            or f"sqlite:///{path / DB_FILE}"
        ws = cls(url, path, config, **kwargs)
        ws.add_missing_system_tables()
        return ws

    @classmethod
    def init(cls, root: str | Path | None = None, database_url: str | None = None,
             plugins: Sequence[str] = (), **kwargs: Any) -> Workspace:
        """Create a workspace directory, its database schema and the core objects;
        ``plugins``: bundled plugins to enable in it."""
        path = find_root(root)
        path.mkdir(parents=True, exist_ok=True)
        config_path = path / CONFIG_FILE
        if config_path.exists():
            raise WorkspaceError(f"{path} is already a workspace ({CONFIG_FILE} exists)")
        config = {"secret_key": secrets.token_urlsafe(32), "currency": "USD", "locale": "en"}
        if database_url:
            config["database_url"] = database_url
        if plugins:
            config["plugins"] = {"enabled": list(plugins)}
        config_path.write_text(json.dumps(config, indent=2) + "\n", "utf-8")
        (path / "plugins").mkdir(exist_ok=True)
        ws = cls.open(path, database_url, **kwargs)
        ws.install_schema()
        return ws

    def install_schema(self) -> Plan | None:
        """System tables, then the core objects when the workspace has no metadata yet."""
        md = MetaData()
        system_tables(md)
        md.create_all(self.engine)
        if self.refresh().revision == 0:
            problems: list[MetaProblem] = []
            docs = read_paths([bundled("metadata") / "core"], problems)
            if problems:
                raise MetadataError(problems)
            plan = self.apply(docs, author="system", comment="core objects")
            from .auth.access import install_default_roles

            install_default_roles(self)
            return plan
        return None

    def add_missing_system_tables(self) -> None:
        """A workspace made by an older release gets the system tables added since (one
        look at the table names when nothing is missing). A database that holds no
        workspace is left alone."""
        with self.engine.connect() as conn:
            existing = set(inspect(conn).get_table_names())
        if "rapport_meta_revision" not in existing or existing >= set(_SYSTEM.tables):
            return
        with self.transaction() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(741852)"))
            _SYSTEM.create_all(conn, checkfirst=True)

    def close(self) -> None:
        for _plugin, _result in self.plugins.call_each("shutdown", workspace=self):
            pass
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    # -- metadata state ---------------------------------------------------------------

    def _latest_revision(self, conn: Connection) -> int:
        # asked on every request: a constant statement, no expression to compile each time
        return int(conn.exec_driver_sql(LATEST_REVISION_SQL).scalar() or 0)

    def refresh(self) -> MetadataSet:
        """Reload the metadata when another process (or this one) applied a new revision."""
        with self.read_engine.connect() as conn:
            try:
                latest = self._latest_revision(conn)
            except Exception as exc:  # no system tables yet
                if "rapport_meta_revision" not in str(exc):
                    raise
                latest = 0
            if self._uncommitted is not None and latest < self._uncommitted:
                pass  # an apply inside a transaction not committed yet: keep its metadata
            elif self._state is None or self._state.meta.revision != latest:
                self._load(conn, latest)
        assert self._state is not None
        return self._state.meta

    def _load(self, conn: Connection, revision: int) -> None:
        docs: dict[tuple[str, str], dict[str, Any]] = {}
        if revision:
            rev = self.table_of("rapport_meta_revision")
            raw = conn.scalar(select(rev.c.documents).where(rev.c.id == revision))
            for item in json.loads(raw):
                docs[(item["kind"], item["data"]["name"])] = item["data"]
        meta = _meta_from(docs, revision)
        with self._lock:
            self._state = _State(meta, docs, build_metadata(meta, self.types))

    @property
    def state(self) -> _State:
        if self._state is None:
            self.refresh()
        assert self._state is not None
        return self._state

    @property
    def meta(self) -> MetadataSet:
        return self.state.meta

    def table(self, name: str) -> Table:
        return self.state.tables.tables[name]

    table_of = staticmethod(lambda name: _SYSTEM.tables[name])

    def runtime(self, object_name: str) -> ObjectRuntime:
        state = self.state
        rt = state.runtimes.get(object_name)
        if rt is None:
            obj = state.meta.objects[object_name]
            rt = build_runtime(state.meta, obj, state.tables.tables[object_name], self.library)
            state.runtimes[object_name] = rt
        return rt

    def compiler(self) -> QueryCompiler:
        state = self.state
        if state.compiler is None:
            state.compiler = QueryCompiler(state.meta, state.tables.tables, self.types,
                                           self.engine.dialect.name)
        return state.compiler

    # -- transactions -----------------------------------------------------------------

    @contextmanager
    def transaction(self, foreign_keys: bool = True) -> Iterator[Connection]:
        """One write transaction; after-commit callbacks run once it has committed."""
        with self.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite and not foreign_keys:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin() as tx:
                    yield conn
                    if conn.info.pop("rapport_rollback", False):
                        tx.rollback()
                        conn.info.pop("rapport_after_commit", None)
                    else:
                        versions.bump(conn, _SYSTEM)
            finally:
                versions.forget(conn)
                if sqlite and not foreign_keys:
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
                callbacks = conn.info.pop("rapport_after_commit", [])
                # connection.info stays with the pooled connection: nothing of this
                # transaction may reach the next one (a rollback flag set before an error)
                conn.info.pop(SCRATCH, None)
                conn.info.pop("rapport_rollback", None)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # the write has happened; plugins' failures are kept to retry
                log.exception("after-commit callback failed")

    @contextmanager
    def within(self, conn: Connection | None) -> Iterator[Connection]:
        """``conn`` when the caller already holds a transaction, else a new one."""
        if conn is not None:
            yield conn
            return
        with self.transaction() as c:
            yield c

    # -- metadata changes ----------------------------------------------------------------

    def validate(self, docs: list[Document], problems: list[MetaProblem] | None = None
                 ) -> MetadataSet:
        problems = list(problems or ())
        meta = self.refresh()
        docs = fold_extensions(docs, self.state.documents, problems)
        merged = validate_documents(docs, meta, self.library, self.types.names(), problems)
        # reports and dashboards are compiled the way they run: mistakes surface at save time
        for doc in docs:
            if doc.kind == "report":
                problems += self.reports.check(merged.reports[doc.name], merged, doc.source,
                                               doc.pointer)
            elif doc.kind == "dashboard":
                problems += self.reports.check_dashboard(merged.dashboards[doc.name], merged,
                                                         doc.source, doc.pointer)
        if problems:
            raise MetadataError(problems)
        return merged

    def documents_from(self, value: Any, source: str = "<request>") -> list[Document]:
        problems: list[MetaProblem] = []
        docs = documents_from_json(value, source, problems)
        if problems:
            raise MetadataError(problems)
        return docs

    def plan(self, docs: list[Document], remove: Iterable[tuple[str, str]] = ()) -> Plan:
        """What ``apply`` would do, without changing anything."""
        merged = self.validate(docs)
        removals = set(remove)
        if removals:
            merged = _without(merged, removals)
        new = assign_identities(self.meta, merged)
        with self.engine.connect() as conn:
            plan = make_plan(conn, self.meta, new, self.types)
        _changed, plan.notes = self._follow_renames(self.meta, new, docs, removals)
        return plan

    def _follow_renames(self, base: MetadataSet, new: MetadataSet, docs: list[Document],
                        removals: set[tuple[str, str]]
                        ) -> tuple[dict[tuple[str, str], dict[str, Any]], list[str]]:
        """Stored reports and dashboards updated for renamed fields, and notes on the ones a
        change leaves broken (a removed field): (changed documents, notes for the plan)."""
        given = {(d.kind, d.name) for d in docs} | removals
        changed, notes = self.reports.follow_renames(self.state.documents, base, new, given)
        if not any(d.kind == "object" for d in docs) and not removals:
            return changed, notes
        for (kind, name), data in self.state.documents.items():
            if kind != "report" or (kind, name) in given:
                continue
            d = Definition("report", name, changed.get((kind, name), data))
            for p in self.reports.check(d, new):
                notes.append(f"report {name} will not run: {p.pointer}: {p.message}")
        return changed, notes
        documents = {**self.state.documents, **changed}
        for key in removals:
            documents.pop(key, None)
        after = _meta_from({k: v for k, v in documents.items() if k not in
                            {(d.kind, d.name) for d in docs}} | {
                                (k, n): d.data for (k, n), d in
                                ((("object", o.name), o) for o in ()) }, 0)
        del after
        for (kind, name), data in documents.items():
            if kind != "report" or (kind, name) in given:
                continue
            d = Definition("report", name, data)
            for p in self.reports.check(d, new):
                notes.append(f"report {name} will not run: {p.pointer}: {p.message}")
        return changed, notes

    def apply(self, docs: list[Document], allow_data_loss: bool = False, author: str | None = None,
              comment: str | None = None, remove: Iterable[tuple[str, str]] = (),
              conn: Connection | None = None, expected_revision: int | None = None) -> Plan:
        """Validate, plan and apply definitions in one transaction; a new revision.

        ``conn``: apply inside the caller's transaction (opened with
        ``transaction(foreign_keys=False)``), so more writes can join the same commit;
        the caller then calls ``outer_apply_done(committed)``.
        ``expected_revision``: the revision the change was reviewed on (its plan shown);
        StaleRevision when the metadata has moved on since."""
        removals = set(remove)
        merged = self.validate(docs)
        docs = fold_extensions(docs, self.state.documents, [])
        base = self.meta
        if expected_revision is not None and base.revision != expected_revision:
            raise StaleRevision(expected_revision, base.revision)
        if removals:
            merged = _without(merged, removals)
            problems = _dangling(merged, removals)
            if problems:
                raise MetadataError(problems)
        new = assign_identities(base, merged)
        outer = conn
        with self._outer_or_new(outer) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(741852)"))
            latest = self._latest_revision(conn)
            if latest != base.revision:
                if outer is None:  # (an outer transaction is rolled back by its caller)
                    conn.info["rapport_rollback"] = True
                raise StaleRevision(base.revision if expected_revision is None
                                    else expected_revision, latest)
            plan = make_plan(conn, base, new, self.types)
            check_allowed(plan, allow_data_loss)
            changed, plan.notes = self._follow_renames(base, new, docs, removals)
            documents = {**self.state.documents, **changed}
            for key in removals:
                documents.pop(key, None)
            for doc in docs:
                documents[(doc.kind, doc.name)] = _stamped(doc, new)
            new_meta = _meta_from(documents, base.revision + 1)
            # the record service computes backfills against the new definitions
            self._state = _State(new_meta, documents, build_metadata(new_meta, self.types))
            if outer is not None:
                self._uncommitted = new_meta.revision
            try:
                apply_plan(conn, plan, self.types, self.records.backfill,
                           lambda c, obj, f: self.records.recompute_rollup(c, obj, f))
                for doc in docs:
                    if doc.kind == "workflow":
                        self.workflows.enter_existing(conn, doc.name)
                if conn.dialect.name == "sqlite":
                    sqlite_fk_guard(conn)
                rev = self.table_of("rapport_meta_revision")
                conn.execute(insert(rev).values(
                    id=base.revision + 1, created_at=datetime.now(UTC), author=author,
                    comment=comment,
                    documents=json.dumps([{"kind": k, "data": d} for (k, _n), d
                                          in sorted(documents.items())], ensure_ascii=False),
                    changes=json.dumps({"steps": plan.as_dict()["steps"],
                                        "definitions": [[d.kind, d.name] for d in docs]
                                        + [[k, n] for k, n in sorted(changed)],
                                        "notes": plan.notes,
                                        "removed": sorted(removals)}, ensure_ascii=False)))
                conn.execute(insert(self.table_of("rapport_audit")).values(
                    at=datetime.now(UTC), event="metadata_changed", email=author,
                    detail=json.dumps({"revision": base.revision + 1, "comment": comment,
                                       "definitions": [f"{d.kind}/{d.name}" for d in docs]
                                       + [f"{k}/{n}" for k, n in sorted(changed)]},
                                      ensure_ascii=False)))
            except BaseException:
                self._state = None
                self._uncommitted = None
                raise
        return plan

    @contextmanager
    def _outer_or_new(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        with self.transaction(foreign_keys=False) as c:
            yield c

    def outer_apply_done(self, committed: bool) -> None:
        """The caller's transaction holding an ``apply(conn=...)`` has ended: after a
        rollback the metadata built in memory is dropped (the next use reloads what the
        database holds)."""
        self._uncommitted = None
        if not committed:
            self._state = None

    def revisions(self, limit: int = 50) -> list[dict[str, Any]]:
        rev = self.table_of("rapport_meta_revision")
        with self.read_engine.connect() as conn:
            rows = conn.execute(select(rev.c.id, rev.c.created_at, rev.c.author, rev.c.comment,
                                       rev.c.changes).order_by(rev.c.id.desc()).limit(limit))
            return [{**dict(r._mapping), "changes": json.loads(r.changes)} for r in rows]

    def export(self, directory: str | Path) -> list[Path]:
        """Write every definition as a JSON file, one per definition, with its ``$schema``."""
        out = Path(directory)
        written = []
        folders = {"object": "objects", "workflow": "workflows", "approval": "approvals",
                   "report": "reports", "dashboard": "dashboards"}
        for (kind, name), data in sorted(self.state.documents.items()):
            folder = out / folders[kind]
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.json"
            body = {"$schema": f"https://rapport.dev/schemas/{kind}.schema.json", **data}
            if "kind" not in body and kind not in {"object"}:
                body["kind"] = kind
            path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", "utf-8")
            written.append(path)
        return written

    def migrate(self, plan_only: bool = False) -> list[str]:
        """Bring the database schema in line with the stored metadata: create what is
        missing (tables, columns, indexes). Returns what was (or would be) done."""
        md = MetaData()
        system_tables(md)
        md.create_all(self.engine)
        self.refresh()
        todo: list[str] = []
        with self.transaction() as conn:
            insp = inspect(conn)
            existing = set(insp.get_table_names())
            for system in md.tables.values():  # indexes added to system tables since
                have = {i["name"] for i in insp.get_indexes(system.name)}
                for index in sorted(system.indexes, key=lambda i: str(i.name)):
                    if index.name not in have:
                        todo.append(f"+ add index {index.name}")
                        if not plan_only:
                            index.create(conn)
            for obj in self.meta.objects.values():
                table = self.table(obj.name)
                if obj.name not in existing:
                    todo.append(f"+ create table {obj.name}")
                    if not plan_only:
                        table.create(conn)
                    continue
                columns = {c["name"] for c in insp.get_columns(obj.name)}
                for col in table.columns:
                    if col.name not in columns:
                        todo.append(f"+ add column {obj.name}.{col.name}")
                        if not plan_only:
                            from alembic.operations import Operations
                            from alembic.runtime.migration import MigrationContext

                            from .storage.plan import _add_column, _copy_column

                            _add_column(conn, Operations(MigrationContext.configure(conn)),
                                        obj.name, _copy_column(col))
                indexes = {i["name"] for i in insp.get_indexes(obj.name)}
                for name, _cols, _unique in object_indexes(obj, self.meta):
                    if name not in indexes:
                        todo.append(f"+ add index {name}")
                        if not plan_only:
                            next(i for i in table.indexes if i.name == name).create(conn)
            if plan_only:
                conn.info["rapport_rollback"] = True
        return todo


_SYSTEM = MetaData()
system_tables(_SYSTEM)


def _meta_from(documents: Mapping[tuple[str, str], Mapping[str, Any]], revision: int) -> MetadataSet:
    tables: dict[str, dict[str, Any]] = {k: {} for k in
                                         ("object", "workflow", "approval", "report", "dashboard")}
    for (kind, name), data in documents.items():
        tables[kind][name] = build(Document(kind, data))
    return MetadataSet(tables["object"], tables["workflow"], tables["approval"], tables["report"],
                       tables["dashboard"], revision)


def _stamped(doc: Document, new: MetadataSet) -> dict[str, Any]:
    """The document as stored: ids filled in, ``$schema`` and ``renamed_from`` dropped."""
    data = {k: v for k, v in doc.data.items() if k != "$schema"}
    if doc.kind == "object":
        obj: ObjectDef = new.objects[doc.name]
        data["id"] = obj.id
        data["fields"] = [{**{k: v for k, v in raw.items() if k != "renamed_from"}, "id": f.id}
                          for raw, f in zip(doc.data["fields"], obj.fields, strict=True)]
        for raw in data["fields"]:  # a value's rename is done once applied
            if any(isinstance(o, dict) and "renamed_from" in o for o in raw.get("options", ())):
                raw["options"] = [_without_rename(o) for o in raw["options"]]
    return data


def _without_rename(option: Any) -> Any:
    if not isinstance(option, dict):
        return option
    rest = {k: v for k, v in option.items() if k != "renamed_from"}
    return rest["value"] if list(rest) == ["value"] else rest


def _without(meta: MetadataSet, removals: set[tuple[str, str]]) -> MetadataSet:
    tables = {k: {n: d for n, d in meta.of_kind(k).items() if (k, n) not in removals}
              for k in ("object", "workflow", "approval", "report", "dashboard")}
    return MetadataSet(tables["object"], tables["workflow"], tables["approval"], tables["report"],
                       tables["dashboard"], meta.revision)


def _dangling(meta: MetadataSet, removals: set[tuple[str, str]]) -> list[MetaProblem]:
    gone = {n for k, n in removals if k == "object"}
    problems = []
    for obj in meta.objects.values():
        for f in obj.fields:
            if (f.is_relation and f.target in gone) or (f.type == "rollup" and f.source in gone):
                problems.append(MetaProblem(f"object/{obj.name}", f"/fields/{f.name}",
                                            f"refers to '{f.target or f.source}', which would be removed"))
    for kind in ("workflow", "approval", "report"):
        for d in meta.of_kind(kind).values():
            if d.data.get("object") in gone:
                problems.append(MetaProblem(f"{kind}/{d.name}", "/object",
                                            f"runs on '{d.data['object']}', which would be removed"))
    reports = {n for k, n in removals if k == "report"}
    for d in meta.dashboards.values():
        for i, tile in enumerate(d.data.get("tiles", ())):
            if tile.get("report") in reports:
                problems.append(MetaProblem(f"dashboard/{d.name}", f"/tiles/{i}/report",
                                            f"shows report '{tile['report']}', which would be "
                                            "removed"))
    return problems
