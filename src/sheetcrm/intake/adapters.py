"""Each form vendor's payload -> a :class:`Submission`: answers as text, in form order.

``payload`` is the decoded JSON body, or for form-encoded and multipart posts a dict of the
form's fields (multi-valued fields already joined with ", "). Whatever it holds, ``adapt``
returns a Submission or raises IntakeError: a post of the wrong shape is the sender's
mistake (422), never a crash. Unanswered questions (null, "", []) are left out.

The formats, as the vendors document them:

- **typeform**: ``{event_id, form_response: {token, submitted_at, definition: {title,
  fields: [{id, ref, title}]}, answers: [{type, <type>: value, field: {id, ref}}],
  hidden: {...}, variables: [...]}}``. The response ``token`` is the submission id.
- **tally**: ``{eventId, data: {responseId, formName, createdAt, fields: [{key, label, type,
  value, options?}]}}``; choice values are option ids, turned into the options' texts.
- **jotform**: multipart fields ``submissionID, formID, formTitle, rawRequest, pretty``
  where rawRequest is a JSON string of ``{"q3_email": "...", "q4_name": {"first", "last"},
  "q5_address": {"addr_line1", ..., "country"}, ...}`` under each field's unique name,
  shortened from the question ("q6_howDid"), and pretty holds the questions in full
  ("How did you hear about us?:Referral, ..."): the labels are pretty's questions, else the
  unique names un-camel-cased (``q4_workEmail`` -> "Work email").
- **google-forms**: what ``forwardFormSubmit`` in sheet_templates/sheetcrm.gs posts:
  ``{namedValues: {question: [answer, ...]}, submissionId, submittedAt}``; submissionId is
  ``response:<id>`` or ``sheet:<Timestamp cell>:sha256:<answers>``. An older script's
  ``<triggerUid>:<row>`` is replaced by the Timestamp and the answers' digest.
- **generic**: a flat JSON object or form post (Zapier, Make, an HTML form), nested objects
  flattened (``company.name``), or a list of ``{name, value}``; the keys ``event_id`` /
  ``submission_id``, ``form`` / ``form_name`` and ``submitted_at`` are read as such, and
  ``ip``, ``user_agent``, ``referrer``, ``page_url``, ``site_url``, ``form_id`` are details
  of the post, not answers. A nested answer is named by its whole path (``company.name`` is
  the company's name, not the person's); only under a container that stands for the person
  or the form (``data``, ``contact``, ``fields``...) does its own name count alone. Webflow's
  ``form_submission`` and Netlify's form notifications are recognised by their shape
  (vendors.webflow, vendors.netlify).

A question asked twice under one title (Google Forms sends both answers under it) gives two
answers, never one joined: two names are two people, two e-mails two addresses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from sheetcrm.errors import IntakeError
from sheetcrm.intake.jotform import jotform
from sheetcrm.intake.payload import DEPTH, answers, json_object, member, scalar, text
from sheetcrm.intake.submission import Submission
from sheetcrm.intake.vendors import compact, details, netlify, tally, typeform, webflow

SOURCES: tuple[str, ...] = ("generic", "typeform", "tally", "jotform", "google-forms")
VENDORS = {
    "generic": "Web form",
    "typeform": "Typeform",
    "tally": "Tally",
    "jotform": "Jotform",
    "google-forms": "Google Forms",
}
"""The name each source goes by in a Leads row's Source."""


def adapt(source: str, payload: object) -> Submission:
    adapter = _ADAPTERS.get(source)
    if adapter is None:
        raise IntakeError(
            404, f"unknown form source {source!r}", "use one of: " + ", ".join(SOURCES)
        )
    submission = adapter(payload)
    if not submission.answers:
        raise IntakeError(
            422,
            f"the {VENDORS[source]} post has no answers",
            "nothing to make a lead of: check that the form sends its fields",
        )
    return submission


# --- Google Forms --------------------------------------------------------------------------


