"""Vendor payloads -> submissions; signatures; idempotency keys."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sheetcrm.errors import IntakeError
from sheetcrm.intake import SOURCES, Answer, Submission, adapt, verify
from sheetcrm.intake.signatures import secret_variable

# next to the repository, like the real-data tests' ../shared/data
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "ref" / "webhook-samples"


def sample(name: str) -> Any:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"the vendors' sample payloads are not here: {path} is missing")
    return json.loads(path.read_text(encoding="utf-8"))


def by_label(submission: Submission) -> dict[str, str]:
    return {a.label: a.value for a in submission.answers}


# --- the vendors' own samples --------------------------------------------------------------


def test_typeform_sample() -> None:
    s = adapt("typeform", sample("typeform.json"))
    assert (s.source, s.event_id, s.form) == (
        "typeform",
        "a3a12ec67a1365927098a606107fac15",  # form_response.token: the response, not the delivery
        "Webhooks example",
    )
    assert s.submitted_at == "2018-01-18T18:17:02Z"
    assert s.key() == "typeform:a3a12ec67a1365927098a606107fac15"
    answers = {a.key: a for a in s.answers}
    assert answers["readable_ref_email"].value == "laura@example.com"
    assert answers["readable_ref_short_text"].label == "What is your first name?"
    assert answers["readable_ref_date"].value == "2005-10-15"
    assert answers["readable_ref_picture_choice"].value == "London, Sydney"  # choices
    assert answers["readable_ref_multiple_choice"].value == "London"  # choice
    assert answers["readable_ref_number1"].value == "5"
    assert answers["readable_ref_legal"].value == "Yes"
    assert answers["readable_ref_yes_no"].value == "No"
    assert answers["readable_ref_calendly"].value.startswith("https://calendly.com/")
    assert answers["user_id"] == Answer("user_id", "user_id", "abc123456")  # hidden field
    assert answers["score"] == Answer("score", "score (calculated)", "4")  # variables
    assert answers["calculated.score"].value == "9"  # form_response.calculated: kept too
    assert answers["readable_ref_email"].kind == "email"  # the type Typeform gives
    assert [a.key for a in s.answers][:3] == [
        "readable_ref_long_text",
        "readable_ref_email",
        "readable_ref_short_text",
    ]


def test_tally_sample() -> None:
    s = adapt("tally", sample("tally.json"))
    assert (s.event_id, s.form, s.submitted_at) == (
        "2wgx4n",
        "Webhook payload",
        "2023-06-28T15:00:21.000Z",
    )
    got = by_label(s)
    assert got["utm_campaign"] == "newsletter"  # HIDDEN_FIELDS
    assert got["Score"] == "20"  # CALCULATED_FIELDS
    assert got["Email"] == "alice@example.com"
    assert got["Phone number"] == "+32491223344"
    assert got["Multiple choice"] == "In progress"  # option id -> its text
    assert got["Checkboxes"] == "Swimming, Skiing"
    assert got["Dropdown"] == "Hard"
    assert got["Multi-select"] == "Surf, Golf"
    assert got["Ranking"] == "Pear, Apple, Banana"
    assert got["File upload"].endswith("/Tally_Icon.png")
    assert got["Matrix"] == "Quality: Satisfied; Speed: Neutral"
    assert got["Payment (price)"] == "9"
    # each checkbox is repeated as "Checkboxes (Soccer)": false; those are left out
    assert not any(label.startswith("Checkboxes (") for label in got)


def test_google_forms_sample_event() -> None:
    # the raw event object of the trigger; what forwardFormSubmit posts is tested below
    s = adapt("google-forms", sample("google_forms_apps_script_onFormSubmit_event.json"))
    assert by_label(s) == {"First Name": "Jane", "Last Name": "Doe"}
    assert s.submitted_at == "6/7/2015 20:54:13"  # the Timestamp column is no answer
    assert s.event_id == ""
    assert s.key().startswith("google-forms:sha256:")


# --- hand-written payloads -----------------------------------------------------------------

JOTFORM_RAW = {
    "slug": "submit/230123456789/",
    "q3_name": {"first": "Zoé", "last": "Müller"},
    "q4_email": "zoe@example.com",
    "q5_phoneNumber": {"full": "(415) 555-0132"},
    "q6_workEmail": "zoe@acme.example",
    "q7_companySize": "11-50",
    "q8_interests": ["Scoring", "Routing"],
    "q9_date": {"month": "3", "day": "7", "year": "2026"},
    "q10_message": "",
    "q11_utm_source": "linkedin",
    "event_id": "1700000000000_230123456789_abc",
    "submitDate": "1700000000000",
    "buildDate": "1699999999999",
}


def jotform_post(**changes: str) -> dict[str, str]:
    post = {
        "formID": "230123456789",
        "submissionID": "5801234567890123456",
        "formTitle": "Contact us",
        "pretty": "Name:Zoé Müller, E-mail:zoe@example.com",
        "rawRequest": json.dumps(JOTFORM_RAW),
    }
    post.update(changes)
    return post


def test_jotform_multipart_post() -> None:
    s = adapt("jotform", jotform_post())
    assert (s.event_id, s.form, s.submitted_at) == (
        "5801234567890123456",
        "Contact us",
        "1700000000000",
    )
    assert [(a.key, a.label, a.value) for a in s.answers] == [
        ("q3_name", "Name", "Zoé Müller"),
        ("q4_email", "E-mail", "zoe@example.com"),  # the question, from pretty
        ("q5_phoneNumber", "Phone number", "(415) 555-0132"),
        ("q6_workEmail", "Work email", "zoe@acme.example"),
        ("q7_companySize", "Company size", "11-50"),
        ("q8_interests", "Interests", "Scoring, Routing"),
        ("q9_date", "Date", "2026-03-07"),
        ("q11_utm_source", "utm_source", "linkedin"),  # q10 was left empty
    ]


def test_jotform_without_submission_id_falls_back_on_its_event_id() -> None:
    post = jotform_post()
    del post["submissionID"]
    assert adapt("jotform", post).event_id == "1700000000000_230123456789_abc"


@pytest.mark.parametrize("raw", ["", "{not json", "[1, 2]", '"text"', None], ids=repr)
def test_jotform_without_a_parseable_raw_request(raw: str | None) -> None:
    post = jotform_post()
    if raw is None:
        del post["rawRequest"]
    else:
        post["rawRequest"] = raw
    with pytest.raises(IntakeError) as err:
        adapt("jotform", post)
    assert err.value.status == 422
    assert "rawRequest" in err.value.message
    assert err.value.hint


def test_generic_json() -> None:
    s = adapt(
        "generic",
        {
            "email": "ana@example.com",
            "name": "Ana Lima",
            "company": {"name": "Acme", "size": 40},
            "newsletter": True,
            "interests": ["a", "b"],
            "empty": "",
            "nothing": None,
            "submission_id": "zap-123",
            "form_name": "Pricing page",
            "submitted_at": "2026-03-01T10:00:00Z",
            "utm_source": "google",
        },
    )
    assert (s.event_id, s.form, s.submitted_at) == (
        "zap-123",
        "Pricing page",
        "2026-03-01T10:00:00Z",
    )
    assert [(a.key, a.label, a.value) for a in s.answers] == [
        ("email", "email", "ana@example.com"),
        ("name", "name", "Ana Lima"),
        ("company.name", "company.name", "Acme"),
        ("company.size", "company.size", "40"),
        ("newsletter", "newsletter", "Yes"),
        ("interests", "interests", "a, b"),
        ("utm_source", "utm_source", "google"),
    ]


def test_generic_form_fields() -> None:
    # form-encoded: the web layer hands a dict of strings, multi-valued fields joined
    s = adapt(
        "generic",
        {"Email": "bo@example.com", "Topics": "Pricing, Demo", "Message": "Call me\r\nplease"},
    )
    assert by_label(s) == {
        "Email": "bo@example.com",
        "Topics": "Pricing, Demo",
        "Message": "Call me\r\nplease",
    }
    assert s.event_id == ""


def test_generic_list_of_name_value_pairs() -> None:
    s = adapt("generic", [{"name": "email", "value": "c@example.com"}, {"name": "x"}, 3])
    assert s.answers == (Answer("email", "email", "c@example.com"),)


def test_google_forms_as_forwarded_by_the_apps_script() -> None:
    s = adapt(
        "google-forms",
        {
            "namedValues": {
                "Timestamp": ["3/10/2026 9:41:07"],
                "Email Address": ["li@example.com"],
                "Which products?": ["Scoring, Routing"],
                "Two values": ["a", "b"],
                "Left empty": [""],
            },
            "submissionId": "4034124084959907503:7",
            "spreadsheetId": "1AbC",
            "submittedAt": "2026-03-10T14:41:08.000Z",
        },
    )
    # the trigger's id and the row are no key: the response's Timestamp and answers are
    assert s.key() == f"google-forms:sheet:3/10/2026 9:41:07:sha256:{s.digest()}"
    assert s.submitted_at == "2026-03-10T14:41:08.000Z"
    assert [(a.key, a.label, a.value) for a in s.answers] == [
        ("Email Address", "Email Address", "li@example.com"),
        ("Which products?", "Which products?", "Scoring, Routing"),
        # two questions titled alike: two answers, never one joined
        ("Two values", "Two values", "a"),
        ("Two values (2)", "Two values", "b"),
    ]


def test_google_forms_responses_under_one_old_row_key_keep_keys_of_their_own() -> None:
    """An older sheetcrm.gs sent ``triggerUid:row``; once a response row is deleted the
    next response has that row's number again, so the key is made from the response."""

    def post(stamp: str, email: str, submission_id: str) -> Submission:
        named = {"Timestamp": [stamp], "Email Address": [email]}
        return adapt("google-forms", {"namedValues": named, "submissionId": submission_id})

    li = post("3/10/2026 9:41:07", "li@example.com", "4034124084959907503:7")
    bo = post("3/11/2026 8:02:55", "bo@example.com", "4034124084959907503:7")
    assert li.key() != bo.key()
    assert li.key() == post("3/10/2026 9:41:07", "li@example.com", "4034124084959907503:7").key()
    # what sheetcrm.gs sends now is kept as sent
    now = post("3/10/2026 9:41:07", "li@example.com", "response:2_ABaOnud1")
    assert now.key() == "google-forms:response:2_ABaOnud1"


