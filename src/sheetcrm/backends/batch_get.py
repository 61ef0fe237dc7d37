"""A values.batchGet answer parsed a row at a time as it arrives, each row's texts shared as
it is parsed.

``json.loads`` of a 100,000-lead answer makes every cell's string at once (4.2 million),
and table.shared_texts then keeps one per distinct text: the survivors, scattered among the
freed ones, hold CPython's small-object pools, so the process kept ~145 MB it no longer used
after the read and every later step began above it (issue 21). Parsed a row at a time, a
row's duplicates are freed before the next row is made, the next row reuses their room, and
what the read leaves is what it holds. And parsed as it arrives, the answer is never held
whole: its bytes and its text were each ~60 MB for 100,000 leads, both at once as one was
decoded into the other, at the peak of every read. The answer's other parts are parsed by
``json`` as they are; only the shape of Google's answer is walked here:
``{"valueRanges": [{"values": [[cell, ...], ...]}, ...], ...}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sheetcrm.engine.table import shared_texts

_DECODER = json.JSONDecoder()
_SPACE = json.decoder.WHITESPACE  # type: ignore[attr-defined]
_string = json.decoder.scanstring  # type: ignore[attr-defined]
_NUMBER_TAIL = re.compile(r"[-+.eE0-9]*")


class _Text:
    """The answer's text as it arrives: ``text[at:]`` is what is not parsed yet."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self.chunks, self.text, self.at, self.ended = chunks, "", 0, False

    def more(self, least: int = 1) -> bool:
        """Take the next chunks, at least ``least`` characters of them when there are, after
        what is left of this text; False at the end."""
        got: list[str] = []
        size = 0
        for chunk in self.chunks:
            got.append(chunk)
            size += len(chunk)
            if size >= least:
                break
        else:
            self.ended = True
        if size:
            self.text, self.at = "".join([self.text[self.at :], *got]), 0
        return size > 0

    def next_char(self) -> str:
        """The next character after spaces (skipped), "" at the end of the answer."""
        while True:
            self.at = _SPACE.match(self.text, self.at).end()
            if self.at < len(self.text) or not self.more():
                return self.text[self.at : self.at + 1]

    def take(self, parse: Callable[[str, int], tuple[Any, int]]) -> Any:
        """The value ``parse`` reads from here, once enough of the answer has arrived: a
        value followed only by what could still be a number's may not be whole."""
        while True:
            try:
                value, end = parse(self.text, self.at)
            except json.JSONDecodeError:
                # a value longer than a piece (a column of 100,000 cells, read by columns):
                # the text it has so far at least doubles before it is parsed again, so that
                # it is parsed a few times over, not once a piece
                if self.more(least=len(self.text) - self.at):
                    continue
                raise
            # a number the text so far cuts short reads as a shorter one ("1." of "1.5")
            cut = _NUMBER_TAIL.fullmatch(self.text, end) is not None
            if not cut or self.ended or not self.more():
                self.at = end
                return value

    def fail(self, message: str) -> json.JSONDecodeError:
        return json.JSONDecodeError(message, self.text, self.at)


def batch_get(
    chunks: str | Iterable[str],
    seen: dict[str, str],
    each: Callable[[int, list[Any]], Any] | None = None,
) -> dict[str, Any]:
    """The answer (its text, or its text in pieces as they arrive) as ``json.loads`` reads
    it, except that each value range's ``values`` rows are lists of ``str`` held once per
    distinct text in ``seen``; or, with ``each``, what ``each(range's index, row)`` makes
    of each row as it is parsed (a digest's column, consumed and dropped: None). A body
    that is not JSON raises ``json.JSONDecodeError``, as ``json.loads`` would."""
    text = _Text(iter([chunks] if isinstance(chunks, str) else chunks))
    ranges = -1  # the index of the value range being parsed

    def row() -> Any:
        text.next_char()
        cells = text.take(_DECODER.raw_decode)
        if not isinstance(cells, list):
            raise text.fail("a row of values is not a list")
        return shared_texts((cells,), seen)[0] if each is None else each(ranges, cells)

    def value_range() -> Any:
        nonlocal ranges
        ranges += 1
        return _object(text, {"values": lambda: _array(text, row)})

    answer = _object(text, {"valueRanges": lambda: _array(text, value_range)})
    if text.next_char():
        raise text.fail("extra data after the answer")
    return answer  # type: ignore[no-any-return]


def _value(text: _Text) -> Any:
    text.next_char()
    return text.take(_DECODER.raw_decode)


def _object(text: _Text, members: dict[str, Callable[[], Any]]) -> Any:
    """The object here, its members named in ``members`` parsed by theirs; any other JSON
    value here is parsed by ``json`` whole."""
    if text.next_char() != "{":
        return _value(text)
    text.at += 1

    def member() -> tuple[str, Any]:
        if text.next_char() != '"':
            raise text.fail("expected a member's name")
        text.at += 1
        key = text.take(_string)
        if text.next_char() != ":":
            raise text.fail("expected ':'")
        text.at += 1
        return key, members.get(key, lambda: _value(text))()

    return dict(_items(text, "}", member))


def _array(text: _Text, item: Callable[[], Any]) -> Any:
    """The array here, each item parsed by ``item``; any other JSON value here is parsed
    by ``json`` whole."""
    if text.next_char() != "[":
        return _value(text)
    text.at += 1
    return _items(text, "]", item)


def _items(text: _Text, close: str, item: Callable[[], Any]) -> list[Any]:
    """The items from here, just after an object's or array's opening, to its ``close``."""
    found: list[Any] = []
    if text.next_char() == close:
        text.at += 1
        return found
    while True:
        found.append(item())
        after = text.next_char()
        if after == close:
            text.at += 1
            return found
        if after != ",":
            raise text.fail(f"expected ',' or '{close}'")
        text.at += 1
