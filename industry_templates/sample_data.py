"""Writes the packs' sample data files (sample_data/*.json in each pack folder).

Deterministic: the same files every run. Dates are relative to the install day
({"$today": -30}), so the data always looks current. Run it after changing a pack's
model: ``python industry_templates/sample_data.py``."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def day(n: int) -> dict[str, int]:
    return {"$today": n}


def ref(key: str) -> dict[str, str]:
    return {"$ref": key}


def write(pack: str, files: dict[str, list[dict[str, Any]]]) -> None:
    folder = HERE / pack / "sample_data"
    folder.mkdir(exist_ok=True)
    for name, rows in files.items():
        (folder / f"{name}.json").write_text(
            json.dumps(rows, ensure_ascii=False, indent=1) + "\n", "utf-8")


def users(domain: str, people: list[tuple[str, str, str, str | None]]) -> list[dict[str, Any]]:
    """(ref, full name, role, manager ref) -> user records."""
    out = []
    for key, name, role, manager in people:
        row: dict[str, Any] = {"_ref": key, "email": f"{key}@{domain}", "full_name": name,
                               "role": role}
        if manager:
            row["manager"] = ref(manager)
        out.append(row)
    return out


# -- manufacturing -------------------------------------------------------------------

def manufacturing(rnd: random.Random) -> dict[str, list[dict[str, Any]]]:
    people = users("mfg.example.com", [
        ("m_vp", "Victor Huang", "vp", None), ("m_fin", "Fiona Zhao", "finance", None),
        ("m_mgr", "Marco Rossi", "sales_manager", None), ("m_rep1", "Li Na", "member", "m_mgr"),
        ("m_rep2", "Tom Becker", "member", "m_mgr")])
    reps = ["m_rep1", "m_rep2", "m_mgr"]
    names = [("Dongfeng Motion", "oem"), ("Bosch Rexline", "oem"), ("Ningbo Fluid Tech", "oem"),
             ("Hanover Pumps", "oem"), ("Great Lakes Industrial Supply", "distributor"),
             ("华南机电分销", "distributor"), ("Rhein Distribution", "distributor"),
             ("Sierra Valve Supply", "distributor"), ("Apex Dealer Network", "dealer"),
             ("苏州工控代理", "dealer"), ("Metro Equipment Dealers", "dealer"),
             ("Pacific Machinery", "oem"), ("Nordic Automation", "oem"),
             ("Delta Parts Trading", "distributor"), ("Summit Dealer Group", "dealer"),
             ("Yangtze Heavy Industry", "oem")]
    accounts = [{"_ref": f"ma{i}", "name": n, "mfg_account_type": t, "type": "customer",
                 "industry": "manufacturing", "owner": ref(reps[i % 3]),
                 "mfg_credit_limit": rnd.choice([200000, 500000, 1000000])}
                for i, (n, t) in enumerate(names)]
    families = {"motors": [("Servo motor 400W", 180), ("Induction motor 7.5kW", 620),
                           ("Stepper motor NEMA23", 45)],
                "pumps": [("Centrifugal pump CP-50", 950), ("Gear pump GP-12", 410),
                          ("Dosing pump DP-3", 260)],
                "valves": [("Ball valve DN50", 85), ("Butterfly valve DN150", 140),
                           ("Solenoid valve 24V", 35)],
                "controls": [("PLC controller C200", 720), ("VFD drive 11kW", 880),
                             ("HMI panel 10in", 540)]}
    products, prices = [], {}
    for fam, items in families.items():
        for j, (n, price) in enumerate(items):
            key = f"mp_{fam}_{j}"
            prices[key] = price
            products.append({"_ref": key, "name": n, "code": f"{fam[:3].upper()}-{100 + j}",
                             "family": "hardware", "unit_price": price, "mfg_family": fam,
                             "mfg_lead_time_days": rnd.choice([14, 21, 30, 45])})
    pkeys = list(prices)
    stages = ["rfq", "technical_review", "sample", "quotation", "negotiation", "signed", "lost"]
    rfqs = []
    for i in range(48):
        acc = rnd.randrange(len(accounts))
        prod = rnd.choice(pkeys)
        end = rnd.choices(stages, weights=[6, 6, 5, 6, 5, 12, 8])[0]
        path = stages[1:stages.index(end) + 1] if end != "lost" else \
            [*stages[1:rnd.randint(1, 4)], "lost"]
        if end != "lost" and end in stages[3:] and "sample" in path and rnd.random() < 0.3:
            path.remove("sample")
        volume = rnd.choice([500, 1000, 2000, 5000, 10000])
        price = round(prices[prod] * rnd.uniform(0.8, 0.95), 2)
        start = -rnd.randint(60, 300)
        days = [start]
        for _ in path:
            days.append(min(-1, days[-1] + rnd.randint(7, 30)))
        rfqs.append({"_ref": f"mr{i}", "name": f"{accounts[acc]['name']} – {prod.split('_')[1]} RFQ {2026 - i % 2}",
                     "account": ref(f"ma{acc}"), "product": ref(prod), "annual_volume": volume,
                     "target_price": price, "amount": round(volume * price, 2),
                     "close_date": day(days[-1] + rnd.randint(0, 60) if end not in ("signed", "lost") else days[-1]),
                     "source": rnd.choice(["trade_show", "website", "referral", "existing_customer"]),
                     "owner": ref(accounts[acc]["owner"]["$ref"]),
                     **({"lost_reason": rnd.choice(["Price", "Lead time", "Went with incumbent"])} if end == "lost" else {}),
                     "_path": path, "_days": days})
    quotes, lines = [], []
    quoted = [r for r in rfqs if set(r["_path"]) & {"quotation", "negotiation", "signed"}]
    for i, r in enumerate(quoted[:30]):
        discount = [0, 5, 8, 12, 15, 18, 22, 25][i % 8]
        q: dict[str, Any] = {"_ref": f"mq{i}", "rfq": ref(r["_ref"]), "account": r["account"],
                             "discount": discount, "valid_until": day(rnd.randint(-30, 60)),
                             "owner": r["owner"]}
        if discount > 10:
            if discount <= 20:
                decisions = [["m_mgr", "approve", "Within the band for a volume deal."]] \
                    if i % 3 else [["m_mgr", "pending"]]
            else:
                decisions = [["m_fin", "approve", "Margin still above floor."],
                             ["m_vp", "approve" if i % 2 else "reject",
                              "Strategic account." if i % 2 else "Too deep; offer 18%."]]
                if i % 5 == 0:
                    decisions = [["m_fin", "pending"]]
            q["_approval"] = {"flow": "mfg_quote_discount", "submitter": r["owner"]["$ref"],
                              "comment": "Customer asks for a volume discount.",
                              "decisions": decisions}
        quotes.append(q)
        prod = r["product"]["$ref"]
        lines.append({"quote": ref(f"mq{i}"), "product": ref(prod),
                      "quantity": r["annual_volume"], "unit_price": r["target_price"]})
        extra = rnd.choice(pkeys)
        lines.append({"quote": ref(f"mq{i}"), "product": ref(extra),
                      "quantity": rnd.choice([10, 50, 100]), "unit_price": prices[extra]})
    agreements, periods, plans, payments = [], [], [], []
    signed = [r for r in rfqs if r["_path"] and r["_path"][-1] == "signed"]
    for i, r in enumerate(signed[:14]):
        start = -rnd.choice([330, 270, 210, 150, 90])
        months = 12
        status_path = ["approved", "activated"] + (["expired"] if start < -300 else [])
        if i % 7 == 6:
            status_path = ["cancelled"]
        unit = r["target_price"]
        agreements.append({"_ref": f"mg{i}", "name": f"{r['name'].split(' – ')[0]} supply agreement",
                           "account": r["account"], "product": r["product"], "rfq": ref(r["_ref"]),
                           "start_date": day(start), "end_date": day(start + 365), "unit_price": unit,
                           "owner": r["owner"], "_path": status_path,
                           "_days": [start - 20, start - 10, start][:len(status_path) + 1]})
        monthly = r["annual_volume"] // months
        fam_bias = {"motors": 0.95, "pumps": 0.85, "valves": 1.05, "controls": 0.75}[
            r["product"]["$ref"].split("_")[1]]
        for m in range(months):
            pday = start + m * 30
            planned = monthly
            actual = None if pday > -15 or status_path == ["cancelled"] else \
                int(planned * fam_bias * rnd.uniform(0.8, 1.15))
            row = {"agreement": ref(f"mg{i}"), "account": r["account"], "product": r["product"],
                   "period_start": day(pday), "planned_quantity": planned,
                   "planned_revenue": round(planned * unit, 2)}
            if actual is not None:
                row["actual_quantity"] = actual
                row["actual_revenue"] = round(actual * unit, 2)
            periods.append(row)
        if status_path == ["cancelled"]:
            continue
        for k in range(4):
            due = start + 90 * k + 45
            amount = round(r["annual_volume"] * unit / 4, 2)
            key = f"mpp{i}_{k}"
            paid = 1.0 if due < -60 and rnd.random() < 0.75 else \
                (0.5 if due < 0 and rnd.random() < 0.4 else 0.0)
            status = "paid" if paid == 1.0 else "partially_paid" if paid else "planned"
            plans.append({"_ref": key, "name": f"Installment {k + 1}", "agreement": ref(f"mg{i}"),
                          "account": r["account"], "due_date": day(due), "amount": amount,
                          "status": status, "owner": r["owner"]})
            if paid:
                payments.append({"reference": f"HK-{i:02d}{k}", "payment_plan": ref(key),
                                 "account": r["account"], "received_date": day(min(-1, due + rnd.randint(-5, 20))),
                                 "amount": round(amount * paid, 2),
                                 "method": rnd.choice(["wire", "wire", "acceptance_bill", "check"])})
    claims = []
    for i in range(18):
        acc = rnd.randrange(len(accounts))
        end = rnd.choice(["open", "investigating", "approved", "rejected", "closed", "closed"])
        path = {"open": [], "investigating": ["investigating"], "approved": ["investigating", "approved"],
                "rejected": ["investigating", "rejected"],
                "closed": ["investigating", rnd.choice(["approved", "rejected"]), "closed"]}[end]
        reported = -rnd.randint(5, 200)
        claims.append({"account": ref(f"ma{acc}"), "product": ref(rnd.choice(pkeys)),
                       "serial_number": f"SN{rnd.randint(100000, 999999)}", "reported_on": day(reported),
                       "failure": rnd.choice(["Bearing noise after 300 h", "Seal leak at rated pressure",
                                              "Controller fault code E07", "Coil burnt out"]),
                       "claim_amount": rnd.choice([300, 800, 1500, 4200]),
                       "_path": path, "_days": [reported + i * 5 for i in range(len(path) + 1)]})
    return {"user": people, "account": accounts, "product": products, "mfg_rfq": rfqs,
            "mfg_quote": quotes, "mfg_quote_line": lines, "mfg_agreement": agreements,
            "mfg_agreement_period": periods, "mfg_payment_plan": plans, "mfg_payment": payments,
            "mfg_warranty_claim": claims}


# -- education -----------------------------------------------------------------------

def education(rnd: random.Random) -> dict[str, list[dict[str, Any]]]:
    people = users("edu.example.com", [
        ("e_dir", "Dr. Helen Park", "program_director", None),
        ("e_rev1", "Omar Haddad", "admissions_reviewer", "e_dir"),
        ("e_rev2", "Zhou Min", "admissions_reviewer", "e_dir"),
        ("e_off", "Grace Liu", "member", "e_dir")])
    schools = [("Riverside High School", "high_school"), ("北京第四中学", "high_school"),
               ("Lincoln Academy", "high_school"), ("St. Mary's College", "college"),
               ("上海外国语学校", "language_school"), ("Westfield High", "high_school"),
               ("Harbor Community College", "college"), ("Maple Leaf Language Centre", "language_school")]
    accounts = [{"_ref": f"es{i}", "name": n, "edu_feeder_school": True, "edu_school_type": t,
                 "type": "partner", "industry": "education"} for i, (n, t) in enumerate(schools)]
    programs = [("Computer Science", "CS", "undergraduate", 60, 32000),
                ("Business Administration", "BA", "undergraduate", 80, 28000),
                ("Data Science MSc", "DSM", "graduate", 30, 38000),
                ("Nursing", "NUR", "undergraduate", 40, 26000),
                ("Digital Marketing Certificate", "DMC", "certificate", 25, 9000)]
    prog_rows = [{"_ref": f"ep{i}", "name": n, "code": c, "level": lv, "capacity": cap,
                  "tuition": t, "director": ref("e_dir")}
                 for i, (n, c, lv, cap, t) in enumerate(programs)]
    terms = [("Fall 2025", -300, -360), ("Spring 2026", -120, -170), ("Fall 2026", 75, 30)]
    term_rows = [{"_ref": f"et{i}", "name": n, "starts_on": day(s), "application_deadline": day(d)}
                 for i, (n, s, d) in enumerate(terms)]
    first = ["Aiden", "Bella", "Chen", "Diego", "Emma", "Fatima", "Hiro", "Isla", "Jae", "Kiran",
             "Leo", "Mia", "Nina", "Oscar", "Priya", "Quinn", "Ravi", "Sofia", "Tariq", "Yuki",
             "王芳", "李强", "张伟", "刘洋"]
    last = ["Anderson", "Brown", "Chen", "Diaz", "Evans", "Garcia", "Ito", "Kim", "Nguyen",
            "Okafor", "Patel", "Silva", "Wang", "Zhao"]
    sources = ["website", "website", "fair", "agent", "referral", "social"]
    students, inquiries, apps, reviews, enrolments = [], [], [], [], []
    flow = ["prospect", "application_started", "submitted", "in_review"]
    for i in range(110):
        name = first[i % len(first)] + ("" if first[i % len(first)][0] > "z" else
                                         " " + last[(i * 7) % len(last)])
        term = 0 if i < 40 else 1 if i < 70 else 2
        source = rnd.choice(sources)
        prog = rnd.randrange(len(programs))
        start = terms[term][1] - rnd.randint(120, 240)
        if term == 2:
            end = rnd.choice(["inquiry", "prospect", "application_started", "submitted",
                              "in_review", "in_review", "admitted", "deposited"])
        else:
            end = rnd.choices(["enrolled", "denied", "waitlisted", "admitted", "prospect"],
                              weights=[8, 4, 2, 2, 2])[0]
        status = "enrolled" if end == "enrolled" else "prospective" if end in (
            "inquiry", "prospect") else "applicant"
        students.append({"_ref": f"est{i}", "full_name": name,
                         "email": f"student{i}@mail.example.com", "status": status,
                         "school": ref(f"es{i % len(schools)}"),
                         "date_of_birth": day(-365 * rnd.randint(17, 30)),
                         "country": rnd.choice(["China", "USA", "India", "Brazil", "Nigeria",
                                                "Germany", "Japan"])})
        inquiries.append({"_ref": f"ei{i}", "subject": f"Question about {programs[prog][0]}",
                          "student": ref(f"est{i}"), "program": ref(f"ep{prog}"),
                          "source": source, "received_on": day(start),
                          "message": "Admission requirements and scholarships?"})
        if end == "inquiry" and i % 2:
            continue
        decision = end in ("admitted", "waitlisted", "denied", "deposited", "enrolled")
        if decision:
            path: list[Any] = list(flow)
            verdict = "waitlisted" if end == "waitlisted" else "denied" if end == "denied" else "admitted"
            path.append({"$approval": {"flow": "edu_admission_decision", "submitter": "e_off",
                                       "decisions": [["e_rev1", "approve", "Strong file."],
                                                     ["e_rev2", "approve", "Agree."],
                                                     ["e_dir", "approve", "Confirmed."]]}})
            path.append(verdict)
            if end in ("deposited", "enrolled"):
                path.append("deposited")
            if end == "enrolled":
                path.append("enrolled")
        else:
            path = flow[:flow.index(end) + 1] if end in flow else []
        stages = [x for x in path if isinstance(x, str)]
        days = [start]
        for _ in stages:
            days.append(min(-1, days[-1] + rnd.randint(5, 25)))
        row: dict[str, Any] = {"_ref": f"ea{i}", "student": ref(f"est{i}"),
                               "program": ref(f"ep{prog}"), "term": ref(f"et{term}"),
                               "inquiry": ref(f"ei{i}"), "source": source,
                               "inquiry_date": day(start), "gpa": round(rnd.uniform(2.4, 4.0), 2),
                               "owner": ref("e_off"), "_path": path, "_days": days}
        if "submitted" in stages:
            row["submitted_on"] = day(days[stages.index("submitted") + 1])
        if decision:
            row["decision_date"] = day(days[stages.index(verdict) + 1])
        if end == "in_review" and i % 3 == 0:
            row["_approval"] = {"flow": "edu_admission_decision", "submitter": "e_off",
                                "decisions": [["e_rev1", "approve", "Good essay."],
                                              ["e_rev2", "pending"]]}
        apps.append(row)
        if "in_review" in stages:
            for rv in ("e_rev1", "e_rev2"):
                rec = "deny" if end == "denied" else "waitlist" if end == "waitlisted" else "admit"
                reviews.append({"application": ref(f"ea{i}"), "reviewer": ref(rv),
                                "score": {"admit": rnd.randint(4, 5), "waitlist": 3,
                                          "deny": rnd.randint(1, 2)}[rec],
                                "recommendation": rec, "comments": "Reviewed transcript and essay."})
        if end == "enrolled":
            enrolments.append({"student": ref(f"est{i}"), "application": ref(f"ea{i}"),
                               "program": ref(f"ep{prog}"), "term": ref(f"et{term}"),
                               "enrolled_on": day(days[-1]), "deposit": 1000,
                               "status": "active"})
    return {"user": people, "account": accounts, "edu_program": prog_rows, "edu_term": term_rows,
            "edu_student": students, "edu_inquiry": inquiries, "edu_application": apps,
            "edu_application_review": reviews, "edu_enrolment": enrolments}


# -- healthcare ----------------------------------------------------------------------

def healthcare(rnd: random.Random) -> dict[str, list[dict[str, Any]]]:
    people = users("health.example.com", [
        ("h_dir", "Dr. Amara Obi", "medical_director", None),
        ("h_coord", "Sun Li", "care_coordinator", "h_dir"),
        ("h_intake", "Jordan Blake", "member", "h_coord")])
    orgs = [("Riverside Family Clinic", "clinic", True), ("St. Luke's Hospital", "hospital", True),
            ("仁和医院", "hospital", True), ("Lakeview Orthopedic Center", "clinic", False),
            ("Pinecrest Cancer Institute", "hospital", False), ("BlueCross Demo Health", "payer", True),
            ("平安健康保险", "payer", True)]
    accounts = [{"_ref": f"ho{i}", "name": n, "hc_facility_type": t, "hc_in_network": net,
                 "type": "partner", "industry": "healthcare"} for i, (n, t, net) in enumerate(orgs)]
    docs = [("Dr. Alice Moreau", "primary_care", 0), ("Dr. Ben Carter", "primary_care", 0),
            ("Dr. 王建国", "primary_care", 2), ("Dr. Chloe Adams", "cardiology", 1),
            ("Dr. David Kim", "orthopedics", 3), ("Dr. Elena Petrova", "dermatology", 1),
            ("Dr. Farid Khan", "oncology", 4), ("Dr. Gina Russo", "neurology", 1),
            ("Dr. 李华", "cardiology", 2), ("Dr. Henry Osei", "orthopedics", 1),
            ("Dr. Irene Cho", "oncology", 1), ("Dr. Jonas Berg", "primary_care", 0)]
    practitioners = [{"_ref": f"hp{i}", "full_name": n, "specialty": sp,
                      "organization": ref(f"ho{o}"), "in_network": orgs[o][2],
                      "license_number": f"LIC{10000 + i * 37}"} for i, (n, sp, o) in enumerate(docs)]
    referrers = [i for i, d in enumerate(docs) if d[1] == "primary_care"]
    specialists = [i for i, d in enumerate(docs) if d[1] != "primary_care"]
    first = ["Anna", "Brian", "Carla", "Deng", "Ethan", "Farah", "George", "Hana", "Ian", "Julia",
             "Kenji", "Laura", "Mateo", "Nora", "Owen", "Paula", "陈静", "赵磊", "孙悦", "周杰"]
    last = ["Smith", "Jones", "Lopez", "Nakamura", "Schmidt", "Haddad", "Olsen", "Reyes", "Park"]
    diagnoses = ["Hypertension", "Type 2 diabetes", "Knee osteoarthritis", "Atrial fibrillation",
                 "Migraine", "Psoriasis", "Suspected melanoma", "Lower back pain"]
    patients, consents, plans = [], [], []
    for i in range(80):
        nm = first[i % len(first)]
        nm = nm if nm[0] > "z" else f"{nm} {last[(i * 5) % len(last)]}"
        patients.append({"_ref": f"hpt{i}", "full_name": nm, "mrn": f"MRN{200000 + i * 13}",
                         "date_of_birth": day(-365 * rnd.randint(20, 85)),
                         "sex": rnd.choice(["female", "male"]),
                         "primary_practitioner": ref(f"hp{referrers[i % len(referrers)]}"),
                         "diagnosis": rnd.choice(diagnoses), "notes": "Follow-up as agreed."})
        if i % 9 != 8:  # most patients have signed a treatment consent
            consents.append({"patient": ref(f"hpt{i}"), "kind": "treatment", "status": "active",
                             "signed_on": day(-rnd.randint(30, 700))})
        if i % 4 == 0:
            consents.append({"patient": ref(f"hpt{i}"), "kind": "data_sharing",
                             "status": rnd.choice(["active", "revoked"]),
                             "signed_on": day(-rnd.randint(30, 700))})
        plans.append({"patient": ref(f"hpt{i}"), "payer": ref(f"ho{5 + i % 2}"),
                      "plan_name": rnd.choice(["Silver PPO", "Gold HMO", "Medicare Advantage",
                                               "城镇职工医保"]),
                      "member_id": f"M{rnd.randint(10**8, 10**9 - 1)}",
                      "group_number": f"G{rnd.randint(1000, 9999)}",
                      "network": rnd.choice(["hmo", "ppo", "medicare"]),
                      "valid_from": day(-rnd.randint(100, 600)), "valid_to": day(rnd.randint(30, 400))})
    flow = ["triage", "insurance_verified", "accepted", "scheduled", "completed"]
    referrals, appointments = [], []
    for i in range(100):
        pt = i % 80
        consent = pt % 9 != 8
        to = rnd.choice(specialists)
        oon = not orgs[docs[to][2]][2]
        end = rnd.choices(["received", "triage", "insurance_verified", "accepted", "scheduled",
                           "completed", "rejected"], weights=[4, 5, 5, 5, 8, 14, 5])[0]
        if not consent and end in ("accepted", "scheduled", "completed"):
            end = rnd.choice(["insurance_verified", "rejected"])
        if end == "rejected":
            path: list[Any] = [*flow[:rnd.randint(0, 2)], "rejected"]
        else:
            path = flow[:flow.index(end) + 1] if end in flow else []
        if oon and "accepted" in path:
            path.insert(path.index("accepted"), {"$approval": {
                "flow": "hc_out_of_network", "submitter": "h_intake",
                "comment": "Only specialist available within four weeks.",
                "decisions": [["h_coord", "approve", "Coverage confirmed with payer."],
                              ["h_dir", "approve", "Clinically justified."]]}})
        stages = [x for x in path if isinstance(x, str)]
        start = -rnd.randint(20, 200)
        days = [start]
        for st in stages:
            days.append(min(-1, days[-1] + (rnd.randint(5, 30) if st == "scheduled" else rnd.randint(1, 6))))
        row: dict[str, Any] = {"_ref": f"hr{i}", "patient": ref(f"hpt{pt}"),
                               "referrer": ref(f"hp{referrers[i % len(referrers)]}"),
                               "referred_to": ref(f"hp{to}"),
                               "urgency": "urgent" if i % 6 == 0 else "routine",
                               "reason": f"{docs[to][1].replace('_', ' ').capitalize()} consultation",
                               "out_of_network": oon, "received_on": day(start),
                               "clinical_notes": "See attached letter.", "owner": ref("h_intake"),
                               "_path": path, "_days": days}
        if "scheduled" in stages:
            appt = days[stages.index("scheduled") + 1] + rnd.randint(3, 20)
            appt = min(appt, -1) if "completed" in stages else appt
            row["appointment_on"] = day(appt)
            appointments.append({"patient": ref(f"hpt{pt}"), "practitioner": ref(f"hp{to}"),
                                 "referral": ref(f"hr{i}"),
                                 "starts_at": day(appt),
                                 "status": "completed" if "completed" in stages else "booked",
                                 "visit_notes": "Initial consultation."})
        if oon and end in ("insurance_verified",) and i % 2:
            row["_approval"] = {"flow": "hc_out_of_network", "submitter": "h_intake",
                                "decisions": [["h_coord", "pending"]]}
        referrals.append(row)
    care_plans, tasks = [], []
    items = [("Take medication daily", "medication"), ("Walk 30 minutes", "exercise"),
             ("Follow-up visit in 4 weeks", "follow_up"), ("Diet counselling", "education"),
             ("Check blood pressure weekly", "follow_up")]
    for i in range(36):
        pt = (i * 2) % 80
        status = "completed" if i % 6 == 5 else "active"
        care_plans.append({"_ref": f"hcp{i}", "title": f"{patients[pt]['diagnosis']} plan",
                           "patient": ref(f"hpt{pt}"),
                           "practitioner": ref(f"hp{referrers[i % len(referrers)]}"),
                           "status": status, "starts_on": day(-rnd.randint(10, 180))})
        tasks.append({"care_plan": ref(f"hcp{i}"), "title": "Reach target blood pressure",
                      "kind": "goal", "category": "follow_up",
                      "status": "done" if status == "completed" else "in_progress",
                      "due_on": day(rnd.randint(-30, 120))})
        for title, cat in rnd.sample(items, 3):
            tasks.append({"care_plan": ref(f"hcp{i}"), "title": title, "kind": "task",
                          "category": cat,
                          "status": "done" if status == "completed" else
                          rnd.choice(["open", "open", "in_progress", "done"]),
                          "due_on": day(rnd.randint(-20, 60))})
    return {"user": people, "account": accounts, "hc_practitioner": practitioners,
            "hc_patient": patients, "hc_consent": consents, "hc_member_plan": plans,
            "hc_referral": referrals, "hc_appointment": appointments, "hc_care_plan": care_plans,
            "hc_care_task": tasks}


# -- finance -------------------------------------------------------------------------

def finance(rnd: random.Random) -> dict[str, list[dict[str, Any]]]:
    people = users("bank.example.com", [
        ("f_bm", "Rachel Stone", "branch_manager", None),
        ("f_cc1", "Hiroshi Sato", "credit_committee", None),
        ("f_cc2", "Meera Iyer", "credit_committee", None),
        ("f_comp", "Lukas Weber", "compliance", None),
        ("f_adv1", "Chen Yu", "member", "f_bm"), ("f_adv2", "Sofia Martins", "member", "f_bm")])
    employers = ["Harbor Logistics", "Crescent Software", "东方电气", "Alpine Health Group",
                 "Silverline Retail", "Northgate University"]
    accounts = [{"_ref": f"fe{i}", "name": n, "fin_client_segment": "business", "type": "customer"}
                for i, n in enumerate(employers)]
    surnames = ["Johnson", "Wang", "Müller", "Santos", "Okoye", "Tanaka", "Novak", "Haddad",
                "Li", "Fischer", "Moreau", "Kowalski", "Zhang", "Rossi", "Andersen"]
    firsts = ["Alex", "Maria", "David", "Wei", "Sara", "Kenji", "Lucia", "Omar", "Ying", "Paul",
              "Elena", "Tom", "Nadia", "Raj", "Hanna"]
    households, persons, faccs, holders, goals, kycs, loans = [], [], [], [], [], [], []
    pidx = 0
    verified_kyc: dict[str, str] = {}
    for h in range(30):
        surname = surnames[h % len(surnames)]
        segment = rnd.choices(["mass", "affluent", "private"], weights=[5, 3, 1])[0]
        households.append({"_ref": f"fh{h}", "name": f"{surname} household {h + 1}",
                           "advisor": ref("f_adv1" if h % 2 else "f_adv2"), "segment": segment,
                           "owner": ref("f_adv1" if h % 2 else "f_adv2")})
        members = ["head", "spouse"] + (["dependent"] if h % 3 == 0 else [])
        keys = []
        for role in members:
            key = f"fp{pidx}"
            keys.append(key)
            persons.append({"_ref": key, "full_name": f"{firsts[pidx % len(firsts)]} {surname}",
                            "household": ref(f"fh{h}"), "household_role": role,
                            "email": f"client{pidx}@mail.example.com",
                            "date_of_birth": day(-365 * (rnd.randint(30, 70) if role != "dependent" else rnd.randint(5, 17))),
                            "national_id": f"ID{rnd.randint(10**9, 10**10 - 1)}",
                            "annual_income": 0 if role == "dependent" else rnd.choice([45000, 80000, 120000, 250000]),
                            **({"employer": ref(f"fe{pidx % len(employers)}")} if role != "dependent" else {})})
            if role != "dependent":
                risk = rnd.choices(["low", "medium", "high"], weights=[6, 3, 1])[0]
                end = rnd.choices(["verified", "pending", "failed"], weights=[7, 2, 1])[0]
                req = -rnd.randint(10, 700)
                row: dict[str, Any] = {"_ref": f"fk{pidx}", "person": ref(key), "risk_rating": risk,
                                       "document_type": rnd.choice(["passport", "id_card"]),
                                       "document_number": f"D{rnd.randint(10**7, 10**8 - 1)}",
                                       "requested_on": day(req), "owner": households[-1]["owner"]}
                if end == "verified":
                    row["verified_on"] = day(min(-1, req + rnd.randint(1, 10)))
                    row["expires_on"] = day(rnd.choice([rnd.randint(5, 85), rnd.randint(120, 700)]))
                    path: list[Any] = ["verified"]
                    if risk == "high":
                        path = [{"$approval": {"flow": "fin_kyc_high_risk", "submitter": "f_adv1",
                                               "decisions": [["f_comp", "approve", "Source of funds documented."]]}},
                                "verified"]
                    row["_path"] = path
                    row["_days"] = [req, req + 5]
                    verified_kyc[key] = f"fk{pidx}"
                elif end == "failed":
                    row["_path"] = ["failed"]
                    row["_days"] = [req, req + 3]
                elif risk == "high":
                    row["_approval"] = {"flow": "fin_kyc_high_risk", "submitter": "f_adv2",
                                        "decisions": [["f_comp", "pending"]]}
                kycs.append(row)
            pidx += 1
        head = keys[0]
        for t, lo, hi in [("checking", 2000, 40000), ("savings", 5000, 150000),
                          ("investment", 20000, 2500000), ("mortgage", 100000, 900000),
                          ("card", 200, 8000)]:
            if t in ("investment", "mortgage") and rnd.random() < 0.4:
                continue
            k = f"fa{len(faccs)}"
            mult = 3 if segment == "private" and t == "investment" else 1
            faccs.append({"_ref": k, "name": f"{surname} {t}", "type": t,
                          "number": f"{rnd.randint(10**11, 10**12 - 1)}",
                          "household": ref(f"fh{h}"), "primary_holder": ref(head),
                          "balance": round(rnd.uniform(lo, hi) * mult, 2),
                          "opened_on": day(-rnd.randint(100, 4000)), "status": "open"})
            holders.append({"financial_account": ref(k), "person": ref(head), "role": "primary"})
            if t in ("checking", "mortgage", "investment"):
                holders.append({"financial_account": ref(k), "person": ref(keys[1]), "role": "joint"})
        kind = rnd.choice(["retirement", "education", "home", "emergency"])
        target = {"retirement": 1500000, "education": 200000, "home": 400000, "emergency": 30000}[kind]
        goals.append({"name": f"{kind.capitalize()} fund", "household": ref(f"fh{h}"), "kind": kind,
                      "target_amount": target, "current_amount": round(target * rnd.uniform(0.05, 0.9)),
                      "target_date": day(rnd.randint(300, 7000))})
    flow = ["qualified", "fact_find", "kyc", "proposal", "application", "underwriting"]
    heads = [p_["_ref"] for p_ in persons if p_["household_role"] == "head"]
    for i in range(44):
        who = heads[i % len(heads)]
        hh = next(p_["household"] for p_ in persons if p_["_ref"] == who)
        product = rnd.choice(["mortgage", "mortgage", "personal", "auto", "business"])
        amount = {"mortgage": rnd.choice([280000, 450000, 650000, 900000]),
                  "personal": rnd.choice([15000, 30000, 60000]), "auto": rnd.choice([25000, 45000]),
                  "business": rnd.choice([150000, 600000])}[product]
        end = rnd.choices(["lead", "qualified", "fact_find", "kyc", "proposal", "application",
                           "underwriting", "funded", "declined"],
                          weights=[4, 4, 4, 3, 4, 3, 4, 10, 4])[0]
        if who not in verified_kyc and end in ("proposal", "application", "underwriting", "funded"):
            end = "kyc"
        if end == "declined":
            path = [*flow[:rnd.randint(0, 5 if who in verified_kyc else 3)], "declined"]
        elif end == "funded":
            decisions = [["f_bm", "approve", "Affordability checked."]]
            if amount > 500000:
                decisions += [["f_cc1", "approve", "Within risk appetite."],
                              ["f_cc2", "approve", "Approved."]]
            path = [*flow, {"$approval": {"flow": "fin_credit", "submitter": "f_adv1",
                                          "decisions": decisions}}, "funded"]
        else:
            path = flow[:flow.index(end) + 1] if end in flow else []
        stages = [x for x in path if isinstance(x, str)]
        start = -rnd.randint(30, 330)
        days = [start]
        for _ in stages:
            days.append(min(-1, days[-1] + rnd.randint(3, 20)))
        row = {"applicant": ref(who), "household": hh, "product": product, "amount": amount,
               "term_months": {"mortgage": 300, "personal": 36, "auto": 60, "business": 84}[product],
               "rate": {"mortgage": 4.1, "personal": 8.9, "auto": 6.2, "business": 5.5}[product],
               "expected_funding": day(days[-1] + rnd.randint(5, 45)),
               "owner": ref("f_adv1" if i % 2 else "f_adv2"), "_path": path, "_days": days}
        if who in verified_kyc:
            row["kyc"] = ref(verified_kyc[who])
        if end == "underwriting" and i % 2:
            row["_approval"] = {"flow": "fin_credit", "submitter": "f_adv2",
                                "decisions": [["f_bm", "pending"]]}
        loans.append(row)
    return {"user": people, "account": accounts, "fin_household": households, "fin_person": persons,
            "fin_financial_account": faccs, "fin_account_holder": holders, "fin_goal": goals,
            "fin_kyc": kycs, "fin_loan_application": loans}


PACKS: dict[str, Callable[[random.Random], dict[str, list[dict[str, Any]]]]] = {
    "manufacturing": manufacturing,
    "education": education,
    "healthcare": healthcare,
    "finance": finance,
}


def main() -> None:
    for name, build in PACKS.items():
        write(name, build(random.Random(name)))


if __name__ == "__main__":
    main()
