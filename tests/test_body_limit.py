"""SHEETCRM_MAX_BODY_BYTES holds with or without a Content-Length: a chunked body over the
limit gets 413 and stores nothing, through Flask's test client, gunicorn as app.yaml runs it,
and ``sheetcrm serve``. (Werkzeug reads a chunked body up to the limit and used to hand on
what it had read as the whole body: 202 for a form cut mid-field.)"""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from sheetcrm.errors import ConfigError
from sheetcrm.intake.outbox import Outbox
from sheetcrm.service.environment import MAX_BODY_LIMIT
from sheetcrm.service.service_config import ServiceConfig
from sheetcrm.service.web import create_app
from sheets import Gunicorn, free_port, serving

FORM = "application/x-www-form-urlencoded"


def form_body(size: int) -> bytes:
    """A form post of exactly ``size`` bytes whose last field comes after the padding."""
    head, tail = b"email=ann%40big.example&notes=", b"&company=LastField"
    return head + b"x" * (size - len(head) - len(tail)) + tail


def json_body(size: int) -> bytes:
    head, tail = b'{"email": "ann@big.example", "notes": "', b'", "company": "LastField"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@pytest.fixture
def app(sheet: Path) -> Iterator[Flask]:
    app = create_app({"SHEETCRM_SHEET": str(sheet), "SHEETCRM_BACKGROUND": "0"})
    yield app
    app.extensions["sheetcrm"].stop()


def _chunked(app: Flask, body: bytes, content_type: str) -> tuple[int, dict]:
    """As a WSGI server hands on a chunked body: no CONTENT_LENGTH, the stream ends itself."""
    answer = app.test_client().post(
        "/hooks/generic",
        input_stream=io.BytesIO(body),
        content_type=content_type,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    return answer.status_code, answer.json


def _pending(app: Flask) -> int:
    pending: int = app.extensions["sheetcrm"].outbox.stats(0)["pending"]
    return pending


@pytest.mark.parametrize("kind", ["form", "json"])
@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_a_body_over_the_limit_is_413_and_stores_nothing(
    app: Flask, kind: str, chunked: bool
) -> None:
    limit = 1024 * 1024
    make, content_type = (form_body, FORM) if kind == "form" else (json_body, "application/json")
    for size in (limit + 1, limit + 100_000):
        if chunked:
            status, answer = _chunked(app, make(size), content_type)
        else:
            client = app.test_client()
            reply = client.post("/hooks/generic", data=make(size), content_type=content_type)
            status, answer = reply.status_code, reply.json
        assert status == 413, answer
        assert str(limit) in answer["hint"] and "SHEETCRM_MAX_BODY_BYTES" in answer["hint"]
    assert _pending(app) == 0


@pytest.mark.parametrize("kind", ["form", "json"])
def test_a_chunked_body_at_the_limit_is_taken_whole(app: Flask, kind: str) -> None:
    make, content_type = (form_body, FORM) if kind == "form" else (json_body, "application/json")
    status, answer = _chunked(app, make(1024 * 1024), content_type)
    assert status == 202, answer
    (entry,) = app.extensions["sheetcrm"].outbox.entries("pending", 10)
    assert "LastField" in entry.body


def test_the_limit_has_an_upper_bound(sheet: Path) -> None:
    env = {"SHEETCRM_SHEET": str(sheet)}
    assert ServiceConfig.from_env({**env, "SHEETCRM_MAX_BODY_BYTES": str(MAX_BODY_LIMIT)})
    with pytest.raises(ConfigError) as refused:
        ServiceConfig.from_env({**env, "SHEETCRM_MAX_BODY_BYTES": str(MAX_BODY_LIMIT + 1)})
    assert "SHEETCRM_MAX_BODY_BYTES" in str(refused.value) and str(MAX_BODY_LIMIT) in str(
        refused.value
    )


# -- real servers, real chunked requests ------------------------------------------------------

LIMIT = 4096  # small, so that a body over it fits in the sockets' buffers whatever the server


def post_chunked(port: int, body: bytes, content_type: str) -> tuple[int, dict]:
    """A chunked POST through http.client: an iterable body has no length, so it is sent with
    Transfer-Encoding: chunked, in chunks of 1,000 bytes."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        chunks = (body[i : i + 1000] for i in range(0, len(body), 1000))
        connection.request(
            "POST", "/hooks/generic", body=chunks, headers={"Content-Type": content_type}
        )
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        connection.close()


def _check_real_server(port: int, outbox: str) -> None:
    for make, content_type in ((form_body, FORM), (json_body, "application/json")):
        for size in (LIMIT + 1, 3 * LIMIT):
            status, answer = post_chunked(port, make(size), content_type)
            assert status == 413, answer
            assert answer["error"] and f"{LIMIT} bytes" in answer["hint"]
    stats = Outbox(outbox).stats(0)
    assert (stats["pending"], stats["done"], stats["dead"]) == (0, 0, 0)
    status, answer = post_chunked(port, form_body(LIMIT), FORM)
    assert status == 202, answer  # at the limit: whole, and taken


def _environment(sheet: Path, outbox: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "SHEETCRM_SHEET": str(sheet),
        "SHEETCRM_OUTBOX": outbox,
        "SHEETCRM_BACKGROUND": "0",
        "SHEETCRM_MAX_BODY_BYTES": str(LIMIT),
    }


def test_gunicorn_answers_a_chunked_body_over_the_limit_with_413(
    sheet: Path, tmp_path: Path
) -> None:
    outbox = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    with Gunicorn(_environment(sheet, outbox), tmp_path / "gunicorn.log") as server:
        _check_real_server(server.port, outbox)


def test_sheetcrm_serve_answers_a_chunked_body_over_the_limit_with_413(
    sheet: Path, tmp_path: Path
) -> None:
    outbox = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    port = free_port()
    command = [sys.executable, "-m", "sheetcrm.cli", "serve", "--sheet", str(sheet)]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--outbox", outbox],
        env=_environment(sheet, outbox),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert serving(port), "sheetcrm serve did not start"
        _check_real_server(port, outbox)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
