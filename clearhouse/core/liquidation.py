"""Handler of Liquidate: close out an account whose equity is below maintenance margin.

A keeper signs `Liquidate(account)`. The checks are the account's existence and
that its equity is below its maintenance requirement (`State.margin_call_levels`:
its margin model's; for the insurance fund, zero, see below; the margin call flag
must say the same, or the state is broken and the engine stops). Nothing rejects
after that: the rest is commit, and every step is an event.

1. `LiquidationStarted(account, equity, maintenance)`; every open order of the
   account is cancelled (reason `liquidation`).
2. While equity is below maintenance and a position is left, the worst risk is
   closed first: the position with the largest standard maintenance requirement
   (portfolio requirements do not split per position, so portfolio accounts are
   ranked the same way), ties by instrument id. A position is closed whole, through
   up to three stages, each followed by the same checks (positions emptied are
   dropped, the margin calls of every account touched reviewed, open interest long
   == short, the book uncrossed, collateral conserved):

   - **book**: an IOC order for the whole position with its limit at the
     bankruptcy price (below), matched like any taker order (`plan_match`,
     `execute`; its order id is the transaction's sequence number). The liquidated
     side pays no taker fee: instead the liquidation fee, `liquidation_fee_bps` of
     each fill's notional rounded up, goes to the insurance fund, capped so that it
     never takes the account's equity below zero, counting the lots the book left
     as closed at the bankruptcy price (`LiquidationFeeCharged`, one per book
     stage). Makers pay or earn their usual maker fee. A halted, expired or
     settled market has no open book: the stage is skipped.
   - **insurance fund**: the fund (`State.insurance`) takes over what the book
     did not absorb, at the bankruptcy price, with no fee (`PositionTakenOver`). It
     takes only as many lots as its equity (cash plus its positions at the mark,
     never less than zero) can bear: the loss of a lot taken over is
     (bankruptcy - mark) x tick value for a long, the mirror for a short; a lot
     taken at or better than the mark costs nothing and the fund takes them all.
     A long option's premium is paid in cash at the bankruptcy price, so of those
     it takes no more than its cash pays for. It never goes beyond the
     instrument's position limit. A fund whose equity is negative takes nothing
     over; nor does the fund from itself (the stage is skipped when the fund is
     the account liquidated).
   - **auto-deleveraging**: the rest closes against the holders on the other side,
     best ranked first, each for at most its own size (`PositionDeleveraged`, with
     the counterparty's size signed as it held it and its rank from 1). Ranked
     first are the accounts in profit on the instrument with positive equity, by
     profit x leverage = (unrealized P&L / |entry notional|) x (|mark notional| /
     equity), compared exactly by cross-multiplication, highest first; then every
     other holder, by unrealized P&L / |entry notional|, highest first; ties by
     account id; the insurance fund comes last. Open interest on the other side
     equals the position's own side, so the list always suffices. The price is the
     bankruptcy price, but never worse for the counterparty than the better of its
     average entry price (rounded to a tick in its favour) and the mark: an account
     in profit gives up at most its unrealized profit on these lots and never
     realizes a loss; one at a loss closes at the mark, so its equity is unchanged.

3. If the account ends with no position and negative cash, that deficit is bad
   debt (`cover_deficit`): the insurance fund's free cash (its cash, at most its
   equity, never below zero) pays what it can; the rest is charged to every other
   account with positive cash (not the fund), pro rata to that cash, each share
   rounded down and the units left over given one each to the largest balances
   (ties by account id), so the charges sum to the rest exactly and nobody's cash
   goes below zero (`LossSocialized`, `State.socialized_total`). If the accounts
   with cash hold less than the rest, each is charged all of it and the remainder
   stays on the flat account: an invariant then stops the engine, since conserved
   collateral makes that impossible.
4. If the insurance fund's cash is below zero (a deleveraged close of one of its
   positions), that shortfall is socialized the same way (`cover_fund_shortfall`,
   also run after funding and settlement): the fund's cash never stays negative.
   The fund's margin call is reviewed there too.
5. The account's margin call is reviewed and `LiquidationEnded(account, equity,
   maintenance)` closes the list.

The insurance fund's own shortfall. The positions the fund took over need no
margin, but their losses must stay within what it holds: its maintenance is zero,
so it enters a margin call (`MarginCallStarted(fund, equity, 0)`) as soon as its
equity (cash plus its positions at the mark) is negative, and the keeper
liquidates it like any account, until its equity is back at zero or above:
LiquidationStarted, its orders cancelled, its positions closed worst risk first at
their bankruptcy price (which, with negative equity, lies beyond the mark: the
loss stops at what the fund holds) through the book with no liquidation fee, then
by auto-deleveraging against the opposite holders, those in profit first, who give
up at most their unrealized profit on the lots; what that leaves below zero in its
cash is socialized (step 4). While in the call, the fund may only reduce risk:
reduce-only orders, no takeover. So its equity is never silently negative: either
it is at least zero, or its margin call is open and evented, and the invariant
sweep checks which.

Bankruptcy price, computed once per position for all its stages: the price at
which closing the whole position of q lots would leave the account's equity E
(settlement units, before the close) exactly zero, from the mark m in ticks: long
P = m - E / (q x tick value) rounded up (never sell below it), short
P = m + E / (|q| x tick value) rounded down; options the same, their value being
the mark x tick value per lot. With E <= 0 the price lies on the far side of the
mark (a long must sell above it). It is never below one tick.
"""

