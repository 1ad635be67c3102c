"""Roles, who may sign what, and which roles one owner may never combine.

A role is held by a key; an owner is the person or desk behind keys. Permission
is decided per transaction type (`PERMITTED`), and segregation of duties per
owner (`INCOMPATIBLE`): no key and no owner may hold both roles of a pair, so
that, for example, the desk that trades is never the one that credits deposits
or publishes prices.

Roles are kept as bit masks so that checks are O(1) and nothing iterates a set.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class Role(Enum):
    TRADER = "trader"
    MARKET_MAKER = "market_maker"
    CUSTODIAN = "custodian"
    ORACLE = "oracle"
    RISK_OFFICER = "risk_officer"
    KEEPER = "keeper"
    SURVEILLANCE = "surveillance"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    GOVERNOR = "governor"


ROLE_BITS: Final[dict[Role, int]] = {role: 1 << index for index, role in enumerate(Role)}

TRADING: Final = ROLE_BITS[Role.TRADER] | ROLE_BITS[Role.MARKET_MAKER]

INCOMPATIBLE: Final[tuple[tuple[Role, Role], ...]] = (
    (Role.CUSTODIAN, Role.TRADER),
    (Role.CUSTODIAN, Role.MARKET_MAKER),
    (Role.ORACLE, Role.TRADER),
    (Role.ORACLE, Role.MARKET_MAKER),
    (Role.RISK_OFFICER, Role.TRADER),
    (Role.RISK_OFFICER, Role.MARKET_MAKER),
    (Role.SURVEILLANCE, Role.TRADER),
    (Role.SURVEILLANCE, Role.MARKET_MAKER),
    (Role.KEEPER, Role.TRADER),
    (Role.KEEPER, Role.MARKET_MAKER),
    (Role.GOVERNOR, Role.OPERATOR),
    (Role.GOVERNOR, Role.TRADER),
    (Role.GOVERNOR, Role.MARKET_MAKER),
    (Role.GOVERNOR, Role.CUSTODIAN),
    (Role.GOVERNOR, Role.ORACLE),
    (Role.AUDITOR, Role.OPERATOR),
    (Role.AUDITOR, Role.TRADER),
    (Role.AUDITOR, Role.MARKET_MAKER),
    (Role.AUDITOR, Role.CUSTODIAN),
)
_INCOMPATIBLE_MASKS: Final = tuple((ROLE_BITS[a], ROLE_BITS[b]) for a, b in INCOMPATIBLE)


def mask_of(roles: tuple[Role, ...]) -> int:
    mask = 0
    for role in roles:
        mask |= ROLE_BITS[role]
    return mask


def roles_of(mask: int) -> tuple[Role, ...]:
    """Roles in declaration order: a stable, hash-free listing."""
    return tuple(role for role in Role if mask & ROLE_BITS[role])


def incompatible_pair(mask: int) -> tuple[Role, Role] | None:
    """The first forbidden pair held together in `mask`, if any."""
    for (a, b), (bit_a, bit_b) in zip(INCOMPATIBLE, _INCOMPATIBLE_MASKS, strict=True):
        if mask & bit_a and mask & bit_b:
            return a, b
    return None
