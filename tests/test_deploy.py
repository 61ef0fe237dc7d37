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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
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


@contextmanager
def running_entrypoint(tmp_path: Path, **env: str) -> Iterator[tuple[subprocess.Popen, int]]:
    """app.yaml's entrypoint on a free loopback port, serving a fresh workbook."""
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
            **env,
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
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield proc, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)


def test_the_app_yaml_entrypoint_serves(tmp_path: Path) -> None:
    with running_entrypoint(tmp_path) as (_proc, port):
        answer = requests.post(
            f"http://127.0.0.1:{port}/hooks/generic", json={"email": "ada@deploy.example"}
        )
        assert answer.status_code == 202, answer.text


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _listening(pid: int, port: int) -> set[int]:
    """The inodes of the TCP sockets listening on ``port`` that process ``pid`` holds."""
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
            listening.add(int(fields[9]))
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(int(target[8:-1]))
    return listening & held


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
def test_each_worker_listens_on_its_own_socket(tmp_path: Path) -> None:
    """--reuse-port: each gunicorn worker has its own listening socket, so the kernel spreads
    new connections evenly between them. With one shared socket, whichever worker wakes
    first takes the connection, and under keep-alive load one worker could end up with all
    of them: half the CPU idle (measured in bench/intake.py: 700/s on one worker, 992/s on
    two)."""
    with running_entrypoint(tmp_path) as (proc, port):
        deadline = time.monotonic() + 30
        while len(workers := _children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        sockets = [_listening(pid, port) for pid in workers]
        assert len(workers) == 2 and all(len(s) == 1 for s in sockets), sockets
        assert sockets[0] != sockets[1]
