"""Where the bundled folders (metadata/, industry_templates/, plugins/, ui/) live.

In a checkout (or an editable install) they sit beside ``platform/``; in a wheel
they are packaged as ``rapport/_bundled/<folder>``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def bundled(folder: str) -> Path:
    """The directory of a bundled top-level folder, e.g. ``bundled("metadata")``."""
    packaged = _PACKAGE / "_bundled" / folder
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE.parent.parent / folder
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"bundled folder {folder!r} not found (looked in {packaged} and {checkout})")
