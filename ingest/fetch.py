"""Download the public documents listed in a sources file, with metadata sidecars, an HTTP cache and retries."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import requests
import yaml

from ingest.metadata import normalise_date, sidecar_path, slugify, yaml_error_reason
from policyqa.errors import ConfigError
from policyqa.types import Progress, ProgressCallback

log = logging.getLogger(__name__)

FetchStatus = Literal["downloaded", "unchanged", "failed"]

CACHE_NAME = ".fetch-cache.json"  # dot-prefixed, so ingesting the folder never sees it
_CACHE_VERSION = 1
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER_S = 60.0
_READ_BLOCK = 64 * 1024
_CONTENT_TYPES = {
    "application/pdf": ".pdf",
    "application/x-pdf": ".pdf",
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
}
_URL_SUFFIXES = {".pdf": ".pdf", ".html": ".html", ".htm": ".html", ".txt": ".txt", ".md": ".md", ".markdown": ".md"}
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_KNOWN_REASONS = ("Read timed out", "Connection refused", "Name or service not known", "Connection reset")
_UNLABELLED = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/download"})


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One document of the sources file: where it lives and what its citations show."""

    url: str
    title: str
    doc_type: str = "other"
    published: str | None = None  # ISO date
    publisher: str | None = None


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    url: str
    status: FetchStatus
    path: str | None  # the stored file (also kept after a failure when an earlier copy exists)
    message: str = ""  # one line: the failure reason, the redirect, or a note
    final_url: str | None = None  # where the redirects ended


@dataclass(frozen=True, slots=True)
class FetchReport:
    outcomes: tuple[FetchOutcome, ...]
    seconds: float

    def count(self, status: FetchStatus) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    def summary(self) -> str:
        return (
            f"{self.count('downloaded')} downloaded, {self.count('unchanged')} unchanged, "
            f"{self.count('failed')} failed in {self.seconds:.1f} s"
        )


class _FetchFailed(Exception):
    """A per-document failure; its message is the outcome's one line."""


def load_sources(path: Path) -> list[SourceEntry]:
    """Read the ``documents:`` list of a sources file (see ``corpus/sources.yaml``).

    Raises:
        ConfigError: the file is missing or unreadable, is not valid YAML, or an entry lacks an
            http(s) ``url`` or a ``title``; the message names the file and the entry.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: sources file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the sources file ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed sources file ({yaml_error_reason(exc)})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("documents"), list):
        raise ConfigError(f"{path}: expected a mapping with a `documents:` list of {{url, title, ...}} entries")
    entries: list[SourceEntry] = []
    seen: set[str] = set()
    for number, item in enumerate(data["documents"], start=1):
        where = f"{path}: document {number}"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a mapping with url, title, doc_type, published, publisher")
        url = str(item.get("url") or "").strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}: `url` must be an http(s) address, got {url!r}")
        if url in seen:
            raise ConfigError(f"{where}: {url} is listed twice")
        seen.add(url)
        title = " ".join(str(item.get("title") or "").split())
        if not title:
            raise ConfigError(f"{where}: `title` is missing")
        published = item.get("published")
        if published is not None and normalise_date(published) is None:
            raise ConfigError(f"{where}: `published` is not a date: {published!r}")
        entries.append(
            SourceEntry(
                url=url,
                title=title,
                doc_type=str(item.get("doc_type") or "other").strip(),
                published=normalise_date(published),
                publisher=" ".join(str(item.get("publisher") or "").split()) or None,
            )
        )
    return entries


def fetch_sources(
    sources_file: Path,
    dest: Path,
    *,
    user_agent: str,
    timeout: float,
    retries: int = 3,
    backoff_s: float = 1.0,
    max_mb: float | None = None,
    on_progress: ProgressCallback | None = None,
    session: requests.Session | None = None,
) -> FetchReport:
    """Download every document of ``sources_file`` into ``dest``, each with a ``.meta.yaml`` sidecar.

    Requests are conditional on the cached ETag / Last-Modified; a 304 or a body identical to the stored
    one leaves the file untouched. A failed document is reported and never stops the others, and an
    earlier copy of it is kept.

    Args:
        sources_file: YAML with a ``documents:`` list (see ``load_sources``).
        dest: folder for the files, their sidecars and the cache index (created when missing).
        user_agent: sent with every request; SEC EDGAR requires a contact address in it.
        timeout: seconds one attempt may take in all: connecting, and receiving the headers and the whole body.
        retries: further attempts after connection errors, timeouts, 429 and 5xx.
        backoff_s: delay before the first retry; it doubles with each further one.
        max_mb: larger responses are refused (None = no limit).
        on_progress: receives ``Progress("files", done, total, title)`` after each document.
        session: a requests session to use (default: a new one, closed afterwards).

    Raises:
        ConfigError: the sources file is missing or malformed.
    """
    started = time.perf_counter()
    entries = load_sources(sources_file)
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{dest}: cannot create the download folder ({exc.strerror or exc})") from exc
    fetcher = _Fetcher(
        dest,
        session or requests.Session(),
        user_agent=user_agent,
        timeout=timeout,
        retries=max(0, retries),
        backoff_s=max(0.0, backoff_s),
        max_bytes=int(max_mb * 1_048_576) if max_mb else None,
    )
    names = _file_stems(entries)
    outcomes: list[FetchOutcome] = []
    try:
        for done, entry in enumerate(entries, start=1):
            outcomes.append(fetcher.fetch(entry, names[entry.url]))
            if on_progress:
                on_progress(Progress("files", done, len(entries), entry.title))
    finally:
        if session is None:
            fetcher.session.close()
    return FetchReport(outcomes=tuple(outcomes), seconds=time.perf_counter() - started)


def _file_stems(entries: list[SourceEntry]) -> dict[str, str]:
    """A file stem per URL: the title's slug, plus a short hash of the URL when two titles collide."""
    stems = {e.url: slugify(e.title) or _url_stem(e.url) for e in entries}
    counts: dict[str, int] = {}
    for stem in stems.values():
        counts[stem] = counts.get(stem, 0) + 1
    return {
        url: f"{stem}-{hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:8]}" if counts[stem] > 1 else stem
        for url, stem in stems.items()
    }


