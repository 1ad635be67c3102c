"""A transaction's receipt to come: a future cheap enough to hand out per order.

`concurrent.futures.Future` builds a condition variable (a lock and a waiter list)
for every future, about 8 µs each: a fifth of what the rest of the sequencer spends
on an order. Most tickets are never waited on by a blocked thread (a service
resolves them through a callback, a flood is awaited long after it is durable), so
a `Ticket` is three slots, and the event a waiting thread sleeps on is made only
when one does. One module lock orders resolving against waiting and adding
callbacks; it is held for a few attribute writes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Final

from clearhouse.journal.journal import JournalError, Receipt

_lock: Final = threading.Lock()


class Ticket:
    """The receipt of one admitted transaction, once it is durable, or the error that
    stopped the sequencer first. An admitted transaction cannot be recalled, so a
    ticket cannot be cancelled."""

    __slots__ = ("_callbacks", "_done", "_error", "_receipt", "_waiter")

    def __init__(self) -> None:
        self._receipt: Receipt | None = None
        self._error: JournalError | None = None
        self._done = False
        self._waiter: threading.Event | None = None
        self._callbacks: list[Callable[[Ticket], None]] | None = None

    @classmethod
    def resolved(cls, receipt: Receipt) -> Ticket:
        ticket = cls()
        ticket._receipt, ticket._done = receipt, True
        return ticket

    def done(self) -> bool:
        return self._done

    def cancel(self) -> bool:
        """Always False: the transaction may already be on its way to disk."""
        return False

    def result(self, timeout: float | None = None) -> Receipt:
        """The receipt, waiting up to `timeout` seconds (None: as long as it takes).

        Raises TimeoutError if it is not durable by then, JournalError if the
        sequencer stopped before it was."""
        if not self._done:
            with _lock:
                waiter = None if self._done else self._waiter or threading.Event()
                if waiter is not None:
                    self._waiter = waiter
            if waiter is not None and not waiter.wait(timeout):
                raise TimeoutError("the receipt is not durable yet")
        if self._error is not None:
            raise self._error
        assert self._receipt is not None
        return self._receipt

    def add_done_callback(self, callback: Callable[[Ticket], None]) -> None:
        """Call `callback(ticket)` once resolved: on the sequencer's commit thread, or
        here and now if it already is."""
        with _lock:
            if not self._done:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(callback)
                return
        callback(self)

    async def wait(self) -> Receipt:
        """`result` for asyncio: the loop is woken from the commit thread."""
        if not self._done:
            loop = asyncio.get_running_loop()
            woken: asyncio.Future[None] = loop.create_future()

            def wake(_: Ticket) -> None:
                loop.call_soon_threadsafe(_set_if_pending, woken)

            self.add_done_callback(wake)
            await woken
        return self.result()

    def _resolve(self, receipt: Receipt | None, error: JournalError | None) -> None:
        with _lock:
            if self._done:
                return
            self._receipt, self._error, self._done = receipt, error, True
            waiter, callbacks = self._waiter, self._callbacks
            self._callbacks = None
        if waiter is not None:
            waiter.set()
        if callbacks:
            for callback in callbacks:
                callback(self)


def _set_if_pending(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
