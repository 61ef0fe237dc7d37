"""The sync's ``sequences`` step against whole sheets (the template's tabs, a memory backend):
enrolment, exits, waits, the send window, the per-sender cap and spacing, consent,
unsubscribed addresses, previews, and exactly one e-mail per (sequence, step, lead)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.notifications import Notification, SentRecord
from sheetcrm.engine.plan import Plan, find_column
from sheetcrm.engine.sync import STEPS, plan_sync
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.files.templates import load_template

MONDAY = datetime(2026, 11, 23, 10, 0)  # America/New_York, the template's zone
STEP_1 = ["Nurture C", "1", "0", "", "Hi {{First name}}", "Hello {{First name}} of {{Company}}"]
STEP_2 = ["Nurture C", "2", "2 business days", "previous step", "Again", "Still {{Company}}?"]
ENROL = [
    ["Nurture C", "enrol if", "Source", "equals", "Webinar"],
    ["Nurture C", "exit if", "Activity outcome", "in list", "replied, meeting booked"],
    ["Nurture C", "exit if", "Stage", "equals", "Meeting"],
]


def lead(n: int, **cells: str) -> dict[str, str]:
    values = {
        "Lead ID": f"L-{n:05d}",
        "Created at": "2026-11-20 09:00",
        "First name": f"Ana{n}",
        "Last name": "Lopez",
        "Email": f"ana{n}@client{n}.example",
        "Company": f"Client {n}",
        "Source": "Webinar",
        "Stage": "Prospecting",
        "Owner": "Sofia Marin",
        "Consent": "legitimate interest",
    }
    return values | {k.replace("_", " "): v for k, v in cells.items()}


def sheet(
    *leads: dict[str, str],
    settings: dict[str, str] | None = None,
    status: str = "active",
    steps: tuple[list[str], ...] = (STEP_1, STEP_2),
    activities: tuple[list[str], ...] = (),
    template: str = "b2b-en",
) -> MemoryBackend:
    tabs = load_template(template, now=MONDAY)
    leads_tab = tabs["Leads"]
    leads_tab.rows.clear()
    for values in leads:
        row = [""] * len(leads_tab.header)
        for header, value in values.items():
            row[_col(leads_tab, header)] = value
        leads_tab.rows.append(row)
    if template == "b2b-en":
        tabs["Sequences"] = Table(tabs["Sequences"].header, [[*s, status] for s in steps])
        tabs["Enrolment"] = Table(tabs["Enrolment"].header, [list(r) for r in ENROL])
    tabs["Activities"] = Table(tabs["Activities"].header, [list(a) for a in activities])
    tabs["History"] = Table(tabs["History"].header, [])
    table = tabs["Settings"]
    for key, value in (settings or {}).items():
        found = [r for r in table.rows if r[0] == key]
        if found:
            found[0][1] = value
        else:
            table.rows.append([key, value, ""])
    return MemoryBackend(tabs)


def _col(table: Table, header: str) -> int:
    col = find_column(table, header)
    assert col is not None, header
    return col


def sync(backend: MemoryBackend, now: datetime = MONDAY, **kw: object) -> Plan:
    snapshot = backend.read()
    plan = plan_sync(snapshot, now, **kw)  # type: ignore[arg-type]
    apply(plan, backend, snapshot)
    return plan


def nurture(plan: Plan) -> list[Notification]:
    return [n for n in plan.notifications if n.event == "sequence"]


def cell(snapshot: Snapshot, lead_id: str, column: str) -> str:
    table = snapshot.table("Leads")
    ids = [r[_col(table, "Lead ID")] for r in table.rows]
    return table.rows[ids.index(lead_id)][_col(table, column)]


def history(snapshot: Snapshot, lead_id: str) -> list[tuple[str, ...]]:
    table = snapshot.table("History")
    at = {h: table.col(h) for h in ("Lead ID", "Field", "From", "To", "By", "Why")}
    return [
        tuple(r[at[h]] for h in ("Field", "From", "To", "By", "Why"))  # type: ignore[index]
        for r in table.rows
        if r[at["Lead ID"]] == lead_id
        and r[at["Field"]] in ("Sequence", "Sequence step", "Unsubscribed at")  # type: ignore[index]
    ]


def test_the_step_runs_after_sla_and_before_alerts():
    names = [name for name, _ in STEPS]
    assert names.index("sla") < names.index("sequences") < names.index("alerts")


def test_the_owner_s_signature_comes_from_the_team_tab():
    signed = [*STEP_1[:5], "Hello {{First name}}\n\n{{Owner signature}}"]
    plan = sync(sheet(lead(1), lead(2, Owner="Avery Chen"), steps=(signed, STEP_2)))
    texts = {n.lead_id: n.text for n in nurture(plan)}
    # the b2b-en Team tab's Signature cells, on two lines each
    assert texts["L-00001"] == "Hello Ana1\n\nSofia Marin\nHead of Sales EMEA, Quillstack"
    assert texts["L-00002"] == "Hello Ana2\n\nAvery Chen\nEnterprise Accounts, Quillstack"


def test_a_lead_is_enrolled_and_gets_step_1_once():
    backend = sheet(lead(1))
    plan = sync(backend)
    (sent,) = nurture(plan)
    assert (sent.recipient, sent.subject, sent.when) == (
        "ana1@client1.example",
        "Hi Ana1",
        "Nurture C#1",
    )
    assert sent.text == "Hello Ana1 of Client 1"
    assert (sent.sender_name, sent.reply_to) == ("Sofia Marin", "sofia.marin@quillstack.example")
    assert sent.unsubscribe == "ana1@client1.example" and sent.cap == 0
    assert sent.not_before == "2026-11-23T15:00:00+00:00"  # 10:00 in New York
    snapshot = backend.read()
    assert cell(snapshot, "L-00001", "Sequence") == "Nurture C"
    assert cell(snapshot, "L-00001", "Sequence step") == "1"
    assert cell(snapshot, "L-00001", "Next send at") == "2026-11-25 10:00"  # 2 business days
    assert history(snapshot, "L-00001") == [
        ("Sequence", "", "Nurture C", "Nurture C", "enrolled: Source equals Webinar"),
        ("Sequence step", "", "1", "Nurture C", "step 1 of Nurture C to ana1@client1.example"),
    ]
    again = sync(backend)  # a second sync: nothing new
    assert nurture(again) == []
    assert not any("Sequence" in line for line in again.describe())
    # two days later, step 2, the last: done
    wednesday = datetime(2026, 11, 25, 10, 0)
    (second,) = nurture(sync(backend, wednesday))
    assert second.when == "Nurture C#2" and second.key != sent.key
    snapshot = backend.read()
    assert cell(snapshot, "L-00001", "Sequence step") == "done"
    assert cell(snapshot, "L-00001", "Next send at") == ""
    assert history(snapshot, "L-00001")[-1][2:] == (
        "done",
        "Nurture C",
        "last step of Nurture C sent",
    )
    assert nurture(sync(backend, datetime(2026, 12, 10, 10, 0))) == []


def test_business_days_skip_the_weekend():
    friday = datetime(2026, 11, 27, 10, 0)
    backend = sheet(lead(1))
    sync(backend, friday)
    assert cell(backend.read(), "L-00001", "Next send at") == "2026-12-01 10:00"  # Tuesday


def test_outside_the_send_window_nothing_is_planned_until_it_opens():
    saturday = datetime(2026, 11, 28, 11, 0)
    backend = sheet(lead(1))
    plan = sync(backend, saturday)
    assert nurture(plan) == []
    assert cell(backend.read(), "L-00001", "Next send at") == "2026-11-30 09:00"
    assert [p.status for p in plan.previews] == ["waits for the send window"]
    (sent,) = nurture(sync(backend, datetime(2026, 11, 30, 9, 5)))
    assert sent.when == "Nurture C#1"


def test_the_daily_cap_per_sender_and_the_spacing():
    leads = [lead(n) for n in range(1, 5)]
    settings = {"E-mails per sender per day": "3", "Minutes between e-mails": "5"}
    backend = sheet(*leads, settings=settings)
    planned = nurture(sync(backend))
    assert len(planned) == 3
    assert [n.not_before[11:16] for n in planned] == ["15:00", "15:05", "15:10"]
    waiting = cell(backend.read(), "L-00004", "Sequence step")
    assert waiting == ""  # enrolled, its step 1 not taken: it waits, not dropped
    assert nurture(sync(backend, datetime(2026, 11, 23, 11, 0))) == []  # cap counted from History
    (late,) = nurture(sync(backend, datetime(2026, 11, 24, 9, 30)))
    assert late.lead_id == "L-00004"


def test_consent_gates_enrolment():
    leads = [
        lead(1, Consent="opt-in"),
        lead(2),
        lead(3, Consent=""),
        lead(4, Consent="Intérêt légitime"),
    ]
    b2c = sheet(*leads, settings={"Sequence consent": "opt-in"})
    assert [n.lead_id for n in nurture(sync(b2c))] == ["L-00001"]
    b2b = sheet(*leads, settings={"Sequence consent": "legitimate interest"})
    assert [n.lead_id for n in nurture(sync(b2b))] == ["L-00001", "L-00002", "L-00004"]
    # consent withdrawn later: the lead leaves
    snapshot = b2b.read()
    table = snapshot.table("Leads").copy()
    table.rows[1][_col(table, "Consent")] = "none"
    b2b.write(Changes(snapshot.version, replace={"Leads": table}))
    sync(b2b)
    assert cell(b2b.read(), "L-00002", "Sequence step") == "stopped: no consent"


def test_stop_typed_ends_the_sequence_and_a_name_typed_enrols_by_hand():
    backend = sheet(lead(1, Sequence="Stop"), lead(2, Source="Website", Sequence="nurture c"))
    plan = sync(backend)
    snapshot = backend.read()
    assert cell(snapshot, "L-00001", "Sequence step") == "stopped: Stop typed"
    assert [n.lead_id for n in nurture(plan)] == ["L-00002"]
    assert cell(snapshot, "L-00002", "Sequence") == "Nurture C"
    assert history(snapshot, "L-00002")[0][-1] == "enrolled by hand"


def test_an_unsubscribed_address_is_unsubscribed_on_every_row_holding_it():
    backend = sheet(
        lead(1, Unsubscribed_at="2026-11-01 08:00", Email="Ana@Client.example"),
        lead(2, Email="ana@client.example"),
        lead(3),
        lead(
            4,
            Email="bo@client.example",
            Sequence="Nurture C",
            Sequence_step="1",
            Next_send_at="2026-11-22 10:00",
        ),
        activities=(["2026-11-22 18:00", "L-00003", "unsubscribe", "", "", "by the link", ""],),
    )
    plan = sync(backend)
    snapshot = backend.read()
    assert nurture(plan) == [n for n in nurture(plan) if n.lead_id == "L-00004"]
    assert cell(snapshot, "L-00002", "Unsubscribed at") == "2026-11-01 08:00"
    assert cell(snapshot, "L-00002", "Sequence") == ""  # never enrolled
    assert cell(snapshot, "L-00003", "Unsubscribed at") == "2026-11-22 18:00"
    assert cell(snapshot, "L-00001", "Sequence") == ""


def test_a_lead_in_a_sequence_who_unsubscribes_leaves_it():
    backend = sheet(lead(1))
    sync(backend)
    snapshot = backend.read()
    table = snapshot.table("Activities").copy()
    table.rows.append(
        ["2026-11-23 11:00", "ana1@client1.example", "unsubscribe", "", "", "", "", ""]
    )
    backend.write(Changes(snapshot.version, replace={"Activities": table}))
    sync(backend, datetime(2026, 11, 23, 12, 0))
    snapshot = backend.read()
    assert cell(snapshot, "L-00001", "Sequence step") == "stopped: unsubscribed"
    assert cell(snapshot, "L-00001", "Unsubscribed at") == "2026-11-23 11:00"


def test_the_unsubscribe_page_s_utc_time_is_written_on_the_sheet_s_clock():
    """The page stamps its Activities row in UTC ISO (service/unsubscribe_page.py): the lead's
    Unsubscribed at is that instant as the sheet's clock shows it, like every time there."""
    at = "2026-11-22T23:30:00+00:00"
    backend = sheet(lead(1), activities=([at, "L-00001", "unsubscribe", "", "", "", ""],))
    sync(backend)
    zone = ZoneInfo("America/New_York")  # the template's Time zone
    local = datetime.fromisoformat(at).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    assert cell(backend.read(), "L-00001", "Unsubscribed at") == local