def test_typeform_answer_types_beyond_the_sample() -> None:
    payload = sample("typeform.json")
    response = payload["form_response"]
    response["answers"] = [
        {"type": "choice", "choice": {"other": "Lisbon"}, "field": {"id": "a", "ref": "city"}},
        {
            "type": "choices",
            "choices": {"labels": ["Red"], "other": "Teal"},
            "field": {"id": "b", "ref": "colours"},
        },
        {"type": "phone_number", "phone_number": "+447700900123", "field": {"id": "c"}},
        {"type": "number", "number": 2.5, "field": {"id": "d", "ref": "rating"}},
        {"type": "file_url", "file_url": "https://x.example/f.pdf", "field": {"id": "e"}},
        {
            "type": "payment",
            "payment": {"amount": "9.00", "last4": "4242", "name": "Jo", "success": True},
            "field": {"id": "f", "ref": "pay"},
        },
        {"type": "text", "text": "  ", "field": {"id": "g", "ref": "blank"}},
        {"type": "brand_new", "brand_new": "future", "field": {"id": "h", "ref": "new"}},
        {"type": "text", "text": "日本語 ✓", "field": {"id": "i", "ref": "unicode"}},
        "not an answer",
    ]
    response["hidden"] = {"utm_source": "newsletter", "utm_campaign": "spring", "gclid": None}
    values = {a.key: a.value for a in adapt("typeform", payload).answers}
    assert values == {
        "city": "Lisbon",
        "colours": "Red, Teal",
        "c": "+447700900123",
        "rating": "2.5",
        "e": "https://x.example/f.pdf",
        "pay": "9.00 (Jo, card ending 4242)",
        "new": "future",
        "unicode": "日本語 ✓",
        "utm_source": "newsletter",
        "utm_campaign": "spring",
        "score": "4",
        "name": "typeform",
        "calculated.score": "9",  # the sample's own form_response.calculated
    }


