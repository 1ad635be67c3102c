"""Front-running: an account linked to another takes liquidity just ahead of that
account's large order, in its direction, and gets out into it or just after.

The pattern (FINRA Rule 5270, trading "while in possession of material,
non-public market information concerning an imminent block transaction"; CME Rule
530 on trading ahead of customer orders; the desk or affiliate that knows its
client's order is coming): the linked account buys (sells) at the touch seconds
before the client's order arrives and walks the book, then sells (buys) back what
it bought: by resting an order the client's sweep fills, or by taking the price
the sweep left. What the detector sees, per instrument:

1. a large order: an order that walked the book (filled at `levels_min` prices
   or more) and filled at least `large_multiple_pct` of the instrument's usual
   taker order (the median of its last `history` taker orders);
2. ahead of it, within `lead_ns`, another account linked to the large order's
   account took liquidity on the same side in orders each at least
   `ahead_multiple_pct` of what it usually takes: the larger of the median of its
   last `history` taker orders and the `norm_pct`-th percentile of what it took
   on one side in each `lead_ns` window of the last `norm_ns` (quiet windows
   count as none). An account with fewer than `history_min` taker orders is
   judged by its largest; one with none by the instrument's median. A position
   out of character, not its everyday clips (which are left out of what it
   took ahead) nor its busy seconds;
3. within `unwind_ns` from the large order (its own fills included) the linked
   account traded the other way at least `unwind_share_pct` of what it took
   ahead in those orders.

The alert is raised at the trade that completes step 3 (at the large order
itself when the account unwound into it). Evidence: the linked account's trades
ahead, the large order, and the unwinding trades (with the placement of a resting
order of the account's that unwound). One alert per episode: one per
large order at most, and none for the same two accounts and instrument again
until `unwind_ns` after the last. Score: from how close ahead it traded, how far
out of character its size was, whether it unwound into the large order, and how
exactly the unwind matched what it took.

Parameters (`FrontRunningParams`), defaults and why:
    lead_ns 5 s                 "imminent": the block is known seconds ahead;
                                earlier trades are not ahead of this order.
    unwind_ns 15 s              the gain of front-running is taken into the
                                order or as soon as the impact shows, not later.
    levels_min 2                the order moved the price (walked past the touch);
                                one that fills at the touch moves nothing.
    large_multiple_pct 200      twice the instrument's usual taker order: a
                                block, not a small order that met a thin touch.
    ahead_multiple_pct 250      two and a half times what the account usually
                                takes: a trader that happens to trade on the same
                                side in the same seconds trades its usual clip,
                                or two of them in a busy moment.
    unwind_share_pct 75         three quarters of the position is given back (the
                                rest may follow into a thin book).
    history 32, history_min 5   the usual order is the median of the last 32;
                                fewer than 5 are too few for a median.
    norm_ns 120 s, norm_pct 80  two minutes of the account's one-sided volume per
                                `lead_ns`, its busy windows (not its average): a
                                desk that trades every few seconds has a higher
                                norm than its median order says.

Hard negatives, and how they pass:
    a large order worked as slices by one account: its own slices ahead of its
    own large slice are one account, never a linked other (step 2);
    an owner's desks trading on their own clocks beside each other's large
    orders: in the same seconds, in the same direction and back again within
    seconds happens by chance, but with the desk's usual volume; a desk that
    takes several times its usual volume right ahead and unwinds at once is the
    pattern;
    a market maker and an unrelated taker that trade each other: not linked.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

from clearhouse.core import Side, TradeExecuted
from clearhouse.surveillance.alerts import Alert, make_alert
from clearhouse.surveillance.detectors.wash_trading import maker_order
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView
from clearhouse.surveillance.steps import Step

SECOND_NS = 10**9


@dataclass(frozen=True)
class FrontRunningParams:
    lead_ns: int = 5 * SECOND_NS
    unwind_ns: int = 15 * SECOND_NS
    levels_min: int = 2
    large_multiple_pct: int = 200
    ahead_multiple_pct: int = 250
    unwind_share_pct: int = 75
    history: int = 32
    history_min: int = 5
    norm_ns: int = 120 * SECOND_NS
    norm_pct: int = 80


class _Take(NamedTuple):
    """One taker order's fills in one step."""

    timestamp_ns: int
    seq: int
    account: str
    instrument: str
    side: Side
    lots: int
    prices: int
    """Distinct prices it filled at."""


