"""Shared helpers for the on-demand benchmarks (not a test module).

Row counts: ``RAPPORT_BENCH_ROWS`` overrides every benchmark's row count (a quick run:
``RAPPORT_BENCH_ROWS=20000``); ``RAPPORT_BENCH_IMPORT_ROWS`` / ``RAPPORT_BENCH_LIST_ROWS`` /
``RAPPORT_BENCH_META_ROWS`` override one benchmark. Generated SQLite databases are cached
under ``tests/benchmarks/.cache/`` (or ``RAPPORT_BENCH_CACHE``), keyed by row count and a
digest of the core metadata and of this builder; delete the folder to rebuild.
"""

from __future__ import annotations

import cProfile
import csv
import hashlib
import json
import os
import pstats
import random
import shutil
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Engine,
    Integer,
    Numeric,
    String,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
)

from rapport.storage.engine import make_engine
from rapport.workspace import Workspace

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = Path(os.environ.get("RAPPORT_BENCH_CACHE") or HERE / ".cache")
BUILDER_VERSION = "2"  # bump when the generated data changes shape

STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")
LATE_STAGES = ("proposal", "negotiation", "closed_won")  # what the sales workflow requires
CSV_HEADER = ("name", "amount", "stage", "probability", "close_date")

#: figures collected during the run, recapped by conftest's terminal summary
RESULTS: list[dict[str, Any]] = []


# -- settings ---------------------------------------------------------------------------------

def rows_for(kind: str, default: int) -> int:
    """The row count for one benchmark: RAPPORT_BENCH_<KIND>_ROWS, RAPPORT_BENCH_ROWS, default."""
    raw = os.environ.get(f"RAPPORT_BENCH_{kind.upper()}_ROWS") or os.environ.get("RAPPORT_BENCH_ROWS")
    if not raw:
        return default
    value = int(raw.replace("_", "").replace(",", ""))
    if value < 100:
        raise ValueError(f"RAPPORT_BENCH rows must be at least 100, not {value}")
    return value


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


# -- printing ---------------------------------------------------------------------------------

def banner(title: str) -> None:
    line = "=" * 78
    print(f"\n{line}\n{title}\n{line}", flush=True)


def say(text_: str = "") -> None:
    print(text_, flush=True)


def record(benchmark: str, figure: str, value: float, unit: str, target: str = "",
           met: bool | None = None) -> None:
    """Keep a headline figure for the end-of-run recap (and .cache/last-results.json)."""
    RESULTS.append({"benchmark": benchmark, "figure": figure, "value": value, "unit": unit,
                    "target": target, "met": met})


def verdict(met: bool) -> str:
    return "meets target" if met else "MISSES target"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"median": statistics.median(ordered), "p95": p95, "mean": statistics.fmean(ordered),
            "min": ordered[0], "max": ordered[-1], "n": len(ordered)}


def describe_samples(label: str, samples: list[float]) -> dict[str, float]:
    s = summary(samples)
    say(f"  {label:<44} median {fmt_ms(s['median'])}   p95 {fmt_ms(s['p95'])}   "
        f"min {fmt_ms(s['min'])}   (n={s['n']})")
    return s


