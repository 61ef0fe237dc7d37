"""Imports from the CRMs people leave: HubSpot, Salesforce, Pipedrive and Zoho exports map
without a single --map, and a whole-name column fills First name and Last name."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook

from sheetcrm.cli import main
from sheetcrm.engine.importer import Export, map_columns, plan_import
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.settings import Settings
from sheetcrm.engine.table import Snapshot, Table
from sheetcrm.files.exports import read_table
from sheets import NOW, template

LEADS_HEADER = template()[LEADS.name].header


def export(path: Path, header: list[str], *rows: list[str]) -> Export:
    """The file as the vendor writes it (UTF-8 with a BOM, quoted where needed), read back."""
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL).writerows([header, *rows])
    return read_table(path)


def imported(source: Export):
    snapshot = Snapshot({LEADS.name: Table(list(LEADS_HEADER))}, "v1")
    mapping = map_columns(source.header, list(LEADS_HEADER), [])
    return plan_import(snapshot, source, mapping, Settings(), NOW), mapping


VENDORS = {
    "hubspot contacts": (
        [
            "Record ID",
            "First Name",
            "Last Name",
            "Email",
            "Phone Number",
            "Company Name",
            "Create Date",
            "Lifecycle Stage",
            "Lead Status",
            "Contact owner",
        ],
        [
            "5101",
            "Ana",
            "Lima",
            "ana@acme.example",
            "+1 415 555 0132",
            "Acme",
            "2026-03-05 14:22",
            "lead",
            "NEW",
            "Maya Patel",
        ],
        ["Record ID", "Lifecycle Stage", "Lead Status"],
    ),
    "salesforce leads report": (
        [
            "Lead Owner",
            "First Name",
            "Last Name",
            "Title",
            "Company / Account",
            "Email",
            "Phone",
            "Lead Source",
            "Lead Status",
            "Industry",
            "Country",
            "Create Date",
            "Description",
        ],
        [
            "Maya Patel",
            "Ana",
            "Lima",
            "CTO",
            "Acme",
            "ana@acme.example",
            "(415) 555-0132",
            "Web",
            "Open - Not Contacted",
            "SaaS",
            "United States",
            "2026-03-05",
            "Wants a demo, next week",
        ],
        ["Title", "Lead Status"],
    ),
    "pipedrive deals": (
        [
            "Deal - ID",
            "Deal - Title",
            "Deal - Value",
            "Deal - Stage",
            "Deal - Status",
            "Deal - Owner",
            "Deal - Expected close date",
            "Person - Name",
            "Person - Email",
            "Person - Phone",
            "Organization - Name",
        ],
        [
            "17",
            "Acme deal",
            "12500",
            "Qualified",
            "open",
            "Maya Patel",
            "2026-06-30",
            "Ana Lima",
            "ana@acme.example",
            "+1 415 555 0132",
            "Acme",
        ],
        ["Deal - ID", "Deal - Title", "Deal - Status"],
    ),
    "zoho leads": (
        [
            "Record Id",
            "Lead Owner",
            "First Name",
            "Last Name",
            "Company",
            "Email",
            "Phone",
            "Lead Source",
            "Lead Status",
            "Industry",
            "Country",
            "Description",
            "Created Time",
        ],
        [
            "zcrm_5101",
            "Maya Patel",
            "Ana",
            "Lima",
            "Acme",
            "ana@acme.example",
            "415-555-0132",
            "Web",
            "Not Contacted",
            "SaaS",
            "United States",
            "Wants a demo, next week",
            "2026-03-05 14:22",
        ],
        ["Record Id", "Lead Status"],
    ),
}


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_a_vendor_export_maps_its_columns_by_name(tmp_path: Path, vendor: str) -> None:
    header, row, left = VENDORS[vendor]
    plan, mapping = imported(export(tmp_path / "export.csv", header, row))
    assert mapping.unmapped == left
    lead = plan.appends[0]
    assert (lead["First name"], lead["Last name"]) == ("Ana", "Lima")
    assert (lead["Email"], lead["Phone"], lead["Company"]) == (
        "ana@acme.example",
        "+14155550132",
        "Acme",
    )
    assert lead["Owner"] == "Maya Patel"  # kept: imported leads are not re-routed


def test_each_vendors_own_names_land_in_their_columns(tmp_path: Path) -> None:
    leads = {
        vendor: imported(export(tmp_path / f"{i}.csv", header, row))[0].appends[0]
        for i, (vendor, (header, row, _)) in enumerate(VENDORS.items())
    }
    assert leads["hubspot contacts"]["Created at"] == "2026-03-05 14:22"
    assert leads["salesforce leads report"]["Notes"] == "Wants a demo, next week"
    assert leads["salesforce leads report"]["Source"] == "Web"
    assert leads["zoho leads"]["Created at"] == "2026-03-05 14:22"
    deal = leads["pipedrive deals"]
    assert (deal["Amount"], deal["Stage"], deal["Expected close"]) == (
        "12500",
        "Qualified",
        "2026-06-30",
    )


@pytest.mark.parametrize(
    ("header", "full", "first", "last"),
    [
        ("Name", "Jane van der Berg", "Jane", "van der Berg"),
        ("Full name", "Doe, Jane", "Jane", "Doe"),
        ("Person - Name", "Cher", "Cher", ""),
        ("Contact name", "  Zoé   Müller ", "Zoé", "Müller"),
    ],
)
def test_a_whole_name_column_fills_first_and_last_name(
    header: str, full: str, first: str, last: str
) -> None:
    source = Export([header, "Email"], [[full, "a@b.example"]])
    plan, mapping = imported(source)
    assert mapping.unmapped == []
    assert (header, "First name + Last name") in mapping.pairs
    assert (plan.appends[0]["First name"], plan.appends[0]["Last name"]) == (first, last)


def test_a_whole_name_column_gives_way_to_first_and_last_name_columns() -> None:
    source = Export(["Name", "First Name", "Last Name"], [["Ana Lima", "Ana", "Lima"]])
    plan, mapping = imported(source)
    assert mapping.unmapped == ["Name"]  # said, not silently dropped
    assert (plan.appends[0]["First name"], plan.appends[0]["Last name"]) == ("Ana", "Lima")


def test_a_pipedrive_export_imports_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "crm.xlsx"
    assert main(["init", "--sheet", str(sheet), "--now", "2026-11-23T10:00"]) == 0
    header, row, _ = VENDORS["pipedrive deals"]
    export(tmp_path / "deals.csv", header, row)
    capsys.readouterr()
    args = [
        "import",
        str(tmp_path / "deals.csv"),
        "--sheet",
        str(sheet),
        "--now",
        "2026-11-23T10:00",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Person - Name -> First name + Last name" in out
    assert "Appended 1 rows" in out and "Nothing to import" not in out
    leads = load_workbook(sheet)["Leads"]
    names = [c.value for c in leads[1]]
    lead = {h: c.value for h, c in zip(names, leads[leads.max_row], strict=False)}
    assert (lead["First name"], lead["Last name"], lead["Company"]) == ("Ana", "Lima", "Acme")
    assert (lead["Owner"], lead["Stage"], lead["Amount"]) == ("Maya Patel", "Qualified", 12500)