from __future__ import annotations

from functools import cmp_to_key

from clearhouse.core.authority import KeyRecord
from clearhouse.core.display import format_settlement
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import (
    CancelReason,
    Event,
    LiquidationEnded,
    LiquidationFeeCharged,
    LiquidationStarted,
    LossSocialized,
    PositionDeleveraged,
    PositionTakenOver,
)
from clearhouse.core.ledger import Account, Position
from clearhouse.core.market import Market
from clearhouse.core.outcomes import InvariantViolation
from clearhouse.core.state import State
from clearhouse.core.trading import (
    FILL,
    _fill,
    cancel_orders,
    check_market,
    execute,
    plan_match,
    trip_mmp,
)
from clearhouse.core.txs import Liquidate, SelfTradePrevention

Result = list[Event] | Rejection

# Ranks of deleveraging counterparties: profitable with positive equity, the rest,
# then the insurance fund.
_PROFITABLE = 0
_OTHER = 1
_FUND = 2

# (rank group, numerator, denominator, account id, account): the score is num / den.
_Candidate = tuple[int, int, int, str, Account]


def liquidate(
    state: State, tx: Liquidate, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    account = state.accounts.get(tx.account)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.account!r}")
    equity, maintenance = state.margin_call_levels(account)
    below = equity < maintenance
    if below != account.in_margin_call:
        raise InvariantViolation(
            f"{account.id}: below maintenance is {below} but margin call flag is {account.in_margin_call}"
        )
    if not below:
        return Rejection(
            ErrorCode.NOT_LIQUIDATABLE,
            f"{account.id}: equity {_money(state, equity)} covers maintenance margin"
            f" {_money(state, maintenance)}",
        )

    # -- commit: nothing below may reject --------------------------------------
    events: list[Event] = [LiquidationStarted(account.id, equity, maintenance)]
    cancel_orders(state, account, None, CancelReason.LIQUIDATION, events)
    for instrument in riskiest_first(state, account):
        equity, maintenance = state.margin_call_levels(account)
        if equity >= maintenance:
            break
        _close_position(state, account, account.positions[instrument], seq, timestamp_ns, events)
    if account.cash < 0 and not account.positions:
        cover_deficit(state, account, events)
    cover_fund_shortfall(state, events)
    state.review_margin_call(account, events)
    equity, maintenance = state.margin_call_levels(account)
    events.append(LiquidationEnded(account.id, equity, maintenance))
    if account.cash < 0 and not account.positions:
        raise InvariantViolation(
            f"{account.id}: left flat with bad debt {-account.cash} that nobody could cover"
        )
    if state.is_insurance(account) and equity < 0:
        raise InvariantViolation(f"{account.id}: shortfall {-equity} left unresolved")
    return events


