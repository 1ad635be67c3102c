"""Handler of FundingTick: a perpetual's holders pay each other funding.

The premium of a perpetual (its mark less the index, ticks, capped at marking) is
integrated over sequencer time by `market_data._perpetual_mark` into
`premium_sum` (premium x ns). A tick, due once `funding_interval_ns` has passed
since the last one, first integrates the premium in force up to now, then pays
for the whole period since the last funding at once:

    rate_ppm = premium_sum x 10^6 / (funding_interval_ns x the index now, in ticks)

that is, the time-weighted average premium as a fraction of the index, per
interval, times the number of intervals the period spans (a fraction counts: a
late tick pays for the time it was late, a missed interval is paid by the next
tick, and nothing is paid twice). It is capped at `funding_cap_bps` per interval
(the cap scales with the period the same way) and rounded toward zero to whole
parts per million, cap included.

A holder of q lots pays q x mark x tick_value x rate_ppm / 10^6 (the mark now): longs pay shorts
when the rate is positive (mark above index), shorts pay longs when negative.
Payers pay rounded up and receivers get rounded down, so the venue never pays out
more than it takes in; the difference goes to the insurance fund, and payments,
receipts and the remainder sum to exactly zero. A holder whose amount rounds to
zero gets no AccountFunded event.

Then the premium integral restarts from now, and holders have their margin calls
reviewed.
"""

from __future__ import annotations

from clearhouse.core.authority import KeyRecord
from clearhouse.core.display import format_time
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import AccountFunded, Event, FundingPaid
from clearhouse.core.instruments import Kind
from clearhouse.core.liquidation import cover_fund_shortfall
from clearhouse.core.market_data import to_ticks_half_up
from clearhouse.core.pricing import PPM
from clearhouse.core.state import State
from clearhouse.core.txs import FundingTick

Result = list[Event] | Rejection


def funding_tick(
    state: State, tx: FundingTick, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    market = state.markets.get(tx.instrument)
    if market is None:
        return Rejection(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {tx.instrument!r}")
    spec = market.spec
    if spec.kind is not Kind.PERPETUAL:
        return Rejection(ErrorCode.NOT_A_PERPETUAL, f"{spec.id} is not a perpetual")
    if market.mark == 0:
        return Rejection(ErrorCode.NO_MARK_PRICE, f"{spec.id} has no mark price yet")
    interval = state.config.funding_interval_ns
    due = market.funding_last_ns + interval
    if timestamp_ns < due:
        return Rejection(
            ErrorCode.FUNDING_NOT_DUE,
            f"funding of {spec.id} is due at {format_time(due)}, now {format_time(timestamp_ns)}",
        )

    # -- commit: nothing below may reject --------------------------------------
    start = market.funding_last_ns
    premium_sum = market.premium_sum + market.premium * (timestamp_ns - market.premium_since_ns)
    index_price = state.index_prices[spec.index]
    rate_ppm = funding_rate_ppm(
        premium_sum,
        to_ticks_half_up(index_price, spec.tick_size),
        timestamp_ns - start,
        interval,
        state.config.funding_cap_bps,
    )
    owed: list[tuple[str, int]] = []
    paid = received = 0
    for account in market.holders.values():
        due_units = account.positions[spec.id].qty * market.mark * market.tick_value * rate_ppm
        if due_units > 0:
            amount = -(-due_units // PPM)
            paid += amount
            owed.append((account.id, -amount))
        elif due_units < 0:
            amount = -due_units // PPM
            received += amount
            owed.append((account.id, amount))
    remainder = paid - received
    events: list[Event] = [
        FundingPaid(
            spec.id,
            rate_ppm,
            index_price,
            market.mark * spec.tick_size,
            start,
            timestamp_ns,
            paid,
            received,
            remainder,
        )
    ]
    for account_id, amount in owed:
        if amount:
            state.credit(state.accounts[account_id], amount)
            events.append(AccountFunded(account_id, spec.id, amount))
    if remainder:
        state.credit(state.insurance(events), remainder)
    cover_fund_shortfall(state, events)
    market.premium_sum = 0
    market.premium_since_ns = timestamp_ns
    market.funding_last_ns = timestamp_ns
    for account in market.holders.values():
        state.review_margin_call(account, events)
    state.check_conservation()
    return events


def funding_rate_ppm(
    premium_sum: int, index_ticks: int, elapsed_ns: int, interval_ns: int, cap_bps: int
) -> int:
    """The rate of one funding payment, ppm of the notional: the average premium over
    `elapsed_ns` as a fraction of the index, scaled to `elapsed_ns / interval_ns`
    intervals, capped at `cap_bps` per interval, rounded toward zero. The genesis
    keeps `interval_ns` and every index price positive."""
    rate = _toward_zero(premium_sum * PPM, interval_ns * index_ticks)
    cap = cap_bps * 100 * elapsed_ns // interval_ns
    return min(max(rate, -cap), cap)


def _toward_zero(numerator: int, denominator: int) -> int:
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient
