"""Pre-trade controls beyond margin: the account kill switch, the per-key rate limit,
the price band, and market maker protection."""

from __future__ import annotations

from clearhouse.core import (
    Accepted,
    AmendOrder,
    CancelAll,
    CancelOrder,
    CancelReason,
    Deposit,
    EngineConfig,
    ErrorCode,
    ExpiryQuote,
    KillSwitch,
    KillSwitchSet,
    MMPReset,
    MMPTripped,
    OrderCancelled,
    PlaceOrder,
    Rejected,
    ResetMMP,
    SetMMP,
    Side,
    TimeInForce,
)
from clearhouse.core.catalogue import expiry_ns
from clearhouse.testing import TestVenue, standard_genesis

USD = 1_000_000
SECOND = 10**9
DEC26 = expiry_ns(2026, 12, 25)


def venue(config: EngineConfig | None = None) -> TestVenue:
    genesis = standard_genesis(
        ["alice", "bob"],
        config=config or EngineConfig(rate_limit_messages=0),
        market_makers=["mm"],
    )
    v = TestVenue(genesis)
    for who in ("alice", "bob", "mm"):
        v.apply(Deposit(who, "USDC", 10_000_000 * USD))
    v.oracle("BTC-USD", 100_000 * USD, (ExpiryQuote(DEC26, 600_000),))
    v.oracle("ETH-USD", 3_500 * USD)
    return v


def accepted(v: TestVenue, payload: object, by: str | None = None) -> list[object]:
    outcome = v.apply(payload, by=by)  # type: ignore[arg-type]
    assert isinstance(outcome, Accepted), outcome
    return list(outcome.events)


def refused(v: TestVenue, payload: object, code: ErrorCode, by: str | None = None) -> None:
    before = v.engine.digest()
    outcome = v.apply(payload, by=by)  # type: ignore[arg-type]
    assert isinstance(outcome, Rejected), outcome
    assert outcome.code is code, outcome
    assert v.engine.digest() == before


def bid(
    account: str, size: int = 1, price: int = 99_000, instrument: str = "BTC-PERP"
) -> PlaceOrder:
    return PlaceOrder(account, instrument, Side.BUY, size, price=price * USD)


def test_an_owner_kill_switch_cancels_everything_and_refuses_new_orders_until_released() -> None:
    v = venue()
    first = v.engine.seq + 1
    accepted(v, bid("alice"))
    accepted(v, bid("alice", instrument="ETH-PERP", price=3_400))
    events = accepted(v, KillSwitch("alice"))
    assert events[0] == KillSwitchSet("alice", True, False)
    cancelled = [e for e in events if isinstance(e, OrderCancelled)]
    assert [c.order_id for c in cancelled] == [first, first + 1]
    assert all(c.reason is CancelReason.KILL_SWITCH for c in cancelled)
    refused(v, bid("alice"), ErrorCode.ACCOUNT_KILLED)
    refused(v, KillSwitch("alice"), ErrorCode.KILL_SWITCH_UNCHANGED)
    refused(v, KillSwitch("alice"), ErrorCode.NOT_ACCOUNT_OWNER, by="bob")
    assert accepted(v, KillSwitch("alice", engaged=False)) == [KillSwitchSet("alice", False, False)]
    accepted(v, bid("alice"))


def test_a_risk_officers_kill_switch_holds_against_the_owner() -> None:
    v = venue()
    accepted(v, bid("bob"))
    events = accepted(v, KillSwitch("bob"), by="risk-officer")
    assert events[0] == KillSwitchSet("bob", True, True)
    refused(v, KillSwitch("bob", engaged=False), ErrorCode.KILL_SWITCH_HELD)
    refused(v, AmendOrder("bob", 1, size=2), ErrorCode.UNKNOWN_ORDER)  # cancelled by the switch
    accepted(v, KillSwitch("bob", engaged=False), by="risk-officer")
    accepted(v, bid("bob"))
    # An officer may take over an owner's switch (so the owner can no longer release it).
    accepted(v, KillSwitch("bob"))
    accepted(v, KillSwitch("bob"), by="risk-officer")
    refused(v, KillSwitch("bob", engaged=False), ErrorCode.KILL_SWITCH_HELD)


