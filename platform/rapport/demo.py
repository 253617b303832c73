"""Coherent sample data for a demo workspace, saved through the record service."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from .auth.users import actor_of, create_user
from .records.actor import Actor

if TYPE_CHECKING:
    from .workspace import Workspace

COMPANIES = [
    ("Acme Robotics", "manufacturing", "Shenzhen", "China"), ("Northwind Foods", "retail", "Seattle", "USA"),
    ("Blue River Energy", "energy", "Calgary", "Canada"), ("Helios Clinics", "healthcare", "Lyon", "France"),
    ("Summit Capital", "finance", "London", "UK"), ("Lakeside College", "education", "Boston", "USA"),
    ("Quantum Parts", "manufacturing", "Stuttgart", "Germany"), ("杭州云帆科技", "technology", "Hangzhou", "China"),
    ("Greenfield Farms", "agriculture", "Des Moines", "USA"), ("Orbit Logistics", "services", "Rotterdam", "Netherlands"),
    ("上海明德医疗", "healthcare", "Shanghai", "China"), ("Vertex Software", "technology", "Austin", "USA"),
    ("Atlas Steel", "manufacturing", "Pittsburgh", "USA"), ("Maple Credit Union", "finance", "Toronto", "Canada"),
    ("Sakura Retail", "retail", "Osaka", "Japan"), ("City of Riverton", "government", "Riverton", "USA"),
]
FIRST = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gao", "Hana", "Ivan", "Jun", "Kofi", "Lena",
         "Mei", "Noah", "Olga", "Priya", "Rui", "Sara", "Tom", "Wei"]
LAST = ["Garcia", "Li", "Smith", "Wang", "Müller", "Kim", "Okafor", "Rossi", "Zhang", "Patel", "Novak",
        "Chen", "Dubois", "Tanaka"]
TITLES = ["CEO", "CFO", "Head of Purchasing", "IT Director", "Operations Manager", "Buyer"]
STAGES = [("prospecting", 10), ("qualification", 20), ("proposal", 50), ("negotiation", 70),
          ("closed_won", 100), ("closed_lost", 0)]
PRODUCTS = [("Sensor kit", "SK-100", "hardware", 480), ("Analytics suite", "AN-200", "software", 12000),
            ("Onboarding", "SV-010", "service", 3500), ("Support plan", "SP-300", "subscription", 2400),
            ("Gateway", "GW-500", "hardware", 1900)]
#: Quotes with a 25% discount the reps asked their manager to approve: (rep, suites sold,
#: what became of it, the rep's comment, the manager's). Over 100,000 an admin decides too.
DISCOUNTS = [
    (0, 4, "pending", "They will sign this month at 25% off.", None),
    (1, 3, "pending", "Price-matching a competitor's offer.", None),
    (0, 2, "pending", None, None),
    (1, 12, "approved by manager", "Three-year commitment; needs the director too.", "Fine by me."),
    (1, 5, "approved", "Pilot for a reference customer.", "Approved, good reference."),
    (0, 6, "rejected", "Year-end push.", "Too deep for a first order; offer 15%."),
]


def seed(ws: Workspace, admin: Actor, scale: int = 1,
         progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Users, accounts, contacts, a pipeline of opportunities in every stage, activities,
    products and quotes. Deterministic: the same data every time."""
    rnd = random.Random(7)
    today = datetime.now(UTC).date()
    counts: dict[str, int] = {}

    def made(kind: str) -> None:
        counts[kind] = counts.get(kind, 0) + 1
        if progress:
            progress(1)

    manager = create_user(ws, "maria@example.com", "manager", "rapport-demo", "Maria Manager")
    # one sales team: the reps read the team's deals and edit their own, Maria the team's
    team = ws.records.create("team", {"name": "Sales", "manager": manager["id"]}, admin)
    manager = ws.records.update("user", manager["id"], {"team": team["id"]}, admin)
    reps = [ws.records.update("user", create_user(
        ws, f"{n.lower()}@example.com", "member", "rapport-demo", f"{n} Seller")["id"],
        {"manager": manager["id"], "team": team["id"]}, admin) for n in ("Sam", "Lin")]
    owners = [admin.id, manager["id"], *(r["id"] for r in reps)]
    products = []
    for name, code, family, price in PRODUCTS:
        products.append(ws.records.create("product", {"name": name, "code": code, "family": family,
                                                      "unit_price": price}, admin))
        made("product")
    accounts = []
    for _ in range(scale):
        for name, industry, city, country in COMPANIES:
            owner = rnd.choice(owners)
            account = ws.records.create("account", {
                "name": name if scale == 1 else f"{name} {counts.get('account', 0) + 1}",
                "industry": industry, "type": rnd.choice(["customer", "prospect", "partner"]),
                "billing_city": city, "billing_country": country,
                "annual_revenue": rnd.randrange(1, 500) * 100_000,
                "employees": rnd.randrange(10, 5000), "owner": owner}, admin)
            made("account")
            accounts.append(account)
            contacts = []
            for _c in range(rnd.randrange(1, 4)):
                first, last = rnd.choice(FIRST), rnd.choice(LAST)
                contacts.append(ws.records.create("contact", {
                    "first_name": first, "last_name": last, "title": rnd.choice(TITLES),
                    "email": f"{first}.{last}@example.com".lower().replace("ü", "u"),
                    "account": account["id"], "owner": owner}, admin))
                made("contact")
            for _o in range(rnd.randrange(1, 4)):
                for kind in _opportunity(ws, admin, rnd, account, contacts, owner, products, today):
                    made(kind)
    for i in range(8):
        ws.records.create("lead", {
            "first_name": rnd.choice(FIRST), "last_name": rnd.choice(LAST),
            "company": f"Prospect {i + 1} Ltd", "source": rnd.choice(["web", "event", "referral"]),
            "status": rnd.choice(["new", "working"]), "rating": rnd.choice(["hot", "warm", "cold"]),
            "estimated_value": rnd.randrange(5, 80) * 1000, "owner": rnd.choice(owners)}, admin)
        made("lead")
    for kind in _discount_requests(ws, admin, actor_of(manager), [actor_of(r) for r in reps],
                                   accounts, products):
        made(kind)
    return counts


