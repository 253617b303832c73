"""The designer: admin-only screens that write the metadata (objects, fields, picklists,
layouts, rules, workflows, approvals) through the same validation and schema plan as
the JSON files and the CLI."""

from __future__ import annotations

from .access import can_design
from .views import designer_routes

__all__ = ["can_design", "designer_routes"]
