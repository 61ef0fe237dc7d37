"""Field masks: ``fields=sheets(properties,conditionalFormats),spreadsheetId`` on reads, and
``fields: "hidden,gridProperties.frozenRowCount"`` on updates. Paths are separated by commas,
their parts by dots or slashes, and ``a(b,c)`` stands for ``a.b,a.c``; ``*`` is everything."""

from __future__ import annotations

from typing import Any

Mask = dict[str, "Mask | None"]  # a name -> its sub-mask; None: the whole of it


def parse_mask(text: str) -> Mask | None:
    """The tree of a field mask; None means everything (an empty mask or ``*``)."""
    text = text.replace("/", ".").replace(" ", "")
    if not text:
        return None
    mask: Mask = {}
    if _list(text, 0, mask) != len(text):
        raise ValueError(text)
    return None if "*" in mask else mask


def _list(text: str, i: int, mask: Mask) -> int:
    """term ("," term)*"""
    i = _term(text, i, mask)
    while i < len(text) and text[i] == ",":
        i = _term(text, i + 1, mask)
    return i


def _term(text: str, i: int, mask: Mask) -> int:
    """name ("." term | "(" list ")")?"""
    start = i
    while i < len(text) and text[i] not in ",.()":
        i += 1
    name = text[start:i]
    if not name:
        raise ValueError(text)
    if i < len(text) and text[i] in ".(":
        sub: Mask = {}
        if text[i] == ".":
            i = _term(text, i + 1, sub)
        else:
            i = _list(text, i + 1, sub)
            if i >= len(text) or text[i] != ")":
                raise ValueError(text)
            i += 1
        _merge(mask, name, sub)
    else:
        _merge(mask, name, None)
    return i


def _merge(mask: Mask, name: str, sub: Mask | None) -> None:
    if name not in mask:
        mask[name] = sub
    elif mask[name] is not None and sub is not None:
        for key, value in sub.items():
            _merge(mask[name], key, value)  # type: ignore[arg-type]
    else:
        mask[name] = None


def apply_mask(value: Any, mask: Mask | None) -> Any:
    """Keep only the masked fields of a JSON value (lists are masked item by item)."""
    if mask is None:
        return value
    if isinstance(value, list):
        return [apply_mask(v, mask) for v in value]
    if not isinstance(value, dict):
        return value
    # a leaf is kept whole: no call for it (a grid answer has 200,000 of them)
    return {
        k: v if mask[k] is None else apply_mask(v, mask[k]) for k, v in value.items() if k in mask
    }


def mask_paths(mask: Mask | None, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The leaf paths of a mask: {"a": {"b": None}, "c": None} -> [("a", "b"), ("c",)]."""
    if mask is None:
        return [prefix] if prefix else [("*",)]
    paths: list[tuple[str, ...]] = []
    for name, sub in mask.items():
        paths += mask_paths(sub, (*prefix, name)) if sub is not None else [(*prefix, name)]
    return paths


def update_paths(mask: Mask | None, given: dict[str, Any]) -> list[tuple[str, ...]]:
    """The leaf paths an update with this mask sets: ``*`` or a message name (``gridProperties``)
    stands for the fields given under it."""
    paths = []
    for path in mask_paths(mask):
        if path == ("*",):
            paths += _leaves(given)
            continue
        value = get_path(given, path)
        paths += [path + leaf for leaf in _leaves(value)] if isinstance(value, dict) else [path]
    return paths


def _leaves(value: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, sub in value.items():
        is_message = isinstance(sub, dict) and sub and not key.endswith("Color")
        paths += _leaves(sub, (*prefix, key)) if is_message else [(*prefix, key)]
    return paths


def get_path(value: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return None
        value = value[name]
    return value


def set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set (or, for None, remove) a nested field; messages left empty go too."""
    parents = [target]
    for name in path[:-1]:
        parents.append(parents[-1].setdefault(name, {}))
    if value is not None:
        parents[-1][path[-1]] = value
        return
    parents[-1].pop(path[-1], None)
    for parent, name in zip(reversed(parents[:-1]), reversed(path[:-1]), strict=True):
        if parent.get(name) == {}:
            del parent[name]
