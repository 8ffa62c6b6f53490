"""Fixtures shared across test files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def fresh_memo() -> Iterator[None]:
    """Each test sees the disk cache, not another test's in-memory dataset store (use it with
    `pytestmark = pytest.mark.usefixtures("fresh_memo")`)."""
    from tmkt_train.data import forget_stores  # here, not at the top: most test files never load data

    forget_stores()
    yield
    forget_stores()
