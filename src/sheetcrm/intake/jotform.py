"""Jotform: a multipart post whose ``rawRequest`` holds the answers under each field's
shortened unique name and whose ``pretty`` holds the questions in full (see adapters)."""

from __future__ import annotations

import bisect
import re
import unicodedata

from sheetcrm.errors import IntakeError
from sheetcrm.intake.payload import answers, json_object, loads, scalar, text
from sheetcrm.intake.submission import Submission

_JOTFORM_FIELD = re.compile(r"q(\d+)_(.+)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Past these, pretty is no form a person filled in, and the labels are not looked for in it:
# its length, and its length times the number of fields.
PRETTY_CHARS, PRETTY_WORK = 100_000, 4_000_000
_ADDRESS = ("addr_line1", "addr_line2", "city", "state", "postal")


def jotform(payload: object) -> Submission:
    body = json_object(payload, "Jotform")
    raw = body.get("rawRequest")
    if isinstance(raw, str):
        try:
            raw = loads(raw)
        except (ValueError, RecursionError):
            raw = None
    if not isinstance(raw, dict):
        raise IntakeError(
            422,
            "a Jotform post has a rawRequest field holding the answers as a JSON object",
            "point a Jotform webhook (Settings > Integrations > WebHooks) at this address",
        )
    fields = []
    for key, value in raw.items():
        match = _JOTFORM_FIELD.fullmatch(str(key))
        if match and text(value):
            fields.append((str(key), match[2], value))
    labels = _pretty_labels(text(body.get("pretty")), fields)
    items: list[tuple[str, str, object]] = []
    for key, name, value in fields:
        label = labels.get(key) or _humanise(name)
        if _is_address(value):
            # the country too, as an answer of its own: it can fill the Country column
            parts = {k: text(v) for k, v in value.items()}
            items.append((key, label, [parts.get(k, "") for k in _ADDRESS]))
            items.append((f"{key}[country]", f"{label} (Country)", parts.get("country")))
        else:
            items.append((key, label, _jotform_value(value)))
    return Submission(
        "jotform",
        scalar(body.get("submissionID")) or scalar(raw.get("event_id")),
        answers(items),
        scalar(body.get("formTitle")) or scalar(body.get("formID")),
        scalar(raw.get("submitDate")),
    )


def _pretty_labels(pretty: str, fields: list[tuple[str, str, object]]) -> dict[str, str]:
    """Field key -> its question as the form shows it, read from ``pretty``.

    rawRequest names a field by a unique name Jotform makes from the question's first words
    ("How did you hear about us?" is ``q6_howDid``); ``pretty`` has the whole question, as
    ``Question:answer`` entries joined by ", ", in form order, which questions and answers
    may themselves contain. So a field's question is the entry, after the previous one's,
    that starts with its name's words and whose ":" is followed by its answer."""
    if len(pretty) > PRETTY_CHARS or len(pretty) * len(fields) > PRETTY_WORK:
        return {}  # the unique names will do
    starts = [0, *(m.end() for m in re.finditer(", ", pretty))]
    heads = [_squash(pretty[p : p + 200]) for p in starts]  # a question's first words
    colons = [m.start() for m in re.finditer(":", pretty)]
    labels: dict[str, str] = {}
    cursor = 0
    for key, name, value in fields:
        words, lead = _squash(_CAMEL.sub(" ", name)), _lead(value)
        named = [p for p, head in zip(starts, heads, strict=True) if head.startswith(words)]
        found = (
            _entry(pretty, named, colons, cursor, lead)
            or _entry(pretty, named, colons, cursor, "")
            # a unique name its owner renamed: the next entry, if it holds this answer
            or (_entry(pretty, starts, colons, cursor, lead, nearest=False) if lead else None)
        )
        if found is None:
            continue  # not in pretty: the unique name, un-camel-cased
        start, colon = found
        labels[key] = pretty[start:colon].strip()
        cursor = colon + 1 + len(lead)
    return labels


def _entry(
    pretty: str,
    starts: list[int],
    colons: list[int],
    cursor: int,
    lead: str,
    nearest: bool = True,
) -> tuple[int, int] | None:
    """(start, colon) of the first entry from ``cursor`` that begins at one of ``starts``
    and whose answer (after the colon) begins with ``lead``: of the starts before that
    colon, the nearest, or with ``nearest=False`` the first."""
    first = bisect.bisect_left(starts, cursor)
    if first == len(starts):
        return None
    for colon in colons[bisect.bisect_right(colons, starts[first]) :]:
        answer = colon + 1
        while pretty.startswith(" ", answer):
            answer += 1
        if not pretty.startswith(lead, answer):
            continue
        if nearest:
            return starts[bisect.bisect_left(starts, colon) - 1], colon
        return starts[first], colon
    return None


def _squash(words: str) -> str:
    """Letters and digits only, without case or accents: how a unique name meets its question."""
    bare = unicodedata.normalize("NFKD", words.casefold())
    return "".join(c for c in bare if c.isalnum() and not unicodedata.combining(c))


def _lead(value: object) -> str:
    """How the answer's text in ``pretty`` begins, where that is known ("" where not: an
    address or a date is shown with sub-labels of its own, "Street Address: ...")."""
    if isinstance(value, dict):
        return text(value.get("full") or value.get("first"))
    if isinstance(value, list):
        return text(value[0]) if value else ""
    return text(value)


def _is_address(value: object) -> bool:
    return isinstance(value, dict) and "addr_line1" in value and "country" in value


def _humanise(name: str) -> str:
    """A Jotform unique name as a label: workEmail -> Work email."""
    words = _CAMEL.sub(" ", name).strip()
    if "_" in words:
        return words
    return words[:1].upper() + words[1:].lower()


def _jotform_value(value: object) -> object:
    if not isinstance(value, dict):
        return value
    parts = {str(k): text(v) for k, v in value.items()}
    if "full" in parts:  # phone
        return parts["full"]
    if "first" in parts or "last" in parts:  # name
        order = ("prefix", "first", "middle", "last", "suffix")
        return " ".join(parts[k] for k in order if parts.get(k))
    if {"year", "month", "day"} <= parts.keys():
        date = _iso_date(parts["year"], parts["month"], parts["day"])
        clock = ":".join(parts[k] for k in ("hour", "min") if parts.get(k))
        return " ".join(p for p in (date, clock, parts.get("ampm", "")) if p)
    if "area" in parts and "phone" in parts:
        return f"({parts['area']}) {parts['phone']}" if parts["area"] else parts["phone"]
    return value


def _iso_date(year: str, month: str, day: str) -> str:
    if year.isdigit() and month.isdigit() and day.isdigit():
        return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
    return " ".join(p for p in (year, month, day) if p)
