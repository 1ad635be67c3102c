"""Agents of labelled sessions: the honest population (`honest`) and manipulators,
one module per pattern, each listing its factories in `MANIPULATORS`: detector
name -> `factory(rng, number) -> Agent`, where `number` tells apart several
manipulators of one kind in a session (its owners' names must carry it). A module
may also list in `HONEST` factories `factory(rng) -> list[Agent]` of honest agents
(the hard negatives a detector must not flag) that join every session."""

from __future__ import annotations

import importlib
import pkgutil
import random
from collections.abc import Callable
from typing import Any

Factory = Callable[[random.Random, int], Any]


def manipulator_factories() -> dict[str, Factory]:
    """Each pattern's factory, from the modules of this package."""
    found: dict[str, Factory] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found.update(getattr(module, "MANIPULATORS", {}))
    return dict(sorted(found.items()))


def honest_factories() -> list[Callable[[random.Random], list[Any]]]:
    found: list[Callable[[random.Random], list[Any]]] = []
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found.extend(getattr(module, "HONEST", ()))
    return found


def standard_population(rng: random.Random, patterns: list[str] | None = None) -> list[Any]:
    """The honest population (with every module's hard negatives) and, for each
    pattern (all by default), one or two manipulators of it."""
    from clearhouse.surveillance.agents.honest import honest_population

    agents = honest_population(rng)
    for honest in honest_factories():
        agents.extend(honest(rng))
    for name, factory in manipulator_factories().items():
        if patterns is not None and name not in patterns:
            continue
        for number in range(1, rng.choice((1, 2)) + 1):
            agents.append(factory(rng, number))
    return agents
