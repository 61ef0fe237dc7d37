"""Every line the service writes, in every server mode, is a JSON line and names no secret:
``sheetcrm serve`` (werkzeug printed its own access line, query string and all:
``POST /hooks/jotform?token=<secret>``) and gunicorn as app.yaml runs it, with its
background process. Posts carry the secrets in ``?token=``, in a bearer header, and in a
request line too broken to parse."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.service.logs import redact
from sheets import Gunicorn, free_port, serving, template

SECRET = "SECRETVALUE-of-the-forms"
TASK_TOKEN = "TASKSECRETVALUE-0123456789"
HIDDEN = ("SECRETVALUE", "WRONGVALUE")


def _environment(tmp_path: Path, **env: str) -> dict[str, str]:
    sheet = tmp_path / "crm.xlsx"
    WorkbookBackend(sheet).provision(template())
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "SHEETCRM_SHEET": str(sheet),
        "SHEETCRM_OUTBOX": f"sqlite:///{tmp_path / 'outbox.sqlite3'}",
        "SHEETCRM_SECRET_JOTFORM": SECRET,
        "SHEETCRM_SECRET_GENERIC": SECRET,
        "SHEETCRM_TASK_TOKEN": TASK_TOKEN,
        "SHEETCRM_FLUSH_SECONDS": "1",
        **env,
    }


def _raw(port: int, request: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        while sock.recv(65536):
            pass


def _post_secrets(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    lead = {"email": "ann@logs.example", "company": "Logs Co"}
    for token in (SECRET, "WRONGVALUE"):
        requests.post(f"{base}/hooks/jotform?token={token}", data={"q3_email": "a@b.c"})
        requests.post(f"{base}/hooks/generic?token={token}&x=1", json=lead)
        bearer = {"Authorization": f"Bearer {token}"}
        requests.post(f"{base}/hooks/generic", json=lead, headers=bearer)
        requests.post(f"{base}/hooks/nosuch?token={token}", json=lead, headers=bearer)
    for token in (TASK_TOKEN, "WRONGVALUE"):
        requests.get(f"{base}/status?token={token}", headers={"Authorization": f"Bearer {token}"})
    requests.post(f"{base}/tasks/flush", headers={"Authorization": f"Bearer {TASK_TOKEN}"})
    _raw(port, f"POST /hooks/jotform?token={SECRET} HTTP/1.1 junk\r\n\r\n".encode())
    _raw(port, f"GET /hooks/x?token={SECRET}\r\n\r\n".encode())


def _check(output: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "no output at all"
    for line in lines:
        for secret in (*HIDDEN, TASK_TOKEN):
            assert secret not in line, line
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(entry, dict) and entry["severity"] and "message" in entry, line


def test_sheetcrm_serve_writes_json_lines_without_secrets(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "sheetcrm.cli", "serve", "--sheet", env["SHEETCRM_SHEET"]]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--outbox", env["SHEETCRM_OUTBOX"]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serving(port), "sheetcrm serve did not start"
        _post_secrets(port)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    _check(out + err)
    assert '"status": 202' in err  # the app's own request lines are there


def test_gunicorn_writes_json_lines_without_secrets(tmp_path: Path) -> None:
    log = tmp_path / "gunicorn.log"  # the helper sends stdout and stderr there
    with Gunicorn(_environment(tmp_path, SHEETCRM_BACKGROUND="1"), log) as server:
        _post_secrets(server.port)
        # the background process starts beside the workers, in its own time: stopping the
        # server before it has said so would test the race, not the log lines
        deadline = time.monotonic() + 30
        while "background work started" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    _check(log.read_text())
    text = log.read_text()
    assert "background work started" in text and '"status": 202' in text


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("Invalid HTTP request line: 'GET /hooks/x?token=S3CRET&a=1 HTTP/1.1 junk'", "/hooks/x?"),
        ("Error handling request POST /hooks/jotform?token=S3CRET", "POST /hooks/jotform?"),
        ("Invalid HTTP Header: 'Authorization: Bearer S3CRET'", "Bearer "),
        ("Worker (pid:7) was sent SIGKILL! Perhaps out of memory?", "memory?"),
    ],
)
def test_servers_lines_lose_query_strings_and_tokens(line: str, kept: str) -> None:
    assert "S3CRET" not in redact(line) and kept in redact(line)
