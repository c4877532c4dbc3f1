"""The field's vocabulary (aliases, agencies, mineral and place tags): data a user edits, not code.

It is read from ``policyqa/data/vocabulary.yaml`` or from the file ``POLICYQA_VOCABULARY`` names. Names of particular
companies, projects and people never belong here: those are learned from the documents themselves.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from policyqa.errors import ConfigError

DEFAULT_PATH = Path(__file__).with_name("data") / "vocabulary.yaml"
ENV = "POLICYQA_VOCABULARY"


@dataclass(frozen=True, slots=True)
class Vocabulary:
    aliases: tuple[tuple[str, ...], ...]
    agencies: tuple[tuple[str, ...], ...]  # each: the canonical name first, then its other names
    minerals: dict[str, tuple[str, ...]]
    jurisdictions: dict[str, tuple[str, ...]]
    mineral_words: tuple[str, ...]

    @property
    def tags(self) -> tuple[str, ...]:
        return (*self.minerals, *self.jurisdictions)


def _groups(raw: object, key: str, path: Path) -> tuple[tuple[str, ...], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(g, list) and g and all(isinstance(n, str) for n in g) for g in raw):
        raise ConfigError(f"{path}: '{key}' must be a list of lists of names")
    return tuple(tuple(g) for g in raw)


def _mapping(raw: object, key: str, path: Path) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise ConfigError(f"{path}: '{key}' must map each tag to a list of words")
    return {str(k): tuple(str(w).lower() for w in v) for k, v in raw.items()}


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> Vocabulary:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the vocabulary ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the vocabulary must be a mapping")
    words = raw.get("mineral_words") or []
    return Vocabulary(
        aliases=_groups(raw.get("aliases"), "aliases", path),
        agencies=_groups(raw.get("agencies"), "agencies", path),
        minerals=_mapping(raw.get("minerals"), "minerals", path),
        jurisdictions=_mapping(raw.get("jurisdictions"), "jurisdictions", path),
        mineral_words=tuple(str(w) for w in words),
    )


@functools.lru_cache(maxsize=16)
def _resolved(chosen: str) -> Path:
    return Path(chosen).expanduser().resolve()


def vocabulary(path: str | Path | None = None) -> Vocabulary:
    """The vocabulary at ``path``, else at ``$POLICYQA_VOCABULARY``, else the packaged one (each read once).

    Ingest asks for it for every chunk it tags: the path is resolved once per spelling, not once per call (resolving
    it cost more than the tagging itself).
    """
    chosen = path or os.environ.get(ENV) or DEFAULT_PATH
    return _load(_resolved(str(chosen)))
