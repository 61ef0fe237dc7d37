"""A flush into a large sheet takes fewer submissions (service/flush_variables.py): what it
holds grows with the sheet it reads and the batch it plans, and into 100,000 leads a batch of
15,165 peaked at 373 MB where a sync takes 350 (issue 21, session 6), and 9,322 at 361 MB
(bench/flush.py, session 7)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.service import flush_variables
from sheetcrm.service.flush_variables import FLUSH_BATCH, LEAST_BATCH, fitted_batch
from sheetcrm.service.web import create_app
from sheets import template


def test_the_batch_shrinks_as_the_sheet_grows_down_to_a_floor():
    sizes = [fitted_batch(FLUSH_BATCH, rows) for rows in range(0, 300_001, 10_000)]
    assert sizes[0] == FLUSH_BATCH and sizes == sorted(sizes, reverse=True)
    assert fitted_batch(FLUSH_BATCH, 50_000) == FLUSH_BATCH  # a burst into a sheet this size
    # bench/flush.py into 100,000 leads: 342 MB at 6,000, 350 at 7,300, 361 at 9,322
    assert 6_000 <= fitted_batch(FLUSH_BATCH, 100_000) <= 7_000
    assert fitted_batch(FLUSH_BATCH, 1_000_000) == LEAST_BATCH
    assert fitted_batch(200, 100_000) == 200  # a smaller setting stays as it is


@pytest.fixture
def app(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    blank = tmp_path_factory.mktemp("template") / "crm.xlsx"
    WorkbookBackend(blank).provision(template())
    sheet = tmp_path / "crm.xlsx"
    shutil.copy(blank, sheet)
    app = create_app({"SHEETCRM_SHEET": str(sheet), "SHEETCRM_BACKGROUND": "0"})
    yield app
    app.extensions["sheetcrm"].stop()


def test_the_service_flushes_what_the_sheet_it_last_read_has_room_for(app, monkeypatch):
    """After a sync has read the sheet, a flush claims the batch fitted to its size; the
    rest wait for the next flush, none lost."""
    client = app.test_client()
    for n in range(30):
        lead = {"event_id": f"e{n}", "email": f"lead{n}@acme.example", "first_name": "Ann"}
        assert client.post("/hooks/generic", json=lead).status_code == 202
    svc = app.extensions["sheetcrm"]
    svc.sync()
    rows = len(template()["Leads"].rows)
    # room for 10 submissions beside a sheet of this size
    monkeypatch.setattr(flush_variables, "SHEET_LEAD_BYTES", 1000)
    monkeypatch.setattr(flush_variables, "SUBMISSION_BYTES", 100)
    monkeypatch.setattr(flush_variables, "LEAST_BATCH", 1)
    monkeypatch.setattr(flush_variables, "FLUSH_ROOM", rows * 1000 + 10 * 100)
    first = svc.flush()
    assert first.claimed == 10 and first.appended == 10 and first.rows == rows
    second = svc.flush()  # the sheet grew by 10: room for none but the floor's one
    assert second.claimed == 1 and second.rows == rows + 10