def _url_stem(url: str) -> str:
    parts = urlsplit(url)
    last = unquote(parts.path.rstrip("/").rpartition("/")[2])
    return slugify(Path(last).stem) or slugify(parts.hostname or "") or "document"


@dataclass(frozen=True, slots=True)
class _Retry:
    """An attempt the server asked to repeat (429, 5xx)."""

    problem: str
    retry_after: float | None


class _Attempt(threading.Thread):
    """Runs one request in a daemon thread, keeping its response so the caller can close it at a deadline."""

    def __init__(self, work: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__(daemon=True, name="policyqa-fetch")
        self._work = work
        self._box: dict[str, Any] = {}

    def run(self) -> None:
        try:
            self._box["result"] = self._work(self._box)
        except BaseException as exc:  # handed to the caller, which handles it as if raised there
            self._box["error"] = exc

    def abandon(self) -> None:
        """Shut the response's socket, so a body still being read ends; ``close()`` would wait for that read."""
        raw = getattr(self._box.get("response"), "raw", None)
        connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def outcome(self) -> Any:
        if "error" in self._box:
            raise self._box["error"]
        return self._box["result"]


class _Fetcher:
    def __init__(
        self,
        dest: Path,
        session: requests.Session,
        *,
        user_agent: str,
        timeout: float,
        retries: int,
        backoff_s: float,
        max_bytes: int | None,
    ) -> None:
        self.dest = dest
        self.session = session
        self.user_agent = user_agent
        self.timeout = timeout
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_bytes = max_bytes
        self.cache_path = dest / CACHE_NAME
        self.cache = self._read_cache()

    def fetch(self, entry: SourceEntry, stem: str) -> FetchOutcome:
        cached = self.cache.get(entry.url, {})
        previous = self._cached_file(cached)
        try:
            return self._fetch(entry, stem, cached, previous)
        except _FetchFailed as exc:
            log.info("fetch failed: %s: %s", entry.url, exc)
            kept = f"; kept the earlier copy {previous.name}" if previous else ""
            return FetchOutcome(entry.url, "failed", str(previous) if previous else None, f"{exc}{kept}")

    def _fetch(self, entry: SourceEntry, stem: str, cached: Mapping[str, Any], previous: Path | None) -> FetchOutcome:
        headers = {"User-Agent": self.user_agent}
        if previous is not None:  # never ask for a 304 unless the copy it vouches for is intact
            if cached.get("etag"):
                headers["If-None-Match"] = str(cached["etag"])
            if cached.get("last_modified"):
                headers["If-Modified-Since"] = str(cached["last_modified"])
        response, body = self._get(entry.url, headers)
        final_url = response.url or entry.url
        moved = f"redirected to {final_url}" if final_url != entry.url else ""
        validators = {
            "etag": response.headers.get("ETag") or cached.get("etag"),
            "last_modified": response.headers.get("Last-Modified") or cached.get("last_modified"),
        }
        if response.status_code == 304:
            if previous is None:
                raise _FetchFailed(f"{entry.url}: the server answered 304 Not Modified to an unconditional request")
            note = self._write_sidecar(previous, entry)
            self._remember(entry.url, previous, cached["sha256"], final_url, validators)
            return FetchOutcome(entry.url, "unchanged", str(previous), _join(moved, note), final_url)
        suffix = _suffix_for(response.headers.get("Content-Type", ""), final_url, entry.url, body)
        target = self.dest / f"{stem}{suffix}"
        if target.resolve().parent != self.dest.resolve():  # stems are slugs; this guards against regressions
            raise _FetchFailed(f"{entry.url}: unusable file name {target.name!r}")
        digest = hashlib.sha256(body).hexdigest()
        status: FetchStatus = "unchanged" if _sha256_of(target) == digest else "downloaded"
        if status == "downloaded":
            _write_atomically(target, body)
        note = self._write_sidecar(target, entry)
        if previous is not None and previous != target:  # the title or the type changed: drop the stale copy
            previous.unlink(missing_ok=True)
            sidecar_path(previous).unlink(missing_ok=True)
        self._remember(entry.url, target, digest, final_url, validators)
        message = _join(moved, note) if status == "unchanged" else moved
        return FetchOutcome(entry.url, status, str(target), message, final_url)

    def _get(self, url: str, headers: dict[str, str]) -> tuple[requests.Response, bytes]:
        """GET with retries on connection errors, timeouts, 429 and 5xx; returns a final 2xx or 304 response."""
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            problem = ""
            try:
                result = self._attempt_within_deadline(url, headers)
                if isinstance(result, tuple):
                    return result
                problem, retry_after = result.problem, result.retry_after
            except requests.Timeout:
                problem = f"timed out after {self.timeout:g} s"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                reason = _short_reason(exc)
                timed_out = "timed out" in reason.lower()  # a read timeout mid-body arrives as a ConnectionError
                problem = f"timed out after {self.timeout:g} s" if timed_out else f"connection failed ({reason})"
            except requests.TooManyRedirects:
                raise _FetchFailed(f"{url}: too many redirects") from None
            except requests.RequestException as exc:
                raise _FetchFailed(f"{url}: {_short_reason(exc)}") from None
            if attempt == attempts:
                tries = f" after {attempts} attempts" if attempts > 1 else ""
                raise _FetchFailed(f"{url}: {problem}{tries}")
            delay = self.backoff_s * 2 ** (attempt - 1)
            if retry_after is not None:
                delay = max(delay, retry_after)
            log.info("%s: %s; retrying in %.2f s (%d of %d)", url, problem, delay, attempt, self.retries)
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt_within_deadline(self, url: str, headers: dict[str, str]) -> tuple[requests.Response, bytes] | _Retry:
        """One GET that ends within ``timeout`` seconds in all, however slowly the server sends.

        requests' timeout bounds each socket read, so a server sending a byte every few seconds never trips it.
        The attempt runs in a daemon thread instead; at the deadline its socket is shut (which ends a body being
        read) and a thread still waiting for headers is left to end with the server or the process.
        """
        attempt = _Attempt(lambda box: self._attempt(url, headers, box))
        attempt.start()
        attempt.join(self.timeout)
        if attempt.is_alive():
            attempt.abandon()
            raise requests.Timeout(f"no complete response within {self.timeout:g} s")
        return attempt.outcome()

    def _attempt(
        self, url: str, headers: dict[str, str], box: dict[str, Any]
    ) -> tuple[requests.Response, bytes] | _Retry:
        with self.session.get(url, headers=headers, timeout=self.timeout, stream=True) as response:
            box["response"] = response
            if response.status_code in _RETRY_STATUSES:
                problem = f"HTTP {response.status_code} {response.reason or ''}".strip()
                return _Retry(problem, _retry_after(response.headers.get("Retry-After")))
            if response.status_code == 304:
                return response, b""
            if not 200 <= response.status_code < 300:
                raise _FetchFailed(f"{url}: HTTP {response.status_code} {response.reason or ''}".strip())
            _reject_non_document(response.headers.get("Content-Type", ""), url)
            return response, self._read_body(url, response)

    def _read_body(self, url: str, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        limit = f"the {self.max_bytes / 1_048_576:g} MB limit" if self.max_bytes else ""
        if self.max_bytes and declared.isdigit() and int(declared) > self.max_bytes:
            raise _FetchFailed(f"{url}: {int(declared) / 1_048_576:.1f} MB is over {limit}")
        blocks: list[bytes] = []
        size = 0
        for block in response.iter_content(_READ_BLOCK):
            size += len(block)
            if self.max_bytes and size > self.max_bytes:
                raise _FetchFailed(f"{url}: over {limit}")
            blocks.append(block)
        body = b"".join(blocks)
        if not body.strip():
            raise _FetchFailed(f"{url}: the server sent an empty document")
        return body

    def _write_sidecar(self, path: Path, entry: SourceEntry) -> str:
        """Write ``path``'s sidecar unless it already says the same; returns a note when it changed."""
        fields = {
            "title": entry.title,
            "doc_type": entry.doc_type,
            "published": entry.published,
            "publisher": entry.publisher,
            "sources": [entry.url],
        }
        text = yaml.safe_dump({k: v for k, v in fields.items() if v is not None}, sort_keys=False, allow_unicode=True)
        sidecar = sidecar_path(path)
        try:
            if sidecar.read_text(encoding="utf-8") == text:
                return ""
        except (OSError, UnicodeDecodeError):
            pass
        _write_atomically(sidecar, text.encode("utf-8"))
        return "metadata updated"

    def _cached_file(self, cached: Mapping[str, Any]) -> Path | None:
        """The file the cache recorded, if it is still there with the recorded content."""
        name = str(cached.get("file") or "")
        if not name or Path(name).name != name or name.startswith("."):
            return None
        path = self.dest / name
        return path if _sha256_of(path) == cached.get("sha256") else None

    def _remember(self, url: str, path: Path, digest: str, final_url: str, validators: Mapping[str, Any]) -> None:
        self.cache[url] = {
            "file": path.name,
            "sha256": digest,
            "etag": validators.get("etag"),
            "last_modified": validators.get("last_modified"),
            "final_url": final_url,
            "checked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        payload = {"version": _CACHE_VERSION, "documents": self.cache}
        try:
            _write_atomically(self.cache_path, json.dumps(payload, indent=2, sort_keys=True).encode("utf-8"))
        except OSError as exc:  # the download itself succeeded; the next run just re-downloads
            log.warning("%s: cannot write the fetch cache (%s)", self.cache_path, exc.strerror or exc)

    def _read_cache(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable fetch cache, starting afresh (%s)", self.cache_path, exc)
            return {}
        if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
            return {}
        documents = data.get("documents")
        if not isinstance(documents, dict):
            return {}
        return {str(k): v for k, v in documents.items() if isinstance(v, dict)}


def _suffix_for(content_type: str, final_url: str, url: str, body: bytes) -> str:
    """The file suffix a response deserves, from its Content-Type, else its URL, else its first bytes.

    Raises:
        _FetchFailed: the response is not a document (an image, an archive, JSON, ...).
    """
    mime = _reject_non_document(content_type, url)
    if mime in _CONTENT_TYPES:
        return _CONTENT_TYPES[mime]
    for address in (final_url, url):
        suffix = _URL_SUFFIXES.get(Path(unquote(urlsplit(address).path)).suffix.lower())
        if suffix:
            return suffix
    if body.startswith(b"%PDF-"):
        return ".pdf"
    label = f"Content-Type {mime}" if mime else "no Content-Type"
    raise _FetchFailed(f"{url}: {label} and no document suffix in the address; cannot tell what the file is")


def _reject_non_document(content_type: str, url: str) -> str:
    """The bare media type of a Content-Type header, checked before the body is downloaded.

    Raises:
        _FetchFailed: the type is neither a document type nor unlabelled (an image, an archive, JSON, ...).
    """
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime not in _CONTENT_TYPES and mime not in _UNLABELLED:
        raise _FetchFailed(f"{url}: not a document (Content-Type {mime}); expected PDF, HTML, Markdown or text")
    return mime


def _retry_after(value: str | None) -> float | None:
    """Seconds from a numeric Retry-After header, capped so one server cannot stall the run."""
    if value and value.strip().isdigit():
        return min(float(value.strip()), _MAX_RETRY_AFTER_S)
    return None


def _short_reason(exc: BaseException) -> str:
    """One short line from a requests error, whose text nests several urllib3 reprs."""
    text = str(exc)
    found = _ERRNO.search(text)
    if found:
        return found.group(1).strip()
    for marker in _KNOWN_REASONS:
        if marker.lower() in text.lower():
            return marker
    return (text.splitlines()[0][:120] if text else "") or type(exc).__name__


def _sha256_of(path: Path) -> str | None:
    """The SHA-256 of a file's bytes, or None when it is missing or unreadable."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:
        return None


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a dot-prefixed temporary file, so an interrupted run never leaves half a document."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
