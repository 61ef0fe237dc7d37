"""Fuzzing the web service (issue 4): never a 5xx, whatever a client sends.

Two parts, both in-process on a real workbook and a real SQLite outbox:

- **schemathesis** generates requests from the service's own OpenAPI description (served at
  /openapi.json), valid and invalid, for every operation, with and without the bearer
  token, and checks each answer against the description: no 5xx, a documented status code,
  a documented content type, a body of the documented schema.
- **Hypothesis** posts what the description cannot express to every /hooks/<source>:
  arbitrary bytes, arbitrary JSON, arbitrary form fields, under arbitrary content types,
  signed, wrongly signed or unsigned, with and without a configured secret. A 4xx is
  always a JSON body with "error", and the outbox grows only on a 2xx. The same posts,
  with a Content-Length or chunked, against a small SHEETCRM_MAX_BODY_BYTES: 413 over it.

schemathesis' pytest plugin (``schema.parametrize()``) does not run under pytest 9.2 (it
sets ``request.node._nodeid``, which pytest no longer has), so the tests draw cases from
each operation's Hypothesis strategy themselves: the same generation and the same checks.

Deterministic for CI: derandomized, no example database, a bounded number of examples.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks
from werkzeug.test import encode_multipart

from sheetcrm.backends.workbook import WorkbookBackend
from sheetcrm.intake.adapters import SOURCES
from sheetcrm.intake.signatures import secret_variable
from sheetcrm.service.openapi import openapi
from sheetcrm.service.tasks import Service
from sheetcrm.service.web import create_app
from sheets import template

TOKEN = "fuzz-task-token-16"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SECRETS = {source: f"secret-for-{source}" for source in SOURCES}


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.negative_data_rejection,
]
OPERATIONS = [
    result.ok() for result in schemathesis.openapi.from_dict(openapi()).get_all_operations()
]
# a sync or flush of the workbook takes about 0.1 s: fewer examples there
EXAMPLES = {"/tasks/sync": 8, "/tasks/flush": 15}


@pytest.fixture(scope="module")
def blank_sheet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "crm.xlsx"
    WorkbookBackend(path).provision(template())
    return path


def start(blank_sheet: Path, folder: Path, **env: str) -> Flask:
    sheet = folder / "crm.xlsx"
    shutil.copy(blank_sheet, sheet)
    return create_app(
        {
            "SHEETCRM_SHEET": str(sheet),
            "SHEETCRM_TASK_TOKEN": TOKEN,
            "SHEETCRM_BACKGROUND": "0",
            **env,
        }
    )


def service(app: Flask) -> Service:
    svc: Service = app.extensions["sheetcrm"]
    return svc


@pytest.fixture
def app(blank_sheet: Path, tmp_path: Path) -> Iterator[Flask]:
    app = start(
        blank_sheet,
        tmp_path,
        SHEETCRM_SECRET_TYPEFORM=SECRETS["typeform"],
        SHEETCRM_UNSUBSCRIBE_SECRET="fuzz-unsubscribe-secret",
    )
    yield app
    service(app).stop()


# --- schemathesis: every operation against its description ---------------------------------


def test_the_served_description_is_the_one_fuzzed(app: Flask) -> None:
    answer = app.test_client().get("/openapi.json")
    assert answer.status_code == 200 and answer.json == openapi()
    labels = {op.label for op in OPERATIONS}
    assert (
        "GET /openapi.json" in labels and len(labels) == 12
    )  # and /unsubscribe/{token}: GET, POST


def _has_inputs(label: str) -> bool:
    operation = next(op for op in OPERATIONS if op.label == label)
    return bool(list(operation.iter_parameters())) or bool(list(operation.body))


@pytest.mark.parametrize(
    "mode",
    [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    ids=["valid", "invalid"],
)
@pytest.mark.parametrize("bearer", [True, False], ids=["token", "no-token"])
@pytest.mark.parametrize("label", [op.label for op in OPERATIONS])
def test_every_operation_answers_as_documented(
    app: Flask, label: str, bearer: bool, mode: GenerationMode
) -> None:
    if mode is GenerationMode.NEGATIVE and not _has_inputs(label):
        pytest.skip("nothing to make invalid: the operation takes no input")
    operation = next(op for op in OPERATIONS if op.label == label)
    headers = BEARER if bearer else {}
    examples = EXAMPLES.get(operation.path, 60) if bearer else 30

    @fuzz(examples)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call(app=app, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def test_undocumented_methods_are_405_with_allow(app: Flask) -> None:
    """What the description leaves out: any other method is a JSON 405 that names, in its
    Allow header, the methods the path takes."""
    client = app.test_client()
    paths = openapi()["paths"]
    for path, operations in paths.items():
        url = path.replace("{source}", "generic").replace("{token}", "not-a-token")
        documented = {m.upper() for m in operations}
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method in documented:
                continue
            answer = client.open(url, method=method, headers=BEARER)
            assert answer.status_code == 405, (method, url)
            assert answer.is_json and answer.json["error"]
            allowed = {m.strip() for m in answer.headers.get("Allow", "").split(",")}
            assert documented <= allowed <= documented | {"HEAD", "OPTIONS"}, (method, url)


# --- Hypothesis: whatever is posted to a webhook -----------------------------------------


def _sign(source: str, body: bytes, headers: dict[str, str]) -> None:
    secret = SECRETS[source].encode()
    digest = hmac.new(secret, body, hashlib.sha256).digest()
    if source == "typeform":
        headers["Typeform-Signature"] = "sha256=" + base64.b64encode(digest).decode()
    elif source == "tally":
        headers["Tally-Signature"] = base64.b64encode(digest).decode()
    else:
        headers["X-Signature"] = "sha256=" + digest.hex()


# JSON text may carry what UTF-8 cannot: lone surrogates ("\ud800"), escaped
surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)
keys = st.text(max_size=12) | surrogates
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | surrogates
    | st.sampled_from(["a@b.co", "+33 6 12 34 56 78", "SaaS", "2024-02-30", "x" * 300]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=20,
)
# shapes the adapters look for, so that generation reaches past "not a Typeform post"
vendor_shapes = st.fixed_dictionaries(
    {},
    optional={
        "event_id": json_values,
        "form_response": st.fixed_dictionaries(
            {}, optional={"token": json_values, "answers": json_values, "definition": json_values}
        ),
        "data": st.fixed_dictionaries(
            {}, optional={"fields": json_values, "responseId": json_values}
        ),
        "rawRequest": json_values.map(json.dumps) | json_values,
        "namedValues": st.dictionaries(keys, json_values, max_size=4),
        "email": json_values,
    },
)
field_names = st.text(max_size=15)
form_fields = st.lists(st.tuples(field_names, st.text(max_size=30)), max_size=6)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json",
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.typeform+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/xml",
        "",
    ]
) | st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=30)
header_text = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=60)


@st.composite
def posts(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    """(source, body, headers): the body and its content type drawn independently, so that
    JSON arrives as a form and a form as JSON as often as each as itself."""
    source = draw(st.sampled_from([*SOURCES, "GENERIC", "nosuch"]))
    kind = draw(st.sampled_from(["bytes", "json", "vendor", "urlencoded", "multipart"]))
    headers: dict[str, str] = {}
    if kind == "bytes":
        body = draw(st.binary(max_size=300))
    elif kind in ("json", "vendor"):
        value = draw(json_values if kind == "json" else vendor_shapes)
        escaped = draw(st.booleans())  # else lone surrogates make the body invalid UTF-8
        body = json.dumps(value, ensure_ascii=escaped).encode("utf-8", "surrogatepass")
    elif kind == "urlencoded":
        body = urllib.parse.urlencode(draw(form_fields)).encode()
    else:
        boundary, body = encode_multipart(dict(draw(form_fields)), boundary="fuzz-boundary")
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    if kind in ("json", "vendor") and draw(st.integers(0, 3)):
        headers["Content-Type"] = "application/json"
    elif "Content-Type" not in headers or draw(st.booleans()):
        content_type = draw(content_types)
        if content_type:
            headers["Content-Type"] = content_type
        else:
            headers.pop("Content-Type", None)
    signing = draw(st.sampled_from(["signed", "unsigned", "garbage"]))
    if signing == "signed" and source.lower() in SECRETS:
        _sign(source.lower(), body, headers)
    elif signing == "garbage":
        for name in draw(
            st.lists(
                st.sampled_from(
                    ["Typeform-Signature", "Tally-Signature", "X-Signature", "Authorization"]
                ),
                max_size=2,
            )
        ):
            headers[name] = draw(header_text)
    return source, body, headers


def _stored(app: Flask) -> int:
    stats = service(app).outbox.stats(0)
    return int(stats["pending"] + stats["done"] + stats["dead"])


@pytest.mark.parametrize("secrets", [False, True], ids=["no-secret", "secret"])
def test_whatever_is_posted_to_a_hook_is_answered_cleanly(
    blank_sheet: Path, tmp_path: Path, secrets: bool
) -> None:
    env = {secret_variable(s): v for s, v in SECRETS.items()} if secrets else {}
    app = start(blank_sheet, tmp_path, **env)
    client = app.test_client()
    try:

        @fuzz(500)
        @given(post=posts())
        def run(post: tuple[str, bytes, dict[str, str]]) -> None:
            source, body, headers = post
            before = _stored(app)
            answer = client.post(f"/hooks/{source}", data=body, headers=headers)
            assert answer.status_code < 500, answer.get_data(as_text=True)[:500]
            assert answer.is_json, answer.get_data(as_text=True)[:500]
            grown = _stored(app) - before
            if answer.status_code == 202:
                assert grown == 1 and answer.json["status"] == "accepted"
            else:
                assert grown == 0, (answer.status_code, answer.json)
            if answer.status_code >= 400:
                assert isinstance(answer.json["error"], str) and answer.json["error"]
            else:
                assert answer.status_code in (200, 202), answer.status_code
                assert answer.json["key"].startswith(source.lower() + ":")
                if secrets:
                    assert source.lower() in SECRETS  # only a signed post gets this far

        run()
    finally:
        service(app).stop()


SMALL_LIMIT = 96  # SHEETCRM_MAX_BODY_BYTES for the next test: about half the posts go over it


def test_a_body_over_the_limit_is_413_however_it_is_framed(
    blank_sheet: Path, tmp_path: Path
) -> None:
    """The same posts, with a Content-Length or chunked (no length: the WSGI server ends the
    stream, as gunicorn and werkzeug's server do), against a small limit: over it, 413 and
    nothing stored; at or under it, never 413. A chunked body over the limit used to be cut
    at the limit and taken (issue 15)."""
    app = start(blank_sheet, tmp_path, SHEETCRM_MAX_BODY_BYTES=str(SMALL_LIMIT))
    client = app.test_client()
    try:

        @fuzz(150)
        @given(post=posts(), chunked=st.booleans())
        def run(post: tuple[str, bytes, dict[str, str]], chunked: bool) -> None:
            source, body, headers = post
            before = _stored(app)
            if chunked:
                answer = client.post(
                    f"/hooks/{source}",
                    input_stream=io.BytesIO(body),
                    headers={**headers, "Transfer-Encoding": "chunked"},
                    environ_overrides={"wsgi.input_terminated": True},
                )
            else:
                answer = client.post(f"/hooks/{source}", data=body, headers=headers)
            status = answer.status_code
            assert status < 500 and answer.is_json, answer.get_data(as_text=True)[:500]
            if source.lower() in SOURCES and len(body) > SMALL_LIMIT:
                assert status == 413, (len(body), chunked, status, answer.json)
                assert str(SMALL_LIMIT) in answer.json["hint"]
            else:
                assert status != 413, (len(body), chunked, answer.json)
            assert _stored(app) - before == (1 if status == 202 else 0)

        run()
    finally:
        service(app).stop()
