"""The one parser of numbers in cells (catalogue rows, history CSV files, table cells).

``parse_float`` is the raw parse (``"nan"`` and ``"inf"`` come back as such, so a reader can say
*not finite* rather than *not a number*); ``as_number`` and ``as_int`` are what the rest of the
package uses: a finite number or None for blanks, text and NaN. ``fmt_number`` is the one way a
number is written for a reader (tables, tick labels).
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


def fmt_number(x: Any) -> str:
    """15000 → '15,000'; 0.4123 → '0.412'; 6.50 → '6.5'; blank, text or NaN → '–' (a real minus)."""
    x = as_number(x)
    if x is None:
        return "–"
    ax = abs(x)
    if ax >= 1000:
        s = f"{x:,.0f}"
    elif ax >= 100:
        s = f"{x:.1f}".rstrip("0").rstrip(".")
    elif ax >= 1:
        s = f"{x:.2f}".rstrip("0").rstrip(".")
    elif ax == 0:
        s = "0"
    else:
        s = f"{x:.3g}"
    return s.replace("-", "−")
