"""Capture, end to end: each vendor's documented payload shape, adapted, stored in a real
outbox and flushed into the sheet, then its Leads row checked column by column.

The payloads are our own, written to the shapes the vendors document (Typeform's and
Tally's webhooks with every answer type, Webflow's ``form_submission``, Netlify's form
notification, Google Forms as the Apps Script forwards it, a plain French HTML form)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.schema import FORMS, LEADS
from sheetcrm.engine.table import Table
from sheetcrm.intake import Answer, Submission, adapt
from sheetcrm.intake.flusher import flush
from sheetcrm.intake.outbox import Outbox
from sheets import template

CLOCK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def land(tmp_path: Path, source: str, payload: object, *forms: tuple[str, str]) -> dict[str, str]:
    """The Leads row ``payload`` becomes, through the outbox and the flusher; ``forms``:
    Forms tab rows (Form field, Leads column) added to the template's."""
    tabs = template()
    if forms:
        table = tabs[FORMS.name]
        tabs[FORMS.name] = Table(table.header, [*table.rows, *([f, c, ""] for f, c in forms)])
    backend = MemoryBackend(tabs)
    submission = adapt(source, payload)
    box = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    try:
        box.put(submission.key(), source, submission.to_json(), CLOCK.timestamp() - 60)
        report = flush(box, backend, lambda: CLOCK, "w1")
    finally:
        box.close()
    assert (report.appended, report.dead, report.error) == (1, 0, "")
    leads = backend.read().table(LEADS.name)
    rows = [dict(zip(leads.header, r, strict=True)) for r in leads.rows]
    mine = [r for r in rows if r["Submission ID"] == submission.key()]
    assert len(mine) == 1
    return mine[0]


def filled(row: dict[str, str], *columns: str) -> dict[str, str]:
    return {c: row.get(c, "") for c in columns}


# --- 9. a vendor's field type decides first ------------------------------------------------


def typeform_post() -> dict[str, Any]:
    """Every answer type Typeform documents, under questions whose words say nothing."""
    fields = [
        ("f_quote", "Where should we send your quote?", "email", "email", "ana@acme.example"),
        (
            "f_call",
            "And a number in case we get cut off?",
            "phone_number",
            "phone_number",
            "+1 415 555 0132",
        ),
        ("f_who", "What should we call you?", "short_text", "text", "Ana"),
        ("f_story", "Tell us about your project", "long_text", "text", "Two sites.\nOne app."),
        ("f_seats", "How many seats?", "number", "number", 40),
        ("f_site", "Your website", "website", "url", "https://acme.example"),
        ("f_start", "When do you start?", "date", "date", "2026-12-01"),
        ("f_ok", "Can we follow up?", "yes_no", "boolean", True),
        ("f_terms", "Terms", "legal", "boolean", True),
        ("f_plan", "Which plan?", "multiple_choice", "choice", {"label": "Team"}),
        ("f_extras", "Extras?", "multiple_choice", "choices", {"labels": ["SSO", "Audit"]}),
        ("f_logo", "Favourite logo", "picture_choice", "choice", {"label": "Blue"}),
        ("f_nps", "How likely are you to recommend us?", "nps", "number", 9),
        ("f_scale", "Opinion", "opinion_scale", "number", 4),
        ("f_stars", "Rating", "rating", "number", 5),
        ("f_pick", "Your region", "dropdown", "text", "EMEA"),
        ("f_brief", "Upload a brief", "file_upload", "file_url", "https://files.example/b.pdf"),
        ("f_rank", "Rank these", "ranking", "choices", {"labels": ["Speed", "Price"]}),
        (
            "f_pay",
            "Deposit",
            "payment",
            "payment",
            {"amount": "50", "last4": "4242", "name": "Ana"},
        ),
        ("f_meet", "Book a call", "calendly", "url", "https://calendly.example/e/1"),
    ]
    return {
        "event_id": "01HX",
        "event_type": "form_response",
        "form_response": {
            "form_id": "qz7",
            "token": "tok-9",
            "submitted_at": "2026-11-23T14:58:00Z",
            "landed_at": "2026-11-23T14:55:00Z",
            "calculated": {"score": 12},
            "hidden": {"utm_source": "newsletter"},
            "definition": {
                "id": "qz7",
                "title": "Quote request",
                "fields": [
                    {"id": i, "ref": i, "title": title, "type": ftype}
                    for i, title, ftype, _, _ in fields
                ],
            },
            "answers": [
                {"type": atype, atype: value, "field": {"id": i, "type": ftype, "ref": i}}
                for i, _, ftype, atype, value in fields
            ],
        },
    }


