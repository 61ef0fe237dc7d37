"""The Sequences tab -> nurture steps with their e-mail templates, checked where typed.

Merge fields are Leads headers in double braces: ``{{First name}}``, ``{{ Company }}``. Headers
have spaces, which Jinja names cannot, so before Jinja sees a template each ``{{ Header }}``
whose inside is a plain name (letters, digits, spaces, ``-``, ``'``) is rewritten to
``{{ merge[N] }}``, N the field's place in the step's own list. Jinja then compiles the rest in
a sandbox; a lead's values are only ever passed as data to that compiled template, never
compiled, so a Company of ``{{7*7}}`` reads ``{{7*7}}``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from sheetcrm.engine.catalog import _
from sheetcrm.engine.hints import suggest
from sheetcrm.engine.notifications import one_line
from sheetcrm.engine.problems import Problem
from sheetcrm.engine.rule_tab import RuleTab
from sheetcrm.engine.schema import SEQUENCES, canonical_header
from sheetcrm.engine.table import Table, norm_header

OWNER_FIELDS = ("Owner email", "Owner signature")
"""Merge fields that are not Leads columns: the owner's, from the Team tab."""
OPTIONAL = frozenset({"Owner signature"})
"""Rendered empty when the owner's Team row has no Signature, not waited for: an e-mail
reads well without one (the footer names the sender anyway)."""
SUBJECT_LIMIT = 200
ENROLMENT, PREVIOUS = "enrolment", "previous step"
DRAFT, ACTIVE = "draft", "active"
_AFTER = {"enrolment": ENROLMENT, "enrollment": ENROLMENT, "previous step": PREVIOUS}
_AFTER |= {"previous": PREVIOUS}
_WAIT = re.compile(r"^(\d+)\s*(days?|business\s+days?|jours?|jours?\s+ouvr[ée]s)?$", re.I)
_FIELD = re.compile(r"\{\{\s*([^\W\d_][\w '’-]*?)\s*\}\}")
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


@dataclass(frozen=True)
class Step:
    sequence: str
    number: int
    wait_days: int
    business_days: bool
    after: str  # ENROLMENT or PREVIOUS
    subject: str  # as typed
    body: str
    status: str  # DRAFT or ACTIVE
    fields: tuple[str, ...]  # the merge fields the subject and body use, canonical names
    row: int = 0  # the row on the Sequences tab, as the sheet numbers it
    _subject: str = ""  # the templates as Jinja reads them (fields rewritten)
    _body: str = ""


@dataclass(frozen=True)
class MissingField:
    """A lead without a value the step needs: it waits, and its Status says which."""

    name: str


class _Bad(Exception):
    def __init__(self, problem: str, hint: str, header: str | None = None) -> None:
        self.problem, self.hint, self.header = problem, hint, header


def _rewrite(text: str, known: Mapping[str, str], used: list[str]) -> str:
    """``text`` with each ``{{ Header }}`` as ``{{ merge[N] }}``; ``used`` gains the fields."""

    def field(match: re.Match[str]) -> str:
        name = match.group(1)
        canonical = known.get(norm_header(canonical_header(name)))
        if canonical is None:
            raise _Bad(
                _("%(field)r is not a merge field") % {"field": "{{" + name + "}}"},
                suggest(name, list(known.values())),
            )
        if canonical not in used:
            used.append(canonical)
        return f"{{{{ merge[{used.index(canonical)}] }}}}"

    return _FIELD.sub(field, text)


def _check(source: str, known: Mapping[str, str]) -> None:
    """Raise _Bad for a Jinja syntax error (with its line) or a name that is no field."""
    if _fine(source, len(known)):
        return
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise _Bad(
            _("template error on line %(line)d: %(error)s")
            % {"line": exc.lineno, "error": exc.message},
            _("merge fields are Leads headers in double braces: {{First name}}"),
        ) from None
    for name in sorted(meta.find_undeclared_variables(tree) - {"merge"}):
        raise _Bad(
            _("%(field)r is not a merge field") % {"field": name},
            suggest(name, list(known.values())),
        )
    try:  # a trial run, so that what the sandbox refuses is refused now, at the cell
        _ENV.from_string(source).render(merge=["x"] * len(known))
    except TemplateError as exc:
        raise _Bad(
            _("the template cannot be rendered: %(error)s") % {"error": exc},
            _("merge fields are Leads headers in double braces: {{First name}}"),
        ) from None


@functools.lru_cache(maxsize=256)
def _fine(source: str, fields: int) -> bool:
    """Whether template ``source`` parses, names only merge fields and renders with
    ``fields`` of them: the sandbox's parse and trial run cost a few milliseconds a step,
    and every sync reads the same Sequences tab. Keyed by the source; only the answer is
    kept, not a message, which :func:`_check` words in the sync's language."""
    try:
        tree = _ENV.parse(source)
        if meta.find_undeclared_variables(tree) - {"merge"}:
            return False
        _ENV.from_string(source).render(merge=["x"] * fields)
    except TemplateError:  # TemplateSyntaxError too
        return False
    return True


