"""Webhooks: how Rapport tells ERPs and other systems about record changes.

An admin subscribes a URL to an object's events (created, updated, deleted). Every change
writes one outbox row per subscription in the change's own transaction, so a change that
rolls back sends nothing and a committed one is never lost. The worker delivers the outbox
(``@every 5s``): a POST of the JSON payload signed with HMAC-SHA256
(``X-Rapport-Signature: t=<unix time>,v1=<hex>``), retried with exponential backoff
(10 s, 20 s, 40 s ... at most an hour, 10 attempts). Every attempt is logged; an admin
can redeliver any event from the delivery log. The same is in the REST API under
``/api/v1/x/webhooks`` (subscriptions, the log, redeliver).

Settings (rapport.json): ``"plugin_settings": {"webhooks": {"timeout": 10}}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import rapport
from rapport.plugins import Job, NavLink

from . import delivery, store
from .api import WebhooksApi
from .screens import WebhookScreens

HERE = Path(__file__).resolve().parent


@rapport.hookimpl
def register_tables() -> Any:
    return store.TABLES


@rapport.hookimpl
def record_after_save(workspace: Any, object_name: str, record: dict[str, Any],
                      previous: dict[str, Any] | None, user: Any, connection: Any) -> None:
    store.enqueue(workspace, connection, object_name,
                  "created" if previous is None else "updated", record, previous, user)


@rapport.hookimpl
def record_after_delete(workspace: Any, object_name: str, record: dict[str, Any], user: Any,
                        connection: Any) -> None:
    store.enqueue(workspace, connection, object_name, "deleted", record, None, user)


@rapport.hookimpl
def scheduled_jobs(workspace: Any) -> list[Any]:
    return [Job("webhooks.deliver", "@every 5s", delivery.deliver_due, lease_seconds=900)]


@rapport.hookimpl
def register_routes(workspace: Any, screens: Any) -> list[Any]:
    return [*WebhooksApi(workspace, screens).routes(), *WebhookScreens(workspace, screens).routes()]


@rapport.hookimpl
def register_template_dirs() -> list[str]:
    return [str(HERE / "templates")]


@rapport.hookimpl
def register_nav_links(workspace: Any) -> list[Any]:
    return [NavLink({"en": "Webhooks", "zh-CN": "Webhook"}, "/x/webhooks")]
