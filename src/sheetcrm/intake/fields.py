"""A submission -> the Leads row it becomes: the Forms tab's rows first, then defaults.

Each answer goes to at most one column, first come first served:

1. a Forms tab row naming the answer's label or key (rows for its source or form first);
2. by name: the header or alias of an intake column (``INTAKE``: "E-mail", "Company"; never
   Stage, Owner, a date or a service column), a Leads column the people added,
   or a common form label ("Work email", "Mobile", "Full name", "Organization", "Message");
3. by the words of a long question ("What is your work email address?") when the answer
   reads as what the words say (an address, a phone number).

A full name fills First name and Last name. ``utm_source`` sets Source when nothing else
does; otherwise Source is the vendor and form ("Typeform: Contact us"). Nothing is lost:
an answer that fills no column (or whose column is already filled) becomes a
"Label: value" line of Notes, after the answers mapped to Notes. Values are stored
normalised, like an import's (email, E.164 phone, numbers, dates), and cut to what a cell of
the sheet holds when the batch is planned (intake/batch.py); backends write them as text,
never as formulas. The row carries the submission's
key in Submission ID, which is how a replay is recognised.
"""

from __future__ import annotations

import re

from sheetcrm.engine.forms_tab import FormMapping, form_key
from sheetcrm.engine.names import WHOLE_NAME, split_name
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.validation import normalise_email, normalise_phone, tidy
from sheetcrm.engine.values import is_blank
from sheetcrm.intake.adapters import VENDORS
from sheetcrm.intake.submission import Answer, Submission

FULL_NAME = "full name"  # not a column: split into First name and Last name
UTM_SOURCE = "utm_source"  # not a column: Source, when nothing else sets it
INTAKE = frozenset(
    {
        "First name",
        "Last name",
        "Email",
        "Phone",
        "Company",
        "Country",
        "Industry",
        "Source",
        "Notes",
        "Amount",
    }
)
"""The Leads columns a form fills without a Forms row: what the person filling it tells about
themselves. Stage, Owner, dates and service columns steer the pipeline and the metrics, so
an anonymous post never sets them; only a Forms row (the manager's choice) maps to them."""

_LABELS = {
    "Email": "email, e-mail, email address, work email, business email, your email",
    "Phone": "phone, phone number, mobile, mobile phone, mobile number, cell, cell phone, "
    "tel, telephone, work phone, your phone",
    "First name": "first name, firstname, first, given name, forename, fname",
    "Last name": "last name, lastname, last, surname, family name, lname",
    FULL_NAME: ", ".join((*WHOLE_NAME, "your name")),
    "Company": "company, company name, organisation, organization, organisation name, "
    "organization name, business, business name, employer, your company",
    "Country": "country, country name, your country",
    "Industry": "industry, sector",
    "Notes": "message, your message, comments, comment, notes, note, questions, question, "
    "details, inquiry, enquiry, how can we help, how can we help you",
    UTM_SOURCE: "utm_source, utm source",
}
DEFAULTS: dict[str, str] = {
    form_key(word): column
    for column, words in _LABELS.items()
    for word in (w.strip() for w in words.split(","))
}
"""Common form labels -> Leads column, matched like every form field (form_key)."""

# The words of a longer question, most specific first; email and phone only when the
# answer reads as one, so that "Can we email you?" -> "Yes" stays out of Email.
_WORDS = (
    (
        "Company",
        re.compile(
            r"\b(company|organi[sz]ation|employer)( s)? name\b|\bwork for\b|"
            r"\b(your|which|what) (company|organi[sz]ation|employer)\b"
            r"(?!( s)? (size|website|url|domain|revenue|type|industry|address))"
        ),
    ),
    ("Email", re.compile(r"\be-?mail\b")),
    ("Phone", re.compile(r"\b(phone|mobile|telephone)\b")),
    ("First name", re.compile(r"\b(first|given) name\b")),
    ("Last name", re.compile(r"\b(last|family) name\b|\bsurname\b")),
    ("Country", re.compile(r"\bcountry\b")),
    (FULL_NAME, re.compile(r"\b(your|full) name\b")),
)


