"""A small sales sheet for the alerting tests (first-touch reassignment, digests, quiet hours):
the template's tabs with a team of four in one round-robin team, their manager, and one
Alerts rule that tells an owner of each lead assigned."""

from __future__ import annotations

from datetime import datetime

from sheetcrm.backends.apply import apply
from sheetcrm.backends.memory import MemoryBackend
from sheetcrm.engine.notifications import SentRecord
from sheetcrm.engine.plan import Plan
from sheetcrm.engine.schema import ALERTS, LEADS, ROUTING, SETTINGS, TEAM
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.table import Table
from sheets import put_leads, template

PEOPLE = ("Ann", "Ben", "Cal", "Dee")
MANAGER = "Mia"


def email(name: str) -> str:
    return f"{name.lower()}@sales.example"


def sales_tabs(settings: dict[str, str], *leads: dict[str, str]) -> dict[str, Table]:
    tabs = template()
    team = Table(list(TEAM.headers), [])
    for name in (*PEOPLE, MANAGER):
        row = dict.fromkeys(TEAM.headers, "")
        row.update(Name=name, Email=email(name), Active="yes", Weight="1")
        row.update(Team="Sales" if name != MANAGER else "Management", Manager=MANAGER)
        team.rows.append([row[h] for h in TEAM.headers])
    team.rows[-1][team.col("Manager")] = ""
    tabs[TEAM.name] = team
    tabs[ROUTING.name] = Table(
        list(ROUTING.headers), [["1", "Email", "is not empty", "", "Sales", "round robin"]]
    )
    tabs[ALERTS.name] = Table(
        list(ALERTS.headers), [["lead assigned", "", "", "", "", "owner", "email", ""]]
    )
    set_settings(tabs, {"Fallback owner": "", **settings})
    put_leads(tabs, *leads)
    return tabs


def set_settings(tabs: dict[str, Table], values: dict[str, str]) -> None:
    table = tabs[SETTINGS.name]
    keys = [k.casefold() for k in table.column("Key")]
    for key, value in values.items():
        if key.casefold() in keys:
            table.rows[keys.index(key.casefold())][table.col("Value")] = value
        else:
            table.rows.append([key, value, ""])
            keys.append(key.casefold())


def sync(backend: MemoryBackend, now: datetime, sent: tuple[SentRecord, ...] = ()) -> Plan:
    snapshot = backend.read()
    plan = plan_sync(snapshot, now, sent=sent)
    apply(plan, backend, snapshot)
    return plan


def set_lead(backend: MemoryBackend, row: int, header: str, value: str) -> None:
    backend.human(lambda t: t[LEADS.name].rows[row].__setitem__(t[LEADS.name].col(header), value))


def set_member(backend: MemoryBackend, name: str, header: str, value: str) -> None:
    def edit(tabs: dict[str, Table]) -> None:
        team = tabs[TEAM.name]
        team.rows[team.column("Name").index(name)][team.col(header)] = value

    backend.human(edit)
