"""schemathesis against the approval routes of the live OpenAPI, with a flow, a pending
request and a decided one in place: no 500s, no response that contradicts the spec."""

from __future__ import annotations

import os

import schemathesis
from approvalkit import People, apply, flow, offer
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from rapport.auth.users import create_token
from rapport.web.app import create_app
from rapport.workspace import Workspace

EXAMPLES = int(os.environ.get("RAPPORT_FUZZ_EXAMPLES", "8"))


def test_approval_routes_conform_to_the_openapi(ws: Workspace, people: People) -> None:
    apply(ws, flow())
    for _ in range(2):  # request 1 stays pending, request 2 is decided
        ws.approvals.submit("offer", offer(ws, people.rep)["id"], people.rep)
    ws.approvals.approve(2, people.boss)
    offer(ws, people.rep)  # one more, not submitted yet
    headers = {"Authorization": f"Bearer {create_token(ws, 'boss@example.com')}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(ws),
                                            headers=headers)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations
                  if {"approvals", "notifications"} & set(op.definition.raw.get("tags", ()))]
    assert len(operations) == 14
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as exc:  # every operation's failure, reported together
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
