"""A submission -> the Leads row it becomes: the Forms tab's rows first, then defaults.

Each answer goes to at most one column, first come first served:

1. a Forms tab row naming the answer's label or key (rows for its source or form first);
2. the vendor's field type: an answer Typeform, Tally or Webflow call an email or a phone
   number goes to Email or Phone whatever its question says ("Where should we send your
   quote?");
3. by name: the header or alias of an intake column (``INTAKE``: "E-mail", "Company"; never
   Stage, Owner, a date or a service column), a Leads column the people added,
   or a common form label ("Work email", "Mobile", "Full name", "Organization", "Message",
   and the French "Prénom", "Nom", "Société", "Téléphone", "Pays");
4. by the words of a long question, when the answer reads as what the words say (an
   address, a phone number, a country): first the Forms tab's rows, each a phrase a question
   may contain ("secteur d'activité" -> Industry: the synonyms a sheet adds), then the
   built-in ones ("What is your work email address?", "Which industry is your company in?",
   "Where are you located?").

Labels, keys and phrases are compared without case, accents or punctuation (``fold``).
A nested answer of a generic post is known by its whole path (``company.name``; see
adapters), and a question asked twice gives two answers: the second, finding its column
filled, goes to Notes.

A full name fills First name and Last name. ``utm_source`` sets Source when nothing else
does; otherwise Source is the vendor and form ("Typeform: Contact us"). Nothing is lost:
an answer that fills no column (or whose column is already filled) becomes a
"Label: value" line of Notes, after the answers mapped to Notes, the later lines of a
multi-line answer indented under its label. What the vendor says about the post (IP, user
agent, form id, site: ``Submission.details``) goes to the Form details column, added at the
right of Leads when the sheet lacks it, never to Notes. Values are stored
normalised, like an import's (email, E.164 phone, numbers, dates), and cut to what a cell of
the sheet holds when the batch is planned (intake/batch.py); backends write them as text,
never as formulas. The row carries the submission's
key in Submission ID, which is how a replay is recognised.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sheetcrm.engine.forms_tab import FormMapping, FormRule, fold
from sheetcrm.engine.forms_tab import form_key as _form_key
from sheetcrm.engine.names import WHOLE_NAME, split_name
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.tab_types import Column
from sheetcrm.engine.table import norm_header
from sheetcrm.engine.validation import country_region, normalise_email, normalise_phone, tidy
from sheetcrm.engine.values import is_blank
from sheetcrm.intake.adapters import VENDORS
from sheetcrm.intake.submission import EMAIL, PHONE, Answer, Submission

# A flush maps thousands of submissions with the same labels against the same header: each
# label, header and alias is folded once, not once per answer per column (issue 21: this was a
# third of a 4,000-submission flush).
form_key = lru_cache(maxsize=8192)(_form_key)

FULL_NAME = "full name"  # not a column: split into First name and Last name
UTM_SOURCE = "utm_source"  # not a column: Source, when nothing else sets it
LOCATION = "location"  # not a column: Country, when the answer names one
DETAILS_COLUMN = "Form details"
"""Where a submission's details go: a column of its own, off to the right, so that Notes
hold what the person wrote and a Scoring or Routing rule can still read the details."""
_TYPED = {EMAIL: "Email", PHONE: "Phone"}
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
    "Email": "email, e-mail, email address, work email, business email, your email, "
    "courriel, adresse email, adresse e-mail, adresse mail, votre email, votre e-mail, "
    "e-mail professionnel, email professionnel, votre adresse e-mail",
    "Phone": "phone, phone number, mobile, mobile phone, mobile number, cell, cell phone, "
    "tel, telephone, work phone, your phone, téléphone, numéro de téléphone, portable, "
    "votre téléphone, tél, téléphone portable, numéro de portable, téléphone fixe",
    "First name": "first name, firstname, first, given name, forename, fname, prénom, votre prénom",
    "Last name": "last name, lastname, last, surname, family name, lname, nom, "
    "nom de famille, votre nom de famille",
    FULL_NAME: ", ".join((*WHOLE_NAME, "your name", "nom complet", "nom et prénom")),
    "Company": "company, company name, organisation, organization, organisation name, "
    "organization name, business, business name, employer, your company, société, "
    "entreprise, raison sociale, nom de l'entreprise, nom de la société, votre société, "
    "votre entreprise",
    "Country": "country, country name, your country, pays, votre pays",
    "Industry": "industry, sector, vertical, secteur, secteur d'activité, industrie, "
    "domaine d'activité, votre secteur",
    "Notes": "message, your message, comments, comment, notes, note, questions, question, "
    "details, inquiry, enquiry, how can we help, how can we help you, votre message, "
    "commentaire, commentaires, remarques, votre demande, précisions, votre projet",
    UTM_SOURCE: "utm_source, utm source",
}
DEFAULTS: dict[str, str] = {
    form_key(word): column
    for column, words in _LABELS.items()
    for word in (w.strip() for w in words.split(","))
}
"""Common form labels -> Leads column, matched like every form field (form_key)."""

# The words of a longer question (folded: no case, no accents), most specific first; email,
# phone and a location only when the answer reads as one, so that "Can we email you?" ->
# "Yes" stays out of Email. Industry comes before Company: "Which industry is your company
# in?" asks for an industry.
_WORDS = (
    ("Industry", re.compile(r"\b(industry|industries|sector|vertical|secteur|industrie)\b")),
    (
        "Company",
        re.compile(
            r"\b(company|organi[sz]ation|employer)( s)? name\b|\bwork for\b|"
            r"\b(your|which|what) (company|organi[sz]ation|employer)\b"
            r"(?!( s)? (size|website|url|domain|revenue|type|industry|address))"
        ),
    ),
    ("Company", re.compile(r"\b(societe|entreprise)\b")),
    ("Email", re.compile(r"\b(e ?mail|courriel)\b")),
    ("Phone", re.compile(r"\b(phone|mobile|telephone|portable)\b")),
    ("First name", re.compile(r"\b(first|given) name\b|\bprenom\b")),
    ("Last name", re.compile(r"\b(last|family) name\b|\bsurname\b|\bnom de famille\b")),
    ("Country", re.compile(r"\b(country|pays)\b")),
    (LOCATION, re.compile(r"\b(located|location|based|where do you live|ou etes vous)\b")),
    (FULL_NAME, re.compile(r"\b(your|full) name\b")),
)


def lead_record(
    submission: Submission, mapping: FormMapping, settings: Settings, leads_header: list[str]
) -> dict[str, str]:
    """{Leads header: value} for the row ``submission`` becomes. Headers are spelled as in
    ``leads_header`` (a sheet may call Email "E-mail"), else as the schema does."""
    by_name = _by_name(tuple(leads_header))
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
        put(_column(answer, rules, by_name, settings), answer)

    utm = next((a for a in rest if _default(a, [], by_name, settings) == UTM_SOURCE), None)
    if "Source" not in record and utm is not None:
        record["Source"] = utm.value
        rest.remove(utm)
    if "Source" not in record:
        vendor = VENDORS.get(submission.source, submission.source)
        record["Source"] = f"{vendor}: {submission.form}" if submission.form else vendor

    country = record.get("Country", "")
    row: dict[str, str] = {}
    for column, value in record.items():
        spec = _spec(column)
        cleaned = tidy(value, column, spec.kind if spec else None, country, settings)
        if cleaned:
            row[by_name.get(norm_header(column), column)] = cleaned
    lines = [*notes, *(_labelled(a) for a in rest)]
    if lines:
        row[by_name.get("notes", "Notes")] = "\n".join(lines)
    if submission.details:
        column = by_name.get(norm_header(DETAILS_COLUMN), DETAILS_COLUMN)
        row[column] = "\n".join(_labelled(a) for a in submission.details)
    row[by_name.get(norm_header("Submission ID"), "Submission ID")] = submission.key()
    return row


def _labelled(answer: Answer) -> str:
    """ "Label: value", a multi-line value's later lines indented under the label, so that
    each line of Notes still says which question it answers."""
    first, *more = answer.value.splitlines() or [""]
    return "\n".join([f"{answer.label or answer.key}: {first}", *(f"    {m}" for m in more)])


def _column(
    answer: Answer, rules: list[FormRule], by_name: dict[str, str], settings: Settings
) -> str:
    """The column an answer goes to, by the Forms tab, its type, then its words."""
    keys = _keys(answer)
    rule = next((r for r in rules if form_key(r.field) in keys), None)
    if rule is not None:
        return rule.column
    if answer.kind in _TYPED:
        return _TYPED[answer.kind]
    return _default(answer, rules, by_name, settings)


def _keys(answer: Answer) -> list[str]:
    """The answer's label, then its key, as form fields are matched."""
    return list(dict.fromkeys(k for k in (form_key(answer.label), form_key(answer.key)) if k))


