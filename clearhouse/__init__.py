"""clearhouse: a deterministic, auditable execution and clearing engine for crypto derivatives."""

from clearhouse._native import choose_core

__version__ = "0.1.0"
CORE_BUILD = choose_core()
"""'compiled' when the mypyc build of the core is in use, else 'pure'."""

__all__ = ["CORE_BUILD", "__version__"]
