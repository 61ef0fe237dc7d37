"""Settings' Language: problems, hints and lead Status messages in French through the gettext
catalogue, at the same cells as in English; the catalogue holds every text of the code; and
two syncs at once, in two languages, each speak their own."""

from __future__ import annotations

import copy
import pickle
import re
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from sales_sheet import set_settings
from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.catalog import _, current, speaking, translations
from sheetcrm.engine.language import parse_language
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.problems import FOLLOW_UP, Flag, is_flag
from sheetcrm.engine.schema import ALERTS, LEADS, ROUTING, SCORING, SETTINGS, TEAM
from sheetcrm.engine.setting_values import SettingError
from sheetcrm.engine.settings_tab import sheet_language
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.engine.validation import Memo
from sheets import NOW, cell, put_leads, template

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sheetcrm"
PO = PACKAGE / "locale" / "fr" / "LC_MESSAGES" / "sheetcrm.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")


def _set(tabs: dict[str, Table], tab: str, row: int, header: str, value: str) -> None:
    table = tabs[tab]
    table.rows[row][table.col(header)] = value


def _language(tabs: dict[str, Table], value: str) -> dict[str, Table]:
    settings = tabs[SETTINGS.name]
    row = settings.column("Key").index("Language")
    _set(tabs, SETTINGS.name, row, "Value", value)
    return tabs


def _broken(language: str) -> dict[str, Table]:
    """The template with a problem in several rule tabs and in some leads."""
    tabs = _language(template(), language)
    _set(tabs, SCORING.name, 0, "Field", "Industy")  # Scoring!B2
    _set(tabs, TEAM.name, 1, "Active", "maybe")  # Team!D3
    _set(tabs, ROUTING.name, 0, "Operator", "equalz")
    put_leads(
        tabs,
        {"Email": "not-an-email", "Stage": "Prospecting", "Country": "France"},
        {"Email": "b@bolt.example", "Stage": "Proposal", "Next action date": "2026-11-01"},
        {"Email": "c@cask.example", "Stage": "Prospekting"},
    )
    return tabs


def _plan(tabs: dict[str, Table], now: datetime = NOW) -> Plan:
    return plan_sync(Snapshot(tabs), now)


def test_french_problems_and_hints_sit_at_the_same_cells_as_the_english_ones():
    english, french = _plan(_broken("en")), _plan(_broken("fr"))
    assert [(p.tab, p.cell, p.lead) for p in french.problems] == [
        (p.tab, p.cell, p.lead) for p in english.problems
    ]
    by_cell = {p.cell: p for p in french.problems}
    assert by_cell["Scoring!B2"].problem == "champ inconnu 'Industy'"
    assert by_cell["Scoring!B2"].hint == "essayez 'Industry'"
    assert by_cell["Team!D3"].problem == "'maybe' n'est ni oui ni non"
    assert by_cell["Team!D3"].hint == "saisissez oui ou non"
    routing = next(p for p in french.problems if p.tab == ROUTING.name)
    assert routing.problem == "opérateur inconnu 'equalz'"
    email = next(p for p in french.problems if p.cell.startswith("Leads!E"))
    assert email.problem.startswith("Email: adresse e-mail invalide : 'not-an-email'")
    assert email.hint.startswith("saisissez une adresse comme nom@societe.com")
    # the English sync says the same in English: nothing of the catalogue leaks into it
    assert {p.cell: p.problem for p in english.problems}["Scoring!B2"] == (
        "unknown field 'Industy'"
    )
    assert all(
        p.problem != f.problem for p, f in zip(english.problems, french.problems, strict=True)
    )


def _status(tabs: dict[str, Table], *nows: datetime) -> list[str]:
    """Each lead's Status after a sync at each of ``nows``."""
    backend = MemoryBackend(tabs)
    for now in nows:
        snapshot = backend.read()
        apply(plan_sync(snapshot, now), backend, snapshot)
    leads = backend.read().table(LEADS.name)
    return leads.column("Status")


