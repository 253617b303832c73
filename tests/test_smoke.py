from __future__ import annotations

from rapport.workspace import Workspace


def test_core_objects_installed(ws: Workspace) -> None:
    assert {"account", "contact", "lead", "opportunity", "activity", "product", "quote",
            "quote_line", "user", "role", "team"} <= set(ws.meta.objects)
    assert ws.meta.revision == 1
