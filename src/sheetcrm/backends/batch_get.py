"""A values.batchGet answer parsed a row at a time, each row's texts shared as it is parsed.

``json.loads`` of a 100,000-lead answer makes every cell's string at once (4.2 million),
and table.shared_texts then keeps one per distinct text: the survivors, scattered among the
freed ones, hold CPython's small-object pools, so the process kept ~145 MB it no longer used
after the read and every later step began above it (issue 21). Parsed a row at a time, a
row's duplicates are freed before the next row is made, the next row reuses their room, and
what the read leaves is what it holds. The answer's other parts are parsed by ``json`` as
they are; only the shape of Google's answer is walked here:
``{"valueRanges": [{"values": [[cell, ...], ...]}, ...], ...}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sheetcrm.engine.table import shared_texts

_DECODER = json.JSONDecoder()
_SPACE = json.decoder.WHITESPACE  # type: ignore[attr-defined]
_string = json.decoder.scanstring  # type: ignore[attr-defined]

_Parse = Callable[[str, int], tuple[Any, int]]


def batch_get(text: str, seen: dict[str, str]) -> dict[str, Any]:
    """The answer ``text`` as ``json.loads`` reads it, except that each value range's
    ``values`` rows are lists of ``str`` held once per distinct text in ``seen``. A body that
    is not JSON raises ``json.JSONDecodeError``, as ``json.loads`` would."""

    def row(text: str, at: int) -> tuple[list[str], int]:
        cells, end = _DECODER.raw_decode(text, at)
        if not isinstance(cells, list):
            raise json.JSONDecodeError("a row of values is not a list", text, at)
        return shared_texts((cells,), seen)[0], end

    def value_range(text: str, at: int) -> tuple[Any, int]:
        return _object(text, at, {"values": lambda t, i: _array(t, i, row)})

    def ranges(text: str, at: int) -> tuple[Any, int]:
        return _array(text, at, value_range)

    answer, end = _object(text, 0, {"valueRanges": ranges})
    if _skip(text, end) != len(text):
        raise json.JSONDecodeError("extra data after the answer", text, _skip(text, end))
    return answer  # type: ignore[no-any-return]


def _skip(text: str, at: int) -> int:
    return _SPACE.match(text, at).end()  # type: ignore[no-any-return]


def _value(text: str, at: int) -> tuple[Any, int]:
    return _DECODER.raw_decode(text, at)


def _object(text: str, at: int, members: dict[str, _Parse]) -> tuple[Any, int]:
    """The object at ``at`` (spaces before it skipped), its members named in ``members``
    parsed by theirs; any other JSON value there is parsed by ``json`` whole."""

    def member(text: str, at: int) -> tuple[tuple[str, Any], int]:
        if not text.startswith('"', at):
            raise json.JSONDecodeError("expected a member's name", text, at)
        key, at = _string(text, at + 1)
        at = _skip(text, at)
        if not text.startswith(":", at):
            raise json.JSONDecodeError("expected ':'", text, at)
        value, at = members.get(key, _value)(text, _skip(text, at + 1))
        return (key, value), at

    at = _skip(text, at)
    if not text.startswith("{", at):
        return _value(text, at)
    found, at = _items(text, at + 1, "}", member)
    return dict(found), at


def _array(text: str, at: int, item: _Parse) -> tuple[Any, int]:
    """The array at ``at``, each item parsed by ``item``; any other JSON value there is
    parsed by ``json`` whole."""
    at = _skip(text, at)
    if not text.startswith("[", at):
        return _value(text, at)
    return _items(text, at + 1, "]", item)


def _items(text: str, at: int, close: str, item: _Parse) -> tuple[list[Any], int]:
    """The items from ``at``, just after an object's or array's opening, to its ``close``."""
    found: list[Any] = []
    at = _skip(text, at)
    if text.startswith(close, at):
        return found, at + 1
    while True:
        got, at = item(text, at)
        found.append(got)
        at = _skip(text, at)
        if text.startswith(close, at):
            return found, at + 1
        if not text.startswith(",", at):
            raise json.JSONDecodeError(f"expected ',' or '{close}'", text, at)
        at = _skip(text, at + 1)
