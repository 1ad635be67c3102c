"""How deeply a JSON or msgpack document nests, read from its bytes without decoding it.

The boundary bounds nesting (codec.NESTING_DEPTH_MAX). A transaction that decodes
nests no deeper than its schema (four levels), so the scan only runs on a document
msgspec refused, to say whether the reason to give is its depth. It must not
recurse, and its answer must not depend on the interpreter's recursion limit, so it
walks the bytes with a counter: JSON through C-level byte operations, msgpack item
by item with runs of one-byte items taken at once. A malformed document is read up
to the point where it stops making sense; only what precedes that point counts.
"""

from __future__ import annotations

import operator
import re
from itertools import accumulate, count
from typing import Final

# -- JSON --------------------------------------------------------------------------

_JSON_STRING: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
"""A string literal, or an unterminated one running to the end: brackets inside
strings are text, not nesting. Possessive, so no input makes it backtrack."""
_NOT_BRACKETS: Final = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEPS: Final = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def json_deeper_than(data: bytes, depth_max: int) -> bool:
    """Whether some point of the document lies inside more than `depth_max` arrays
    and objects."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if len(brackets) <= depth_max:
        return False
    # After the k-th bracket the running sum of steps is 2 * opened, so the depth
    # there (opened - closed) is that sum less k.
    steps = brackets.translate(_STEPS)
    deepest: int = max(map(operator.sub, accumulate(steps), count(1)))
    return deepest > depth_max


# -- msgpack -----------------------------------------------------------------------

_ONE_BYTE_ITEMS: Final = re.compile(rb"[\x00-\x7f\xc0\xc2\xc3\xe0-\xff]*")
"""A run of items one byte long: fixints, nil, booleans."""

_SIZED: Final[dict[int, tuple[int, int]]] = {
    # first byte -> (bytes of the length that follows, bytes after the length
    # besides the length's worth of payload)
    0xC4: (1, 0),  # bin 8
    0xC5: (2, 0),  # bin 16
    0xC6: (4, 0),  # bin 32
    0xC7: (1, 1),  # ext 8 (length, type, data)
    0xC8: (2, 1),  # ext 16
    0xC9: (4, 1),  # ext 32
    0xD9: (1, 0),  # str 8
    0xDA: (2, 0),  # str 16
    0xDB: (4, 0),  # str 32
}
_FIXED: Final[dict[int, int]] = {
    # first byte -> bytes that follow it
    0xCA: 4,  # float 32
    0xCB: 8,  # float 64
    0xCC: 1,  # uint 8
    0xCD: 2,
    0xCE: 4,
    0xCF: 8,
    0xD0: 1,  # int 8
    0xD1: 2,
    0xD2: 4,
    0xD3: 8,
    0xD4: 2,  # fixext 1 (type, data)
    0xD5: 3,
    0xD6: 5,
    0xD7: 9,
    0xD8: 17,
}
_CONTAINERS: Final[dict[int, tuple[int, int]]] = {
    # first byte -> (bytes of the count that follows, items per counted entry)
    0xDC: (2, 1),  # array 16
    0xDD: (4, 1),  # array 32
    0xDE: (2, 2),  # map 16: a key and a value per entry
    0xDF: (4, 2),  # map 32
}


def msgpack_deeper_than(data: bytes, depth_max: int) -> bool:
    """Whether some item of the document lies inside more than `depth_max` arrays and
    maps (a map's keys count as inside it, like its values)."""
    end = len(data)
    pending = [1]  # items still to read at each open level; the document is one item
    at = 0
    while at < end:
        while pending and pending[-1] == 0:
            pending.pop()
        if not pending:
            return False  # the document is complete; what follows is not nesting
        run = _ONE_BYTE_ITEMS.match(data, at, at + pending[-1])
        if run is not None and run.end() > at:
            pending[-1] -= run.end() - at
            at = run.end()
            continue
        first = data[at]
        at += 1
        pending[-1] -= 1
        if 0x80 <= first <= 0x9F:  # fixmap, fixarray
            items = (first & 0x0F) * (2 if first < 0x90 else 1)
        elif first in _CONTAINERS:
            size, per_entry = _CONTAINERS[first]
            items = int.from_bytes(data[at : at + size], "big") * per_entry
            at += size
        else:
            if 0xA0 <= first <= 0xBF:  # fixstr
                at += first & 0x1F
            elif first in _FIXED:
                at += _FIXED[first]
            elif first in _SIZED:
                size, extra = _SIZED[first]
                at += size + extra + int.from_bytes(data[at : at + size], "big")
            else:
                return False  # 0xc1, never used: malformed from here on
            continue
        pending.append(items)
        if len(pending) - 1 > depth_max:
            return True
    return False
