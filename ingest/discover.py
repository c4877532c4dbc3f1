"""Expand the paths a user gives into the files to ingest, and say why anything else was left out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import SUPPORTED_SUFFIXES

SIDECAR_SUFFIX = ".meta.yaml"
# Found while walking a folder, these are build scripts and configuration, not documents: not worth listing.
_QUIET_SUFFIXES = frozenset({".py", ".yaml", ".yml", ".json", ".toml", ".lock", ".pyc", ".cfg", ".ini"})


@dataclass(frozen=True, slots=True)
class Discovery:
    files: tuple[Path, ...]
    skipped: tuple[tuple[str, str], ...]  # (path, reason)
    missing: tuple[str, ...]


def _hidden(path: Path, root: Path) -> bool:
    """Dot- and underscore-prefixed files and folders under a given folder are build inputs or caches."""
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def _outside(path: Path, root: Path) -> bool:
    """Whether ``path`` is a symbolic link (or lies under one) that leads out of ``root``."""
    try:
        return not path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a loop of links
        return True


def discover(paths: Iterable[str | Path]) -> Discovery:
    """The supported files under ``paths``; symbolic links that lead out of a given folder are not followed."""
    files: dict[Path, None] = {}
    skipped: list[tuple[str, str]] = []
    missing: list[str] = []

    def consider(path: Path, *, explicit: bool) -> None:
        if path.name.endswith(SIDECAR_SUFFIX):
            if explicit:
                skipped.append((str(path), "metadata sidecar, read together with its document"))
            return
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            files[path.resolve()] = None
        elif not explicit and path.suffix.lower() in _QUIET_SUFFIXES:
            return
        else:
            kind = path.suffix.lower() or "no extension"
            skipped.append((str(path), f"unsupported file type ({kind})"))

    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            root = path.resolve()
            for child in sorted(path.rglob("*")):
                if _hidden(child, path):
                    continue
                if child.is_symlink() and _outside(child, root):
                    kind = "folder" if child.is_dir() else "file"
                    skipped.append((str(child), f"symbolic link to a {kind} outside {path}; not followed"))
                elif child.is_file():
                    consider(child, explicit=False)
        elif path.is_file():
            consider(path, explicit=True)
        else:
            missing.append(str(given))
    return Discovery(files=tuple(files), skipped=tuple(skipped), missing=tuple(missing))
