"""The one parser of numbers in cells (catalogue rows, history CSV files, table cells).

``parse_float`` is the raw parse (``"nan"`` and ``"inf"`` come back as such, so a reader can say
*not finite* rather than *not a number*); ``as_number`` and ``as_int`` are what the rest of the
package uses: a finite number or None for blanks, text and NaN.
"""

from __future__ import annotations

import math
from typing import Any


def parse_float(value: Any) -> float | None:
    """``float(value)``, or None when it is not a number at all (blank, text, None)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_number(value: Any) -> float | None:
    """A finite float, or None for blanks, text, None and NaN/inf (catalogue and table cells)."""
    f = parse_float(value)
    return f if f is not None and math.isfinite(f) else None


def as_int(value: Any) -> int | None:
    """A whole number (years, counts) from a cell, or None for blanks, text and NaN."""
    f = as_number(value)
    return int(f) if f is not None else None
