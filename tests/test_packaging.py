"""`pip install .` gives a working `rapport` that finds its bundled folders.

Slow (builds a wheel, installs it with its dependencies into a new venv), so it runs only
with RAPPORT_PACKAGING_TEST=1; CI sets it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("RAPPORT_PACKAGING_TEST") != "1",
    reason="slow: builds and installs a wheel; set RAPPORT_PACKAGING_TEST=1 to run",
)

REPO = Path(__file__).resolve().parent.parent
BUNDLED = ("metadata", "industry_templates", "plugins", "ui")
# what a build never needs; the rest of the working tree is copied, committed or not
NOT_COPIED_AT_TOP = {".git", ".venv", "venv", "build", "dist", ".pytest_cache", ".ruff_cache",
                     ".hypothesis", "node_modules", "tests", "demo-workspace"}
NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def _ignore(directory: str, names: list[str]) -> set[str]:
    ignored = set(NOT_COPIED(directory, names))
    if Path(directory) == REPO:
        ignored |= NOT_COPIED_AT_TOP & set(names)
    return ignored


def _run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
         timeout: int = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
    return result


def _clean_env(venv: Path) -> dict[str, str]:
    """The environment of someone who just installed the wheel: no workspace, no checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RAPPORT_") and k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("packaging")
    # build from a copy, so a stale build/ of the checkout cannot leak into the wheel
    source = tmp / "src"
    shutil.copytree(REPO, source, ignore=_ignore)
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source], cwd=tmp)
    wheels = list(dist.glob("rapport-*.whl"))
    assert len(wheels) == 1, wheels

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp)
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
          wheels[0]], cwd=tmp, timeout=1200)
    elsewhere = tmp / "elsewhere"  # a working directory outside the checkout
    elsewhere.mkdir()
    return {"tmp": tmp, "wheel": wheels[0], "venv": venv, "cwd": elsewhere}


def test_wheel_carries_the_bundled_folders(installed: dict[str, Path]) -> None:
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        names = wheel.namelist()
    for folder in BUNDLED:
        assert any(n.startswith(f"rapport/_bundled/{folder}/") for n in names), folder
    assert "rapport/_bundled/metadata/schemas/object.schema.json" in names
    assert "rapport/_bundled/metadata/core/opportunity.json" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "platform/"))]


def test_installed_package_uses_its_own_folders(installed: dict[str, Path]) -> None:
    venv, cwd = installed["venv"], installed["cwd"]
    script = ("import json, rapport, rapport.resources as r; "
              f"print(json.dumps([str(r.bundled(f)) for f in {list(BUNDLED)!r}]))")
    out = _run([venv / "bin" / "python", "-c", script], cwd=cwd, env=_clean_env(venv)).stdout
    for folder, path in zip(BUNDLED, json.loads(out), strict=True):
        path = Path(path)
        assert path.is_dir()
        assert path.is_relative_to(venv), f"{folder} found outside the venv: {path}"
        assert path.parts[-2:] == ("_bundled", folder)


def test_installed_cli_works_outside_the_checkout(installed: dict[str, Path]) -> None:
    venv, cwd, tmp = installed["venv"], installed["cwd"], installed["tmp"]
    rapport = venv / "bin" / "rapport"
    env = _clean_env(venv)
    ws = tmp / "ws"
    out = _run([rapport, "init", ws, "--admin-email", "a@example.com",
                "--admin-password", "longpassword"], cwd=cwd, env=env).stdout
    assert "admin user a@example.com created" in out
    assert (ws / "rapport.db").is_file()

    site = Path(_run([venv / "bin" / "python", "-c",
                      "import rapport, os; print(os.path.dirname(rapport.__file__))"],
                     cwd=cwd, env=env).stdout.strip())
    core = site / "_bundled" / "metadata" / "core"
    home = {**env, "RAPPORT_HOME": str(ws)}
    # inside the new workspace ...
    out = _run([rapport, "meta", "validate", core / "opportunity.json"], cwd=cwd, env=home).stdout
    assert "1 definition(s) valid" in out
    # ... and outside any workspace (checked against the bundled core objects)
    out = _run([rapport, "meta", "validate", core], cwd=cwd, env=env).stdout
    assert f"{len(list(core.glob('*.json')))} definition(s) valid" in out
    out = _run([rapport, "meta", "validate", core / "lead.json"], cwd=cwd, env=env).stdout
    assert "1 definition(s) valid" in out

    # the installed package applies new metadata and takes records
    example = REPO / "examples" / "project.json"
    if example.is_file():
        project = tmp / "project.json"
        shutil.copy(example, project)
        _run([rapport, "meta", "apply", project], cwd=cwd, env=home)
    csv = tmp / "opportunities.csv"
    csv.write_text("name,amount,stage,probability,close_date\n"
                   "Packaged deal,1000,proposal,50,2030-01-31\n", encoding="utf-8")
    out = _run([rapport, "import", "opportunity", csv], cwd=cwd, env=home).stdout
    assert "1 created" in out
    out = _run([rapport, "export", "opportunity"], cwd=cwd, env=home).stdout
    assert "Packaged deal" in out


def test_installed_package_enables_its_bundled_plugins(installed: dict[str, Path]) -> None:
    venv, cwd, tmp = installed["venv"], installed["cwd"], installed["tmp"]
    rapport = venv / "bin" / "rapport"
    env = _clean_env(venv)
    ws = tmp / "plugged"
    _run([rapport, "init", ws], cwd=cwd, env=env)
    home = {**env, "RAPPORT_HOME": str(ws)}
    out = _run([rapport, "plugins", "list"], cwd=cwd, env=home).stdout
    assert "bundled, not enabled: duplicates, public_pool, rating, webhooks" in out
    for name in ("webhooks", "duplicates", "public_pool", "rating"):
        out = _run([rapport, "plugins", "enable", name], cwd=cwd, env=home).stdout
        assert f"plugin {name} enabled" in out
    out = _run([rapport, "plugins", "list"], cwd=cwd, env=home).stdout
    assert "_bundled/plugins/webhooks" in out and "FAILED" not in out
    out = _run([rapport, "worker", "--once"], cwd=cwd, env=home).stderr
    assert "webhooks.deliver" in out and "public_pool.return_idle" in out