def test_exits_by_stage_by_activity_by_won_and_by_bounce():
    enrolled = dict(Sequence="Nurture C", Sequence_step="1", Next_send_at="2026-11-30 10:00")
    backend = sheet(
        lead(1, Stage="Meeting", **enrolled),
        lead(2, **enrolled),
        lead(3, Stage="Won", Amount="1000", **enrolled),
        lead(4, **enrolled),
        lead(5, **enrolled),
        activities=(
            ["2026-11-23 09:00", "L-00002", "email", "meeting booked", "Sofia Marin", "", ""],
        ),
    )
    bounce = SentRecord(
        "k",
        "2026-11-23T14:00:00+00:00",
        "L-00004",
        "sequence",
        "x",
        "email",
        "failed: bounced: 550 no such user",
    )
    sync(backend, sent=[bounce])
    snapshot = backend.read()
    steps = [cell(snapshot, f"L-0000{n}", "Sequence step") for n in range(1, 6)]
    assert steps == [
        "stopped: stage Meeting",
        "stopped: meeting booked",
        "stopped: won",
        "stopped: bounced",
        "1",
    ]


def test_a_lead_missing_a_field_waits_and_its_status_says_which():
    backend = sheet(lead(1, First_name=""))
    plan = sync(backend)
    assert nurture(plan) == []
    snapshot = backend.read()
    assert "Nurture C waits for First name" in cell(snapshot, "L-00001", "Status")
    assert cell(snapshot, "L-00001", "Sequence step") == ""
    assert [p.status for p in plan.previews] == ["waits for First name"]


