"""The pack manager: list, plan, install, upgrade and uninstall template packs.

Each change is one transaction and one metadata revision (``ws.apply`` inside the
transaction): the definitions, the pack's roles, its row in ``rapport_pack`` and, when
asked, its sample data all commit together or not at all."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from ..auth.roles import user_role_documents
from ..errors import MetadataError, MetaProblem
from ..meta.loader import Document
from ..storage.plan import sqlite_fk_guard
from . import store
from .manifest import (
    Pack,
    PackError,
    PackNotFound,
    checksum,
    find_pack,
    load_pack,
    pack_directories,
    satisfies,
    version_key,
)
from .merge import merge_definition, merge_extension
from .roles import ensure_roles
from .samples import SampleLoader, count_samples

if TYPE_CHECKING:
    from ..workspace import Workspace


@dataclass
class PackPlan:
    """What an install, upgrade or uninstall would do."""

    pack: str
    action: str
    version: str
    from_version: str | None = None
    definitions: list[tuple[str, str, str]] = field(default_factory=list)  # (change, kind, name)
    steps: list[str] = field(default_factory=list)       # the schema plan
    notes: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    sample_records: int = 0
    destructive: bool = False

    def lines(self) -> list[str]:
        head = f"{self.action} {self.pack} {self.version}" + (
            f" (from {self.from_version})" if self.from_version else "")
        out = [head]
        out += [f"  {change} {kind} {name}" for change, kind, name in self.definitions]
        out += [f"  role {r}" for r in self.roles]
        out += [f"  schema: {s}" for s in self.steps]
        if self.sample_records:
            out.append(f"  sample data: {self.sample_records} records and steps")
        out += [f"  note: {n}" for n in self.notes]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"pack": self.pack, "action": self.action, "version": self.version,
                "from_version": self.from_version,
                "definitions": [{"change": c, "kind": k, "name": n}
                                for c, k, n in self.definitions],
                "steps": self.steps, "notes": self.notes, "roles": self.roles,
                "sample_records": self.sample_records, "destructive": self.destructive}


@dataclass
class PackResult:
    plan: PackPlan
    revision: int
    samples: dict[str, int] = field(default_factory=dict)


def _stripped(doc: Document) -> dict[str, Any]:
    return {k: v for k, v in doc.data.items() if k != "$schema"}


class PackManager:
    def __init__(self, ws: Workspace, root: Path | None = None):
        self.ws = ws
        self.root = root

    # -- reading ---------------------------------------------------------------------

    def available(self) -> list[Pack]:
        return [load_pack(d) for d in pack_directories(self.root)]

    def pack(self, name: str) -> Pack:
        return find_pack(name, self.root)

    def object_owners(self) -> dict[str, Pack]:
        """object name -> the installed pack that brought it (what the sidebar groups by)."""
        packs = {p.name: p for p in self.available()}
        return {d["name"]: packs[name] for name, row in self.installed().items()
                if name in packs for d in row["definitions"] if d.get("kind") == "object"}

    def installed(self) -> dict[str, dict[str, Any]]:
        with self.ws.engine.begin() as conn:
            return store.installed(conn)

    def list(self, locale: str = "en") -> list[dict[str, Any]]:
        have = self.installed()
        out = []
        for p in self.available():
            row = have.get(p.name)
            s = p.summary(locale)
            s["installed_version"] = row["version"] if row else None
            s["status"] = "available" if row is None else (
                "upgrade" if version_key(p.version) > version_key(row["version"]) else "installed")
            out.append(s)
        return out

    # -- checks ----------------------------------------------------------------------

    def _check_requires(self, pack: Pack, have: dict[str, dict[str, Any]]) -> None:
        problems = []
        source = str(pack.directory / "pack.json")
        listed = isinstance(pack.manifest.get("requires"), list)
        for i, (name, spec) in enumerate(pack.requires.items()):
            pointer = f"/requires/{i if listed else name}"
            row = have.get(name)
            if row is None:
                problems.append(MetaProblem(source, pointer,
                                            f"needs the pack '{name}' ({spec}); install it first"))
            elif not satisfies(row["version"], spec):
                problems.append(MetaProblem(source, pointer, f"needs '{name}' {spec}, the "
                                                             f"workspace has {row['version']}"))
        if problems:
            raise MetadataError(problems)

    def _check_clashes(self, pack: Pack, have: dict[str, dict[str, Any]]) -> None:
        """Definitions the pack would own must not exist yet (unless it owns them); fields
        it adds to other objects must not be there already."""
        mine = {(d["kind"], d["name"]) for d in (have.get(pack.name) or {}).get("definitions", ())}
        owners = {(d["kind"], d["name"]): n for n, row in have.items()
                  for d in row["definitions"]}
        stored = self.ws.state.documents
        problems = []
        for d in pack.documents:
            if d.kind == "extension":
                target = stored.get(("object", d.data["object"]))
                if target is None:
                    continue  # validation names it
                ours = set((have.get(pack.name) or {}).get("extends", {}).get(d.data["object"], ()))
                names = {f["name"] for f in target["fields"]}
                for i, f in enumerate(d.data["fields"]):
                    if f["name"] in names and f["name"] not in ours:
                        problems.append(MetaProblem(d.source, f"{d.pointer}/fields/{i}/name",
                                                    f"{d.data['object']} already has a field "
                                                    f"'{f['name']}'"))
                continue
            key = (d.kind, d.name)
            if key in stored and key not in mine:
                who = owners.get(key)
                problems.append(MetaProblem(d.source, f"{d.pointer}/name",
                                            f"a {d.kind} named '{d.name}' already exists"
                                            + (f" (pack {who})" if who else "")))
        if problems:
            raise MetadataError(problems)

    # -- transactions ----------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        committed = False
        try:
            with self.ws.transaction(foreign_keys=False) as conn:
                store.ensure_table(conn)
                yield conn
                if conn.dialect.name == "sqlite":
                    sqlite_fk_guard(conn)
            committed = True
        finally:
            self.ws.outer_apply_done(committed)

    def _record(self, conn: Connection, pack: Pack, new: bool) -> None:
        store.save(conn, pack.name, pack.version,
                   [{"kind": d.kind, "name": d.name, "checksum": checksum(d.data)}
                    for d in pack.documents if d.kind != "extension"],
                   pack.extended,
                   [{"kind": d.kind, "data": _stripped(d)} for d in pack.documents],
                   pack.requires, new)

    # -- install ---------------------------------------------------------------------

    def _install_docs(self, pack: Pack) -> list[Document]:
        docs = [Document(d.kind, _stripped(d), d.source, d.pointer) for d in pack.documents]
        return docs + user_role_documents(self.ws, pack.roles)

    def plan_install(self, name: str, sample_data: bool = False) -> PackPlan:
        pack = self.pack(name)
        have = self.installed()
        if name in have:
            raise PackError(f"the pack '{name}' is already installed (version "
                            f"{have[name]['version']}); upgrade it instead")
        self._check_requires(pack, have)
        self._check_clashes(pack, have)
        plan = self.ws.plan(self._install_docs(pack))
        out = PackPlan(pack.name, "install", pack.version,
                       definitions=[("add", d.kind, d.name) if d.kind != "extension" else
                                    ("extend", "object",
                                     f"{d.data['object']} (+{len(d.data['fields'])} fields)")
                                    for d in pack.documents],
                       steps=[s.describe() for s in plan.steps], notes=list(plan.notes),
                       roles=self._missing_roles(pack))
        if sample_data:
            out.sample_records = count_samples(pack.sample_files)
        return out

    def _missing_roles(self, pack: Pack) -> list[str]:
        t = self.ws.table("role")
        with self.ws.read_engine.connect() as c:
            have = set(c.scalars(select(t.c.code)))
        return [r["code"] for r in pack.roles if r["code"] not in have]

    def install(self, name: str, sample_data: bool = False, author: str | None = None,
                progress: Callable[[int], None] | None = None) -> PackResult:
        pack = self.pack(name)
        plan = self.plan_install(name, sample_data)
        with self._transaction() as conn:
            if pack.name in store.installed(conn):
                raise PackError(f"the pack '{name}' is already installed")
            self.ws.apply(self._install_docs(pack), author=author or "system",
                          comment=f"install pack {pack.name} {pack.version}", conn=conn)
            ensure_roles(self.ws, pack.roles, conn=conn)
            self._record(conn, pack, new=True)
            samples = self._load_samples(conn, pack, progress) if sample_data else {}
            revision = self.ws.meta.revision
        return PackResult(plan, revision, samples)

    def _load_samples(self, conn: Connection, pack: Pack,
                      progress: Callable[[int], None] | None) -> dict[str, int]:
        loader = SampleLoader(self.ws, conn, progress)
        for path in pack.sample_files:
            loader.load(path)
        loader.finish()
        return loader.counts

    def load_sample_data(self, name: str,
                         progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Load an installed pack's sample data (one transaction)."""
        pack = self.pack(name)
        if name not in self.installed():
            raise PackError(f"the pack '{name}' is not installed")
        with self._transaction() as conn:
            return self._load_samples(conn, pack, progress)

    # -- upgrade ---------------------------------------------------------------------

    def _upgrade_docs(self, pack: Pack, row: dict[str, Any]
                      ) -> tuple[list[Document], list[tuple[str, str, str]], list[str]]:
        base = {(d["kind"], d["data"].get("name") if d["kind"] != "extension"
                 else d["data"]["object"]): d["data"] for d in row["documents"]}
        stored = self.ws.state.documents
        docs, changes, notes = [], [], []
        for d in pack.documents:
            theirs = _stripped(d)
            if d.kind == "extension":
                key = ("extension", theirs["object"])
                target = stored.get(("object", theirs["object"]), {})
                merged = merge_extension(base.get(key), theirs, target, notes)
                if base.get(key) != theirs:
                    changes.append(("extend", "object", theirs["object"]))
                docs.append(Document("extension", merged, d.source, d.pointer))
                continue
            key = (d.kind, d.name)
            ours = stored.get(key)
            if key not in base and ours is None:
                changes.append(("add", d.kind, d.name))
            elif base.get(key) != theirs:
                changes.append(("update", d.kind, d.name))
            else:
                continue  # unchanged by the pack: the admin's version stays as it is
            docs.append(Document(d.kind, merge_definition(d.kind, base.get(key), theirs,
                                                          copy.deepcopy(ours) if ours else None,
                                                          notes), d.source, d.pointer))
        now = {(d.kind, d.name) for d in pack.documents if d.kind != "extension"}
        for kind, name in sorted(k for k in base if k[0] != "extension" and k not in now):
            notes.append(f"{kind} {name} is no longer shipped; kept")
        return docs + user_role_documents(self.ws, pack.roles), changes, notes

    def plan_upgrade(self, name: str) -> PackPlan:
        pack = self.pack(name)
        have = self.installed()
        row = have.get(name)
        if row is None:
            raise PackError(f"the pack '{name}' is not installed; install it first")
        if version_key(pack.version) <= version_key(row["version"]):
            raise PackError(f"the pack '{name}' is up to date (version {row['version']})")
        self._check_requires(pack, have)
        self._check_clashes(pack, have)
        docs, changes, notes = self._upgrade_docs(pack, row)
        plan = self.ws.plan(docs) if docs else None
        return PackPlan(pack.name, "upgrade", pack.version, row["version"], changes,
                        [s.describe() for s in plan.steps] if plan else [],
                        notes + (plan.notes if plan else []), self._missing_roles(pack),
                        destructive=bool(plan and plan.destructive))

    def upgrade(self, name: str, author: str | None = None) -> PackResult:
        pack = self.pack(name)
        plan = self.plan_upgrade(name)
        with self._transaction() as conn:
            row = store.installed(conn)[name]
            docs, _changes, _notes = self._upgrade_docs(pack, row)
            if docs:
                self.ws.apply(docs, author=author or "system",
                              comment=f"upgrade pack {name} {row['version']} -> {pack.version}",
                              conn=conn)
            ensure_roles(self.ws, pack.roles, conn=conn)
            self._record(conn, pack, new=False)
            revision = self.ws.meta.revision
        return PackResult(plan, revision)

    # -- uninstall -------------------------------------------------------------------

    def _forget_records(self, conn: Connection, objects: list[str]) -> None:
        _forget(self.ws, conn, objects)

    def _held(self, conn: Connection, row: dict[str, Any]) -> list[str]:
        """What data the pack's objects and added fields hold: 'object: N records'."""
        held = []
        meta = self.ws.meta
        for d in row["definitions"]:
            if d["kind"] == "object" and d["name"] in meta.objects:
                t = self.ws.table(d["name"])
                n = conn.scalar(select(func.count()).select_from(t))
                if n:
                    held.append(f"{d['name']}: {n} records")
        for obj, fields in row["extends"].items():
            if obj not in meta.objects:
                continue
            t = self.ws.table(obj)
            for f in fields:
                if f in t.c:
                    n = conn.scalar(select(func.count()).select_from(t).where(t.c[f].isnot(None)))
                    if n:
                        held.append(f"{obj}.{f}: {n} values")
        return held

    def _uninstall_docs(self, name: str, have: dict[str, dict[str, Any]]
                        ) -> tuple[list[Document], list[tuple[str, str]]]:
        row = have[name]
        for other, r in have.items():
            if other != name and name in r["requires"]:
                raise PackError(f"the pack '{other}' needs '{name}'; uninstall it first")
        stored = self.ws.state.documents
        removals = [(d["kind"], d["name"]) for d in row["definitions"]
                    if (d["kind"], d["name"]) in stored]
        docs = []
        for obj, fields in row["extends"].items():
            data = stored.get(("object", obj))
            if data is None:
                continue
            data = copy.deepcopy(dict(data))
            data["fields"] = [f for f in data["fields"] if f["name"] not in set(fields)]
            for view in (data.get("views") or {}).values():
                _drop_from_view(view, set(fields))
            docs.append(Document("object", data, f"uninstall {name}"))
        return docs, removals

    def plan_uninstall(self, name: str) -> PackPlan:
        have = self.installed()
        if name not in have:
            raise PackNotFound(f"the pack '{name}' is not installed")
        docs, removals = self._uninstall_docs(name, have)
        plan = self.ws.plan(docs, remove=removals)
        with self.ws.engine.connect() as conn:
            held = self._held(conn, have[name])
        return PackPlan(name, "uninstall", have[name]["version"],
                        definitions=[("remove", k, n) for k, n in removals]
                        + [("shrink", "object", d.name) for d in docs],
                        steps=[s.describe() for s in plan.steps],
                        notes=[f"holds data: {h}" for h in held] + list(plan.notes),
                        destructive=bool(held))

    def uninstall(self, name: str, allow_data_loss: bool = False,
                  author: str | None = None) -> PackResult:
        plan = self.plan_uninstall(name)
        with self._transaction() as conn:
            have = store.installed(conn)
            if name not in have:
                raise PackNotFound(f"the pack '{name}' is not installed")
            held = self._held(conn, have[name])
            if held and not allow_data_loss:
                raise PackError(f"the pack '{name}' holds data ({'; '.join(held)}); uninstalling "
                                "would delete it: allow data loss (--allow-data-loss) to go ahead")
            docs, removals = self._uninstall_docs(name, have)
            self.ws.apply(docs, allow_data_loss=allow_data_loss, author=author or "system",
                          comment=f"uninstall pack {name}", remove=removals, conn=conn)
            self._forget_records(conn, [n for k, n in removals if k == "object"])
            store.forget(conn, name)
            revision = self.ws.meta.revision
        return PackResult(plan, revision)


