"""The sequencer: the one place where arrival order enters.

- `sequencer` runs the durable path as a pipeline of stages (admit, verify, apply,
  commit, acknowledge) for many concurrent callers (`Sequencer`, `BATCH_TXS_MAX`,
  `IN_FLIGHT_TXS_MAX`).
- `ticket` is the receipt to come that `submit` hands out (`Ticket`): a future without
  a condition variable per order.
"""

from clearhouse.sequencer.sequencer import (
    BATCH_TXS_MAX,
    IN_FLIGHT_TXS_MAX,
    Committed,
    Sequencer,
)
from clearhouse.sequencer.ticket import Ticket

__all__ = ["BATCH_TXS_MAX", "IN_FLIGHT_TXS_MAX", "Committed", "Sequencer", "Ticket"]