def lead_record(
    submission: Submission, mapping: FormMapping, settings: Settings, leads_header: list[str]
) -> dict[str, str]:
    """{Leads header: value} for the row ``submission`` becomes. Headers are spelled as in
    ``leads_header`` (a sheet may call Email "E-mail"), else as the schema does."""
    by_name = _by_name(leads_header)
    rules = mapping.rules_for(submission.source, submission.form)
    record: dict[str, str] = {}
    notes: list[str] = []  # answers mapped to Notes
    rest: list[Answer] = []  # answers no column took

    def put(column: str, answer: Answer) -> None:
        if column == "Notes":
            notes.append(answer.value)
        elif column == FULL_NAME:
            first, last = split_name(answer.value)
            if "First name" in record or "Last name" in record:
                rest.append(answer)
            else:
                record["First name"] = first
                if last:
                    record["Last name"] = last
        elif not column or column == UTM_SOURCE or column in record:
            rest.append(answer)
        else:
            record[column] = answer.value

    for answer in submission.answers:
        if is_blank(answer.value):
            continue  # "Select", "n/a": unanswered
        keys = _keys(answer)
        rule = next((r for r in rules if form_key(r.field) in keys), None)
        put(rule.column if rule else _default(answer, by_name, settings), answer)

    utm = next((a for a in rest if _default(a, by_name, settings) == UTM_SOURCE), None)
    if "Source" not in record and utm is not None:
        record["Source"] = utm.value
        rest.remove(utm)
    if "Source" not in record:
        vendor = VENDORS.get(submission.source, submission.source)
        record["Source"] = f"{vendor}: {submission.form}" if submission.form else vendor

    country = record.get("Country", "")
    row: dict[str, str] = {}
    for column, value in record.items():
        spec = LEADS.column(column)
        cleaned = tidy(value, column, spec.kind if spec else None, country, settings)
        if cleaned:
            row[by_name.get(norm_header(column), column)] = cleaned
    lines = [*notes, *(f"{a.label or a.key}: {a.value}" for a in rest)]
    if lines:
        row[by_name.get("notes", "Notes")] = "\n".join(lines)
    row[by_name.get(norm_header("Submission ID"), "Submission ID")] = submission.key()
    return row


def _keys(answer: Answer) -> list[str]:
    """The answer's label, then its key, as form fields are matched."""
    return list(dict.fromkeys(k for k in (form_key(answer.label), form_key(answer.key)) if k))


def _by_name(leads_header: list[str]) -> dict[str, str]:
    """norm_header of a column's schema header (or its own, for an extra) -> as spelled."""
    names: dict[str, str] = {}
    for header in leads_header:
        if header.strip():
            spec = LEADS.column(header)
            names.setdefault(norm_header(spec.header if spec else header), header)
    return names


def _default(answer: Answer, by_name: dict[str, str], settings: Settings) -> str:
    """The column an answer goes to without a Forms row; "" for none (Notes)."""
    for key in _keys(answer):
        if key in DEFAULTS:
            return DEFAULTS[key]
        for spec in LEADS.columns:
            names = (spec.header, *spec.aliases)
            if spec.header in INTAKE and key in {form_key(n) for n in names}:
                return spec.header
        for header in by_name.values():
            if LEADS.column(header) is None and form_key(header) == key:
                return header  # a column the people of this sheet added
    words = " ".join(re.sub(r"[_\W]+", " ", t).casefold() for t in (answer.label, answer.key))
    for column, pattern in _WORDS:
        if pattern.search(words) and _reads_as(column, answer.value, settings):
            return column
    return ""


def _reads_as(column: str, value: str, settings: Settings) -> bool:
    if column == "Email":
        return "@" in value and bool(normalise_email(value)[0])
    if column == "Phone":
        return bool(normalise_phone(value, settings["Default phone region"])[0])
    return True
