"""Operating the outbox, on a real SQLite file and a real PostgreSQL (conftest.py): what
waits in backoff and until when, retrying pending ones now, the retention that erases the
answers of done submissions, and erasing one person's submissions by e-mail address."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from sheetcrm.intake.adapters import adapt
from sheetcrm.intake.outbox import DEAD, DONE, ERASED, PENDING, WRITE_CHUNK, Outbox
from sheetcrm.intake.outbox_db import submissions
from sheetcrm.intake.retention import DAY, erase, expired, holds_address, purge

ADDRESS = "ann.lee@acme.io"
# the same person, as each vendor sends her address (case as she typed it)
VENDOR_POSTS = {
    "typeform": {
        "event_id": "tf-evt",
        "form_response": {
            "token": "tf-1",
            "submitted_at": "2026-03-01T10:00:00Z",
            "definition": {"title": "Demo", "fields": [{"id": "e", "ref": "email"}]},
            "answers": [{"type": "email", "email": "Ann.Lee@Acme.io", "field": {"id": "e"}}],
        },
    },
    "tally": {
        "eventId": "ta-evt",
        "data": {
            "responseId": "ta-1",
            "formName": "Demo",
            "fields": [{"key": "q", "label": "Email", "type": "INPUT_EMAIL", "value": ADDRESS}],
        },
    },
    "jotform": {
        "submissionID": "jf-1",
        "formID": "1",
        "formTitle": "Contact",
        "rawRequest": json.dumps({"q4_email": "ANN.LEE@ACME.IO", "q5_name": "Ann"}),
    },
    "google-forms": {
        "namedValues": {"Email Address": [ADDRESS], "Name": ["Ann Lee"]},
        "submissionId": "gf-1",
    },
    "generic": {"message": f"Write to {ADDRESS}, please", "submission_id": "ge-1"},
}
OTHERS = {  # near misses: another person each, never erased
    "generic:joann": {"email": "joann.lee@acme.io", "submission_id": "o-1"},
    "generic:sub": {"email": "ann.lee@acme.io.example", "submission_id": "o-2"},
    "generic:plain": {"email": "bo@acme.io", "submission_id": "o-3"},
}


def by_key(outbox: Outbox) -> dict[str, object]:
    return {e.key: e for e in outbox.entries(limit=10_000)}


def test_stats_say_how_many_wait_in_backoff_and_until_when(outbox: Outbox) -> None:
    for i in range(4):
        outbox.put(f"k{i}", "generic", "{}", 0.0)
    outbox.claim("w", now=10.0, limit=3)
    outbox.later(["k0"], "over quota", now=10.0)
    outbox.later(["k1"], "over quota", now=10.0, failed=False)  # 1-3 s
    stats = outbox.stats(10.0)
    assert (stats["pending"], stats["in_backoff"]) == (4, 2)  # k2 is claimed, k3 is due
    first = min(e.next_try_at for e in outbox.entries() if e.key in ("k0", "k1"))
    assert stats["next_try_in_seconds"] == round(first - 10.0, 3)
    assert stats["next_try_at"] == datetime.fromtimestamp(first, UTC).isoformat(timespec="seconds")
    assert outbox.stats(1000.0)["in_backoff"] == 0


def test_retry_now_makes_pending_ones_in_backoff_due(outbox: Outbox) -> None:
    for i in range(4):
        outbox.put(f"k{i}", "generic", "{}", 0.0)
    outbox.claim("w", now=1.0, limit=4)
    outbox.later(["k0", "k1"], "over quota", now=1.0)
    outbox.dead("k3", "the mapping fails on it")
    assert outbox.claim("w", now=2.0, limit=10) == []
    assert outbox.retry_now(["k0"], now=2.0) == 1
    # k1 only: k0 is due already, k2 is claimed by a flusher at work, k3 is dead
    assert outbox.retry_now(None, now=2.0) == 1
    taken = outbox.claim("w", now=2.0, limit=10)
    assert sorted(e.key for e in taken) == ["k0", "k1"]
    assert {e.attempts for e in taken} == {1}  # tries still counted: a new failure waits longer
    assert by_key(outbox)["k3"].state == DEAD  # dead ones: `retry`, as before


def test_purge_keeps_key_and_outcome_and_a_late_replay_is_a_duplicate(outbox: Outbox) -> None:
    for key in ("old", "recent", "waiting", "dead"):
        outbox.put(key, "typeform", json.dumps({"email": f"{key}@acme.io"}), 0.0)
    outbox.claim("w", now=1.0, limit=4)
    outbox.done({"old": "L-00001"}, now=1.0)
    outbox.done({"recent": "L-00002"}, now=40 * DAY)
    outbox.later(["waiting"], "over quota", now=1.0)
    outbox.dead("dead", "the mapping fails on it")
    before = 41 * DAY - 30 * DAY

    assert purge(outbox, before, dry_run=True) == 1
    assert by_key(outbox)["old"].body != ""  # a dry run erases nothing
    assert purge(outbox, before) == 1
    entries = by_key(outbox)
    old = entries["old"]
    assert (old.body, old.state, old.lead_id, old.source) == ("", DONE, "L-00001", "typeform")
    assert all(entries[k].body for k in ("recent", "waiting", "dead"))  # kept
    assert purge(outbox, before) == 0  # once erased, not counted again

    # a vendor retries the old submission: recognised, not stored or appended again
    assert outbox.put("old", "typeform", json.dumps({"email": "old@acme.io"}), 50 * DAY) is None
    assert by_key(outbox)["old"].body == ""
    assert [e.key for e in outbox.claim("w", 50 * DAY, 10)] == ["waiting"]


def test_purge_reads_only_what_it_erases(tmp_path: Path) -> None:
    """The hourly purge must not grow with the history of erased submissions: on SQLite,
    whose planner could take submissions_due instead, the plan names the partial index."""
    box = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    query = expired(1000.0).order_by(submissions.c.done_at).limit(WRITE_CHUNK)
    sql = str(query.compile(box.db.engine, compile_kwargs={"literal_binds": True}))
    with box.db.engine.connect() as conn:
        plan = " ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    box.close()
    assert "USING INDEX submissions_kept (state=? AND done_at<?)" in plan


def test_purge_works_a_chunk_at_a_time(outbox: Outbox) -> None:
    count = WRITE_CHUNK * 2 + 7
    for i in range(count):
        outbox.put(f"k{i:04d}", "generic", "{}", 0.0)
    outbox.claim("w", now=1.0, limit=count)
    outbox.done({f"k{i:04d}": f"L-{i}" for i in range(count)}, now=1.0)
    assert purge(outbox, 2.0) == count
    assert {e.body for e in outbox.entries(limit=count)} == {""}


def test_an_outbox_made_before_the_retention_gets_its_index(url: str) -> None:
    Outbox(url).close()
    box = Outbox(url)
    with box.db.engine.connect() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes(submissions.name)}
        assert "submissions_kept" in names
        conn.exec_driver_sql("DROP INDEX submissions_kept")
        conn.commit()
    box.close()
    box = Outbox(url)  # as an outbox made by an earlier version opens
    with box.db.engine.connect() as conn:
        assert "submissions_kept" in {i["name"] for i in inspect(conn).get_indexes("submissions")}
    box.close()


def _store_posts(outbox: Outbox, posts: dict[str, object]) -> dict[str, str]:
    """Each post stored as the webhook stores it; its name -> its key."""
    keys = {}
    for name, payload in posts.items():
        submission = adapt(name.partition(":")[0], payload)
        keys[name] = submission.key()
        assert outbox.put(submission.key(), submission.source, submission.to_json(), 0.0)
    return keys


def test_erase_finds_one_persons_submissions_from_every_vendor(outbox: Outbox) -> None:
    keys = _store_posts(outbox, {**VENDOR_POSTS, **OTHERS})
    outbox.claim("w", now=1.0, limit=100)
    outbox.done({keys["typeform"]: "L-00007", keys["tally"]: "L-00009"}, now=2.0)
    outbox.dead(keys["jotform"], "the mapping fails on it")
    outbox.later([keys["google-forms"], keys["generic"]], "over quota", now=2.0)
    outbox.later([keys[k] for k in OTHERS], "over quota", now=2.0)

    seen = erase(outbox, "Ann.Lee@ACME.io", dry_run=True)
    assert sorted(seen.keys) == sorted(keys[v] for v in VENDOR_POSTS)
    assert all(e.body for e in outbox.entries())  # a dry run erases nothing

    erased = erase(outbox, "Ann.Lee@ACME.io")
    assert sorted(erased.keys) == sorted(keys[v] for v in VENDOR_POSTS)
    assert (erased.lead_ids, erased.never_appended) == (["L-00007", "L-00009"], 3)
    entries = by_key(outbox)
    assert {entries[keys[v]].body for v in VENDOR_POSTS} == {""}
    assert (entries[keys["typeform"]].state, entries[keys["typeform"]].lead_id) == (
        DONE,
        "L-00007",
    )
    assert {entries[keys[v]].state for v in ("jotform", "google-forms", "generic")} == {ERASED}
    assert all(entries[keys[k]].body and entries[keys[k]].state == PENDING for k in OTHERS)
    # what was waiting is never appended now, and is not retried as a dead one
    due = outbox.claim("w", now=10 * DAY, limit=100)
    assert sorted(e.key for e in due) == sorted(keys[k] for k in OTHERS)
    assert outbox.retry(None, now=10 * DAY) == 0
    assert outbox.stats(10 * DAY)["erased"] == 3
    assert erase(outbox, ADDRESS).keys == []  # nothing left of her


def test_an_address_with_like_wildcards_matches_only_itself(outbox: Outbox) -> None:
    _store_posts(
        outbox,
        {
            "generic:a": {"email": "a_b%c@x.io", "submission_id": "1"},
            "generic:b": {"email": "axbyc@x.io", "submission_id": "2"},
        },
    )
    assert erase(outbox, "a_b%c@x.io").keys == ["generic:1"]


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("ann.lee@acme.io", True),
        ("<Ann.Lee@Acme.IO>", True),
        ("mailto:ann.lee@acme.io.", True),
        ("joann.lee@acme.io", False),
        ("ann.lee@acme.io.example", False),
        ("ann.lee@acme.iox", False),
        ("ann.lee+crm@acme.io", False),
    ],
)
def test_holds_address_matches_the_whole_address(text: str, held: bool) -> None:
    body = json.dumps({"answers": [["email", "Email", text]]})
    assert holds_address(body, ADDRESS) is held


def test_an_erasure_request_needs_an_address(outbox: Outbox) -> None:
    from sheetcrm.errors import SheetCRMError

    with pytest.raises(SheetCRMError, match="not an e-mail address"):
        erase(outbox, "ann")
