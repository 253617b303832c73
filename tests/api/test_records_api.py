"""The REST API over real HTTP semantics: status codes, problem+json, concurrency."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from rapport.auth.users import create_token
from rapport.workspace import Workspace

PROBLEM = "application/problem+json"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and isinstance(body["errors"], list)
    return body


def test_unauthenticated_requests_get_401(client: TestClient) -> None:
    for method, url in [("get", "/api/v1/records/account"), ("post", "/api/v1/records/account"),
                        ("get", "/api/v1/records/account/1"), ("get", "/api/v1/openapi.json"),
                        ("get", "/api/v1/meta/objects")]:
        _problem(getattr(client, method)(url), 401)
    _problem(client.get("/api/v1/records/account", headers={"Authorization": "Bearer rpt_nope"}), 401)


def test_crud_roundtrip(admin) -> None:
    created = admin.post("/api/v1/records/account", json={"name": "Acme", "annual_revenue": "1250.5"})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Acme" and body["annual_revenue"] == 1250.5 and body["version"] == 1
    assert created.headers["location"] == f"/api/v1/records/account/{body['id']}"
    got = admin.get(f"/api/v1/records/account/{body['id']}")
    assert got.status_code == 200 and got.headers["etag"] == '"1"'
    patched = admin.patch(f"/api/v1/records/account/{body['id']}", json={"industry": "energy"},
                          headers={"If-Match": '"1"'})
    assert patched.status_code == 200 and patched.json()["version"] == 2
    history = admin.get(f"/api/v1/records/account/{body['id']}/history").json()["data"]
    assert [h["action"] for h in history] == ["update", "create"]
    assert history[0]["field"] == "industry" and history[0]["new_value"] == "energy"
    assert admin.delete(f"/api/v1/records/account/{body['id']}").status_code == 204
    _problem(admin.get(f"/api/v1/records/account/{body['id']}"), 404)


def test_stale_if_match_is_412_and_changes_nothing(admin) -> None:
    rid = admin.post("/api/v1/records/account", json={"name": "Acme"}).json()["id"]
    admin.patch(f"/api/v1/records/account/{rid}", json={"name": "Acme 2"})
    _problem(admin.patch(f"/api/v1/records/account/{rid}", json={"name": "Mine"},
                         headers={"If-Match": "1"}), 412)
    assert admin.get(f"/api/v1/records/account/{rid}").json()["name"] == "Acme 2"
    _problem(admin.patch(f"/api/v1/records/account/{rid}", json={"name": "x"},
                         headers={"If-Match": "abc"}), 422)


def test_validation_errors_name_fields(admin) -> None:
    body = _problem(admin.post("/api/v1/records/opportunity",
                               json={"stage": "nope", "amount": "lots", "close_date": "2024-02-30"}), 422)
    fields = {e["field"]: e for e in body["errors"]}
    assert {"stage", "amount", "close_date"} <= set(fields)
    assert "2024-02-30" in fields["close_date"]["message"]
    body = _problem(admin.post("/api/v1/records/opportunity",
                               json={"name": "Deal", "stage": "proposal"}), 422)
    assert {e["field"] for e in body["errors"]} == {"amount", "close_date"}
    assert {e["field"]: e["code"] for e in body["errors"]} == {
        "amount": "stage_required", "close_date": "close_date_required_late"}


def test_malformed_requests_never_500(admin) -> None:
    _problem(admin.post("/api/v1/records/account", content=b"{not json"), 400)
    _problem(admin.post("/api/v1/records/account", content=b"\xff\xfe"), 400)
    _problem(admin.post("/api/v1/records/account", json=[1, 2]), 422)
    _problem(admin.post("/api/v1/records/account", json={"name": "x" * 10_000_000}), 422)
    _problem(admin.post("/api/v1/records/account", json={"nope": 1, "name": "A"}), 422)
    _problem(admin.get("/api/v1/records/nowhere"), 404)
    _problem(admin.get("/api/v1/records/account?filter[name][zz]=1"), 422)
    _problem(admin.get("/api/v1/records/account?filter[nope]=1"), 422)
    _problem(admin.get("/api/v1/records/account?filter]=1"), 422)
    _problem(admin.get("/api/v1/records/account?sort=-nope"), 422)
    _problem(admin.get("/api/v1/records/account?limit=0"), 422)
    _problem(admin.get("/api/v1/records/account?limit=abc"), 422)
    _problem(admin.get("/api/v1/records/account?cursor=!!!"), 422)
    _problem(admin.get("/api/v1/records/account?filter[employees][gt]=many"), 422)
    _problem(admin.get("/api/v1/records/account/99999999999999999999"), 404)
    _problem(admin.patch("/api/v1/records/account/5", json={"name": "x"}), 404)


def test_list_filters_sort_and_keyset_pages(admin) -> None:
    for i in range(7):
        admin.post("/api/v1/records/account", json={"name": f"Firm {i}", "employees": i * 10,
                                                    "industry": "energy" if i % 2 else "retail"})
    page = admin.get("/api/v1/records/account?filter[industry]=energy&sort=-employees").json()
    assert [r["employees"] for r in page["data"]] == [50, 30, 10] and page["next_cursor"] is None
    page = admin.get("/api/v1/records/account?filter[employees][gte]=20&filter[employees][lt]=50"
                     "&sort=employees").json()
    assert [r["employees"] for r in page["data"]] == [20, 30, 40]
    assert len(admin.get("/api/v1/records/account?q=firm 3").json()["data"]) == 1
    seen, cursor = [], None
    while True:
        url = "/api/v1/records/account?sort=name&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = admin.get(url).json()
        seen += [r["name"] for r in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen) and len(seen) == 7
    assert admin.get("/api/v1/records/account/count?filter[industry]=retail").json() == {"count": 4}


def test_conflicts_are_409(admin) -> None:
    acc = admin.post("/api/v1/records/account", json={"name": "Acme"}).json()
    admin.post("/api/v1/records/opportunity", json={"name": "Deal", "account": acc["id"]})
    body = _problem(admin.delete(f"/api/v1/records/account/{acc['id']}"), 409)
    assert "still refer" in body["detail"]


def test_read_only_token_cannot_write(ws: Workspace, admin, client: TestClient) -> None:
    token = create_token(ws, "admin@example.com", scope="read")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/records/account", headers=headers).status_code == 200
    _problem(client.post("/api/v1/records/account", json={"name": "x"}, headers=headers), 403)


def test_session_cookie_api_writes_need_csrf(ws: Workspace, admin, client: TestClient) -> None:
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    logged = client.post("/login", data={"email": "admin@example.com", "password": "long password",
                                         "csrf_token": token}, follow_redirects=False)
    assert logged.status_code == 303
    assert client.get("/api/v1/records/account").status_code == 200
    _problem(client.post("/api/v1/records/account", json={"name": "forged"}), 403)
    csrf = client.get("/").text.split('name="csrf-token" content="')[1].split('"')[0]
    ok = client.post("/api/v1/records/account", json={"name": "real"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201


def test_meta_objects_plan_apply_delete(admin, member) -> None:
    objects = admin.get("/api/v1/meta/objects").json()["data"]
    assert "opportunity" in {o["name"] for o in objects}
    spec = {"label": {"en": "Project", "zh-CN": "项目"},
            "fields": [{"name": "title", "type": "text", "required": True}]}
    planned = admin.put("/api/v1/meta/objects/project?plan=1", json=spec).json()
    assert planned["applied"] is False and planned["plan"]["steps"][0]["action"] == "create_table"
    assert admin.get("/api/v1/records/project").status_code == 404
    applied = admin.put("/api/v1/meta/objects/project", json=spec).json()
    assert applied["applied"] is True
    assert admin.post("/api/v1/records/project", json={"title": "Launch"}).status_code == 201
    _problem(member.put("/api/v1/meta/objects/project", json=spec), 403)
    _problem(admin.put("/api/v1/meta/objects/project", json={"fields": [{"name": "x", "type": "zzz"}]}), 422)
    _problem(admin.delete("/api/v1/meta/objects/project"), 409)  # holds data
    assert admin.delete("/api/v1/meta/objects/project?allow_data_loss=1").status_code == 200
    _problem(admin.get("/api/v1/records/project"), 404)


@pytest.mark.parametrize("path", ["/api/v1/openapi.json"])
def test_openapi_is_valid_and_describes_every_object(admin, path: str) -> None:
    from jsonschema import Draft202012Validator

    spec = admin.get(path).json()
    assert spec["openapi"].startswith("3.1")
    for name in ("account", "opportunity", "quote_line"):
        assert f"/api/v1/records/{name}" in spec["paths"]
        Draft202012Validator.check_schema(spec["components"]["schemas"][f"{name}_record"])
    params = {p["name"] for p in spec["paths"]["/api/v1/records/opportunity"]["get"]["parameters"]}
    assert {"filter[stage]", "filter[amount][gte]", "q", "sort", "limit", "cursor"} <= params
    import schemathesis

    schemathesis.openapi.from_dict(spec)  # parses as OpenAPI
