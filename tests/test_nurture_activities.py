"""Nurture e-mails and unsubscribes on the Activities tab (issue 19): the sent step appends
one row per nurture e-mail sent, exactly once by its key; such rows and unsubscribes are
read without a problem but set nothing on the lead; the follow-up KPIs count the e-mails
among the Activities only; the sequences step gets the unsubscribe rows."""

from __future__ import annotations

from datetime import datetime

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.activity_tab import KEY_COLUMN, ActivityFrame
from sheetcrm.engine.activity_words import unsubscribes
from sheetcrm.engine.look import WORD_LISTS
from sheetcrm.engine.notifications import SentRecord
from sheetcrm.engine.plan import find_column
from sheetcrm.engine.schema import ACTIVITIES, LEADS, SETTINGS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Table
from sheetcrm.files.templates import load_template
from sheets import NOW, cell, human_edit, template

ANN = {"Email": "ann@acme.example", "Stage": "Prospecting", "Created at": "2026-11-01 09:00"}
BOB = {"Email": "bob@bolt.example", "Stage": "Prospecting", "Created at": "2026-11-02 09:00"}


def _row(table: Table, **values: str) -> list[str]:
    row = [""] * len(table.header)
    for header, value in values.items():
        row[table.col(header.replace("_", " "))] = value
    return row


def _tabs(touches: list[dict[str, str]] = ()) -> dict[str, Table]:
    tabs = template()
    tabs[LEADS.name].rows[:] = [_row(tabs[LEADS.name], **v) for v in (ANN, BOB)]
    tabs[ACTIVITIES.name].rows[:] = [_row(tabs[ACTIVITIES.name], **v) for v in touches]
    return tabs


def _sync(backend: MemoryBackend, now: datetime = NOW, sent: tuple[SentRecord, ...] = ()):
    snapshot = backend.read()
    plan = plan_sync(snapshot, now, sent=sent)
    apply(plan, backend, snapshot)
    return plan


def _sent(key: str, lead: str = "L-00001", outcome: str = "sent", **more: str) -> SentRecord:
    return SentRecord(
        key,
        "2026-11-23T15:00:00+00:00",  # 10:00 on the sheet's clock (New York)
        lead,
        "sequence",
        "ann@acme.example",
        "email",
        outcome,
        **{"when": "Nurture C#2", "subject": "Ann, a case study\r\nBcc: x@evil.example", **more},
    )


def _activities(backend: MemoryBackend) -> list[dict[str, str]]:
    tab = backend.read().table(ACTIVITIES.name)
    names = [c.header if (c := ACTIVITIES.column(h)) else h for h in tab.header]
    return [dict(zip(names, r, strict=False)) for r in tab.rows]


def _problems(plan) -> list[str]:
    return [p.problem for p in plan.problems if p.tab == ACTIVITIES.name]


def test_a_nurture_email_sent_is_one_activities_row_whatever_the_reports():
    backend = MemoryBackend(_tabs())
    failed = _sent("k2", outcome="failed: bounced: 550 no such user")
    alert = SentRecord(
        "k3", "2026-11-23T15:00:00Z", "L-00001", "lead assigned", "a@b.c", "email", "sent"
    )
    _sync(backend, sent=(_sent("k1"), _sent("k1"), failed, alert))
    rows = _activities(backend)
    assert rows == [
        {
            "At": "2026-11-23 10:00",
            "Lead ID": "L-00001",
            "Type": "email",
            "Outcome": "sent",
            "By": "sequence Nurture C",
            "Notes": "Ann, a case study Bcc: x@evil.example",  # one line: no header injected
            "Next action date": "",
            KEY_COLUMN: "k1",
        }
    ]
    # the sender reports it again (a crash before it marked it logged): no second row
    plan = _sync(backend, sent=(_sent("k1"),))
    assert len(_activities(backend)) == 1 and not plan.activities
    assert not _problems(plan)  # a sequence's By needs no Team name, "sent" is a known word


def test_a_nurture_email_sets_no_last_contact_nor_first_touch():
    backend = MemoryBackend(_tabs())
    _sync(backend, sent=(_sent("k1"),))
    plan = _sync(backend)
    snap = backend.read()
    for column in ("Last contact", "First touch at", "Next action date"):
        assert cell(snap, LEADS.name, "L-00001", column) == ""
    assert not [h for _p, h, _c in plan.history if h[2] in ("Last contact", "First touch at")]