def test_typeform_typed_email_and_phone_land_in_their_columns(tmp_path: Path) -> None:
    row = land(tmp_path, "typeform", typeform_post())
    assert filled(row, "Email", "Phone", "Source") == {
        "Email": "ana@acme.example",
        "Phone": "+14155550132",
        "Source": "newsletter",  # utm_source
    }
    assert "missing" not in row["Status"].casefold()
    notes = row["Notes"].splitlines()
    assert "Where should we send your quote?" not in row["Notes"]
    for line in (
        "What should we call you?: Ana",
        "How many seats?: 40",
        "Your website: https://acme.example",
        "Can we follow up?: Yes",
        "Which plan?: Team",
        "Extras?: SSO, Audit",
        "How likely are you to recommend us?: 9",
        "Upload a brief: https://files.example/b.pdf",
        "Rank these: Speed, Price",
        "Deposit: 50 (Ana, card ending 4242)",
        "Book a call: https://calendly.example/e/1",
        "Calculated score: 12",  # 14: form_response.calculated, once dropped
    ):
        assert line in notes


def tally_post() -> dict[str, Any]:
    """Every field type Tally documents; the e-mail and phone under plain questions."""
    choice = [{"id": "o1", "text": "Team"}, {"id": "o2", "text": "Solo"}]
    fields = [
        ("q_mail", "Where should we send your quote?", "INPUT_EMAIL", "li@firm.example"),
        ("q_tel", "And a number in case we get cut off?", "INPUT_PHONE_NUMBER", "+32491223344"),
        ("q_text", "What should we call you?", "INPUT_TEXT", "Li"),
        ("q_num", "How many seats?", "INPUT_NUMBER", 12),
        ("q_link", "Website", "INPUT_LINK", "firm.example"),
        ("q_date", "Start date", "INPUT_DATE", "2026-12-01"),
        ("q_time", "Best time", "INPUT_TIME", "12:00"),
        ("q_long", "Anything else?", "TEXTAREA", "Line one\nLine two"),
        ("q_rate", "Rating", "RATING", 4),
        ("q_scale", "Linear scale", "LINEAR_SCALE", 7),
        ("q_hidden", "utm_campaign", "HIDDEN_FIELDS", "spring"),
        ("q_calc", "Fit", "CALCULATED_FIELDS", 20),
    ]
    return {
        "eventId": "e-1",
        "eventType": "FORM_RESPONSE",
        "createdAt": "2026-11-23T14:58:00.000Z",
        "data": {
            "responseId": "r-1",
            "formId": "f-1",
            "formName": "Quote",
            "createdAt": "2026-11-23T14:58:00.000Z",
            "fields": [
                *({"key": k, "label": lab, "type": t, "value": v} for k, lab, t, v in fields),
                {
                    "key": "q_plan",
                    "label": "Plan",
                    "type": "MULTIPLE_CHOICE",
                    "value": ["o1"],
                    "options": choice,
                },
                {
                    "key": "q_files",
                    "label": "Brief",
                    "type": "FILE_UPLOAD",
                    "value": [{"id": "x", "name": "b.pdf", "url": "https://files.example/b.pdf"}],
                },
            ],
        },
    }