def _money(state: State, units: int) -> str:
    specs = [market.spec for market in state.markets.values()]
    return format_settlement(units, specs, state.config.settlement_asset)


def riskiest_first(state: State, account: Account) -> list[str]:
    """The account's open positions, largest standard maintenance requirement first,
    ties by instrument id."""
    scored = [
        (-position_maintenance(state, position), instrument)
        for instrument, position in account.positions.items()
        if position.qty
    ]
    return [instrument for _, instrument in sorted(scored)]


def position_maintenance(state: State, position: Position) -> int:
    """The standard maintenance requirement of one position on its own."""
    alone = Account("")
    alone.positions[position.market.spec.id] = position
    return state.margin.maintenance_requirement(alone)


def bankruptcy_price(mark: int, qty: int, equity: int, tick_value: int) -> int:
    """Ticks at which closing `qty` lots marked at `mark` leaves `equity` at zero:
    rounded so the close never costs more than the equity, and at least one tick."""
    if qty > 0:
        return max(1, mark - equity // (qty * tick_value))
    return max(1, mark + equity // (-qty * tick_value))


def _close_position(
    state: State,
    account: Account,
    position: Position,
    seq: int,
    timestamp_ns: int,
    events: list[Event],
) -> None:
    market = position.market
    spec = market.spec
    bankruptcy = bankruptcy_price(
        market.mark, position.qty, state.margin_of(account).equity(account), market.tick_value
    )
    expired = spec.expiry_ns != 0 and timestamp_ns >= spec.expiry_ns
    if not (market.halted or market.settled or expired):
        touched = _book_stage(state, account, position, bankruptcy, seq, timestamp_ns, events)
        _end_stage(state, market, touched, events)
    if position.qty and not state.is_insurance(account):
        touched = _fund_stage(state, account, position, bankruptcy, events)
        _end_stage(state, market, touched, events)
    if position.qty:
        touched = _deleverage_stage(state, account, position, bankruptcy, events)
        _end_stage(state, market, touched, events)
    if position.qty:
        raise InvariantViolation(f"{account.id}/{spec.id}: {position.qty} lots left unclosed")


def _book_stage(
    state: State,
    account: Account,
    position: Position,
    bankruptcy: int,
    seq: int,
    timestamp_ns: int,
    events: list[Event],
) -> list[Account]:
    market = position.market
    is_buy = position.qty < 0
    size = abs(position.qty)
    plan = plan_match(
        market, account.id, is_buy, bankruptcy, size, SelfTradePrevention.CANCEL_TAKER
    )
    if plan.filled == 0:
        return [account]
    tick_value = market.tick_value
    # The fund closing its own positions owes the fee to itself: it pays none.
    fee_bps = 0 if state.is_insurance(account) else state.config.liquidation_fee_bps
    fee = 0
    for order, quantity, kind in plan.steps:
        if kind == FILL:
            fee += -(-order.price * quantity * tick_value * fee_bps // 10_000)
    tripped: list[Account] = []
    makers = execute(
        state,
        market,
        account,
        position,
        seq,
        is_buy,
        size,
        plan,
        events,
        timestamp_ns,
        tripped,
        taker_fee_bps=0,
    )
    touched = [account, *makers]
    # What the account would be worth with the lots left closed at the bankruptcy
    # price, as the later stages close them at best: the fee never takes that below 0.
    equity = state.margin_of(account).equity(account)
    left_at_bankruptcy = (bankruptcy - market.mark) * position.qty * tick_value
    fee = min(fee, max(0, equity + left_at_bankruptcy))
    if fee:
        fund = state.insurance(events)
        state.credit(account, -fee)
        state.credit(fund, fee)
        events.append(LiquidationFeeCharged(account.id, market.spec.id, fee))
    for maker in tripped:
        trip_mmp(state, maker, market.spec.index, events)
    return touched


def _fund_stage(
    state: State, account: Account, position: Position, bankruptcy: int, events: list[Event]
) -> list[Account]:
    market = position.market
    spec = market.spec
    qty = position.qty
    lots = abs(qty)
    loss_per_lot = (bankruptcy - market.mark if qty > 0 else market.mark - bankruptcy) * (
        market.tick_value
    )
    fund = state.insurance_if_open()
    held = 0
    if fund is not None and spec.id in fund.positions:
        held = fund.positions[spec.id].qty
    allowance = 0 if fund is None else state.margin.equity(fund)
    if allowance < 0:
        return [account]  # a fund in shortfall takes nothing more over, not even at a gain
    if loss_per_lot > 0:
        lots = min(lots, allowance // loss_per_lot)
    if not market.is_linear and qty > 0:
        # Taking over a long option pays its premium in cash at the bankruptcy price:
        # the fund takes no more than its cash pays for.
        premium_per_lot = bankruptcy * market.tick_value
        lots = min(lots, (0 if fund is None else max(0, fund.cash)) // premium_per_lot)
    # The fund's position after taking `lots` on the side of `qty` stays within the limit.
    room = spec.position_max_lots - (held if qty > 0 else -held)
    lots = min(lots, max(0, room))
    if lots == 0:
        return [account]
    fund = state.insurance(events)
    taken = lots if qty > 0 else -lots
    _fill(state, market, account, position, -taken, bankruptcy, 0)
    _fill(state, market, fund, fund.position(market), taken, bankruptcy, 0)
    events.append(PositionTakenOver(account.id, spec.id, taken, bankruptcy * spec.tick_size))
    return [account, fund]


def _deleverage_stage(
    state: State, account: Account, position: Position, bankruptcy: int, events: list[Event]
) -> list[Account]:
    market = position.market
    spec = market.spec
    touched = [account]
    remaining = abs(position.qty)
    for rank, counterparty in enumerate(deleverage_ranking(state, account, market), 1):
        if remaining == 0:
            break
        held = counterparty.positions[spec.id]
        lots = min(remaining, abs(held.qty))
        price = deleverage_price(bankruptcy, held, market.mark)
        signed = lots if held.qty > 0 else -lots
        # The liquidated account trades the counterparty's side of its own close.
        _fill(state, market, account, position, signed, price, 0)
        _fill(state, market, counterparty, held, -signed, price, 0)
        remaining -= lots
        touched.append(counterparty)
        events.append(
            PositionDeleveraged(
                account.id, counterparty.id, spec.id, signed, price * spec.tick_size, rank
            )
        )
    return touched


def deleverage_ranking(state: State, account: Account, market: Market) -> list[Account]:
    """The holders on the other side of `account`'s position in `market`, in the order
    auto-deleveraging closes them (see the module docstring)."""
    spec_id = market.spec.id
    own_long = account.positions[spec_id].qty > 0
    mark = market.mark
    tick_value = market.tick_value
    candidates: list[_Candidate] = []
    for holder_id, holder in market.holders.items():
        if holder is account:
            continue
        held = holder.positions[spec_id]
        if (held.qty > 0) == own_long:
            continue
        if state.is_insurance(holder):
            candidates.append((_FUND, 0, 1, holder_id, holder))
            continue
        profit = (mark * held.qty - held.cost) * tick_value
        entry_notional = max(1, abs(held.cost) * tick_value)
        equity = state.margin_of(holder).equity(holder)
        if profit > 0 and equity > 0:
            mark_notional = mark * abs(held.qty) * tick_value
            candidates.append(
                (_PROFITABLE, profit * mark_notional, entry_notional * equity, holder_id, holder)
            )
        else:
            candidates.append((_OTHER, profit, entry_notional, holder_id, holder))
    candidates.sort(key=cmp_to_key(_compare_candidates))
    return [candidate[4] for candidate in candidates]


def _compare_candidates(a: _Candidate, b: _Candidate) -> int:
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    # Higher score first: a/b vs c/d with positive denominators, by cross-multiplying.
    left = a[1] * b[2]
    right = b[1] * a[2]
    if left != right:
        return -1 if left > right else 1
    if a[3] != b[3]:
        return -1 if a[3] < b[3] else 1
    return 0


def deleverage_price(bankruptcy: int, held: Position, mark: int) -> int:
    """The bankruptcy price, clamped to be no worse for the holder of `held` than the
    better of its average entry (rounded to a tick in its favour) and the mark."""
    if held.qty < 0:
        # A short buys back: at most its entry rounded down, or the mark if higher.
        return min(bankruptcy, max(held.cost // held.qty, mark))
    # A long sells: at least its entry rounded up, or the mark if lower.
    return max(bankruptcy, min(-(-held.cost // held.qty), mark))


def cover_fund_shortfall(state: State, events: list[Event]) -> None:
    """The insurance fund's cash never stays below zero: what it owes beyond its cash
    (funding or settlement of positions it took over, a deleveraged close) is a loss
    the exhausted fund cannot bear, socialized at once like any other deficit. Then
    its margin call is reviewed, since its equity moved outside any trade: here, and
    in the caller (a liquidation fee, a funding remainder, a settlement)."""
    fund = state.insurance_if_open()
    if fund is None:
        return
    if fund.cash < 0:
        cover_deficit(state, fund, events)
    state.review_margin_call(fund, events)


def cover_deficit(state: State, account: Account, events: list[Event]) -> None:
    """Pay an account's negative cash: the insurance fund's free cash first (unless it
    is the fund's own), then the other accounts with positive cash, pro rata (see the
    module docstring)."""
    deficit = -account.cash
    if deficit <= 0:
        return
    fund = state.insurance_if_open()
    paid = 0
    if fund is not None and fund is not account:
        free = max(0, min(fund.cash, state.margin.equity(fund)))
        paid = min(deficit, free)
        if paid:
            state.credit(fund, -paid)
            state.credit(account, paid)
    rest = deficit - paid
    charges: list[tuple[str, int]] = []
    charged: list[Account] = []
    if rest:
        payers = [
            payer
            for payer in state.accounts.values()
            if payer.cash > 0 and payer is not account and not state.is_insurance(payer)
        ]
        shares = _pro_rata(rest, [payer.cash for payer in payers], [p.id for p in payers])
        for payer, share in zip(payers, shares, strict=True):
            if share:
                state.credit(payer, -share)
                state.credit(account, share)
                charges.append((payer.id, share))
                charged.append(payer)
        charges.sort()
    amount = sum(share for _, share in charges)
    state.socialized_total += amount
    events.append(LossSocialized(account.id, deficit, paid, amount, tuple(charges)))
    for payer in charged:
        state.review_margin_call(payer, events)
    state.check_conservation()


def _pro_rata(amount: int, balances: list[int], ids: list[str]) -> list[int]:
    """Split `amount` over positive `balances` in proportion to them, each share
    rounded down and the units left given one each to the largest balances (ties by
    id): the shares sum to `amount` and none exceeds its balance. If the balances
    hold less than `amount`, each share is its whole balance."""
    total = sum(balances)
    if total <= amount:
        return list(balances)
    shares = [amount * balance // total for balance in balances]
    left = amount - sum(shares)
    # Each share lost less than one unit, so fewer units are left than there are
    # balances, and a share rounded down is below its balance, so one more fits.
    largest = sorted(range(len(balances)), key=lambda i: (-balances[i], ids[i]))
    for i in largest[:left]:
        shares[i] += 1
    return shares


def _end_stage(state: State, market: Market, touched: list[Account], events: list[Event]) -> None:
    """After each stage: drop emptied positions, review margin calls, check the
    instrument's open interest and book, and conservation."""
    spec_id = market.spec.id
    seen: dict[str, Account] = {}
    for account in touched:
        if account.id in seen:
            continue
        seen[account.id] = account
        position = account.positions.get(spec_id)
        if position is not None:
            state.drop_if_empty(account, position)
        state.review_margin_call(account, events)
    check_market(state, market)
