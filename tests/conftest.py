"""Hypothesis profiles for the test suite.

``default`` (what a developer's ``python -m pytest`` uses) draws new examples on every run, so
each run explores; ``ci`` (``HYPOTHESIS_PROFILE=ci``, set by ``.ci/run``) is derandomized: the
same examples on every run of the same code, so CI's verdict depends on the change, not on the
draw. A counterexample found while exploring is fixed and kept as a named regression test.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
