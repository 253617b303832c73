"""POST /records/{object}/{id}/transition and GET .../stages: the workflow over HTTP."""

from __future__ import annotations

from typing import Any

from rapport.workspace import Workspace


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_a_transition_moves_the_record_and_returns_it(admin, ws: Workspace) -> None:
    opp = admin.post("/api/v1/records/opportunity", json={"name": "Deal", "amount": 10}).json()
    response = admin.post(f"/api/v1/records/opportunity/{opp['id']}/transition",
                          json={"to": "qualification"})
    assert response.status_code == 200
    body = response.json()
    assert body["stage"] == "qualification" and body["probability"] == 20
    assert response.headers["etag"] == '"2"'
    stages = admin.get(f"/api/v1/records/opportunity/{opp['id']}/stages").json()
    assert stages["workflow"] == "opportunity_sales" and stages["current"] == "qualification"
    assert [h["stage"] for h in stages["history"]] == ["prospecting", "qualification"]
    by_name = {s["name"]: s for s in stages["stages"]}
    assert by_name["prospecting"]["state"] == "done"
    assert by_name["proposal"]["allowed"] is False
    assert "Close date is required to enter Proposal" in by_name["proposal"]["reason"]
    assert by_name["closed_lost"]["allowed"] is True
    assert stages["guidance"].startswith("Agree on budget")


def test_a_refused_transition_is_422_naming_the_rule(member, ws: Workspace) -> None:
    opp = member.post("/api/v1/records/opportunity", json={"name": "Deal"}).json()
    body = _problem(member.post(f"/api/v1/records/opportunity/{opp['id']}/transition",
                                json={"to": "closed_won"}), 422)
    assert body["errors"][0] == {
        "field": "stage", "code": "transition_not_allowed",
        "message": "Sales process: cannot move from Prospecting to Closed won "
                   "(no transition allows it)"}
    assert ws.records.get("opportunity", opp["id"])["stage"] == "prospecting"
    # a kanban-style PATCH obeys the same rule
    body = _problem(member.patch(f"/api/v1/records/opportunity/{opp['id']}",
                                 json={"stage": "negotiation"}), 422)
    assert body["errors"][0]["code"] == "transition_not_allowed"


def test_transition_checks_the_version_and_the_body(admin, ws: Workspace) -> None:
    opp = admin.post("/api/v1/records/opportunity", json={"name": "Deal"}).json()
    url = f"/api/v1/records/opportunity/{opp['id']}/transition"
    _problem(admin.post(url, json={"to": "qualification"}, headers={"If-Match": '"9"'}), 412)
    _problem(admin.post(url, json={"to": "qualification", "version": 9}), 412)
    assert _problem(admin.post(url, json={}), 422)["errors"][0]["field"] == "to"
    assert _problem(admin.post(url, json={"to": 5}), 422)["errors"][0]["field"] == "to"
    assert _problem(admin.post(url, json={"to": "x", "version": "1"}), 422)["errors"][0][
        "field"] == "version"
    _problem(admin.post(url, content=b"{not json", headers={"content-type": "application/json"}),
             400)
    _problem(admin.post(url, json={"to": "nowhere"}), 422)
    _problem(admin.post("/api/v1/records/opportunity/999999/transition",
                        json={"to": "qualification"}), 404)
    _problem(admin.post("/api/v1/records/account/1/transition", json={"to": "x"}), 404)
    _problem(admin.get("/api/v1/records/account/1/stages"), 404)
    assert admin.post(url, json={"to": "qualification", "version": 1}).status_code == 200


def test_transitions_need_a_user(client, ws: Workspace) -> None:
    opp = ws.records.create("opportunity", {"name": "Deal"})
    _problem(client.post(f"/api/v1/records/opportunity/{opp['id']}/transition",
                         json={"to": "qualification"}), 401)
    _problem(client.get(f"/api/v1/records/opportunity/{opp['id']}/stages"), 401)


def test_the_openapi_document_describes_the_moves(admin) -> None:
    spec = admin.get("/api/v1/openapi.json").json()
    post = spec["paths"]["/api/v1/records/opportunity/{id}/transition"]["post"]
    to = post["requestBody"]["content"]["application/json"]["schema"]["properties"]["to"]
    assert "closed_won" in to["enum"]
    assert "422" in post["responses"]
    assert "/api/v1/records/opportunity/{id}/stages" in spec["paths"]
    assert "/api/v1/records/account/{id}/transition" not in spec["paths"]  # no workflow
