"""The unsubscribe page (service/unsubscribe_page.py) through Flask's test client, on a real
workbook and a real SQLite outbox: a GET shows the address and a button and changes nothing;
the button's POST and a mail client's RFC 8058 one-click POST put the address on the
suppression list and an ``unsubscribe`` activity in the outbox, once however often they
come; an edited, foreign or expired token gets a page that says what to do instead and
changes nothing; without a signing key every link is a plain 404. The browser test
(test_unsubscribe_browser.py) clicks through the same page in chromium."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select, text

from sheetcrm.intake.activity import ACTIVITY
from sheetcrm.intake.outbox import Entry
from sheetcrm.intake.outbox_db import unsubscribed
from sheetcrm.notify.suppression import suppressed
from sheetcrm.notify.unsubscribe import PATH, SALT, link, token
from sheetcrm.service.tasks import Service
from test_web import make_app

SECRET = "unsubscribe-secret-for-the-tests-0123"
ADDRESS = "Ana.Lopez@Example.com"
LEAD = "L-00042"
KEY = "unsubscribe:L-00042:ana.lopez@example.com"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _service(app: Flask) -> Service:
    svc: Service = app.extensions["sheetcrm"]
    return svc


@pytest.fixture
def app(sheet: Path) -> Iterator[Flask]:
    app = make_app(sheet, SHEETCRM_UNSUBSCRIBE_SECRET=SECRET)
    yield app
    _service(app).stop()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client(use_cookies=False)  # one-click POSTs carry no cookie


def signed_path(language: str = "en", address: str = ADDRESS, secret: str = SECRET) -> str:
    return PATH + token(secret, LEAD, address, language)


def entries(app: Flask) -> list[Entry]:
    return _service(app).outbox.entries()


def nothing_stored(app: Flask) -> bool:
    return not entries(app) and not suppressed(_service(app).outbox.db, [ADDRESS])


def test_the_link_the_e_mails_carry_opens_the_page(client: FlaskClient) -> None:
    full = link("https://crm.example.com/", SECRET, LEAD, ADDRESS, "en")
    assert full.startswith("https://crm.example.com/unsubscribe/")
    answer = client.get(full.removeprefix("https://crm.example.com"))
    assert answer.status_code == 200


def test_a_get_names_the_address_offers_one_button_and_changes_nothing(
    app: Flask, client: FlaskClient
) -> None:
    for _ in range(3):  # a mail scanner, a link preview, the person
        answer = client.get(signed_path())
        assert answer.status_code == 200
    page = answer.text
    assert answer.mimetype == "text/html"
    assert "Stop the e-mails sent to Ana.Lopez@Example.com?" in page
    assert '<form method="post"><button type="submit">Unsubscribe</button></form>' in page
    assert "<script" not in page and "http" not in page  # no script, no outside asset
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["X-Robots-Tag"] == "noindex"
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert nothing_stored(app)


def test_the_page_speaks_the_tokens_language(client: FlaskClient) -> None:
    page = client.get(signed_path("fr")).text
    assert '<html lang="fr">' in page
    assert "Ne plus envoyer ces e-mails à Ana.Lopez@Example.com ?" in page
    assert ">Me désinscrire</button>" in page
    assert "Unsubscribe" not in page


def test_an_unknown_language_gets_both(client: FlaskClient) -> None:
    page = client.get(signed_path("de")).text
    assert '<section lang="en">' in page and '<section lang="fr">' in page
    assert page.count("<form") == 2  # either button does it


def test_the_button_unsubscribes_once_and_the_activity_waits_in_the_outbox(
    app: Flask, client: FlaskClient
) -> None:
    before = time.time()
    answer = client.post(signed_path(), data={})
    assert answer.status_code == 200, answer.text
    assert "You are unsubscribed" in answer.text
    assert "No more of these e-mails will be sent to Ana.Lopez@Example.com." in answer.text
    assert "<form" not in answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    svc = _service(app)
    assert suppressed(svc.outbox.db, ["ana.lopez@example.COM"]) == {"ana.lopez@example.com"}
    [entry] = entries(app)
    assert (entry.key, entry.source, entry.state) == (KEY, ACTIVITY, "pending")
    row = json.loads(entry.body)
    assert row == {
        "At": row["At"],
        "Lead ID": LEAD,
        "Type": "unsubscribe",
        "Notes": "unsubscribed from Ana.Lopez@Example.com by the link",
    }
    assert row["At"].endswith("+00:00") and "T" in row["At"]  # ISO, UTC: any sheet zone
    assert before - 1 <= _at(row["At"]) <= time.time()
    for again in (client.post(signed_path(), data={}), client.post(signed_path(), data=ONE_CLICK)):
        assert again.status_code == 200 and "You are unsubscribed" in again.text
    assert [(e.key, e.body) for e in entries(app)] == [(KEY, entry.body)]


def _at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _how(app: Flask) -> str:
    with _service(app).outbox.db.engine.connect() as conn:
        return str(conn.execute(select(unsubscribed.c.how)).scalar_one())


def test_a_mail_clients_one_click_post_works_without_cookies(
    app: Flask, client: FlaskClient
) -> None:
    answer = client.post(
        signed_path(),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    assert _how(app) == "one-click"
    assert [e.key for e in entries(app)] == [KEY]


def test_the_buttons_post_is_recorded_as_the_page(app: Flask, client: FlaskClient) -> None:
    assert client.post(signed_path("fr")).status_code == 200  # a form with no field: an empty body
    assert _how(app) == "page"


def test_a_second_link_of_the_same_address_keeps_the_first_time(
    app: Flask, client: FlaskClient
) -> None:
    """Another lead holding the address (a duplicate) gets its own activity, dated when the
    address first asked; the suppression list keeps one row."""
    assert client.post(signed_path()).status_code == 200
    other = PATH + token(SECRET, "L-00043", ADDRESS.upper(), "en")
    assert client.post(other, data=ONE_CLICK).status_code == 200
    first, second = entries(app)
    assert second.key == "unsubscribe:L-00043:ana.lopez@example.com"
    assert json.loads(first.body)["At"] == json.loads(second.body)["At"]
    assert _how(app) == "page"


def _edited(signed: str) -> str:
    """One character of the payload changed (the address it names)."""
    middle = len(signed) // 2
    return signed[:middle] + ("A" if signed[middle] != "A" else "B") + signed[middle + 1 :]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: _edited(signed_path()), id="edited"),
        pytest.param(lambda: signed_path(secret="another-secret-of-enough-length"), id="foreign"),
        pytest.param(lambda: PATH + "not-a-token", id="invented"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_bad_token_gets_a_page_in_both_languages_and_changes_nothing(
    app: Flask, client: FlaskClient, bad, method: str
) -> None:
    answer = client.open(bad(), method=method, data=ONE_CLICK if method == "POST" else None)
    assert answer.status_code == 400
    page = answer.text
    assert "This unsubscribe link does not work" in page
    assert "Ce lien de désinscription ne fonctionne pas" in page
    assert "reply to one of them and ask" in page and "répondez à l'un d'eux" in page
    assert "<form" not in page and answer.headers["Cache-Control"] == "no-store"
    assert nothing_stored(app)


class _LastWeek(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 8 * 86400


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_expired_token_says_so_and_changes_nothing(sheet: Path, method: str) -> None:
    app = make_app(sheet, SHEETCRM_UNSUBSCRIBE_SECRET=SECRET, SHEETCRM_UNSUBSCRIBE_DAYS="7")
    try:
        signed = URLSafeTimedSerializer(SECRET, salt=SALT, signer=_LastWeek)
        old = PATH + str(signed.dumps([LEAD, ADDRESS, "en"]))
        client = app.test_client()
        answer = client.open(old, method=method, data=ONE_CLICK)
        assert answer.status_code == 410
        assert "This unsubscribe link has expired" in answer.text
        assert "Unsubscribe links work for 7 days after the e-mail." in answer.text
        assert "Ce lien de désinscription a expiré" in answer.text
        assert nothing_stored(app)
        fresh = client.get(signed_path())  # the same key, a token of today: still fine
        assert fresh.status_code == 200
    finally:
        _service(app).stop()


def test_without_a_signing_key_every_link_is_a_plain_404(sheet: Path) -> None:
    app = make_app(sheet)
    try:
        client = app.test_client()
        for method in ("GET", "POST"):
            answer = client.open(signed_path(), method=method, data=ONE_CLICK)
            assert answer.status_code == 404
            assert answer.mimetype == "text/plain"
            assert "SHEETCRM_UNSUBSCRIBE_SECRET is unset" in answer.text
            assert "répondez à l'un d'eux" in answer.text
        assert nothing_stored(app)
    finally:
        _service(app).stop()


def test_a_hostile_address_is_shown_as_text(app: Flask, client: FlaskClient) -> None:
    hostile = '<img src=x onerror="alert(1)">@example.com'
    for answer in (
        client.get(signed_path(address=hostile)),
        client.post(signed_path(address=hostile)),
    ):
        assert answer.status_code == 200
        assert "<img" not in answer.text
        assert '&lt;img src=x onerror="alert(1)"&gt;@example.com' in answer.text


def test_the_request_log_names_neither_the_token_nor_the_address(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    signed = signed_path()
    with caplog.at_level(logging.INFO, logger="sheetcrm"):
        client.get(signed)
        client.post(signed)
    said = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "/unsubscribe/<token>" in said
    assert signed.removeprefix(PATH) not in said
    assert "ana.lopez" not in said.lower()


def test_a_database_that_fails_gets_a_page_to_try_again_and_keeps_nothing(
    app: Flask, client: FlaskClient
) -> None:
    with _service(app).outbox.db.begin() as conn:
        conn.execute(text("DROP TABLE unsubscribed"))  # the suppression list cannot be written
    answer = client.post(signed_path("fr"), data=ONE_CLICK)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert "Votre demande n'a pas pu être enregistrée" in answer.text
    assert "réessayez dans une minute" in answer.text
    assert entries(app) == []


def test_clicked_twice_on_each_outbox_store(sheet: Path, url: str) -> None:
    """The same stop on SQLite and PostgreSQL: one suppression row, one outbox entry."""
    app = make_app(sheet, SHEETCRM_UNSUBSCRIBE_SECRET=SECRET, SHEETCRM_OUTBOX=url)
    try:
        client = app.test_client(use_cookies=False)
        signed = PATH + token(SECRET, LEAD, ADDRESS, "en")
        for body in ({}, ONE_CLICK, ONE_CLICK):
            assert client.post(signed, data=body).status_code == 200
        assert [e.key for e in entries(app)] == [KEY]
        assert suppressed(_service(app).outbox.db, [ADDRESS]) == {"ana.lopez@example.com"}
        assert _how(app) == "page"
    finally:
        _service(app).stop()
