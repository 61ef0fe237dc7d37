"""The durable outbox on a real SQLite file and a real PostgreSQL (a throwaway local cluster,
see conftest.py): replays, claims, backoff, dead letters, crashes, two instances at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sheetcrm.errors import ConfigError
from sheetcrm.intake import outbox as outbox_module
from sheetcrm.intake.outbox import DEAD, DONE, PENDING, Outbox, backoff, digest
from sheetcrm.intake.outbox_db import submissions
from sheets import free_port


@pytest.fixture
def instances(url: str) -> Iterator[tuple[Outbox, Outbox]]:
    """Two service instances' outboxes on one store."""
    first, second = Outbox(url), Outbox(url)
    yield first, second
    first.close()
    second.close()


def test_a_replayed_key_is_stored_once(outbox: Outbox) -> None:
    assert outbox.put("typeform:1", "typeform", "{}", 100.0) == "typeform:1"
    assert outbox.put("typeform:1", "typeform", "{}", 101.0) is None
    [entry] = outbox.entries()
    assert (entry.key, entry.body, entry.state, entry.received_at) == (
        "typeform:1",
        "{}",
        PENDING,
        100.0,
    )


def test_concurrent_puts_share_commits_and_lose_nothing(outbox: Outbox) -> None:
    keys = [f"k{i}" for i in range(400)]
    answers: list[tuple[str, bool]] = []

    def post(part: list[str]) -> None:
        for key in part:
            answers.append((key, outbox.put(key, "generic", "{}", 1.0)))

    # every key posted twice, from different threads, interleaved
    threads = [threading.Thread(target=post, args=(keys[i::8],)) for i in range(8)]
    threads += [threading.Thread(target=post, args=(keys[i::8][::-1],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 800
    assert sorted(k for k, new in answers if new) == sorted(keys)  # each new exactly once
    assert outbox.stats(1.0)["pending"] == 400


def test_a_claim_hides_entries_until_it_expires(outbox: Outbox) -> None:
    for i in range(5):
        outbox.put(f"k{i}", "generic", "{}", float(i))
    first = outbox.claim("a", now=10.0, limit=3, seconds=60)
    assert [e.key for e in first] == ["k0", "k1", "k2"]  # oldest first
    second = outbox.claim("b", now=20.0, limit=10, seconds=60)
    assert [e.key for e in second] == ["k3", "k4"]
    assert outbox.claim("c", now=30.0, limit=10) == []
    # a flusher that died: its claim runs out and another takes the entries over
    assert [e.key for e in outbox.claim("c", now=71.0, limit=10)] == ["k0", "k1", "k2"]


def test_has_due_says_whether_a_claim_would_take_anything(outbox: Outbox) -> None:
    assert not outbox.has_due(0.0)
    outbox.put("k0", "generic", "{}", 10.0)
    assert not outbox.has_due(9.0) and outbox.has_due(10.0)
    outbox.claim("a", now=10.0, limit=10, seconds=60)
    assert not outbox.has_due(20.0)  # claimed by a live flusher
    assert outbox.has_due(71.0)  # its claim ran out: a flusher that died
    outbox.later(["k0"], "over quota", now=20.0)
    assert not outbox.has_due(21.0) and outbox.has_due(20.0 + 5.0)
    outbox.done({"k0": "L-00001"}, now=30.0)
    assert not outbox.has_due(1000.0)


def test_a_flusher_writes_in_short_transactions(outbox: Outbox) -> None:
    """Each webhook's commit waits while a writer holds the lock: claiming, marking done and
    putting back a big batch write WRITE_CHUNK rows per transaction, never all at once."""
    from sqlalchemy import event

    from sheetcrm.intake.outbox import WRITE_CHUNK

    n = 4 * WRITE_CHUNK + 1
    outbox._insert(
        [
            {"key": f"k{i:05d}", "source": "g", "body": "{}", "now": 1.0, "digest": ""}
            for i in range(n)
        ]
    )
    commits: list[int] = []
    event.listen(outbox.db.engine, "commit", lambda conn: commits.append(1))
    claimed = outbox.claim("a", now=2.0, limit=n)
    assert [e.key for e in claimed] == [f"k{i:05d}" for i in range(n)]  # oldest first, all
    assert len(commits) == 5
    outbox.done({e.key: "L-1" for e in claimed[: 2 * WRITE_CHUNK]}, now=3.0)
    outbox.later([e.key for e in claimed[2 * WRITE_CHUNK :]], "over quota", now=3.0)
    assert len(commits) == 5 + 2 + 3
    assert outbox.stats(3.0)["done"] == 2 * WRITE_CHUNK


def test_done_later_dead_and_retry(outbox: Outbox) -> None:
    for i in range(3):
        outbox.put(f"k{i}", "generic", "{}", 0.0)
    outbox.claim("a", now=1.0, limit=3)
    outbox.done({"k0": "L-00007"}, now=2.0)
    outbox.later(["k1"], "Google Sheets' request quota is used up", now=2.0)
    outbox.dead("k2", "the stored submission is not JSON")
    by_key = {e.key: e for e in outbox.entries()}
    assert (by_key["k0"].state, by_key["k0"].lead_id) == (DONE, "L-00007")
    assert by_key["k1"].state == PENDING and by_key["k1"].attempts == 1
    assert 2.0 + 2.5 <= by_key["k1"].next_try_at <= 2.0 + 5.0
    assert by_key["k1"].last_error.startswith("Google Sheets'")
    assert (by_key["k2"].state, by_key["k2"].last_error) == (
        DEAD,
        "the stored submission is not JSON",
    )
    assert outbox.claim("b", now=3.0, limit=10) == []  # k1 waits out its backoff; k2 is dead
    stats = outbox.stats(3.0)
    assert stats == {
        "pending": 1,
        "done": 1,
        "dead": 1,
        "erased": 0,
        "oldest_pending_seconds": 3.0,
        "in_backoff": 1,  # k1, until its next try
        "next_try_at": stats["next_try_at"],
        "next_try_in_seconds": round(by_key["k1"].next_try_at - 3.0, 3),
    }
    when = datetime.fromtimestamp(by_key["k1"].next_try_at, UTC)
    assert stats["next_try_at"] == when.isoformat(timespec="seconds")
    assert outbox.retry(["k2"], now=4.0) == 1
    assert outbox.retry(None, now=4.0) == 0  # nothing else is dead
    assert [e.key for e in outbox.claim("b", now=4.0, limit=10)] == ["k2"]


def test_release_frees_only_the_claims_of_gone_holders(outbox: Outbox) -> None:
    for i in range(3):
        outbox.put(f"k{i}", "generic", "{}", float(i))
    outbox.claim("killed:1", now=10.0, limit=2)
    outbox.claim("alive:2", now=10.0, limit=1)
    assert outbox.release(lambda holder: holder.startswith("killed")) == 2
    assert [e.key for e in outbox.claim("b", now=11.0, limit=10)] == ["k0", "k1"]


def test_backoff_doubles_with_jitter_and_is_bounded() -> None:
    for attempts, (low, high) in {1: (2.5, 5), 2: (5, 10), 3: (10, 20), 30: (60, 120)}.items():
        waits = [backoff(attempts) for _ in range(200)]
        assert low <= min(waits) and max(waits) <= high
        assert len(set(waits)) > 1  # jittered


def test_only_sqlite_and_postgresql_are_accepted(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SQLite"):
        Outbox("mysql+pymysql://nobody@127.0.0.1/none")


def test_an_accepted_submission_survives_sigkill(url: str) -> None:
    """What put() returned for is on disk, even when the process dies mid-stream: on SQLite,
    WAL and synchronous=FULL; on PostgreSQL, put() returns only after the commit."""
    writer = textwrap.dedent(
        f"""
        import os, threading
        from sheetcrm.intake.outbox import Outbox
        box = Outbox({url!r})
        def post(t):
            for i in range(100000):
                box.put(f"t{{t}}-{{i}}", "generic", "x" * 500, 1.0)
                os.write(1, f"t{{t}}-{{i}}\\n".encode())  # one write: lines never interleave
        for t in range(4):
            threading.Thread(target=post, args=(t,)).start()
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    acknowledged = []
    deadline = time.monotonic() + 60
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        acknowledged.append(proc.stdout.readline().strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert len(acknowledged) == 300
    box = Outbox(url)
    stored = {e.key for e in box.entries(limit=1_000_000)}
    box.close()
    assert set(acknowledged) <= stored


def test_a_batch_stores_each_new_key_once_and_says_which(outbox: Outbox) -> None:
    """One INSERT for a whole group commit: a key already stored, or twice in the batch, is
    a replay (None) when its body is the same; another body under it is stored under a
    derived key, never dropped."""
    assert outbox.put("generic:old", "generic", "{}", 1.0) == "generic:old"
    bodies = [
        ("generic:a", '{"n": 0}'),
        ("generic:old", "{}"),
        ("generic:b", '{"n": 2}'),
        ("generic:a", '{"n": 0}'),
        ("generic:old", '{"n": 4}'),
        ("generic:a", '{"n": 5}'),
        ("generic:a", '{"n": 5}'),
    ]
    batch = [
        {"key": k, "source": "generic", "body": b, "now": 2.0, "digest": digest(b)}
        for k, b in bodies
    ]
    assert outbox._insert(batch) == [
        "generic:a",
        None,
        "generic:b",
        None,
        "generic:old#2",
        "generic:a#2",
        None,
    ]
    stored = {e.key: e.body for e in outbox.entries()}
    assert stored == {
        "generic:old": "{}",
        "generic:a": '{"n": 0}',
        "generic:b": '{"n": 2}',
        "generic:old#2": '{"n": 4}',
        "generic:a#2": '{"n": 5}',
    }


def test_writers_of_several_processes_queue_on_a_file_lock(tmp_path: Path) -> None:
    """Two processes putting at once: SQLite's busy handler would make one poll with sleeps;
    the lock beside the database hands the write over at once, and nothing is lost."""
    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    Outbox(url).close()
    script = textwrap.dedent(
        f"""
        import sys, threading
        from sheetcrm.intake.outbox import Outbox
        box = Outbox({url!r})
        tag = sys.argv[1]
        def post(t):
            for i in range(100):
                assert box.put(f"{{tag}}-{{t}}-{{i}}", "generic", "{{}}", 1.0)
        threads = [threading.Thread(target=post, args=(t,)) for t in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    procs = [subprocess.Popen([sys.executable, "-c", script, tag], env=env) for tag in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    box = Outbox(url)
    try:
        assert box.stats(1.0)["pending"] == 800
    finally:
        box.close()
    assert (tmp_path / "outbox.sqlite3-writer.lock").exists()


def test_no_lock_file_where_sqlite_is_not_a_plain_file() -> None:
    from sheetcrm.intake.outbox_db import _lock_file

    assert _lock_file("sqlite:///:memory:") is None
    assert _lock_file("sqlite://") is None
    assert _lock_file("postgresql+psycopg://u@h/db") is None
    assert _lock_file("sqlite:////srv/outbox.sqlite3") == "/srv/outbox.sqlite3-writer.lock"


def test_one_flusher_at_a_time_per_outbox(instances: tuple[Outbox, Outbox]) -> None:
    """Two service processes on one outbox: while one flushes, the other's turn is refused
    at once, rather than reading the whole sheet for nothing (a file lock beside a SQLite
    outbox, an advisory lock on PostgreSQL)."""
    first, second = instances
    with first.flush_turn() as mine:
        assert mine is True
        with second.flush_turn() as theirs:
            assert theirs is False
    with second.flush_turn() as theirs:
        assert theirs is True


def test_two_instances_never_claim_the_same_submission(
    instances: tuple[Outbox, Outbox],
) -> None:
    """Two service instances, each with its own Outbox and flusher threads, claim from one
    table at once (FOR UPDATE SKIP LOCKED on PostgreSQL): every submission once, none twice."""
    first, second = instances
    keys = {f"k{i:04}" for i in range(600)}
    for key in keys:
        first.put(key, "generic", "{}", 0.0)
    claimed: list[str] = []
    start = threading.Barrier(6)

    def flusher(box: Outbox, worker: str) -> None:
        start.wait()
        while batch := box.claim(worker, now=1.0, limit=7, seconds=600):
            claimed.extend(e.key for e in batch)

    threads = [
        threading.Thread(target=flusher, args=(box, f"{name}-{i}"))
        for name, box in (("a", first), ("b", second))
        for i in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(keys)  # each claimed exactly once


def test_two_instances_store_overlapping_keys_once(instances: tuple[Outbox, Outbox]) -> None:
    """Replays racing across two instances: each key stored once and answered new once, and
    no deadlock where one instance's batch holds k1 then k2 and the other's k2 then k1."""
    first, second = instances
    rounds = [[f"r{r:02}-k{i}" for i in range(10)] for r in range(30)]
    orders: list[Callable[[list[str]], list[str]]] = [
        lambda keys: keys,
        lambda keys: keys[::-1],
        lambda keys: keys[1::2] + keys[::2],
        lambda keys: keys[::-2] + keys[-2::-2],
    ]
    answers: list[tuple[str, bool]] = []
    errors: list[Exception] = []
    together = threading.Barrier(8)

    def post(box: Outbox, order: Callable[[list[str]], list[str]]) -> None:
        try:
            for keys in rounds:
                together.wait()  # all threads on the same few keys at once, round after round
                for key in order(keys):
                    answers.append((key, box.put(key, "generic", "{}", 1.0)))
        except threading.BrokenBarrierError:
            return  # another thread failed
        except Exception as exc:
            errors.append(exc)
            together.abort()  # the others stop too, rather than wait for this one

    # every key posted eight times: in four orders on each instance
    threads = [
        threading.Thread(target=post, args=(box, order))
        for box in (first, second)
        for order in orders
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    keys = sorted(key for keys in rounds for key in keys)
    assert len(answers) == 8 * len(keys)
    assert sorted(k for k, new in answers if new) == keys
    assert sorted(e.key for e in first.entries(limit=1000)) == keys


def test_instances_starting_together_on_an_empty_store_all_open_it(url: str) -> None:
    """The first deployment: each instance creates the tables if they are missing, at once."""
    opened: list[Outbox] = []
    errors: list[Exception] = []
    together = threading.Barrier(4)

    def start() -> None:
        together.wait()
        try:
            opened.append(Outbox(url))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for box in opened:
        box.close()
    assert errors == []


def test_an_unreachable_postgresql_is_a_clear_error_within_seconds() -> None:
    """Nothing listens on the port: the service stops at start-up with what to check,
    instead of waiting for the operating system's connect timeout."""
    pytest.importorskip("psycopg")
    port = free_port()  # nobody listens there
    started = time.monotonic()
    with pytest.raises(ConfigError, match="cannot open the outbox") as caught:
        Outbox(f"postgresql+psycopg://sheetcrm:secret@127.0.0.1:{port}/none")
    assert time.monotonic() - started < 15
    assert "PostgreSQL server must be reachable" in caught.value.hint
    assert "secret" not in caught.value.message  # the password is never shown


def test_arrivals_count_the_submissions_that_came_in_lately_up_to_most(outbox: Outbox) -> None:
    """How fast webhooks come in (service/pacing.py): one waiting since before, or put off by
    a backoff, is no arrival; one that came in since is, until it is flushed; the count stops
    at ``most``, however deep the burst."""
    outbox.put("generic:old", "generic", "{}", 1000.0)
    outbox.later(["generic:old"], "sheet down", 1000.0, wait=500.0)  # next try at 1,500
    assert outbox.arrivals(1200.0, 40) == 0
    for n in range(3):
        outbox.put(f"generic:new-{n}", "generic", "{}", 1300.0 + n)
    assert outbox.arrivals(1200.0, 40) == 3
    assert outbox.arrivals(1200.0, 2) == 2
    assert outbox.arrivals(1301.0, 40) == 2
    claimed = outbox.claim("w", 1310.0, 10)
    assert [e.key for e in claimed] == [f"generic:new-{n}" for n in range(3)]
    outbox.done({e.key: "L-00001" for e in claimed}, 1311.0)
    assert outbox.arrivals(1200.0, 40) == 0


def test_waited_is_how_long_the_oldest_due_submission_has_been_due(outbox: Outbox) -> None:
    assert outbox.waited(100.0) is None  # nothing a flush would claim
    outbox.put("generic:a", "generic", "{}", 100.0)
    outbox.put("generic:b", "generic", "{}", 104.0)
    assert outbox.waited(110.0) == 10.0
    outbox.later(["generic:a"], "sheet down", 110.0, wait=20.0)  # due again at 130
    assert outbox.waited(120.0) == 16.0  # b's wait; a waits out its backoff, not a flush
    assert outbox.waited(135.0) == 31.0
    outbox.claim("w", 135.0, 10)
    assert outbox.waited(136.0) is None  # claimed by a live flusher


def test_the_background_works_glances_wait_for_no_writer(outbox: Outbox) -> None:
    """While a burst comes in, the background work looks at the outbox twice a second:
    those reads must not queue behind a webhook's commit, nor hold one up (on SQLite an
    IMMEDIATE read waited here for the busy timeout, 30 s)."""
    outbox.put("generic:a", "generic", "{}", 100.0)
    started = time.monotonic()
    with outbox.db.begin() as conn:  # a writer holds the lock meanwhile
        conn.execute(submissions.update().values(attempts=0))
        assert outbox.waited(110.0) == 10.0
        assert outbox.arrivals(99.0, 5) == 1
    assert time.monotonic() - started < 5


def test_a_flush_takes_at_most_its_byte_budget_of_answers_but_always_one(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One append carries a flush's leads, and Google refuses a request over 10 MB: a batch
    of long answers is cut at FLUSH_BYTES (the rest waits for the next flush), and a single
    submission larger than that still goes alone rather than never."""
    monkeypatch.setattr(outbox_module, "FLUSH_BYTES", 1000)
    for n in range(5):
        outbox.put(f"generic:{n}", "generic", "x" * 400, 1000.0 + n)
    first = outbox.claim("w", 2000.0, 100)
    assert [e.key for e in first] == ["generic:0", "generic:1"]  # 800 bytes; a third: 1,200
    outbox.put("generic:big", "generic", "y" * 5000, 900.0)  # the oldest now, and too big
    assert [e.key for e in outbox.claim("w", 2000.0, 100)] == ["generic:big"]
    assert [e.key for e in outbox.claim("w", 2000.0, 100)] == ["generic:2", "generic:3"]