@dataclass
class _Case:
    """A linked account that took ahead of a large order, waiting for its unwind."""

    runner: str
    client: str
    instrument: str
    side: Side
    ahead_lots: int
    lead_ns: int
    multiple_pct: int
    deadline_ns: int
    evidence: list[int]
    unwound: int = 0
    into: int = 0
    """Lots unwound into the large order itself."""
    unwind_seqs: list[int] = field(default_factory=list)


@dataclass
class _Activity:
    """What an account usually takes: its last taker orders, and its taker lots in
    each `lead_ns` window of the last `norm_ns`."""

    first_ns: int
    clips: deque[tuple[int, int]]
    """(seq, lots) of its last `history` taker orders."""
    windows: deque[list[int]] = field(default_factory=deque)
    """[window number, lots bought, lots sold], oldest first."""


def percentile(values: list[int], pct: int) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * pct // 100)] if ordered else 0


def median(values: list[int]) -> int:
    return percentile(values, 50)


def takes_of(step: Step) -> list[_Take]:
    """Each taker order's fills in the step, in order of first fill."""
    found: dict[int, _Take] = {}
    prices: dict[int, set[int]] = {}
    for event in step.events:
        if not isinstance(event, TradeExecuted):
            continue
        order_id = event.taker_order_id
        take = found.get(order_id)
        seen = prices.setdefault(order_id, set())
        seen.add(event.price)
        lots = event.size + (take.lots if take is not None else 0)
        found[order_id] = _Take(
            step.timestamp_ns,
            step.seq,
            event.taker_account,
            event.instrument,
            event.taker_side,
            lots,
            len(seen),
        )
    return list(found.values())