def _google_forms(payload: object) -> Submission:
    body = json_object(payload, "Google Forms")
    named = member(
        body,
        "namedValues",
        "a Google Forms post has namedValues (question -> answers)",
        "forward the form with forwardFormSubmit from sheet_templates/sheetcrm.gs",
    )
    items: list[tuple[str, str, object]] = []
    stamp = ""
    for question, values in named.items():
        if str(question).strip().casefold() == "timestamp":
            stamp = text(values)  # the responses tab's own column, not a question
            continue
        # one answer per question: Apps Script lists the answers of same-titled questions
        # under one title, each already a whole answer (a checkbox's choices joined)
        each = values if isinstance(values, list) and len(values) > 1 else [values]
        for n, value in enumerate(each):
            key = f"{question} ({n + 1})" if n else str(question)
            items.append((key, str(question), value))
    submission = Submission(
        "google-forms",
        scalar(body.get("submissionId")),
        answers(items),
        scalar(body.get("formTitle")) or scalar(body.get("form")),
        scalar(body.get("submittedAt")) or stamp,
    )
    if _ROW_KEY.fullmatch(submission.event_id):
        # An older sheetcrm.gs keyed a response by its trigger and row number, which the next
        # response takes once a row is deleted: the key is the response's own instead.
        derived = f"sheet:{stamp}:sha256:{submission.digest()}" if stamp else ""
        submission = replace(submission, event_id=derived)
    return submission


_ROW_KEY = re.compile(r"\d+:\d*")  # triggerUid:row, as sheetcrm.gs sent it before


# --- generic -------------------------------------------------------------------------------

_EVENT_KEYS = {"eventid", "submissionid", "idempotencykey"}
_FORM_KEYS = {"form", "formname", "formtitle"}
_TIME_KEYS = {"submittedat", "createdat"}
_DETAIL_KEYS = {
    *("ip", "ipaddress", "useragent", "referrer", "referer", "pageurl", "siteurl", "formid"),
}
# Wrappers that stand for the person or the form as a whole: under them a field's own name
# says what it is (``contact.email``, ``data.name``); under anything else the path does.
_CONTAINERS = {
    "data",
    "fields",
    "contact",
    "lead",
    "person",
    "customer",
    "user",
    "submission",
    "answers",
    "values",
    "formdata",
    "body",
}


def _generic(payload: object) -> Submission:
    if isinstance(payload, dict):
        known = webflow(payload) or netlify(payload)
        if known is not None:
            return known
    items: list[tuple[str, str, object]] = []
    meta: dict[str, str] = {}
    extra: dict[str, object] = {}
    if isinstance(payload, list):  # [{"name": "email", "value": "..."}], as jQuery posts
        for entry in payload:
            if isinstance(entry, dict):
                name = next(
                    (n for k in ("name", "key", "label") if (n := scalar(entry.get(k)))), ""
                )
                items.append((name, scalar(entry.get("label")) or name, entry.get("value")))
    else:
        body = json_object(payload, "web form")
        for key, value in body.items():
            name = compact(key)
            which = (
                "event"
                if name in _EVENT_KEYS
                else "form"
                if name in _FORM_KEYS
                else "time"
                if name in _TIME_KEYS
                else ""
            )
            if which and scalar(value) and which not in meta:
                meta[which] = scalar(value)
            elif name in _DETAIL_KEYS and scalar(value):
                extra[str(key)] = value
            else:
                _flatten(str(key), str(key), value, items, 0)
    return Submission(
        "generic",
        meta.get("event", ""),
        answers(items),
        meta.get("form", ""),
        meta.get("time", ""),
        details(extra),
    )


def _flatten(
    key: str, label: str, value: object, out: list[tuple[str, str, object]], depth: int
) -> None:
    """``{"contact": {"email": x}}`` -> ("contact.email", "email", x); ``{"company":
    {"name": x}}`` -> ("company.name", "company.name", x): named by its path."""
    if isinstance(value, dict) and depth < DEPTH:
        for name, inner in value.items():
            path = f"{key}.{name}"
            container = compact(label) in _CONTAINERS
            _flatten(path, str(name) if container else path, inner, out, depth + 1)
    else:
        out.append((key, label, value))


_ADAPTERS: dict[str, Callable[[object], Submission]] = {
    "generic": _generic,
    "typeform": typeform,
    "tally": tally,
    "jotform": jotform,
    "google-forms": _google_forms,
}
