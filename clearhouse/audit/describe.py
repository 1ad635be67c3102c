"""Entries, payloads and outcomes as people read them, and as JSON.

Shared by the checks (an outcome that re-execution does not reproduce is described
field by field), by replay and by the CLI's tables.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec

from clearhouse.audit.common import decode_recorded_outcome
from clearhouse.core import Accepted, Outcome, Rejected, TradeExecuted, Transaction


def plain(value: object) -> Any:
    """`value` as JSON-ready builtins, with bytes as lowercase hex."""
    return _hexify(msgspec.to_builtins(value, builtin_types=(bytes, bytearray, memoryview)))


def _hexify(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {key: _hexify(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_hexify(item) for item in value]
    return value


def payload_type(tx: Transaction) -> str:
    """The transaction's type tag, e.g. "place_order"."""
    return str(type(tx.payload).__struct_config__.tag)


def format_ns(timestamp_ns: int) -> str:
    """A sequencer timestamp as UTC ISO 8601 with nanoseconds."""
    seconds, nanos = divmod(timestamp_ns, 10**9)
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return str(timestamp_ns)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_payload(tx: Transaction) -> str:
    """The payload's fields that differ from their defaults, as `name=value`."""
    payload = tx.payload
    parts: list[str] = []
    for info in msgspec.structs.fields(payload):
        value = getattr(payload, info.name)
        if info.default is not msgspec.NODEFAULT and value == info.default:
            continue
        shown = plain(value)
        if isinstance(value, bytes):
            shown = value.hex()[:16] + "…" if len(value) > 8 else value.hex()
        parts.append(f"{info.name}={shown if isinstance(shown, str | int) else _short(shown)}")
    return " ".join(parts)


def describe_outcome(outcome: Outcome) -> str:
    """ "accepted: 3 events (1 fill)" or "rejected bad_signature: message"."""
    if isinstance(outcome, Rejected):
        return f"rejected {outcome.code.name} ({outcome.code.value}): {outcome.message}"
    fills = sum(isinstance(event, TradeExecuted) for event in outcome.events)
    kinds = ", ".join(str(plain(event)["event"]) for event in outcome.events)
    text = f"accepted: {_count(len(outcome.events), 'event')}"
    if fills:
        text += f" ({_count(fills, 'fill')})"
    return f"{text} [{kinds}]" if kinds else text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def describe_fill(trade: TradeExecuted) -> str:
    return (
        f"{trade.instrument} {trade.size} lots @ {trade.price}: taker {trade.taker_account} "
        f"({trade.taker_side.value}, order {trade.taker_order_id}, fee {trade.taker_fee}), "
        f"maker {trade.maker_account} (order {trade.maker_order_id}, fee {trade.maker_fee})"
    )


def fills_of(outcome: Outcome) -> list[TradeExecuted]:
    if isinstance(outcome, Rejected):
        return []
    return [event for event in outcome.events if isinstance(event, TradeExecuted)]


def describe_outcome_difference(recorded: bytes, outcome: Outcome, signature_valid: bool) -> str:
    """What differs between recorded outcome bytes and a re-executed outcome, precisely."""
    try:
        before = decode_recorded_outcome(recorded)
    except msgspec.DecodeError as exc:
        return f"the recorded outcome bytes do not decode ({exc}); re-executed: {describe_outcome(outcome)}"
    if type(before) is not type(outcome):
        text = f"recorded {describe_outcome(before)}; re-executed {describe_outcome(outcome)}"
    else:
        difference = _first_difference(plain(before), plain(outcome), "")
        if difference is None:
            text = (
                "the recorded bytes decode to the same outcome but are not its canonical encoding"
            )
        else:
            text = difference
    if not signature_valid and isinstance(before, Accepted):
        text += " (the transaction's signature does not verify)"
    return text


def _first_difference(recorded: Any, replayed: Any, path: str) -> str | None:
    where = path or "outcome"
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        for key in [*recorded, *(k for k in replayed if k not in recorded)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in replayed:
                return f"{sub}: recorded {_short(recorded[key])}, absent after re-execution"
            if key not in recorded:
                return f"{sub}: absent from the record, re-executed {_short(replayed[key])}"
            found = _first_difference(recorded[key], replayed[key], sub)
            if found is not None:
                return found
        return None
    if isinstance(recorded, list) and isinstance(replayed, list):
        for index, (a, b) in enumerate(zip(recorded, replayed, strict=False)):
            found = _first_difference(a, b, f"{path}[{index}]")
            if found is not None:
                return found
        if len(recorded) != len(replayed):
            return f"{where}: recorded {len(recorded)} items, re-executed {len(replayed)}"
        return None
    if recorded != replayed or type(recorded) is not type(replayed):
        return f"{where}: recorded {_short(recorded)}, re-executed {_short(replayed)}"
    return None
