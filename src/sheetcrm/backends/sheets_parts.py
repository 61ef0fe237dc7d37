"""Writes cut to the size Google takes: it refuses a request whose body is over 10 MB whole
(400, "Request payload size exceeds the limit: 10485760 bytes."). A first sync of 100,000
leads writes ~840,000 cells and ~250,000 History rows, ~80 MB of JSON (issue 21): as one
values.batchUpdate it never lands. Its ranges go in parts of at most PART_BYTES, a request
each, and a range larger than that on its own is cut by rows. Each range becomes JSON once,
as its part is made: a write holds a part's text, not the whole body's. Pure."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
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
    """``envelope`` with ``key`` set to the list whose members ``pieces`` already are
    (``key`` last: :func:`with_member` adds to that list). Joined once: a part is 8 MB."""
    head = encoded({**envelope, key: []})
    joined = [head[:-3], b"["]
    for piece in pieces:
        joined += (piece, b",")
    if pieces:
        joined.pop()  # the comma after the last
    joined.append(b"]}")
    return b"".join(joined)


def with_member(made: bytes, piece: bytes) -> bytes:
    """A :func:`body` with ``piece`` added at the end of its list."""
    return made[:-2] + (b"," if not made.endswith(b"[]}") else b"") + piece + b"]}"


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


def bodies(
    ranges: Iterable[dict[str, Any]],
    envelope: dict[str, Any],
    last: Callable[[], bytes | None],
    most: int = PART_BYTES,
) -> Iterator[bytes]:
    """The bodies of a values.batchUpdate of ``ranges`` (``envelope`` with them as its
    ``data``) in parts Google takes, a request each; ``last()``: a range to add to the last
    part, asked once the last is known (the lease, given back only if the write has not
    outlasted it). A part is made into its body at once and its pieces let go; the next
    part is made before a body is handed on, so that the last is known as such."""
    ahead: bytes | None = None
    for part in parts(ranges, most):
        if ahead is not None:
            yield ahead
        ahead = body(envelope, "data", part)
        del part
    extra = last()
    if extra is not None:
        ahead = with_member(ahead if ahead is not None else body(envelope, "data", []), extra)
    if ahead is not None:
        yield ahead


def row_parts(rows: list[list[Any]], most: int = PART_BYTES) -> Iterator[list[list[Any]]]:
    """``rows`` in consecutive runs whose JSON is at most ``most`` bytes (a row larger than
    that alone is a run of its own: Google then says why it refuses it)."""
    if len(rows) > 1 and len(encoded(rows)) > most:
        half = len(rows) // 2
        yield from row_parts(rows[:half], most)
        yield from row_parts(rows[half:], most)
    elif rows:
        yield rows


ROWS_AT_ONCE = 2_000
"""The most rows of a range made into JSON at once. A first sync of 100,000 leads appends
~126,000 History rows and writes columns of 100,000 cells (Score reasons: ~700 characters
each): as one text, then its bytes, tens of MB at the peak of the write, only to be halved
(issue 21, session 6). Cut first, a run's text is ~1.5 MB at most with the bench's rules."""


def _fitting(item: dict[str, Any], most: int) -> Iterator[bytes]:
    for run in _cut(item, ROWS_AT_ONCE) or [item]:
        text = encoded(run)
        halves = _cut(run, -(-_count(run) // 2)) if len(text) > most else None
        if halves is None:
            yield text
            continue
        del text
        for half in halves:
            yield from _fitting(half, most)


def _count(item: dict[str, Any]) -> int:
    values = item.get("values") or []
    if item.get("majorDimension") == "COLUMNS":
        return max((len(c) for c in values), default=0)
    return len(values)


def _cut(item: dict[str, Any], size: int) -> list[dict[str, Any]] | None:
    """A ValueRange as runs of at most ``size`` rows, in order; None when it is one run
    already, or not in A1 notation with a start cell."""
    found = _A1.match(item.get("range", ""))
    count = _count(item)
    if found is None or count <= size or size < 1:
        return None
    values = item.get("values") or []
    runs = []
    for skip in range(0, count, size):
        if item.get("majorDimension") == "COLUMNS":
            run = [c[skip : skip + size] for c in values]
        else:
            run = values[skip : skip + size]
        runs.append(_at(item, found, skip, min(size, count - skip), run))
    return runs


def _at(item: dict[str, Any], a1: re.Match[str], skip: int, rows: int, values: Any) -> dict:
    top = int(a1["r1"]) + skip
    if a1["c2"] is None:  # a start cell: Google fills from there, as the whole range did
        where = f"{a1['tab']}!{a1['c1']}{top}"
    else:
        where = f"{a1['tab']}!{a1['c1']}{top}:{a1['c2']}{top + rows - 1}"
    return {**item, "range": where, "values": values}