def test_lead_status_messages_are_in_the_sheets_language():
    later = NOW + timedelta(days=30)  # Prospecting holds a lead at most 14 days
    french = _status(_broken("fr"), later)
    english = _status(_broken("en"), later)
    assert french[0].startswith("Email: adresse e-mail invalide : 'not-an-email'")
    assert "; relance en retard depuis le 2026-11-01" in french[1]
    assert "; follow-up overdue since 2026-11-01" in english[1]
    assert "Amount: obligatoire à l'étape Proposal" in french[1]
    assert french[2].startswith("Stage: étape inconnue 'Prospekting'")
    tabs = _language(template(), "fr")
    _set(tabs, LEADS.name, 0, "Owner", "Nobody Here")
    stale = _status(tabs, NOW, later)
    assert stale[0].startswith("Owner: 'Nobody Here' n'est pas dans l'onglet Team")
    assert any("au point mort : en Prospecting depuis le " in s for s in stale)
    assert any("(14 jours maximum)" in s for s in stale)
    assert any("en retard : premier contact attendu le " in s for s in stale)


def test_an_unknown_language_is_a_problem_at_its_cell_and_the_sync_speaks_english():
    tabs = _broken("klingon")
    plan = _plan(tabs)
    row = tabs[SETTINGS.name].column("Key").index("Language")
    problem = next(p for p in plan.problems if p.tab == SETTINGS.name)
    assert problem.cell == f"Settings!B{row + 2}"
    assert problem.problem == "Language: unknown language 'klingon'"
    assert problem.hint == "use en (English) or fr (français)"
    assert "unknown field 'Industy'" in [p.problem for p in plan.problems]


@pytest.mark.parametrize(
    ("typed", "language"),
    [("", "en"), ("EN", "en"), ("fr", "fr"), ("Français", "fr"), ("francais", "fr"),
     (" French ", "fr")],
)  # fmt: skip
def test_the_language_row_accepts_the_agreed_spellings(typed, language):
    assert parse_language(typed) == language
    assert sheet_language(Snapshot(_language(template(), typed))) == language


def test_a_misspelled_language_gets_the_same_hint_whatever_was_typed():
    with pytest.raises(SettingError) as caught:
        parse_language("deutsch")
    assert caught.value.hint == "use en (English) or fr (français)"
    assert sheet_language(Snapshot({})) == "en"  # no Settings tab: English


def _slipping(language: str) -> MemoryBackend:
    """Two leads with owners told of each flag: a follow-up, a stale deal, a first touch."""
    tabs = _language(template(), language)
    tabs[ALERTS.name] = Table(
        list(ALERTS.headers),
        [
            ["follow-up overdue", "", "", "", "", "owner", "", ""],
            ["deal stale", "", "", "", "", "owner", "", ""],
            ["first-touch SLA missed", "", "", "", "", "owner", "", ""],
        ],
    )
    put_leads(
        tabs,
        {"Email": "a@acme.example", "Country": "France", "Stage": "Prospecting"},
        {"Email": "b@bolt.example", "Country": "France", "Stage": "Meeting"},
    )
    return MemoryBackend(tabs)


def _sync(backend: MemoryBackend, now: datetime) -> Plan:
    snapshot = backend.read()
    plan = plan_sync(snapshot, now)
    apply(plan, backend, snapshot)
    return plan


def _follow_up_due(backend: MemoryBackend) -> None:
    leads = backend.read().table(LEADS.name)
    col = leads.col("Next action date")
    backend.human(lambda t: t[LEADS.name].rows[1].__setitem__(col, "2026-11-23"))


def test_alerts_follow_flags_by_their_kind_in_french_too():
    """The alerts, the SLA's reassignment and the digest find a flag by its kind: a French
    Status ("relance en retard ...") plans the same alerts as an English one."""
    planned = {}
    for language in ("en", "fr"):
        backend = _slipping(language)
        events: Counter[tuple[str, str]] = Counter()
        for now in (NOW, NOW + timedelta(days=1), NOW + timedelta(days=20)):
            if now > NOW:
                _follow_up_due(backend)
            events.update((n.event, n.lead_id) for n in _sync(backend, now).notifications)
        planned[language] = events
        if language == "fr":
            status = cell(backend.read(), LEADS.name, "L-00002", "Status")
            assert "relance en retard depuis le 2026-11-23" in status
    assert planned["fr"] == planned["en"]
    assert set(planned["fr"]) >= {
        ("follow-up overdue", "L-00002"),
        ("first-touch SLA missed", "L-00001"),
        ("deal stale", "L-00001"),
    }


