"""clearhouse: a deterministic, auditable execution and clearing engine for crypto derivatives."""

__version__ = "0.1.0"

__all__ = ["__version__"]