def test_typeform_labels_come_from_fields_inside_groups() -> None:
    payload = {
        "event_id": "E1",
        "form_response": {
            "definition": {
                "title": "T",
                "fields": [
                    {
                        "id": "grp",
                        "type": "group",
                        "properties": {"fields": [{"id": "x", "title": "Inner", "ref": "in"}]},
                    }
                ],
            },
            "answers": [{"type": "text", "text": "v", "field": {"id": "x"}}],
        },
    }
    s = adapt("typeform", payload)
    assert s.answers == (Answer("in", "Inner", "v"),)
    assert s.event_id == "E1"  # no token: the event id


def test_control_characters_are_dropped_and_unicode_kept() -> None:
    s = adapt("generic", {"Naïve\x00 label": "é\x07🙂\x1f ok"})
    assert s.answers == (Answer("Naïve label", "Naïve label", "é🙂 ok"),)


# --- wrong shapes --------------------------------------------------------------------------

WRONG = [
    ("typeform", {}, "form_response"),
    ("typeform", {"form_response": []}, "form_response"),
    ("typeform", [], "JSON object"),
    ("typeform", {"form_response": {"answers": []}}, "no answers"),
    ("tally", {"data": {}}, "data.fields"),
    ("tally", {"data": {"fields": []}}, "no answers"),
    ("tally", "text", "JSON object"),
    ("jotform", {"formID": "1"}, "rawRequest"),
    ("google-forms", {"values": ["a"]}, "namedValues"),
    ("google-forms", {"namedValues": {"Timestamp": ["1/1/2026"]}}, "no answers"),
    ("generic", {}, "no answers"),
    ("generic", {"submission_id": "1", "a": "", "b": None}, "no answers"),
    ("generic", None, "JSON object"),
    ("generic", 12, "JSON object"),
]


