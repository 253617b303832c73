"""Stored markup is shown as text on every screen, never run."""

from __future__ import annotations

from starlette.testclient import TestClient

from conftest import csrf_of
from rapport.workspace import Workspace

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
HX = {"HX-Request": "true"}


def test_a_stored_script_is_escaped_everywhere(client: TestClient, ws: Workspace) -> None:
    account = ws.records.create("account", {"name": EVIL, "billing_city": EVIL,
                                            "description": EVIL})
    deal = ws.records.create("opportunity", {"name": EVIL, "account": account["id"],
                                             "next_step": EVIL, "amount": 5})
    ws.records.create("contact", {"last_name": EVIL, "account": account["id"]})
    ws.records.create("activity", {"subject": EVIL, "account": account["id"]})
    ws.records.update("opportunity", deal["id"], {"next_step": EVIL + "!"})  # history
    token = csrf_of(client.get("/").text)
    client.post("/o/account/views", data={"csrf_token": token, "name": EVIL, "query_string": "q=x"})
    urls = [
        "/o/account", "/o/opportunity", "/o/contact", "/o/activity",
        f"/o/account/{account['id']}", f"/o/opportunity/{deal['id']}",
        f"/o/account/{account['id']}/edit", f"/o/opportunity/{deal['id']}/edit",
        "/o/opportunity/kanban", "/o/activity/kanban",
        f"/o/opportunity/new?account={account['id']}",
        f"/o/account/{account['id']}/delete",
        "/o/account/lookup?q=script", f"/o/opportunity/{deal['id']}/field/next_step/edit",
        f"/o/opportunity/{deal['id']}/field/account", "/o/opportunity/kanban/cards?value=prospecting",
        f"/o/account?q={EVIL}", f"/o/account?f=name&op=eq&v={EVIL}&v2=",
    ]
    for url in urls:
        response = client.get(url, headers=HX if "lookup" in url or "/field/" in url else {})
        assert response.status_code == 200, url
        assert EVIL not in response.text, url
    page = client.get(f"/o/opportunity/{deal['id']}").text
    assert ESCAPED in page
    assert client.get("/o/account").text.count(ESCAPED) >= 2  # the row and the saved view
    # what a refused form sends back is escaped too
    refused = client.post("/o/opportunity/new", data={"csrf_token": token, "name": EVIL,
                                                      "amount": EVIL})
    assert refused.status_code == 422 and EVIL not in refused.text
    # and the CSV export neutralises nothing needed here, but keeps the text as text
    assert EVIL in client.get("/o/account/export?format=csv").text


def test_a_bad_colour_in_metadata_cannot_inject_css(client: TestClient) -> None:
    from rapport.web.views.widgets import COLOR

    assert COLOR.match("#F59E0B") and not COLOR.match("red;background:url(x)")


NOTE = {"name": "note_page", "label": {"en": "Note page", "zh-CN": "笔记"},
        "fields": [{"name": "name", "type": "text", "required": True},
                   {"name": "body", "type": "rich_text"}],
        "views": {"form": {"sections": [{"label": {"en": "Main"}, "fields": ["name", "body"]}]}}}
RICH = ('<p onclick="x()">Hi <b>there</b><script>alert(1)</script> <a href="javascript:alert(2)">bad</a>'
        ' <a href="https://example.com" style="color:red">good</a><img src=x onerror=alert(3)></p>')


def test_rich_text_keeps_formatting_and_loses_scripts(client: TestClient, ws: Workspace) -> None:
    ws.apply(ws.documents_from(NOTE))
    form = client.get("/o/note_page/new").text
    assert "data-rich" in form and "data-rich-titles" in form
    token = csrf_of(form)
    created = client.post("/o/note_page/new", data={"csrf_token": token, "name": "n", "body": RICH},
                          follow_redirects=False)
    assert created.status_code == 303, created.text
    rid = int(created.headers["location"].rsplit("/", 1)[1])
    stored = ws.records.get("note_page", rid)["body"]
    assert "<b>there</b>" in stored and 'href="https://example.com"' in stored
    for bad in ("script", "onclick", "javascript:", "onerror", "style=", "<img"):
        assert bad not in stored, bad
    page = client.get(f"/o/note_page/{rid}").text
    assert "Hi <b>there</b>" in page  # shown as formatting, not as text
    assert "alert(" not in page and "javascript:" not in page
    # plain text keeps its lines; markup-like text in it stays text
    plain = ws.records.create("note_page", {"name": "p", "body": "a < b\nsecond line"})
    assert plain["body"] == "a &lt; b<br>second line"
    assert "a &lt; b<br>second line" in client.get(f"/o/note_page/{plain['id']}").text
