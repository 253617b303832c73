"""Industry template packs: manifests, the pack manager, sample data, roles."""

from __future__ import annotations

from .manager import PackManager, PackPlan, PackResult
from .manifest import Pack, PackError, PackNotFound, find_pack, load_pack

__all__ = ["Pack", "PackError", "PackManager", "PackNotFound", "PackPlan", "PackResult",
           "find_pack", "load_pack"]
