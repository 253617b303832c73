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


PACKS: dict[str, Callable[[random.Random], dict[str, list[dict[str, Any]]]]] = {
    "manufacturing": manufacturing,
}


def main() -> None:
    for name, build in PACKS.items():
        write(name, build(random.Random(name)))


if __name__ == "__main__":
    main()
