"""The runtime state of one listed instrument: its book, mark and open interest.

`Market` is defined in `ledger.py`, beside the accounts and positions it points at
and that point at it, so that `ledger` depends on nothing above it; this module
keeps its import path.
"""

from __future__ import annotations

from clearhouse.core.ledger import Market

__all__ = ["Market"]