class Clock:
    """Wall time and this process's CPU time since it was made; ``stop()`` returns both.
    CPU time hardly moves when other processes share the cores, wall time does."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    out: list[float] = []
    start = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - start)


def environment() -> str:
    import sqlalchemy

    load = ""
    with suppress(OSError, AttributeError):
        load = f", load average {os.getloadavg()[0]:.2f} (other processes skew timings)"
    return (f"python {sys.version.split()[0]}, SQLAlchemy {sqlalchemy.__version__}, "
            f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs{load}")


# -- data ---------------------------------------------------------------------------------------

def opportunity_rows(n: int, seed: int = 20240601) -> Iterator[tuple[str, str, str, str, str]]:
    """Deterministic CSV rows (name, amount, stage, probability, close_date): every proposal
    negotiation and closed-won row has a close date (the sales workflow), half of the others."""
    rnd = random.Random(seed)
    base = date(2025, 1, 1)
    for i in range(1, n + 1):
        stage = STAGES[rnd.randrange(6)]
        amount = f"{rnd.randrange(0, 10_000_000) / 100:.2f}"
        probability = str(rnd.randrange(0, 101))
        close = ""
        if stage in LATE_STAGES or rnd.random() < 0.5:
            close = (base + timedelta(days=rnd.randrange(730))).isoformat()
        yield f"Deal {i:07d}", amount, stage, probability, close


def write_opportunity_csv(path: Path, n: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        writer.writerows(opportunity_rows(n))
    return path


def _numbers(engine_dialect: str, n: int) -> Any:
    """A one-column selectable ``n`` = 1..n, generated inside the database."""
    if engine_dialect == "postgresql":
        return select(func.generate_series(1, n).column_valued("n")).subquery("seq")
    seq = select(literal(1, Integer).label("n")).cte("seq", recursive=True)
    seq = seq.union_all(select((seq.c.n + 1).label("n")).where(seq.c.n < n))
    return seq


def fill_opportunities(ws: Workspace, n: int) -> float:
    """Put ``n`` opportunities straight into the workspace's table with one
    INSERT ... SELECT (not through the record service). Values are deterministic functions
    of the row number. Returns the seconds it took."""
    t = ws.table("opportunity")
    dialect = ws.engine.dialect.name
    seq = _numbers(dialect, n)
    num = cast(seq.c.n, BigInteger)  # n * 7919 passes 2**31 on PostgreSQL's int4
    stage = case(*[(num % 6 == i, STAGES[i]) for i in range(6)], else_=STAGES[0])
    # amounts spread over 0.00 .. 99,999.99 independently of the stage (7919 is prime)
    cents = (num * 7919 + 12345) % 10_000_000
    amount = cents / literal(100.0)
    if dialect == "postgresql":
        amount = cast(amount, Numeric(18, 2))  # round() of a double does not exist there
    probability = num % 101
    late = (num % 6).in_([2, 3])
    has_close = late | ((num * 7) % 12 < 6)  # half of the other stages' rows
    day = (num * 31) % 730
    if dialect == "postgresql":
        the_date = literal_column("DATE '2025-01-01'") + cast(day, Integer)
    else:
        the_date = func.date("2025-01-01", literal("+") + cast(day, String) + literal(" days"))
    close_date = case((has_close, the_date), else_=None)
    hundred = literal(100) if dialect == "postgresql" else literal(100.0)  # numeric / float
    expected = func.round(amount * probability / hundred, 2)
    when = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    ts = bindparam("ts", when, type_=t.c.created_at.type)
    columns = ["id", "created_at", "updated_at", "version", "name", "amount", "stage",
               "probability", "close_date", "expected_revenue"]
    body = select(num, ts, ts, literal(1), literal("Deal ") + cast(num, String), amount, stage,
                  probability, close_date, expected)
    start = time.perf_counter()
    with ws.transaction() as conn:
        # a bulk load: drop the table's indexes, insert, build them again (sorted, faster)
        for index in t.indexes:
            index.drop(conn)
        conn.execute(insert(t).from_select(columns, body))
        for index in t.indexes:
            index.create(conn)
        if dialect == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('opportunity', 'id'), "
                              "(SELECT max(id) FROM opportunity))"))
    if dialect == "postgresql":
        with ws.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE opportunity"))
    return time.perf_counter() - start


def _cache_key(n: int) -> str:
    h = hashlib.sha256(BUILDER_VERSION.encode())
    for path in sorted((REPO / "metadata" / "core").glob("*.json")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for rel in ("storage/tables.py", "storage/types.py", "fieldtypes.py"):
        path = REPO / "platform" / "rapport" / rel
        if path.exists():
            h.update(path.read_bytes())
    return f"opportunity-{n}-{h.hexdigest()[:12]}"


def cached_opportunity_workspace(n: int) -> Path:
    """A workspace directory (rapport.json + rapport.db) holding ``n`` opportunities, built
    once and kept under the cache folder. Open it read-only, or copy it before changing it."""
    target = CACHE / _cache_key(n)
    if (target / "complete").exists():
        say(f"  using cached database {target}")
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob(f"opportunity-{n}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    work = CACHE / f"building-{uuid.uuid4().hex[:8]}"
    ws = Workspace.init(work, f"sqlite:///{work / 'rapport.db'}")
    try:
        seconds = fill_opportunities(ws, n)
    finally:
        ws.close()
    with closing(sqlite3.connect(work / "rapport.db", isolation_level=None)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one self-contained file to copy
    say(f"  built {n:,} opportunities with INSERT ... SELECT in {seconds:.1f} s "
        f"(cached in {target})")
    (work / "complete").write_text(json.dumps({"rows": n, "built_at": time.time()}))
    work.rename(target)
    return target


def copy_workspace(source: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("rapport.json", "rapport.db"):
        shutil.copy2(source / name, dest / name)
    (dest / "plugins").mkdir(exist_ok=True)
    return dest


def open_sqlite_workspace(path: Path) -> Workspace:
    return Workspace.open(path, f"sqlite:///{path / 'rapport.db'}")


def fresh_sqlite_engine(path: Path) -> Engine:
    """An engine configured like a workspace's (WAL, synchronous=NORMAL, BEGIN IMMEDIATE)."""
    return make_engine(f"sqlite:///{path}")


# -- profiles -----------------------------------------------------------------------------------

def _short(filename: str) -> str:
    """A readable location: ``rapport/records/service.py`` or ``sqlalchemy/engine/base.py``."""
    if filename.startswith("~") or filename.startswith("<"):
        return filename
    path = filename.replace("\\", "/")
    for marker in ("/platform/", "/site-packages/", "/lib/python3"):
        if marker in path:
            tail = path.split(marker, 1)[1]
            if marker == "/lib/python3":
                tail = "stdlib/" + tail.split("/", 1)[1] if "/" in tail else tail
            return tail
    return path


def _area(filename: str, name: str) -> str:
    """The area a function's own time is charged to, for the grouped view."""
    if filename == "~":
        if "sqlite3" in name:
            return "sqlite3 (C: executing SQL, incl. index maintenance)"
        if "psycopg" in name:
            return "psycopg (C)"
        return "builtins (C): " + name.split(" of ")[0].strip("{}<>").replace("method ", "")
    short = _short(filename)
    if short.startswith("rapport/"):
        return short.rsplit(".py", 1)[0].replace("/", ".")
    if short.startswith("stdlib/"):
        return "stdlib." + short[len("stdlib/"):].split("/")[0].removesuffix(".py")
    return short.split("/")[0]


def print_profile(profile: cProfile.Profile, top: int = 15, areas: int = 15) -> None:
    """Top functions by cumulative and by own time, then own time grouped by area."""
    stats = pstats.Stats(profile)
    raw = stats.stats  # type: ignore[attr-defined]
    total = max(sum(tt for (_cc, _nc, tt, _ct, _callers) in raw.values()),
                max((ct for (_cc, _nc, _tt, ct, _callers) in raw.values()), default=0.0))
    rows = []
    for (filename, line, name), (cc, nc, tt, ct, _callers) in raw.items():
        where = f"{_short(filename)}:{line}({name})" if filename != "~" else name
        rows.append((where, nc, cc, tt, ct, filename, name))

    def table(title: str, key: Callable[[tuple[Any, ...]], float]) -> None:
        say(f"\n  {title}")
        say(f"  {'ncalls':>11} {'tottime':>8} {'percall':>9} {'cumtime':>8} {'cum%':>6}  function")
        for where, nc, cc, tt, ct, _f, _n in sorted(rows, key=key, reverse=True)[:top]:
            calls = f"{nc}/{cc}" if nc != cc else str(nc)
            per = tt / nc if nc else 0.0
            say(f"  {calls:>11} {tt:8.3f} {per * 1e6:7.2f}µs {ct:8.3f} {100 * ct / total:5.1f}%  {where}")

    say(f"\n  profile: {total:.2f} s of CPU time under cProfile "
        f"(cProfile inflates many-small-call code; read shares, not absolute times)")
    table(f"top {top} by cumulative time", key=lambda r: r[4])
    table(f"top {top} by own time (tottime)", key=lambda r: r[3])
    grouped: dict[str, float] = {}
    for _where, _nc, _cc, tt, _ct, filename, name in rows:
        grouped[_area(filename, name)] = grouped.get(_area(filename, name), 0.0) + tt
    say(f"\n  own time grouped by module (top {areas})")
    for area, tt in sorted(grouped.items(), key=lambda kv: kv[1], reverse=True)[:areas]:
        say(f"  {tt:8.3f} s {100 * tt / total:5.1f}%  {area}")


# -- phase timing (low overhead, no profiler) -------------------------------------------------

