"""Add one document by its address: downloaded through the fetch code (its limits, retries and sidecars)."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from ingest.fetch import FetchOutcome, fetch_sources
from ingest.metadata import sidecar_path
from policyqa.errors import ConfigError
from policyqa.settings import Settings

WEB_FOLDER = "web"  # under the uploads folder: what the UI added by address


def fetch_url(
    url: str,
    settings: Settings,
    *,
    title: str = "",
    doc_type: str = "other",
    publisher: str = "",
    published: str = "",
    timeout: float = 30.0,
    retries: int = 2,
) -> FetchOutcome:
    """Download ``url`` into a folder of its own under ``uploads/web``, with a metadata sidecar naming the address.

    Without ``title`` the document's own title (HTML ``<title>``, PDF info, first heading) is used. The size
    limit is ``settings.max_upload_mb``; a failure comes back as an outcome with a one-line message.

    Raises:
        ConfigError: ``url`` is not an http(s) address, or ``published`` is not a date.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{url!r} is not an http(s) address")
    given_title = " ".join(title.split())
    entry = {
        "url": url,
        "title": given_title or _provisional_title(url),
        "doc_type": doc_type or "other",
        "publisher": publisher.strip() or None,
        "published": published.strip() or None,
    }
    # One folder per address: two pages both called "index.html" never overwrite each other, and fetching the
    # same address again finds its cache (a 304 or an identical body leaves the file as it was).
    dest = settings.uploads_dir / WEB_FOLDER / hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:12]
    with tempfile.TemporaryDirectory(prefix="policyqa-url-") as folder:
        sources = Path(folder) / "sources.yaml"
        sources.write_text(yaml.safe_dump({"documents": [{k: v for k, v in entry.items() if v}]}), encoding="utf-8")
        report = fetch_sources(
            sources, dest, user_agent=settings.fetch_user_agent, timeout=timeout, retries=retries,
            max_mb=settings.max_upload_mb,
        )
    outcome = report.outcomes[0]
    if outcome.path and not given_title:
        _drop_title(Path(outcome.path))
    return outcome


def _provisional_title(url: str) -> str:
    parts = urlsplit(url)
    last = [p for p in parts.path.split("/") if p]
    return last[-1] if last else parts.hostname or url


def _drop_title(path: Path) -> None:
    """Let the document name itself: the sidecar keeps the address and the rest, not the made-up title."""
    sidecar = sidecar_path(path)
    try:
        fields = yaml.safe_load(sidecar.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return
    if isinstance(fields, dict) and fields.pop("title", None) is not None:
        sidecar.write_text(yaml.safe_dump(fields, sort_keys=False, allow_unicode=True), encoding="utf-8")
