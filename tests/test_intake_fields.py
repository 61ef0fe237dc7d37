"""A submission -> its Leads row: the Forms tab, the defaults, Notes, Source, clean values."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from sheetcrm.engine.config import parse_config
from sheetcrm.engine.forms_tab import FormMapping, FormRule
from sheetcrm.engine.names import split_name
from sheetcrm.engine.schema import LEADS, service_columns
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.table import Snapshot
from sheetcrm.engine.values import MAX_CELL
from sheetcrm.files.templates import load_template
from sheetcrm.intake import Answer, Submission, adapt
from sheetcrm.intake.fields import lead_record

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "ref" / "webhook-samples"
HEADER = LEADS.headers
NONE = FormMapping()
US = Settings()  # Default phone region US


def submission(*answers: tuple[str, str], source: str = "generic", form: str = "") -> Submission:
    return Submission(source, "id-1", tuple(Answer(k, k, v) for k, v in answers), form)


def record(*answers: tuple[str, str], mapping: FormMapping = NONE, **kw: str) -> dict[str, str]:
    return lead_record(submission(*answers, **kw), mapping, US, HEADER)


# --- defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "value", "column", "stored"),
    [
        ("email", "Ana@Example.COM", "Email", "ana@example.com"),
        ("E-mail", "ana@example.com", "Email", "ana@example.com"),
        ("Work email", "ana@example.com", "Email", "ana@example.com"),
        ("your_email", "ana@example.com", "Email", "ana@example.com"),
        ("Mobile", "(415) 555-0132", "Phone", "+14155550132"),
        ("tel", "415 555 0132", "Phone", "+14155550132"),
        ("Phone number", "+33 6 12 34 56 78", "Phone", "+33612345678"),
        ("firstName", "Ana", "First name", "Ana"),
        ("Surname", "Lima", "Last name", "Lima"),
        ("Organization", "Acme", "Company", "Acme"),
        ("company name", "Acme", "Company", "Acme"),
        ("Country", "Brazil", "Country", "Brazil"),
        ("Sector", "SaaS", "Industry", "SaaS"),
        ("Message", "Call me", "Notes", "Call me"),
        ("comments", "Call me", "Notes", "Call me"),
        ("Deal value", "12,500", "Amount", "12500"),  # a Leads alias, tidied as money
        ("Next action date", "2026-03-04", "Notes", "Next action date: 2026-03-04"),
        ("Stage", "Won", "Notes", "Stage: Won"),
        ("lead source", "Referral", "Source", "Referral"),
        ("What is your work email address?", "ana@example.com", "Email", "ana@example.com"),
        ("Your company's name", "Acme", "Company", "Acme"),
        ("Best phone to reach you", "415-555-0132", "Phone", "+14155550132"),
    ],
)
def test_defaults_by_label(label: str, value: str, column: str, stored: str) -> None:
    assert record((label, value))[column] == stored


def test_long_question_words_need_a_value_that_reads_as_one() -> None:
    row = record(("Can we email you?", "Yes"), ("Phone or video call?", "Video"))
    assert "Email" not in row and "Phone" not in row
    assert row["Notes"] == "Can we email you?: Yes\nPhone or video call?: Video"


def test_the_key_counts_when_the_label_does_not() -> None:
    s = Submission("typeform", "t", (Answer("email", "Where can we write to you?", "a@b.example"),))
    assert lead_record(s, NONE, US, HEADER)["Email"] == "a@b.example"


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Jane Doe", "Jane", "Doe"),
        ("Jane van der Berg", "Jane", "van der Berg"),
        ("Doe, Jane", "Jane", "Doe"),
        ("Cher", "Cher", ""),
        ("  Zoé   Müller ", "Zoé", "Müller"),
    ],
)
def test_split_name(full: str, first: str, last: str) -> None:
    assert split_name(full) == (first, last)


def test_a_full_name_fills_first_and_last_name() -> None:
    row = record(("Full name", "Jane van der Berg"))
    assert (row["First name"], row["Last name"]) == ("Jane", "van der Berg")
    assert "Notes" not in row


def test_a_full_name_after_a_first_name_goes_to_notes() -> None:
    row = record(("First name", "Jane"), ("Name", "Jane Doe"))
    assert row["First name"] == "Jane"
    assert "Last name" not in row
    assert row["Notes"] == "Name: Jane Doe"


def test_a_column_the_sheet_added_is_filled_by_its_header() -> None:
    row = lead_record(submission(("budget range", "10-50k")), NONE, US, [*HEADER, "Budget Range"])
    assert row["Budget Range"] == "10-50k"


def test_headers_are_spelled_as_the_sheet_spells_them() -> None:
    header = ["E-mail", "first name", "NOTES", "Source"]
    row = lead_record(
        submission(("email", "a@b.example"), ("First name", "Al"), ("Other", "x")),
        NONE,
        US,
        header,
    )
    assert row == {
        "E-mail": "a@b.example",
        "first name": "Al",
        "Source": "Web form",
        "NOTES": "Other: x",
        "Submission ID": "generic:id-1",  # not there yet: the sync appends it
    }


def test_service_columns_are_never_filled_by_default() -> None:
    answers = [(h, "x") for h in service_columns() if h != "Submission ID"]
    row = record(*answers)
    assert not (set(row) & set(service_columns()) - {"Submission ID"})
    assert row["Notes"].splitlines() == [f"{h}: x" for h, _ in answers]


# --- Notes: nothing is lost ----------------------------------------------------------------


def test_every_answer_no_column_takes_is_a_notes_line_after_the_message() -> None:
    row = record(
        ("Email", "a@b.example"),
        ("Company size", "11-50"),
        ("Message", "Please call after 5pm"),
        ("email", "second@b.example"),  # Email is taken: not lost either
        ("Interests", "Scoring, Routing"),
        ("Preferred time", "n/a"),  # a placeholder: unanswered
    )
    assert row["Email"] == "a@b.example"
    assert row["Notes"] == (
        "Please call after 5pm\n"
        "Company size: 11-50\n"
        "email: second@b.example\n"
        "Interests: Scoring, Routing"
    )


def test_every_answer_ends_up_somewhere() -> None:
    s = adapt("tally", _sample("tally.json"))
    row = lead_record(s, NONE, US, HEADER)
    text = "\n".join(row.values())
    for answer in s.answers:
        assert answer.value in text or answer.value.casefold() in text, answer


def test_long_answers_are_kept_whole_for_the_batch_to_cut() -> None:
    # only the batch knows the sheet's cell (intake/batch.py; tests/test_integrity.py)
    row = record(("Message", "x" * (MAX_CELL + 10)), ("Company", "é" * (MAX_CELL + 1)))
    assert row["Notes"] == "x" * (MAX_CELL + 10)
    assert row["Company"] == "é" * (MAX_CELL + 1)


def test_formula_like_answers_stay_text_all_the_way_to_the_sheet(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from sheetcrm.backends.apply import apply
    from sheetcrm.engine.plan import Plan
    from sheetcrm.engine.sync import plan_sync
    from sheets import make_backend

    evil = '=HYPERLINK("http://evil.example","click")'
    row = record(("Company", evil), ("Industry", "@SUM(1)"), ("Message", "+1 call"))
    assert (row["Company"], row["Industry"], row["Notes"]) == (evil, "@SUM(1)", "+1 call")
    backend = make_backend("workbook", tmp_path)
    snapshot = backend.read()
    plan = Plan(snapshot.version)
    plan.appends.append(row)
    apply(plan, backend, snapshot)
    snapshot = backend.read()
    apply(plan_sync(snapshot, datetime(2026, 3, 10, 9, 0)), backend, snapshot)
    leads = backend.read().table("Leads")
    assert leads.column("Company")[-1] == evil
    assert leads.column("Submission ID")[-1] == "generic:id-1"
    sheet = load_workbook(tmp_path / "crm.xlsx")["Leads"]
    company = sheet.cell(sheet.max_row, leads.col("Company") + 1)
    assert (company.value, company.data_type) == (evil, "s")


# --- Source --------------------------------------------------------------------------------


def test_source_is_the_vendor_and_form_by_default() -> None:
    assert record(("Email", "a@b.example"), source="typeform", form="Contact us")["Source"] == (
        "Typeform: Contact us"
    )
    assert record(("Email", "a@b.example"), source="google-forms")["Source"] == "Google Forms"


def test_utm_source_sets_source_when_nothing_else_does() -> None:
    assert record(("utm_source", "linkedin"), ("Email", "a@b.example"))["Source"] == "linkedin"
    row = record(("utm_source", "linkedin"), ("Lead source", "Partner"))
    assert row["Source"] == "Partner"
    assert row["Notes"] == "utm_source: linkedin"


def test_other_utm_parameters_go_to_notes() -> None:
    row = record(("Email", "a@b.example"), ("utm_campaign", "spring"), ("gclid", "abc"))
    assert row["Notes"] == "utm_campaign: spring\ngclid: abc"


# --- the Forms tab -------------------------------------------------------------------------


def test_a_forms_row_comes_before_the_defaults() -> None:
    mapping = FormMapping((FormRule("Email", "Notes"), FormRule("Contact email", "Email")))
    row = record(("Email", "old@b.example"), ("Contact email", "new@b.example"), mapping=mapping)
    assert row["Email"] == "new@b.example"
    assert row["Notes"] == "old@b.example"


def test_a_forms_row_matches_the_key_or_the_label_loosely() -> None:
    mapping = FormMapping((FormRule("q7 company size", "Industry"),))
    s = Submission("jotform", "j", (Answer("q7_companySize", "Company size", "11-50"),))
    assert lead_record(s, mapping, US, HEADER)["Industry"] == "11-50"


def test_a_forms_row_for_one_form_wins_over_one_for_every_form() -> None:
    mapping = FormMapping((FormRule("Team", "Notes"), FormRule("Team", "Industry", "typeform")))
    assert record(("Team", "Ops"), mapping=mapping, source="typeform")["Industry"] == "Ops"
    assert record(("Team", "Ops"), mapping=mapping, source="tally")["Notes"] == "Ops"
    by_title = FormMapping((FormRule("Team", "Industry", "Contact us"),))
    assert record(("Team", "Ops"), mapping=by_title, form="contact US")["Industry"] == "Ops"
    assert "Industry" not in record(("Team", "Ops"), mapping=by_title, form="Other")


def test_two_fields_mapped_to_notes_keep_their_order() -> None:
    mapping = FormMapping((FormRule("Goals", "Notes"), FormRule("Timeline", "Notes")))
    row = record(("Timeline", "Q3"), ("Goals", "Grow"), ("Extra", "1"), mapping=mapping)
    assert row["Notes"] == "Q3\nGrow\nExtra: 1"


def test_the_template_forms_tab_applies() -> None:
    t = load_template(now=datetime(2026, 3, 10, 9, 0))
    config = parse_config(Snapshot(t))
    s = submission(
        ("How did you hear about us?", "Podcast"),
        ("Estimated budget", "$25,000"),
        ("Which company do you work for?", "Acme"),
        source="tally",
    )
    row = lead_record(s, config.forms, config.settings, t["Leads"].header)
    assert row["Source"] == "Podcast"
    assert row["Amount"] == "25000"
    # that row is for Typeform only; the default by words still finds the company
    assert row["Company"] == "Acme"


# --- values --------------------------------------------------------------------------------


def test_a_phone_is_read_in_the_leads_country() -> None:
    row = record(("Phone", "06 12 34 56 78"), ("Country", "France"))
    assert row["Phone"] == "+33612345678"
    assert record(("Phone", "(415) 555-0132"))["Phone"] == "+14155550132"  # default region


def test_a_value_that_does_not_parse_is_kept_for_the_sync_to_flag() -> None:
    row = record(("Email", "not an email"), ("Phone", "call me"))
    assert (row["Email"], row["Phone"]) == ("not an email", "call me")


def test_dates_are_canonical() -> None:
    mapping = FormMapping((FormRule("callback", "Next action date"),))  # a date: mapped only
    row = record(("callback", "2026-03-04T00:00:00"), mapping=mapping)
    assert row["Next action date"] == "2026-03-04"


def test_the_submission_key_is_recorded() -> None:
    s = Submission("generic", "", (Answer("email", "email", "a@b.example"),))
    assert lead_record(s, NONE, US, HEADER)["Submission ID"] == s.key()


# --- the vendors' samples, end to end -------------------------------------------------------


def _sample(name: str) -> object:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"the vendors' sample payloads are not here: {path} is missing")
    return json.loads(path.read_text(encoding="utf-8"))


def test_typeform_sample_row() -> None:
    s = adapt("typeform", _sample("typeform.json"))
    row = lead_record(s, NONE, US, HEADER)
    assert row["Email"] == "laura@example.com"
    assert row["First name"] == "Laura"  # "What is your first name?"
    assert row["Source"] == "Typeform: Webhooks example"
    assert row["Submission ID"] == "typeform:a3a12ec67a1365927098a606107fac15"
    notes = row["Notes"].splitlines()
    assert notes[0].startswith("Thanks, {{answer_60906475}}! What's it like")
    assert "user_id: abc123456" in notes
    assert "name (calculated): typeform" in notes  # a variable is no name


def test_jotform_row() -> None:
    from test_intake_adapters import jotform_post

    row = lead_record(adapt("jotform", jotform_post()), NONE, US, HEADER)
    assert (row["First name"], row["Last name"]) == ("Zoé", "Müller")
    assert row["Email"] == "zoe@example.com"
    assert row["Phone"] == "+14155550132"
    assert row["Source"] == "linkedin"  # utm_source
    assert row["Notes"] == (
        "Work email: zoe@acme.example\n"
        "Company size: 11-50\n"
        "Interests: Scoring, Routing\n"
        "Date: 2026-03-07"
    )
