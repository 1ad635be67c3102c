"""The detectors: one module each, every module listing its classes in `DETECTORS`.

`all_detectors()` builds one of each with its default parameters, in module-name
order, so the set (and the order of alerts within a step) is the same in every
process.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from clearhouse.surveillance.detector import Detector


def detector_classes() -> dict[str, Any]:
    """Each detector's name and class, from the modules of this package."""
    found: dict[str, Any] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for cls in getattr(module, "DETECTORS", ()):
            found[cls.name] = cls
    return dict(sorted(found.items()))


def all_detectors(names: list[str] | None = None) -> list[Detector]:
    """One of each detector (or of those `names`), default parameters."""
    classes = detector_classes()
    unknown = sorted(set(names or ()) - set(classes))
    if unknown:
        raise ValueError(f"unknown detector {', '.join(unknown)}: one of {', '.join(classes)}")
    return [cls() for name, cls in classes.items() if names is None or name in names]
