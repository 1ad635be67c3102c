"""A ticket behaves as the future a caller waits on: woken once, by result or error,
callbacks run exactly once, asyncio awaits it without blocking its loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from clearhouse.core import ErrorCode, Rejected
from clearhouse.journal import JournalError, Receipt
from clearhouse.sequencer import Ticket

RECEIPT = Receipt(7, 6, Rejected(7, ErrorCode.BUSY, "x"), b"\x01" * 32)


def resolve_later(ticket: Ticket, delay_s: float = 0.05) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay_s), ticket._resolve(RECEIPT, None)))
    thread.start()
    return thread


def test_a_waiting_thread_is_woken_with_the_receipt() -> None:
    ticket = Ticket()
    thread = resolve_later(ticket)
    assert ticket.result(timeout=10) is RECEIPT and ticket.done()
    thread.join()


def test_a_ticket_not_resolved_in_time_says_so() -> None:
    ticket = Ticket()
    with pytest.raises(TimeoutError):
        ticket.result(timeout=0.01)
    assert not ticket.done()


def test_an_error_reaches_every_waiter_and_the_first_resolution_stands() -> None:
    ticket = Ticket()
    ticket._resolve(None, JournalError("disk full"))
    ticket._resolve(RECEIPT, None)  # too late: a ticket is resolved once
    with pytest.raises(JournalError, match="disk full"):
        ticket.result()


def test_callbacks_run_once_whether_added_before_or_after() -> None:
    ticket = Ticket()
    calls: list[str] = []
    ticket.add_done_callback(lambda t: calls.append("before"))
    ticket._resolve(RECEIPT, None)
    ticket.add_done_callback(lambda t: calls.append("after"))
    ticket._resolve(RECEIPT, None)
    assert calls == ["before", "after"]
    assert not ticket.cancel()


def test_asyncio_awaits_a_ticket_resolved_from_another_thread() -> None:
    async def main() -> tuple[Receipt, int]:
        ticket = Ticket()
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while not ticket.done():
                ticks += 1
                await asyncio.sleep(0.001)

        thread = resolve_later(ticket)
        ticker = asyncio.create_task(tick())
        receipt = await ticket.wait()
        await ticker
        thread.join()
        return receipt, ticks

    receipt, ticks = asyncio.run(main())
    assert receipt is RECEIPT
    assert ticks > 1  # the loop kept running while the ticket was pending