def _discount_requests(ws: Workspace, admin: Actor, manager: Actor, reps: list[Actor],
                       accounts: list[dict[str, Any]], products: list[dict[str, Any]]) -> list[str]:
    """The DISCOUNTS quotes, each submitted for approval by its rep and decided as listed
    (the manager first; "approved" and "rejected" end there when no admin step applies)."""
    suite, kit = products[1], products[0]
    kinds = []
    for i, (rep, suites, outcome, asked, answer) in enumerate(DISCOUNTS):
        account = accounts[(i * 5 + 3) % len(accounts)]
        quote = ws.records.create("quote", {
            "name": f"{account['name']} — volume discount", "account": account["id"],
            "status": "draft", "discount": 25, "owner": reps[rep].id}, admin)
        for product, quantity in ((suite, suites), (kit, 10)):
            ws.records.create("quote_line", {"quote": quote["id"], "product": product["id"],
                                             "quantity": quantity,
                                             "unit_price": product["unit_price"]}, admin)
        request = ws.approvals.submit("quote", quote["id"], reps[rep], comment=asked)
        if outcome == "rejected":
            ws.approvals.reject(request["id"], manager, answer)
        elif outcome != "pending":
            ws.approvals.approve(request["id"], manager, answer)
        kinds += ["quote", "quote_line", "quote_line", "approval request"]
    return kinds


def _walk(ws: Workspace, admin: Actor, rnd: random.Random, rid: int, stage: str,
          today: date) -> None:
    """Move a new opportunity along the sales path to ``stage`` (a lost deal drops out
    somewhere on the way), then spread its stage history over the past weeks, so the
    funnel and time-in-stage reports have a plausible story to tell."""
    path = [s for s, _p in STAGES[:4]]
    if stage == "closed_won":
        route = [*path[1:], stage]
    elif stage == "closed_lost":
        route = [*path[1:rnd.randrange(1, 5)], stage]
    else:
        route = path[1:path.index(stage) + 1]
    for step in route:
        ws.workflows.transition("opportunity", rid, step, admin)
    h = ws.table_of("rapport_stage_history")
    with ws.transaction() as conn:
        visits = conn.execute(select(h.c.id).where(h.c.object == "opportunity",
                                                   h.c.record_id == rid).order_by(h.c.id.desc())).all()
        end = datetime.combine(today, datetime.min.time(), UTC) - timedelta(hours=rnd.randrange(1, 72))
        left = None
        for visit in visits:  # newest first: each visit ends where the next one began
            entered = end - timedelta(days=rnd.randrange(2, 25), hours=rnd.randrange(0, 24))
            conn.execute(update(h).where(h.c.id == visit.id).values(entered_at=entered,
                                                                     left_at=left))
            left, end = entered, entered


