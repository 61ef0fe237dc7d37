"""Import and sync the two public CRM datasets in ../shared/data: real, messy values."""

from __future__ import annotations

import pytest

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.config import parse_config
from sheetcrm.engine.importer import map_columns, plan_import
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.sync import plan_sync
from sheetcrm.files.exports import read_table
from sheetcrm.files.templates import load_template
from sheets import NOW, SHARED

XED = SHARED / "data" / "xeducation-leads" / "Leads.csv"
MAVEN = SHARED / "data" / "maven-crm" / "sales_pipeline.csv"
pytestmark = pytest.mark.skipif(
    not XED.exists() or not MAVEN.exists(),
    reason="../shared/data (the public CRM datasets) is not beside the repository",
)


def _import(path, maps, add_columns=False):
    tabs = load_template(now=NOW)
    tabs[LEADS.name].rows.clear()
    tabs["Activities"].rows.clear()  # the sample's touches name the sample's leads
    backend = MemoryBackend(tabs)
    snapshot = backend.read()
    source = read_table(path)
    mapping = map_columns(source.header, tabs[LEADS.name].header, maps, add_columns)
    plan = plan_import(snapshot, source, mapping, parse_config(snapshot).settings, NOW)
    apply(plan, backend, snapshot)
    snapshot = backend.read()
    sync_plan = plan_sync(snapshot, NOW)
    apply(sync_plan, backend, snapshot)
    return backend, source, mapping, sync_plan


def test_xeducation_leads_import_and_sync():
    backend, source, mapping, plan = _import(XED, ["Lead Origin=Notes"], add_columns=True)
    assert len(source.rows) == 9240
    assert ("Lead Source", "Source") in mapping.pairs
    leads = backend.tabs[LEADS.name]
    assert len(leads.rows) == 9240
    ids = leads.column("Lead ID")
    assert len(set(ids)) == 9240 and ids[0] == "L-00001"
    # "Select" is an unanswered dropdown: it becomes an empty cell, never a value
    assert "Select" not in leads.column("Specialization")
    assert "Select" not in leads.column("City")
    # an extra column is usable in rules: numbers from the file compare as numbers
    assert leads.column("TotalVisits")[1] == "5"
    status = leads.column("Status")
    assert sum("missing Email or Phone" in s for s in status) == 9240  # no contact data
    assert plan.summary.problems > 1000
    problems = backend.tabs["Problems"]
    assert len(problems.rows) <= 1000 + 10  # capped; each row's Status still says it all
    # routing stays within each person's daily capacity, the fallback owner's too; a lead
    # nobody can take today is left unowned, and its Status says why
    capacity = {m["Name"]: m["Daily capacity"] for m in backend.tabs["Team"].records()}
    owners = leads.column("Owner")
    for name, cap in capacity.items():
        if cap:
            assert owners.count(name) <= int(cap), name
    assert plan.summary.routed == sum(1 for o in owners if o) > 0
    unowned = [s for o, s in zip(owners, status, strict=True) if not o]
    assert unowned and all("no fallback owner available" in s for s in unowned)
    again = plan_sync(backend.read(), NOW)
    assert not again.writes


def test_maven_pipeline_import_and_sync():
    maps = [
        "opportunity_id=Lead ID",
        "sales_agent=Owner",
        "deal_stage=Stage",
        "engage_date=Created at",
        "close_date=Closed at",
        "close_value=Amount",
        "account=Company",
        "product=Notes",
    ]
    backend, source, mapping, plan = _import(MAVEN, maps)
    assert mapping.unmapped == []
    leads = backend.tabs[LEADS.name]
    assert len(leads.rows) == 8800
    assert leads.column("Lead ID")[0] == "1C1I7A6R"  # their IDs are kept
    row = leads.records()[0]
    assert (row["Owner"], row["Stage"], row["Created at"], row["Closed at"], row["Amount"]) == (
        "Moses Frase",
        "Won",
        "2016-10-20",
        "2017-03-01",
        "1054",
    )
    status = leads.column("Status")
    # "Engaging" is not a stage of the default template: a clear problem, not a crash
    assert sum("unknown stage 'Engaging'" in s for s in status) == sum(
        1 for s in leads.column("Stage") if s == "Engaging"
    )
    # imported history is honest: first seen, never an invented path
    history = backend.tabs["History"].records()
    stage_entries = [h for h in history if h["Field"] == "Stage"]
    assert all(h["From"] == "" for h in stage_entries)
    assert {h["Why"] for h in stage_entries} == {"first seen in this stage", "new lead"}
    # owned deals are not re-routed
    assert plan.summary.routed == sum(1 for r in source.rows if not r[1].strip())
