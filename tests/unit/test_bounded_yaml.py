"""Bounded YAML: metadata-sized YAML loads as safe_load would; bombs, deep nesting and cycles are refused fast."""

from __future__ import annotations

import time

import pytest
import yaml

from ingest.bounded_yaml import YamlLimits, YamlRefused, load_bounded_yaml


def alias_bomb(levels: int = 9, fanout: int = 10, key: str = "title") -> str:
    lines = ['a0: &a0 "lol"']
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * fanout)}]")
    lines.append(f"{key}: *a{levels}")
    return "\n".join(lines) + "\n"


def deep_nesting(levels: int) -> str:
    return "title: " + "[" * levels + "x" + "]" * levels + "\n"


def test_ordinary_metadata_loads_exactly_as_safe_load_does() -> None:
    text = "title: A plan\npublished: 2025-03-01\ntags: [a, b]\nbase: &b {x: 1}\nother: *b\nsources:\n  - https://x\n"
    assert load_bounded_yaml(text) == yaml.safe_load(text), "a plain sidecar must load unchanged"
    assert load_bounded_yaml("") is None, "empty YAML is None, as with safe_load"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (alias_bomb(), "aliases"),
        (alias_bomb(levels=30, fanout=2), "expand"),
        (deep_nesting(30_000), "nested deeper"),
        ("x: &a [*a]\n", "refers to itself"),
        ("title: " + "x" * 70_000 + "\n", "KiB"),
    ],
    ids=["billion-laughs", "binary-bomb", "30k-deep", "self-alias", "70-KiB"],
)
def test_hostile_yaml_is_refused_quickly_with_a_reason(text: str, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(YamlRefused, match=reason):
        load_bounded_yaml(text)
    assert time.monotonic() - started < 5, "refusing must not take long"


def test_the_time_limit_applies_to_slow_yaml() -> None:
    text = "items:\n" + "".join(f"  - item {i}\n" for i in range(20_000))
    with pytest.raises(YamlRefused, match="longer than"):
        load_bounded_yaml(text, limits=YamlLimits(max_bytes=10**7, max_nodes=10**7, seconds=0.01))


def test_malformed_yaml_still_raises_yaml_error() -> None:
    with pytest.raises(yaml.YAMLError):
        load_bounded_yaml("title: [unclosed\n")
