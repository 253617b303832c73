"""Discovery and loading: directories, packages, entry points, bundled plugins enabled per
workspace; broken plugins named with their hook and left out."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pluginkit import enable, workspace, write_plugin

from rapport.plugins.manager import bundled_plugins
from rapport.workspace import Workspace

GOOD = """
import rapport

@rapport.hookimpl
def register_formula_functions():
    return {"shout": lambda s: str(s).upper() + "!"}
"""


def test_a_workspace_loads_its_plugins_directory_files_and_packages(tmp_path: Path,
                                                                  database_url: str) -> None:
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    write_plugin(root / "plugins", "shouting", GOOD)
    package = root / "plugins" / "greeter"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import rapport\nfrom .words import HELLO\n\n@rapport.hookimpl\n"
        "def register_formula_functions():\n    return {'hello': lambda: HELLO}\n")
    (package / "words.py").write_text("HELLO = 'hi there'\n")
    ws = Workspace.open(root, database_url)
    try:
        infos = {i.name: i for i in ws.plugins.infos}
        assert infos["shouting"].source == "directory"
        assert infos["shouting"].hooks == ["register_formula_functions"]
        assert infos["greeter"].loaded and infos["greeter"].location.endswith("greeter")
        assert infos["rapport"].source == "builtin"
        assert "shout" in ws.library and "hello" in ws.library
    finally:
        ws.close()


def test_plugins_dir_option_and_environment(tmp_path: Path, database_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    extra = tmp_path / "extra"
    write_plugin(extra, "shouting", GOOD)
    ws = Workspace.open(root, database_url, plugin_dirs=[extra])
    assert ws.plugins.info("shouting") is not None
    ws.close()
    other = tmp_path / "other"
    write_plugin(other, "shouting2", GOOD)
    monkeypatch.setenv("RAPPORT_PLUGINS_DIR", str(other))
    ws = Workspace.open(root, database_url)
    assert ws.plugins.info("shouting2") is not None
    ws.close()


def test_an_installed_distribution_is_found_through_its_entry_point(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    (site / "acme_rapport-1.0.dist-info").mkdir(parents=True)
    (site / "acme_rapport-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-rapport\nVersion: 1.0\n")
    (site / "acme_rapport-1.0.dist-info" / "entry_points.txt").write_text(
        "[rapport]\nacme = acme_rapport_plugin\n")
    write_plugin(site, "acme_rapport_plugin", GOOD)
    monkeypatch.syspath_prepend(str(site))
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    ws = Workspace.open(root, database_url)
    try:
        info = ws.plugins.info("acme")
        assert info is not None and info.source == "entry point"
        assert info.location == "acme-rapport: acme_rapport_plugin"
        assert "shout" in ws.library
    finally:
        ws.close()
        sys.modules.pop("acme_rapport_plugin", None)
    enable(root)  # disabling an installed plugin per workspace
    import json
    config = json.loads((root / "rapport.json").read_text())
    config["plugins"]["disabled"] = ["acme"]
    (root / "rapport.json").write_text(json.dumps(config))
    ws = Workspace.open(root, database_url)
    assert ws.plugins.info("acme") is None and "shout" not in ws.library
    ws.close()


def test_bundled_plugins_are_off_until_enabled(tmp_path: Path, database_url: str) -> None:
    assert {"webhooks", "duplicates", "public_pool", "rating"} <= set(bundled_plugins())
    ws = workspace(tmp_path, database_url)
    assert ws.plugins.info("webhooks") is None
    ws.close()
    enable(tmp_path / "ws", "rating", "nonexistent")
    ws = Workspace.open(tmp_path / "ws", database_url)
    try:
        info = ws.plugins.info("rating")
        assert info is not None and info.source == "bundled"
        assert "rating" in ws.types
        missing = next(i for i in ws.plugins.infos if i.name == "nonexistent")
        assert not missing.loaded and "no bundled plugin of this name" in (missing.error or "")
    finally:
        ws.close()


@pytest.mark.parametrize(("source", "expected"), [
    ("import rapport\n\n@rapport.hookimpl\ndef record_befor_save(record):\n    pass\n",
     "unknown hook 'record_befor_save' (did you mean 'record_before_save'?)"),
    ("import no_such_module_anywhere\n", "ModuleNotFoundError: No module named "
     "'no_such_module_anywhere'"),
    ("import rapport\n\n@rapport.hookimpl\ndef record_before_save(record, colour):\n    pass\n",
     "colour"),
    ("import rapport\n\n@rapport.hookimpl\ndef startup(workspace):\n    raise RuntimeError('no"
     " licence key')\n", "failed in startup: RuntimeError: no licence key"),
])
def test_a_broken_plugin_is_named_and_left_out(tmp_path: Path, database_url: str,
                                               source: str, expected: str) -> None:
    root = tmp_path / "ws"
    Workspace.init(root, database_url).close()
    write_plugin(root / "plugins", "broken", source)
    write_plugin(root / "plugins", "fine", GOOD)
    ws = Workspace.open(root, database_url)
    try:
        broken = next(i for i in ws.plugins.infos if i.name == "broken")
        assert not broken.loaded
        assert expected in (broken.error or "")
        assert ws.plugins.get_plugin("broken") is None
        assert ws.plugins.info("fine") is not None  # the others still work
        assert ws.records.create("account", {"name": "Acme"})["id"]
    finally:
        ws.close()
