"""What the bundled plugins cost a write: a CSV import of leads and single creates through
the record service, with no plugin, then with the duplicate check (one indexed look-up and
the key rows per record) and the webhooks outbox (one outbox row per record), on SQLite.
And how long a scheduler takes to claim a tick (one conditional UPDATE).

Rows: RAPPORT_BENCH_PLUGIN_ROWS or RAPPORT_BENCH_ROWS (default 20,000).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import benchkit as bk
import pytest
from sqlalchemy import insert, update

from rapport.plugins.manager import load_bundled
from rapport.plugins.scheduler import Scheduler
from rapport.records.transfer import import_csv
from rapport.workspace import CONFIG_FILE, Workspace

DEFAULT_ROWS = 20_000
CREATES = 300


def _workspace(tmp_path: Path, name: str, plugins: list[str]) -> Workspace:
    root = tmp_path / name
    Workspace.init(root, f"sqlite:///{root / 'rapport.db'}").close()
    config = json.loads((root / CONFIG_FILE).read_text())
    config["plugins"] = {"enabled": plugins}
    (root / CONFIG_FILE).write_text(json.dumps(config))
    ws = Workspace.open(root)
    if "webhooks" in plugins:
        store = load_bundled("webhooks").store
        with ws.transaction() as conn:
            conn.execute(insert(store.SUBSCRIPTIONS).values(
                name="ERP", url="http://127.0.0.1:9/", secret="s", object="lead",
                events='["created"]', active=True, created_at=datetime.now(UTC)))
    return ws


def _leads_csv(path: Path, n: int) -> Path:
    rnd = random.Random(7)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("first_name,last_name,company,email,phone\n")
        for i in range(n):
            fh.write(f"Ann{i},Lee{i},Company {i},ann{i}@example.com,"
                     f"+1 555 {rnd.randrange(10**7):07d}\n")
    return path


@pytest.mark.benchmark
def test_plugin_costs(tmp_path: Path) -> None:
    n = bk.rows_for("plugin", DEFAULT_ROWS)
    csv = _leads_csv(tmp_path / "leads.csv", n)
    bk.banner(f"plugins: importing {n:,} leads, {CREATES} single creates (SQLite)")
    for label, plugins in [("no plugin", []), ("duplicates", ["duplicates"]),
                           ("duplicates + webhooks", ["duplicates", "webhooks"])]:
        ws = _workspace(tmp_path, label.replace(" ", "_").replace("+", ""), plugins)
        try:
            clock = bk.Clock()
            report = import_csv(ws, "lead", csv)
            wall, cpu = clock.stop()
            assert report.created == n and not report.errors
            rate = n / wall
            bk.say(f"  import, {label:<24} {rate:>10,.0f} records/s  (cpu {cpu:.2f} s)")
            bk.record("plugins", f"import records/s, {label}", rate, "records/s")
            samples = []
            for i in range(CREATES):
                clock = bk.Clock()
                ws.records.create("lead", {"last_name": f"Single {i}", "company": f"S{i}",
                                           "email": f"single{i}@example.com"})
                samples.append(clock.stop()[0])
            s = bk.describe_samples(f"create, {label}", samples)
            bk.record("plugins", f"create median, {label}", s["median"] * 1000, "ms")
        finally:
            ws.close()
    ws = _workspace(tmp_path, "scheduler", [])
    scheduler = Scheduler(ws)
    try:
        job = scheduler.jobs[0]
        t = ws.table_of("rapport_job")
        samples = []
        for i in range(200):
            at = datetime.fromtimestamp(1_800_000_000 + 30 * i, UTC)
            clock = bk.Clock()
            assert scheduler.claim(job, at) is not None
            samples.append(clock.stop()[0])
            with ws.transaction() as conn:  # the run "finished": the next tick is free
                conn.execute(update(t).values(lease_until=None))
        s = bk.describe_samples("scheduler: claim a tick", samples)
        bk.record("plugins", "claim a tick, median", s["median"] * 1000, "ms")
    finally:
        scheduler.stop()
        ws.close()
