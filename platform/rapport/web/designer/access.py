"""Who may use the designer: one function, so the security model can replace it."""

from __future__ import annotations

from ...records.actor import Actor


def can_design(actor: Actor | None) -> bool:
    """Whether ``actor`` may change the metadata in the designer (admins)."""
    return actor is not None and actor.is_admin
