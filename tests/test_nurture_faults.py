"""Nurture e-mails' fault runs (issue 19), against real parts (tests/alert_parts.py): a real SMTP
server on loopback down, answering 451 or 550, slower than the timeout; ``sheetcrm background``
SIGKILLed mid-round; an address unsubscribed after its e-mail was queued; the service started
without the public URL or the secret. Counted: every e-mail arrives once (0 lost; after the
receiver's dedupe by Message-ID, 0 duplicated), a 5xx is a bounce that ends the sequence, none
goes to an address that asked to stop, and none goes without its unsubscribe link."""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from alert_parts import Clock, Mailbox, background, rounds, smtp_server, stored, workbook
from nurture_parts import LINK_ENV, SETTINGS, parsed, queue, step
from sheetcrm.engine.notifications import Notification
from sheetcrm.intake.outbox_db import OutboxDB
from sheetcrm.notify.channels import Channels
from sheetcrm.notify.nurture import UNSET_WAIT, NurtureSettings
from sheetcrm.notify.outbox import DEAD, FOLDED, PENDING, SENT, NotificationOutbox
from sheetcrm.notify.sender import MAX_TRIES, Sender
from sheetcrm.notify.suppression import suppress

KILLS = 2
SEED = time.time_ns() % 100_000


def _db(tmp_path: Path) -> OutboxDB:
    return OutboxDB(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")


def _states(db: OutboxDB) -> Counter[str]:
    return Counter(e.state for e in stored(db))


def _sender(db: OutboxDB, env: dict[str, str], clock: Clock, **more: object) -> Sender:
    send = Channels.from_env(env).send
    return Sender(db, send, "test", clock=clock, **{"nurture": SETTINGS, **more})  # type: ignore[arg-type]


def test_a_server_down_then_451_then_slow_delays_them_and_loses_none(tmp_path: Path) -> None:
    db, clock, mailbox = _db(tmp_path), Clock(), Mailbox()
    keys = queue(db, [step(n) for n in range(4)], at=clock.at)
    with smtp_server(mailbox) as smtp:
        sender = _sender(db, smtp.env("0.3"), clock)
        smtp.stop()  # down: nothing listens on its port
        sender.run_once()
        assert all("could not be reached" in e.last_error for e in stored(db))
        clock.at = max(e.next_try_at for e in stored(db))
        smtp.start()
        mailbox.busy, mailbox.stall = 1, 0.6  # 451 to each one's first try here, then slow
        sender.run_once()
        assert all(
            e.last_error.startswith("the SMTP server refused the message: 451") for e in stored(db)
        )
        clock.at = max(e.next_try_at for e in stored(db))
        sender.run_once()  # each one's next try: accepted only after the 0.3 s timeout
        assert all("did not answer within 0.3 s" in e.last_error for e in stored(db))
        mailbox.stall = 0.0
        rounds(sender, clock, lambda: _states(db)[SENT] == len(keys))
        time.sleep(0.7)  # a stalled answer's message would be kept by now
    assert _states(db) == {SENT: len(keys)}  # none dead, none lost
    assert set(mailbox.keys) == set(keys)
    assert {e.attempts for e in stored(db)} == {4}
    records = NotificationOutbox(db).log_records()
    assert {r.outcome for r in records} == {"sent"}
    # what the sync needs for each one's Activities row: its sequence and step, its subject
    assert {(r.when, r.subject) for r in records} == {("Nurture C#1", "A note on your project")}


def test_a_5xx_is_a_bounce_that_ends_the_sequence_and_an_alert_is_only_failed(
    tmp_path: Path,
) -> None:
    db, clock, mailbox = _db(tmp_path), Clock(), Mailbox()
    refused = "lead1@client1.example"
    alert = Notification(2, "L-00001", "lead assigned", "t", refused, "email", "Yours")
    queue(db, [step(n) for n in range(3)] + [alert], at=clock.at)
    mailbox.refuse = refused
    with smtp_server(mailbox) as smtp:
        rounds(_sender(db, smtp.env(), clock), clock, lambda: _states(db)[PENDING] == 0)
    outcomes = {(r.event, r.lead_id): r.outcome for r in NotificationOutbox(db).log_records()}
    assert outcomes[("sequence", "L-00001")] == (
        f"failed: bounced: the SMTP server refused {refused}: 550 5.1.1 no such mailbox here"
    )
    assert outcomes[("lead assigned", "L-00001")] == (
        f"failed: the SMTP server refused {refused}: 550 5.1.1 no such mailbox here"
    )
    assert outcomes[("sequence", "L-00000")] == outcomes[("sequence", "L-00002")] == "sent"
    bounced = next(e for e in stored(db) if e.event == "sequence" and e.recipient == refused)
    assert bounced.state == DEAD and bounced.attempts == 1  # at once, not tried again
    assert len(mailbox.keys) == 2


def test_an_address_unsubscribed_after_its_email_was_queued_gets_nothing(
    tmp_path: Path, url: str
) -> None:
    db, clock, mailbox = OutboxDB(url), Clock(), Mailbox()
    queue(db, [step(n) for n in range(3)], at=clock.at)
    # the person clicks the link of an earlier e-mail (the page stores the address as typed)
    assert suppress(db, " LEAD1@Client1.example", "L-00001", clock(), "page")
    with smtp_server(mailbox) as smtp:
        report = _sender(db, smtp.env(), clock).run_once()
    assert (report.sent, report.dead) == (2, 1)
    assert [rcpts for rcpts, _ in mailbox.received] == [
        ["lead0@client0.example"],
        ["lead2@client2.example"],
    ]
    (stopped,) = [e for e in stored(db) if e.state == DEAD]
    assert (stopped.lead_id, stopped.last_error) == ("L-00001", "unsubscribed")
    outcomes = {r.lead_id: r.outcome for r in NotificationOutbox(db).log_records()}
    assert outcomes["L-00001"] == "failed: unsubscribed"
    db.close()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (NurtureSettings(), "SHEETCRM_PUBLIC_URL and SHEETCRM_UNSUBSCRIBE_SECRET"),
        (NurtureSettings(public_url=SETTINGS.public_url), "SHEETCRM_UNSUBSCRIBE_SECRET:"),
        (NurtureSettings(secret=SETTINGS.secret), "SHEETCRM_PUBLIC_URL:"),
    ],
)
def test_without_the_public_url_or_the_secret_they_wait_then_go_once_set(
    tmp_path: Path, settings: NurtureSettings, named: str
) -> None:
    db, clock, mailbox = _db(tmp_path), Clock(), Mailbox()
    alert = Notification(2, "L-00009", "lead assigned", "t", "ana@firm.example", "email", "Yours")
    keys = queue(db, [step(n) for n in range(3)] + [alert], at=clock.at)
    with smtp_server(mailbox) as smtp:
        unset = _sender(db, smtp.env(), clock, nurture=settings)
        for _ in range(MAX_TRIES + 2):  # more rounds than a failure gets tries
            unset.run_once()
            waiting = [e for e in stored(db) if e.event == "sequence"]
            assert {e.state for e in waiting} == {PENDING} and {e.attempts for e in waiting} == {0}
            assert {e.next_try_at for e in waiting} == {clock.at + UNSET_WAIT}
            assert all(f"nurture e-mails wait for {named}" in e.last_error for e in waiting)
            assert SETTINGS.secret not in waiting[0].last_error
            clock.at += UNSET_WAIT
        assert mailbox.keys == [alert.key]  # the alert went; no nurture e-mail without a link
        # an operator sets them, and the service is restarted with them
        _sender(db, smtp.env(), clock).run_once()
    assert _states(db) == {SENT: len(keys)}
    assert sorted(mailbox.keys) == sorted(keys)
    nurture_mails = [parsed(content) for _, content in mailbox.received[1:]]
    assert all(m["List-Unsubscribe"] for m in nurture_mails)


