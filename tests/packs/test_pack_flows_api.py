"""Each pack's stage workflow and approval flow, end to end through the REST API, with
users holding the pack's roles."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import Api, user_with_role
from rapport.packs import PackManager
from rapport.workspace import Workspace


def create(api: Api, obj: str, **values: Any) -> dict[str, Any]:
    r = api.post(f"/api/v1/records/{obj}", json=values)
    assert r.status_code == 201, r.text
    return r.json()


def move(api: Api, obj: str, rid: int, to: str, status: int = 200) -> dict[str, Any]:
    r = api.post(f"/api/v1/records/{obj}/{rid}/transition", json={"to": to})
    assert r.status_code == status, r.text
    return r.json()


def submit(api: Api, obj: str, rid: int, flow: str) -> dict[str, Any]:
    r = api.post(f"/api/v1/records/{obj}/{rid}/approvals", json={"flow": flow})
    assert r.status_code == 201, r.text
    return r.json()


def decide(api: Api, request_id: int, verdict: str = "approve") -> dict[str, Any]:
    r = api.post(f"/api/v1/approvals/{request_id}/{verdict}", json={"comment": "ok"})
    assert r.status_code == 200, r.text
    return r.json()


def get(api: Api, obj: str, rid: int) -> dict[str, Any]:
    r = api.get(f"/api/v1/records/{obj}/{rid}")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def installed(ws: Workspace, request: pytest.FixtureRequest) -> Workspace:
    PackManager(ws).install(request.param)
    return ws


@pytest.mark.parametrize("installed", ["manufacturing"], indirect=True)
def test_manufacturing_rfq_and_quote_discount(installed: Workspace, client: TestClient,
                                             admin: Api) -> None:
    ws = installed
    manager = user_with_role(ws, client, "sm@example.com", "sales_manager")
    finance = user_with_role(ws, client, "fin@example.com", "finance")
    vp = user_with_role(ws, client, "vp@example.com", "vp")
    acc = create(admin, "account", name="Acme Pumps", mfg_account_type="oem")
    prod = create(admin, "product", name="Pump", mfg_family="pumps", unit_price=900)
    rfq = create(admin, "mfg_rfq", name="Acme RFQ", account=acc["id"], product=prod["id"],
                 annual_volume=1000)
    assert rfq["stage"] == "rfq"
    move(admin, "mfg_rfq", rfq["id"], "technical_review")
    refused = move(admin, "mfg_rfq", rfq["id"], "quotation", 422)  # no amount yet
    assert refused["errors"]
    admin.patch(f"/api/v1/records/mfg_rfq/{rfq['id']}", json={"amount": 850000,
                                                               "close_date": "2026-12-01"})
    move(admin, "mfg_rfq", rfq["id"], "quotation")
    move(admin, "mfg_rfq", rfq["id"], "negotiation")
    assert move(admin, "mfg_rfq", rfq["id"], "signed")["stage"] == "signed"

    # 15% discount: the sales manager alone
    small = create(admin, "mfg_quote", rfq=rfq["id"], account=acc["id"], discount=15)
    create(admin, "mfg_quote_line", quote=small["id"], product=prod["id"], quantity=100,
           unit_price=900)
    req = submit(admin, "mfg_quote", small["id"], "mfg_quote_discount")
    assert get(admin, "mfg_quote", small["id"])["status"] == "in_review"
    assert decide(manager, req["id"])["status"] == "approved"
    quote = get(admin, "mfg_quote", small["id"])
    assert quote["status"] == "approved" and float(quote["total"]) == 76500.0

    # 25%: finance, then the VP; the sales manager has no say
    big = create(admin, "mfg_quote", account=acc["id"], discount=25)
    req = submit(admin, "mfg_quote", big["id"], "mfg_quote_discount")
    r = manager.post(f"/api/v1/approvals/{req['id']}/approve", json={})
    assert r.status_code in (403, 409)
    decide(finance, req["id"])
    assert get(admin, "mfg_quote", big["id"])["status"] == "in_review"
    assert decide(vp, req["id"], "reject")["status"] == "rejected"
    assert get(admin, "mfg_quote", big["id"])["status"] == "rejected"
    # a discount of 10% or less needs no approval at all
    plain = create(admin, "mfg_quote", account=acc["id"], discount=5)
    r = admin.post(f"/api/v1/records/mfg_quote/{plain['id']}/approvals",
                   json={"flow": "mfg_quote_discount"})
    assert r.status_code == 422


@pytest.mark.parametrize("installed", ["education"], indirect=True)
def test_education_admission_needs_two_reviewers_then_the_director(
        installed: Workspace, client: TestClient, admin: Api) -> None:
    ws = installed
    rev1 = user_with_role(ws, client, "r1@example.com", "admissions_reviewer")
    rev2 = user_with_role(ws, client, "r2@example.com", "admissions_reviewer")
    director = user_with_role(ws, client, "dir@example.com", "program_director")
    student = create(admin, "edu_student", full_name="Ada Lovelace")
    program = create(admin, "edu_program", name="Mathematics", code="MATH")
    term = create(admin, "edu_term", name="Fall", starts_on="2026-09-01")
    inquiry = create(admin, "edu_inquiry", subject="Maths?", student=student["id"],
                     source="fair", received_on="2026-01-10")
    app = create(admin, "edu_application", student=student["id"], program=program["id"],
                 term=term["id"], inquiry=inquiry["id"], source="fair",
                 inquiry_date="2026-01-10", submitted_on="2026-02-01",
                 decision_date="2026-03-01")
    for stage in ("prospect", "application_started", "submitted", "in_review"):
        move(admin, "edu_application", app["id"], stage)
    move(admin, "edu_application", app["id"], "admitted", 422)  # no decision yet
    req = submit(admin, "edu_application", app["id"], "edu_admission_decision")
    decide(rev1, req["id"])
    assert get(admin, "edu_application", app["id"])["decision_status"] == "in_review"
    r = director.post(f"/api/v1/approvals/{req['id']}/approve", json={})
    assert r.status_code in (403, 409)  # the reviewers first, both of them
    decide(rev2, req["id"])
    assert decide(director, req["id"])["status"] == "approved"
    done = move(admin, "edu_application", app["id"], "admitted")
    assert done["decision_status"] == "approved" and done["days_to_decision"] == 50
    move(admin, "edu_application", app["id"], "deposited")
    assert move(admin, "edu_application", app["id"], "enrolled")["is_enrolled"] == 1


@pytest.mark.parametrize("installed", ["healthcare"], indirect=True)
def test_healthcare_referral_needs_consent_and_out_of_network_approval(
        installed: Workspace, client: TestClient, admin: Api) -> None:
    ws = installed
    coordinator = user_with_role(ws, client, "cc@example.com", "care_coordinator")
    director = user_with_role(ws, client, "md@example.com", "medical_director")
    gp = create(admin, "hc_practitioner", full_name="Dr GP", specialty="primary_care")
    cardio = create(admin, "hc_practitioner", full_name="Dr Heart", specialty="cardiology",
                    in_network=False)
    patient = create(admin, "hc_patient", full_name="Pat Doe", mrn="MRN1",
                     diagnosis="Atrial fibrillation")
    ref = create(admin, "hc_referral", patient=patient["id"], referrer=gp["id"],
                 referred_to=cardio["id"], reason="Palpitations", received_on="2026-05-01",
                 out_of_network=True)
    move(admin, "hc_referral", ref["id"], "triage")
    move(admin, "hc_referral", ref["id"], "insurance_verified")
    refused = move(admin, "hc_referral", ref["id"], "accepted", 422)  # no consent on file
    assert "only with the patient's consent on file" in refused["errors"][0]["message"]
    create(admin, "hc_consent", patient=patient["id"], kind="treatment",
           signed_on="2026-05-02")
    move(admin, "hc_referral", ref["id"], "accepted", 422)  # out of network: not approved yet
    req = submit(admin, "hc_referral", ref["id"], "hc_out_of_network")
    assert get(admin, "hc_referral", ref["id"])["oon_status"] == "in_review"
    decide(coordinator, req["id"])
    assert decide(director, req["id"])["status"] == "approved"
    move(admin, "hc_referral", ref["id"], "accepted")
    admin.patch(f"/api/v1/records/hc_referral/{ref['id']}", json={"appointment_on": "2026-05-20"})
    assert move(admin, "hc_referral", ref["id"], "scheduled")["days_to_appointment"] == 19
    # sensitive fields are flagged in the metadata the API serves
    fields = {f["name"]: f for f in admin.get("/api/v1/meta/objects/hc_patient").json()["fields"]}
    assert fields["diagnosis"]["sensitive"] is True


@pytest.mark.parametrize("installed", ["finance"], indirect=True)
def test_finance_kyc_and_tiered_credit(installed: Workspace, client: TestClient,
                                      admin: Api) -> None:
    ws = installed
    bm = user_with_role(ws, client, "bm@example.com", "branch_manager")
    cc1 = user_with_role(ws, client, "cc1@example.com", "credit_committee")
    cc2 = user_with_role(ws, client, "cc2@example.com", "credit_committee")
    compliance = user_with_role(ws, client, "co@example.com", "compliance")
    hh = create(admin, "fin_household", name="Doe household")
    person = create(admin, "fin_person", full_name="Jo Doe", household=hh["id"],
                    national_id="X123")
    kyc = create(admin, "fin_kyc", person=person["id"], risk_rating="high",
                 requested_on="2026-04-01", verified_on="2026-04-03", expires_on="2027-04-03")
    move(admin, "fin_kyc", kyc["id"], "verified", 422)  # high risk: compliance first
    req = submit(admin, "fin_kyc", kyc["id"], "fin_kyc_high_risk")
    assert decide(compliance, req["id"])["status"] == "approved"
    assert move(admin, "fin_kyc", kyc["id"], "verified")["compliance_status"] == "cleared"

    def loan(amount: int) -> dict[str, Any]:
        row = create(admin, "fin_loan_application", applicant=person["id"], household=hh["id"],
                     product="mortgage", amount=amount, kyc=kyc["id"], term_months=300, rate=4)
        for stage in ("qualified", "fact_find", "kyc", "proposal", "application",
                      "underwriting"):
            move(admin, "fin_loan_application", row["id"], stage)
        move(admin, "fin_loan_application", row["id"], "funded", 422)  # credit not approved
        return row

    small = loan(300000)  # the branch manager alone
    req = submit(admin, "fin_loan_application", small["id"], "fin_credit")
    assert decide(bm, req["id"])["status"] == "approved"
    assert move(admin, "fin_loan_application", small["id"], "funded")["stage"] == "funded"
    big = loan(800000)  # then the whole credit committee, unanimously
    req = submit(admin, "fin_loan_application", big["id"], "fin_credit")
    decide(bm, req["id"])
    decide(cc1, req["id"])
    assert get(admin, "fin_loan_application", big["id"])["credit_status"] == "in_review"
    assert decide(cc2, req["id"])["status"] == "approved"
    move(admin, "fin_loan_application", big["id"], "funded")
    # the pipeline report sees both
    rows = {r["stage"]: r for r in admin.get("/api/v1/reports/fin_loan_pipeline").json()["rows"]}
    assert rows["funded"]["count"] == 2
