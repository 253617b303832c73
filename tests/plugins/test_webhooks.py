"""The bundled webhooks plugin against a real HTTP receiver on 127.0.0.1: the outbox is
written with the change (and not for a rolled-back one), deliveries are signed, a
receiver that fails or times out is retried with backoff until it recovers, every attempt
is logged, an admin redelivers from the delivery log."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pluginkit import client_for, csrf_of, user, workspace
from sqlalchemy import insert, select
from starlette.testclient import TestClient

from rapport.auth.users import create_token
from rapport.errors import ValidationError
from rapport.plugins.manager import load_bundled
from rapport.plugins.scheduler import Scheduler
from rapport.web.app import create_app
from rapport.workspace import Workspace

webhooks = load_bundled("webhooks")
store, delivery = webhooks.store, webhooks.delivery
SECRET = "whsec_test"


class Receiver:
    """An HTTP server that answers as told: ``ok``, ``fail`` (503) or ``slow``."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.slow_seconds = 1.5
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body,
                                          "mode": receiver.mode})
                if receiver.mode == "slow":
                    time.sleep(receiver.slow_seconds)
                status = 503 if receiver.mode == "fail" else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"busy, try later" if status == 503 else b"thanks")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hooked(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    ws = workspace(tmp_path, database_url, "webhooks",
                   settings={"plugin_settings": {"webhooks": {"timeout": 0.5}}})
    yield ws
    ws.close()


def subscribe(ws: Workspace, url: str, obj: str = "account",
              events: tuple[str, ...] = store.EVENTS) -> int:
    with ws.transaction() as conn:
        return int(conn.execute(insert(store.SUBSCRIPTIONS).values(
            name="ERP", url=url, secret=SECRET, object=obj, events=json.dumps(list(events)),
            active=True, created_at=store.now())).inserted_primary_key[0])


def outbox(ws: Workspace) -> list[dict[str, Any]]:
    with ws.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(store.OUTBOX).order_by(store.OUTBOX.c.id))]


def attempts(ws: Workspace, event_id: int) -> list[dict[str, Any]]:
    with ws.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(store.ATTEMPTS).where(store.ATTEMPTS.c.event_id == event_id)
            .order_by(store.ATTEMPTS.c.id))]


def test_the_outbox_is_written_with_the_change(hooked: Workspace, receiver: Receiver) -> None:
    subscribe(hooked, receiver.url)
    subscribe(hooked, receiver.url, obj="contact", events=("deleted",))
    account = hooked.records.create("account", {"name": "Acme", "annual_revenue": "1200.50"})
    with hooked.transaction() as conn:  # rolled back: its event goes with it
        hooked.records.create("account", {"name": "Ghost"}, conn=conn)
        conn.info["rapport_rollback"] = True
    with pytest.raises(ValidationError):  # refused: nothing to send
        hooked.records.create("account", {"name": ""})
    hooked.records.create("contact", {"last_name": "Ng"})  # not subscribed to creations
    [event] = outbox(hooked)
    assert (event["event"], event["record_id"], event["status"]) == \
        ("account.created", account["id"], "pending")
    body = json.loads(event["payload"])
    assert body["record"]["annual_revenue"] == 1200.5 and body["record"]["name"] == "Acme"
    assert body["event"] == "account.created" and body["user"] == {"id": None,
                                                                 "email": "system"}
    hooked.records.update("account", account["id"], {"name": "Acme Corp"})
    hooked.records.delete("account", account["id"])
    events = outbox(hooked)
    assert [e["event"] for e in events] == ["account.created", "account.updated",
                                            "account.deleted"]
    changes = json.loads(events[1]["payload"])["changes"]
    assert changes["name"] == {"old": "Acme", "new": "Acme Corp"}


def test_sensitive_values_leave_masked(hooked: Workspace, receiver: Receiver) -> None:
    doc = dict(hooked.state.documents[("object", "account")])
    hooked.apply(hooked.documents_from({**doc, "kind": "object", "fields": [
        *doc["fields"], {"name": "tax_id", "type": "text", "sensitive": True}]}))
    subscribe(hooked, receiver.url)
    account = hooked.records.create("account", {"name": "Acme", "tax_id": "DE-123"})
    hooked.records.update("account", account["id"], {"tax_id": "DE-456"})
    created, updated = (json.loads(e["payload"]) for e in outbox(hooked))
    assert created["record"]["tax_id"] == "••••••" and created["record"]["name"] == "Acme"
    assert updated["changes"]["tax_id"] == {"old": "••••••", "new": "••••••"}
    assert "DE-" not in json.dumps([created, updated], ensure_ascii=False)


