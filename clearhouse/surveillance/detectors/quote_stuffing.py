"""Quote stuffing: bursts of orders and cancels far above the account's own norm,
sent to load the venue and its feeds rather than to trade.

The pattern (MAR Article 12(2)(c) and ESMA's indicators: orders "which have the
effect of disrupting or delaying the functioning of the trading system" or "making
it more difficult for other persons to identify genuine orders"; CME Rule 575.D,
messages "with intent to overload, delay, or disrupt the systems of the Exchange";
the bursts of thousands of quotes a second seen in the 2010 flash crash): within
a second an account sends many times the messages it normally sends in a second,
orders placed away from the touch and cancelled at once, almost none of them
trading. What the detector sees, per account (all its instruments):

1. its accepted trading messages (PlaceOrder, CancelOrder, CancelAll,
   AmendOrder) in the last `window_ns`: what reaches the book and its public
   feed, which is what stuffing loads (a refused order is never published; a
   flood of refusals is a broken client, the reject-rate detector's business);
2. its norm: the `norm_pct`-th percentile of its message counts in each
   `window_ns` bucket of the last `norm_ns` (silent buckets count as zero), once
   it has been seen for `warmup_ns`: a steady high-rate market maker's norm is
   its own high rate;
3. a burst: the count of step 1 reaches `burst_min` and `burst_multiple_pct` of
   the norm, while the account's trades in the window stay within
   `traded_share_max_pct` of its messages.

The alert is raised at the message that completes step 3. Evidence: the burst's
messages in the window (the first `evidence_max`). One alert per episode: the
episode goes on while the account's count stays at or above half the threshold,
and ends a window after it falls below. Score: from how far above its norm and
above `burst_min` the burst went, and how little of it traded.

Parameters (`QuoteStuffingParams`), defaults and why:
    window_ns 1 s               rates are read per second, as venues state them.
    norm_ns 60 s                a minute of the account's own behaviour.
    norm_pct 90                 the account's busy seconds, not its average: a
                                market maker whose requotes bunch up now and then
                                sets its norm by those seconds.
    warmup_ns 10 s              an account just arrived has no norm yet; its first
                                seconds are not judged.
    burst_min 100               at least 100 messages a second: less loads no one,
                                however quiet the account usually is.
    burst_multiple_pct 500      five times its own busy seconds.
    traded_share_max_pct 10     stuffing does not aim to trade: a burst of IOC
                                orders that fill is a trader in a hurry.
    evidence_max 256            messages cited per alert, at most.

Hard negatives, and how they pass:
    a high-frequency market maker re-quoting every few tens of milliseconds all
    session: its rate is high but it is its norm, never five times it;
    market makers cancelling and replacing every few hundred milliseconds: a
    steady norm of their own as well;
    a trader placing a handful of orders at once: far below `burst_min`;
    a broken client whose burst of orders the venue refuses: refused messages
    are not counted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from clearhouse.core import AmendOrder, CancelAll, CancelOrder, PlaceOrder, TradeExecuted
from clearhouse.surveillance.alerts import Alert, make_alert
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView
from clearhouse.surveillance.steps import Step

SECOND_NS = 10**9
MESSAGES = (PlaceOrder, CancelOrder, CancelAll, AmendOrder)


@dataclass(frozen=True)
class QuoteStuffingParams:
    window_ns: int = SECOND_NS
    norm_ns: int = 60 * SECOND_NS
    norm_pct: int = 90
    warmup_ns: int = 10 * SECOND_NS
    burst_min: int = 100
    burst_multiple_pct: int = 500
    traded_share_max_pct: int = 10
    evidence_max: int = 256


@dataclass
class _Account:
    first_ns: int
    window: deque[tuple[int, int, str]] = field(default_factory=deque)
    """(timestamp, seq, instrument) of its messages in the last `window_ns`."""
    trades: deque[int] = field(default_factory=deque)
    """Timestamps of its trades in the last `window_ns`."""
    buckets: deque[list[int]] = field(default_factory=deque)
    """[bucket number, messages] of the last `norm_ns`, oldest first."""
    norm: tuple[int, int] = (-1, 0)
    """(bucket number, norm) as last computed: the norm changes once a bucket."""
    episode_until_ns: int = -1


def instrument_of(
    payload: PlaceOrder | CancelOrder | CancelAll | AmendOrder, market: MarketView
) -> str:
    """The instrument a message acts on ("" for a cancel-all of every instrument,
    or a cancel of an order no longer known)."""
    if isinstance(payload, (PlaceOrder, CancelAll)):
        return payload.instrument
    order = market.orders.get(payload.order_id)
    if order is None:
        order = next((done for done in market.done if done.order_id == payload.order_id), None)
    return order.instrument if order is not None else ""


class QuoteStuffingDetector:
    name = "quote_stuffing"

    def __init__(self, params: QuoteStuffingParams | None = None) -> None:
        self.params = params or QuoteStuffingParams()
        self._accounts: dict[str, _Account] = {}

    def observe(self, step: Step, market: MarketView, links: Links) -> list[Alert]:
        for event in step.events:
            if isinstance(event, TradeExecuted):
                self._traded(event.maker_account, step.timestamp_ns)
                self._traded(event.taker_account, step.timestamp_ns)
        payload = step.payload
        if not isinstance(payload, MESSAGES) or step.rejected is not None:
            return []
        account = payload.account
        alert = self._message(account, step, instrument_of(payload, market))
        return [alert] if alert is not None else []

    def _traded(self, account: str, now_ns: int) -> None:
        state = self._accounts.get(account)
        if state is not None:
            while state.trades and state.trades[0] <= now_ns - self.params.window_ns:
                state.trades.popleft()
            state.trades.append(now_ns)

    def _message(self, account: str, step: Step, instrument: str) -> Alert | None:
        params = self.params
        now = step.timestamp_ns
        state = self._accounts.get(account)
        if state is None:
            state = self._accounts[account] = _Account(now)
        window = state.window
        window.append((now, step.seq, instrument))
        while window[0][0] <= now - params.window_ns:
            window.popleft()
        while state.trades and state.trades[0] <= now - params.window_ns:
            state.trades.popleft()
        bucket = now // params.window_ns
        buckets = state.buckets
        if buckets and buckets[-1][0] == bucket:
            buckets[-1][1] += 1
        else:
            buckets.append([bucket, 1])
        horizon = bucket - params.norm_ns // params.window_ns
        while buckets[0][0] < horizon:
            buckets.popleft()
        count = len(window)
        if count < params.burst_min or now - state.first_ns < params.warmup_ns:
            return None
        norm = self._norm(state, bucket)
        threshold = max(params.burst_min, params.burst_multiple_pct * norm // 100)
        if now <= state.episode_until_ns:
            if count * 2 >= threshold:
                state.episode_until_ns = now + params.window_ns
            return None
        traded = len(state.trades)
        if count < threshold or traded * 100 > params.traded_share_max_pct * count:
            return None
        state.episode_until_ns = now + params.window_ns
        return self._alert(account, step, state, norm, count, traded)

    def _norm(self, state: _Account, bucket: int) -> int:
        """The `norm_pct`-th percentile of the account's per-bucket counts before
        `bucket`, over the `norm_ns` before it (or since it was first seen)."""
        if state.norm[0] == bucket:
            return state.norm[1]
        params = self.params
        first = max(state.first_ns // params.window_ns, bucket - params.norm_ns // params.window_ns)
        counts = [count for number, count in state.buckets if first <= number < bucket]
        counts += [0] * max(0, bucket - first - len(counts))
        counts.sort()
        norm = counts[min(len(counts) - 1, len(counts) * params.norm_pct // 100)] if counts else 0
        state.norm = (bucket, norm)
        return norm

    def _alert(
        self, account: str, step: Step, state: _Account, norm: int, count: int, traded: int
    ) -> Alert:
        params = self.params
        multiple = count // max(norm, 1)
        score = (
            50
            + min(25, 5 * (multiple - params.burst_multiple_pct // 100))
            + min(15, 5 * (count // params.burst_min - 1))
            + (10 if traded == 0 else 0)
        )
        instruments = {instrument for _, _, instrument in state.window if instrument}
        evidence = [seq for _, seq, _ in state.window][: params.evidence_max]
        return make_alert(
            self.name,
            step.seq,
            step.timestamp_ns,
            score=score,
            accounts=(account,),
            instruments=instruments,
            evidence=evidence,
            summary=(
                f"{account} sent {count} order messages in {params.window_ns // 10**6} ms "
                f"against a norm of {norm} ({params.norm_pct}th percentile of its last "
                f"{params.norm_ns // SECOND_NS} s), {traded} of them trading"
            ),
        )


DETECTORS = [QuoteStuffingDetector]
