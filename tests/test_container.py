"""Cloud Run and App Engine run the same service in the same way: the Dockerfile's command is
app.yaml's entrypoint, run as App Engine runs it (``bash -c``), from the files the image
holds, with the dependencies of the hashed lock; and neither upload carries a secret.

Docker itself is not needed: the image's command runs here, from a folder laid out as the
Dockerfile's COPY lines lay out the image."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sheetcrm.backends.workbook import WorkbookBackend
from sheets import ROOT, children, entrypoint, free_port, serving, template


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, (keyword, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, arguments = line.strip().partition(" ")
            found.append((keyword.upper(), " ".join(arguments.split())))
    return found


def only(keyword: str) -> str:
    (arguments,) = [a for k, a in instructions() if k == keyword]
    return arguments


def copies() -> list[tuple[str, str]]:
    """(source in the repository, destination under WORKDIR) of each COPY."""
    found = []
    for keyword, arguments in instructions():
        if keyword == "COPY":
            source, destination = arguments.split()
            found.append((source, destination))
    return found


def test_the_image_command_is_app_yamls_entrypoint_as_app_engine_runs_it() -> None:
    """App Engine hands the entrypoint to ``bash -c``; bash expands $PORT and then becomes
    gunicorn, so a SIGTERM (Cloud Run's stop) reaches gunicorn's master."""
    assert json.loads(only("CMD")) == ["/bin/bash", "-c", entrypoint()]
    assert not [k for k, _ in instructions() if k == "ENTRYPOINT"]


def test_one_python_everywhere() -> None:
    version = (ROOT / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+", version)
    runtime = re.search(r"^runtime: python(\d)(\d+)$", (ROOT / "app.yaml").read_text(), re.M)
    assert runtime and f"{runtime[1]}.{runtime[2]}" == version
    assert re.fullmatch(rf"python:{re.escape(version)}-slim-\w+", only("FROM"))


def test_the_image_installs_the_hashed_lock_and_nothing_else() -> None:
    runs = [a for k, a in instructions() if k == "RUN"]
    assert runs == ["pip install --require-hashes -r requirements.txt"]
    order = [a for k, a in instructions() if k in {"COPY", "RUN"}]
    assert order.index("requirements.txt ./") < order.index(runs[0])


def test_the_build_context_is_only_what_the_image_copies() -> None:
    """.dockerignore lets in nothing but the COPY sources: no secret.yaml, key file or
    local outbox can end up in a layer."""
    rules = [
        x.strip()
        for x in (ROOT / ".dockerignore").read_text().splitlines()
        if x.strip() and not x.startswith("#")
    ]
    assert rules[0] == "*"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    assert allowed == {source.rstrip("/") for source, _ in copies()}


def _image(tmp_path: Path) -> Path:
    """A folder holding what the image's WORKDIR holds."""
    assert only("WORKDIR") == "/app"
    workdir = tmp_path / "app"
    workdir.mkdir()
    for source, destination in copies():
        target = workdir / destination
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / source, target / source if destination.endswith("/") else target)
    return workdir


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads Linux's /proc")
def test_the_image_command_serves_warms_up_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The CMD exactly as Docker runs it, in the image's layout (its own src/, found by the
    command's --pythonpath, nothing from PYTHONPATH), with Cloud Run's PORT."""
    workdir = _image(tmp_path)
    sheet = tmp_path / "crm.xlsx"
    WorkbookBackend(sheet).provision(template())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        "PORT": str(port),
        "SHEETCRM_SHEET": str(sheet),
        "SHEETCRM_BACKGROUND": "1",
    }
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            json.loads(only("CMD")),
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        assert serving(port), log.read_text()
        url = f"http://127.0.0.1:{port}"
        assert requests.get(f"{url}/_ah/warmup", timeout=10).json() == {"ok": True}
        answer = requests.post(f"{url}/hooks/generic", json={"email": "ada@image.example"})
        assert answer.status_code == 202, answer.text
        assert b"gunicorn" in Path(f"/proc/{proc.pid}/cmdline").read_bytes()  # bash is gone
        # two workers and the background process; the master starts the background process
        # once it is ready, which may be just after the first worker answers
        deadline = time.monotonic() + 30
        while len(spawned := children(proc.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(spawned) == 3, spawned
        proc.send_signal(signal.SIGTERM)  # to process 1 alone, as Cloud Run stops it
        assert proc.wait(timeout=30) == 0, log.read_text()
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in spawned):
            assert time.monotonic() < deadline, "a child outlived the master"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _ignored(rules: Path, paths: list[str], tmp_path: Path) -> set[str]:
    """Which of ``paths`` gcloud leaves out by ``rules`` (gitignore syntax, where
    ``#!include:FILE`` stands for FILE's rules), as git reads them, in an empty repository."""
    text = re.sub(
        r"^#!include:(\S+)$",
        lambda m: (rules.parent / m[1]).read_text(),
        rules.read_text(),
        flags=re.M,
    )
    repository = tmp_path / "ignore"
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    (repository / ".git" / "info" / "exclude").write_text(text)
    found = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=repository,
        input="\n".join(paths),
        capture_output=True,
        text=True,
    )
    assert found.returncode in (0, 1), found.stderr
    return set(found.stdout.split())


