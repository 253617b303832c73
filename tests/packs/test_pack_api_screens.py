"""The packs through the REST API, the gallery screen and the command line."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from starlette.testclient import TestClient

from conftest import Api
from rapport.auth.users import create_user
from rapport.cli import main
from rapport.web.app import create_app
from rapport.workspace import Workspace

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_list_packs(admin: Api, member: Api) -> None:
    r = member.get("/api/v1/packs")  # anyone may see what is available
    assert r.status_code == 200
    data = {p["name"]: p for p in r.json()["data"]}
    assert set(data) == {"manufacturing", "education", "healthcare", "finance"}
    assert data["healthcare"]["status"] == "available"
    assert "hc_referral" in data["healthcare"]["objects"]
    assert data["healthcare"]["counts"]["report"] >= 3


def test_install_through_the_api(ws: Workspace, admin: Api, member: Api) -> None:
    r = member.post("/api/v1/packs/education/install", json={})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    r = admin.post("/api/v1/packs/education/install?plan=1", json={"sample_data": True})
    assert r.status_code == 200 and r.json()["applied"] is False
    assert r.json()["plan"]["sample_records"] > 300
    assert "edu_application" not in ws.refresh().objects
    r = admin.post("/api/v1/packs/education/install", json={"sample_data": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["applied"] and body["sample_data"]["edu_application"] > 50
    assert admin.get("/api/v1/records/edu_application?limit=5").json()["data"]
    r = admin.post("/api/v1/packs/education/install")
    assert r.status_code == 409 and "already installed" in r.json()["detail"]
    r = admin.post("/api/v1/packs/education/uninstall")
    assert r.status_code == 409 and "holds data" in r.json()["detail"]
    r = admin.post("/api/v1/packs/education/uninstall", json={"allow_data_loss": True})
    assert r.status_code == 200 and r.json()["applied"]
    assert [p["status"] for p in admin.get("/api/v1/packs").json()["data"]
            if p["name"] == "education"] == ["available"]


def test_bad_requests_are_problems(admin: Api) -> None:
    r = admin.post("/api/v1/packs/nosuchpack/install")
    assert r.status_code == 404
    r = admin.post("/api/v1/packs/finance/install", json={"sample_data": "maybe"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sample_data"
    r = admin.post("/api/v1/packs/finance/install", json={"colour": "red"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"
    r = admin.post("/api/v1/packs/finance/install", content=b"{nope",
                   headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = admin.post("/api/v1/packs/finance/upgrade")
    assert r.status_code == 409 and "not installed" in r.json()["detail"]


def test_the_openapi_document_has_the_pack_routes(admin: Api) -> None:
    paths = admin.get("/api/v1/openapi.json").json()["paths"]
    assert "get" in paths["/api/v1/packs"]
    for action in ("install", "upgrade", "uninstall"):
        assert "post" in paths[f"/api/v1/packs/{{pack}}/{action}"]


def _login(client: TestClient, email: str) -> None:
    page = client.get("/login").text
    r = client.post("/login", data={"email": email, "password": PASSWORD,
                                    "csrf_token": CSRF.search(page).group(1), "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303


def test_the_gallery_installs_after_showing_the_plan(ws: Workspace) -> None:
    create_user(ws, "boss@example.com", "admin", PASSWORD, "Boss")
    create_user(ws, "pat@example.com", "member", PASSWORD, "Pat")
    with TestClient(create_app(ws), raise_server_exceptions=False) as client:
        _login(client, "pat@example.com")
        assert client.get("/packs").status_code == 403
        assert 'href="/packs"' not in client.get("/").text  # no sidebar link for members
    with TestClient(create_app(ws), raise_server_exceptions=False) as client:
        _login(client, "boss@example.com")
        home = client.get("/").text
        assert 'id="nav-packs"' in home
        gallery = client.get("/packs").text
        assert 'id="pack-manufacturing"' in gallery and "Version 1.0.0" in gallery
        assert "RFQs" in gallery  # the objects of each pack
        plan = client.get("/packs/manufacturing/plan?action=install&sample_data=1").text
        assert "create table mfg_rfq" in plan and 'id="pack-progress"' in plan
        token = CSRF.search(plan).group(1)
        r = client.post("/packs/manufacturing/install", data={"sample_data": "1"},
                        follow_redirects=False)
        assert r.status_code == 403  # no CSRF token: refused
        r = client.post("/packs/manufacturing/install",
                        data={"csrf_token": token, "sample_data": "1"},
                        headers={"hx-request": "true"}, follow_redirects=False)
        assert r.status_code == 204 and r.headers["hx-redirect"] == "/packs"
        gallery = client.get("/packs").text
        assert "Installed Manufacturing" in gallery
        assert 'href="/o/mfg_rfq/kanban"' in gallery
        assert 'href="/dashboards/mfg_overview"' in gallery
        assert client.get("/o/mfg_rfq/kanban").status_code == 200
        assert client.get("/dashboards/mfg_overview").status_code == 200
        # the sidebar and the home page group the pack's objects under its label
        home = client.get("/").text
        core, pack = home.index('>Accounts</a>'), home.index('>Manufacturing</p>')
        assert core < pack < home.index('>RFQs</a>')
        zh = client.get("/packs", headers={"accept-language": "zh-CN"})
        assert "行业模板包" in zh.text or "Template packs" in zh.text
        r = client.get("/packs/nosuch/plan")
        assert r.status_code == 404
        plan = client.get("/packs/manufacturing/plan?action=uninstall").text
        assert 'name="allow_data_loss"' in plan


def test_the_command_line(tmp_path: Path, database_url: str) -> None:
    runner = CliRunner()
    home = str(tmp_path / "cli")
    env = {"RAPPORT_HOME": home}
    assert runner.invoke(main, ["init", home, "--database", database_url]).exit_code == 0
    env["RAPPORT_DATABASE_URL"] = database_url
    r = runner.invoke(main, ["pack", "list"], env=env)
    assert r.exit_code == 0 and "healthcare" in r.output and "available" in r.output
    r = runner.invoke(main, ["pack", "install", "healthcare", "--plan"], env=env)
    assert r.exit_code == 0 and "create table hc_referral" in r.output
    r = runner.invoke(main, ["pack", "install", "healthcare", "--sample-data"], env=env)
    assert r.exit_code == 0, r.output
    assert "installed healthcare 1.0.0" in r.output and "100 hc_referral" in r.output
    r = runner.invoke(main, ["pack", "uninstall", "healthcare"], env=env)
    assert r.exit_code == 1 and "--allow-data-loss" in r.output
    r = runner.invoke(main, ["pack", "upgrade", "healthcare"], env=env)
    assert r.exit_code == 1 and "up to date" in r.output
    r = runner.invoke(main, ["pack", "uninstall", "healthcare", "--allow-data-loss"], env=env)
    assert r.exit_code == 0 and "uninstalled healthcare" in r.output
    r = runner.invoke(main, ["pack", "install", "nosuch"], env=env)
    assert r.exit_code == 1 and "no pack named" in r.output