def test_surveillance_engages_any_accounts_kill_switch_and_only_a_risk_officer_releases_it() -> (
    None
):
    genesis = standard_genesis(
        ["alice", "bob"],
        config=EngineConfig(rate_limit_messages=0),
        market_makers=["mm"],
        surveillance=["watch"],
    )
    v = TestVenue(genesis)
    v.apply(Deposit("bob", "USDC", 10_000_000 * USD))
    v.oracle("BTC-USD", 100_000 * USD)
    accepted(v, bid("bob"))
    events = accepted(v, KillSwitch("bob"), by="watch")
    assert events[0] == KillSwitchSet("bob", True, True)
    assert any(isinstance(e, OrderCancelled) for e in events)
    refused(v, bid("bob"), ErrorCode.ACCOUNT_KILLED)
    refused(v, KillSwitch("bob", engaged=False), ErrorCode.ROLE_FORBIDDEN, by="watch")
    refused(v, KillSwitch("bob", engaged=False), ErrorCode.KILL_SWITCH_HELD)
    accepted(v, KillSwitch("bob", engaged=False), by="risk-officer")
    accepted(v, bid("bob"))
    # Surveillance signs no order, no cancel of its own: only the switch and halts.
    refused(v, CancelAll("bob"), ErrorCode.ROLE_FORBIDDEN, by="watch")


