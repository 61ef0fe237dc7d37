"""Jotform as its webhook posts: multipart fields, the answers in ``rawRequest`` under
shortened unique names, the questions in ``pretty``. Labels are the questions; an address
keeps every part; a Forms-tab row written with the question applies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.intake import adapt
from sheetcrm.service.web import create_app
from sheets import template

TOKEN = "task-token-for-tests"
RAW = {
    "slug": "submit/243490908500051",
    "submitSource": "form",
    "buildDate": "1743981991368",
    "q3_fullName": {"first": "Zoé", "last": "Martin"},
    "q4_email": "zoe.martin@acme.example",
    "q5_phoneNumber": {"full": "06 12 34 56 78"},
    "q6_company": "Acme",
    "q7_industry": "SaaS",
    "q8_address": {
        "addr_line1": "12 rue de la Paix",
        "addr_line2": "Bât. B",
        "city": "Paris",
        "state": "Île-de-France",
        "postal": "75002",
        "country": "France",
    },
    "q9_howDid": "Referral",
    "q10_typeA": "Call me: mornings, please",
    "q11_nameHehe": "Value1 with colon: and comma, end",
    "q12_message": "",
    "event_id": "1743982445903_243490908500051_4IYtoJz",
}
# What Jotform sends beside it: each answered question in full, "Question:answer", joined by
# ", " (a question or an answer may hold ":" and ", " too)
PRETTY = (
    "Full Name:Zoé Martin, E-mail:zoe.martin@acme.example, Phone Number:06 12 34 56 78, "
    "Company:Acme, Industry:SaaS, Address:Street Address: 12 rue de la Paix Street Address "
    "Line 2: Bât. B City: Paris State / Province: Île-de-France Postal / Zip Code: 75002 "
    "Country: France, How did you hear about us?:Referral, Type a question you want us to "
    "answer:Call me: mornings, please, Key1 with colon: and comma, end:Value1 with colon: and "
    "comma, end"
)


def multipart(fields: dict[str, str], boundary: str = "------------------------BIoxRpt") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode("utf-8")


def post_fields() -> dict[str, str]:
    return {
        "action": "",
        "webhookURL": "https://crm.example/hooks/jotform",
        "username": "acme",
        "formID": "243490908500051",
        "type": "WEB",
        "formTitle": "Contact us",
        "submissionID": "6197916587414311452",
        "rawRequest": json.dumps(RAW, ensure_ascii=False),
        "pretty": PRETTY,
        "ip": "203.0.113.9",
    }


def test_labels_are_the_questions_jotform_sends_in_pretty() -> None:
    s = adapt("jotform", post_fields())
    labels = {a.key: a.label for a in s.answers}
    assert labels["q9_howDid"] == "How did you hear about us?"  # not "How did"
    assert labels["q10_typeA"] == "Type a question you want us to answer"  # not "Type a"
    assert labels["q4_email"] == "E-mail"
    assert labels["q3_fullName"] == "Full Name"
    # a unique name its owner changed, a question holding ":" and ", "
    assert labels["q11_nameHehe"] == "Key1 with colon: and comma, end"
    values = {a.key: a.value for a in s.answers}
    assert values["q10_typeA"] == "Call me: mornings, please"
    # without pretty (an older integration), the unique names
    fields = post_fields()
    del fields["pretty"]
    assert {a.key: a.label for a in adapt("jotform", fields).answers}["q9_howDid"] == "How did"


def test_an_address_keeps_every_part_and_its_country() -> None:
    answers = {a.key: (a.label, a.value) for a in adapt("jotform", post_fields()).answers}
    assert answers["q8_address"] == (
        "Address",
        "12 rue de la Paix, Bât. B, Paris, Île-de-France, 75002",
    )
    assert answers["q8_address[country]"] == ("Address (Country)", "France")


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    sheet = tmp_path / "crm.xlsx"
    WorkbookBackend(sheet).provision(template())
    app = create_app(
        {
            "SHEETCRM_SHEET": str(sheet),
            "SHEETCRM_TASK_TOKEN": TOKEN,
            "SHEETCRM_BACKGROUND": "0",
        }
    )
    return app.test_client()


def test_a_forms_row_written_with_the_question_applies(client: FlaskClient, tmp_path: Path) -> None:
    """The template's Forms tab maps "How did you hear about us?" to Source, and Scoring
    gives a Referral +15; a French address +10 (Target market). With Jotform's shortened
    names neither applied and the lead scored 25 points less."""
    boundary = "------------------------BIoxRpt"
    answer = client.post(
        "/hooks/jotform",
        data=multipart(post_fields(), boundary),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert answer.status_code == 202, answer.json
    flushed = client.post("/tasks/flush", headers={"Authorization": f"Bearer {TOKEN}"})
    assert flushed.json["appended"] == 1, flushed.json
    row = WorkbookBackend(tmp_path / "crm.xlsx").read().table("Leads").records()[-1]
    assert row["Source"] == "Referral"
    assert row["Country"] == "France"
    assert row["Phone"] == "+33612345678"  # read in the lead's country
    assert "+15 Source is Referral" in row["Score reasons"]
    assert "+10 Country" in row["Score reasons"]
    assert row["Score"] == "50", row["Score reasons"]
    notes = row["Notes"].splitlines()
    assert "Type a question you want us to answer: Call me: mornings, please" in notes
    assert "Address: 12 rue de la Paix, Bât. B, Paris, Île-de-France, 75002" in notes