def test_a_lead_whose_owner_has_no_usable_e_mail_waits_until_the_team_tab_is_fixed():
    """Replies go to the owner: an owner whose Team Email is not one address (a typo, two
    addresses) would have the e-mail refused at sending, for good; it waits instead."""
    backend = sheet(lead(1))
    snapshot = backend.read()
    team = snapshot.table("Team").copy()
    row = next(r for r in team.rows if r[team.col("Name")] == "Sofia Marin")
    row[team.col("Email")] = "sofia.marin@quillstack.example, sales@quillstack.example"
    backend.write(Changes(snapshot.version, replace={"Team": team}))
    plan = sync(backend)
    assert nurture(plan) == []
    assert "Nurture C waits for Owner email" in cell(backend.read(), "L-00001", "Status")
    snapshot = backend.read()
    team = snapshot.table("Team").copy()
    row = next(r for r in team.rows if r[team.col("Name")] == "Sofia Marin")
    row[team.col("Email")] = "sofia.marin@quillstack.example"
    backend.write(Changes(snapshot.version, replace={"Team": team}))
    (sent,) = nurture(sync(backend))
    assert sent.reply_to == "sofia.marin@quillstack.example"


def test_a_draft_sequence_is_previewed_never_sent():
    backend = sheet(lead(1, Sequence="Nurture C"), status="draft")
    plan = sync(backend)
    assert nurture(plan) == []
    assert cell(backend.read(), "L-00001", "Sequence step") == ""


