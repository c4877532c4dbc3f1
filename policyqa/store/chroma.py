"""The only code that knows whether Chroma runs embedded, as a server client, or in memory."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from policyqa.errors import ConfigError, StoreUnavailable

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from policyqa.settings import Settings

log = logging.getLogger(__name__)


def make_client(settings: Settings, *, ephemeral: bool = False) -> ClientAPI:
    """An embedded ``PersistentClient`` under ``store_dir``, or an ``HttpClient`` when ``chroma_url`` is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if ephemeral:
        return chromadb.EphemeralClient(settings=chroma_settings)
    if settings.chroma_url is None:
        path = settings.store_dir / "chroma"
        try:
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as exc:
            raise StoreUnavailable(f"cannot open the Chroma store in {path}: {exc}") from exc
    url = urlparse(settings.chroma_url if "://" in settings.chroma_url else f"http://{settings.chroma_url}")
    if not url.hostname:
        raise ConfigError(f"POLICYQA_CHROMA_URL {settings.chroma_url!r} is not a URL like http://127.0.0.1:8000")
    port = url.port or (443 if url.scheme == "https" else 8000)
    try:
        client = chromadb.HttpClient(
            host=url.hostname, port=port, ssl=url.scheme == "https", settings=chroma_settings
        )
        client.heartbeat()
    except Exception as exc:
        raise StoreUnavailable(
            f"Chroma server at {settings.chroma_url} is not reachable ({type(exc).__name__}); "
            "start it with `chroma run` or unset POLICYQA_CHROMA_URL to use the embedded store"
        ) from None
    return client


def close_client(client: ClientAPI) -> None:
    """Release the client; the last one closed on an embedded store's folder frees its index and connections."""
    close = getattr(client, "close", None)  # chromadb's Client has close(); its ClientAPI type does not declare it
    if callable(close):
        close()


def open_collection(client: ClientAPI, name: str) -> Collection:
    """The product's collection: cosine space, vectors supplied by us (no Chroma embedding function)."""
    try:
        return client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
    except Exception as exc:
        raise StoreUnavailable(f"cannot open Chroma collection {name!r}: {exc}") from exc
