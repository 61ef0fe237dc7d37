"""After a write that took several requests: did every cell land on the lead it was meant for?

The Sheets API has no transactions and no conditional writes, and Changes address cells by
position. A person who sorts, inserts or deletes rows between the read and the request that
carries the cells moves leads under those positions, and nothing checked *before* the write
can close that window. So the write is read back: each written row must still hold the lead
it was resolved for (the same Lead ID, or for a row that had none, the same person cells),
under the same header. A cell that landed on another lead is counted, written again at its
lead's row now, and the other lead gets back what it had (or what this sync planned for it),
each compare-and-set like every write, each logged in History. Repairs are checked the same
way, up to a bound (backends/apply.py).

Why not row metadata: Google documents that it follows rows inserted, deleted or moved, and
says nothing of sorts, which move values, not rows. Why not a check before the write: the
window between any check and the last request stays open whatever its width.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sheetcrm.engine.catalog import N_, _, speaking
from sheetcrm.engine.changes import Changes
from sheetcrm.engine.landing_quick import LeadRows, identifying_columns, leads_tab
from sheetcrm.engine.plan import find_column
from sheetcrm.engine.schema import HISTORY, LEADS, PROBLEMS, SERVICE_BY, tab_spec
from sheetcrm.engine.settings_tab import sheet_language
from sheetcrm.engine.table import Snapshot, Table, norm_header

MOVED = N_("the sheet changed while sheetcrm wrote (a sort, or rows inserted or deleted)")


@dataclass
class Landing:
    repair: Changes  # cells to write again, History rows saying what, Problems rows why
    misplaced: int = 0  # cells that had landed on another lead
    unrepaired: list[str] = field(default_factory=list)  # leads whose cells could not be fixed


def check_landing(before: Snapshot, written: Changes, after: Snapshot, stamp: str) -> Landing:
    """Where the Leads cells of ``written`` (resolved against ``before``) are in ``after``,
    and the repair for those that landed on another lead."""
    tab = leads_tab(before)
    landing = Landing(Changes(after.version))
    if tab is None or next(written.cells.of_tab(tab), None) is None or after.get(tab) is None:
        return landing
    # Held as numbers, each cell made only as it is looked at: a sort during a first sync
    # of 100,000 leads puts ~620,000 cells right, and this check held each as an object,
    # each in a dict by (row, column), each lead's columns in a set: ~800 MB at its peak
    # (issue 21, session 6).
    old_t, new_t = before.table(tab), after.table(tab)
    header_before = [*old_t.header, *written.new_columns.get(tab, [])]
    planned = written.cells.lookup(tab)
    fixes: dict[int, str] = {}  # row << 16 | column -> the value to write there
    log: dict[tuple[str, str], tuple[str, str]] = {}  # (lead, column) -> (found, written)
    why: dict[str, int] = {}  # lead -> the columns put right on it, a bit each

    def put_right(lead_id: str, col: int, found: str, written: str) -> None:
        why[lead_id] = why.get(lead_id, 0) | 1 << col
        if _logged(header_before[col]):
            log[(lead_id, header_before[col])] = (found, written)

    def column_now(col: int) -> int:
        """Where the column written at ``col`` is now: found by its header, else still at
        ``col`` (a renamed header names the same column)."""
        name = norm_header(header_before[col])
        if col < len(new_t.header) and norm_header(new_t.header[col]) == name:
            return col
        return next((i for i, h in enumerate(new_t.header) if norm_header(h) == name), col)

    # a row's person columns found now as the written ones are (by header, case and spacing
    # ignored, else where they were): by exact text, one retyped "EMAIL" during the write
    # made every row without an ID look inserted, and the repair emptied its new ID
    person = identifying_columns(old_t, {c.col for c in written.cells.of_tab(tab)})
    old, new = LeadRows(old_t, person), LeadRows(new_t, [column_now(c) for c in person])
    # the Lead ID column the write wrote to: one it added too (a sheet read without one)
    id_col = find_column(Table(header_before), "Lead ID")
    ids_planned = planned.column(id_col) if id_col is not None else {}
    fresh = set(ids_planned.values())  # IDs this write gave out

    def column_before(col: int) -> int:
        """Which column, as read, is at ``col`` now; -1 when none is."""
        if col >= len(new_t.header):
            return -1
        name = norm_header(new_t.header[col])
        return next((i for i, h in enumerate(header_before) if norm_header(h) == name), -1)

    def known_id(row: int) -> str:
        """The ID a row was read with, when it names that lead alone and this write kept it."""
        lead_id = old.ids[row]
        return lead_id if lead_id in old.unique and row not in ids_planned else ""

    def same_lead(row: int) -> bool:
        """Whether the row at this position now is the lead the write was meant for; rows
        alike in every person cell are the same lead as far as anyone can tell."""
        lead_id = known_id(row)
        if lead_id:
            return row < len(new_t.rows) and new.ids[row] == lead_id
        # past the last row read too: a write that empties the last row lands whole, and
        # taken for a lead gone, its twin above was emptied as well (the quick check's way)
        return new.print_of(row) == old.print_of(row) or typed_over(row)

    typed: dict[int, bool] = {}

    def typed_over(row: int) -> bool:
        """Whether the row here now is the lead read here with a few person cells typed
        since: it holds the ID this write gave it, matches no other lead read, that lead is
        nowhere else now, and most of the person cells it had are as they were. Taken for a
        row a person inserted, it had every cell the write gave it emptied: its new Lead ID,
        its Owner, a Last contact (a person's column) with them."""
        found = typed.get(row)
        if found is None:
            given = ids_planned.get(row, "").strip()
            found = typed[row] = (
                bool(given)
                and row < len(new_t.rows)
                and new.ids[row] == given
                and lead_before(row) < 0
                and lead_now(row) < 0
                and _mostly_kept(old.print_of(row), new.print_of(row))
            )
        return found

    def lead_now(row: int) -> int:
        return new.find(known_id(row), old.print_of(row))

    def gone(row: int) -> bool:
        """Whether the lead read at ``row`` is no longer in the sheet: a person deleted it."""
        lead_id = known_id(row)
        return not new.has_id(lead_id) if lead_id else not new.has_print(old.print_of(row))

    def lead_before(row: int) -> int:
        lead_id = new.ids[row]
        return old.find("" if lead_id in fresh else lead_id, new.print_of(row))

    for c in written.cells.of_tab(tab):
        col = column_now(c.col)
        if same_lead(c.row) and col == c.col:
            continue  # on its lead; or a person moved it there after the write: fine too
        lead_id = ids_planned.get(c.row, "") or old.ids[c.row]
        wrong = False
        # the row the value landed on gets back what it had, or what this sync planned for it
        if c.row < len(new_t.rows) and new.cell(c.row, c.col) == c.value:
            other, other_col = lead_before(c.row), column_before(c.col)
            value: str | None = None
            other_id = ""
            if other >= 0 and other_col >= 0:
                value = planned.get(other, other_col)
                value = old.cell(other, other_col) if value is None else value
                other_id = ids_planned.get(other, "") or old.ids[other]
            elif other < 0 and (not new.ids[c.row] or new.ids[c.row] in fresh):
                value = ""  # a row a person inserted after the read: nothing of ours was there
            if value is None:
                landing.unrepaired.append(new.ids[c.row] or f"row {Table.sheet_row(c.row)}")
                wrong = True
            elif value != c.value:
                fixes[c.row << 16 | c.col] = value
                if other_id:
                    put_right(other_id, other_col, c.value, value)
                wrong = True
        # and the value goes to its lead, wherever that row is now
        here = lead_now(c.row)
        if here >= 0:
            now = new.cell(here, col)
            if now != c.value and now == old.cell(c.row, c.col):
                fixes[here << 16 | col] = c.value
                put_right(lead_id, c.col, now, c.value)
                wrong = True
        elif wrong and not gone(c.row):
            landing.unrepaired.append(lead_id or f"row {Table.sheet_row(c.row)}")
        landing.misplaced += wrong
    for key in sorted(fixes):
        landing.repair.cells.add(tab, key >> 16, key & 0xFFFF, fixes[key])
    history = next((t for t in after.tabs if tab_spec(t) is HISTORY), HISTORY.name)
    # one History row per cell put right of a column people type or History follows, From
    # what was there To what is now: a later sync reads the last Owner a lead's History
    # recorded (engine/history.py), so To must be true (_logged)
    if log:
        landing.repair.appends[history] = [
            [stamp, lead_id, column, found, written, SERVICE_BY, f"put back: {MOVED}"]
            for (lead_id, column), (found, written) in sorted(log.items())
        ]
    landing.unrepaired = list(dict.fromkeys(landing.unrepaired))
    with speaking(sheet_language(after)):  # said on Problems, in the sheet's language
        _report(landing, after, tab, stamp, why, header_before)
    return landing


SAID_LEADS = 200
"""Leads named one by one on Problems when cells were put right, the rest counted on one
row: a sort during a first sync of 100,000 leads put cells right on 99,996 of them."""


def _named(header: list[str], bits: int) -> list[str]:
    return [h for i, h in enumerate(header) if bits >> i & 1]


def _mostly_kept(was: str, now: str) -> bool:
    """Whether more than half of the person cells a row held (``was``, joined; empty ones
    not counted) hold the same now (``now``)."""
    pairs = list(zip(was.split("\x1f"), now.split("\x1f"), strict=False))
    return 2 * sum(1 for a, b in pairs if a and a == b) > sum(1 for a, _ in pairs if a)


def _report(
    landing: Landing,
    after: Snapshot,
    leads: str,
    stamp: str,
    why: dict[str, int],
    header: list[str],
) -> None:
    """Say it on the Problems tab too, where a manager looks (the next sync rewrites it).
    ``why``: lead -> the columns of ``header`` put right on it, a bit each."""
    done = _(
        "nothing to do: this sync put them back; History shows what moved of Owner, Stage "
        "and the columns people type"
    )
    put = sorted(why.items())
    found = [
        (
            lead,
            _("%(columns)s put right on this lead: %(why)s")
            % {"columns": ", ".join(sorted(_named(header, bits))), "why": _(MOVED)},
            done,
        )
        for lead, bits in put[:SAID_LEADS]
    ]
    if len(put) > SAID_LEADS:
        more = _("%(count)d more leads had cells put right: %(why)s")
        found.append(("", more % {"count": len(put) - SAID_LEADS, "why": _(MOVED)}, done))
    lost = landing.unrepaired
    found += [
        (
            lead,
            _("a value meant for this lead landed elsewhere: %(why)s") % {"why": _(MOVED)},
            _(
                "it could not be put back: check this lead's Owner and Lifecycle; the next sync "
                "recomputes the rest"
            ),
        )
        for lead in lost[:SAID_LEADS]
    ]
    if len(lost) > SAID_LEADS:
        more = _("%(count)d more leads had a value land elsewhere: %(why)s")
        found.append(
            (
                "",
                more % {"count": len(lost) - SAID_LEADS, "why": _(MOVED)},
                _("check their Owner and Lifecycle; the next sync recomputes the rest"),
            )
        )
    if not found:
        return
    tab = next((t for t in after.tabs if tab_spec(t) is PROBLEMS), None)
    header = after.table(tab).header if tab else []
    if not tab or not header:
        return  # no Problems tab to add to: History and the sync's output still say it
    rows = []
    for lead, problem, hint in found:
        cells = {"At": stamp, "Tab": leads, "Lead": lead, "Problem": problem, "Hint": hint}
        rows.append([cells.get(_canonical(h), "") for h in header])
    landing.repair.appends[tab] = rows


LOGGED = frozenset({"Owner", "Stage", "Sequence", "Sequence step", "Unsubscribed at"})
"""The Leads columns whose changes the sync records in History."""


def _logged(header: str) -> bool:
    """Whether a cell of this Leads column put right gets a History row: a person's column,
    or one History follows. Not the service's others (Score, Status...), which every sync
    computes again: a sort during a first sync of 100,000 leads put back 622,356 cells, and
    a History row each went past Google's 10-million-cell cap (issue 21, session 6)."""
    spec = LEADS.column(header)
    return spec is None or spec.owner.value != "service" or spec.header in LOGGED


def _canonical(header: str) -> str:
    spec = PROBLEMS.column(header)
    return spec.header if spec else header