def test_tally_typed_email_and_phone_land_in_their_columns(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    row = land(tmp_path / "a", "tally", tally_post())
    assert filled(row, "Email", "Phone") == {"Email": "li@firm.example", "Phone": "+32491223344"}
    assert "missing" not in row["Status"].casefold()
    notes = row["Notes"].splitlines()
    for line in (
        "What should we call you?: Li",
        "Plan: Team",
        "Fit: 20",
        "Brief: https://files.example/b.pdf",
    ):
        assert line in notes
    # 14: every line of a multi-line answer stays under its question
    assert "Anything else?: Line one\n    Line two" in row["Notes"]
    # a Forms row, the manager's choice, still comes before the vendor's type
    row = land(tmp_path / "b", "tally", tally_post(), ("Where should we send your quote?", "Notes"))
    assert (row["Email"], row["Notes"].splitlines()[0]) == ("", "li@firm.example")


# --- 11. nested and repeated fields ------------------------------------------------------------


def test_webflow_form_submission(tmp_path: Path) -> None:
    post = {
        "triggerType": "form_submission",
        "payload": {
            "name": "Contact Us",
            "siteId": "65427cf400e02b306eaa049c",
            "data": {
                "First Name": "Zaphod",
                "Last Name": "Beeblebrox",
                "email": "zaphod@heartofgold.example",
                "Phone Number": 14155550132,
                "Your message": "Two heads, one budget",
            },
            "schema": [
                {"fieldName": "First Name", "fieldType": "FormTextInput", "fieldElementId": "a"},
                {"fieldName": "Last Name", "fieldType": "FormTextInput", "fieldElementId": "b"},
                {"fieldName": "email", "fieldType": "FormEmail", "fieldElementId": "c"},
                {"fieldName": "Phone Number", "fieldType": "FormPhone", "fieldElementId": "d"},
                {"fieldName": "Your message", "fieldType": "FormTextarea", "fieldElementId": "e"},
            ],
            "submittedAt": "2026-11-23T14:58:00.000Z",
            "id": "6321ca84df3949bfc6752327",
            "formId": "65429eadebe8a9f3a30f62d0",
        },
    }
    row = land(tmp_path, "generic", post)
    assert filled(row, "First name", "Last name", "Email", "Phone", "Source", "Notes") == {
        "First name": "Zaphod",  # never the form's name, "Contact Us"
        "Last name": "Beeblebrox",
        "Email": "zaphod@heartofgold.example",
        "Phone": "+14155550132",
        "Source": "Web form: Contact Us",
        "Notes": "Two heads, one budget",
    }
    assert row["Submission ID"] == "generic:6321ca84df3949bfc6752327"
    assert (
        row["Form details"] == "Site: 65427cf400e02b306eaa049c\nForm id: 65429eadebe8a9f3a30f62d0"
    )


def test_a_nested_key_is_matched_by_its_whole_path(tmp_path: Path) -> None:
    post = {
        "event_id": "n-1",
        "form": {"name": "Demo request"},
        "contact": {"email": "jo@firm.example", "name": "Jo Park"},
        "company": {"name": "Firm Ltd", "size": "11-50"},
    }
    row = land(tmp_path, "generic", post)
    assert filled(row, "First name", "Last name", "Email", "Company") == {
        "First name": "Jo",
        "Last name": "Park",
        "Email": "jo@firm.example",
        "Company": "Firm Ltd",
    }
    assert row["Notes"].splitlines() == ["form.name: Demo request", "company.size: 11-50"]


def test_same_titled_google_forms_answers_stay_apart(tmp_path: Path) -> None:
    post = {
        "namedValues": {
            "Timestamp": ["11/23/2026 9:58:00"],
            "Name": ["Ana Lima", "Bob Stone"],  # two questions titled "Name"
            "Email": ["ana@acme.example", "bob@acme.example"],
            "Which products?": ["Scoring, Routing"],
        },
        "submissionId": "trig:1",
        "submittedAt": "2026-11-23T14:58:00.000Z",
    }
    row = land(tmp_path, "google-forms", post)
    assert filled(row, "First name", "Last name", "Email") == {
        "First name": "Ana",
        "Last name": "Lima",
        "Email": "ana@acme.example",
    }
    assert row["Notes"].splitlines() == [
        "Name: Bob Stone",
        "Email: bob@acme.example",
        "Which products?: Scoring, Routing",
    ]


# --- 13. questions people actually write ------------------------------------------------------


def test_a_plain_french_html_form(tmp_path: Path) -> None:
    # form-encoded, as the web layer hands it: a dict of strings
    post = {
        "Prénom": "Zoé",
        "Nom": "Müller",
        "Courriel": "zoe@societe.example",
        "Te\u0301le\u0301phone": "06 12 34 56 78",  # decomposed accents, as macOS pastes them
        "Société": "Société Générale",
        "Pays": "France",
        "Secteur d'activité": "Banque",
        "Message": "Rappelez-moi",
    }
    row = land(tmp_path, "generic", post)
    assert filled(
        row, "First name", "Last name", "Email", "Phone", "Company", "Country", "Industry", "Notes"
    ) == {
        "First name": "Zoé",
        "Last name": "Müller",
        "Email": "zoe@societe.example",
        "Phone": "+33612345678",  # read in France, the lead's country
        "Company": "Société Générale",
        "Country": "France",
        "Industry": "Banque",
        "Notes": "Rappelez-moi",
    }


@pytest.mark.parametrize(
    ("question", "answer", "column"),
    [
        ("Which industry is your company in?", "Fintech", "Industry"),
        ("What sector are you in?", "Retail", "Industry"),
        ("Dans quel pays êtes-vous ?", "Belgique", "Country"),
        ("Quel est votre secteur d'activité ?", "Santé", "Industry"),
        ("Votre numéro de téléphone", "+33 6 12 34 56 78", "Phone"),
        ("Le nom de votre société", "Acme", "Company"),
    ],
)
def test_questions_people_write(tmp_path: Path, question: str, answer: str, column: str) -> None:
    row = land(
        tmp_path, "generic", {"event_id": "q-1", "email": "x@firm.example", question: answer}
    )
    assert row[column] != "" and row["Notes"] == ""


def test_where_are_you_located_gives_a_country_only_when_it_names_one(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    post = {"email": "x@firm.example", "Where are you located?": "Germany"}
    row = land(tmp_path / "a", "generic", post)
    assert (row["Country"], row["Notes"]) == ("Germany", "")
    post = {"email": "x@firm.example", "Where are you located?": "Lyon"}
    row = land(tmp_path / "b", "generic", post)
    assert (row["Country"], row["Notes"]) == ("", "Where are you located?: Lyon")


def test_a_forms_row_is_a_phrase_a_question_may_contain(tmp_path: Path) -> None:
    """The synonyms a sheet adds: a Forms row "domaine" catches every question holding it."""
    post = {"email": "x@firm.example", "Dans quel domaine travaillez-vous ?": "Énergie"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert land(tmp_path / "a", "generic", post)["Industry"] == ""
    row = land(tmp_path / "b", "generic", post, ("Domaine", "Industry"))
    assert (row["Industry"], row["Notes"]) == ("Énergie", "")


# --- 14. vendor metadata out of Notes -----------------------------------------------------------


def netlify_post() -> dict[str, Any]:
    data = {
        "name": "Sam Roe",
        "email": "sam@roe.example",
        "company": "Roe & Co",
        "message": "Need a quote\nfor 3 sites",
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)",
        "referrer": "https://roe.example/contact",
    }
    return {
        "number": 17,
        "title": None,
        "email": "sam@roe.example",
        "name": "Sam Roe",
        "first_name": "Sam",
        "last_name": "Roe",
        "company": "Roe & Co",
        "summary": "<strong>Sam Roe</strong> Need a quote",
        "body": "Need a quote\nfor 3 sites",
        "data": data,
        "created_at": "2026-11-23T14:58:00.000Z",
        "human_fields": {"Name": "Sam Roe", "Email": "sam@roe.example", "Company": "Roe & Co"},
        "ordered_human_fields": [
            {"title": "Name", "name": "name", "value": "Sam Roe"},
            {"title": "Email", "name": "email", "value": "sam@roe.example"},
            {"title": "Company", "name": "company", "value": "Roe & Co"},
            {"title": "Message", "name": "message", "value": "Need a quote\nfor 3 sites"},
        ],
        "id": "6566a1b2c3d4e5f6a7b8c9d0",
        "form_id": "6566a1b2c3d4e5f6a7b8c9d1",
        "site_url": "https://roe.example",
        "form_name": "contact",
    }


@pytest.mark.parametrize("wrapped", [False, True], ids=["outgoing webhook", "function payload"])
def test_netlify_metadata_goes_to_form_details(tmp_path: Path, wrapped: bool) -> None:
    post = {"payload": netlify_post()} if wrapped else netlify_post()
    row = land(tmp_path, "generic", post)
    assert filled(row, "First name", "Last name", "Email", "Company", "Source", "Notes") == {
        "First name": "Sam",
        "Last name": "Roe",
        "Email": "sam@roe.example",
        "Company": "Roe & Co",
        "Source": "Web form: contact",
        "Notes": "Need a quote\nfor 3 sites",
    }
    assert row["Submission ID"] == "generic:6566a1b2c3d4e5f6a7b8c9d0"
    assert row["Form details"].splitlines() == [
        "Submission number: 17",
        "Form id: 6566a1b2c3d4e5f6a7b8c9d1",
        "Site: https://roe.example",
        "IP: 203.0.113.9",
        "User agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)",
        "Referrer: https://roe.example/contact",
    ]


def test_a_plain_posts_ip_and_user_agent_are_details_not_notes(tmp_path: Path) -> None:
    # a Zapier-like post naming its form and site: not taken for a Netlify notification
    post = {
        "email": "x@firm.example",
        "ip": "198.51.100.7",
        "user_agent": "curl/8",
        "Budget?": "5k",
        "form_name": "Pricing",
        "site_url": "https://firm.example",
    }
    row = land(tmp_path, "generic", post)
    assert (row["Notes"], row["Source"]) == ("Budget?: 5k", "Web form: Pricing")
    assert row["Form details"].splitlines() == [
        "IP: 198.51.100.7",
        "User agent: curl/8",
        "Site: https://firm.example",
    ]


# --- the outbox keeps what the vendor said -----------------------------------------------------


def test_kinds_and_details_survive_the_outbox() -> None:
    s = Submission(
        "generic",
        "k-1",
        (Answer("q", "Where to?", "a@b.example", "email"), Answer("m", "Message", "Hi")),
        details=(Answer("ip", "IP", "203.0.113.9"),),
    )
    assert Submission.from_json(s.to_json()) == s
    assert s.key() == Submission("generic", "k-1", s.answers).key()
    old = '{"source": "generic", "event_id": "", "answers": [["email", "email", "a@b.example"]]}'
    assert Submission.from_json(old).answers == (Answer("email", "email", "a@b.example"),)