def test_an_old_activities_tab_gets_submission_id_and_a_sheet_without_it_gets_the_tab():
    old = _tabs()
    tab = old[ACTIVITIES.name]
    keep = [i for i, h in enumerate(tab.header) if h != KEY_COLUMN]
    old[ACTIVITIES.name] = Table([tab.header[i] for i in keep], [])
    backend = MemoryBackend(old)
    _sync(backend, sent=(_sent("k1"),))
    header = backend.read().table(ACTIVITIES.name).header
    assert header[-1] == KEY_COLUMN and header.count(KEY_COLUMN) == 1
    assert [r[KEY_COLUMN] for r in _activities(backend)] == ["k1"]
    _sync(backend, sent=(_sent("k1"), _sent("k4")))
    assert [r[KEY_COLUMN] for r in _activities(backend)] == ["k1", "k4"]

    none = _tabs()
    del none[ACTIVITIES.name]
    backend = MemoryBackend(none)
    _sync(backend, sent=(_sent("k1"),))
    assert backend.read().table(ACTIVITIES.name).header == ACTIVITIES.headers
    assert [r["By"] for r in _activities(backend)] == ["sequence Nurture C"]


def test_a_row_another_instance_appended_meanwhile_is_not_appended_again():
    backend = MemoryBackend(_tabs())
    snapshot = backend.read()
    plan = plan_sync(snapshot, NOW, sent=(_sent("k1"),))
    header = snapshot.table(ACTIVITIES.name).header
    twin = ["2026-11-23 10:00", "L-00001"] + [""] * (len(header) - 3) + ["k1"]
    human_edit(backend, ACTIVITIES.name, lambda t: t.rows.append(twin))
    apply(plan, backend, snapshot)
    assert [r[KEY_COLUMN] for r in _activities(backend)] == ["k1"]


def test_a_french_sheet_writes_french_words_and_reads_them_back_without_a_problem():
    tabs = _tabs()
    settings = tabs[SETTINGS.name]
    settings.rows[settings.column("Key").index("Language")][settings.col("Value")] = "fr"
    backend = MemoryBackend(tabs)
    _sync(backend, sent=(_sent("k1", when="Relance C#1", subject=""),))
    assert [(r["Outcome"], r["By"], r["Notes"]) for r in _activities(backend)] == [
        ("envoyé", "séquence Relance C", "étape 1")
    ]
    assert not _problems(_sync(backend))
    # the b2b-fr sheet (French headers, Language fr in its Clé / Valeur Settings)
    french = MemoryBackend(load_template("b2b-fr", NOW.replace(tzinfo=None)))
    assert not _problems(_sync(french))
    before = len(_activities(french))
    leads = french.read().table(LEADS.name)
    lead = leads.rows[0][find_column(leads, "Lead ID")]
    _sync(french, sent=(_sent("k1", lead),))
    tab = french.read().table(ACTIVITIES.name)
    assert tab.header[:6] == ["Date", "ID du lead", "Type", "Résultat", "Par", "Notes"]
    assert tab.rows[before][1:5] == [lead, "email", "envoyé", "séquence Nurture C"]
    assert not _problems(_sync(french))


def test_a_sender_that_does_not_name_the_sequence_falls_back_to_the_lead_s_cell():
    tabs = _tabs()
    leads = tabs[LEADS.name]
    column = leads.col("Sequence")
    for row, sequence in zip(leads.rows, ("Nurture C", "Stop"), strict=True):
        row[column] = sequence
    backend = MemoryBackend(tabs)
    records = (_sent("k1", when="", subject=""), _sent("k2", "L-00002", when="", subject=""))
    _sync(backend, sent=records)
    assert [(r["By"], r["Notes"]) for r in _activities(backend)] == [
        ("sequence Nurture C", ""),
        ("sequence", ""),  # Stop typed: no name, still a sequence's By
    ]
    assert not _problems(_sync(backend))


def test_unsubscribes_and_sequence_bys_are_no_touch_and_no_problem():
    touches = [
        {"At": "2026-11-20 09:00", "Lead_ID": "L-00001", "Type": "unsubscribe", "Notes": "link"},
        {"At": "2026-11-21 09:00", "Lead_ID": "BOB@bolt.example", "Type": "désinscription"},
        {"At": "2026-11-22 09:00", "Lead_ID": "L-00002", "Type": "email", "By": "séquence X"},
        {"At": "2026-11-22 10:00", "Lead_ID": "L-00002", "Type": "call", "By": "Sofia Marin"},
    ]
    backend = MemoryBackend(_tabs(touches))
    plan = _sync(backend)
    assert not _problems(plan)
    snap = backend.read()
    assert cell(snap, LEADS.name, "L-00001", "Last contact") == ""
    assert cell(snap, LEADS.name, "L-00001", "First touch at") == ""
    assert cell(snap, LEADS.name, "L-00002", "First touch at") == "2026-11-22 10:00"
    offered = [w.words for w in WORD_LISTS if w.tab == ACTIVITIES.name and w.column == "Type"]
    assert offered and "unsubscribe" in offered[0]  # the drop-down offers it
    found = unsubscribes(ActivityFrame.read(snap.table(ACTIVITIES.name)))
    assert found.rows.tolist() == [0, 1]
    assert found.lead_id.tolist() == ["L-00001", "BOB@bolt.example"]
    assert found.address.tolist() == ["", "bob@bolt.example"]
    assert found.at.tolist() == ["2026-11-20 09:00", "2026-11-21 09:00"]