def parse_sequences(
    table: Table | None, leads_headers: Iterable[str]
) -> tuple[list[Step], list[Problem]]:
    """The Sequences tab. No tab is no sequences, not a problem. A row with a problem is left
    out; the other rows still count. ``leads_headers``: the merge fields a template may name."""
    if table is None:
        return [], []
    tab = RuleTab(SEQUENCES, table, ["Sequence", "Step", "Subject", "Body"])
    known = {norm_header(h): h for h in (*leads_headers, *OWNER_FIELDS) if h.strip()}
    steps: list[Step] = []
    seen: set[tuple[str, int]] = set()
    for i, cells in tab.rows():
        row = Table.sheet_row(i)
        header = "Sequence"  # the cell a problem is at: the last one read
        try:
            for header in ("Sequence", "Step", "Wait", "After", "Status", "Subject", "Body"):
                _need(header, cells, seen)
            step = _step(row, cells, known)
        except _Bad as bad:
            tab.problem(row, header if bad.header is None else bad.header, bad.problem, bad.hint)
            continue
        seen.add((norm_header(step.sequence), step.number))
        steps.append(step)
    return steps, tab.problems


def _need(header: str, cells: dict[str, str], seen: set[tuple[str, int]]) -> None:
    """Raise _Bad when the cell under ``header`` is not what that column takes."""
    text = cells[header]
    wrong: tuple[str, str] | None = None
    if header == "Sequence" and not text:
        wrong = _("a step of no sequence"), _("name its sequence, or clear the row")
    elif header == "Step" and (not text.isdigit() or int(text) < 1):
        wrong = (
            _("%(text)r is not a step number") % {"text": text},
            _("number the steps 1, 2, 3..."),
        )
    elif header == "Step" and (norm_header(cells["Sequence"]), int(text)) in seen:
        wrong = (
            _("%(sequence)s has a second step %(step)s; the first row is used")
            % {"sequence": cells["Sequence"], "step": text},
            _("number its steps once each: 1, 2, 3..."),
        )
    elif header == "Wait" and not _WAIT.match(" ".join(text.split()) or "0"):
        wrong = (
            _("%(text)r is not a wait") % {"text": text},
            _('write days as "3" or "3 business days"'),
        )
    elif header == "After" and text and " ".join(text.casefold().split()) not in _AFTER:
        wrong = (
            _("%(text)r is not when the wait starts") % {"text": text},
            _("write enrolment or previous step"),
        )
    elif header == "Status" and text.casefold() not in ("", DRAFT, ACTIVE):
        wrong = (
            _("%(text)r is not a status") % {"text": text},
            _("write draft (never sent) or active"),
        )
    elif header in ("Subject", "Body") and not text:
        wrong = _("an empty %(what)s") % {"what": header}, _("write the e-mail's text")
    if wrong is not None:
        raise _Bad(*wrong)


def _step(row: int, cells: dict[str, str], known: Mapping[str, str]) -> Step:
    """The row as a step, its cells already checked one by one; its templates checked here."""
    used: list[str] = []
    sources = {}
    for header in ("Subject", "Body"):
        try:
            sources[header] = _rewrite(cells[header], known, used)
            _check(sources[header], known)
        except _Bad as bad:
            raise _Bad(bad.problem, bad.hint, header) from None
    number = int(cells["Step"])
    wait = _WAIT.match(" ".join(cells["Wait"].split()) or "0")
    assert wait is not None  # _need checked it
    unit = (wait.group(2) or "").casefold()
    after = " ".join(cells["After"].casefold().split())
    return Step(
        cells["Sequence"],
        number,
        int(wait.group(1)),
        "business" in unit or "ouvr" in unit,
        _AFTER[after] if after else (ENROLMENT if number == 1 else PREVIOUS),
        cells["Subject"],
        cells["Body"],
        cells["Status"].casefold() or DRAFT,
        tuple(used),
        row,
        sources["Subject"],
        sources["Body"],
    )


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """A step's template compiled once, not once per lead (the sandbox's compile costs a
    millisecond): keyed by its source, as checked by parse_sequences."""
    return _ENV.from_string(source)


def render(step: Step, lead_values: Mapping[str, str]) -> tuple[str, str] | MissingField:
    """The step's (subject, body) for one lead, or the first field it needs and lacks.
    ``lead_values``: by canonical Leads header, plus Owner email and Owner signature. Values
    are data: passed to the compiled template, never compiled. The subject is one line."""
    merge = []
    for name in step.fields:
        value = str(lead_values.get(name) or "").strip()
        if not value and name not in OPTIONAL:
            return MissingField(name)
        merge.append(value)
    subject = _compiled(step._subject).render(merge=merge)
    body = _compiled(step._body).render(merge=merge)
    return one_line(subject, SUBJECT_LIMIT), body
