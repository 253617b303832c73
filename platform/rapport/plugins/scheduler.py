"""The scheduler of the ``scheduled_jobs`` hook: every worker process runs one (``rapport
serve`` in each of its workers, ``rapport worker`` on its own), and a lease row per job in
``rapport_job`` makes each tick of a job run once across all of them.

A tick is the latest time the schedule was due. A worker claims it with one conditional
UPDATE: the row's last claimed tick is older and no run holds the lease. The database
serialises those updates (SQLite's write lock, PostgreSQL's row lock), so exactly one
worker wins a tick; a job still running holds its lease (extended while it runs), and a
worker that died mid-run loses it after ``lease_seconds``. After downtime a job runs once
for the latest tick it missed, not once per missed tick.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, Table, and_, or_, select, update

from ..errors import RapportError
from . import Job
from .manager import accepts

if TYPE_CHECKING:
    from ..workspace import Workspace

log = logging.getLogger("rapport.scheduler")

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12),
          ("weekday", 0, 6))
MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
WEEKDAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
           "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
           "@annually": "0 0 1 1 *"}
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ScheduleError(RapportError):
    code = "invalid_schedule"


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    names = MONTHS if name == "month" else WEEKDAYS if name == "weekday" else {}
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
        except ValueError:
            raise ScheduleError(f"{name}: '{step_text}' is not a step") from None
        if step < 1:
            raise ScheduleError(f"{name}: a step must be at least 1")
        if base == "*":
            start, end = low, high
        else:
            first, _, last = base.partition("-")

            def number(word: str) -> int:
                word = word.lower()
                if word in names:
                    return names[word]
                if not word.isdigit():
                    raise ScheduleError(f"{name}: '{word}' is not a number")
                value = int(word)
                if name == "weekday" and value == 7:  # Sunday, either way
                    return 0
                if not low <= value <= high:
                    raise ScheduleError(f"{name}: {value} is not within {low}-{high}")
                return value
            start = number(first)
            end = number(last) if last else (high if step_text else start)
            if end < start:
                raise ScheduleError(f"{name}: the range {base} runs backwards")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """A cron expression (UTC) or a fixed interval."""

    text: str
    every: int = 0                                # seconds, for "@every ..."
    fields: tuple[frozenset[int], ...] = ()
    any_day: bool = True                          # day of month is *
    any_weekday: bool = True                      # weekday is *

    @classmethod
    def parse(cls, text: str) -> Schedule:
        raw = " ".join(str(text).split())
        lowered = raw.lower()
        if lowered.startswith("@every"):
            amount = lowered[len("@every"):].strip()
            total, number = 0, ""
            for ch in amount.replace(" ", ""):
                if ch.isdigit():
                    number += ch
                elif ch in UNITS and number:
                    total += int(number) * UNITS[ch]
                    number = ""
                else:
                    raise ScheduleError(f"'{raw}': write an interval like '@every 30s', "
                                        "'@every 5m' or '@every 1h30m'")
            if number or total < 1:
                raise ScheduleError(f"'{raw}': write an interval like '@every 30s'")
            return cls(raw, every=total)
        expression = ALIASES.get(lowered, raw)
        parts = expression.split()
        if len(parts) != 5:
            raise ScheduleError(f"'{raw}': a cron expression has 5 fields (minute hour day "
                                "month weekday), or use @hourly, @daily or '@every 30s'")
        fields = tuple(_field(p, n, lo, hi) for p, (n, lo, hi) in zip(parts, FIELDS,
                                                                        strict=True))
        return cls(raw, fields=fields, any_day=parts[2] == "*", any_weekday=parts[4] == "*")

    def _day_matches(self, d: datetime) -> bool:
        _m, _h, days, months, weekdays = self.fields
        if d.month not in months:
            return False
        by_day, by_weekday = d.day in days, (d.isoweekday() % 7) in weekdays
        if self.any_day or self.any_weekday:  # cron: both restricted means either
            return by_day and by_weekday
        return by_day or by_weekday

    def tick(self, at: datetime) -> datetime | None:
        """The latest time at or before ``at`` the schedule was due (None: not in the
        last eight years, e.g. 30 February)."""
        if self.every:
            epoch = int(at.timestamp())
            return datetime.fromtimestamp(epoch - epoch % self.every, UTC)
        minutes, hours = self.fields[0], self.fields[1]
        at = at.astimezone(UTC).replace(second=0, microsecond=0)
        day = at.replace(hour=0, minute=0)
        for offset in range(366 * 8):
            d = day - timedelta(days=offset)
            if not self._day_matches(d):
                continue
            for hour in sorted(hours, reverse=True):
                if offset == 0 and hour > at.hour:
                    continue
                for minute in sorted(minutes, reverse=True):
                    candidate = d.replace(hour=hour, minute=minute)
                    if candidate <= at:
                        return candidate
        return None


@dataclass
class ScheduledJob:
    name: str
    schedule: Schedule
    run: Callable[..., Any]
    plugin: str
    lease_seconds: float = 600.0


def jobs_of(ws: Workspace) -> list[ScheduledJob]:
    """Every plugin's jobs; a job whose schedule does not parse is reported and left out."""
    out: list[ScheduledJob] = []
    seen: set[str] = set()
    for plugin, items in ws.plugins.call_each("scheduled_jobs", workspace=ws):
        for item in items or ():
            if isinstance(item, Job):
                name, text, run, lease = item.name, item.schedule, item.run, item.lease_seconds
            else:
                text, run = item
                name = getattr(run, "__name__", None) or type(run).__name__
                lease = 600.0
            name = name if "." in name and name.split(".")[0] == plugin else f"{plugin}.{name}"
            try:
                schedule = Schedule.parse(text)
            except ScheduleError as exc:
                ws.plugins.note(plugin, "scheduled_jobs", exc)
                continue
            if name in seen:
                ws.plugins.note(plugin, "scheduled_jobs", ValueError(f"two jobs named {name}"))
                continue
            seen.add(name)
            out.append(ScheduledJob(name[:200], schedule, run, plugin, lease))
    return out