def test_delivery_retries_a_failing_and_slow_receiver_until_it_recovers(
        hooked: Workspace, receiver: Receiver) -> None:
    subscribe(hooked, receiver.url)
    account = hooked.records.create("account", {"name": "Acme"})
    [event] = outbox(hooked)
    start = event["created_at"]

    receiver.mode = "fail"
    assert delivery.deliver_due(hooked, start) == 0
    [event] = outbox(hooked)
    assert event["status"] == "pending" and event["attempts"] == 1
    assert event["last_status"] == 503 and event["next_attempt_at"] == start + timedelta(seconds=10)
    assert delivery.deliver_due(hooked, start + timedelta(seconds=5)) == 0  # not due yet
    assert len(receiver.received) == 1

    receiver.mode = "slow"
    assert delivery.deliver_due(hooked, start + timedelta(seconds=11)) == 0
    [event] = outbox(hooked)
    assert event["attempts"] == 2 and "no answer within 0.5 seconds" in event["last_error"]
    assert event["next_attempt_at"] == start + timedelta(seconds=11 + 20)  # doubled

    receiver.mode = "ok"
    assert delivery.deliver_due(hooked, start + timedelta(seconds=40)) == 1
    [event] = outbox(hooked)
    assert event["status"] == "delivered" and event["delivered_at"] is not None
    log = attempts(hooked, event["id"])
    assert [(a["attempt"], a["status_code"]) for a in log] == [(1, 503), (2, None), (3, 200)]
    assert log[0]["response"] == "busy, try later" and log[2]["response"] == "thanks"

    sent = receiver.received[-1]
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["x-rapport-event"] == "account.created"
    assert headers["x-rapport-delivery"] == str(event["id"])
    assert delivery.verify(SECRET, headers["x-rapport-signature"], sent["body"])
    assert not delivery.verify("whsec_wrong", headers["x-rapport-signature"], sent["body"])
    assert json.loads(sent["body"])["record_id"] == account["id"]
    ids = {json.loads(r["body"])["id"] for r in receiver.received}
    assert len(ids) == 1  # the same message every time: receivers can drop repeats


def test_a_receiver_that_never_answers_is_given_up_on(hooked: Workspace) -> None:
    subscribe(hooked, "http://127.0.0.1:9/nothing-listens-here")
    hooked.records.create("account", {"name": "Acme"})
    at = outbox(hooked)[0]["created_at"]
    for _ in range(delivery.MAX_ATTEMPTS):
        delivery.deliver_due(hooked, at)
        at += timedelta(hours=2)
    [event] = outbox(hooked)
    assert event["status"] == "dead" and event["attempts"] == delivery.MAX_ATTEMPTS
    assert "cannot connect" in event["last_error"]
    delivery.redeliver(hooked, event["id"])
    assert outbox(hooked)[0]["status"] == "pending"


def test_the_worker_job_delivers(hooked: Workspace, receiver: Receiver) -> None:
    subscribe(hooked, receiver.url)
    hooked.records.create("account", {"name": "Acme"})
    scheduler = Scheduler(hooked)
    try:
        assert "webhooks.deliver" in scheduler.run_pending(wait=True)
    finally:
        scheduler.stop()
    assert outbox(hooked)[0]["status"] == "delivered" and len(receiver.received) == 1


def test_admin_screens_subscriptions_log_and_redeliver(hooked: Workspace,
                                                       receiver: Receiver) -> None:
    client = client_for(hooked, "ann@example.com")
    page = client.get("/x/webhooks")
    assert page.status_code == 200 and "New webhook" in page.text
    assert 'href="/x/webhooks"' in client.get("/").text  # in the sidebar, for admins
    token = csrf_of(page.text)
    bad = client.post("/x/webhooks", data={"name": "", "url": "ftp://x", "object": "nope",
                                           "csrf_token": token})
    assert bad.status_code == 422
    for message in ("Give the webhook a name", "must start with http", "Choose an object",
                    "at least one event"):
        assert message in bad.text
    assert client.post("/x/webhooks", data={"name": "ERP", "url": receiver.url,
                                            "object": "account"}).status_code == 403  # no CSRF
    made = client.post("/x/webhooks", data={"name": "ERP", "url": receiver.url,
                                            "object": "account", "events": ["created"],
                                            "active": "1", "csrf_token": token},
                       follow_redirects=False)
    assert made.status_code == 303
    sub_page = client.get(made.headers["location"])
    assert "whsec_" in sub_page.text

    hooked.records.create("account", {"name": "Acme"})
    receiver.mode = "fail"
    delivery.deliver_due(hooked)
    log = client.get("/x/webhooks/deliveries?status=pending")
    assert "account.created" in log.text and "503" in log.text
    event_id = outbox(hooked)[0]["id"]
    detail = client.get(f"/x/webhooks/deliveries/{event_id}")
    assert "busy, try later" in detail.text and "&#34;name&#34;: &#34;Acme&#34;" in detail.text

    receiver.mode = "ok"
    again = client.post(f"/x/webhooks/deliveries/{event_id}/redeliver",
                        data={"csrf_token": token}, follow_redirects=False)
    assert again.status_code == 303
    assert outbox(hooked)[0]["next_attempt_at"] <= store.now()
    assert delivery.deliver_due(hooked) == 1
    assert "Delivered" in client.get("/x/webhooks/deliveries").text

    member = client_for(hooked, "sam@example.com", "member")
    assert member.get("/x/webhooks").status_code == 403
    assert 'href="/x/webhooks"' not in member.get("/").text


