"""Fixtures for the approval tests: a workspace with a small sales team and the object
they approve."""

from __future__ import annotations

import pytest
from approvalkit import People, make_people

from rapport.workspace import Workspace


@pytest.fixture
def people(ws: Workspace) -> People:
    return make_people(ws)