@pytest.mark.parametrize(("source", "payload", "words"), WRONG, ids=[str(w[:2]) for w in WRONG])
def test_a_wrong_shape_is_a_422_with_a_hint(source: str, payload: object, words: str) -> None:
    with pytest.raises(IntakeError) as err:
        adapt(source, payload)
    assert err.value.status == 422
    assert words in err.value.message
    assert err.value.hint


def test_an_unknown_source_is_a_404() -> None:
    with pytest.raises(IntakeError) as err:
        adapt("wufoo", {"email": "a@b.example"})
    assert err.value.status == 404
    assert "typeform" in err.value.hint


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def _near(source: str) -> st.SearchStrategy[object]:
    """Payloads close to what the vendor sends, with arbitrary values inside."""
    shapes: dict[str, st.SearchStrategy[object]] = {
        "typeform": st.fixed_dictionaries(
            {
                "form_response": st.fixed_dictionaries(
                    {},
                    optional={
                        "answers": st.lists(
                            st.fixed_dictionaries(
                                {
                                    "type": st.sampled_from(
                                        ["text", "choice", "choices", "payment", "x"]
                                    )
                                },
                                optional={
                                    "field": _JSON,
                                    "text": _JSON,
                                    "choice": _JSON,
                                    "choices": _JSON,
                                    "payment": _JSON,
                                },
                            )
                            | _JSON,
                            max_size=4,
                        ),
                        "definition": _JSON,
                        "hidden": _JSON,
                        "variables": _JSON,
                        "token": _JSON,
                    },
                )
            }
        ),
        "tally": st.fixed_dictionaries(
            {
                "data": st.fixed_dictionaries(
                    {
                        "fields": st.lists(
                            st.fixed_dictionaries(
                                {},
                                optional={
                                    "key": _JSON,
                                    "label": _JSON,
                                    "value": _JSON,
                                    "options": _JSON,
                                    "rows": _JSON,
                                    "columns": _JSON,
                                },
                            )
                            | _JSON,
                            max_size=4,
                        )
                    },
                    optional={"responseId": _JSON, "formName": _JSON},
                )
            }
        ),
        "jotform": st.fixed_dictionaries(
            {"rawRequest": _JSON.map(json.dumps) | st.text()},
            optional={"submissionID": _JSON, "formTitle": _JSON},
        ),
        "google-forms": st.fixed_dictionaries(
            {"namedValues": _JSON}, optional={"submissionId": _JSON}
        ),
        "generic": _JSON,
    }
    return shapes[source] | _JSON


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SOURCES).flatmap(lambda s: st.tuples(st.just(s), _near(s))))
def test_adapt_raises_nothing_but_intake_errors(case: tuple[str, object]) -> None:
    source, payload = case
    try:
        s = adapt(source, payload)
    except IntakeError as exc:
        assert 400 <= exc.status < 500
        return
    assert s.answers and all(a.value == a.value.strip() and a.value for a in s.answers)
    assert Submission.from_json(s.to_json()) == s
    assert s.key() == adapt(source, copy.deepcopy(payload)).key()


