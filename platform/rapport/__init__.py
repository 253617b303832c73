"""Rapport: a low-code CRM platform. JSON metadata becomes tables, an API and screens."""

from __future__ import annotations

from .errors import ValidationError
from .plugins.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["ValidationError", "__version__", "hookimpl"]
