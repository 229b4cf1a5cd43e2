"""Fixtures shared by the controller tests."""

from __future__ import annotations

import asyncpg
import pytest

from tests.factories import Tenant, make_tenant


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    """A merchant with one store and router, and no ad (the controller needs none)."""
    return await make_tenant(db, with_ad=False)
