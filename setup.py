"""Build step that ships the bundled folders inside the ``rapport`` package.

pyproject.toml holds all of the project's metadata; this file only adds commands:

* ``build_py`` copies the top-level folders metadata/, industry_templates/, plugins/ and
  ui/ into the build as ``rapport/_bundled/<folder>/``, which is where
  ``rapport.resources.bundled()`` looks first in an installed package. A folder that is
  missing or empty still ends up in the wheel (with a ``.keep`` file), so an installed
  package always has all four. Editable installs copy nothing: they use the checkout.
* ``sdist`` adds the same folders to a source distribution, so a wheel built from the
  sdist has them too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
BUNDLED = ("metadata", "industry_templates", "plugins", "ui")
SKIPPED = ("__pycache__", "*.pyc", "*.pyo", ".DS_Store")
PLACEHOLDER = ".keep"


class BuildPyWithBundled(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install finds the folders in the checkout
        target = Path(self.build_lib) / "rapport" / "_bundled"
        for folder in BUNDLED:
            dest = target / folder
            if dest.exists():
                shutil.rmtree(dest)  # nothing stale from an earlier build
            source = HERE / folder
            if source.is_dir():
                shutil.copytree(source, dest, ignore=shutil.ignore_patterns(*SKIPPED))
            dest.mkdir(parents=True, exist_ok=True)
            # a wheel cannot hold an empty directory: mark the empty ones
            for directory in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
                if not any(directory.iterdir()):
                    (directory / PLACEHOLDER).touch()


class SdistWithBundled(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        for folder in BUNDLED:
            source = HERE / folder
            if source.is_dir():
                shutil.copytree(source, Path(base_dir) / folder, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns(*SKIPPED))


setup(cmdclass={"build_py": BuildPyWithBundled, "sdist": SdistWithBundled})
