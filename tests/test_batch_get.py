"""backends/batch_get.py: a values.batchGet answer parsed a row at a time reads exactly as
``json.loads`` reads it, each distinct text one object, on Google's recorded answers and on
any answer of that shape; a body that is not JSON fails as ``json.loads`` fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sheetcrm.backends.batch_get import batch_get

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
    optional={"other": st.recursive(st.none() | st.integers() | cell, st.lists, max_leaves=5)},
)


@given(answer, st.sampled_from([None, 0, 2]), st.booleans())
def test_any_answer_reads_as_json_reads_it(got: dict, indent: int | None, ascii: bool) -> None:
    body = json.dumps(got, indent=indent, ensure_ascii=ascii)
    seen: dict[str, str] = {}
    assert batch_get(body, seen) == json.loads(body)


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