def _forget(ws: Workspace, conn: Connection, objects: list[str]) -> None:
    """Delete what system tables keep about the records of removed objects (history,
    stage visits, approval requests and their tasks and events, notifications, counters,
    saved views), so a later install starts clean."""
    if not objects:
        return
    from sqlalchemy import delete

    req = ws.table_of("rapport_approval_request")
    ids = select(req.c.id).where(req.c.object.in_(objects)).scalar_subquery()
    for name in ("rapport_approval_task", "rapport_approval_event"):
        t = ws.table_of(name)
        conn.execute(delete(t).where(t.c.request_id.in_(ids)))
    for name in ("rapport_notification", "rapport_approval_request", "rapport_history",
                 "rapport_stage_history", "rapport_sequence", "rapport_saved_view",
                 "rapport_hook_failure"):
        t = ws.table_of(name)
        conn.execute(delete(t).where(t.c.object.in_(objects)))


def _drop_from_view(view: Any, fields: set[str]) -> None:
    """Take removed fields out of a view (list columns, kanban cards, form sections)."""
    if not isinstance(view, dict):
        return
    for key in ("columns", "card", "fields"):
        if isinstance(view.get(key), list):
            view[key] = [f for f in view[key] if f not in fields]
    for section in view.get("sections", ()) or ():
        _drop_from_view(section, fields)


__all__ = ["PackError", "PackManager", "PackNotFound", "PackPlan", "PackResult"]