# --- idempotency keys ----------------------------------------------------------------------


def test_the_vendor_id_is_the_key() -> None:
    assert adapt("generic", {"event_id": "e-9", "a": "1"}).key() == "generic:e-9"


def test_the_same_answers_in_another_order_give_the_same_key() -> None:
    one = adapt("generic", {"Email": "a@b.example", "Name": "Ann", "form": "F"})
    two = adapt("generic", {"name ": "Ann", "form": "F", " EMAIL": "a@b.example "})
    assert one.key() == two.key()
    assert one.key().startswith("generic:sha256:")
    assert len(one.key().rsplit(":", 1)[1]) == 64


@pytest.mark.parametrize(
    "other",
    [
        {"Email": "a@b.example", "Name": "Anne"},  # another value
        {"Email": "a@b.example", "Name": "Ann", "Phone": "1"},  # one more answer
        {"Email": "a@b.example", "Surname": "Ann"},  # another field
        {"Email": "a@b.example", "Name": "Ann", "form": "Other form"},
    ],
)
def test_different_answers_give_a_different_key(other: dict[str, str]) -> None:
    base = adapt("generic", {"Email": "a@b.example", "Name": "Ann"}).key()
    assert adapt("generic", other).key() != base


def test_the_same_answers_from_two_sources_are_two_keys() -> None:
    named = {"namedValues": {"Email": ["a@b.example"]}}
    assert adapt("google-forms", named).key() != adapt("generic", {"Email": "a@b.example"}).key()


def test_a_retry_with_a_new_timestamp_keeps_its_key() -> None:
    one = adapt("generic", {"Email": "a@b.example", "submitted_at": "2026-01-01T10:00:00Z"})
    two = adapt("generic", {"Email": "a@b.example", "submitted_at": "2026-01-01T10:00:09Z"})
    assert one.key() == two.key()


def test_a_submission_survives_the_outbox() -> None:
    s = adapt("jotform", jotform_post())
    assert Submission.from_json(s.to_json()) == s
    assert "Zoé" in s.to_json()  # stored as text, not escaped


@pytest.mark.parametrize(
    "text", ["[]", '{"answers": "x"}', '{"answers": [["a", "b"]]}', '{"source": 1, "answers": []}']
)
def test_a_corrupt_stored_submission_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        Submission.from_json(text)


# --- signatures ----------------------------------------------------------------------------

BODY = json.dumps({"event_id": "x", "form_response": {}}).encode()
SECRET = "s3cr3t-é"


