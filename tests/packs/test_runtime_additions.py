"""The small runtime additions the packs need: ``ws.apply`` inside the caller's
transaction, related objects removed together, transitions and decisions joining a
transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from rapport.records.actor import SYSTEM
from rapport.workspace import Workspace

PARENT = {"name": "zz_parent", "fields": [{"name": "title", "type": "text"}]}
CHILD = {"name": "zz_child", "fields": [
    {"name": "parent", "type": "lookup", "target": "zz_parent"},
    {"name": "stage", "type": "picklist", "options": ["a", "b"], "default": "a"}]}
FLOW = {"kind": "workflow", "name": "zz_flow", "object": "zz_child", "field": "stage",
        "stages": [{"name": "a"}, {"name": "b"}], "transitions": [{"from": "a", "to": "b"}]}


def test_apply_inside_a_transaction_rolls_back_with_it(ws: Workspace) -> None:
    before = ws.meta.revision
    with pytest.raises(RuntimeError), ws.transaction(foreign_keys=False) as conn:
        ws.apply(ws.documents_from([PARENT]), conn=conn)
        ws.records.create("zz_parent", {"title": "x"}, conn=conn)
        assert ws.refresh().revision == before + 1  # not committed: still seen here
        raise RuntimeError("later step failed")
    ws.outer_apply_done(committed=False)
    assert ws.refresh().revision == before and "zz_parent" not in ws.meta.objects
    with ws.engine.connect() as c:
        assert "zz_parent" not in inspect(c).get_table_names()


def test_two_applies_and_writes_in_one_transaction(ws: Workspace) -> None:
    before = ws.meta.revision
    with ws.transaction(foreign_keys=False) as conn:
        ws.apply(ws.documents_from([PARENT]), conn=conn)
        ws.apply(ws.documents_from([CHILD, FLOW]), conn=conn)
        p = ws.records.create("zz_parent", {"title": "x"}, conn=conn)
        c = ws.records.create("zz_child", {"parent": p["id"]}, conn=conn)
        moved = ws.workflows.transition("zz_child", c["id"], "b", SYSTEM, conn=conn)
        assert moved["stage"] == "b"
    ws.outer_apply_done(committed=True)
    assert ws.refresh().revision == before + 2
    assert ws.records.get("zz_child", c["id"])["stage"] == "b"


def test_related_objects_are_removed_together(ws: Workspace) -> None:
    ws.apply(ws.documents_from([PARENT, CHILD]))
    p = ws.records.create("zz_parent", {"title": "x"})
    ws.records.create("zz_child", {"parent": p["id"]})
    ws.apply([], remove=[("object", "zz_parent"), ("object", "zz_child")],
             allow_data_loss=True)
    with ws.engine.connect() as c:
        names = set(inspect(c).get_table_names())
    assert not names & {"zz_parent", "zz_child"}