def ensure_tables(ws: Workspace, *names: str) -> None:
    """System tables a workspace made before they existed gets now (``rapport migrate``
    makes them too)."""
    md = MetaData()
    for name in names:
        ws.table_of(name).to_metadata(md)
    md.create_all(ws.engine, checkfirst=True)


class Scheduler:
    """Runs due jobs in a few threads of this process; ``start()`` polls every ``poll``
    seconds in a background thread until ``stop()``."""

    def __init__(self, ws: Workspace, poll: float = 1.0, threads: int = 4,
                 holder: str | None = None):
        self.ws = ws
        self.poll = poll
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        ensure_tables(ws, "rapport_job", "rapport_hook_failure")
        self.jobs = jobs_of(ws)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rapport-job")
        self._running: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._table: Table = ws.table_of("rapport_job")
        self._create_rows()

    def _create_rows(self) -> None:
        t = self._table
        with self.ws.transaction() as conn:
            existing = set(conn.scalars(select(t.c.name)))
            for job in self.jobs:
                if job.name not in existing:
                    if conn.dialect.name == "postgresql":
                        from sqlalchemy.dialects.postgresql import insert
                    else:
                        from sqlalchemy.dialects.sqlite import insert
                    conn.execute(insert(t).values(name=job.name, runs=0)
                                 .on_conflict_do_nothing())

    # -- claiming and running ---------------------------------------------------------------

    def claim(self, job: ScheduledJob, at: datetime) -> datetime | None:
        """Claim the job's current tick for this worker; the tick, or None when it is not
        due or another worker has it."""
        tick = job.schedule.tick(at)
        if tick is None:
            return None
        t = self._table
        with self.ws.transaction() as conn:
            done = conn.execute(
                update(t).where(t.c.name == job.name,
                                or_(t.c.tick_at.is_(None), t.c.tick_at < tick),
                                or_(t.c.lease_until.is_(None), t.c.lease_until < at))
                .values(tick_at=tick, holder=self.holder, status="running", started_at=at,
                        lease_until=at + timedelta(seconds=job.lease_seconds)))
            claimed = done.rowcount == 1
        return tick if claimed else None

    def _execute(self, job: ScheduledJob) -> None:
        error = None
        try:
            job.run(**accepts(job.run, workspace=self.ws))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.error("job %s failed\n%s", job.name, traceback.format_exc())
        t = self._table
        with self.ws.transaction() as conn:
            conn.execute(update(t).where(t.c.name == job.name, t.c.holder == self.holder)
                         .values(lease_until=None, finished_at=datetime.now(UTC),
                                 status="failed" if error else "ok",
                                 last_error=error[:2000] if error else None,
                                 runs=t.c.runs + 1))

    def run_pending(self, at: datetime | None = None, wait: bool = False) -> list[str]:
        """Claim and start every due job not already running here; the names started.
        ``wait``: return once they finished (tests, ``rapport worker --once``)."""
        at = at or datetime.now(UTC)
        self.ws.refresh()
        started: list[tuple[str, Future[Any]]] = []
        for job in self.jobs:
            with self._lock:
                running = self._running.get(job.name)
                if running is not None and not running.done():
                    continue
            try:
                tick = self.claim(job, at)
            except Exception:
                log.exception("could not claim job %s", job.name)
                continue
            if tick is None:
                continue
            log.info("running job %s (tick %s)", job.name, tick.isoformat())
            future = self._pool.submit(self._execute, job)
            with self._lock:
                self._running[job.name] = future
            started.append((job.name, future))
        if wait:
            for _name, future in started:
                future.result()
        return [name for name, _f in started]

    def _extend_leases(self) -> None:
        """Keep the leases of the jobs running here (a long run is not taken over)."""
        with self._lock:
            names = [n for n, f in self._running.items() if not f.done()]
        if not names:
            return
        t = self._table
        at = datetime.now(UTC)
        leases = {j.name: j.lease_seconds for j in self.jobs}
        with self.ws.transaction() as conn:
            for name in names:
                conn.execute(update(t).where(and_(t.c.name == name, t.c.holder == self.holder,
                                                  t.c.lease_until.is_not(None)))
                             .values(lease_until=at + timedelta(seconds=leases[name])))

    # -- the loop ----------------------------------------------------------------------------

    def loop(self) -> None:
        last_extend = 0.0
        while not self._stop.is_set():
            try:
                self.run_pending()
                now = datetime.now(UTC).timestamp()
                if now - last_extend > 20:
                    self._extend_leases()
                    last_extend = now
            except Exception:
                log.exception("scheduler tick failed")
            self._stop.wait(self.poll)

    def start(self) -> Scheduler:
        if self.jobs and self._thread is None:
            self._thread = threading.Thread(target=self.loop, name="rapport-scheduler",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def status(self) -> list[dict[str, Any]]:
        t = self._table
        with self.ws.engine.connect() as conn:
            rows = {r.name: dict(r._mapping) for r in conn.execute(select(t))}
        return [{"name": j.name, "schedule": j.schedule.text, "plugin": j.plugin,
                 **{k: v for k, v in rows.get(j.name, {}).items() if k != "name"}}
                for j in self.jobs]
