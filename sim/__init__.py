"""sim — how likely is each planning target to be met, under each policy scenario, as of a year.

The data flow (see DESIGN.md): scenario file → spec; calibration/data → history (≤ as_of) →
calibrate → fitted model; fitted model + spec → engine → ensemble → evaluation → results.
"""

__version__ = "0.1.0"
