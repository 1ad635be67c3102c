"""Rejection codes: one enum, numbered in bands by family, never reused.

| band | family |
|------|--------|
| 1xxx | envelope: decoding, sequencing, authorization |
| 2xxx | collateral |
| 3xxx | trading |
| 4xxx | risk and market data |
| 5xxx | controls |
| 6xxx | governance |
| 9xxx | engine faults (a bug, never a user's mistake) |

A rejection is data: `apply` returns it, and the state is exactly as it was before
the transaction. docs/errors.md lists every code in the order a handler checks
them; a test keeps the two in step.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec


class ErrorCode(IntEnum):
    # 1xxx envelope
    MALFORMED_ENCODING = 1001
    WRONG_TYPE = 1002
    MISSING_FIELD = 1003
    UNKNOWN_FIELD = 1004
    INVALID_VALUE = 1005
    VALUE_OUT_OF_RANGE = 1006
    NESTING_TOO_DEEP = 1007
    MESSAGE_TOO_LARGE = 1008
    SEQUENCE_OUT_OF_ORDER = 1010
    TIMESTAMP_REGRESSED = 1011
    BUSY = 1012
    UNKNOWN_SIGNER = 1101
    KEY_REVOKED = 1102
    BAD_SIGNATURE = 1103
    EXPIRED = 1104
    EXPIRY_TOO_FAR = 1105
    NONCE_INVALID = 1106
    NONCE_REUSED = 1107
    NONCE_TOO_OLD = 1108
    ROLE_FORBIDDEN = 1109
    NOT_ACCOUNT_OWNER = 1110
    SUB_KEY_SIZE_LIMIT = 1111
    ROLES_INCOMPATIBLE = 1112
    KEY_EXISTS = 1113
    UNKNOWN_KEY = 1114
    INVALID_KEY = 1115
    WEAK_PUBLIC_KEY = 1116
    # 2xxx collateral
    INVALID_ACCOUNT_ID = 2001
    UNKNOWN_ACCOUNT = 2002
    UNKNOWN_ASSET = 2003
    AMOUNT_NOT_POSITIVE = 2004
    AMOUNT_TOO_LARGE = 2005
    BALANCE_LIMIT_EXCEEDED = 2006
    INSUFFICIENT_FUNDS = 2007
    SAME_ACCOUNT = 2008
    ACCOUNTS_LIMIT = 2009
    # 2010 retired unreleased
    UNKNOWN_WITHDRAWAL = 2011
    WITHDRAWALS_PENDING_LIMIT = 2012
    # 3xxx trading
    UNKNOWN_INSTRUMENT = 3001
    INSTRUMENT_EXPIRED = 3002
    SIZE_NOT_POSITIVE = 3003
    SIZE_TOO_LARGE = 3004
    SIZE_OFF_LOT = 3005
    PRICE_REQUIRED = 3006
    PRICE_NOT_ALLOWED = 3007
    PRICE_NOT_POSITIVE = 3008
    PRICE_TOO_LARGE = 3009
    PRICE_OFF_TICK = 3010
    INVALID_ORDER_OPTIONS = 3011
    CLIENT_ORDER_ID_INVALID = 3012
    DUPLICATE_CLIENT_ORDER_ID = 3013
    OPEN_ORDERS_LIMIT = 3014
    UNKNOWN_ORDER = 3015
    AMEND_NO_CHANGE = 3016
    POST_ONLY_WOULD_TAKE = 3017
    FOK_NOT_FILLABLE = 3018
    REDUCE_ONLY_WOULD_INCREASE = 3019
    POSITION_LIMIT_EXCEEDED = 3020
    DEPTH_INVALID = 3021
    AMEND_WOULD_TRADE = 3022
    # 4xxx risk and market data
    INSUFFICIENT_MARGIN = 4001
    NO_MARK_PRICE = 4002
    UNKNOWN_INDEX = 4003
    ACCOUNT_BELOW_MAINTENANCE = 4004
    # 4005 retired: marks no longer come from the oracle
    DUPLICATE_EXPIRY = 4006
    ORACLE_STALE = 4007
    ORACLE_FROM_FUTURE = 4008
    ORACLE_OUT_OF_ORDER = 4009
    UNKNOWN_EXPIRY = 4010
    VOLATILITY_INVALID = 4011
    PRICE_OUTSIDE_BAND = 4012
    NOT_LIQUIDATABLE = 4013
    NOT_EXPIRED = 4014
    ALREADY_SETTLED = 4015
    NO_SETTLEMENT_PRICE = 4016
    FUNDING_NOT_DUE = 4017
    NOT_A_PERPETUAL = 4018
    NOT_EXPIRING = 4019
    MMP_TRIPPED = 4020
    MMP_INVALID = 4021
    MMP_NOT_SET = 4022
    MARGIN_MODE_UNCHANGED = 4023
    BASIS_INVALID = 4024
    UNREALIZED_GAINS_NOT_WITHDRAWABLE = 4025
    # 5xxx controls
    MARKET_HALTED = 5001
    MARKET_NOT_HALTED = 5002
    HALT_TARGET_INVALID = 5003
    ACCOUNT_KILLED = 5004
    KILL_SWITCH_UNCHANGED = 5005
    KILL_SWITCH_HELD = 5006
    RATE_LIMITED = 5007
    # 6xxx governance
    UNKNOWN_PROPOSAL = 6001
    PROPOSER_CANNOT_APPROVE = 6002
    ALREADY_APPROVED = 6003
    TIMELOCK_NOT_ELAPSED = 6004
    APPROVALS_INSUFFICIENT = 6005
    PROPOSAL_EXPIRED = 6006
    INVALID_ACTION = 6007
    QUORUM_WOULD_BREAK = 6008
    INSTRUMENT_EXISTS = 6009
    PROPOSALS_LIMIT = 6010
    INSTRUMENT_NAME_INVALID = 6011
    # 9xxx engine faults
    INVARIANT_VIOLATION = 9001


class Rejection(msgspec.Struct, frozen=True, tag="rejected"):
    """Why a transaction was refused: a stable code and a message for people."""

    code: ErrorCode
    message: str


def reject(code: ErrorCode, message: str) -> Rejection:
    return Rejection(code, message)
