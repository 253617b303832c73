"""Who is acting: passed explicitly to every record-service call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    id: int | None
    email: str = "system"
    role: str = "admin"
    team: int | None = None
    name: str = ""
    locale: str = "en"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


#: The platform itself (CLI maintenance, pack installs without a user).
SYSTEM = Actor(None, "system", "admin")
