"""The deployment files: app.yaml's own entrypoint starts the service, no secret is in a
committed file, cron calls the task endpoints, and App Engine installs what pyproject says."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import requests

from sheetcrm.backends.workbook import WorkbookBackend
from sheets import free_port, template

ROOT = Path(__file__).resolve().parents[1]


def entrypoint() -> str:
    line = next(
        x for x in (ROOT / "app.yaml").read_text().splitlines() if x.startswith("entrypoint:")
    )
    return line.split(":", 1)[1].strip()


def test_app_yaml_runs_gunicorn_on_python3_and_keeps_secrets_out() -> None:
    text = (ROOT / "app.yaml").read_text()
    assert re.search(r"^runtime: python3\d+$", text, re.M)
    assert entrypoint().startswith("gunicorn ") and "'sheetcrm.web:create_app()'" in entrypoint()
    assert not re.search(r"^\s+SHEETCRM_(TASK_TOKEN|SECRET_\w+|OUTBOX):", text, re.M)
    assert re.search(r"^includes:\n\s+- secret.yaml$", text, re.M)
    assert "/secret.yaml" in (ROOT / ".gitignore").read_text().splitlines()
    example = (ROOT / "secret.example.yaml").read_text()
    assert "SHEETCRM_TASK_TOKEN" in example and "SHEETCRM_OUTBOX" in example


def test_cron_calls_both_tasks() -> None:
    text = (ROOT / "cron.yaml").read_text()
    assert re.findall(r"url: (\S+)", text) == ["/tasks/flush", "/tasks/sync"]


def test_requirements_txt_is_pyproject_plus_the_postgres_driver() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["postgres"]]
    lines = [
        x.strip()
        for x in (ROOT / "requirements.txt").read_text().splitlines()
        if x.strip() and not x.startswith("#")
    ]
    assert sorted(lines) == sorted(re.sub(r"\s*#.*", "", w).strip() for w in wanted)


def test_the_app_yaml_entrypoint_serves(tmp_path: Path) -> None:
    sheet = tmp_path / "crm.xlsx"
    WorkbookBackend(sheet).provision(template())
    port = free_port()
    command = shlex.split(
        entrypoint().replace("$PORT", f"127.0.0.1:{port}").replace("--bind :", "--bind ")
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env={
            **os.environ,
            "SHEETCRM_SHEET": str(sheet),
            "SHEETCRM_BACKGROUND": "0",
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                answer = requests.post(
                    f"http://127.0.0.1:{port}/hooks/generic",
                    json={"email": "ada@deploy.example"},
                    timeout=2,
                )
                break
            except requests.RequestException:
                time.sleep(0.2)
        assert answer.status_code == 202, answer.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "Booting worker" in err
