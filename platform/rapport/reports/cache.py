"""Report results served again while the data they were computed from is unchanged.

A result is kept with the data versions (storage/versions.py) of the tables its statement
read. The next run with the same inputs (definition, conditions, reader, day, metadata
revision) reads the versions first, one small query, and returns the kept result when none
has moved; any write to one of those tables, by any worker process, makes it compute afresh.
A statement that reads a table without a version (one the record service does not write)
is not kept. Nothing is ever stale: the versions are read before the data, so a write
committing in between makes a kept result look older than it is, never newer.

The results are kept in the process (a bounded LRU): each worker computes a report once per
change of its data. Kept results are shared between callers and must not be changed.
``RAPPORT_REPORT_CACHE=0`` turns keeping off (every run computes).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, MetaData, Table, event
from sqlalchemy.sql import visitors

from ..storage import versions

T = TypeVar("T")

#: Results kept per workspace and process.
MAX_ENTRIES = 256
#: A result with more rows than this is not kept (exports, big tabular reports).
MAX_ROWS = 5_000
#: System tables whose every write comes with a write of the object the statement reads
#: (a stage change is a record update): the object's version covers them.
COVERED = frozenset({"rapport_stage_history"})


@dataclass
class _Entry:
    versions: dict[str, int]
    value: Any


class ResultCache:
    def __init__(self, system: MetaData, max_entries: int = MAX_ENTRIES,
                 enabled: bool | None = None):
        self.system = system
        self.max_entries = max_entries
        self.enabled = enabled if enabled is not None else \
            os.environ.get("RAPPORT_REPORT_CACHE", "1").lower() not in {"0", "false", "no", "off"}
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get_or_compute(self, conn: Connection, key: Hashable, versioned: Collection[str],
                       compute: Callable[[], T], size: Callable[[T], int] = lambda _v: 0) -> T:
        """``compute()`` on ``conn``, or the result kept for ``key`` while the versions of
        the tables it read have not moved. ``versioned``: the tables that have versions."""
        if not self.enabled:
            return compute()
        current = versions.read(conn, self.system)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and all(current.get(n, 0) == v
                                         for n, v in entry.versions.items()):
                self._entries.move_to_end(key)
                self.hits += 1
                return entry.value  # type: ignore[no-any-return]
        self.misses += 1
        read: set[str] = set()

        def noticed(_conn: Any, clause: Any, *_args: Any) -> None:
            read.update(t.name for t in visitors.iterate(clause) if isinstance(t, Table))

        event.listen(conn, "before_execute", noticed)
        try:
            value = compute()
        finally:
            event.remove(conn, "before_execute", noticed)
        read -= COVERED
        if not read or not read <= set(versioned) or size(value) > MAX_ROWS:
            return value
        with self._lock:
            self._entries[key] = _Entry({n: current.get(n, 0) for n in read}, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value
