"""``rapport plugins list|enable|disable|failures``, ``rapport worker``, ``--plugins-dir``,
and the scheduler of ``rapport serve``, as real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from pluginkit import write_plugin
from sqlalchemy import create_engine, text
from test_scheduler import TICKER

from rapport.cli import main
from rapport.storage.engine import normalize_url
from rapport.workspace import Workspace


def run(root: Path, *args: str, database_url: str | None = None):
    prefix = ["--workspace", str(root)] + (["--database", database_url] if database_url else [])
    return CliRunner().invoke(main, [*prefix, *args], catch_exceptions=False)


def test_list_enable_disable(tmp_path: Path, database_url: str) -> None:
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    listed = run(root, "plugins", "list", database_url=database_url)
    assert listed.exit_code == 0, listed.output
    assert "rapport  [loaded]  builtin" in listed.output
    assert "bundled, not enabled: duplicates, public_pool, rating, webhooks" in listed.output

    enabled = run(root, "plugins", "enable", "webhooks", database_url=database_url)
    assert enabled.exit_code == 0, enabled.output
    assert "plugin webhooks enabled (hooks: " in enabled.output
    config = json.loads((root / "rapport.json").read_text())
    assert config["plugins"] == {"enabled": ["webhooks"]}
    listed = json.loads(run(root, "plugins", "list", "--json", database_url=database_url).output)
    webhooks = next(p for p in listed["plugins"] if p["name"] == "webhooks")
    assert webhooks["source"] == "bundled" and "record_after_save" in webhooks["hooks"]
    assert webhooks["location"].endswith("webhooks")

    unknown = run(root, "plugins", "enable", "nosuch", database_url=database_url)
    assert unknown.exit_code == 1 and "no plugin named 'nosuch'" in unknown.output

    write_plugin(root / "plugins", "local", "import rapport\n")
    disabled = run(root, "plugins", "disable", "local", database_url=database_url)
    assert disabled.exit_code == 0
    assert run(root, "plugins", "disable", "webhooks", database_url=database_url).exit_code == 0
    assert json.loads((root / "rapport.json").read_text())["plugins"] == {"disabled": ["local"]}
    assert "local" not in run(root, "plugins", "list", database_url=database_url).output
    assert run(root, "plugins", "enable", "local", database_url=database_url).exit_code == 0
    assert "plugins" not in json.loads((root / "rapport.json").read_text())


def test_a_broken_plugin_is_listed_with_its_error(tmp_path: Path, database_url: str) -> None:
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    write_plugin(root / "plugins", "typo", "import rapport\n\n@rapport.hookimpl\n"
                 "def shedule_jobs():\n    return []\n")
    listed = run(root, "plugins", "list", database_url=database_url)
    assert listed.exit_code == 1
    assert "typo  [FAILED]  directory" in listed.output
    assert "unknown hook 'shedule_jobs' (did you mean 'scheduled_jobs'?)" in listed.output
    # every other command still works
    assert run(root, "export", "account", database_url=database_url).exit_code == 0


def test_plugins_dir_option_worker_once_and_failures(tmp_path: Path, database_url: str) -> None:
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    extra = tmp_path / "extra"
    write_plugin(extra, "ticker", TICKER)
    listed = run(root, "--plugins-dir", str(extra), "plugins", "list", database_url=database_url)
    assert "ticker  [loaded]  directory" in listed.output
    once = run(root, "--plugins-dir", str(extra), "worker", "--once", database_url=database_url)
    assert once.exit_code == 0, once.output
    assert "ticker.every_second" in once.output and "ran: " in once.output
    listed = run(root, "--plugins-dir", str(extra), "plugins", "list", database_url=database_url)
    assert "jobs: ticker.every_second (@every 1s, last run " in listed.output
    failures = run(root, "plugins", "failures", database_url=database_url)
    assert failures.exit_code == 0 and "no failed calls" in failures.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ticks(database_url: str) -> list[tuple[str, int]]:
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT tick, pid FROM ticker_run"))]
    finally:
        engine.dispose()


def test_serve_and_workers_share_the_ticks(tmp_path: Path, database_url: str) -> None:
    """Two ``rapport worker`` processes and a ``rapport serve``: each tick runs once."""
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    write_plugin(root / "plugins", "ticker", TICKER)
    Workspace.open(root, database_url).close()  # the plugin's table
    env = {**os.environ, "RAPPORT_HOME": str(root), "RAPPORT_DATABASE_URL": database_url}
    base = [sys.executable, "-m", "rapport.cli"]
    port = _free_port()
    procs = [subprocess.Popen([*base, "worker", "--poll", "0.2"], env=env,
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
             for _ in range(2)]
    procs.append(subprocess.Popen([*base, "serve", "--port", str(port)], env=env,
                                  stderr=subprocess.PIPE, stdout=subprocess.DEVNULL))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ticks = _ticks(database_url)
            if len({pid for _t, pid in ticks}) >= 2 and len(ticks) >= 6:
                break
            time.sleep(0.5)
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        outputs = [p.communicate(timeout=30)[1].decode() for p in procs]
    ticks = _ticks(database_url)
    assert len(ticks) >= 6, outputs
    assert len({t for t, _pid in ticks}) == len(ticks), "a tick ran twice"
    assert len({pid for _t, pid in ticks}) >= 2, "one process did all the work"
    assert all(p.returncode == 0 for p in procs), outputs
    assert "jobs ticker.every_second (@every 1s)" in outputs[0]
