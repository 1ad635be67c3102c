"""Shared test set-up: hypothesis profiles, chosen by HYPOTHESIS_PROFILE.

- "default" (what `make test` runs): enough examples to catch regressions in well
  under a minute on a two-core machine. The explain phase is off: on a failure it
  re-runs the shrunk example many times to annotate it, which costs minutes on the
  stateful test for a note the shrunk log already makes plain.
- "fuzz" (what `make fuzz` runs on the stateful tests of tests/core/ and on
  tests/journal/test_outside_path.py): 2,000 runs of up
  to 200 steps (under ten minutes on one core), full diagnostics. Hypothesis keeps
  a record of every run it has generated, about 1 MB per stateful run of this size,
  so the run count is set for memory (~2 GB) as much as for time.

Deadlines are off in both: the time one example takes on a loaded machine is not a
property of the engine.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "default",
    max_examples=60,
    stateful_step_count=100,
    deadline=None,
    phases=tuple(phase for phase in Phase if phase is not Phase.explain),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=2_000,
    stateful_step_count=200,
    deadline=None,
    # Runs this long are large on purpose.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