class FrontRunningDetector:
    name = "front_running"

    def __init__(self, params: FrontRunningParams | None = None) -> None:
        self.params = params or FrontRunningParams()
        self._recent: dict[str, deque[_Take]] = {}
        """Instrument -> its taker orders of the last `lead_ns`."""
        self._activity: dict[str, _Activity] = {}
        self._flow: dict[str, deque[int]] = {}
        """Instrument -> lots of its last `history` taker orders."""
        self._cases: dict[tuple[str, str], list[_Case]] = {}
        """(runner, instrument) -> cases waiting for the runner's unwind."""
        self._quiet_until: dict[tuple[str, str, str], int] = {}
        """(runner, client, instrument) -> end of the episode alerted."""

    def observe(self, step: Step, market: MarketView, links: Links) -> list[Alert]:
        if not step.events:
            return []
        takes = takes_of(step)
        if not takes:
            return []
        alerts: list[Alert] = []
        for take in takes:
            recent = self._recent.setdefault(take.instrument, deque())
            while recent and recent[0].timestamp_ns < step.timestamp_ns - self.params.lead_ns:
                recent.popleft()
            if self._large(take):
                self._open_cases(take, recent, links)
        alerts += self._unwinds(step, market)
        for take in takes:
            self._remember(take)
        return alerts

    # -- the large order and who took ahead of it ---------------------------------------

    def _large(self, take: _Take) -> bool:
        params = self.params
        if take.prices < params.levels_min:
            return False
        usual = median(list(self._flow.get(take.instrument, ())))
        return take.lots * 100 >= params.large_multiple_pct * usual

    def _open_cases(self, order: _Take, recent: deque[_Take], links: Links) -> None:
        params = self.params
        ahead: dict[str, list[_Take]] = {}
        for take in recent:
            if take.account == order.account or take.side is not order.side:
                continue
            if take.account in ahead or links.linked(take.account, order.account):
                ahead.setdefault(take.account, []).append(take)
        for runner, takes in ahead.items():
            key = (runner, order.account, order.instrument)
            if self._quiet_until.get(key, 0) >= order.timestamp_ns:
                continue
            usual = max(self._usual(runner, order.instrument, takes), 1)
            large = [t for t in takes if t.lots * 100 >= params.ahead_multiple_pct * usual]
            if not large:
                continue  # its everyday clips, however many
            lots = sum(take.lots for take in large)
            case = _Case(
                runner,
                order.account,
                order.instrument,
                order.side,
                lots,
                order.timestamp_ns - large[-1].timestamp_ns,
                100 * lots // usual,
                order.timestamp_ns + params.unwind_ns,
                [take.seq for take in large] + [order.seq],
            )
            cases = self._cases.setdefault((runner, order.instrument), [])
            cases[:] = [c for c in cases if c.deadline_ns >= order.timestamp_ns]
            cases.append(case)

    def _usual(self, account: str, instrument: str, ahead: list[_Take]) -> int:
        """What the account usually takes, before the takes `ahead`: the larger of
        its median taker order and the `norm_pct`-th percentile of its lots per
        `lead_ns` window (quiet windows count as none); the instrument's median
        taker order when the account has too few of its own."""
        params = self.params
        activity = self._activity.get(account)
        excluding = {take.seq for take in ahead}
        own = [lots for seq, lots in activity.clips if seq not in excluding] if activity else []
        if activity is None or not own:
            return median(list(self._flow.get(instrument, ())))
        if len(own) < params.history_min:
            return max(own)
        before = ahead[0].timestamp_ns // params.lead_ns
        first = max(activity.first_ns // params.lead_ns, before - params.norm_ns // params.lead_ns)
        windows = [max(b, s) for number, b, s in activity.windows if first <= number < before]
        windows += [0] * max(0, before - first - len(windows))
        return max(median(own), percentile(windows, params.norm_pct))

    # -- the unwind ----------------------------------------------------------------------

    def _unwinds(self, step: Step, market: MarketView) -> list[Alert]:
        alerts: list[Alert] = []
        for event in step.events:
            if not isinstance(event, TradeExecuted):
                continue
            maker_side = Side.SELL if event.taker_side is Side.BUY else Side.BUY
            for account, side in (
                (event.taker_account, event.taker_side),
                (event.maker_account, maker_side),
            ):
                cases = self._cases.get((account, event.instrument))
                if not cases:
                    continue
                for case in list(cases):
                    if case.side is side or step.timestamp_ns > case.deadline_ns:
                        continue
                    case.unwound += event.size
                    if account == event.maker_account and event.taker_account == case.client:
                        case.into += event.size
                    case.unwind_seqs.append(step.seq)
                    if account == event.maker_account:  # and where its order was placed
                        order = maker_order(market, event.maker_order_id)
                        if order is not None:
                            case.unwind_seqs.append(order.placed_seq)
                    alert = self._complete(step, case)
                    if alert is not None:
                        alerts.append(alert)
                        cases.remove(case)
        return alerts

    def _complete(self, step: Step, case: _Case) -> Alert | None:
        params = self.params
        if case.unwound * 100 < params.unwind_share_pct * case.ahead_lots:
            return None
        key = (case.runner, case.client, case.instrument)
        if self._quiet_until.get(key, 0) >= step.timestamp_ns:
            return None
        self._quiet_until[key] = step.timestamp_ns + params.unwind_ns
        exact = abs(case.unwound - case.ahead_lots) * 10 <= case.ahead_lots
        score = (
            40
            + (20 if case.lead_ns <= SECOND_NS else 10 if case.lead_ns <= 3 * SECOND_NS else 0)
            + min(20, (case.multiple_pct - params.ahead_multiple_pct) // 20)
            + (15 if case.into else 0)
            + (10 if exact else 0)
        )
        how = "into it" if case.into else "after it"
        return make_alert(
            self.name,
            step.seq,
            step.timestamp_ns,
            score=score,
            accounts=(case.runner, case.client),
            instruments=(case.instrument,),
            evidence=case.evidence + case.unwind_seqs,
            summary=(
                f"{case.runner} (linked to {case.client}) took {case.ahead_lots} lots "
                f"{case.side.value} on {case.instrument} {case.lead_ns // 10**6} ms ahead "
                f"of {case.client}'s large {case.side.value} order "
                f"({case.multiple_pct}% of its usual size) and gave back "
                f"{case.unwound} lots {how}"
            ),
        )

    # -- memory --------------------------------------------------------------------------

    def _remember(self, take: _Take) -> None:
        params = self.params
        self._recent[take.instrument].append(take)
        self._flow.setdefault(take.instrument, deque(maxlen=params.history)).append(take.lots)
        activity = self._activity.get(take.account)
        if activity is None:
            activity = _Activity(take.timestamp_ns, deque(maxlen=params.history))
            self._activity[take.account] = activity
        activity.clips.append((take.seq, take.lots))
        number = take.timestamp_ns // params.lead_ns
        windows = activity.windows
        if not windows or windows[-1][0] != number:
            windows.append([number, 0, 0])
        windows[-1][1 if take.side is Side.BUY else 2] += take.lots
        while windows[0][0] < number - params.norm_ns // params.lead_ns:
            windows.popleft()


DETECTORS = [FrontRunningDetector]
