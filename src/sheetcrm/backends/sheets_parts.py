"""Writes cut to the size Google takes: it refuses a request whose body is over 10 MB whole
(400, "Request payload size exceeds the limit: 10485760 bytes."). A first sync of 100,000
leads writes ~840,000 cells and ~250,000 History rows, ~80 MB of JSON (issue 21): as one
values.batchUpdate it never lands. Its ranges go in parts of at most PART_BYTES, a request
each, and a range larger than that on its own is cut by rows. Each range becomes JSON once,
as its part is made: a write holds a part's text, not the whole body's. Pure."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

PAYLOAD_LIMIT = 10_485_760
"""The most bytes of body Google takes in one request (its error message says so)."""
PART_BYTES = 8 * 1024 * 1024
"""The most a part's ranges take: under the limit with room for the envelope and the lease's
range. Not Google's advised 2 MB: each part is one write request of 60 a minute, and a first
sync of 100,000 leads would then be 40 of them."""

_A1 = re.compile(r"^(?P<tab>.+)!(?P<c1>[A-Z]+)(?P<r1>\d+)(?::(?P<c2>[A-Z]+)(?P<r2>\d+))?$")


def encoded(value: Any) -> bytes:
    """JSON as sent: no spaces, UTF-8 (JSON's own encoding), no NaN (Google refuses it)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def body(envelope: dict[str, Any], key: str, pieces: list[bytes]) -> bytes:
    """``envelope`` with ``key`` set to the list whose members ``pieces`` already are."""
    head = encoded({**envelope, key: []})
    return head[:-3] + b"[" + b",".join(pieces) + b"]}"


def parts(ranges: Iterable[dict[str, Any]], most: int = PART_BYTES) -> Iterator[list[bytes]]:
    """The ValueRanges of a values.batchUpdate, each as its JSON, in groups of at most
    ``most`` bytes, in order; nothing for no ranges."""
    part: list[bytes] = []
    size = 0
    for item in ranges:
        for piece in _fitting(item, most):
            if part and size + len(piece) + 1 > most:
                yield part
                part, size = [], 0
            part.append(piece)
            size += len(piece) + 1
    if part:
        yield part


def row_parts(rows: list[list[Any]], most: int = PART_BYTES) -> Iterator[list[list[Any]]]:
    """``rows`` in consecutive runs whose JSON is at most ``most`` bytes (a row larger than
    that alone is a run of its own: Google then says why it refuses it)."""
    if len(rows) > 1 and len(encoded(rows)) > most:
        half = len(rows) // 2
        yield from row_parts(rows[:half], most)
        yield from row_parts(rows[half:], most)
    elif rows:
        yield rows


def _fitting(item: dict[str, Any], most: int) -> Iterator[bytes]:
    text = encoded(item)
    halves = _halves(item) if len(text) > most else None
    if halves is None:
        yield text
        return
    del text
    for half in halves:
        yield from _fitting(half, most)


def _halves(item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A ValueRange as two, the first half of its rows and the rest; None for one row, or
    a range not in A1 notation with a start cell."""
    found = _A1.match(item.get("range", ""))
    values = item.get("values") or []
    by_columns = item.get("majorDimension") == "COLUMNS"
    count = max((len(c) for c in values), default=0) if by_columns else len(values)
    if found is None or count < 2:
        return None
    half = count // 2
    if by_columns:
        first, rest = [c[:half] for c in values], [c[half:] for c in values]
    else:
        first, rest = values[:half], values[half:]
    return _at(item, found, 0, half, first), _at(item, found, half, count - half, rest)


def _at(item: dict[str, Any], a1: re.Match[str], skip: int, rows: int, values: Any) -> dict:
    top = int(a1["r1"]) + skip
    if a1["c2"] is None:  # a start cell: Google fills from there, as the whole range did
        where = f"{a1['tab']}!{a1['c1']}{top}"
    else:
        where = f"{a1['tab']}!{a1['c1']}{top}:{a1['c2']}{top + rows - 1}"
    return {**item, "range": where, "values": values}