def test_switching_the_language_announces_no_flag_again():
    """A Status that says a flag in English is the same flag said in French: switching the
    Language tells no owner again about every overdue lead."""
    backend = _slipping("en")
    _sync(backend, NOW)
    _follow_up_due(backend)
    later = NOW + timedelta(days=20)
    flagged = _sync(backend, later)
    assert {n.event for n in flagged.notifications} == {
        "follow-up overdue",
        "deal stale",
        "first-touch SLA missed",
    }

    def to_french(t: dict[str, Table]) -> None:
        _language(t, "fr")

    backend.human(to_french)
    assert _sync(backend, later + timedelta(hours=1)).notifications == []
    assert "relance en retard depuis le 2026-11-23" in cell(
        backend.read(), LEADS.name, "L-00002", "Status"
    )


def test_a_flag_keeps_its_kind_when_copied_and_the_sheet_gets_plain_text():
    flag = Flag("relance en retard depuis le 2026-11-01", FOLLOW_UP, ("a", "b"))
    for copied in (copy.deepcopy(flag), pickle.loads(pickle.dumps(flag))):
        assert is_flag(copied, FOLLOW_UP) and copied == flag and copied.said == ("a", "b")
    assert not is_flag("follow-up overdue since 2026-11-01", FOLLOW_UP)  # words are no kind
    tabs = _language(template(), "fr")
    put_leads(
        tabs, {"Email": "d@dock.example", "Stage": "Meeting", "Next action date": "2026-11-01"}
    )
    status = next(w for w in _plan(tabs).writes if w.column == "Status")
    assert status.new == ["relance en retard depuis le 2026-11-01"]
    assert all(type(v) is str for v in status.new)


def test_a_memo_kept_across_syncs_does_not_answer_in_the_language_of_an_earlier_one():
    memo = Memo()
    english = plan_sync(Snapshot(_broken("en")), NOW, memo)
    french = plan_sync(Snapshot(_broken("fr")), NOW, memo)
    assert any("is not a valid email" in p.problem for p in english.problems)
    assert any("adresse e-mail invalide" in p.problem for p in french.problems)
    assert not any("is not a valid email" in p.problem for p in french.problems)


def test_two_syncs_at_once_each_speak_their_own_language():
    """The service syncs in a background thread while the web thread answers: the language
    is per sync (a context variable), never the process's."""
    expected = {lang: _plan(_broken(lang)).problems for lang in ("en", "fr")}
    results: dict[str, list[list[str]]] = {"en": [], "fr": []}
    start = threading.Barrier(2)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: interleave the syncs

    def sync(language: str) -> None:
        start.wait()
        for _round in range(4):
            plan = _plan(_broken(language))
            results[language].append([p.problem for p in plan.problems])

    try:
        threads = [threading.Thread(target=sync, args=(lang,)) for lang in ("en", "fr")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    for language, rounds in results.items():
        assert len(rounds) == 4
        assert all(r == [p.problem for p in expected[language]] for r in rounds), language
    assert current() == "en"  # and this thread was never switched


def test_speaking_is_undone_after_the_sync_even_when_it_raises():
    with pytest.raises(RuntimeError), speaking("fr"):
        assert _("type yes or no") == "saisissez oui ou non"
        raise RuntimeError("boom")
    assert _("type yes or no") == "type yes or no"


def _code_messages() -> set[str | tuple[str, str]]:
    """Every msgid the engine marks: what `scripts/catalog` extracts."""
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PACKAGE / "engine"),
        keywords={"_": None, "N_": None, "ngettext": (1, 2)},
    ):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def _catalogue():
    with PO.open("rb") as f:
        return read_po(f, locale="fr")


def test_the_french_catalogue_holds_every_message_of_the_code_and_no_other():
    catalog = _catalogue()
    in_po = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}
    code = _code_messages()
    assert len(code) > 150  # the extraction found the engine's messages
    assert sorted(map(str, code - in_po)) == [], "run scripts/catalog, then translate"
    assert sorted(map(str, in_po - code)) == [], "run scripts/catalog: obsolete entries"


def test_every_french_entry_is_filled_and_keeps_the_placeholders():
    catalog = _catalogue()
    assert catalog.num_plurals == 2  # French: one form for 0 and 1, one for more
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert all(s.strip() for s in strings), f"untranslated: {ids[0]!r}"
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == wanted, f"{ids[0]!r} -> {text!r}"
            assert text.count("%") == ids[-1].count("%"), f"{ids[0]!r} -> {text!r}"
        assert not list(message.check(catalog)), ids[0]


