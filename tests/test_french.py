"""A CRM in French (issue 14): the b2b-fr template synced end to end, French operator words
equal to the English ones, a French Tally form and a French import mapped column by column."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.cli import main
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.forms_tab import FormMapping
from sheetcrm.engine.look import place
from sheetcrm.engine.operators import FRENCH, OPERATORS, find_operator, operator_hint
from sheetcrm.engine.schema import LEADS, canonical_header
from sheetcrm.engine.settings import SETTINGS as DECLARED
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.files.templates import load_template
from sheetcrm.intake import Answer, Submission, adapt
from sheetcrm.intake.fields import lead_record
from sheetcrm.intake.flusher import flush
from sheetcrm.intake.outbox import Outbox

NOW = "2026-11-23T16:00"  # the sheet's time: Europe/Paris in b2b-fr
CLOCK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
STAGES = ["Prospection", "Qualification", "Rendez-vous", "Proposition", "Négociation", "Gagné"]
STAGES += ["Perdu"]
EMEA = {"Claire Lefèvre", "Julien Moreau", "Nadia Benali"}  # Julien is away in the sample
LANGUAGE_DECLARED = any(s.key == "Language" for s in DECLARED)


def rows(path: Path, tab: str) -> list[dict[str, str]]:
    """A tab of the workbook as records keyed by its headers as written, cells as text."""
    sheet = load_workbook(path)[tab]
    values = [["" if v is None else str(v) for v in r] for r in sheet.iter_rows(values_only=True)]
    return [dict(zip(values[0], r, strict=False)) for r in values[1:]]


def real_problems(path: Path) -> list[dict[str, str]]:
    """The Problems tab's rows, but the Language row b2b-fr holds while the engine does not
    declare that setting yet (another part of issue 14 adds it)."""
    found = [r for r in rows(path, "Problems") if r["Problem"]]
    if LANGUAGE_DECLARED:
        return found
    return [r for r in found if "'Language'" not in r["Problem"]]


def french_crm(path: Path) -> Path:
    assert main(["init", "--sheet", str(path), "--template", "b2b-fr", "--now", NOW]) == 0
    return path


def sync(path: Path) -> None:
    assert main(["sync", "--sheet", str(path), "--now", NOW]) == 0


# --- the template, synced --------------------------------------------------------------------


def test_a_french_crm_is_scored_and_routed_by_its_french_rules(tmp_path: Path) -> None:
    path = french_crm(tmp_path / "crm.xlsx")
    sync(path)
    assert real_problems(path) == []
    leads = rows(path, "Leads")
    header = list(leads[0])
    assert header[:5] == ["ID du lead", "Créé le", "Prénom", "Nom", "E-mail"]
    assert not {"Email", "Owner", "Status", "Score reasons"} & set(header)  # none added
    assert all(r["ID du lead"].startswith("L-") and r["Score"] for r in leads)
    assert all(r["Classe"] in "ABCD" and r["Vérification"] for r in leads)
    assert {r["Étape"] for r in leads} == set(STAGES)
    by_name: dict[tuple[str, str], dict[str, str]] = {}
    for r in leads:
        by_name.setdefault((r["Prénom"], r["Nom"]), r)  # the original, not its duplicate
    # Routing, in French: Pays dans la liste ... -> EMEA (round robin, Julien is away);
    # Canada and SaaS -> Sophie Laurent; Mexique -> the Amériques team (Sophie alone).
    assert by_name["Maxime", "Lambert"]["Responsable"] in EMEA - {"Julien Moreau"}
    assert by_name["Hugo", "Bonnet"]["Responsable"] == "Sophie Laurent"
    assert by_name["Inès", "Chevalier"]["Responsable"] == "Sophie Laurent"
    # Scoring: "Secteur dans la liste SaaS, ..." +20, "Montant au moins 10 000" +15, ...
    camille = by_name["Camille", "Durand"]
    assert "+20 Industry est SaaS" in camille["Détail du score"]
    assert "+15 Amount vaut au moins 10,000" in camille["Détail du score"]
    assert int(camille["Score"]) == 75 and camille["Classe"] == "A"
    assert by_name["Élodie", "Fontaine"]["Détail du score"].count("−") == 2  # gmail, no company
    won = [r for r in leads if r["Étape"] == "Gagné"]
    assert won and all(r["Cycle de vie"] == "Customer" for r in won)
    duplicate = [r for r in leads if r["Doublon de"]]
    assert [(r["Prénom"], r["Doublon de"]) for r in duplicate] == [("Camille", "L-00001")]
    # its Settings tab (Clé / Valeur) says Language fr: the Status is in French
    flagged = [r["Vérification"] for r in leads if r["Vérification"] != "OK"]
    assert flagged and all("relance en retard" in f or "au point mort" in f for f in flagged)


def test_a_blank_french_crm_keeps_the_french_rules_and_no_sample(tmp_path: Path) -> None:
    path = tmp_path / "vide.xlsx"
    assert main(["init", "--sheet", str(path), "--template", "b2b-fr", "--blank"]) == 0
    assert rows(path, "Leads") == []
    assert "dans la liste" in {r["Opérateur"] for r in rows(path, "Scoring")}
    settings = {r["Clé"]: r["Valeur"] for r in rows(path, "Settings")}
    assert settings["Fallback owner"] == "" and settings["Time zone"] == "Europe/Paris"


# --- operators ---------------------------------------------------------------------------------


def test_every_operator_has_french_words_that_find_it() -> None:
    assert set(FRENCH) == {op.name for op in OPERATORS}
    for op in OPERATORS:
        for word in FRENCH[op.name]:
            assert find_operator(word) is op, word
            plain = word.upper().replace("É", "E").replace("À", "A").replace("È", "E")
            assert find_operator(plain) is op, plain  # no accents, any case
    assert find_operator("n’est pas vide") is find_operator("is not empty")  # curly apostrophe
    assert find_operator("superieur a") is find_operator("greater than")


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("supérieur de", "did you mean 'supérieur à'?"),
        ("au moin", "did you mean 'au moins'?"),
        ("comence par", "did you mean 'commence par'?"),
        ("at lest", "did you mean 'at least'?"),  # English stays English
    ],
)
def test_a_misspelt_operator_is_hinted_in_its_own_language(typed: str, hint: str) -> None:
    assert operator_hint(typed) == hint
    tabs = load_template("b2b-fr")
    scoring = tabs["Scoring"]
    scoring.rows[2][scoring.header.index("Opérateur")] = typed
    problems = parse_config(Snapshot(tabs)).problems
    assert [(p.cell, p.hint) for p in problems if p.tab == "Scoring"] == [("Scoring!C4", hint)]


def test_french_operators_score_and_route_as_the_english_ones(tmp_path: Path) -> None:
    french = french_crm(tmp_path / "fr.xlsx")
    english = french_crm(tmp_path / "en.xlsx")
    wb = load_workbook(english)
    translated = 0
    for tab in ("Scoring", "Routing", "Alerts"):
        sheet = wb[tab]
        col = [c.value for c in sheet[1]].index("Opérateur")
        for (cell,) in sheet.iter_rows(min_row=2, min_col=col + 1, max_col=col + 1):
            if cell.value:
                op = find_operator(str(cell.value))
                assert op is not None and op.name != cell.value  # the French sheet is French
                cell.value = op.name
                translated += 1
    wb.save(english)
    assert translated >= 15
    sync(french)
    sync(english)
    columns = ["ID du lead", "Score", "Détail du score", "Classe", "Responsable", "Cycle de vie"]
    assert [[r[c] for c in columns] for r in rows(french, "Leads")] == [
        [r[c] for c in columns] for r in rows(english, "Leads")
    ]
    assert real_problems(french) == real_problems(english) == []


# --- forms and imports -------------------------------------------------------------------------


def tally(*fields: tuple[str, str, Any]) -> dict[str, Any]:
    """A Tally webhook as Tally posts it (FORM_RESPONSE, data.fields with key, label, type)."""
    return {
        "eventId": "6f1f3b0e-5c1a-4a51-9d7e-0c2b1d1e2f30",
        "eventType": "FORM_RESPONSE",
        "createdAt": "2026-11-23T14:58:21.889Z",
        "data": {
            "responseId": "mRk2Qa",
            "submissionId": "mRk2Qa",
            "respondentId": "3yPqZ1",
            "formId": "wLp0Ex",
            "formName": "Contactez-nous",
            "createdAt": "2026-11-23T14:58:21.000Z",
            "fields": [
                {"key": f"question_{i}", "label": label, "type": kind, "value": value}
                for i, (label, kind, value) in enumerate(fields)
            ],
        },
    }


FRENCH_FORM = tally(
    ("Prénom", "INPUT_TEXT", "Chloé"),
    ("Nom", "INPUT_TEXT", "Lefort"),
    ("E-mail", "INPUT_EMAIL", "chloe.lefort@boulangeries-lefort.example"),
    ("Téléphone", "INPUT_PHONE_NUMBER", "06 11 22 33 44"),
    ("Société", "INPUT_TEXT", "Boulangeries Lefort"),
    ("Pays", "INPUT_TEXT", "France"),
    ("Secteur d'activité", "INPUT_TEXT", "SaaS"),
    ("Votre message", "TEXTAREA", "Nous voulons une démo."),
)


def test_a_french_tally_form_fills_every_column_and_is_routed_to_emea(tmp_path: Path) -> None:
    backend = MemoryBackend(load_template("b2b-fr", now=datetime(2026, 11, 23, 16, 0)))
    submission = adapt("tally", FRENCH_FORM)
    box = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    try:
        box.put(submission.key(), "tally", submission.to_json(), CLOCK.timestamp() - 60)
        report = flush(box, backend, lambda: CLOCK, "w1")
    finally:
        box.close()
    assert (report.appended, report.dead, report.error) == (1, 0, "")
    sync_once(backend, datetime(2026, 11, 23, 16, 0), CLOCK)
    leads = backend.read().table("Leads")
    assert "Form details" not in leads.header or leads.header.count("E-mail") == 1
    row = next(
        dict(zip(leads.header, r, strict=False))
        for r in leads.rows
        if r[leads.col("ID de soumission") or 0] == submission.key()
    )
    assert {h: row[h] for h in ("Prénom", "Nom", "Société", "Pays", "Secteur")} == {
        "Prénom": "Chloé",
        "Nom": "Lefort",
        "Société": "Boulangeries Lefort",
        "Pays": "France",
        "Secteur": "SaaS",
    }
    assert row["E-mail"] == "chloe.lefort@boulangeries-lefort.example"
    assert row["Téléphone"] == "+33611223344"
    assert row["Notes"] == "Nous voulons une démo."  # nothing else went to Notes
    assert row["Responsable"] in EMEA
    assert "Company est vide" not in row["Détail du score"]
    assert "+20 Industry est SaaS" in row["Détail du score"]
    assert row["Vérification"] == "OK"


@pytest.mark.parametrize(
    ("label", "value", "column"),
    [
        ("Prénom", "Chloé", "First name"),
        ("prenom", "Chloé", "First name"),
        ("Nom de famille", "Lefort", "Last name"),
        ("Courriel", "c@lefort.example", "Email"),
        ("Adresse e-mail", "c@lefort.example", "Email"),
        ("E-mail professionnel", "c@lefort.example", "Email"),
        ("Tél", "06 11 22 33 44", "Phone"),
        ("Portable", "06 11 22 33 44", "Phone"),
        ("Entreprise", "Lefort", "Company"),
        ("Organisation", "Lefort", "Company"),
        ("Pays", "France", "Country"),
        ("Secteur d'activité", "SaaS", "Industry"),
        ("Domaine d'activité", "SaaS", "Industry"),
        ("Montant", "12 500", "Amount"),
        ("Source", "Salon", "Source"),
        ("Commentaire", "Rappeler", "Notes"),
        ("Votre demande", "Rappeler", "Notes"),
    ],
)
def test_french_form_labels_find_their_column(label: str, value: str, column: str) -> None:
    submission = Submission("generic", "id-1", (Answer(label, label, value),), "")
    row = lead_record(submission, FormMapping(), Settings(), LEADS.headers)
    assert column in row, row
    assert not row.get("Notes", "").startswith(f"{label}:"), row


def test_an_import_with_french_headers_maps_them_all(tmp_path: Path, capsys) -> None:
    path = french_crm(tmp_path / "crm.xlsx")
    export = tmp_path / "salon.csv"
    with export.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=";")
        header = ["Prénom", "Nom de famille", "Adresse e-mail", "Tél", "Entreprise", "Pays"]
        w.writerow([*header, "Secteur d'activité", "Montant", "Source", "Fonction"])
        contact = ["Yanis", "Haddad", "Yanis.Haddad@Orbital.EXAMPLE", "06 98 76 54 32"]
        w.writerow([*contact, "Orbital SAS", "France", "Logiciel", "12 500,50", "Salon", "DSI"])
    capsys.readouterr()
    assert main(["import", str(export), "--sheet", str(path), "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert "Appended 1 row" in out
    assert "Not imported (no matching Leads column): Fonction" in out
    sync(path)
    last = rows(path, "Leads")[-1]
    read = {canonical_header(h): v for h, v in last.items()}
    assert {
        "First name": "Yanis",
        "Last name": "Haddad",
        "Email": "yanis.haddad@orbital.example",
        "Phone": "+33698765432",
        "Company": "Orbital SAS",
        "Country": "France",
        "Industry": "Logiciel",
        "Source": "Salon",
        "Amount": "12500.5",
    }.items() <= read.items()
    assert last["Responsable"] in EMEA and last["Vérification"] == "OK"


def test_french_headers_of_the_rule_tabs_are_read_without_accents() -> None:
    tabs = load_template("b2b-fr")
    scoring = tabs["Scoring"]
    header = ["Regle", "CHAMP", "operateur", "Valeur", "Points", "Groupe"]
    tabs["Scoring"] = Table(header, scoring.rows)
    config = parse_config(Snapshot(tabs))
    assert not [p for p in config.problems if p.tab == "Scoring"]
    assert len(config.scoring) == len(parse_config(Snapshot(load_template("b2b-fr"))).scoring)


def test_a_french_sheet_adopted_with_b2b_fr_gets_french_columns_and_tabs(tmp_path: Path) -> None:
    path = tmp_path / "equipe.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "Prospects"
    ws.append(["Nom", "Prénom", "E-mail", "Société", "Pays", "Statut", "Dernier contact"])
    ws.append(["Martin", "Léa", "lea.martin@dupont.example", "Dupont SA", "France", "chaud"])
    ws.append(["Petit", "Hugo", "hugo@durand.example", "Durand", "Belgique", "", "25/03/2026"])
    wb.save(path)
    assert main(["init", "--sheet", str(path), "--template", "b2b-fr", "--now", NOW]) == 0
    sync(path)
    leads = rows(path, "Leads")
    header = list(leads[0])
    assert header[:7] == ["Nom", "Prénom", "E-mail", "Société", "Pays", "Statut", "Dernier contact"]
    assert {"Classe", "Vérification", "Responsable", "Étape", "ID du lead"} <= set(header)
    assert not {"Grade", "Status", "Owner", "Stage"} & set(header)
    assert [r["Statut"] for r in leads] == ["chaud", ""]  # the team's own column, kept
    assert [r["Détail du score"] for r in leads] == [
        "+10 Country est France",
        "+10 Country est Belgique",
    ]
    # a blank Team: nobody to route to yet, and the sheet says so
    assert any("personne dans l'onglet Team" in r["Problem"] for r in real_problems(path))
    settings = {r["Clé"]: r["Valeur"] for r in rows(path, "Settings")}
    assert settings["Date order"] == "DMY"  # set from 25/03/2026, in the French Settings tab


def test_the_stage_and_owner_drop_downs_find_the_french_tabs() -> None:
    tabs = load_template("b2b-fr")
    look = place({name: table.header for name, table in tabs.items()})
    leads = tabs["Leads"].header
    assert {(d.spec.column, leads[d.col], d.source_col) for d in look.dropdowns} == {
        ("Stage", "Étape", 0),
        ("Owner", "Responsable", 0),
    }


SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "ref" / "webhook-samples" / "tally.json"
RELABEL = {
    "Text": "Société",
    "Email": "E-mail",
    "Phone number": "Téléphone",
    "Long text": "Message",
}


def test_tallys_own_sample_relabelled_in_french_maps_by_its_french_labels() -> None:
    if not SAMPLE.is_file():
        pytest.skip(f"Tally's sample payload is not here: {SAMPLE} is missing")
    payload = json.loads(SAMPLE.read_text(encoding="utf-8"))
    fields = payload["data"]["fields"]
    for field in fields:
        field["label"] = RELABEL.get(field["label"], field["label"])
    text = next(f for f in fields if f["type"] == "INPUT_TEXT")
    for label, value in (("Prénom", "Chloé"), ("Nom", "Lefort"), ("Pays", "Belgique")):
        fields.append({**text, "key": f"question_{label}", "label": label, "value": value})
    row = lead_record(adapt("tally", payload), FormMapping(), Settings(), LEADS.headers)
    assert {c: row.get(c) for c in ("First name", "Last name", "Company", "Country")} == {
        "First name": "Chloé",
        "Last name": "Lefort",
        "Company": "Hello",
        "Country": "Belgique",
    }
    assert row["Email"] == "alice@example.com" and row["Phone"] == "+32491223344"
    assert row["Notes"].startswith("Hello world")  # the Message, before the unmapped answers
    assert not any(f"{label}:" in row["Notes"] for label in ("Prénom", "Nom", "Pays", "Société"))
