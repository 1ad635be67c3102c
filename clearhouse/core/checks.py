"""Field checks shared by handlers. Each returns a Rejection or None.

Decoding at the boundary already guarantees types; these re-check the few numeric
types that would otherwise let a float or a bool into state when a caller builds
transactions in Python, and then the ranges.
"""

from __future__ import annotations

from collections.abc import Callable

from clearhouse.core.display import format_units
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.numbers import amount_max_units, price_max_units


def check_amount(amount: object, money: Callable[[int], str]) -> Rejection | None:
    """An amount of collateral; `money` shows one as people read it (the caller knows
    the asset and its decimals), called only for a refusal."""
    if type(amount) is not int:
        return Rejection(
            ErrorCode.WRONG_TYPE, f"amount must be an integer, got {type(amount).__name__}"
        )
    if amount <= 0:
        return Rejection(
            ErrorCode.AMOUNT_NOT_POSITIVE, f"amount must be positive, got {money(amount)}"
        )
    if amount > amount_max_units:
        return Rejection(
            ErrorCode.AMOUNT_TOO_LARGE,
            f"amount {money(amount)} exceeds the largest amount {money(amount_max_units)}",
        )
    return None


def check_price(
    price: object, tick_size: int, decimals: int, field: str = "price"
) -> Rejection | None:
    """A wire price; `decimals` are the settlement asset's, to quote prices in messages."""
    if type(price) is not int:
        return Rejection(
            ErrorCode.WRONG_TYPE, f"{field} must be an integer, got {type(price).__name__}"
        )
    if price <= 0:
        return Rejection(
            ErrorCode.PRICE_NOT_POSITIVE,
            f"{field} must be positive, got {format_units(price, decimals)}",
        )
    if price > price_max_units:
        return Rejection(
            ErrorCode.PRICE_TOO_LARGE,
            f"{field} {format_units(price, decimals)} exceeds the largest price "
            f"{format_units(price_max_units, decimals)}",
        )
    if price % tick_size:
        return Rejection(
            ErrorCode.PRICE_OFF_TICK,
            f"{field} {format_units(price, decimals)} is not a multiple of the tick size "
            f"{format_units(tick_size, decimals)}",
        )
    return None


def check_size(size: object, size_max: int) -> Rejection | None:
    if type(size) is not int:
        return Rejection(
            ErrorCode.WRONG_TYPE, f"size must be an integer, got {type(size).__name__}"
        )
    if size <= 0:
        return Rejection(ErrorCode.SIZE_NOT_POSITIVE, f"size must be positive, got {size}")
    if size > size_max:
        return Rejection(
            ErrorCode.SIZE_TOO_LARGE, f"size {size} exceeds the instrument's {size_max} lots"
        )
    return None


def check_name(value: object, field: str, len_max: int, code: ErrorCode) -> Rejection | None:
    """A printable ASCII identifier without spaces, 1..len_max characters."""
    if type(value) is not str:
        return Rejection(
            ErrorCode.WRONG_TYPE, f"{field} must be a string, got {type(value).__name__}"
        )
    if (
        not 0 < len(value) <= len_max
        or not value.isascii()
        or not value.isprintable()
        or " " in value
    ):
        return Rejection(
            code, f"{field} must be 1..{len_max} printable ASCII characters without spaces"
        )
    return None
