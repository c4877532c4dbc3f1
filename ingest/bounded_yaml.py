"""YAML from documents (front matter, ``.meta.yaml`` sidecars) read with bounds on size, depth, aliases and time.

``yaml.safe_load`` shares aliased nodes, so a 600-byte "billion laughs" loads quickly, but anything that then
walks the value (joining a title, normalising a date) expands it a billion-fold; and a mapping nested 50,000
levels deep makes PyYAML's recursive composer raise RecursionError. Metadata needs none of that: a few dozen
plain fields. So the events are scanned first (depth, aliases, a deadline), the node graph's fully expanded
size is measured before anything is constructed, and only then is the value built.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import yaml

from policyqa.errors import LoadError


class YamlRefused(LoadError):
    """The YAML is well-formed but too large, deep, aliased or slow to be metadata."""


@dataclass(frozen=True, slots=True)
class YamlLimits:
    max_bytes: int = 64 * 1024
    max_depth: int = 32
    max_aliases: int = 100
    max_nodes: int = 20_000  # after expanding every alias
    seconds: float = 2.0


DEFAULT_LIMITS = YamlLimits()
_CHECK_EVERY = 256


def load_bounded_yaml(text: str, *, limits: YamlLimits = DEFAULT_LIMITS) -> object:
    """``yaml.safe_load(text)`` within ``limits``.

    Raises:
        YamlRefused: over a limit (the message says which, without the file name).
        yaml.YAMLError: the text is not well-formed YAML.
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > limits.max_bytes:
        raise YamlRefused(f"{size // 1024} KiB of YAML is over the {limits.max_bytes // 1024} KiB limit")
    deadline = time.monotonic() + limits.seconds
    _scan_events(text, limits, deadline)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node, limits, deadline)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _scan_events(text: str, limits: YamlLimits, deadline: float) -> None:
    """Depth and alias counts from the event stream, which PyYAML produces without recursion."""
    depth = aliases = 0
    for count, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > limits.max_depth:
                raise YamlRefused(f"YAML nested deeper than {limits.max_depth} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > limits.max_aliases:
                raise YamlRefused(f"YAML with more than {limits.max_aliases} aliases")
        if count % _CHECK_EVERY == 0 and time.monotonic() > deadline:
            raise YamlRefused(f"YAML took longer than {limits.seconds:g} s to read")


def _check_expanded_size(root: yaml.Node, limits: YamlLimits, deadline: float) -> None:
    """Refuse a node graph whose size with every alias expanded is over the limit, or that contains itself."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    steps = 0
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        steps += 1
        if steps % _CHECK_EVERY == 0 and time.monotonic() > deadline:
            raise YamlRefused(f"YAML took longer than {limits.seconds:g} s to read")
        children = _children(node)
        if children_done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[key] > limits.max_nodes:
                raise YamlRefused(f"YAML whose aliases expand to more than {limits.max_nodes:,} values")
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YamlRefused("YAML with an alias that refers to itself")
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise YamlRefused("YAML with an alias that refers to itself")
            if id(child) not in sizes:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