def test_the_rest_api_manages_subscriptions_and_the_log(hooked: Workspace,
                                                        receiver: Receiver) -> None:
    user(hooked, "ann@example.com", "admin")
    user(hooked, "sam@example.com", "member")
    client = TestClient(create_app(hooked))
    admin = {"Authorization": f"Bearer {create_token(hooked, 'ann@example.com')}"}
    member = {"Authorization": f"Bearer {create_token(hooked, 'sam@example.com')}"}
    base = "/api/v1/x/webhooks"
    assert client.get(base).status_code == 401
    assert client.get(base, headers=member).status_code == 403
    assert client.get(base, headers=admin).json() == {"data": []}

    bad = client.post(base, headers=admin, json={"name": "", "url": "ftp://x", "object": "no",
                                                 "events": ["created", "exploded"], "x": 1})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in bad.json()["errors"]} == {"name", "url", "object", "events", "x"}
    assert client.post(base, headers=admin, content=b"{not json").status_code == 400
    assert client.post(base, headers=admin, json=[1]).status_code == 422
    assert client.get(base, headers=admin).json() == {"data": []}  # nothing half-made

    made = client.post(base, headers=admin, json={"name": "ERP", "url": receiver.url,
                                                  "object": "account", "events": ["created"]})
    assert made.status_code == 201, made.text
    sub = made.json()
    assert sub["secret"].startswith("whsec_") and sub["active"] is True
    assert made.headers["location"] == f"{base}/{sub['id']}"
    assert "secret" not in client.get(base, headers=admin).json()["data"][0]

    hooked.records.create("account", {"name": "Acme"})
    receiver.mode = "fail"
    delivery.deliver_due(hooked)
    log = client.get(f"{base}/deliveries?status=pending", headers=admin).json()
    assert [e["event"] for e in log["data"]] == ["account.created"]
    assert log["data"][0]["last_status"] == 503 and log["next_before"] is None
    eid = log["data"][0]["id"]
    one = client.get(f"{base}/deliveries/{eid}", headers=admin).json()
    assert one["payload"]["record"]["name"] == "Acme"
    assert one["attempts"][0]["status_code"] == 503
    assert client.get(f"{base}/deliveries?limit=0", headers=admin).status_code == 422
    assert client.get(f"{base}/deliveries?status=lost", headers=admin).status_code == 422
    assert client.get(f"{base}/deliveries/{eid + 99}", headers=admin).status_code == 404
    assert client.post(f"{base}/deliveries/{eid}/redeliver", headers=member).status_code == 403

    receiver.mode = "ok"
    again = client.post(f"{base}/deliveries/{eid}/redeliver", headers=admin)
    assert again.status_code == 202
    assert delivery.deliver_due(hooked) == 1
    assert client.get(f"{base}/deliveries/{eid}", headers=admin).json()["status"] == "delivered"

    changed = client.patch(f"{base}/{sub['id']}", headers=admin,
                           json={"events": ["created", "deleted"], "active": False})
    assert changed.status_code == 200
    assert changed.json()["events"] == ["created", "deleted"] and not changed.json()["active"]
    assert changed.json()["url"] == receiver.url  # what the body left out stays
    assert client.patch(f"{base}/{sub['id']}", headers=admin,
                        json={"url": "nope"}).status_code == 422
    rotated = client.post(f"{base}/{sub['id']}/secret", headers=admin).json()["secret"]
    assert rotated != sub["secret"]
    assert client.delete(f"{base}/{sub['id']}", headers=admin).status_code == 204
    assert client.get(f"{base}/{sub['id']}", headers=admin).status_code == 404
    assert client.delete(f"{base}/{sub['id']}", headers=admin).status_code == 404
    assert outbox(hooked) == []  # its deliveries went with it