def test_previews_list_every_due_email_and_the_dry_run_names_them():
    backend = sheet(lead(1), lead(2, First_name=""))
    plan = plan_sync(backend.read(), MONDAY)
    assert [(p.lead_id, p.status, p.subject) for p in plan.previews] == [
        ("L-00001", "planned", "Hi Ana1"),
        ("L-00002", "waits for First name", ""),
    ]
    lines = plan.describe()
    assert any(
        line.startswith("notify email ana1@client1.example: Hi Ana1 (Nurture C#1") for line in lines
    )


def test_hostile_lead_values_are_data():
    hostile = lead(
        1,
        Company="{{ ''.__class__ }}",
        First_name="Ana\r\nBcc: x@evil.example",
        Notes="x" * 100_000,
    )
    steps = (["Nurture C", "1", "0", "", "Hi {{First name}}", "{{Company}} {{Notes}}"],)
    (sent,) = nurture(sync(sheet(hostile, steps=steps)))
    assert "\r" not in sent.subject and "\n" not in sent.subject
    assert sent.subject == "Hi Ana Bcc: x@evil.example"
    assert sent.text.startswith("{{ ''.__class__ }} xxx") and len(sent.text) > 100_000


def test_quiet_hours_never_bring_a_nurture_email_earlier():
    settings = {"Quiet hours": "20:00-8:00", "Minutes between e-mails": "30"}
    planned = nurture(sync(sheet(lead(1), lead(2), settings=settings)))
    assert [n.not_before for n in planned] == [
        "2026-11-23T15:00:00+00:00",
        "2026-11-23T15:30:00+00:00",
    ]


