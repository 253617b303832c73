"""What the plugin tests share: workspaces with plugins, logged-in clients, plugin files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from rapport.auth.users import actor_of, create_user, find_user
from rapport.records.actor import Actor
from rapport.web.app import create_app
from rapport.workspace import CONFIG_FILE, Workspace
from web.conftest import PASSWORD, csrf_of, login

__all__ = ["PASSWORD", "client_for", "csrf_of", "enable", "user", "workspace", "write_plugin"]


def write_plugin(directory: Path, name: str, source: str) -> Path:
    """A plugin file ``name.py`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source), "utf-8")
    return path


def enable(root: Path, *names: str, **settings: Any) -> None:
    """Enable bundled plugins in a workspace's rapport.json (and set plugin settings)."""
    path = root / CONFIG_FILE
    config = json.loads(path.read_text("utf-8"))
    config.setdefault("plugins", {}).setdefault("enabled", []).extend(names)
    config.update(settings)
    path.write_text(json.dumps(config), "utf-8")


def workspace(tmp_path: Path, database_url: str, *bundled: str, **kwargs: Any) -> Workspace:
    """A new workspace with these bundled plugins enabled."""
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    settings = kwargs.pop("settings", {})
    enable(root, *bundled, **settings)
    return Workspace.open(root, database_url, **kwargs)


def user(ws: Workspace, email: str, role: str = "member") -> Actor:
    found = find_user(ws, email)
    return actor_of(found or create_user(ws, email, role, PASSWORD, full_name=email.split("@")[0]))


def client_for(ws: Workspace, email: str, role: str = "admin") -> TestClient:
    """A client logged in as ``email`` (created with ``role`` when new)."""
    user(ws, email, role)
    return login(TestClient(create_app(ws)), email)
