"""Which catalog the settings name, and whether the catalog and Chroma form a pair that is safe to repair."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policyqa.settings import Settings
    from policyqa.store.protocol import Catalog


def open_catalog(settings: Settings, *, read_only: bool = False) -> Catalog:
    """PostgreSQL when ``database_url`` is set (shared by every host), else SQLite in ``store_dir`` (this host only)."""
    if settings.database_url:
        from policyqa.store.pg_catalog import PgCatalog

        return PgCatalog(settings.database_url, settings.collection)
    from policyqa.store.catalog import Catalog as SqliteCatalog

    return SqliteCatalog(settings.sqlite_path, settings.collection, read_only=read_only)


def unpaired_reason(settings: Settings) -> str | None:
    """Why the catalog and Chroma are not one store that repair may reconcile, or None when they are.

    A Chroma server shared by several hosts next to this host's SQLite catalog lists only this host's
    documents, so "stray" vectors would be other hosts' documents; a shared PostgreSQL catalog next to this
    host's embedded Chroma lists other hosts' documents as "missing vectors". Either way repair would delete
    what another host wrote.
    """
    if settings.chroma_url and not settings.database_url:
        return (
            f"Chroma is the server at {settings.chroma_url} but the catalog is this host's SQLite file "
            f"({settings.sqlite_path}); set POLICYQA_DATABASE_URL to the shared PostgreSQL so both are shared"
        )
    if settings.database_url and not settings.chroma_url:
        return (
            "the catalog is a shared PostgreSQL database but Chroma is this host's embedded store "
            f"({settings.store_dir / 'chroma'}); set POLICYQA_CHROMA_URL to the shared Chroma server"
        )
    return None
