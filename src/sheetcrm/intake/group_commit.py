"""Group commit: concurrent writers share one transaction, so that one disk flush serves many
requests and every caller still returns only once its own row is on disk."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.exc import SQLAlchemyError

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Waiting(Generic[Item, Result]):
    item: Item
    finished: bool = False
    stored: Result | None = None
    error: BaseException | None = None

    def outcome(self) -> Result | None:
        if isinstance(self.error, Exception):
            raise self.error
        if self.error is not None:  # the writer's thread was stopped (SystemExit...)
            raise SQLAlchemyError(
                f"the shared commit was cut short ({type(self.error).__name__}): not stored"
            )
        return self.stored


class GroupCommit(Generic[Item, Result]):
    """``write(batch)`` stores a batch in one transaction and says, item by item, how it
    stored it; :meth:`put` is called by many threads at once, each with one item."""

    def __init__(self, write: Callable[[list[Item]], list[Result | None]]) -> None:
        self._write = write
        self._turn = threading.Condition()
        self._queue: list[_Waiting[Item, Result]] = []
        self._writing = False

    def put(self, item: Item) -> Result | None:
        """Whoever finds no commit under way writes everything queued so far; the others
        wait for the commit that carries their item, and hear of its failure too."""
        mine: _Waiting[Item, Result] = _Waiting(item)
        with self._turn:
            self._queue.append(mine)
            while not mine.finished:
                if not self._writing:
                    self._writing = True
                    batch, self._queue = self._queue, []
                    break
                self._turn.wait()
            else:
                return mine.outcome()
        try:
            stored = self._write([waiting.item for waiting in batch])
            for waiting, new in zip(batch, stored, strict=True):
                waiting.stored = new
        except BaseException as exc:  # every caller of the batch hears of it, never "stored"
            for waiting in batch:
                waiting.error = exc
            if not isinstance(exc, Exception):
                raise  # a gunicorn timeout's SystemExit: this thread's own to raise
        finally:
            with self._turn:
                for waiting in batch:
                    waiting.finished = True
                self._writing = False
                self._turn.notify_all()
        return mine.outcome()
