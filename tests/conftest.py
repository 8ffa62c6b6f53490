"""Fixtures shared across test files."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def user_cache(tmp_path_factory) -> Iterator[None]:
    """The tests' "user cache" ($TMKT_CACHE): one folder for the session, never the real ~/.cache/tmkt (export
    and eval cache the test set there, not in a folder a checkpoint names)."""
    saved = os.environ.get("TMKT_CACHE")
    os.environ["TMKT_CACHE"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if saved is None:
        os.environ.pop("TMKT_CACHE", None)
    else:
        os.environ["TMKT_CACHE"] = saved


@pytest.fixture
def fresh_memo() -> Iterator[None]:
    """Each test sees the disk cache, not another test's in-memory dataset store (use it with
    `pytestmark = pytest.mark.usefixtures("fresh_memo")`)."""
    from tmkt_train.data import forget_stores  # here, not at the top: most test files never load data

    forget_stores()
    yield
    forget_stores()


@pytest.fixture
def checkpoint_reads(monkeypatch) -> list[str]:
    """The names of the checkpoint files read (through tmkt_train.checkpoint's one reader) while a test
    runs, in order."""
    from tmkt_train import checkpoint

    reads, load = [], checkpoint._load_document

    def counted(path, **kwargs):
        reads.append(path.name)
        return load(path, **kwargs)

    monkeypatch.setattr(checkpoint, "_load_document", counted)
    return reads
