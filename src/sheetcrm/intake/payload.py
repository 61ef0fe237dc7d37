"""Reading a decoded post, whatever it holds: JSON values as answer text, never a crash."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from sheetcrm.engine.values import format_number
from sheetcrm.errors import IntakeError
from sheetcrm.intake.submission import Answer

DEPTH = 8  # nesting deeper than this is not a form answer; its text is left out
# No spreadsheet cell takes control characters; nor can UTF-8 (a database, a sheet, a hash)
# take the lone surrogates that JSON's "\ud800" escapes decode to.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def loads(body: str | bytes) -> Any:
    """A post's JSON. A number no cell can hold (``1e999``, or the ``NaN`` and ``Infinity``
    that JSON does not even allow) is refused with a 422 that names it, never left to
    become an empty answer unseen."""
    return json.loads(body, parse_float=_finite, parse_constant=_not_a_number)


def _finite(written: str) -> float:
    value = float(written)
    if not math.isfinite(value):
        raise IntakeError(
            422,
            f"the post holds the number {written[:40]}, too large for any cell",
            "send the answer as a number within range, or as text",
        )
    return value


def _not_a_number(written: str) -> float:
    raise IntakeError(
        422,
        f"the post holds {written}, which is not a number JSON allows",
        "send a number, or leave the answer out",
    )


def text(value: object, depth: int = 0) -> str:
    """A JSON value as answer text: lists joined with ", ", booleans Yes/No, numbers as
    written (10, 2.5), None as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # more digits than Python prints
            return ""
    if isinstance(value, float):
        return format_number(value) if math.isfinite(value) else ""
    if isinstance(value, str):
        return _CONTROL.sub("", value).strip()
    if depth >= DEPTH:
        return ""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return ", ".join(t for v in items if (t := text(v, depth + 1)))


def scalar(value: object) -> str:
    """An id or a title: only a string or a number counts."""
    return text(value) if isinstance(value, str | int | float) else ""


def json_object(payload: object, vendor: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise IntakeError(
            422,
            f"a {vendor} post is a JSON object, not {kind_of(payload)}",
            "post the vendor's webhook body unchanged",
        )
    return payload


def member(body: dict[str, Any], name: str, message: str, hint: str) -> dict[str, Any]:
    """``body[name]``, which the vendor always sends as an object; a 422 when it is not."""
    value = body.get(name)
    if not isinstance(value, dict):
        raise IntakeError(422, message, hint)
    return value


def kind_of(value: object) -> str:
    if value is None:
        return "nothing"
    return {list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def answers(
    items: Sequence[tuple[str, str, object] | tuple[str, str, object, str]],
) -> tuple[Answer, ...]:
    """(key, label, value[, kind]) -> answers, the unanswered left out."""
    out = []
    for key, label, value, *kind in items:
        rendered = text(value)
        if rendered:
            clean = _CONTROL.sub("", label).strip()
            out.append(Answer(_CONTROL.sub("", key), clean, rendered, *kind))
    return tuple(out)
