"""Venue anomalies: the oracle's sources disagreeing, and rejects leaving their band.

These watch the venue rather than one trader: a feed that drifts or is pushed away
from the others (the first sign of a manipulated source, or of a broken one), and
a surge of refused transactions (a broken or hostile client, a market halted
under its traders, a misconfigured limit). Latencies are not in the record; the
service's `/metrics` carries them for Prometheus alert rules.

oracle_spread
    Each source's latest observation of each index is kept; when two sources fresh
    within `fresh_ns` (60 s, the engine's default staleness) differ by more than
    `spread_bps` (150 bps: ten times the ordinary disagreement of independent
    feeds, well under what moves a liquidation), an alert names the index, the
    sources and the spread. The episode lasts until the spread falls under half
    the threshold: one alert per episode and index. Evidence: the observations
    that disagree. Not flagged: one source moving with the market (every fresh
    source moves with it), a source going stale (it is left out once stale).

reject_rate
    Refused transactions are counted per second of sequencer time, venue-wide. A
    second with more than `rejects_min` (10) refusals and more than
    `sigmas` (6) standard deviations above the mean of the last `baseline_s` (60)
    seconds (its variance floored at the mean: Poisson noise) raises an alert,
    after `warmup_s` (30) seconds of history, naming the accounts with the most
    refusals in it and the instruments they were for. One alert per burst: a following second above the band,
    from the same accounts, continues the episode. Evidence: up to `evidence_max` (50) refused steps.
    A second judged a burst enters the baseline as the mean it was judged
    against, so one flood does not mask the next. Not flagged: the steady
    trickle of refusals every venue has (post-only
    crosses, reduce-only with nothing to reduce), which is the baseline.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from clearhouse.core.events import OracleObserved
from clearhouse.surveillance.alerts import Alert, make_alert
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView
from clearhouse.surveillance.steps import Step

SECOND_NS = 10**9


@dataclass(frozen=True)
class OracleSpreadParams:
    spread_bps: int = 150
    fresh_ns: int = 60 * SECOND_NS


class OracleSpread:
    name = "oracle_spread"

    def __init__(self, params: OracleSpreadParams | None = None) -> None:
        self.params = params or OracleSpreadParams()
        self._latest: dict[str, dict[str, tuple[int, int, int]]] = {}
        """index -> source -> (price, observed_ns, seq)."""
        self._open: set[str] = set()
        """Indexes in an episode."""

    def observe(self, step: Step, market: MarketView, links: Links) -> list[Alert]:
        alerts: list[Alert] = []
        for event in step.events:
            if type(event) is OracleObserved:
                alert = self._observed(step, market, event)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def _observed(self, step: Step, market: MarketView, event: OracleObserved) -> Alert | None:
        sources = self._latest.setdefault(event.index, {})
        sources[event.source] = (event.price, event.observed_ns, step.seq)
        horizon = step.timestamp_ns - self.params.fresh_ns
        fresh = sorted(
            (price, source, seq)
            for source, (price, observed, seq) in sources.items()
            if observed >= horizon
        )
        if len(fresh) < 2:
            return None
        (low, low_source, low_seq), (high, high_source, high_seq) = fresh[0], fresh[-1]
        spread_bps = (high - low) * 10_000 // low
        if spread_bps * 2 < self.params.spread_bps:
            self._open.discard(event.index)
            return None
        if spread_bps <= self.params.spread_bps or event.index in self._open:
            return None
        self._open.add(event.index)
        instruments = [s.id for s in market.specs.values() if s.index == event.index]
        return make_alert(
            self.name,
            step.seq,
            step.timestamp_ns,
            score=50 + min(50, 50 * spread_bps // (4 * self.params.spread_bps)),
            accounts=(low_source, high_source),
            instruments=instruments,
            evidence=(low_seq, high_seq, step.seq),
            summary=(
                f"{event.index} sources disagree by {spread_bps / 100:.2f}%: {low_source} "
                f"{low:,} vs {high_source} {high:,} (settlement units)"
            ),
        )


@dataclass(frozen=True)
class RejectRateParams:
    rejects_min: int = 10
    sigmas: int = 6
    baseline_s: int = 60
    warmup_s: int = 30
    evidence_max: int = 50


@dataclass
class _Second:
    start_s: int
    rejects: int = 0
    by_account: Counter[str] = field(default_factory=Counter)
    instruments: set[str] = field(default_factory=set)
    evidence: list[int] = field(default_factory=list)


class RejectRate:
    name = "reject_rate"

    def __init__(self, params: RejectRateParams | None = None) -> None:
        self.params = params or RejectRateParams()
        self._second: _Second | None = None
        self._history: deque[tuple[int, int]] = deque()
        """(second, refusals) of the closed seconds in the baseline window."""
        self._first_s: int | None = None
        self._bursting: set[str] = set()
        """The accounts behind the burst going on (alerted once)."""

    def observe(self, step: Step, market: MarketView, links: Links) -> list[Alert]:
        now_s = step.timestamp_ns // SECOND_NS
        current = self._second
        alerts: list[Alert] = []
        if current is None or now_s != current.start_s:
            if current is not None:
                alert = self._close(current, step)
                if alert is not None:
                    alerts.append(alert)
            current = self._second = _Second(now_s)
            if self._first_s is None:
                self._first_s = now_s
        if step.rejected is not None:
            current.rejects += 1
            account = getattr(step.payload, "account", None)
            current.by_account[account if isinstance(account, str) else step.signer.hex()[:16]] += 1
            if len(current.evidence) < self.params.evidence_max:
                current.evidence.append(step.seq)
                instrument = getattr(step.payload, "instrument", None)
                if isinstance(instrument, str) and instrument in market.specs:
                    current.instruments.add(instrument)
        return alerts

    def _close(self, second: _Second, step: Step) -> Alert | None:
        """Judge a finished second against the seconds before it; raised at `step`,
        the first of a later second."""
        params = self.params
        history = self._history
        while history and history[0][0] <= second.start_s - params.baseline_s:
            history.popleft()
        # Seconds with no step at all are seconds with no refusal.
        span = max(1, min(params.baseline_s, second.start_s - (self._first_s or second.start_s)))
        total = sum(count for _, count in history)
        mean = total / span
        squares = sum((count - mean) ** 2 for _, count in history)
        squares += max(0, span - len(history)) * mean**2  # the seconds without a step
        variance = max(mean, squares / span)
        warm = second.start_s - (self._first_s or second.start_s) >= params.warmup_s
        high = second.rejects > params.rejects_min and (
            second.rejects > mean + params.sigmas * variance**0.5
        )
        # A burst is not learnt as normal: it would hide the next one for a minute.
        history.append((second.start_s, round(mean) if high else second.rejects))
        if not (warm and high):
            self._bursting = set()
            return None
        top = [account for account, _ in second.by_account.most_common(3)]
        fresh = [account for account in top if account not in self._bursting]
        self._bursting = set(top)
        if not fresh:  # the burst already alerted on goes on
            return None
        excess = (second.rejects - mean) / max(1.0, variance**0.5)
        return make_alert(
            self.name,
            step.seq,
            step.timestamp_ns,
            score=min(100, 40 + int(excess * 5)),
            accounts=top,
            instruments=second.instruments,
            evidence=second.evidence,
            summary=(
                f"{second.rejects:,} refusals in one second against a baseline of "
                f"{mean:.1f}/s; most from {', '.join(top)}"
            ),
        )


DETECTORS = [OracleSpread, RejectRate]
