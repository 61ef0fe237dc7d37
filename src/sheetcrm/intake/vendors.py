"""The vendors with a format of their own: Typeform, Tally, and the Webflow and Netlify
posts that arrive at the generic hook (see adapters). Jotform has a module of its own."""

from __future__ import annotations

import re
from typing import Any

from sheetcrm.errors import IntakeError
from sheetcrm.intake.payload import DEPTH, answers, json_object, member, scalar, text
from sheetcrm.intake.submission import EMAIL, PHONE, Answer, Submission

# Each vendor's name for a field that holds an e-mail address or a phone number: the type
# it gives decides the column before the question's wording does.
_KINDS = {
    "email": EMAIL,
    "phone_number": PHONE,  # Typeform
    "input_email": EMAIL,
    "input_phone_number": PHONE,  # Tally
    "formemail": EMAIL,
    "formphone": PHONE,
    "formtel": PHONE,  # Webflow
    "tel": PHONE,
    "phone": PHONE,
}


def kind_of_field(vendor_type: object) -> str:
    return _KINDS.get(scalar(vendor_type).casefold().replace("-", "_"), "")


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
    items: list[tuple[str, str, object] | tuple[str, str, object, str]] = []
    given = response.get("answers")
    for answer in given if isinstance(given, list) else []:
        if not isinstance(answer, dict):
            continue
        field = answer.get("field")
        field = field if isinstance(field, dict) else {}
        spec = fields.get(scalar(field.get("id")), {})
        key = scalar(field.get("ref")) or scalar(spec.get("ref")) or scalar(field.get("id"))
        kind = next((k for t in (answer, field, spec) if (k := kind_of_field(t.get("type")))), "")
        items.append((key, scalar(spec.get("title")), _typeform_value(answer), kind))
    hidden = response.get("hidden")
    for name, value in hidden.items() if isinstance(hidden, dict) else ():
        items.append((str(name), str(name), value))
    variables = response.get("variables")
    for variable in variables if isinstance(variables, list) else []:
        if isinstance(variable, dict):
            # computed by the form's logic, not typed: labelled so that no default takes it
            name, kind = scalar(variable.get("key")), scalar(variable.get("type"))
            items.append((name, f"{name} (calculated)", variable.get(kind) if kind else None))
    calculated = response.get("calculated")
    if isinstance(calculated, dict):  # the quiz score of the form's own scoring
        items.append(("calculated.score", "Calculated score", calculated.get("score")))
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
    items: list[tuple[str, str, object, str]] = []
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
        label, kind = scalar(field.get("label")) or key, kind_of_field(field.get("type"))
        items.append((key, label, value, kind))
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


# --- Webflow and Netlify (posted to the generic hook) ------------------------------------

_DETAILS = {
    "ip": "IP",
    "ipaddress": "IP",
    "useragent": "User agent",
    "referrer": "Referrer",
    "referer": "Referrer",
    "siteurl": "Site",
    "siteid": "Site",
    "site": "Site",
    "formid": "Form id",
    "pageurl": "Page",
    "publishedpath": "Page",
    "number": "Submission number",
}
"""What a vendor or a script says about a post rather than the person (compact keys ->
label): kept out of Notes, in Form details."""


def compact(key: object) -> str:
    return re.sub(r"[^0-9a-z]", "", str(key).casefold())


def details(pairs: dict[str, object]) -> tuple[Answer, ...]:
    """The known metadata of ``pairs``, labelled; the rest is not metadata."""
    found = [(k, _DETAILS[compact(k)], v) for k, v in pairs.items() if compact(k) in _DETAILS]
    return answers(found)


def webflow(body: dict[str, Any]) -> Submission | None:
    """A Webflow ``form_submission``: v2 ``{triggerType, payload: {name, siteId, data,
    schema: [{fieldName, fieldType}], submittedAt, id, formId}}`` or v1 ``{name, site, data,
    d, _id}``; None when ``body`` is neither."""
    if body.get("triggerType") == "form_submission":
        inner = body.get("payload")
    else:
        inner = body if {"_id", "site", "data"} <= body.keys() else None
    if not isinstance(inner, dict) or not isinstance(inner.get("data"), dict):
        return None
    schema = inner.get("schema")
    kinds = {
        scalar(f.get("fieldName")): kind_of_field(f.get("fieldType"))
        for f in (schema if isinstance(schema, list) else [])
        if isinstance(f, dict)
    }
    items = [(str(k), str(k), v, kinds.get(str(k), "")) for k, v in inner["data"].items()]
    return Submission(
        "generic",
        scalar(inner.get("id")) or scalar(inner.get("_id")),
        answers(items),
        scalar(inner.get("name")),
        scalar(inner.get("submittedAt")) or scalar(inner.get("d")),
        details({k: v for k, v in inner.items() if k not in ("data", "schema")}),
    )


_NETLIFY_KEYS = {"form_name", "site_url", "form_id"}


def netlify(body: dict[str, Any]) -> Submission | None:
    """A Netlify form notification (an outgoing webhook, or a ``submission-created``
    function's ``{payload: ...}``): ``{id, number, form_id, form_name, site_url,
    created_at, data: {<field>..., ip, user_agent, referrer}, human_fields,
    ordered_human_fields: [{name, title, value}], summary, body, ...}``; None when ``body``
    is not one. The answers come from ordered_human_fields (with their titles) or data;
    summary, body and human_fields repeat them, and are left out."""
    inner = body.get("payload") if isinstance(body.get("payload"), dict) else body
    if not isinstance(inner, dict):
        return None
    data = inner.get("data")
    # a Zapier post may well say form_name and site_url: only Netlify adds its field lists
    netlify_lists = {"ordered_human_fields", "human_fields"} & inner.keys()
    if not netlify_lists and not (isinstance(data, dict) and inner.keys() >= _NETLIFY_KEYS):
        return None
    data = data if isinstance(data, dict) else {}
    ordered = inner.get("ordered_human_fields")
    fields = [f for f in (ordered if isinstance(ordered, list) else []) if isinstance(f, dict)]
    items = (
        [(scalar(f.get("name")), scalar(f.get("title")), f.get("value")) for f in fields]
        if fields
        else [(str(k), str(k), v) for k, v in data.items()]
    )
    skip = {"formname", "botfield"}
    kept = [i for i in items if compact(i[0]) not in _DETAILS and compact(i[0]) not in skip]
    meta = {k: v for k, v in inner.items() if compact(k) in _DETAILS}
    meta.update({k: v for k, v in data.items() if compact(k) in _DETAILS})
    return Submission(
        "generic",
        scalar(inner.get("id")),
        answers(kept),
        scalar(inner.get("form_name")),
        scalar(inner.get("created_at")),
        details(meta),
    )
