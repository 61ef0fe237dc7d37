"""A sync killed while saving the workbook leaves a temporary copy of every lead beside it; the
next sync removes it and says so, and never a file it did not make or one a save is writing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sheetcrm.backends.xlsx_save import LEFTOVER_SECONDS
from sheetcrm.cli import main
from sheetcrm.service.web import create_app

SRC = Path(__file__).resolve().parents[1] / "src"
NOW = "2026-11-23T10:00"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the save's lock is flock")

# A sync whose save stops once the temporary file is complete, until it is killed.
STALLED_SYNC = """
import os, sys, time
from sheetcrm.cli import main
real_fsync = os.fsync
def stall(fd):
    real_fsync(fd)
    if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".sheetcrm-"):
        print("saving", flush=True)
        time.sleep(600)
os.fsync = stall
main(["sync", "--sheet", sys.argv[1], "--now", sys.argv[2]])
"""


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(".sheetcrm-*.xlsx"))


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def sync(sheet: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["sync", "--sheet", str(sheet), "--now", NOW]) == 0
    return capsys.readouterr().out


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="finds the file in Linux's /proc")
def test_a_sync_killed_mid_save_leaves_a_copy_the_next_sync_removes(
    sheet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    killed = subprocess.Popen(
        [sys.executable, "-c", STALLED_SYNC, str(sheet), NOW],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert killed.stdout is not None and killed.stdout.readline() == b"saving\n"
        [copy] = leftovers(sheet.parent)
        age(copy, LEFTOVER_SECONDS + 60)
        # still being written, however old it looks: the save holds its lock
        assert "Removed" not in sync(sheet, capsys)
        assert copy.exists()
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        killed.stdout.close()  # type: ignore[union-attr]
    assert copy.exists() and copy.stat().st_size > 0  # a full copy of every lead, left behind
    age(copy, LEFTOVER_SECONDS + 60)
    out = sync(sheet, capsys)
    assert (
        f"Removed 1 temporary copy of the workbook left by saves that were interrupted: {copy.name}"
        in out
    )
    assert leftovers(sheet.parent) == []
    assert "Removed" not in sync(sheet, capsys)  # said once


def test_a_sync_leaves_fresh_copies_and_files_it_did_not_make(
    sheet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sheet.parent
    stale = [folder / ".sheetcrm-abc_1234.xlsx", folder / ".sheetcrm-zz9zz9zz.xlsx"]
    fresh = folder / ".sheetcrm-fresh000.xlsx"  # a save that may have only just begun
    foreign = [
        folder / ".sheetcrm-notes.txt",
        folder / "sheetcrm-abcd1234.xlsx",  # no dot: someone's own file
        folder / ".sheetcrm-abcd12345.xlsx",  # not a name tempfile makes
        folder / ".sheetcrm-ABCD1234.xlsx",
        folder / ".sheetcrm-abcd1234.xlsx.bak",
    ]
    for path in [*stale, fresh, *foreign]:
        path.write_bytes(b"PK")
    for path in [*stale, *foreign]:
        age(path, LEFTOVER_SECONDS + 60)
    age(fresh, LEFTOVER_SECONDS - 60)
    out = sync(sheet, capsys)
    assert "Removed 2 temporary copies of the workbook" in out
    assert all(path.name in out for path in stale)
    assert not any(path.exists() for path in stale)
    assert fresh.exists() and all(path.exists() for path in foreign)


def test_the_service_logs_the_copies_it_removed(sheet: Path) -> None:
    stale = sheet.parent / ".sheetcrm-k1lled00.xlsx"
    stale.write_bytes(b"PK")
    age(stale, LEFTOVER_SECONDS + 60)
    token = "leftovers-task-token"
    env = {"SHEETCRM_SHEET": str(sheet), "SHEETCRM_TASK_TOKEN": token, "SHEETCRM_BACKGROUND": "0"}
    app = create_app(env)
    try:
        answer = app.test_client().post("/tasks/sync", headers={"Authorization": f"Bearer {token}"})
        assert answer.json["summary"]["leftovers_removed"] == [stale.name], answer.json
        assert not stale.exists()
    finally:
        app.extensions["sheetcrm"].stop()
