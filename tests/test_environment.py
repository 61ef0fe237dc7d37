"""The service's configuration and start-up (issue 20): every environment variable declared
once and documented from that declaration, read nowhere else; the setups that lose data
refused; what is open said at start-up and every refused post said with its reason; clear
errors for a placeholder sheet and a missing database driver; a start-up race between two
instances logged as the turn-taking it is."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from sheetcrm.backends.base import LeaseHeldError
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.errors import ConfigError
from sheetcrm.intake.adapters import SOURCES, adapt
from sheetcrm.intake.signatures import secret_variable
from sheetcrm.service import environment, logs
from sheetcrm.service.service_config import ServiceConfig
from sheetcrm.service.tasks import Service
from sheets import ROOT, Gunicorn, app_yaml_command, google_backend, template

SRC = ROOT / "src"
TOKEN = "a-task-token-for-tests"
TYPEFORM_SECRET = "TYPEFORMSECRET-of-the-test"
NAME = re.compile(r"\bSHEETCRM_[A-Z0-9_]*[A-Z0-9]")


def python_files() -> list[Path]:
    return [*sorted(SRC.rglob("*.py")), ROOT / "gunicorn.conf.py"]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    logs.setup()
    handler = next(h for h in logs.logger.handlers if isinstance(h.formatter, logs.JSONLines))
    buffer = io.StringIO()
    stream = handler.setStream(buffer)
    yield buffer
    handler.setStream(stream)


# --- one declaration, one reference page, one way to read ------------------------------------


def test_docs_environment_md_is_generated_from_the_declaration() -> None:
    page = ROOT / "docs" / "environment.md"
    assert page.read_text() == environment.reference(), (
        "docs/environment.md is out of date: "
        "python -m sheetcrm.service.environment > docs/environment.md"
    )
    for variable in environment.ENVIRONMENT:
        assert f"| `{variable.name}` |" in page.read_text()


def test_only_the_declaration_reads_a_sheetcrm_variable() -> None:
    """``env.get("SHEETCRM_X")``, ``os.environ["SHEETCRM_X"]`` or ``getenv`` anywhere else
    would be a second way to read a setting, with its own default and its own parsing."""
    readers = []
    for path in python_files():
        if path.name == "environment.py" and path.parent.name == "service":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args:
                called = node.func.attr if isinstance(node.func, ast.Attribute) else ""
                name = node.args[0]
                if called in ("get", "getenv", "pop") and _sheetcrm_constant(name):
                    readers.append(f"{path.name}:{node.lineno}")
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Load)
                and _sheetcrm_constant(node.slice)
                and _environment(node.value)
            ):
                readers.append(f"{path.name}:{node.lineno}")
    assert readers == []


def _environment(node: ast.AST) -> bool:
    """``os.environ``, ``environ`` or a mapping named ``env`` (the settings passed in)."""
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return name in ("environ", "env", "settings")


def _sheetcrm_constant(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("SHEETCRM_")
    )


def test_every_variable_the_code_and_deploy_files_name_is_declared() -> None:
    declared = {v.name for v in environment.ENVIRONMENT}
    files = [*python_files(), ROOT / "app.yaml", ROOT / "secret.example.yaml"]
    files.remove(SRC / "sheetcrm" / "service" / "environment.py")  # its typos are examples
    named = {(m, f.name) for f in files for m in NAME.findall(f.read_text())}
    # the Apps Script's own properties, which comments mention, and the secrets' prefix
    others = {"SHEETCRM_TOKEN", "SHEETCRM_URL", "SHEETCRM_SECRET"}
    undeclared = {(m, f) for m, f in named if m not in others and not environment.declared(m)}
    assert undeclared == set()
    assert {secret_variable(s) for s in SOURCES} <= declared


def test_secret_example_yaml_lists_every_secret() -> None:
    example = (ROOT / "secret.example.yaml").read_text()
    listed = set(re.findall(r"^\s+(SHEETCRM_\w+):", example, re.M))
    assert {v.name for v in environment.ENVIRONMENT if v.secret} <= listed


def test_a_sheetcrm_name_that_is_not_declared_is_warned_about(log_lines: io.StringIO) -> None:
    env = {"SHEETCRM_SHEET": "crm.xlsx", "SHEETCRM_FLUSH_SECOND": "WRONGVALUE"}
    ServiceConfig.from_env(env).announce(serves=False)
    lines = _lines(log_lines.getvalue())
    (said,) = [line for line in lines if line["severity"] == "WARNING"]
    assert said["variable"] == "SHEETCRM_FLUSH_SECOND"
    assert said["message"].endswith("ignored — did you mean SHEETCRM_FLUSH_SECONDS?")
    assert "WRONGVALUE" not in log_lines.getvalue()


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("SHEETCRM_BACKGROUND", "sometimes", "is neither on nor off"),
        ("SHEETCRM_ALLOW_SQLITE_OUTBOX", "maybe", "is neither on nor off"),
    ],
)
def test_a_value_that_cannot_be_read_is_named(name: str, text: str, said: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}.*{said}"):
        ServiceConfig.from_env({"SHEETCRM_SHEET": "crm.xlsx", name: text})


# --- the setups that lose data ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "where"),
    [
        ({"GAE_ENV": "standard", "GAE_APPLICATION": "s~crm"}, "App Engine"),
        ({"GAE_APPLICATION": "s~crm"}, "App Engine"),
        ({"K_SERVICE": "sheetcrm"}, "Cloud Run"),
    ],
)
def test_a_sqlite_outbox_is_refused_where_the_disk_goes_with_the_instance(
    platform: dict[str, str], where: str, tmp_path: Path
) -> None:
    for outbox in ("", f"sqlite:///{tmp_path / 'outbox.sqlite3'}"):  # the default, or named
        env = {"SHEETCRM_SHEET": str(tmp_path / "crm.xlsx"), "SHEETCRM_OUTBOX": outbox}
        with pytest.raises(ConfigError, match=f"SQLite outbox on {where}") as caught:
            ServiceConfig.from_env({**env, **platform})
        assert "SHEETCRM_OUTBOX" in caught.value.hint and "/cloudsql/" in caught.value.hint
        trial = ServiceConfig.from_env({**env, **platform, "SHEETCRM_ALLOW_SQLITE_OUTBOX": "1"})
        assert trial.platform == where
    cloud_sql = "postgresql+psycopg://crm:pw@/crm?host=/cloudsql/p:r:i"
    config = ServiceConfig.from_env({**env, **platform, "SHEETCRM_OUTBOX": cloud_sql})
    assert config.outbox_url == cloud_sql


def _lines(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.startswith("{")]


def _gunicorn_env(tmp_path: Path, **env: str) -> dict[str, str]:
    sheet = tmp_path / "crm.xlsx"
    WorkbookBackend(sheet).provision(template())
    return {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "SHEETCRM_SHEET": str(sheet),
        "SHEETCRM_TASK_TOKEN": TOKEN,
        "K_SERVICE": "sheetcrm",  # as Cloud Run sets it
        **env,
    }


def test_gunicorn_on_cloud_run_will_not_start_on_a_sqlite_outbox(tmp_path: Path) -> None:
    command = app_yaml_command(0)
    answer = subprocess.run(
        command, env=_gunicorn_env(tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert answer.returncode != 0
    said = [x for x in _lines(answer.stderr) if x["severity"] == "CRITICAL"]
    assert said and said[0]["message"].startswith("sheetcrm cannot start: a SQLite outbox on")
    assert "SHEETCRM_OUTBOX" in said[0]["hint"] and "Cloud SQL" in said[0]["hint"]


def test_the_trial_override_warns_at_every_start_and_says_what_is_open(tmp_path: Path) -> None:
    """gunicorn as app.yaml runs it, on 'Cloud Run' with the override and only Typeform's
    secret: each process warns about the outbox; each worker says which doors are open;
    an unsigned generic post is taken, a Typeform post with a wrong signature is refused and
    logged as a warning with its reason, and no secret is in the log."""
    env = _gunicorn_env(
        tmp_path,
        SHEETCRM_ALLOW_SQLITE_OUTBOX="1",
        SHEETCRM_SECRET_TYPEFORM=TYPEFORM_SECRET,
        SHEETCRM_BACKGROUND="1",
    )
    log = tmp_path / "gunicorn.log"
    with Gunicorn(env, log) as server:
        base = f"http://127.0.0.1:{server.port}"
        open_door = requests.post(f"{base}/hooks/generic", json={"email": "ann@open.example"})
        assert open_door.status_code == 202
        wrong = {"Typeform-Signature": "sha256=bm90IHRoZSByaWdodCBvbmU="}
        refused = requests.post(f"{base}/hooks/typeform", json={"form_response": {}}, headers=wrong)
        assert refused.status_code == 401
        bad_token = {"Authorization": f"Bearer WRONG{TOKEN}"}
        assert requests.get(f"{base}/status", headers=bad_token).status_code == 401
        status = requests.get(f"{base}/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status.status_code == 200
        # the background process starts beside the workers and may not have said its first
        # words yet on a loaded machine: stopping now would leave its warning unwritten
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            started = [x for x in _lines(log.read_text()) if x.get("outbox") == "sqlite"]
            if len(started) >= 3:
                break
            time.sleep(0.2)
    text = log.read_text()
    assert TYPEFORM_SECRET not in text and TOKEN not in text
    lines = _lines(text)
    outbox = [x for x in lines if x.get("outbox") == "sqlite"]
    # each of the 2 workers and the background process (once more if it was started again
    # while the group's SIGTERM stopped everything)
    assert len(outbox) >= 3 and {x["severity"] for x in outbox} == {"WARNING"}
    doors = {(x["source"], x["protection"], x["severity"]) for x in lines if "protection" in x}
    assert doors == {
        ("activity", "open", "WARNING"),  # /hooks/activity: a dialer's touches
        ("generic", "open", "WARNING"),
        ("typeform", "signed", "INFO"),
        ("tally", "open", "WARNING"),
        ("jotform", "open", "WARNING"),
        ("google-forms", "open", "WARNING"),
    }
    requests_ = [x for x in lines if x.get("kind") == "request"]
    hook = next(x for x in requests_ if x["path"] == "/hooks/typeform")
    assert (hook["status"], hook["severity"]) == (401, "WARNING")
    assert hook["refused"] == "Typeform-Signature does not match the body"
    task = next(x for x in requests_ if x["path"] == "/status" and x["status"] == 401)
    assert task["severity"] == "WARNING" and task["refused"] == "missing or wrong bearer token"
    taken = next(x for x in requests_ if x["path"] == "/hooks/generic")
    assert (taken["status"], taken["severity"]) == (202, "INFO") and "refused" not in taken


# --- clear errors instead of wrong guesses or tracebacks ------------------------------------


def _cli(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import sys\n{prelude}\nfrom sheetcrm.cli import main\nsys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_placeholder_sheet_address_is_named_not_taken_for_a_file(tmp_path: Path) -> None:
    shipped = re.search(r'SHEETCRM_SHEET: "([^"]+)"', (ROOT / "app.yaml").read_text())
    assert shipped is not None
    with pytest.raises(ConfigError, match="SHEETCRM_SHEET") as caught:
        ServiceConfig.from_env({"SHEETCRM_SHEET": shipped.group(1)})
    assert "docs.google.com/spreadsheets/d/<ID>" in caught.value.hint
    answer = _cli("sync", "--sheet", "https://docs.google.com/spreadsheets/d/YOUR-SHEET-ID/edit")
    assert answer.returncode == 1 and "Traceback" not in answer.stderr
    assert "without a spreadsheet ID (YOUR-SHEET-ID is the placeholder" in answer.stderr
    bare = _cli("sync", "--sheet", "YOUR-SHEET-ID")
    assert "is neither a Google Sheet nor a workbook" in bare.stderr
    listed = _cli("outbox", "list", "--sheet", shipped.group(1))
    assert listed.returncode == 1 and "without a spreadsheet ID" in listed.stderr


def test_a_postgresql_outbox_without_its_driver_names_the_extra(tmp_path: Path) -> None:
    # None in sys.modules: Python's own way to make an import fail, as when not installed
    url = "postgresql+psycopg://crm:PASSWORD@127.0.0.1:1/crm"
    answer = _cli(
        "outbox",
        "list",
        "--sheet",
        str(tmp_path / "crm.xlsx"),
        "--outbox",
        url,
        prelude="sys.modules['psycopg'] = None",
    )
    assert answer.returncode == 1 and "Traceback" not in answer.stderr, answer.stderr
    assert "needs the database driver psycopg, which is not installed" in answer.stderr
    assert "pip install 'sheetcrm[postgres]'" in answer.stderr
    assert "PASSWORD" not in answer.stderr


# --- two instances starting together ----------------------------------------------------------


def test_a_lease_taken_over_meanwhile_is_a_lease_held() -> None:
    """Two instances read the lease free at the same moment and both take it: the one
    overtaken learns it at its next check, as the turn-taking error, not a failure."""
    first = google_backend()
    second = GoogleBackend(first.location, http=first.http)
    now = datetime.now(UTC)
    first.read()
    second.read()
    with (
        first.lease("first-instance", now),
        second.lease("second-instance", now),
        pytest.raises(LeaseHeldError, match="took over"),
    ):
        first.version()


def test_finding_the_sheet_taken_by_another_instance_is_logged_as_info(
    tmp_path: Path, log_lines: io.StringIO
) -> None:
    sheet = google_backend()
    other = GoogleBackend(sheet.location, http=sheet.http)
    config = ServiceConfig(sheet.location, f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    service = Service(config, opener=lambda _: GoogleBackend(sheet.location, http=sheet.http))
    lead = adapt("generic", {"event_id": "race-1", "email": "ann@race.example"})
    service.outbox.put("generic:race-1", "generic", lead.to_json(), 0.0)
    other.read()
    try:
        with other.lease("other-host:1:instance", datetime.now(UTC)):
            assert not service.sync()["ok"]
            assert service.flush().waiting == 1
    finally:
        service.stop()
    lines = _lines(log_lines.getvalue())
    sync = next(x for x in lines if x.get("kind") == "sync")
    flush = next(x for x in lines if x.get("kind") == "flush")
    assert sync["severity"] == flush["severity"] == "INFO"
    assert sync["message"] == "sync skipped: another instance is syncing this sheet"
    assert "other-host:1:instance" in sync["busy"] and "run the sync again" not in sync["busy"]
    assert flush["busy"] is True
