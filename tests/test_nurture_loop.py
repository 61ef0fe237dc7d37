"""Nurture sequences end to end (issue 19), every part real: a workbook from the b2b-en
template whose Nurture C (three steps) is made active; the service (create_app) served over
https on loopback, so that SHEETCRM_PUBLIC_URL keeps its https-only check
(tests/loopback_tls.py: a certificate of the test's own, which the client and chromium
trust alone); its syncs and flushes through /tasks/sync and /tasks/flush, its sender
(Service.notify, as the background work calls it) with the real channels to an aiosmtpd
server on loopback; the unsubscribe link opened from the received e-mail in headless
chromium, and the RFC 8058 one-click POST a mail client sends. The service runs on a clock
of the test's, moved past each step's wait."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from alert_parts import Mailbox, smtp_server
from browser import served, started_chromium
from loopback_tls import LoopbackCertificate, make_certificate
from nurture_parts import parsed
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.engine.activity_tab import KEY_COLUMN
from sheetcrm.engine.table import Table
from sheetcrm.notify import unsubscribe
from sheetcrm.notify.outbox import DEAD, SENT, Record
from sheetcrm.service.tasks import Service
from sheetcrm.service.web import create_app
from sheets import free_port, human_edit, put_leads, template
from test_web import AUTH, TOKEN

SECRET = "an-unsubscribe-secret-for-the-loop-test-0123456789"
ZONE = ZoneInfo("America/New_York")  # the template's Time zone
MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=ZONE)  # the send window (Mon-Fri 09:00-17:00) opens
OWNER, OWNER_EMAIL = "Sofia Marin", "sofia.marin@quillstack.example"  # routing: France -> EMEA
ANA, BOB = "ana@client1.example", "bob@client2.example"
CARL, DANA = "carl@client3.example", "dana@client4.example"
FOOTER = re.compile(r"^To stop these e-mails: (\S+)$", re.MULTILINE)


class Clock:
    """The service's time (aware, UTC), moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.at

    def past(self, local: str) -> None:
        """A minute past ``local``, a sheet cell (sheet time), which must be ahead."""
        wall = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=ZONE)
        assert wall > self.at, (local, self.at)
        self.at = (wall + timedelta(minutes=1)).astimezone(UTC)

    def local(self) -> str:
        return self.at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def lead(first: str, email: str, company: str) -> dict[str, str]:
    """A lead the template's Enrolment rows take (Grade C, Lifecycle Lead), owned by Sofia."""
    return {
        "Created at": "2026-12-01 10:00",
        "First name": first,
        "Last name": "Lopez",
        "Email": email,
        "Company": company,
        "Country": "France",
        "Source": "Webinar",
        "Stage": "Prospecting",
        "Consent": "legitimate interest",
    }


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackCertificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def chromium(
    tmp_path_factory: pytest.TempPathFactory, tls: LoopbackCertificate
) -> Iterator[WebDriver]:
    """Headless chromium that trusts the test's certificate, and no other bad one."""
    with started_chromium(tmp_path_factory, (tls.chromium_flag(),)) as driver:
        yield driver


