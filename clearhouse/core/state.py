"""Everything the engine knows, in one place, and the helpers that keep it consistent.

Handlers (`collateral`, `trading`, `market_data`) read the state to decide, and only
then change it through the helpers here, which keep the running totals that the
per-transaction invariants compare against.
"""

from __future__ import annotations

from typing import Final

from clearhouse.core.authority import Authority
from clearhouse.core.config import EngineConfig
from clearhouse.core.events import AccountOpened, Event, MarginCallEnded, MarginCallStarted
from clearhouse.core.genesis import Genesis
from clearhouse.core.instruments import Instrument
from clearhouse.core.ledger import Account, Position
from clearhouse.core.margin import MarginModel, StandardMargin
from clearhouse.core.market import Market
from clearhouse.core.oracle_state import IndexOracle
from clearhouse.core.outcomes import InvariantViolation
from clearhouse.core.portfolio import PortfolioMargin
from clearhouse.core.txs import MarginMode

# Bound once: compiled, a module-level Final is a C static, where
# `MarginMode.PORTFOLIO` goes through EnumType's attribute hook on every review.
PORTFOLIO: Final = MarginMode.PORTFOLIO


class PendingWithdrawal:
    __slots__ = ("account", "amount", "asset", "request_id")

    def __init__(self, request_id: int, account: str, asset: str, amount: int) -> None:
        self.request_id = request_id
        self.account = account
        self.asset = asset
        self.amount = amount


class State:
    __slots__ = (
        "accounts",
        "authority",
        "cash_total",
        "config",
        "deposits_total",
        "fees_total",
        "index_markets",
        "index_prices",
        "linear_cost_total",
        "margin",
        "markets",
        "oracles",
        "pending_total",
        "pending_withdrawals",
        "portfolio_margin",
        "socialized_total",
        "withdrawals_total",
    )

    def __init__(self, genesis: Genesis) -> None:
        self.config: EngineConfig = genesis.config
        self.authority = Authority(genesis)
        self.markets: dict[str, Market] = {}
        self.index_markets: dict[str, list[Market]] = {}
        self.oracles: dict[str, IndexOracle] = {}
        for spec in genesis.instruments:
            self.list_market(spec)
        self.index_prices: dict[str, int] = {}
        self.accounts: dict[str, Account] = {}
        self.margin = StandardMargin(self.index_prices)
        self.portfolio_margin = PortfolioMargin(
            self.config.portfolio, self.markets, self.index_markets, self.oracles, self.accounts
        )
        self.cash_total = 0
        self.linear_cost_total = 0
        """Sum over linear positions of cost basis x tick value, in settlement units."""
        self.fees_total = 0
        self.pending_withdrawals: dict[int, PendingWithdrawal] = {}
        """Large withdrawals requested and awaiting governance, by request id (seq)."""
        self.pending_total = 0
        self.socialized_total = 0
        """Deficits of bankrupt accounts charged to other accounts, ever (bad debt
        that neither the insurance fund nor auto-deleveraging covered)."""
        self.deposits_total = 0
        self.withdrawals_total = 0

    def list_market(self, spec: Instrument) -> Market:
        if spec.id in self.markets:
            raise ValueError(f"instrument {spec.id} listed twice")
        market = Market(spec)
        self.markets[spec.id] = market
        self.index_markets.setdefault(spec.index, []).append(market)
        if spec.index not in self.oracles:
            self.oracles[spec.index] = IndexOracle()
        return market

    # -- margin ------------------------------------------------------------------

    def margin_of(self, account: Account) -> MarginModel:
        if account.margin_mode is MarginMode.PORTFOLIO:
            return self.portfolio_margin
        return self.margin

    # -- the insurance fund --------------------------------------------------------

    def insurance(self, events: list[Event]) -> Account:
        """The insurance fund's account, opened (with its AccountOpened event) the first
        time it is needed."""
        fund_id = self.config.insurance_account
        fund = self.accounts.get(fund_id)
        if fund is None:
            fund = Account(fund_id)
            self.accounts[fund_id] = fund
            events.append(AccountOpened(fund_id))
        return fund

    def is_insurance(self, account: Account) -> bool:
        return account.id == self.config.insurance_account

    def insurance_if_open(self) -> Account | None:
        """The insurance fund's account, or None if nothing has opened it yet."""
        return self.accounts.get(self.config.insurance_account)

    def insurance_balance(self) -> int:
        fund = self.insurance_if_open()
        return 0 if fund is None else fund.cash

    # -- changes that keep totals ------------------------------------------------

    def credit(self, account: Account, amount: int) -> None:
        account.cash += amount
        self.cash_total += amount

    def check_conservation(self) -> None:
        held = self.cash_total - self.linear_cost_total + self.fees_total + self.pending_total
        if held != self.deposits_total - self.withdrawals_total:
            raise InvariantViolation(
                f"collateral not conserved: cash {self.cash_total} - linear cost "
                f"{self.linear_cost_total} + fees {self.fees_total} + pending "
                f"{self.pending_total} != deposits {self.deposits_total} - withdrawals "
                f"{self.withdrawals_total}"
            )

    def drop_if_empty(self, account: Account, position: Position) -> None:
        if position.is_empty():
            account.positions.pop(position.market.spec.id, None)

    def margin_call_levels(self, account: Account) -> tuple[int, int]:
        """(equity, maintenance): the account is in a margin call while equity is below.

        The insurance fund's positions need no margin, but their losses must stay
        within what it holds: its maintenance is zero, so it is in a margin call
        exactly while its equity (cash plus its positions at the mark) is negative,
        until a keeper's Liquidate resolves the shortfall (clearhouse/core/liquidation.py)."""
        if self.is_insurance(account):
            return self.margin.equity(account), 0
        if account.margin_mode is PORTFOLIO:
            portfolio = self.portfolio_margin
            return portfolio.equity(account), portfolio.maintenance_requirement(account)
        return self.margin.equity_and_maintenance(account)

    def review_margin_call(self, account: Account, events: list[Event]) -> None:
        """Start or end the account's margin call so that equity < maintenance iff flagged."""
        equity, maintenance = self.margin_call_levels(account)
        below = equity < maintenance
        if below and not account.in_margin_call:
            account.in_margin_call = True
            events.append(MarginCallStarted(account.id, equity, maintenance))
        elif not below and account.in_margin_call:
            account.in_margin_call = False
            events.append(MarginCallEnded(account.id, equity, maintenance))
