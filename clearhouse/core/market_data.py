"""Handler of the market-data family: OracleUpdate, and the marks it sets.

Each update is one source's observation (a source is an owner: its several keys are
one voice). The engine keeps every source's latest observation and moves the index
to the median of the fresh ones, never further in one update than the configured
bound from the last accepted value; a move beyond the circuit breaker's threshold
within its window halts every market on the index until a risk officer resumes it.

Marks follow from the accepted inputs:

- perpetuals: the index plus the book's premium (mid less index), capped;
- futures: the index plus the expiry's basis (bounded by `basis_max_bps` of the index);
- options: Black-76 (clearhouse.core.pricing) on the expiry's forward (index plus
  basis), with the smile's volatility at the strike and the time left in sequencer
  time, rounded half up to ticks and never below one tick.

Then portfolio risk arrays of the index are refreshed and every holder of an
instrument on the index has its margin call reviewed, and nobody else: an update
costs O(instruments and holders of that index).
"""

from __future__ import annotations

from decimal import Decimal

from clearhouse.core.authority import KeyRecord
from clearhouse.core.display import format_duration, format_time, format_units
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import (
    CircuitBreakerTripped,
    Event,
    ExpiryQuoted,
    HaltReason,
    IndexClamped,
    IndexPriceUpdated,
    MarketHalted,
    MarkPriceUpdated,
    OracleObserved,
)
from clearhouse.core.instruments import Kind, OptionType
from clearhouse.core.ledger import Account
from clearhouse.core.market import Market
from clearhouse.core.numbers import INT64_MAX, price_max_units
from clearhouse.core.oracle_state import IndexOracle, SourceObservation
from clearhouse.core.pricing import CTX, PPM, greeks_from_units, round_half_up
from clearhouse.core.state import State
from clearhouse.core.txs import ExpiryQuote, OracleUpdate

Result = list[Event] | Rejection

VOL_MAX_PPM = 10_000_000
"""1000 % a year: any volatility input above it is refused."""
MILLION = Decimal(PPM)


