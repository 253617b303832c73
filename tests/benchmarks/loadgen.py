"""A small HTTP load generator, used by the web benchmark when ``wrk`` is not installed.

    python loadgen.py SPEC.json

SPEC: ``{"host", "port", "seconds", "connections", "headers": {...}, "method": "GET"|"POST",
"paths": [...] (GET: taken in turn) or "path" + "body" (POST: "{n}" in the body is replaced
by a counter)}``. Each connection is a thread with its own keep-alive ``http.client``
connection, sending the next request as soon as the previous answer is read. Prints one
JSON line: requests, seconds, errors, non_2xx and latency percentiles (ms).

It runs in its own process so its CPU time is not the server's; a Python client is slower
than wrk, so on a small machine it takes a bigger share of the cores (the figures say which
generator ran).
"""

from __future__ import annotations

import http.client
import itertools
import json
import sys
import threading
import time


def main(spec_path: str) -> None:
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    host, port = spec["host"], int(spec["port"])
    seconds = float(spec["seconds"])
    headers = dict(spec.get("headers") or {})
    method = spec.get("method", "GET")
    paths = spec.get("paths") or [spec["path"]]
    body = spec.get("body")
    counter = itertools.count(1)
    lock = threading.Lock()
    latencies: list[float] = []
    stats = {"requests": 0, "errors": 0, "non_2xx": 0}
    deadline = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine: list[float] = []
        done = errors = bad = 0
        i = offset
        while time.perf_counter() < deadline:
            n = next(counter)
            path = paths[i % len(paths)]
            i += 1
            payload = body.replace("{n}", str(n)).encode() if body else None
            start = time.perf_counter()
            try:
                conn.request(method, path, body=payload, headers=headers)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            mine.append(time.perf_counter() - start)
            done += 1
            if not 200 <= resp.status < 400:
                bad += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            stats["requests"] += done
            stats["errors"] += errors
            stats["non_2xx"] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k * 7,))
               for k in range(int(spec["connections"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    print(json.dumps({**stats, "seconds": elapsed, "p50_ms": pct(0.5), "p90_ms": pct(0.9),
                      "p99_ms": pct(0.99)}))


if __name__ == "__main__":
    main(sys.argv[1])