def _opportunity(ws: Workspace, admin: Actor, rnd: random.Random, account: dict[str, Any],
                 contacts: list[dict[str, Any]], owner: int | None, products: list[dict[str, Any]],
                 today: date) -> list[str]:
    """One opportunity with an activity, and a quote with two lines once it is far enough
    along; returns the kinds of record made, in order."""
    stage, _probability = rnd.choice(STAGES)
    amount = Decimal(rnd.randrange(20, 900) * 250)
    closed = stage.startswith("closed")
    close = today + timedelta(days=rnd.randrange(-90, -1) if closed else rnd.randrange(7, 150))
    opp = ws.records.create("opportunity", {
        "name": f"{account['name']} — {rnd.choice(['expansion', 'pilot', 'renewal', 'rollout'])}",
        "account": account["id"], "amount": amount, "stage": "prospecting",
        "close_date": close, "type": rnd.choice(["new_business", "upsell", "renewal"]),
        "source": rnd.choice(["web", "referral", "event", "partner"]),
        "next_step": None if closed else rnd.choice(["Send proposal", "Demo", "Call CFO", "Legal review"]),
        "owner": owner}, admin)
    _walk(ws, admin, rnd, opp["id"], stage, today)
    contact = rnd.choice(contacts)
    start = datetime.combine(today + timedelta(days=rnd.randrange(-20, 20)),
                             datetime.min.time(), UTC) + timedelta(hours=rnd.randrange(8, 17))
    ws.records.create("activity", {
        "subject": rnd.choice(["Discovery call", "Demo", "Pricing discussion", "Follow-up"]),
        "kind": rnd.choice(["call", "meeting", "task"]), "status": "done" if start.date() < today else "open",
        "start_at": start, "end_at": start + timedelta(minutes=45), "due_date": start.date(),
        "related_object": "opportunity", "related_id": opp["id"], "account": account["id"],
        "contact": contact["id"], "opportunity": opp["id"], "owner": owner}, admin)
    kinds = ["opportunity", "activity"]
    if stage in {"proposal", "negotiation", "closed_won"}:
        quote = ws.records.create("quote", {
            "name": f"Quote for {opp['name']}"[:200], "opportunity": opp["id"], "account": account["id"],
            "status": "sent" if stage != "closed_won" else "accepted",
            "discount": rnd.choice([0, 5, 10]), "owner": owner}, admin)
        for product in rnd.sample(products, 2):
            ws.records.create("quote_line", {
                "quote": quote["id"], "product": product["id"], "quantity": rnd.randrange(1, 20),
                "unit_price": product["unit_price"]}, admin)
        kinds += ["quote", "quote_line", "quote_line"]
    return kinds


#: The industry packs a demo workspace holds, with their sample data.
DEMO_PACKS = ("manufacturing", "education", "healthcare", "finance")


def install_packs(ws: Workspace, password: str | None = None,
                  progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Every industry pack with its sample data (each install one transaction); their
    sample users get ``password`` so they can log in and decide the packs' approvals.
    Returns the records loaded per pack."""
    from .auth.users import set_password
    from .packs import PackManager

    pm = PackManager(ws)
    done = pm.installed()
    counts: dict[str, int] = {}
    for name in DEMO_PACKS:
        if name in done:
            continue
        result = pm.install(name, sample_data=True, author="demo", progress=progress)
        counts[name] = sum(result.samples.values())
        if password:
            for path in pm.pack(name).sample_files:
                if path.stem == "user":
                    from .packs.samples import read_sample

                    for row in read_sample(path):
                        set_password(ws, row["email"], password)
    return counts