def test_the_french_template_enrols_by_its_example():
    backend = sheet(template="b2b-fr")
    snapshot = backend.read()
    seq = snapshot.table("Sequences").copy()
    for row in seq.rows:
        row[seq.col("Statut")] = "active"
    backend.write(Changes(snapshot.version, replace={"Sequences": seq}))
    leads = [lead(1, Consent="intérêt légitime", Source="Site web")]
    table = backend.read().table("Leads").copy()
    table.rows.clear()
    for values in leads:
        row = [""] * len(table.header)
        for header, value in values.items():
            row[_col(table, header)] = value
        table.rows.append(row)
    snapshot = backend.read()
    backend.write(Changes(snapshot.version, replace={"Leads": table}))
    plan = sync(backend, datetime(2026, 11, 23, 10, 0))
    snapshot = backend.read()
    assert cell(snapshot, "L-00001", "Séquence") == "Relance C"
    # the rows as the manager typed them, in the words of the language the sync speaks
    why = history(snapshot, "L-00001")[0][-1]
    assert why in (
        "inscrit : Grade dans la liste C, D; Lifecycle égal à Lead",
        "enrolled: Grade in list C, D; Lifecycle equals Lead",
    ), why
    # its step 1 waits 2 "jours ouvrés" after enrolment
    assert cell(snapshot, "L-00001", "Prochain envoi") == "2026-11-25 10:00"
    assert nurture(plan) == []
    assert not [p for p in plan.problems if p.tab == "Enrolment"]


def test_a_draft_sequence_previews_what_its_enrol_rows_would_send():
    plan = plan_sync(sheet(lead(1), lead(2, Source="Website"), status="draft").read(), MONDAY)
    assert [(p.lead_id, p.status, p.subject, p.due_at) for p in plan.previews] == [
        ("L-00001", "draft", "Hi Ana1", "2026-11-23 10:00")
    ]
    assert nurture(plan) == []
    assert any(
        line.startswith("nurture Nurture C#1 to ana1@client1.example (draft")
        for line in plan.describe()
    )


def test_nurture_preview_prints_the_emails_and_writes_nothing(tmp_path, capsys):
    from sheetcrm.backends.workbook import WorkbookBackend
    from sheetcrm.cli import main

    path = tmp_path / "crm.xlsx"
    backend = WorkbookBackend(path)
    backend.provision(sheet(lead(1), status="draft").read().tabs)
    before = path.read_bytes()
    assert main(["nurture", "preview", "--sheet", str(path), "--now", "2026-11-23T10:00"]) == 0
    out = capsys.readouterr().out
    assert "L-00001 · Nurture C step 1 · due 2026-11-23 10:00 · draft: previewed, never sent" in out
    assert "To: ana1@client1.example\nSubject: Hi Ana1\n\nHello Ana1 of Client 1" in out
    assert "1 nurture e-mails due; nothing written, nothing sent." in out
    assert path.read_bytes() == before


def test_a_bad_nurture_setting_is_a_problem_at_its_cell_and_sends_nothing():
    plan = sync(sheet(lead(1), settings={"Sequence consent": "none", "Send hours": "17-9"}))
    said = {p.problem for p in plan.problems if p.tab == "Settings"}
    assert "Sequence consent: 'none' is not a consent a sequence can require" in said
    assert "Send hours: '17-9' ends before it starts" in said
    assert nurture(plan) == []


def test_an_unknown_consent_is_read_as_none_and_said_on_the_status():
    backend = sheet(lead(1, Consent="maybe later"))
    assert nurture(sync(backend)) == []
    status = cell(backend.read(), "L-00001", "Status")
    assert "Consent: 'maybe later' is not a consent; read as none" in status
