"""The approvals REST API: status codes, problem+json, and who may see and do what."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from approvalkit import People, apply, flow, offer, step
from starlette.testclient import TestClient

from rapport.auth.users import create_token
from rapport.web.app import create_app
from rapport.workspace import Workspace

PROBLEM = "application/problem+json"


class Client:
    """A user's view of the API: their Bearer token on every request."""

    def __init__(self, client: TestClient, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method: str):
        def call(url: str, **kwargs):
            return getattr(self.client, method)(f"/api/v1{url}", headers=self.headers, **kwargs)
        return call


@pytest.fixture
def api(ws: Workspace, people: People) -> Iterator[dict[str, Client]]:
    apply(ws, flow(steps=[step("manager", {"manager_of": "owner"}),
                          step("finance", {"team": "finance_team"}, mode="all",
                               when="discount > 40")]))
    with TestClient(create_app(ws), raise_server_exceptions=False) as client:
        yield {name: Client(client, create_token(ws, f"{name}@example.com"))
               for name in ("admin", "boss", "rep", "ann", "ben", "cat")}


def problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["detail"] and isinstance(body["errors"], list)
    if code is not None:
        assert code in {e["code"] for e in body["errors"]}, body
    return body


def submitted(ws: Workspace, people: People, api: dict[str, Client], discount: float = 25,
              **body) -> dict:
    q = offer(ws, people.rep, discount=discount)
    response = api["rep"].post(f"/records/offer/{q['id']}/approvals", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_submit_and_list_a_records_requests(ws: Workspace, people: People, api) -> None:
    q = offer(ws, people.rep)
    response = api["rep"].post(f"/records/offer/{q['id']}/approvals",
                               json={"flow": "big_discount", "comment": "please"})
    assert response.status_code == 201, response.text
    request = response.json()
    assert response.headers["location"] == f"/api/v1/approvals/{request['id']}"
    assert request["status"] == "pending" and request["comment"] == "please"
    assert [s["status"] for s in request["steps"]] == ["pending", "waiting"]
    listed = api["rep"].get(f"/records/offer/{q['id']}/approvals")
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["data"]] == [request["id"]]
    problem(api["rep"].post(f"/records/offer/{q['id']}/approvals"), 409)
    problem(api["rep"].get("/records/offer/999/approvals"), 404)


def test_submit_refusals(ws: Workspace, people: People, api) -> None:
    low = offer(ws, people.rep, discount=5)
    url = f"/records/offer/{low['id']}/approvals"
    body = problem(api["rep"].post(url, json={}), 422, "entry_condition")
    assert "discount > 20" in body["detail"]
    problem(api["rep"].post(url, json={"flow": "nope"}), 404)
    problem(api["rep"].post("/records/offer/424242/approvals", json={}), 404)
    problem(api["rep"].post("/records/nothing/1/approvals", json={}), 404)
    problem(api["rep"].post(url, content=b"{not json"), 400)
    problem(api["rep"].post(url, json=["flow"]), 422)
    problem(api["rep"].post(url, json={"flow": 5}), 422)
    problem(api["rep"].post(url, json={"comment": {"a": 1}}), 422)
    problem(api["rep"].post(url, json={"flwo": "big_discount"}), 422, "unknown_field")
    problem(api["rep"].post(url, json={"comment": "x" * 5000}), 422)


def test_inbox_and_listing(ws: Workspace, people: People, api) -> None:
    mine = submitted(ws, people, api)
    other = ws.approvals.submit("offer", offer(ws, people.ann)["id"], people.ann)
    inbox = api["boss"].get("/approvals?mine=1")
    assert inbox.status_code == 200
    assert [r["id"] for r in inbox.json()["data"]] == [other["id"], mine["id"]]
    assert inbox.json()["data"][0]["record_title"] == "Big deal"
    assert api["rep"].get("/approvals?mine=1").json() == {"data": []}
    assert [r["id"] for r in api["rep"].get("/approvals").json()["data"]] == [mine["id"]]
    assert [r["id"] for r in api["boss"].get("/approvals").json()["data"]] == \
        [other["id"], mine["id"]]
    assert [r["id"] for r in api["admin"].get("/approvals").json()["data"]] == \
        [other["id"], mine["id"]]
    assert api["cat"].get("/approvals").json() == {"data": []}
    problem(api["rep"].get("/approvals?mine=perhaps"), 422)