def test_the_rate_limit_counts_orders_and_amendments_per_key_and_never_cancels() -> None:
    v = venue(EngineConfig(rate_limit_messages=3, rate_limit_window_ns=SECOND))
    window = (v.now_ns // SECOND + 1) * SECOND
    v.now_ns = window  # the start of a fresh window
    v.step_ns = 1_000
    first = v.engine.seq + 1
    accepted(v, bid("alice"))
    accepted(v, bid("alice", price=98_000))
    accepted(v, AmendOrder("alice", first, price=97_000 * USD))
    refused(v, bid("alice"), ErrorCode.RATE_LIMITED)
    # Another key has its own budget; cancels are never limited.
    accepted(v, bid("bob"))
    accepted(v, CancelOrder("alice", first))
    accepted(v, CancelAll("alice"))
    v.now_ns = window + SECOND
    accepted(v, bid("alice"))


def test_a_limit_price_outside_the_band_is_refused() -> None:
    v = venue()
    refused(v, bid("alice", price=89_500), ErrorCode.PRICE_OUTSIDE_BAND)  # > 10 % under mark
    accepted(v, bid("alice", price=90_000))  # exactly 10 %
    perp_order = v.engine.seq
    refused(
        v,
        PlaceOrder("alice", "BTC-PERP", Side.SELL, 1, price=110_500 * USD),
        ErrorCode.PRICE_OUTSIDE_BAND,
    )
    # Options: the band is 10 % of the index (10,000 USD here) around the mark.
    option = "BTC-25DEC26-100000-C"
    mark = v.engine.depth(option).mark_price  # type: ignore[union-attr]
    refused(
        v,
        bid("alice", price=(mark + 10_005 * USD) // USD, instrument=option),
        ErrorCode.PRICE_OUTSIDE_BAND,
    )
    accepted(v, PlaceOrder("alice", option, Side.BUY, 1, price=mark + 10_000 * USD))
    # Amending to a price outside the band is refused too.
    refused(v, AmendOrder("alice", perp_order, price=80_000 * USD), ErrorCode.PRICE_OUTSIDE_BAND)


def quotes(v: TestVenue, size: int = 5) -> list[int]:
    """mm quotes both sides of BTC-PERP at three levels and one ETH bid; returns the ids."""
    ids = []
    for level in range(3):
        for side, price in ((Side.BUY, 99_900 - 100 * level), (Side.SELL, 100_100 + 100 * level)):
            accepted(v, PlaceOrder("mm", "BTC-PERP", side, size, price=price * USD))
            ids.append(v.engine.seq)
    accepted(v, PlaceOrder("mm", "ETH-PERP", Side.BUY, size, price=3_450 * USD))
    return ids


def test_mmp_trips_on_traded_quantity_and_pulls_the_quotes_on_that_underlying_only() -> None:
    v = venue()
    events = accepted(
        v, SetMMP("mm", "BTC-USD", window_ns=10 * SECOND, quantity_max=8, delta_max=10**12)
    )
    assert events[0].quantity_max == 8  # type: ignore[attr-defined]
    quotes(v)
    # 5 lots: within the limit.
    accepted(
        v,
        PlaceOrder(
            "alice", "BTC-PERP", Side.BUY, 5, price=100_100 * USD, time_in_force=TimeInForce.IOC
        ),
    )
    # 4 more: 9 > 8 in the window: tripped after this match.
    events = accepted(
        v,
        PlaceOrder(
            "alice", "BTC-PERP", Side.BUY, 4, price=100_200 * USD, time_in_force=TimeInForce.IOC
        ),
    )
    tripped = [e for e in events if isinstance(e, MMPTripped)]
    assert tripped == [MMPTripped("mm", "BTC-USD", 9, 9 * -1_000)]  # short 0.009 BTC of delta
    pulled = [e for e in events if isinstance(e, OrderCancelled) and e.reason is CancelReason.MMP]
    assert len(pulled) == 5  # three bids and what is left of the asks; ETH untouched
    assert all(e.instrument == "BTC-PERP" for e in pulled)
    assert v.engine.account("mm").open_orders == 1  # type: ignore[union-attr]
    refused(
        v, PlaceOrder("mm", "BTC-25DEC26", Side.BUY, 1, price=100_000 * USD), ErrorCode.MMP_TRIPPED
    )
    accepted(v, PlaceOrder("mm", "ETH-PERP", Side.BUY, 1, price=3_450 * USD))
    assert accepted(v, ResetMMP("mm", "BTC-USD")) == [MMPReset("mm", "BTC-USD")]
    accepted(v, PlaceOrder("mm", "BTC-PERP", Side.BUY, 1, price=99_000 * USD))


def test_mmp_forgets_fills_that_leave_the_window() -> None:
    v = venue()
    accepted(v, SetMMP("mm", "BTC-USD", window_ns=SECOND, quantity_max=8, delta_max=10**12))
    quotes(v)
    accepted(
        v,
        PlaceOrder(
            "alice", "BTC-PERP", Side.BUY, 5, price=100_100 * USD, time_in_force=TimeInForce.IOC
        ),
    )
    v.now_ns += 2 * SECOND
    events = accepted(
        v,
        PlaceOrder(
            "alice", "BTC-PERP", Side.BUY, 4, price=100_200 * USD, time_in_force=TimeInForce.IOC
        ),
    )
    assert not any(isinstance(e, MMPTripped) for e in events)


def test_mmp_trips_on_option_delta() -> None:
    v = venue()
    call = "BTC-25DEC26-100000-C"
    mark = v.engine.depth(call).mark_price  # type: ignore[union-attr]
    # 10 lots of a call are 0.1 BTC of underlying times its delta (about 0.6-0.7 here):
    # a delta limit of 0.05 BTC (50,000 micro-BTC) trips on the first 10-lot fill.
    accepted(
        v, SetMMP("mm", "BTC-USD", window_ns=10 * SECOND, quantity_max=1_000, delta_max=50_000)
    )
    accepted(v, PlaceOrder("mm", call, Side.SELL, 10, price=mark))
    accepted(v, PlaceOrder("mm", call, Side.SELL, 10, price=mark + 5 * USD))
    events = accepted(
        v, PlaceOrder("alice", call, Side.BUY, 10, price=mark, time_in_force=TimeInForce.IOC)
    )
    tripped = [e for e in events if isinstance(e, MMPTripped)]
    assert len(tripped) == 1 and tripped[0].quantity == 10
    assert -100_000 < tripped[0].delta < -50_000
    assert v.engine.account("mm").open_orders == 0  # type: ignore[union-attr]


def test_mmp_settings_are_checked() -> None:
    v = venue()
    refused(v, SetMMP("mm", "XRP-USD", SECOND, 1, 1), ErrorCode.UNKNOWN_INDEX)
    refused(v, SetMMP("mm", "BTC-USD", 0, 1, 1), ErrorCode.MMP_INVALID)
    refused(v, SetMMP("mm", "BTC-USD", SECOND, 0, 1), ErrorCode.MMP_INVALID)
    refused(v, SetMMP("mm", "BTC-USD", SECOND, 1, 0), ErrorCode.MMP_INVALID)
    refused(v, ResetMMP("mm", "BTC-USD"), ErrorCode.MMP_NOT_SET)
    refused(v, SetMMP("mm", "BTC-USD", SECOND, 1, 1), ErrorCode.NOT_ACCOUNT_OWNER, by="alice")


def test_mmp_counts_delta_in_millionths_of_the_underlying_whatever_its_atomic_unit() -> None:
    """ETH counts in wei (18 decimals): a 10 ETH fill is 10,000,000 micro-ETH of delta,
    not 10**19 wei, which would not fit the 64-bit event."""
    v = venue()
    accepted(
        v, SetMMP("mm", "ETH-USD", window_ns=10 * SECOND, quantity_max=10**6, delta_max=9_000_000)
    )
    accepted(v, PlaceOrder("mm", "ETH-PERP", Side.SELL, 1_000, price=3_500 * USD))
    events = accepted(
        v,
        PlaceOrder(
            "alice", "ETH-PERP", Side.BUY, 1_000, price=3_500 * USD, time_in_force=TimeInForce.IOC
        ),
    )
    assert MMPTripped("mm", "ETH-USD", 1_000, -10_000_000) in events
    v.engine.check_invariants()
