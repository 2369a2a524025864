"""Suite-wide settings.

Property-based tests explore new random inputs on every developer run (that is how they find bugs), but CI
must judge a change, not the luck of the draw: with CI set, hypothesis runs a fixed, derandomized sequence.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("CI"):
    settings.load_profile("ci")
