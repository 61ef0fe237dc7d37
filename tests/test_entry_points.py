"""The public doors keep working whatever moves inside: the ``sheetcrm`` command, the old and new
app factories, ``python -m sheetcrm.emulator`` and ``python -m sheetcrm``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests

from sheets import free_port

SRC = Path(__file__).resolve().parents[1] / "src"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )


def test_the_cli_answers_as_a_module_and_lists_its_commands():
    out = _run("-m", "sheetcrm", "--help")
    assert out.returncode == 0, out.stderr
    for command in ("init", "sync", "import", "demo", "serve", "background", "outbox"):
        assert command in out.stdout


def test_both_app_factories_build_the_same_app(tmp_path):
    from sheetcrm.service.web import create_app
    from sheetcrm.web import create_app as old_path

    assert old_path is create_app
    app = old_path({"SHEETCRM_SHEET": str(tmp_path / "crm.xlsx"), "SHEETCRM_BACKGROUND": "0"})
    assert app.test_client().get("/healthz").status_code == 200


def test_the_emulator_runs_as_a_module():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sheetcrm.emulator", "--port", str(port)],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/v4/spreadsheets/nope", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("python -m sheetcrm.emulator did not start")
        assert answer.status_code == 404  # a Google-shaped answer: no such spreadsheet
    finally:
        server.terminate()
        server.wait(timeout=10)
