"""The deployment files: app.yaml's own entrypoint starts the service, no secret is in a
committed file, and cron calls the task endpoints. (What is installed: test_locks.py; the
container: test_container.py.)"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.engine.schema import LEADS
from sheetcrm.intake.outbox import DONE, Outbox
from sheetcrm.service.background import NICE
from sheets import ROOT, Gunicorn, background, children, entrypoint, template


def test_app_yaml_runs_gunicorn_on_python3_and_keeps_secrets_out() -> None:
    text = (ROOT / "app.yaml").read_text()
    assert re.search(r"^runtime: python3\d+$", text, re.M)
    assert (
        entrypoint().startswith("gunicorn ")
        and "'sheetcrm.service.web:create_app()'" in entrypoint()
    )
    assert not re.search(r"^\s+SHEETCRM_(TASK_TOKEN|SECRET_\w+|OUTBOX):", text, re.M)
    assert re.search(r"^includes:\n\s+- secret.yaml$", text, re.M)
    assert "/secret.yaml" in (ROOT / ".gitignore").read_text().splitlines()
    example = (ROOT / "secret.example.yaml").read_text()
    assert "SHEETCRM_TASK_TOKEN" in example and "SHEETCRM_OUTBOX" in example


def test_cron_calls_both_tasks() -> None:
    text = (ROOT / "cron.yaml").read_text()
    assert re.findall(r"url: (\S+)", text) == ["/tasks/flush", "/tasks/sync"]


@contextmanager
def running_entrypoint(tmp_path: Path, **env: str) -> Iterator[tuple[subprocess.Popen, int]]:
    """app.yaml's entrypoint on a free loopback port, serving a fresh workbook."""
    sheet = tmp_path / "crm.xlsx"
    WorkbookBackend(sheet).provision(template())
    environment = {
        **os.environ,
        "SHEETCRM_SHEET": str(sheet),
        "SHEETCRM_BACKGROUND": "0",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        **env,
    }
    with Gunicorn(environment, tmp_path / "gunicorn.log") as service:
        assert service.proc is not None
        yield service.proc, service.port


def test_the_app_yaml_entrypoint_serves(tmp_path: Path) -> None:
    with running_entrypoint(tmp_path) as (_proc, port):
        answer = requests.post(
            f"http://127.0.0.1:{port}/hooks/generic", json={"email": "ada@deploy.example"}
        )
        assert answer.status_code == 202, answer.text


def _workers(master: int) -> list[int]:
    return [pid for pid in children(master) if pid not in background(master)]


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
        while len(workers := _workers(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        sockets = [_listening(pid, port) for pid in workers]
        assert len(workers) == 2 and all(len(s) == 1 for s in sockets), sockets
        assert sockets[0] != sockets[1]


def _until(found: Callable[[], object], seconds: float = 30) -> object:
    deadline = time.monotonic() + seconds
    while not (result := found()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert result, f"not within {seconds} s"
    return result


def _status(port: int) -> dict:
    answer = requests.get(
        f"http://127.0.0.1:{port}/status", headers={"Authorization": "Bearer deploy-task-t0ken"}
    )
    return dict(answer.json())


def _started(log: Path) -> set[int]:
    """The processes that logged starting the background work: a thread or a process."""
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    return {x["pid"] for x in lines if x["message"] == "background work started"}


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


def _nice(pid: int) -> int:
    """Its niceness: field 19 of /proc/PID/stat (proc(5)), the 17th after the name's ")"."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads Linux's /proc")
def test_gunicorn_keeps_one_background_process_beside_its_workers(tmp_path: Path) -> None:
    """gunicorn.conf.py: the flushes and syncs run in one process of their own, not in the
    workers that answer webhooks, below their priority (issue 21: under a burst the kernel
    gives the webhooks the CPU first, the flushes the rest); it is started again if it dies,
    and does not outlive a master killed with SIGKILL."""
    outbox = Outbox(f"sqlite:///{tmp_path / 'crm.outbox.sqlite3'}")
    env = {
        "SHEETCRM_BACKGROUND": "1",
        "SHEETCRM_FLUSH_SECONDS": "1",
        "SHEETCRM_TASK_TOKEN": "deploy-task-t0ken",
    }

    def post(email: str) -> str:
        answer = requests.post(f"http://127.0.0.1:{port}/hooks/generic", json={"email": email})
        assert answer.status_code == 202, answer.text
        return str(answer.json()["key"])

    def in_sheet(key: str) -> bool:
        return any(e.key == key for e in outbox.entries(DONE))

    with running_entrypoint(tmp_path, **env) as (proc, port):
        first = _until(lambda: background(proc.pid))
        assert isinstance(first, list) and len(first) == 1
        # /status in a worker says so too, though the work runs beside it, not in it
        _until(lambda: _status(port)["background"] is True)
        key = post("ada@deploy.example")
        _until(lambda: in_sheet(key))
        assert _started(tmp_path / "gunicorn.log") == set(first)  # no worker runs a thread
        workers = _workers(proc.pid)
        assert workers and {_nice(w) for w in workers} == {_nice(proc.pid)}
        assert _nice(first[0]) == min(19, _nice(proc.pid) + NICE)

        os.kill(first[0], signal.SIGKILL)
        second = _until(lambda: [p for p in background(proc.pid) if p != first[0]])
        assert isinstance(second, list) and len(second) == 1
        key = post("grace@deploy.example")
        _until(lambda: in_sheet(key))
        assert _nice(second[0]) == min(19, _nice(proc.pid) + NICE)  # started again: niced again
        leads = WorkbookBackend(tmp_path / "crm.xlsx").read().table(LEADS.name)
        assert sum(1 for k in leads.column("Submission ID") if k.startswith("generic:")) == 2

        os.kill(proc.pid, signal.SIGKILL)  # the master alone
        _until(lambda: not _alive(second[0]), seconds=15)
    outbox.close()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads Linux's /proc")
def test_stopping_gunicorn_stops_its_background_process(tmp_path: Path) -> None:
    with running_entrypoint(tmp_path, SHEETCRM_BACKGROUND="1") as (proc, _port):
        (pid,) = _until(lambda: background(proc.pid))  # type: ignore[misc]
        _until(lambda: "background work started" in (tmp_path / "gunicorn.log").read_text())
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        assert not _alive(pid)
    assert "background work stopped" in (tmp_path / "gunicorn.log").read_text()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads Linux's /proc")
def test_a_reload_keeps_one_background_process(tmp_path: Path) -> None:
    """SIGHUP: gunicorn reads gunicorn.conf.py afresh and replaces its workers; the
    background process goes on, alone, and the new workers start no thread of their own."""
    env = {"SHEETCRM_BACKGROUND": "1", "SHEETCRM_TASK_TOKEN": "deploy-task-t0ken"}
    with running_entrypoint(tmp_path, **env) as (proc, port):
        (first,) = _until(lambda: background(proc.pid))  # type: ignore[misc]
        # started, and holding its lock (it takes it once its imports are done: seconds,
        # on a busy machine), before the reload whose effect on it is the question
        _until(lambda: _status(port)["background"] is True)
        old = set(_workers(proc.pid))
        os.kill(proc.pid, signal.SIGHUP)
        _until(lambda: len(set(_workers(proc.pid)) - old) == 2)
        _until(lambda: not set(_workers(proc.pid)) & old)
        assert _status(port)["background"] is True
        assert background(proc.pid) == [first]
        assert _started(tmp_path / "gunicorn.log") == {first}
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        assert not _alive(first)
    assert "background work stopped" in (tmp_path / "gunicorn.log").read_text()
