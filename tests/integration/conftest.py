"""Fixtures for the ingestion integration tests: the store, embedded or on a real Chroma server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("server", marks=pytest.mark.server),
        pytest.param("shared", marks=[pytest.mark.server, pytest.mark.postgres]),
    ]
)
def store_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Settings for an embedded store under tmp_path, for the session's Chroma server, or for the pair a team
    shares (the Chroma server and the session's PostgreSQL as the catalog).

    Every test gets its own collection name, so tests sharing the server never see each other's data.
    """
    collection = f"test-{uuid.uuid4().hex[:16]}"
    if request.param == "server":
        url = request.getfixturevalue("chroma_server")
        return settings.with_overrides(chroma_url=url, collection=collection)
    if request.param == "shared":
        return settings.with_overrides(
            chroma_url=request.getfixturevalue("chroma_server"),
            database_url=request.getfixturevalue("postgres_server"),
            collection=collection,
        )
    return settings.with_overrides(collection=collection)


@pytest.fixture
def store(store_settings: Settings) -> Iterator[CorpusStore]:
    opened = open_store(store_settings)
    yield opened
    opened.close()
