"""schemathesis against the live OpenAPI as a member of another team: no 500s, no response
contradicting the spec, and nothing of the records that member cannot read."""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accesskit import team_user
from rapport.auth.users import create_token
from rapport.web.app import create_app
from rapport.workspace import Workspace

EXAMPLES = int(os.environ.get("RAPPORT_FUZZ_EXAMPLES", "8"))
SECRET = "SECRET-east-only"


def test_a_low_privilege_user_gets_no_500_and_no_unreadable_data(ws: Workspace) -> None:
    east = team_user(ws, "east@example.com", "member", "long password", "East")
    team_user(ws, "west@example.com", "member", "long password", "West")
    acc = ws.records.create("account", {"name": SECRET, "owner": east["id"]})
    ws.records.create("opportunity", {"name": SECRET, "account": acc["id"],
                                      "owner": east["id"], "amount": 5})
    ws.records.create("contact", {"last_name": SECRET, "account": acc["id"],
                                  "owner": east["id"]})
    headers = {"Authorization": f"Bearer {create_token(ws, 'west@example.com')}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(ws),
                                            headers=headers)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            response = case.call_and_validate(headers=headers,
                                              excluded_checks=[positive_data_acceptance])
            assert SECRET not in response.text, f"{case.method} {case.path}: leaked"

        try:
            check()
        except Exception as exc:  # every operation's failure, reported together
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    # the seeded ids, asked for directly
    from starlette.testclient import TestClient

    client = TestClient(create_app(ws), raise_server_exceptions=False)
    for name in ("account", "opportunity", "contact"):
        for rid in range(1, 12):
            r = client.get(f"/api/v1/records/{name}/{rid}", headers=headers)
            assert SECRET not in r.text