def test_reading_a_request_is_for_those_involved(ws: Workspace, people: People, api) -> None:
    request = submitted(ws, people, api)
    url = f"/approvals/{request['id']}"
    for name in ("rep", "boss", "admin"):
        got = api[name].get(url)
        assert got.status_code == 200 and got.json()["id"] == request["id"]
    assert api["boss"].get(url).json()["can_decide"] is True
    assert api["rep"].get(url).json()["can_recall"] is True
    problem(api["ann"].get(url), 403)
    problem(api["ann"].post(f"{url}/approve", json={}), 403)
    problem(api["ann"].post(f"{url}/reject", json={}), 403)
    problem(api["ann"].post(f"{url}/recall", json={}), 403)
    problem(api["ann"].post(f"{url}/reassign", json={"to": people.ann.id}), 403)
    problem(api["ann"].post(f"{url}/add-signer", json={"user": people.ann.id}), 403)
    problem(api["rep"].get("/approvals/999999"), 404)
    problem(api["rep"].get(f"/approvals/{2**70}"), 404)
    problem(api["rep"].get("/approvals/abc"), 404)


def test_deciding_over_http(ws: Workspace, people: People, api) -> None:
    request = submitted(ws, people, api, discount=45)
    url = f"/approvals/{request['id']}"
    first = api["boss"].post(f"{url}/approve", json={"comment": "ok from me"})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "pending" and first.json()["step_name"] == "finance"
    problem(api["boss"].post(f"{url}/approve", json={}), 409, "already_decided")
    assert api["ann"].post(f"{url}/approve").status_code == 200  # an empty body is fine
    rejected = api["ben"].post(f"{url}/reject", json={"comment": "no"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    body = problem(api["cat"].post(f"{url}/approve", json={}), 409, "already_decided")
    assert "rejected" in body["detail"]
    problem(api["rep"].post(f"{url}/recall", json={}), 409)
    assert ws.records.get("offer", request["record_id"])["status"] == "rejected"


def test_recall_over_http(ws: Workspace, people: People, api) -> None:
    request = submitted(ws, people, api)
    url = f"/approvals/{request['id']}"
    problem(api["boss"].post(f"{url}/recall", json={}), 403)
    recalled = api["rep"].post(f"{url}/recall", json={"comment": "oops"})
    assert recalled.status_code == 200 and recalled.json()["status"] == "recalled"


def test_a_locked_record_is_409_locked(ws: Workspace, people: People, api) -> None:
    request = submitted(ws, people, api)
    url = f"/records/offer/{request['record_id']}"
    problem(api["rep"].patch(url, json={"name": "Changed"}), 409, "locked")
    body = problem(api["rep"].delete(url), 409, "locked")
    assert "pending approval" in body["detail"]
    assert api["admin"].patch(url, json={"name": "Admin fix"}).status_code == 200


def test_a_refused_field_update_is_422_and_changes_nothing(ws: Workspace, people: People,
                                                           api) -> None:
    apply(ws, flow("tight", when="discount > 90",
                   on_approve={"set": {"discount": "discount + 50"}}))
    q = offer(ws, people.rep, discount=95)
    request = api["rep"].post(f"/records/offer/{q['id']}/approvals",
                              json={"flow": "tight"}).json()
    problem(api["boss"].post(f"/approvals/{request['id']}/approve", json={}), 422)
    assert api["rep"].get(f"/approvals/{request['id']}").json()["status"] == "pending"


def test_reassign_and_add_signer_over_http(ws: Workspace, people: People, api) -> None:
    request = submitted(ws, people, api)
    url = f"/approvals/{request['id']}"
    problem(api["boss"].post(f"{url}/reassign", json={}), 422)
    problem(api["boss"].post(f"{url}/reassign", json={"to": True}), 422)
    problem(api["boss"].post(f"{url}/reassign", json={"to": "ghost@example.com"}), 422,
            "unknown_user")
    problem(api["boss"].post(f"{url}/reassign", json={"to": 10**30}), 422)
    added = api["boss"].post(f"{url}/add-signer", json={"user": "ann@example.com"})
    assert added.status_code == 200
    assert [t["approver_id"] for t in added.json()["steps"][0]["tasks"]] == \
        [people.boss.id, people.ann.id]
    moved = api["boss"].post(f"{url}/reassign", json={"to": people.cat.id, "comment": "away"})
    assert moved.status_code == 200
    assert [t["approver_id"] for t in moved.json()["steps"][0]["tasks"]] == \
        [people.cat.id, people.ann.id]
    admin = api["admin"].post(f"{url}/reassign", json={"to": people.ben.id})
    problem(admin, 422)  # two open tasks: the admin names one
    task = moved.json()["steps"][0]["tasks"][1]["id"]
    admin = api["admin"].post(f"{url}/reassign", json={"to": people.ben.id, "task": task})
    assert admin.status_code == 200
    problem(api["admin"].post(f"{url}/reassign", json={"to": people.ben.id, "task": "x"}), 422)


def test_delegation_over_http(ws: Workspace, people: People, api) -> None:
    assert api["boss"].get("/me/delegation").json() == {"delegation": None}
    put = api["boss"].put("/me/delegation", json={"to": "ann@example.com",
                                                  "until": "2099-12-31T00:00:00Z"})
    assert put.status_code == 200, put.text
    delegation = put.json()["delegation"]
    assert delegation["delegate_id"] == people.ann.id and delegation["active"] is True
    assert delegation["until"].startswith("2099-12-31T00:00:00")
    assert api["boss"].get("/me/delegation").json()["delegation"]["delegate_id"] == people.ann.id
    problem(api["boss"].put("/me/delegation", json={"to": people.ann.id, "until": "soon"}), 422)
    problem(api["boss"].put("/me/delegation", json={"to": people.ann.id, "until": 5}), 422)
    problem(api["boss"].put("/me/delegation", json={"to": people.boss.id}), 422)
    problem(api["boss"].put("/me/delegation", json={"until": None}), 422)
    request = submitted(ws, people, api)
    assert [t["delegated_from"] for t in request["steps"][0]["tasks"]] == [people.boss.id]
    assert api["boss"].delete("/me/delegation").status_code == 204
    assert api["boss"].get("/me/delegation").json() == {"delegation": None}


def test_notifications_over_http(ws: Workspace, people: People, api) -> None:
    request = submitted(ws, people, api)
    api["boss"].post(f"/approvals/{request['id']}/approve", json={})
    listed = api["rep"].get("/notifications?unread=1")
    assert listed.status_code == 200
    body = listed.json()
    assert body["unread"] == 1 and [n["kind"] for n in body["data"]] == ["approval_decided"]
    assert body["data"][0]["request_id"] == request["id"]
    assert api["boss"].get("/notifications").json()["unread"] == 1  # was asked to approve
    marked = api["rep"].post("/notifications/read", json={"ids": [body["data"][0]["id"]]})
    assert marked.json() == {"marked": 1, "unread": 0}
    assert api["rep"].get("/notifications?unread=1").json() == {"data": [], "unread": 0}
    assert api["boss"].post("/notifications/read", json={}).json() == {"marked": 1, "unread": 0}
    problem(api["rep"].post("/notifications/read", json={"ids": "all"}), 422)
    problem(api["rep"].post("/notifications/read", json={"ids": [True]}), 422)
    problem(api["rep"].get("/notifications?unread=yes"), 422)


def test_every_route_needs_authentication(ws: Workspace, api) -> None:
    client = api["rep"].client
    for method, url in [("post", "/api/v1/records/offer/1/approvals"),
                        ("get", "/api/v1/records/offer/1/approvals"),
                        ("get", "/api/v1/approvals"), ("get", "/api/v1/approvals/1"),
                        ("post", "/api/v1/approvals/1/approve"),
                        ("post", "/api/v1/approvals/1/add-signer"),
                        ("get", "/api/v1/me/delegation"), ("put", "/api/v1/me/delegation"),
                        ("get", "/api/v1/notifications"),
                        ("post", "/api/v1/notifications/read")]:
        problem(getattr(client, method)(url), 401)


def test_the_openapi_document_describes_the_approval_routes(api) -> None:
    spec = api["admin"].get("/openapi.json").json()
    for path in ("/api/v1/records/{object}/{id}/approvals", "/api/v1/approvals",
                 "/api/v1/approvals/{id}", "/api/v1/approvals/{id}/approve",
                 "/api/v1/approvals/{id}/reject", "/api/v1/approvals/{id}/recall",
                 "/api/v1/approvals/{id}/reassign", "/api/v1/approvals/{id}/add-signer",
                 "/api/v1/me/delegation", "/api/v1/notifications",
                 "/api/v1/notifications/read"):
        assert path in spec["paths"], path
    assert "ApprovalRequest" in spec["components"]["schemas"]