def test_every_language_a_manager_can_choose_has_its_catalogue():
    from sheetcrm.engine.catalog import LANGUAGES
    from sheetcrm.engine.language import _NAMES

    assert set(_NAMES.values()) == set(LANGUAGES)  # a flag is recognised in each of them
    for language in set(LANGUAGES) - {"en"}:
        assert (PACKAGE / "locale" / language / "LC_MESSAGES" / "sheetcrm.po").is_file()
        assert translations(language).gettext("no open stage") != "no open stage"


def test_the_catalogue_is_compiled_once_per_process():
    assert translations("fr") is translations("fr")
    assert translations("fr").gettext("no open stage") == "aucune étape ouverte"


# --- the texts of rules in use, scores, History whys and alerts (and what reads them back) ---

MONDAY = datetime(2026, 11, 23, 10, 0)  # the sales sheet's wall time (America/New_York)


def _scoring(tabs: dict[str, Table], *rules: list[str]) -> dict[str, Table]:
    tabs[SCORING.name] = Table(list(SCORING.headers), [list(r) for r in rules])
    return tabs


def _problem_rows(backend: MemoryBackend) -> list[dict[str, str]]:
    return backend.read().table("Problems").records()


def test_the_last_known_good_banner_and_the_status_notes_are_in_french():
    tabs = _scoring(_language(template(), "fr"), ["Saas", "Industry", "equals", "SaaS", "10", ""])
    put_leads(tabs, {"Email": "a@acme.example", "Industry": "SaaS", "Stage": "Prospecting"})
    backend = MemoryBackend(tabs)
    _sync(backend, NOW)  # valid: kept as the last valid rules
    backend.human(lambda t: _set(t, SCORING.name, 0, "Field", "Industy"))
    _sync(backend, NOW + timedelta(hours=1))
    banner = _problem_rows(backend)[0]
    stamp = "2026-11-23 10:00"  # the template sheet's wall time of NOW
    assert banner["Problem"] == (
        f"Scoring : version du {stamp} appliquée pour les règles tant que Scoring!B2 "
        "n'est pas corrigée"
    )
    assert banner["Hint"].startswith("corrigez Scoring!B2 (voir sa ligne ci-dessous) : ")
    status = cell(backend.read(), LEADS.name, "L-00001", "Status")
    assert f"noté selon les règles du {stamp} : Scoring!B2 a un problème" in status
    # a new workbook has no valid version: not applied, said in French
    fresh = _scoring(_language(template(), "fr"), ["Saas", "Industy", "equals", "SaaS", "10", ""])
    backend = MemoryBackend(fresh)
    _sync(backend, NOW)
    said = {p["Problem"]: p["Hint"] for p in _problem_rows(backend)}
    hint = said[
        "Scoring non appliqué tant que Scoring!B2 n'est pas corrigée "
        "(aucune version valide pour l'instant)"
    ]
    assert hint.endswith("en attendant, pas de mise à jour pour le calcul des scores")


def test_consistency_checks_are_in_french():
    tabs = _language(template(), "fr")
    settings = tabs[SETTINGS.name]
    keys = settings.column("Key")
    settings.rows[keys.index("MQL score")][settings.col("Value")] = "90"
    settings.rows[keys.index("SQL score")][settings.col("Value")] = "60"
    team = tabs[TEAM.name]
    team.rows[0][team.col("Name")] = team.rows[1][team.col("Team")]
    said = {p.problem: p.hint for p in _plan(tabs).problems}
    assert said["MQL score (90) est supérieur à SQL score (60)"] == (
        "mettez MQL score au plus égal à SQL score"
    )
    both = f"{team.rows[1][team.col('Team')]!r} est à la fois une personne et une équipe"
    assert said[both].startswith("renommez l'équipe")


def test_score_reasons_read_in_french_with_the_operator_phrases():
    rules = (
        ["Saas", "Industry", "equals", "SaaS", "10", ""],
        ["Big", "Amount", "au moins", "1000", "5", ""],
        ["No phone", "Phone", "is empty", "", "-3", ""],
        ["Mid", "Amount", "between", "10 and 50", "2", ""],
    )
    reasons = {}
    for language in ("en", "fr"):
        tabs = _scoring(_language(template(), language), *rules)
        put_leads(
            tabs,
            {"Email": "a@acme.example", "Industry": "SaaS", "Amount": "5000"},
            {"Email": "b@bolt.example", "Amount": "20", "Phone": "+33 1 23 45 67 89"},
            {"Email": "c@cask.example", "Phone": "+33 1 23 45 67 89"},
        )
        backend = MemoryBackend(tabs)
        _sync(backend, NOW)
        reasons[language] = backend.read().table(LEADS.name).column("Score reasons")
    assert (
        reasons["en"][0] == "+10 Industry is SaaS; +5 Amount is at least 1,000; −3 Phone is empty"
    )
    assert reasons["fr"][0] == (
        "+10 Industry est SaaS; +5 Amount vaut au moins 1,000; −3 Phone est vide"
    )
    assert reasons["fr"][1] == "+2 Amount est entre 10 et 50"
    assert reasons["fr"][2] == "aucune règle de score ne correspond"