class PhaseTimer:
    """Wraps bound methods of one object to add up the time (wall or CPU) spent in each."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._depth = 0

    def wrap(self, owner: Any, method: str, label: str | None = None) -> bool:
        fn = getattr(owner, method, None)
        if fn is None or not callable(fn):
            return False
        label = label or method
        self.seconds.setdefault(label, 0.0)
        self.calls.setdefault(label, 0)
        clock = self.clock
        timer = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # nested timed calls are charged to the outermost one only
            if timer._depth:
                return fn(*args, **kwargs)
            timer._depth += 1
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                timer.seconds[label] += clock() - start
                timer.calls[label] += 1
                timer._depth -= 1

        setattr(owner, method, wrapper)
        return True


def write_results() -> Path | None:
    if not RESULTS:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "last-results.json"
    path.write_text(json.dumps({"at": datetime.now(UTC).isoformat(), "environment": environment(),
                                "results": RESULTS}, indent=2) + "\n", "utf-8")
    return path


# -- web servers and load (test_web_benchmark.py) ---------------------------------------------

def free_port() -> int:
    import socket

    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) used so far by process ``pid`` (Linux
    /proc), or None where that is not available."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def children_cpu() -> float:
    """CPU seconds of this process's finished children (a load generator run)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Server:
    """An HTTP server in its own process (``rapport serve``, or the hand-written app);
    its output goes to a log file, ``cpu()`` reads its CPU time."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path,
                 env: dict[str, str] | None = None, ready_path: str = "/"):
        import subprocess

        self.name, self.port, self.log = name, port, log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, cwd=str(HERE),
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self._wait(ready_path)

    def _wait(self, path: str, timeout: float = 60.0) -> None:
        import http.client

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                                   + self.log.read_text("utf-8", "replace")[-3000:])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", path)
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on port {self.port} within {timeout:.0f} s")

    def cpu(self) -> float | None:
        return process_cpu(self.proc.pid)

    def stop(self) -> None:
        import subprocess

        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


class Http:
    """A keep-alive HTTP/1.1 client for the checks and the page timings (one cookie jar)."""

    def __init__(self, port: int, headers: dict[str, str] | None = None):
        import http.client

        self.port = port
        self.headers = dict(headers or {})
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        import http.client
        from http.cookies import SimpleCookie

        sent = {**self.headers, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=sent)
            resp = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # the server closed the idle keep-alive connection (uvicorn: after 5 s) before
            # reading this request: send it again on a new connection
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body=body, headers=sent)
            resp = self.conn.getresponse()
        data = resp.read()
        for raw in resp.headers.get_all("set-cookie") or ():
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for key, morsel in jar.items():
                self.cookies[key] = morsel.value
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path)

    def json(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        status, _h, data = self.request(method, path, body,
                                        {"Content-Type": "application/json"} if body else None)
        return status, json.loads(data) if data else None

    def close(self) -> None:
        self.conn.close()


def wrk_path() -> str | None:
    if os.environ.get("RAPPORT_BENCH_LOADGEN") == "python":
        return None
    return shutil.which("wrk")


def _lua_string(text_: str) -> str:
    return json.dumps(text_)  # a JSON string literal is a valid Lua string literal here


def _wrk_script(spec: dict[str, Any]) -> str:
    if spec.get("method", "GET") == "GET":
        paths = ",\n  ".join(_lua_string(p) for p in spec["paths"])
        return (f"local paths = {{\n  {paths}\n}}\nlocal i = 0\n"
                "request = function()\n  i = i + 1\n"
                "  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n")
    return (f"local path = {_lua_string(spec['path'])}\n"
            f"local body = {_lua_string(spec['body'])}\n"
            "wrk.headers[\"Content-Type\"] = \"application/json\"\nlocal n = 0\n"
            "request = function()\n  n = n + 1\n"
            "  return wrk.format(\"POST\", path, nil, (body:gsub(\"{n}\", tostring(n))))\nend\n")


def _wrk_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    import re

    found = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out)
    if not found:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    result: dict[str, Any] = {"requests": int(found.group(1)),
                              "seconds": _wrk_ms(found.group(2), found.group(3)) / 1000,
                              "errors": 0, "non_2xx": 0}
    for q, value, unit in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M):
        result[f"p{q}_ms"] = _wrk_ms(value, unit)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        result["non_2xx"] = int(bad.group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        result["errors"] = sum(int(g) for g in errors.groups())
    return result


def run_load(port: int, spec: dict[str, Any], seconds: float, connections: int,
             headers: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Load one server for ``seconds`` from a separate process: wrk when installed (one
    thread), else ``loadgen.py``. ``spec``: ``{"paths": [...]}`` (GET, in turn) or
    ``{"method": "POST", "path": ..., "body": ...}`` ("{n}" in the body: a counter).
    Returns requests, seconds, rps, latency percentiles, errors, non_2xx, the generator's
    CPU seconds and its name."""
    import subprocess

    workdir.mkdir(parents=True, exist_ok=True)
    wrk = wrk_path()
    before = children_cpu()
    if wrk:
        script = workdir / f"load-{uuid.uuid4().hex[:8]}.lua"
        script.write_text(_wrk_script(spec), "utf-8")
        argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
                "-s", str(script)]
        for k, v in headers.items():
            argv += ["-H", f"{k}: {v}"]
        argv.append(f"http://127.0.0.1:{port}")
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        result = parse_wrk(done.stdout)
        result["generator"] = f"wrk -t1 -c{connections}"
    else:
        spec_file = workdir / f"load-{uuid.uuid4().hex[:8]}.json"
        spec_file.write_text(json.dumps({**spec, "host": "127.0.0.1", "port": port,
                                         "seconds": seconds, "connections": connections,
                                         "headers": headers}), "utf-8")
        done = subprocess.run([sys.executable, str(HERE / "loadgen.py"), str(spec_file)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"loadgen.py failed: {done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["generator"] = f"loadgen.py, {connections} connections (wrk not installed)"
    result["client_cpu"] = children_cpu() - before
    result["rps"] = result["requests"] / result["seconds"] if result["seconds"] else 0.0
    return result