def test_gcloud_uploads_the_service_and_no_secret(tmp_path: Path) -> None:
    """`gcloud app deploy` and `gcloud run deploy --source .` upload the folder minus
    .gcloudignore's rules. app.yaml's `includes: secret.yaml` is read by gcloud where it runs,
    so the file itself need not, and must not, travel."""
    kept = [
        "app.yaml",
        "Dockerfile",
        ".dockerignore",
        ".python-version",
        "requirements.txt",
        "gunicorn.conf.py",
        "src/sheetcrm/service/web.py",
        "sheet_templates/b2b-en/Leads.csv",
    ]
    left_out = [
        "secret.yaml",
        "secret.example.yaml",
        ".venv/bin/python",
        ".git/config",
        "tests/test_container.py",
        "crm.xlsx",
        "sheetcrm-outbox.sqlite3",
        "sheetcrm-demo.xlsx",
        "src/sheetcrm/__pycache__/cli.cpython-311.pyc",
    ]
    ignored = _ignored(ROOT / ".gcloudignore", kept + left_out, tmp_path)
    assert ignored == set(left_out)
    assert "#!include:.gitignore" in (ROOT / ".gcloudignore").read_text().splitlines()


def test_app_engine_serves_https_only_and_warms_new_instances_up() -> None:
    text = (ROOT / "app.yaml").read_text()
    assert re.search(
        r"^handlers:\n(\s+#.*\n)*\s+- url: /\.\*\n\s+script: auto\n\s+secure: always$", text, re.M
    )
    assert re.search(r"^\s+min_instances: [1-9]", text, re.M)  # what warmups are for
    assert re.search(r"^inbound_services:\n\s+- warmup$", text, re.M)


def test_the_connection_sum_in_docs_deploy_is_app_yamls() -> None:
    """docs/deploy.md tells how many Cloud SQL connections the deployment opens, from the
    entrypoint's workers and threads and the number of instances: it must follow them."""
    words = entrypoint().split()
    workers, threads = (int(words[words.index(flag) + 1]) for flag in ("--workers", "--threads"))
    most = re.search(r"^\s+max_instances: (\d+)", (ROOT / "app.yaml").read_text(), re.M)
    assert most
    instances = int(most[1])
    guide = (ROOT / "docs" / "deploy.md").read_text()
    # a pool per worker thread, the background process's one, and a liveness session for
    # the background process and each worker (intake/liveness.py)
    each = workers * threads + 1 + (1 + workers)
    assert f"= {workers} × {threads} + 1 + {1 + workers} = {each}" in guide
    assert re.search(rf"max instances \({instances} in app.yaml\)\s+= {each * instances}\n", guide)
    assert f"--max-instances={instances}" in guide
