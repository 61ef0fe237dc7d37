"""The vendors with a format of their own: Typeform, Tally and Jotform (see adapters)."""

from __future__ import annotations

import bisect
import re
import unicodedata
from typing import Any

from sheetcrm.errors import IntakeError
from sheetcrm.intake.payload import DEPTH, answers, json_object, loads, member, scalar, text
from sheetcrm.intake.submission import Submission

# --- Typeform ------------------------------------------------------------------------------


def typeform(payload: object) -> Submission:
    body = json_object(payload, "Typeform")
    response = member(
        body,
        "form_response",
        "a Typeform post has a form_response object",
        "point a Typeform webhook (Connect > Webhooks) at this address",
    )
    definition = response.get("definition")
    definition = definition if isinstance(definition, dict) else {}
    fields: dict[str, dict[str, Any]] = {}
    _typeform_fields(definition.get("fields"), fields, 0)
    items: list[tuple[str, str, object]] = []
    given = response.get("answers")
    for answer in given if isinstance(given, list) else []:
        if not isinstance(answer, dict):
            continue
        field = answer.get("field")
        field = field if isinstance(field, dict) else {}
        spec = fields.get(scalar(field.get("id")), {})
        key = scalar(field.get("ref")) or scalar(spec.get("ref")) or scalar(field.get("id"))
        items.append((key, scalar(spec.get("title")), _typeform_value(answer)))
    hidden = response.get("hidden")
    for name, value in hidden.items() if isinstance(hidden, dict) else ():
        items.append((str(name), str(name), value))
    variables = response.get("variables")
    for variable in variables if isinstance(variables, list) else []:
        if isinstance(variable, dict):
            # computed by the form's logic, not typed: labelled so that no default takes it
            name, kind = scalar(variable.get("key")), scalar(variable.get("type"))
            items.append((name, f"{name} (calculated)", variable.get(kind) if kind else None))
    return Submission(
        "typeform",
        scalar(response.get("token")) or scalar(body.get("event_id")),
        answers(items),
        scalar(definition.get("title")) or scalar(response.get("form_id")),
        scalar(response.get("submitted_at")),
    )


def _typeform_fields(fields: object, out: dict[str, dict[str, Any]], depth: int) -> None:
    """Field definitions by id, those inside question groups included."""
    for field in fields if isinstance(fields, list) and depth < DEPTH else []:
        if isinstance(field, dict):
            out.setdefault(scalar(field.get("id")), field)
            properties = field.get("properties")
            if isinstance(properties, dict):
                _typeform_fields(properties.get("fields"), out, depth + 1)


def _typeform_value(answer: dict[str, Any]) -> object:
    kind = answer.get("type")
    value = answer.get(kind) if isinstance(kind, str) else None
    if kind in ("choice", "choices") and isinstance(value, dict):
        labels = value.get("labels") if kind == "choices" else [value.get("label")]
        return [*(labels if isinstance(labels, list) else []), value.get("other")]
    if kind == "payment" and isinstance(value, dict):
        details = [text(value.get("name"))]
        if text(value.get("last4")):
            details.append(f"card ending {text(value.get('last4'))}")
        shown = ", ".join(d for d in details if d)
        return f"{text(value.get('amount'))} ({shown})" if shown else value.get("amount")
    if value is None:  # a type this code does not know: its value under any other name
        return [v for k, v in answer.items() if k not in ("type", "field")]
    return value


# --- Tally ---------------------------------------------------------------------------------


def tally(payload: object) -> Submission:
    body = json_object(payload, "Tally")
    data = body.get("data")
    fields = data.get("fields") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(fields, list):
        raise IntakeError(
            422,
            "a Tally post has data.fields",
            "point a Tally webhook (Integrations > Webhooks) at this address",
        )
    items: list[tuple[str, str, object]] = []
    with_options: list[str] = []
    for field in fields:
        if not isinstance(field, dict):
            continue
        key, value = scalar(field.get("key")), field.get("value")
        if isinstance(value, bool) and any(key.startswith(f"{k}_") for k in with_options):
            continue  # Tally repeats each checkbox as "Checkboxes (Soccer)": true
        options = field.get("options")
        if isinstance(options, list):
            with_options.append(key)
            value = _tally_choices(value, options)
        elif isinstance(field.get("rows"), list) and isinstance(value, dict):
            value = _tally_matrix(value, field["rows"], field.get("columns"))
        elif isinstance(value, list):  # files and signatures: their links
            value = [v.get("url") or v.get("name") if isinstance(v, dict) else v for v in value]
        items.append((key, scalar(field.get("label")) or key, value))
    return Submission(
        "tally",
        scalar(data.get("responseId"))
        or scalar(data.get("submissionId"))
        or scalar(body.get("eventId")),
        answers(items),
        scalar(data.get("formName")) or scalar(data.get("formId")),
        scalar(data.get("createdAt")) or scalar(body.get("createdAt")),
    )


def _option_texts(options: object) -> dict[str, str]:
    if not isinstance(options, list):
        return {}
    return {scalar(o.get("id")): text(o.get("text")) for o in options if isinstance(o, dict)}


def _tally_choices(value: object, options: list[Any]) -> object:
    names = _option_texts(options)
    chosen = value if isinstance(value, list) else [value]
    return [names.get(v, v) if isinstance(v, str) else v for v in chosen]


def _tally_matrix(value: dict[str, Any], rows: object, columns: object) -> str:
    row_names, column_names = _option_texts(rows), _option_texts(columns)
    parts = []
    for row, chosen in value.items():
        picked = chosen if isinstance(chosen, list) else [chosen]
        names = text([column_names.get(p, p) if isinstance(p, str) else p for p in picked])
        if names:
            parts.append(f"{row_names.get(row, row)}: {names}")
    return "; ".join(parts)


# --- Jotform ---------------------------------------------------------------------------------

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