def _rotation(language: str) -> MemoryBackend:
    tabs = _language(template(), language)
    tabs[LEADS.name] = Table(tabs[LEADS.name].header, [])
    members = [[n, "", "Sales", "yes", "1", "", ""] for n in ("Ann", "Bob", "Cat")]
    tabs[TEAM.name] = Table(tabs[TEAM.name].header, members)
    set_settings(tabs, {"Fallback owner": ""})
    tabs[ROUTING.name] = Table(
        tabs[ROUTING.name].header, [["1", "", "", "", "Sales", "round robin"]]
    )
    return MemoryBackend(tabs)


def _arrive_and_route(backend: MemoryBackend, now: datetime) -> tuple[str, str]:
    """A new lead typed in and synced: its Owner and the why History gives."""

    def edit(tabs: dict[str, Table]) -> None:
        leads = tabs[LEADS.name]
        row = [""] * len(leads.header)
        row[leads.col("Email")] = f"p{len(leads.rows)}@gmail.com"
        leads.rows.append(row)

    backend.human(edit)
    _sync(backend, now)
    snapshot = backend.read()
    owner = snapshot.table(LEADS.name).column("Owner")[-1]
    whys = [r["Why"] for r in snapshot.table("History").records() if r["Field"] == "Owner"]
    return owner, whys[-1] if whys else ""


@pytest.mark.parametrize(("before", "after"), [("en", "fr"), ("fr", "en")])
def test_a_rotation_keeps_its_turns_when_the_language_changes(before, after):
    backend = _rotation(before)
    owner, why = _arrive_and_route(backend, NOW)
    assert owner == "Ann"
    if before == "fr":
        assert why == "Règle de routage 1 (tous les leads) → Sales à tour de rôle : Ann"
    else:
        assert why == "Routing rule 1 (every lead) → Sales by round robin: Ann"
    backend.human(lambda t: _language(t, after))
    turns = [_arrive_and_route(backend, NOW + timedelta(hours=h))[0] for h in (1, 2, 3)]
    assert turns == ["Bob", "Cat", "Ann"]  # the turn read from the other language's History


def test_a_lead_nobody_can_take_says_why_in_french():
    backend = _rotation("fr")
    backend.human(lambda t: [r.__setitem__(3, "no") for r in t[TEAM.name].rows])
    owner, _why = _arrive_and_route(backend, NOW)
    status = backend.read().table(LEADS.name).column("Status")[-1]
    assert owner == "" and status == (
        "Owner: Règle de routage 1 (tous les leads); Ann : statut inactif; Bob : statut inactif; "
        "Cat : statut inactif; aucun responsable de secours disponible (Settings : Fallback owner)"
    )


def test_the_sla_counts_its_reassignments_across_a_language_switch():
    """Max reassignments (2): one English reassignment row and one French one make two; the
    lead stays, and the manager's escalation is in French."""
    from sales_sheet import MANAGER, email, sales_tabs
    from sales_sheet import sync as sales_sync

    tabs = sales_tabs(
        {"Reassign after SLA": "yes", "First-touch SLA hours": "4"},
        {"Email": "a@acme.example", "Company": "Acme"},
    )
    backend = MemoryBackend(tabs)
    owners = []
    plans = []
    for hours in (0, 5, 11, 16, 21):
        if hours == 11:
            backend.human(lambda t: _language(t, "fr"))
        plans.append(sales_sync(backend, MONDAY + timedelta(hours=hours)))
        owners.append(cell(backend.read(), LEADS.name, "L-00001", "Owner"))
    assert owners == ["Ann", "Ben", "Cal", "Cal", "Cal"]
    whys = [r["Why"] for r in backend.read().table("History").records() if r["Field"] == "Owner"]
    assert whys[1].startswith("first-touch SLA missed after 4 h; ")
    assert whys[2].startswith("délai de premier contact dépassé après 4 h; ")
    assert whys[2].endswith("→ Sales à tour de rôle : Cal")
    [escalation] = [n for p in plans for n in p.notifications if n.recipient == email(MANAGER)]
    assert escalation.subject == "Escalade : premier contact en retard sur L-00001 : Acme"
    assert escalation.text.startswith("escalade : en retard : premier contact attendu le ")
    assert "il a déjà été réattribué 2 fois, il reste donc à Cal" in escalation.text
    told = [n for n in plans[2].notifications if n.event == "lead assigned"]
    assert [(n.subject, n.text.split(" (")[0]) for n in told] == [
        ("Nouveau lead L-00001 pour vous : Acme", "attribué à Cal")
    ]
    assert told[0].text.endswith("(lead L-00001, ligne 2 de Leads ; ligne 2 d'Alerts)")


