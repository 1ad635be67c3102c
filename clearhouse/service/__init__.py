"""The venue as a service: `clearhouse serve` runs the sequencer, journal, engine
and keeper behind an HTTP API (`create_app`), over a `VenueRuntime`."""

from clearhouse.service.api import create_app
from clearhouse.service.errors import ApiError, ServiceErrorCode
from clearhouse.service.runtime import VenueRuntime

__all__ = ["ApiError", "ServiceErrorCode", "VenueRuntime", "create_app"]
