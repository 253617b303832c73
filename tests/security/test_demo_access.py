"""The demo under the default roles: the reps read their team's deals and edit their own,
the manager reads and edits the team's, the admin everything."""

from __future__ import annotations

from rapport.auth.users import actor_of, create_user, find_user
from rapport.demo import seed
from rapport.errors import PermissionDenied
from rapport.records.query import Query
from rapport.workspace import Workspace


def test_the_demo_makes_sense_with_record_access(ws: Workspace) -> None:
    admin = actor_of(create_user(ws, "admin@example.com", "admin", "long password"))
    seed(ws, admin)
    sam, maria = (actor_of(find_user(ws, f"{n}@example.com")) for n in ("sam", "maria"))
    everything = ws.records.query("opportunity", Query(limit=1000), admin).data
    team = {maria.id, sam.id, actor_of(find_user(ws, "lin@example.com")).id}
    seen_by_sam = ws.records.query("opportunity", Query(limit=1000), sam).data
    assert seen_by_sam and {r["owner"] for r in seen_by_sam} <= team
    assert len(seen_by_sam) == sum(r["owner"] in team for r in everything) < len(everything)
    seen_by_maria = ws.records.query("opportunity", Query(limit=1000), maria).data
    assert {r["id"] for r in seen_by_maria} == {r["id"] for r in seen_by_sam}
    lins = next(r for r in seen_by_sam if r["owner"] not in {sam.id, maria.id})
    try:
        ws.records.update("opportunity", lins["id"], {"description": "x"}, sam)
        raise AssertionError("a rep edited a teammate's deal")
    except PermissionDenied:
        pass
    ws.records.update("opportunity", lins["id"], {"description": "checked"}, maria)
