"""What the engine remembers of one index's oracle: sources, the accepted price, its
recent history and the accepted quote of each expiry."""

from __future__ import annotations

from clearhouse.core.txs import ExpiryQuote


class SourceObservation:
    """The latest observation of one oracle source (an owner: its keys are one source)."""

    __slots__ = ("expiries", "observed_ns", "price")

    def __init__(self, price: int, observed_ns: int, expiries: dict[int, ExpiryQuote]) -> None:
        self.price = price
        self.observed_ns = observed_ns
        self.expiries = expiries


class IndexOracle:
    __slots__ = ("expiries", "history", "price", "sources", "updated_ns")

    def __init__(self) -> None:
        self.sources: dict[str, SourceObservation] = {}
        """By source, in the order each first reported."""
        self.price = 0
        """The accepted index price, settlement units; 0 until the first."""
        self.updated_ns = 0
        self.history: list[tuple[int, int]] = []
        """(sequencer time, accepted price), oldest first: what the circuit breaker and
        settlement averages need, and one point before that."""
        self.expiries: dict[int, ExpiryQuote] = {}
        """The accepted (median) quote of each expiry, by expiry time."""