def test_nurture_emails_are_never_capped_nor_folded_into_an_alert_summary(tmp_path: Path) -> None:
    db, clock, mailbox = _db(tmp_path), Clock(), Mailbox()
    shared = "ana@firm.example"  # a lead whose address is also a teammate's (a test, a demo)
    alerts = [
        Notification(2, f"L-{n:05d}", "lead assigned", "t", shared, "email", "Yours", cap=1)
        for n in range(10, 14)
    ]
    steps = [step(n, recipient=shared, unsubscribe=shared, when=f"Nurture C#{n}", cap=1)
             for n in range(1, 4)]  # fmt: skip
    queue(db, alerts, at=clock.at - 10)  # claimed first; the steps due, but not claimed yet
    queue(db, steps, at=clock.at - 5)
    with smtp_server(mailbox) as smtp:
        sender = _sender(db, smtp.env(), clock)
        sender.run_once(limit=len(alerts))  # the cap of 1: the hour's one slot to a summary
        sender.run_once()
    states = {e.key: e.state for e in stored(db)}
    assert [states[a.key] for a in alerts] == [FOLDED] * len(alerts)
    (summary,) = [e for e in stored(db) if e.event == "summary"]
    assert summary.state == SENT and summary.subject == "4 more notifications this hour"
    assert [states[n.key] for n in steps] == [SENT] * len(steps)  # one by one, over the cap
    assert sorted(mailbox.keys) == sorted([summary.key, *(n.key for n in steps)])


