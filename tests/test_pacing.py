"""When the background work flushes (service/pacing.py, issue 21): the decisions as pure
functions, then the service asking its real outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sheetcrm.intake.adapters import adapt
from sheetcrm.service.pacing import Pacing, flush_after, until_due
from sheetcrm.service.service_config import ServiceConfig
from sheetcrm.service.tasks import Service

PACING = Pacing(every=5.0, hold=30.0, burst_rate=20, below=True)


@pytest.mark.parametrize(
    ("arrived", "waited", "held"),
    [
        (0, 0.0, False),  # nothing coming in: flush what is due
        (19, 0.0, False),  # a trickle under 20 a second: no burst
        (20, 0.0, True),  # a burst: the webhooks first
        (20, 29.9, True),
        (20, 30.0, False),  # the oldest has waited the hold: a long burst still lands
        (400, 45.0, False),
    ],
)
def test_a_flush_is_held_back_only_during_a_burst_and_only_up_to_the_hold(
    arrived: int, waited: float, held: bool
) -> None:
    assert PACING.holds(arrived, waited) is held


def test_a_burst_is_counted_up_to_its_threshold_and_a_rate_of_0_never_holds() -> None:
    assert PACING.most() == 20  # the outbox counts at most this many recent arrivals
    assert Pacing(5.0, 30.0, 0).burst(10**6) is False
    assert Pacing(5.0, 30.0, 0).most() == 1  # still asks whether any came: the share


def test_the_webhooks_share_of_time_lasts_only_while_they_come() -> None:
    """A flush that took 13.7 s during a burst: three times that before the next one while
    submissions keep coming, only the quota's 5 s once they stop; in a thread beside the
    webhooks (not below their priority), the share always."""
    assert flush_after(100.0, 13.7, 5.0, arriving=True, below=True) == pytest.approx(141.1)
    assert flush_after(100.0, 13.7, 5.0, arriving=False, below=True) == 105.0
    assert flush_after(100.0, 1.0, 5.0, arriving=True, below=True) == 105.0
    assert flush_after(100.0, 13.7, 5.0, arriving=False, below=False) == pytest.approx(141.1)
    assert PACING.after(100.0, 13.7, arrived=1) == pytest.approx(141.1)
    assert PACING.after(100.0, 13.7, arrived=0) == 105.0


def test_the_loop_wakes_for_a_flush_due_before_its_next_poll() -> None:
    assert until_due(1.0, 0.3) == 0.3  # the next flush of a backlog, on time
    assert until_due(1.0, 4.0) == 1.0  # far off: poll as usual
    assert until_due(1.0, -2.0) == 1.0  # due already, or nothing to flush: poll, never spin
    assert until_due(5.0, 0.0) == 5.0


def test_the_service_holds_its_flush_while_a_burst_comes_in(tmp_path: Path) -> None:
    """On a real outbox: a burst is held back until it stops (1 s with no submission), a
    steady stream over the burst rate until the oldest has waited the hold."""
    now = [1_000_000.0]
    config = ServiceConfig(
        str(tmp_path / "crm.xlsx"),
        f"sqlite:///{tmp_path / 'outbox.sqlite3'}",
        burst_rate=20,
        flush_hold=30.0,
    )
    service = Service(config, clock=lambda: datetime.fromtimestamp(now[0], UTC))
    body = adapt("generic", {"email": "ann@burst.example"}).to_json()
    count = iter(range(10**6))

    def arrive(n: int) -> None:
        for _ in range(n):
            service.outbox.put(f"generic:{next(count)}", "generic", body, now[0])

    try:
        assert not service.flush_due()  # nothing to flush
        arrive(5)
        assert service.flush_due()  # a trickle: flushed at once, as ever
        arrive(40)
        assert not service.flush_due() and service.holding  # 45 in the last second: a burst
        now[0] += 1.5
        assert service.flush_due() and not service.holding  # none for 1 s: it is over
        for _ in range(29):  # then a steady 40 a second: a burst that goes on
            arrive(40)
            assert not service.flush_due()
            now[0] += 1.0
        arrive(40)
        assert service.flush_due()  # the first has now waited 30.5 s: past the hold
    finally:
        service.stop()