class Loop:
    """The service on loopback, its SMTP server and its clock, as the test drives them."""

    def __init__(self, base: str, svc: Service, sheet: Path, tls: LoopbackCertificate) -> None:
        self.base, self.svc, self.sheet, self.tls = base, svc, sheet, tls
        self.clock: Clock = svc.clock  # type: ignore[assignment]

    def post(self, url: str, data: bytes = b"", headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(url, data, headers or {}, method="POST")
        with urllib.request.urlopen(request, timeout=20, context=self.tls.client()) as answer:
            assert answer.status == 200
            return answer.read()

    def task(self, name: str) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(self.post(f"{self.base}/tasks/{name}", headers=AUTH))
        return report

    def sync(self) -> None:
        report = self.task("sync")
        assert report["ok"], report

    def send(self) -> None:
        """The sender's rounds over the next 10 minutes: a sync's e-mails are spaced by
        Minutes between e-mails (2)."""
        end = self.clock.at + timedelta(minutes=10)
        while self.clock.at < end:
            self.svc.notify()
            self.clock.at += timedelta(minutes=1)

    def leads(self) -> dict[str, dict[str, str]]:
        """Each lead by Lead ID."""
        return {r["Lead ID"]: r for r in self.tab("Leads")}

    def by_email(self, address: str) -> dict[str, str]:
        (row,) = [r for r in self.tab("Leads") if r["Email"] == address and not r["Duplicate of"]]
        return row

    def tab(self, name: str) -> list[dict[str, str]]:
        return WorkbookBackend(self.sheet).read().table(name).records()

    def history(self, lead_id: str) -> list[tuple[str, str, str, str, str]]:
        """(Field, From, To, By, Why) of the lead's nurture History rows, in order."""
        return [
            (r["Field"], r["From"], r["To"], r["By"], r["Why"])
            for r in self.tab("History")
            if r["Lead ID"] == lead_id
            and r["Field"] in ("Sequence", "Sequence step", "Unsubscribed at")
        ]

    def entries(self) -> list[Record]:
        """The nurture e-mails in the notification outbox, oldest first."""
        return [e for e in self.svc.notices.entries(limit=1000) if e.nurture]


@contextmanager
def service(
    tmp_path: Path, tls: LoopbackCertificate, box: Mailbox, *leads: dict[str, str]
) -> Iterator[Loop]:
    """The workbook with ``leads``, and the service on it, served at its public URL."""
    sheet = tmp_path / "crm.xlsx"
    tabs = template(MONDAY.replace(tzinfo=None))
    sequences = tabs["Sequences"]
    for row in sequences.rows:  # the b2b-en example, as a manager makes it live
        row[sequences.col("Status")] = "active"
    tabs["Alerts"].rows.clear()  # the owners' alerts are tests/test_alerts*.py's
    tabs["Activities"].rows.clear()  # the demo's, of the demo's leads
    put_leads(tabs, *leads)
    WorkbookBackend(sheet).provision(tabs)
    port = free_port()
    with smtp_server(box) as smtp:
        env = {
            "SHEETCRM_SHEET": str(sheet),
            "SHEETCRM_TASK_TOKEN": TOKEN,
            "SHEETCRM_BACKGROUND": "0",
            "SHEETCRM_PUBLIC_URL": f"https://127.0.0.1:{port}",
            "SHEETCRM_UNSUBSCRIBE_SECRET": SECRET,
            **smtp.env(),
        }
        app = create_app(env, clock=Clock(MONDAY))
        svc: Service = app.extensions["sheetcrm"]
        try:
            with served(app, port, tls.server()) as base:
                assert base == env["SHEETCRM_PUBLIC_URL"]
                yield Loop(base, svc, sheet, tls)
        finally:
            svc.stop()


def received(box: Mailbox, address: str) -> list[EmailMessage]:
    return [parsed(content) for rcpts, content in box.received if rcpts == [address]]


def nurture_mails(box: Mailbox) -> list[EmailMessage]:
    """Every e-mail to a lead of a sequence (an alert to the team has no List-Unsubscribe)."""
    mails = [parsed(content) for _rcpts, content in box.received]
    return [m for m in mails if m["List-Unsubscribe"]]


def footer_link(mail: EmailMessage) -> str:
    found = FOOTER.search(mail.get_content())
    assert found, mail.get_content()
    return found[1]


def click_unsubscribe(chromium: WebDriver, url: str, address: str) -> None:
    """What the person does: opens the e-mail's link, reads, presses the button."""
    chromium.get(url)
    assert f"Stop the e-mails sent to {address}?" in chromium.find_element(By.TAG_NAME, "body").text
    chromium.find_element(By.CSS_SELECTOR, "form button").click()
    # the title, not an element: the page is being replaced while the wait asks
    WebDriverWait(chromium, 5).until(lambda d: d.title == "You are unsubscribed")
    assert f"No more of these e-mails will be sent to {address}." in chromium.page_source


def test_a_lead_gets_its_steps_and_its_unsubscribe_stops_every_row_of_its_address(
    tmp_path: Path, tls: LoopbackCertificate, chromium: WebDriver
) -> None:
    box = Mailbox()
    leads = (lead("Ana", ANA, "Client One"), lead("Bob", BOB, "Client Two"))
    twin = lead("Ana", ANA, "Client One")  # a duplicate row of Ana's address
    with service(tmp_path, tls, box, *leads, twin) as loop:
        loop.sync()  # enrolment
        ana, bob = loop.by_email(ANA), loop.by_email(BOB)
        assert (ana["Sequence"], ana["Sequence step"]) == ("Nurture C", "")
        assert ana["Next send at"] == "2026-12-09 09:00"  # 2 business days after enrolment
        (dupe,) = [r for r in loop.tab("Leads") if r["Duplicate of"] == ana["Lead ID"]]
        assert dupe["Sequence"] == ""  # a duplicate is never enrolled
        loop.svc.notify()
        assert nurture_mails(box) == []

        # step 1
        loop.clock.past(ana["Next send at"])
        loop.sync()
        loop.send()
        (mail,) = received(box, ANA)
        sender = mail["From"].addresses[0]
        assert (sender.display_name, sender.addr_spec) == (
            f"{OWNER} via Sheet CRM",
            "crm@example.com",
        )
        assert mail["Reply-To"] == OWNER_EMAIL
        assert mail["Subject"] == "Ana, a checklist for Client One"
        url = str(mail["List-Unsubscribe"]).strip("<>")
        assert url.startswith(loop.base + unsubscribe.PATH)
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mail["Auto-Submitted"] is None
        text = mail.get_content()
        assert text.startswith("Hello Ana,\n\nTeams like Client One often start")
        assert f"\n\n{OWNER}\n" in text and "{{" not in text
        assert f"Sent by {OWNER}.\nTo stop these e-mails: {url}\n" in text
        assert footer_link(mail) == url
        by_lead = {e.lead_id: e for e in loop.entries()}
        key = by_lead[ana["Lead ID"]].key
        assert mail["Message-ID"] == f"<{key}@sheetcrm>"
        assert [e.state for e in by_lead.values()] == [SENT, SENT]
        assert len(received(box, BOB)) == 1

        # the sender's records reach the sheet on the next sync: one Activities row each
        loop.sync()
        loop.sync()  # and a second sync adds none
        rows = [r for r in loop.tab("Activities") if r["Lead ID"] == ana["Lead ID"]]
        assert [(r["Type"], r["Outcome"], r["By"], r["Notes"], r[KEY_COLUMN]) for r in rows] == [
            ("email", "sent", "sequence Nurture C", "Ana, a checklist for Client One", key)
        ]
        ana, bob = loop.by_email(ANA), loop.by_email(BOB)
        assert (ana["Sequence step"], bob["Sequence step"]) == ("1", "1")
        # 5 business days after step 1, which went at 09:01 for Ana, at 09:03 for Bob (spaced)
        assert (ana["Next send at"], bob["Next send at"]) == (
            "2026-12-16 09:01",
            "2026-12-16 09:03",
        )

        # step 2: Ana's goes at once; Bob's two minutes later, but he unsubscribes first,
        # with his mail client's one-click button on step 1 (RFC 8058)
        loop.clock.past(bob["Next send at"])
        loop.sync()
        loop.svc.notify()
        assert len(received(box, ANA)) == 2 and len(received(box, BOB)) == 1
        (bob_step_1,) = received(box, BOB)
        one_click = str(bob_step_1["List-Unsubscribe"]).strip("<>")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        one_clicked = loop.clock.local()
        loop.post(one_click, b"List-Unsubscribe=One-Click", form)
        loop.send()
        assert len(received(box, BOB)) == 1  # the sender checked the list: not sent
        bob_step_2 = [e for e in loop.entries() if e.lead_id == bob["Lead ID"]][-1]
        assert (bob_step_2.state, bob_step_2.last_error) == (DEAD, "unsubscribed")

        # Ana opens the link of the e-mail she got, in a browser, and presses the button
        clicked = loop.clock.local()
        click_unsubscribe(chromium, footer_link(received(box, ANA)[-1]), ANA)
        assert loop.task("flush")["activities"] == 2
        loop.sync()
        leads_now = loop.leads()
        ana, bob = leads_now[ana["Lead ID"]], leads_now[bob["Lead ID"]]
        dupe = leads_now[dupe["Lead ID"]]
        for row in (ana, bob):
            assert row["Sequence step"] == "stopped: unsubscribed"
            assert row["Next send at"] == ""
        # when each asked, on the service's clock: on every row of the address
        assert ana["Unsubscribed at"] == dupe["Unsubscribed at"] == clicked
        assert bob["Unsubscribed at"] == one_clicked
        enrolled = "enrolled: Grade in list C, D; Lifecycle equals Lead"
        assert loop.history(ana["Lead ID"]) == [
            ("Sequence", "", "Nurture C", "Nurture C", enrolled),
            ("Sequence step", "", "1", "Nurture C", f"step 1 of Nurture C to {ANA}"),
            ("Sequence step", "1", "2", "Nurture C", f"step 2 of Nurture C to {ANA}"),
            ("Unsubscribed at", "", ana["Unsubscribed at"], "Nurture C", "unsubscribed"),
            ("Sequence step", "2", "stopped: unsubscribed", "Nurture C", "stopped: unsubscribed"),
        ]

        # a person puts the duplicate row in the sequence by hand: it stops at once
        human_edit(
            WorkbookBackend(loop.sheet),
            "Leads",
            lambda t: _set(t, dupe["Lead ID"], "Sequence", "Nurture C"),
        )
        loop.sync()
        assert loop.leads()[dupe["Lead ID"]]["Sequence step"] == "stopped: unsubscribed"
        assert loop.history(dupe["Lead ID"]) == [
            ("Unsubscribed at", "", clicked, "unsubscribe", "unsubscribed"),
            ("Sequence", "", "Nurture C", "Nurture C", "enrolled by hand"),
            ("Sequence step", "", "stopped: unsubscribed", "Nurture C", "stopped: unsubscribed"),
        ]

        # past step 3's wait: nothing more to the address, from any row
        loop.clock.at += timedelta(days=30)
        for _ in range(2):
            loop.sync()
            loop.send()
        assert len(received(box, ANA)) == 2 and len(received(box, BOB)) == 1
        assert len(nurture_mails(box)) == 3
        assert loop.tab("Problems") == []  # the nurture rows and unsubscribes read cleanly
        log = [(r["Lead ID"], r["To"], r["Outcome"]) for r in loop.tab("Notifications")]
        assert sorted(log) == [
            (ana["Lead ID"], ANA, "sent"),
            (ana["Lead ID"], ANA, "sent"),
            (bob["Lead ID"], BOB, "failed: unsubscribed"),
            (bob["Lead ID"], BOB, "sent"),
        ]
        sent = [r["Lead ID"] for r in loop.tab("Activities") if r["By"] == "sequence Nurture C"]
        assert sorted(sent) == [ana["Lead ID"], ana["Lead ID"], bob["Lead ID"]]


def _set(table: Table, lead_id: str, column: str, value: str) -> None:
    row = table.column("Lead ID").index(lead_id)
    table.rows[row][table.col(column)] = value


def test_a_reply_on_the_activities_tab_and_a_hard_bounce_end_the_sequence(
    tmp_path: Path, tls: LoopbackCertificate
) -> None:
    box = Mailbox()
    box.refuse = DANA  # 550 5.1.1: no such mailbox
    with service(
        tmp_path, tls, box, lead("Carl", CARL, "Client Three"), lead("Dana", DANA, "Client Four")
    ) as loop:
        loop.sync()  # enrolment
        carl, dana = loop.by_email(CARL), loop.by_email(DANA)
        loop.clock.past(dana["Next send at"])
        loop.sync()
        loop.send()
        assert [rcpts for rcpts, _ in box.received] == [[CARL]]
        refused = [e for e in loop.entries() if e.lead_id == dana["Lead ID"]]
        assert [e.state for e in refused] == [DEAD]
        assert refused[0].last_error.startswith("bounced: ")

        # Carl answers; his owner logs it on the Activities tab
        replied_at = loop.clock.local()

        def log_reply(table: Table) -> None:
            row = [""] * len(table.header)
            for header, value in {
                "At": replied_at,
                "Lead ID": carl["Lead ID"],
                "Type": "email",
                "Outcome": "replied",
                "By": OWNER,
            }.items():
                row[table.col(header)] = value
            table.rows.append(row)

        human_edit(WorkbookBackend(loop.sheet), "Activities", log_reply)
        loop.sync()
        leads = loop.leads()
        carl, dana = leads[carl["Lead ID"]], leads[dana["Lead ID"]]
        assert (carl["Sequence step"], carl["Next send at"]) == ("stopped: replied", "")
        assert (dana["Sequence step"], dana["Next send at"]) == ("stopped: bounced", "")
        assert loop.history(carl["Lead ID"])[-1] == (
            "Sequence step",
            "1",
            "stopped: replied",
            "Nurture C",
            "stopped: replied",
        )
        assert loop.history(dana["Lead ID"])[-1] == (
            "Sequence step",
            "1",
            "stopped: bounced",
            "Nurture C",
            "stopped: bounced",
        )
        # the bounce is on the Notifications log, and no Activities row says it was sent
        log = {r["Lead ID"]: r["Outcome"] for r in loop.tab("Notifications")}
        assert log[dana["Lead ID"]] == (
            f"failed: bounced: the SMTP server refused {DANA}: 550 5.1.1 no such mailbox here"
        )
        sent = [r for r in loop.tab("Activities") if r["By"] == "sequence Nurture C"]
        assert [r["Lead ID"] for r in sent] == [carl["Lead ID"]]

        # past step 2's wait (and step 3's): nothing more to either
        loop.clock.at += timedelta(days=30)
        loop.sync()
        loop.send()
        assert [rcpts for rcpts, _ in box.received] == [[CARL]]
        assert len(loop.entries()) == 2
        assert loop.tab("Problems") == []  # "replied" is an Outcome word