def test_sigkilled_mid_round_it_loses_none_and_resends_only_under_the_same_message_id(
    tmp_path: Path,
) -> None:
    outbox = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    db = OutboxDB(outbox)
    keys = queue(db, [step(n) for n in range(40)])
    sheet = tmp_path / "crm.xlsx"
    workbook(sheet, 0)  # a sheet that plans nothing itself: only the queued e-mails go
    rng, log = random.Random(SEED), tmp_path / "background.log"
    mailbox = Mailbox(pause=0.03)  # 30 ms a message: a kill may land mid-send
    moments: list[float] = []
    progress: list[int] = []  # e-mails accepted by each kill
    with smtp_server(mailbox) as smtp:
        env = {**smtp.env(), **LINK_ENV}
        for _ in range(KILLS):
            process = background(sheet, outbox, env, log)
            started, target = time.monotonic(), len(mailbox.keys) + rng.randint(3, 12)
            while len(mailbox.keys) < target:  # mid-round: it has sent a few of this round
                assert time.monotonic() < started + 30, log.read_text()[-2000:]
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.03))  # anywhere in a message's 30 ms, or the mark
            moments.append(round(time.monotonic() - started, 2))
            process.kill()
            process.wait()
            progress.append(len(mailbox.keys))
        process = background(sheet, outbox, env, log)  # this one is let finish
        try:
            deadline = time.monotonic() + 60
            while _states(db)[SENT] < len(keys):
                assert time.monotonic() < deadline, (moments, log.read_text()[-2000:])
                time.sleep(0.2)
        finally:
            _stop(process)
    figures = {
        "seed": SEED,
        "kills at (s)": moments,
        "accepted by each kill": progress,
        "raw duplicates": mailbox.duplicates(),
    }
    assert _states(db) == {SENT: len(keys)}, figures
    assert set(mailbox.keys) == set(keys), figures  # 0 lost; distinct Message-IDs == keys
    assert mailbox.duplicates() <= KILLS, figures  # a copy only in the window, same key
    for rcpts, content in mailbox.received:  # every copy is the same e-mail to the same lead
        mail = parsed(content)
        assert rcpts == [str(mail["To"])] and mail["List-Unsubscribe"]
    db.close()
    print(figures)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
