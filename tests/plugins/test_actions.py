"""Record actions from register_actions: buttons on record pages, bulk actions on lists,
the actions API; one transaction, CSRF, permissions, clear messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pluginkit import client_for, csrf_of, user

import rapport
from rapport.auth.users import create_token
from rapport.errors import NotFound, PermissionDenied, ValidationError
from rapport.plugins import Action, PluginError
from rapport.workspace import Workspace


def mark_vip(workspace: Any, object_name: str, records: list[dict[str, Any]], user: Any,
             connection: Any) -> dict[str, str]:
    for r in records:
        if r["name"] == "Refuse":
            raise rapport.ValidationError(f"{r['name']} cannot be a VIP")
        workspace.records.update(object_name, r["id"], {"type": "customer"}, user,
                                 conn=connection)
    return {"en": f"{len(records)} marked as customers", "zh-CN": f"已标记 {len(records)} 个客户"}


def explode(records: list[dict[str, Any]]) -> None:
    raise RuntimeError("kaboom")


class Vip:
    name = "vip"

    @rapport.hookimpl
    def register_actions(self) -> list[Action]:
        return [Action("mark_customer", {"en": "Mark as customer", "zh-CN": "标记为客户"},
                       mark_vip, objects=("account",), roles=("manager",),
                       available=lambda r: r.get("type") != "customer"),
                Action("explode", "Explode", explode, objects=("account",), bulk=False,
                       confirm="Really explode?"),
                Action("bad name!", "Bad", explode)]


@pytest.fixture
def acting(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    ws = Workspace.open(root, database_url, plugin_modules=[Vip()])
    yield ws
    ws.close()


def test_actions_run_in_one_transaction_with_permissions(acting: Workspace) -> None:


    ws = acting
    mia, sam = user(ws, "mia@example.com", "manager"), user(ws, "sam@example.com")
    a = ws.records.create("account", {"name": "Acme", "owner": mia.id})  # mia changes hers
    b = ws.records.create("account", {"name": "Refuse", "owner": mia.id})
    assert [r.name for r in ws.actions.for_object("account", mia, bulk=True)] == \
        ["mark_customer"]
    assert [r.name for r in ws.actions.for_object("account", sam, record=a)] == ["explode"]
    assert ws.actions.for_object("contact", mia, bulk=True) == []
    assert any("not an Action with a valid name" in p for p in ws.plugins.info("vip").problems)
    with pytest.raises(PermissionDenied):
        ws.actions.run("mark_customer", "account", [a["id"]], sam, bulk=True)
    with pytest.raises(ValidationError, match="Refuse cannot be a VIP"):
        ws.actions.run("mark_customer", "account", [a["id"], b["id"]], mia, bulk=True)
    assert ws.records.get("account", a["id"])["type"] == "prospect"  # all or nothing
    done = ws.actions.run("mark_customer", "account", [a["id"]], mia, bulk=True)
    assert (done.message, done.count) == ("1 marked as customers", 1)
    with pytest.raises(ValidationError, match="does not apply to account"):
        ws.actions.run("mark_customer", "account", [a["id"]], mia, bulk=True)
    with pytest.raises(PluginError, match="plugin 'vip' failed in action explode: RuntimeError"):
        ws.actions.run("explode", "account", [a["id"]], sam)
    with pytest.raises(NotFound):
        ws.actions.run("explode", "account", [a["id"]], sam, bulk=True)  # not a bulk action
    with pytest.raises(NotFound):
        ws.actions.run("nothing", "account", [a["id"]], sam)
    with pytest.raises(ValidationError, match="is not a record id"):
        ws.actions.run("explode", "account", ["x"], sam)


def test_actions_on_the_screens(acting: Workspace) -> None:
    ws = acting
    manager = client_for(ws, "mia@example.com", "manager")
    mia = user(ws, "mia@example.com").id  # the manager changes the accounts she owns
    a = ws.records.create("account", {"name": "Acme", "owner": mia})
    b = ws.records.create("account", {"name": "Beta", "owner": mia})
    page = manager.get(f"/o/account/{a['id']}").text
    assert f'action="/o/account/{a["id"]}/actions/mark_customer"' in page
    token = csrf_of(page)
    assert manager.post(f"/o/account/{a['id']}/actions/mark_customer").status_code == 403
    done = manager.post(f"/o/account/{a['id']}/actions/mark_customer",
                        data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/o/account/{a['id']}"
    after = manager.get(done.headers["location"]).text
    assert "1 marked as customers" in after
    assert "actions/mark_customer" not in after  # no longer available for this record
    # a bulk action from the list, with its message on the list
    listing = manager.get("/o/account").text
    assert 'value="action:mark_customer"' in listing
    bulk = manager.post("/o/account/bulk", data={"csrf_token": token, "_ids": [str(b["id"])],
                                                 "_action": "action:mark_customer",
                                                 "_back": "/o/account"}, follow_redirects=False)
    assert bulk.status_code == 303 and "1 marked as customers" in manager.get("/o/account").text
    # a question first, then the plugin's failure named, nothing changed
    asked = manager.post(f"/o/account/{b['id']}/actions/explode", data={"csrf_token": token})
    assert asked.status_code == 200 and "Really explode?" in asked.text
    failed = manager.post(f"/o/account/{b['id']}/actions/explode",
                          data={"csrf_token": token, "_confirm": "1"}, follow_redirects=True)
    assert "plugin &#39;vip&#39; failed in action explode" in failed.text
    member = client_for(ws, "sam@example.com", "member")
    assert "mark_customer" not in member.get(f"/o/account/{b['id']}").text


def test_actions_over_the_api(acting: Workspace) -> None:
    ws = acting
    client = client_for(ws, "mia@example.com", "manager")
    a = ws.records.create("account", {"name": "Acme", "owner": user(ws, "mia@example.com").id})
    token = create_token(ws, "mia@example.com", None, "read_write")
    auth = {"Authorization": f"Bearer {token}"}
    listed = client.get("/api/v1/records/account/actions", headers=auth).json()["data"]
    assert {x["name"]: x["bulk"] for x in listed} == {"mark_customer": True, "explode": False}
    r = client.post("/api/v1/records/account/actions/mark_customer", json={"ids": [a["id"]]},
                    headers=auth)
    assert r.status_code == 200 and r.json() == {"message": "1 marked as customers", "count": 1,
                                                 "ids": [a["id"]]}
    bad = client.post("/api/v1/records/account/actions/mark_customer", json={"ids": "1"},
                      headers=auth)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "ids"
    assert client.post("/api/v1/records/nope/actions/mark_customer", json={"ids": [1]},
                       headers=auth).status_code == 404
    read_only = create_token(ws, "mia@example.com", None, "read")
    assert client.post(f"/api/v1/records/account/{a['id']}/actions/explode",
                       headers={"Authorization": f"Bearer {read_only}"}).status_code == 403


def test_actions_are_in_the_openapi_and_conform_to_it(acting: Workspace) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    from rapport.web.app import create_app

    user(acting, "fuzz@example.com", "manager")
    acting.records.create("account", {"name": "Seed"})
    headers = {"Authorization": f"Bearer {create_token(acting, 'fuzz@example.com')}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(acting),
                                            headers=headers)
    spec = schema.raw_schema
    action = spec["paths"]["/api/v1/records/{object}/actions/{action}"]["post"]
    assert action["operationId"] == "run_bulk_action"
    names = spec["paths"]["/api/v1/records/{object}/{id}/actions/{action}"]["parameters"][2]
    assert names["schema"]["enum"] == ["explode", "mark_customer"]
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if "actions" not in operation.path:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