@lru_cache(maxsize=16)
def _by_name(leads_header: tuple[str, ...]) -> dict[str, str]:
    """norm_header of a column's schema header (or its own, for an extra) -> as spelled."""
    names: dict[str, str] = {}
    for header in leads_header:
        if header.strip():
            spec = LEADS.column(header)
            names.setdefault(norm_header(spec.header if spec else header), header)
    return names


def _default(
    answer: Answer, rules: list[FormRule], by_name: dict[str, str], settings: Settings
) -> str:
    """The column an answer goes to without a Forms row naming it or a type saying it;
    "" for none (Notes)."""
    for key in _keys(answer):
        if key in DEFAULTS:
            return DEFAULTS[key]
        if key in _intake_keys():
            return _intake_keys()[key]
        for header in by_name.values():
            if _spec(header) is None and form_key(header) == key != _DETAILS_KEY:
                return header  # a column the people of this sheet added
    words = f" {_words(answer.label)} {_words(answer.key)} "
    # a Forms row as a phrase inside a longer question: the longest phrase first
    for rule in sorted(rules, key=lambda r: -len(_words(r.field))):
        phrase = _words(rule.field)
        if phrase and f" {phrase} " in words and _reads_as(rule.column, answer.value, settings):
            return rule.column
    for column, pattern in _WORDS:
        if pattern.search(words) and _reads_as(column, answer.value, settings):
            return "Country" if column == LOCATION else column
    return ""


_DETAILS_KEY = form_key(DETAILS_COLUMN)


@lru_cache(maxsize=1)
def _intake_keys() -> dict[str, str]:
    """form_key of each intake column's header and aliases -> its header; the first column
    in the schema's order that has the key wins."""
    keys: dict[str, str] = {}
    for spec in LEADS.columns:
        if spec.header in INTAKE:
            for name in (spec.header, *spec.aliases):
                keys.setdefault(form_key(name), spec.header)
    return keys


@lru_cache(maxsize=1024)
def _spec(header: str) -> Column | None:
    """The schema's column ``header`` means: looked up once per header a flush meets."""
    return LEADS.column(header)


@lru_cache(maxsize=8192)
def _words(text: str) -> str:
    """ "Votre secteur d'activité ?" -> "votre secteur d activite"."""
    return re.sub(r"[_\W]+", " ", fold(text)).strip()


def _reads_as(column: str, value: str, settings: Settings) -> bool:
    if column == "Email":
        return "@" in value and bool(normalise_email(value)[0])
    if column == "Phone":
        return bool(normalise_phone(value, settings["Default phone region"])[0])
    if column == LOCATION:
        return bool(country_region(value))
    return True