def to_ticks_half_up(price: int, tick_size: int) -> int:
    return max(1, (price + tick_size // 2) // tick_size)


def median(values: list[int]) -> int:
    """The median, the mean of the middle two rounded down for an even count."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) // 2


def smile_vol_ppm(quote: ExpiryQuote, forward: int, strike: int, floor_ppm: int) -> int:
    """vol(K) = atm + skew x (K - F) / F, rounded down, floored."""
    vol = quote.atm_vol_ppm + quote.skew_ppm * (strike - forward) // forward
    return max(floor_ppm, vol)


def oracle_update(
    state: State, tx: OracleUpdate, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    markets_on_index = state.index_markets.get(tx.index)
    if markets_on_index is None:
        return Rejection(ErrorCode.UNKNOWN_INDEX, f"unknown index {tx.index!r}")
    oracle = state.oracles[tx.index]
    price = tx.price
    if type(price) is not int:
        return Rejection(
            ErrorCode.WRONG_TYPE, f"price must be an integer, got {type(price).__name__}"
        )
    # Index prices are in the settlement units of the index's instruments.
    decimals = markets_on_index[0].spec.settlement_decimals if markets_on_index else 0
    if price <= 0:
        return Rejection(
            ErrorCode.PRICE_NOT_POSITIVE,
            f"price must be positive, got {format_units(price, decimals)}",
        )
    if price > price_max_units:
        return Rejection(
            ErrorCode.PRICE_TOO_LARGE,
            f"price {format_units(price, decimals)} exceeds the largest price "
            f"{format_units(price_max_units, decimals)}",
        )
    observed_ns = tx.observed_ns
    if type(observed_ns) is not int:
        return Rejection(ErrorCode.WRONG_TYPE, "observed_ns must be an integer")
    if observed_ns > timestamp_ns:
        return Rejection(
            ErrorCode.ORACLE_FROM_FUTURE,
            f"observed at {format_time(observed_ns)}, after its sequencing at {format_time(timestamp_ns)}",
        )
    staleness = state.config.oracle_staleness_ns
    if timestamp_ns - observed_ns > staleness:
        return Rejection(
            ErrorCode.ORACLE_STALE,
            f"observed {format_duration(timestamp_ns - observed_ns)} before sequencing, more than {format_duration(staleness)}",
        )
    source = signer.owner
    previous = oracle.sources.get(source)
    if previous is not None and observed_ns <= previous.observed_ns:
        return Rejection(
            ErrorCode.ORACLE_OUT_OF_ORDER,
            f"observed at {format_time(observed_ns)}, not after this source's last {format_time(previous.observed_ns)}",
        )
    quotes = _check_expiries(state, tx, markets_on_index)
    if type(quotes) is Rejection:
        return quotes

    # -- commit: nothing below may reject --------------------------------------
    oracle.sources[source] = SourceObservation(price, observed_ns, quotes)  # type: ignore[arg-type]
    fresh = [s for s in oracle.sources.values() if timestamp_ns - s.observed_ns <= staleness]
    events: list[Event] = [OracleObserved(tx.index, source, price, observed_ns, len(fresh))]
    if len(fresh) < state.config.oracle_sources_min:
        return events
    _accept_index(state, tx.index, oracle, median([s.price for s in fresh]), timestamp_ns, events)
    _accept_expiries(tx.index, oracle, fresh, events)
    mark_index(state, tx.index, timestamp_ns, events)
    return events


def _check_expiries(
    state: State, tx: OracleUpdate, markets: list[Market]
) -> dict[int, ExpiryQuote] | Rejection:
    if len(tx.expiries) > state.config.marks_per_update_max:
        return Rejection(
            ErrorCode.INVALID_VALUE,
            f"at most {state.config.marks_per_update_max} expiries per update",
        )
    expiries = {m.spec.expiry_ns for m in markets if m.spec.expiry_ns}
    quotes: dict[int, ExpiryQuote] = {}
    for quote in tx.expiries:
        for value in (quote.expiry_ns, quote.atm_vol_ppm, quote.skew_ppm, quote.basis):
            if type(value) is not int or abs(value) > INT64_MAX:
                return Rejection(ErrorCode.WRONG_TYPE, "expiry quote fields are 64-bit integers")
        if quote.expiry_ns not in expiries:
            return Rejection(
                ErrorCode.UNKNOWN_EXPIRY,
                f"no instrument on {tx.index} expires at {quote.expiry_ns}",
            )
        if quote.expiry_ns in quotes:
            return Rejection(ErrorCode.DUPLICATE_EXPIRY, f"expiry {quote.expiry_ns} quoted twice")
        if not 0 <= quote.atm_vol_ppm <= VOL_MAX_PPM or abs(quote.skew_ppm) > VOL_MAX_PPM:
            return Rejection(
                ErrorCode.VOLATILITY_INVALID,
                f"atm vol must be 0..{VOL_MAX_PPM} ppm and |skew| at most {VOL_MAX_PPM}",
            )
        basis_max = state.config.basis_max_bps
        decimals = markets[0].spec.settlement_decimals if markets else 0
        if (
            abs(quote.basis) * 10_000 > tx.price * basis_max
            or tx.price + quote.basis > price_max_units
        ):
            return Rejection(
                ErrorCode.BASIS_INVALID,
                f"basis {format_units(quote.basis, decimals)} is more than {basis_max} bps "
                f"of the index {format_units(tx.price, decimals)}",
            )
        quotes[quote.expiry_ns] = quote
    return quotes


def _accept_index(
    state: State, index: str, oracle: IndexOracle, proposed: int, now: int, events: list[Event]
) -> None:
    config = state.config
    last = oracle.price
    accepted = proposed
    if last:
        bound = last * config.oracle_move_max_bps // 10_000
        accepted = min(max(proposed, last - bound), last + bound)
        if accepted != proposed:
            events.append(IndexClamped(index, proposed, accepted))
    breaker = config.circuit_breaker_bps
    if breaker and oracle.history:
        start = now - config.circuit_breaker_window_ns
        reference = _breaker_reference(oracle.history, start, accepted, breaker)
        newly_halted = [
            m for m in state.index_markets[index] if m.halt_reason is None and not m.settled
        ]
        if reference and newly_halted:
            events.append(
                CircuitBreakerTripped(index, reference, accepted, config.circuit_breaker_window_ns)
            )
            for market in newly_halted:
                market.halt_reason = HaltReason.CIRCUIT_BREAKER
                events.append(MarketHalted(market.spec.id, HaltReason.CIRCUIT_BREAKER))
    oracle.price = accepted
    oracle.updated_ns = now
    state.index_prices[index] = accepted
    history = oracle.history
    if history and history[-1][0] == now:
        history[-1] = (now, accepted)
    else:
        history.append((now, accepted))
    _prune_history(state, index, oracle, now)
    events.append(IndexPriceUpdated(index, accepted))


def _breaker_reference(
    history: list[tuple[int, int]], start: int, price: int, breaker_bps: int
) -> int:
    """A price in force within the window that `price` moved more than the breaker
    from (the first such, oldest first), or 0."""
    in_force: list[int] = []
    """The price in force at the window's start, then every later one."""
    for at, value in history:
        if at <= start:
            in_force = [value]
        else:
            in_force.append(value)
    for reference in in_force:
        if abs(price - reference) * 10_000 > reference * breaker_bps:
            return reference
    return 0


def _prune_history(state: State, index: str, oracle: IndexOracle, now: int) -> None:
    """Forget what neither the breaker nor any settlement still to come can need: keep
    the points from the earliest start of a window and the one in force at it."""
    config = state.config
    cutoff = now - max(config.circuit_breaker_window_ns, config.settlement_window_ns)
    for market in state.index_markets[index]:
        expiry = market.spec.expiry_ns
        if expiry and not market.settled and expiry <= now:
            cutoff = min(cutoff, expiry - config.settlement_window_ns)
    history = oracle.history
    keep_from = 0
    for position, (at, _) in enumerate(history):
        if at <= cutoff:
            keep_from = position
        else:
            break
    if keep_from:
        del history[:keep_from]


def _accept_expiries(
    index: str, oracle: IndexOracle, fresh: list[SourceObservation], events: list[Event]
) -> None:
    quoted: dict[int, list[ExpiryQuote]] = {}
    for source in fresh:
        for expiry_ns, quote in source.expiries.items():
            quoted.setdefault(expiry_ns, []).append(quote)
    for expiry_ns in sorted(quoted):
        quotes = quoted[expiry_ns]
        accepted = ExpiryQuote(
            expiry_ns,
            median([q.atm_vol_ppm for q in quotes]),
            median([q.skew_ppm for q in quotes]),
            median([q.basis for q in quotes]),
        )
        if oracle.expiries.get(expiry_ns) != accepted:
            oracle.expiries[expiry_ns] = accepted
            events.append(
                ExpiryQuoted(
                    index, expiry_ns, accepted.atm_vol_ppm, accepted.skew_ppm, accepted.basis
                )
            )


def mark_index(state: State, index: str, now: int, events: list[Event]) -> None:
    """Re-mark every live instrument on `index` from the accepted inputs, refresh the
    index's risk arrays, and review the margin of its holders."""
    oracle = state.oracles[index]
    price = oracle.price
    markets = state.index_markets[index]
    floor = state.config.vol_min_ppm
    for market in markets:
        if market.settled:
            continue
        spec = market.spec
        if spec.kind is Kind.PERPETUAL:
            mark_ticks = _perpetual_mark(state, market, price, now)
        else:
            quote = oracle.expiries.get(spec.expiry_ns)
            # Bounded again against the index now accepted, which may have moved since
            # the basis was quoted: the forward stays at least half the index.
            bound = price * state.config.basis_max_bps // 10_000
            basis = 0 if quote is None else min(max(quote.basis, -bound), bound)
            market.basis = basis
            forward = price + basis
            if spec.kind is Kind.FUTURE:
                mark_ticks = to_ticks_half_up(forward, spec.tick_size)
            elif quote is None or quote.atm_vol_ppm == 0:
                continue  # an option prices only once its expiry has a volatility
            else:
                vol = smile_vol_ppm(quote, forward, spec.strike, floor)
                greeks = greeks_from_units(
                    forward,
                    spec.strike,
                    vol,
                    max(0, spec.expiry_ns - now),
                    spec.option_type is OptionType.CALL,
                )
                market.vol_ppm = vol
                market.delta_ppm = round_half_up(CTX.multiply(greeks.delta, MILLION))
                mark_ticks = max(1, _ticks_half_up(greeks.price, spec.tick_size))
        if mark_ticks != market.mark:
            market.mark = mark_ticks
            events.append(MarkPriceUpdated(spec.id, mark_ticks * spec.tick_size))
    state.portfolio_margin.refresh_index(index)
    _review_holders(state, markets, events)


def _ticks_half_up(price: Decimal, tick_size: int) -> int:
    return round_half_up(CTX.divide(price, Decimal(tick_size)))


def _perpetual_mark(state: State, market: Market, index_price: int, now: int) -> int:
    """Index plus the book's premium (mid less index, capped); the premium is also
    integrated over time for funding."""
    tick_size = market.spec.tick_size
    index_ticks = to_ticks_half_up(index_price, tick_size)
    if market.premium_since_ns:
        market.premium_sum += market.premium * (now - market.premium_since_ns)
    market.premium_since_ns = now
    if not market.funding_last_ns:
        market.funding_last_ns = now
    bid = market.book.bids.best_price()
    ask = market.book.asks.best_price()
    premium = 0
    if bid is not None and ask is not None:
        cap = index_ticks * state.config.perp_premium_cap_bps // 10_000
        premium = min(max((bid + ask) // 2 - index_ticks, -cap), cap)
    market.premium = premium
    return max(1, index_ticks + premium)


def _review_holders(state: State, markets: list[Market], events: list[Event]) -> None:
    # Margin depends on the index even where an instrument's own mark did not move,
    # so every holder on the index is reviewed, each once, in first-seen order.
    seen: dict[str, Account] = {}
    for market in markets:
        for account_id, account in market.holders.items():
            if account_id not in seen:
                seen[account_id] = account
    for account in seen.values():
        state.review_margin_call(account, events)
