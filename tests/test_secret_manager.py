"""Settings that name Secret Manager secrets (App Engine's way to keep secrets out of the
deployed version): read from a local stand-in that answers as the real API does, refused with
a clear message when they cannot be read, and resolved before gunicorn starts anything."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession

from sheetcrm.errors import ConfigError
from sheetcrm.service.secret_manager import resolve
from sheetcrm.service.web import create_app
from sheets import ROOT, app_yaml_command, free_port

TOKEN = "a-task-token-of-32-characters-xx"
OUTBOX = "postgresql+psycopg://sheetcrm:p%40ss@/sheetcrm?host=/cloudsql/p:r:i"
SECRETS = {"task-token": TOKEN + "\n", "outbox": OUTBOX}  # `echo` leaves a newline
FORBIDDEN = {"payroll"}


class SecretManager(BaseHTTPRequestHandler):
    """``GET /v1/projects/*/secrets/*/versions/*:access`` as Secret Manager answers it."""

    requests: ClassVar[list[str]] = []
    failures_left = 0

    def do_GET(self) -> None:
        SecretManager.requests.append(self.path)
        name = self.path.removeprefix("/v1/").removesuffix(":access")
        secret = name.split("/")[3]
        if SecretManager.failures_left:
            SecretManager.failures_left -= 1
            self._answer(503, _error(503, "The service is currently unavailable.", "UNAVAILABLE"))
        elif secret in FORBIDDEN:
            message = f"Permission 'secretmanager.versions.access' denied for resource '{name}'"
            self._answer(403, _error(403, message, "PERMISSION_DENIED"))
        elif secret not in SECRETS:
            message = f"Secret [{name.rsplit('/versions', 1)[0]}] not found or has no versions."
            self._answer(404, _error(404, message, "NOT_FOUND"))
        else:
            data = base64.b64encode(SECRETS[secret].encode()).decode()
            self._answer(200, {"name": name, "payload": {"data": data, "dataCrc32c": "0"}})

    def _answer(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


def _error(code: int, message: str, status: str) -> dict:
    return {"error": {"code": code, "message": message, "status": status}}


@pytest.fixture
def endpoint() -> Iterator[str]:
    SecretManager.requests, SecretManager.failures_left = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), SecretManager)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def session() -> AuthorizedSession:
    return AuthorizedSession(AnonymousCredentials())  # type: ignore[no-untyped-call]


def ref(secret: str) -> str:
    return f"secretmanager:projects/my-project/secrets/{secret}/versions/latest"


def test_references_are_replaced_by_the_secrets_values(endpoint: str) -> None:
    env = {
        "SHEETCRM_SHEET": "crm.xlsx",
        "SHEETCRM_TASK_TOKEN": ref("task-token"),
        "SHEETCRM_OUTBOX": ref("outbox"),
        "OTHER": ref("payroll"),  # not ours: left alone
    }
    assert resolve(env, session(), endpoint) == {
        "SHEETCRM_TASK_TOKEN": TOKEN,
        "SHEETCRM_OUTBOX": OUTBOX,
    }
    assert sorted(SecretManager.requests) == [
        "/v1/projects/my-project/secrets/outbox/versions/latest:access",
        "/v1/projects/my-project/secrets/task-token/versions/latest:access",
    ]


def test_without_references_nothing_is_asked_and_no_credentials_are_needed() -> None:
    assert resolve({"SHEETCRM_SHEET": "crm.xlsx", "SHEETCRM_TASK_TOKEN": TOKEN}) == {}


@pytest.mark.parametrize(
    ("secret", "said", "hint"),
    [
        ("payroll", "answered 403", "roles/secretmanager.secretAccessor"),
        ("missing", "answered 404", "that the version exists"),
    ],
)
def test_a_secret_that_cannot_be_read_stops_the_start(
    endpoint: str, secret: str, said: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        resolve({"SHEETCRM_SECRET_TALLY": ref(secret)}, session(), endpoint)
    assert refused.value.message.startswith(
        f"SHEETCRM_SECRET_TALLY: the secret projects/my-project/secrets/{secret}"
    )
    assert said in refused.value.message and hint in refused.value.hint


def test_a_brief_outage_is_waited_out(endpoint: str) -> None:
    SecretManager.failures_left = 1
    assert resolve({"SHEETCRM_TASK_TOKEN": ref("task-token")}, session(), endpoint) == {
        "SHEETCRM_TASK_TOKEN": TOKEN
    }
    assert len(SecretManager.requests) == 2


def test_a_malformed_reference_is_refused_before_anything_is_asked(endpoint: str) -> None:
    with pytest.raises(ConfigError, match="does not name a secret version"):
        resolve({"SHEETCRM_TASK_TOKEN": "secretmanager:task-token"}, session(), endpoint)
    assert SecretManager.requests == []


def test_the_app_never_takes_a_reference_for_the_secret(tmp_path: Path) -> None:
    """Started some other way than through gunicorn.conf.py, the app reads the references
    itself: the reference (public: it sits in secret.yaml) is never the task token."""
    with pytest.raises(ConfigError, match="SHEETCRM_TASK_TOKEN='secretmanager:sheetcrm-token"):
        create_app(
            {
                "SHEETCRM_SHEET": str(tmp_path / "crm.xlsx"),
                "SHEETCRM_TASK_TOKEN": "secretmanager:sheetcrm-token-for-tasks",
            }
        )


def test_gunicorn_resolves_them_before_starting_anything(tmp_path: Path) -> None:
    """In the master, before the workers and the background process: a reference that
    cannot be read stops gunicorn at once with the reason, and no worker boots."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "SHEETCRM_SHEET": str(tmp_path / "crm.xlsx"),
        "SHEETCRM_OUTBOX": "secretmanager:projects/p/secrets/outbox",  # no version
    }
    ran = subprocess.run(
        app_yaml_command(free_port()),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 1
    assert "cannot start: SHEETCRM_OUTBOX=" in ran.stderr
    assert "does not name a secret version" in ran.stderr
    assert "Booting worker" not in ran.stderr
