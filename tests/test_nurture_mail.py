"""Nurture e-mails as a lead receives them (issue 19), through the real sender and a real SMTP
server on loopback (tests/alert_parts.py): From the owner's name at the mail host's address,
Reply-To the owner, RFC 8058's one-click headers with a signed https link, no Auto-Submitted,
and a footer naming the sender and the link in the sheet's language; hostile values (line
breaks in a subject, a name or a Reply-To; template syntax; 100 kB of text) sent as data or
refused with a reason that says where to fix them."""

from __future__ import annotations

from pathlib import Path

import pytest

from alert_parts import Mailbox, smtp_server
from nurture_parts import PUBLIC_URL, SECRET, SETTINGS, parsed, queue, step
from sheetcrm.engine.notifications import Notification
from sheetcrm.intake.outbox_db import OutboxDB
from sheetcrm.notify import unsubscribe
from sheetcrm.notify.channels import Channels
from sheetcrm.notify.outbox import DEAD, SENT, NotificationOutbox
from sheetcrm.notify.sender import Sender

SHEET_LINK = "https://docs.google.com/spreadsheets/d/ID/edit#gid=0&range=A"


def _send(
    tmp_path: Path, notifications: list[Notification], smtp_from: str = ""
) -> tuple[Mailbox, OutboxDB]:
    """Queue ``notifications``, run one round of the sender against a real SMTP server."""
    db = OutboxDB(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    queue(db, notifications)
    mailbox = Mailbox()
    with smtp_server(mailbox) as smtp:
        env = {**smtp.env(), **({"SHEETCRM_SMTP_FROM": smtp_from} if smtp_from else {})}
        send = Channels.from_env(env).send
        link = lambda row: f"{SHEET_LINK}{row}"  # noqa: E731 (the sheet's link: alerts only)
        Sender(db, send, "test", link, nurture=SETTINGS).run_once()
    return mailbox, db


def test_a_nurture_email_comes_from_the_owner_with_one_click_unsubscribe_and_a_footer(
    tmp_path: Path,
) -> None:
    n = step(7)
    mailbox, db = _send(tmp_path, [n])
    ((rcpts, content),) = mailbox.received
    mail = parsed(content)
    assert rcpts == ["lead7@client7.example"]  # the lead, and only the lead
    sender = mail["From"].addresses[0]
    assert sender.display_name == "Ana Martin via Sheet CRM"
    assert sender.addr_spec == "crm@example.com"
    assert mail["Reply-To"] == "ana.martin@firm.example"
    assert mail["To"] == "lead7@client7.example"
    assert mail["Subject"] == "A note on your project"
    assert mail["Message-ID"] == f"<{n.key}@sheetcrm>"
    assert mail["Auto-Submitted"] is None  # a person's message, not an auto-reply
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # the raw header: the URL unfolded, not RFC 2047-encoded (a client must read it as is)
    raw = content.decode().split("\r\n\r\n")[0]
    header = next(line for line in raw.split("\r\n") if line.startswith("List-Unsubscribe:"))
    url = header.removeprefix("List-Unsubscribe: <").removesuffix(">")
    assert url.startswith(PUBLIC_URL + unsubscribe.PATH) and "=?" not in header
    token = url.removeprefix(PUBLIC_URL + unsubscribe.PATH)
    named = unsubscribe.read(SECRET, token, max_age_seconds=60)
    assert (named.lead_id, named.address, named.language) == ("L-00007", n.unsubscribe, "en")
    assert mail.get_content() == (
        "Hello Lead 7,\n\nHere is the guide we spoke of.\n\nAna\n\n"
        f"Sent by Ana Martin.\nTo stop these e-mails: {url}\n"
    )
    assert SHEET_LINK not in content.decode()  # the team's sheet is never shown to a lead
    (record,) = NotificationOutbox(db).log_records()
    assert (record.event, record.outcome) == ("sequence", "sent")


def test_in_french_the_footer_is_french_and_accented_names_are_encoded(tmp_path: Path) -> None:
    n = step(3, language="fr", sender_name="Zoé Lefèvre", subject="Relance : café offert")
    mailbox, _db = _send(tmp_path, [n], smtp_from="Équipe Ventes <ventes@firm.example>")
    ((_rcpts, content),) = mailbox.received
    head = content.split(b"\r\n\r\n")[0]
    assert all(byte < 128 for byte in head)  # RFC 2047 words, no raw 8-bit header
    mail = parsed(content)
    sender = mail["From"].addresses[0]
    assert sender.display_name == "Zoé Lefèvre via Équipe Ventes"
    assert sender.addr_spec == "ventes@firm.example"
    assert mail["Subject"] == "Relance : café offert"
    url = str(mail["List-Unsubscribe"]).strip("<>")
    assert unsubscribe.read(SECRET, url.rsplit("/", 1)[1], 60).language == "fr"
    assert mail.get_content().endswith(
        f"Ana\n\nEnvoyé par Zoé Lefèvre.\nPour ne plus recevoir ces e-mails : {url}\n"
    )


def test_without_a_display_name_in_smtp_from_it_is_via_sheet_crm(tmp_path: Path) -> None:
    mailbox, _db = _send(tmp_path, [step(1)], smtp_from="crm@example.com")
    mail = parsed(mailbox.received[0][1])
    assert str(mail["From"]) == "Ana Martin via Sheet CRM <crm@example.com>"


def test_line_breaks_in_a_subject_or_a_name_are_flattened_and_inject_no_header(
    tmp_path: Path,
) -> None:
    n = step(
        1,
        subject="Hello\r\nBcc: victim@evil.example\nX-Injected: yes",
        sender_name='Ana "the boss" <ceo@evil.example>\r\nBcc: victim@evil.example',
    )
    mailbox, db = _send(tmp_path, [n])
    ((rcpts, content), *_) = mailbox.received
    mail = parsed(content)
    assert rcpts == [n.recipient]
    assert mail["Bcc"] is None and mail["X-Injected"] is None
    assert mail["Subject"] == "Hello Bcc: victim@evil.example X-Injected: yes"
    (sender,) = mail["From"].addresses
    assert sender.addr_spec == "crm@example.com"  # the name stayed a name, quoted
    assert sender.display_name.startswith('Ana "the boss" <ceo@evil.example> Bcc:')
    assert [e.state for e in NotificationOutbox(db).entries()] == [SENT]


@pytest.mark.parametrize(
    "reply_to",
    [
        "ana@firm.example\r\nBcc: victim@evil.example",
        "ana@firm.example, victim@evil.example",
        "Ana Martin",
        "ana@",
    ],
)
def test_a_reply_to_that_is_not_one_address_is_refused_and_says_where_to_fix_it(
    tmp_path: Path, reply_to: str
) -> None:
    mailbox, db = _send(tmp_path, [step(1, reply_to=reply_to), step(2)])
    assert [rcpts for rcpts, _ in mailbox.received] == [["lead2@client2.example"]]
    states = {e.lead_id: e for e in NotificationOutbox(db).entries()}
    refused = states["L-00001"]
    assert refused.state == DEAD and refused.attempts == 1
    assert "is not an e-mail address" in refused.last_error
    assert "correct it on the Team tab" in refused.last_error
    assert "\n" not in refused.last_error and "\r" not in refused.last_error
    assert not refused.last_error.startswith("bounced")  # the team's error, not the lead's
    assert states["L-00002"].state == SENT


def test_a_hundred_kilobytes_of_text_and_template_syntax_arrive_as_data(tmp_path: Path) -> None:
    text = "{{ ''.__class__.__mro__ }} {% raw %}\n" + ("é" + "x" * 1999 + "\n") * 50
    mailbox, _db = _send(tmp_path, [step(1, text=text)])
    mail = parsed(mailbox.received[0][1])
    assert mail["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert max(len(line) for line in mailbox.received[0][1].split(b"\r\n")) <= 998
    assert mail.get_content().startswith(text.rstrip() + "\n\nSent by Ana Martin.")


def test_an_alert_keeps_its_sheet_link_and_auto_submitted(tmp_path: Path) -> None:
    alert = Notification(
        2, "L-00001", "lead assigned", "t", "ana@firm.example", "email", "Yours", leads_row=2
    )
    mailbox, _db = _send(tmp_path, [alert])
    mail = parsed(mailbox.received[0][1])
    assert mail["Auto-Submitted"] == "auto-generated" and mail["List-Unsubscribe"] is None
    assert mail["From"] == "Sheet CRM <crm@example.com>" and mail["Reply-To"] is None
    assert mail.get_content() == f"Yours\n\n{SHEET_LINK}2\n"


def test_a_lead_address_with_a_header_smuggled_in_is_a_bounce_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    hostile = "lead1@client1.example\r\nBcc: victim@evil.example"
    mailbox, db = _send(tmp_path, [step(1, recipient=hostile, unsubscribe=hostile), step(2)])
    assert [rcpts for rcpts, _ in mailbox.received] == [["lead2@client2.example"]]
    outcomes = {r.lead_id: r.outcome for r in NotificationOutbox(db).log_records()}
    assert outcomes["L-00001"].startswith("failed: bounced: ")  # its sequence ends
    assert "is not an e-mail address: the lead's Email" in outcomes["L-00001"]
    assert outcomes["L-00002"] == "sent"