def b64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def hexsig(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


GOOD = [
    ("typeform", {"Typeform-Signature": f"sha256={b64(SECRET, BODY)}"}),
    ("typeform", {"typeform-signature": f"sha256={b64(SECRET, BODY)}"}),  # any case
    ("tally", {"Tally-Signature": b64(SECRET, BODY)}),
    ("generic", {"X-Signature": f"sha256={hexsig(SECRET, BODY)}"}),
    ("generic", {"x-signature": hexsig(SECRET, BODY).upper()}),  # bare hex
    ("jotform", {"X-Sheetcrm-Token": SECRET}),
    ("google-forms", {"Authorization": f"Bearer {SECRET}"}),
    ("generic", {"authorization": f"bearer {SECRET}", "X-Sheetcrm-Token": SECRET}),
]


@pytest.mark.parametrize(("source", "headers"), GOOD, ids=[f"{s}-{list(h)}" for s, h in GOOD])
def test_a_good_signature_or_token_passes(source: str, headers: dict[str, str]) -> None:
    verify(source, SECRET, BODY, headers)


BAD = [
    ("typeform", {}, "no Typeform-Signature"),
    ("typeform", {"Typeform-Signature": b64(SECRET, BODY)}, "sha256="),  # no scheme
    ("typeform", {"Typeform-Signature": f"sha1={b64(SECRET, BODY)}"}, "sha256="),
    ("typeform", {"Typeform-Signature": f"sha256={b64('other', BODY)}"}, "does not match"),
    ("typeform", {"Typeform-Signature": f"sha256={b64(SECRET, BODY + b' ')}"}, "does not match"),
    ("tally", {"Typeform-Signature": b64(SECRET, BODY)}, "no Tally-Signature"),
    ("tally", {"Tally-Signature": hexsig(SECRET, BODY)}, "does not match"),  # hex, not base64
    ("tally", {"Tally-Signature": "é✓"}, "does not match"),
    ("generic", {}, "no signature"),
    ("generic", {"X-Signature": f"sha256={hexsig('other', BODY)}"}, "does not match"),
    ("generic", {"X-Signature": f"md5={hexsig(SECRET, BODY)}"}, "sha256"),
    ("jotform", {"X-Sheetcrm-Token": "wrong"}, "does not match"),
    ("google-forms", {"Authorization": f"Basic {SECRET}"}, "does not match"),
    ("google-forms", {"Authorization": "Bearer"}, "does not match"),
]


@pytest.mark.parametrize(
    ("source", "headers", "words"), BAD, ids=[f"{s}-{w}-{i}" for i, (s, _, w) in enumerate(BAD)]
)
def test_a_missing_or_wrong_signature_is_a_401(
    source: str, headers: dict[str, str], words: str
) -> None:
    with pytest.raises(IntakeError) as err:
        verify(source, SECRET, BODY, headers)
    assert err.value.status == 401
    assert words in err.value.message
    assert err.value.hint


# Every credential form the shared-secret sources accept, each as (headers, ?token=).
CREDENTIALS = {
    "signature": lambda good: (
        {"X-Signature": f"sha256={hexsig(SECRET if good else 'x', BODY)}"},
        None,
    ),
    "bearer": lambda good: ({"Authorization": f"Bearer {SECRET if good else 'wrong'}"}, None),
    "header token": lambda good: ({"X-Sheetcrm-Token": SECRET if good else "wrong"}, None),
    "query token": lambda good: ({}, SECRET if good else "wrong"),
}
PAIRS = [(a, b) for a in CREDENTIALS for b in CREDENTIALS if a != b]


@pytest.mark.parametrize("source", ["generic", "jotform", "google-forms"])
@pytest.mark.parametrize(("good", "wrong"), PAIRS, ids=[f"good {a}, wrong {b}" for a, b in PAIRS])
def test_one_wrong_credential_refuses_whatever_good_one_comes_with(
    source: str, good: str, wrong: str
) -> None:
    """One rule: every credential presented must be right. A good bearer token once let a
    wrong ?token= through while a good header token beside the same ?token= was refused."""
    headers, query = CREDENTIALS[good](True)
    more, query_too = CREDENTIALS[wrong](False)
    with pytest.raises(IntakeError) as err:
        verify(source, SECRET, BODY, {**headers, **more}, query or query_too)
    assert err.value.status == 401
    assert "does not match" in err.value.message
    assert wrong.split()[-1].casefold() in err.value.message.casefold()


@pytest.mark.parametrize("source", ["generic", "jotform", "google-forms"])
@pytest.mark.parametrize(("one", "other"), PAIRS, ids=[f"{a} and {b}" for a, b in PAIRS])
def test_two_good_credentials_pass(source: str, one: str, other: str) -> None:
    headers, query = CREDENTIALS[one](True)
    more, query_too = CREDENTIALS[other](True)
    verify(source, SECRET, BODY, {**headers, **more}, query or query_too)


def test_an_empty_secret_lets_nothing_through() -> None:
    with pytest.raises(IntakeError) as err:
        verify("generic", "", BODY, {"Authorization": "Bearer "})
    assert err.value.status == 401
    assert "SHEETCRM_SECRET_GENERIC" in err.value.message


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import sheetcrm.intake.signatures as signatures

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signatures.hmac, "compare_digest", spy)
    verify("tally", SECRET, BODY, {"Tally-Signature": b64(SECRET, BODY)})
    verify("generic", SECRET, BODY, {"X-Sheetcrm-Token": SECRET})
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("source", "name"),
    [("typeform", "SHEETCRM_SECRET_TYPEFORM"), ("google-forms", "SHEETCRM_SECRET_GOOGLE_FORMS")],
)
def test_secret_variable(source: str, name: str) -> None:
    assert secret_variable(source) == name