def test_the_digest_is_in_french():
    from sales_sheet import email, sales_tabs
    from sales_sheet import sync as sales_sync

    tabs = sales_tabs({"Digest at": "8:00", "Language": "fr"}, {"Email": "a@acme.example"})
    backend = MemoryBackend(tabs)
    sales_sync(backend, MONDAY)
    plan = sales_sync(backend, MONDAY + timedelta(days=1))
    [digest] = [n for n in plan.notifications if n.event == "daily digest"]
    assert digest.recipient == email("Ann")
    assert digest.subject == (
        "Votre récapitulatif sheetcrm du 2026-11-24 : 0 en retard, 0 au point mort, 1 nouveau"
    )
    assert digest.text.splitlines() == [
        "Vos leads au 2026-11-24 (Ann) :",
        "Nouveaux leads depuis le 2026-11-23 08:00 (1): L-00001 a@acme.example",
    ]


def test_a_stage_first_seen_is_recognised_in_every_language():
    from sheetcrm.engine.stages import first_seen

    for language in ("en", "fr"):
        with speaking(language):
            texts = [_("first seen in this stage"), _("first seen without a stage")]
            other = _("stage changed in the sheet")
        assert all(first_seen(t) for t in texts) and not first_seen(other)
    assert first_seen("vu pour la première fois à cette étape")


def test_the_senders_hourly_summary_is_in_the_language_the_notifications_were_planned_in(
    tmp_path,
):
    """The sender runs outside any sync: each notification keeps the sheet's Language of the
    sync that planned it (the outbox's language column), and a summary is said in it."""
    from sheetcrm.engine.notifications import Notification
    from sheetcrm.intake.outbox_db import OutboxDB
    from sheetcrm.notify.outbox import NotificationOutbox
    from sheetcrm.notify.sender import Sender

    db = OutboxDB(f"sqlite:///{tmp_path / 'outbox.db'}")
    at = datetime(2026, 11, 23, 15, 0).timestamp()
    with speaking("fr"):
        notes = [
            Notification(
                2, f"L-{i}", "lead assigned", "2026-11-23", "a@b.example", "email", "x", cap=2
            )
            for i in range(5)
        ]
    box = NotificationOutbox(db, lambda: at)
    plan = Plan("v", stamp="2026-11-23 10:00", notifications=notes)
    box.hold(plan)
    box.release(plan)
    sent = []
    Sender(db, sent.append, "w1", clock=lambda: at).run_once()
    folded = sorted(e.lead_id for e in box.entries("folded"))
    db.close()
    summary = sent[-1]  # one sent, then the hour's last slot tells the other four
    assert summary.subject == "4 autres notifications cette heure-ci"
    assert summary.text == "et 4 de plus : " + ", ".join(f"{i} (lead assigned)" for i in folded)


def test_the_notifications_tab_says_the_outcome_in_the_sheets_language():
    from sheetcrm.engine.notifications import SentRecord

    records = [
        SentRecord(f"k{i}", "2026-11-23T15:00:00+00:00", "L-1", "lead assigned", "a@b.example",
                   "email", outcome)
        for i, outcome in enumerate(
            ("sent", "in the hourly summary (cap reached)", "failed: connection refused")
        )
    ]  # fmt: skip
    outcomes = {}
    for language in ("en", "fr"):
        plan = plan_sync(Snapshot(_language(template(), language)), NOW, sent=records)
        outcomes[language] = [row[5] for row in plan.log]
    assert outcomes["en"] == [r.outcome for r in records]
    assert outcomes["fr"] == [
        "envoyé",
        "dans le récapitulatif de l'heure (plafond atteint)",
        "échec : connection refused",
    ]
