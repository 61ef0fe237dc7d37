"""`sheetcrm serve` for real: a process on loopback, on a workbook and on the Sheets
stand-in; a web-form post reaches the sheet through the background flush; Ctrl-C stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sheetcrm.backends import open_backend
from sheetcrm.engine.schema import LEADS
from sheets import emulator, free_port, google_backend, template

TOKEN = "serve-task-token-16"


def serve(location: str, folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sheetcrm.cli",
            "serve",
            "--sheet",
            location,
            "--port",
            str(port),
            "--outbox",
            f"sqlite:///{folder / 'outbox.sqlite3'}",
        ],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            "SHEETCRM_FLUSH_SECONDS": "1",
            "SHEETCRM_TASK_TOKEN": TOKEN,
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).ok:
                return proc, base
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError(f"serve did not start:\n{out}\n{err}")


@pytest.mark.parametrize("kind", ["workbook", "google"])
def test_serve_takes_a_form_post_into_the_sheet(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if kind == "workbook":
        location, env = str(tmp_path / "crm.xlsx"), {}
        open_backend(location).provision(template())
    else:
        location = google_backend().location
        env = {"SHEETS_EMULATOR_HOST": emulator().host}
        monkeypatch.setenv("SHEETS_EMULATOR_HOST", emulator().host)  # for this test's reads
    proc, base = serve(location, tmp_path, env)
    try:
        answer = requests.post(
            f"{base}/hooks/generic",
            json={"event_id": "serve-1", "email": "ivy@serve.example", "company": "Serve Co"},
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 60
        emails: list[str] = []
        while time.monotonic() < deadline:
            emails = open_backend(location).read().table(LEADS.name).column("Email")
            if "ivy@serve.example" in emails:
                break
            time.sleep(0.5)
        assert emails.count("ivy@serve.example") == 1
        status = requests.get(
            f"{base}/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ).json()
        assert status["outbox"]["done"] == 1 and status["background"] is True
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"Serving {location}" in err  # a JSON line, like every other


def test_serve_refuses_a_sheet_that_does_not_exist(tmp_path: Path) -> None:
    from sheetcrm.cli import main

    assert main(["serve", "--sheet", str(tmp_path / "none.xlsx"), "--port", "0"]) == 1
