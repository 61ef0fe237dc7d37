"""backends/batch_get.py: a values.batchGet answer parsed a row at a time reads exactly as
``json.loads`` reads it, each distinct text one object, on Google's recorded answers and on
any answer of that shape; a body that is not JSON fails as ``json.loads`` fails."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from google.auth.credentials import AnonymousCredentials
from hypothesis import given
from hypothesis import strategies as st

from sheetcrm.backends.batch_get import batch_get
from sheetcrm.backends.sheets_http import SheetsHTTP

CASSETTES = Path(__file__).resolve().parents[2] / "shared" / "ref" / "gspread-cassettes"


def _recorded() -> list[str]:
    """Every values.batchGet answer body Google gave in the recorded gspread tests."""
    bodies = []
    for path in sorted(CASSETTES.glob("*.json")) if CASSETTES.is_dir() else []:
        for turn in json.loads(path.read_text())["interactions"]:
            if "values:batchGet" in turn["request"]["uri"]:
                bodies.append(turn["response"]["body"]["string"])
    return bodies


@pytest.mark.skipif(not _recorded(), reason=f"the recorded cassettes are not here: {CASSETTES}")
def test_recorded_answers_read_as_json_reads_them() -> None:
    for body in _recorded():
        assert batch_get(body, {}) == json.loads(body)


cell = st.text(max_size=12) | st.sampled_from(["Won", "New", "L-00001", "", "Émilie"])
rows = st.lists(st.lists(cell, max_size=6), max_size=8)
value_range = st.fixed_dictionaries(
    {"range": st.text(max_size=20), "majorDimension": st.just("ROWS")},
    optional={"values": rows},
)
answer = st.fixed_dictionaries(
    {"spreadsheetId": st.text(max_size=10), "valueRanges": st.lists(value_range, max_size=4)},
    optional={
        "other": st.recursive(
            st.none() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | cell,
            st.lists,
            max_leaves=5,
        )
    },
)


@given(answer, st.sampled_from([None, 0, 2]), st.booleans())
def test_any_answer_reads_as_json_reads_it(got: dict, indent: int | None, ascii: bool) -> None:
    body = json.dumps(got, indent=indent, ensure_ascii=ascii)
    seen: dict[str, str] = {}
    assert batch_get(body, seen) == json.loads(body)


def _pieces(body: str, cuts: list[int]) -> list[str]:
    at = sorted({min(c, len(body)) for c in cuts})
    return [body[a:b] for a, b in zip([0, *at], [*at, len(body)], strict=True)]


@given(answer, st.sampled_from([None, 2]), st.lists(st.integers(0, 400), max_size=30))
def test_an_answer_read_as_it_arrives_in_any_pieces_reads_the_same(
    got: dict, indent: int | None, cuts: list[int]
) -> None:
    """A read parses Google's answer as its pieces arrive (never the whole text at once):
    a piece may end anywhere, in a name, a text, a number or between two spaces."""
    body = json.dumps(got, indent=indent)
    assert batch_get(_pieces(body, cuts), {}) == json.loads(body)


@pytest.mark.parametrize("number", ["1.5", "1e5", "-2.5E-3", "10", "-0.25e+12"])
def test_a_number_cut_anywhere_between_pieces_reads_whole(number: str) -> None:
    body = '{"valueRanges":[{"range":"A1","x":' + number + ',"values":[["a"]]}]}'
    start = body.index(number)
    for cut in range(start, start + len(number) + 1):
        assert batch_get([body[:cut], body[cut:]], {}) == json.loads(body)


def test_each_distinct_text_is_one_object_across_rows_and_ranges() -> None:
    body = json.dumps(
        {"valueRanges": [{"values": [["Won", "Ann"], ["Won", "Bob"]]}, {"values": [["Ann"]]}]},
        indent=2,
    )
    seen: dict[str, str] = {}
    first, second = (r["values"] for r in batch_get(body, seen)["valueRanges"])
    assert first[0][0] is first[1][0]
    assert first[0][1] is second[0][0] is seen["Ann"]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{",
        '{"valueRanges": [{"values": [["a"],]}]}',
        '{"valueRanges": [{"values": ["a"]}]}',  # a row that is not a list
        '{"valueRanges": []} {}',
        '{"valueRanges" [] }',
        '{"a": 1 "b": 2}',
    ],
)
def test_a_body_that_is_not_such_an_answer_fails_as_json_fails(body: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        batch_get(body, {})
    with pytest.raises(json.JSONDecodeError):  # and so in pieces
        batch_get(list(body), {})


@contextmanager
def _google(*answers: tuple[bytes, int]) -> Iterator[tuple[SheetsHTTP, list[dict]]]:
    """A real server on loopback answering each GET with the next (body, Content-Length)
    (a length over the body's: the connection lost mid-answer); the client reading from
    it, and the query of each request it got."""
    asked: list[dict[str, list[str]]] = []
    left = list(answers)

    class Google(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(parse_qs(urlsplit(self.path).query))
            body, length = left.pop(0)
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Google)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_port}"
    http = SheetsHTTP(AnonymousCredentials(), emulator_host=host, sleep=lambda _: None)
    try:
        yield http, asked
    finally:
        http.session.close()
        server.shutdown()
        server.server_close()


def test_the_read_asks_google_for_unindented_text_and_parses_what_it_gets() -> None:
    # answered as Google did (indented, as Google answers unless asked with
    # prettyPrint=false), recording what it was asked
    answer = {"spreadsheetId": "s", "valueRanges": [{"range": "Leads!A1:B2", "values": [["a"]]}]}
    body = json.dumps(answer, indent=2).encode()
    with _google((body, len(body))) as (http, asked):
        got = http.values_batch_get_shared("s", ["Leads"], {"majorDimension": "ROWS"}, {})
    assert got == answer
    assert asked[0]["prettyPrint"] == ["false"] and asked[0]["ranges"] == ["Leads"]


def test_an_answer_cut_off_as_it_arrives_is_asked_again() -> None:
    # the first answer stops half way (its length says more), as a connection lost
    # mid-answer does; the second is whole
    rows = [[f"L-{i:05d}", "Won", f"lead{i}@firm.example"] for i in range(20_000)]
    answer = {"spreadsheetId": "s", "valueRanges": [{"range": "Leads!A1:C20000", "values": rows}]}
    body = json.dumps(answer).encode()
    with _google((body[: len(body) // 2], len(body)), (body, len(body))) as (http, asked):
        got = http.values_batch_get_shared("s", ["Leads"], {"majorDimension": "ROWS"}, {})
    assert got == answer and len(asked) == 2


def test_each_row_can_be_consumed_as_it_is_parsed_with_its_range_s_index() -> None:
    body = json.dumps({"valueRanges": [{"values": [["a", "b"], ["c"]]}, {"values": [["d"]]}]})
    seen: list[tuple[int, list[str]]] = []
    got = batch_get(list(body), {}, lambda index, row: seen.append((index, row)))
    assert seen == [(0, ["a", "b"]), (0, ["c"]), (1, ["d"])]
    assert got == {"valueRanges": [{"values": [None, None]}, {"values": [None]}]}
