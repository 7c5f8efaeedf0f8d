"""Formatting of numbers, probabilities and targets for the tables people read.

Shared by :mod:`sim.output.tables`, :mod:`sim.output.midterm_table`, :mod:`sim.output.xlsx` and
:mod:`sim.output.html` (re-exported by :mod:`sim.output.tables` under the same names).
"""

from __future__ import annotations

import math

from sim.evaluation import as_number
from sim.evaluation.probability import APPROX_TOLERANCE, EQUAL_TOLERANCE
from sim.numbers import fmt_number  # noqa: F401 (the tables' number format)

#: IPCC likelihood terms in Chinese (IPCC AR5 Chinese edition wording)
LIKELIHOOD_ZH = {
    "virtually certain": "几乎确定",
    "very likely": "很可能",
    "likely": "可能",
    "about as likely as not": "可能性中等",
    "unlikely": "不太可能",
    "very unlikely": "很不可能",
    "exceptionally unlikely": "极不可能",
}
BINDING_TEXT = {"binding": "约束性 binding", "indicative": "预期性 indicative",
                "unspecified": "未注明 unspecified"}
STATUS_TEXT = {"evaluated": "已评估 evaluated", "not evaluable": "未评估 not evaluable"}
COMPARATOR_TEXT = {">=": "≥", "<=": "≤", "approx": "≈", "==": "=", "range": ""}

#: traffic-light thresholds on P(met): IPCC "likely" (≥ 66 %) and "unlikely" (< 33 %)
GREEN, AMBER = 0.66, 0.33


# --------------------------------------------------------------------------------------------
# formatting helpers


def _nan(v) -> float:
    """A cell as a float for the numeric columns: NaN where :func:`as_number` finds no number."""
    x = as_number(v)
    return math.nan if x is None else x


def fmt_pct(p, digits: int = 1) -> str:
    """0.623 → '62.3%'; NaN → '–'."""
    p = as_number(p)
    return f"{100 * p:.{digits}f}%" if p is not None else "–"


def fmt_pm(p, se) -> str:
    """'62.3% ± 0.3%'."""
    p, se = as_number(p), as_number(se)
    if p is None:
        return "–"
    se_txt = "<0.1%" if se is not None and 100 * se < 0.05 else fmt_pct(se)
    return f"{fmt_pct(p)} ± {se_txt}"


def target_text(row: dict, with_tolerance: bool = False) -> str:
    """'≥ 26,000', '≤ −10', '5–6', or '（空白）blank' when the target has no value; with
    ``with_tolerance`` an ≈ / = target carries its :func:`tolerance_text`: '≈ 1,480 (± 5%)'."""
    v, hi = as_number(row.get("value")), as_number(row.get("value_high"))
    if v is None:
        return "（空白）blank"
    cmp = row.get("comparator")
    if cmp == "range" and hi is not None:
        return f"{fmt_number(v)}–{fmt_number(hi)}"
    text = f"{COMPARATOR_TEXT.get(str(cmp), cmp)} {fmt_number(v)}".strip()
    tol = tolerance_text(row) if with_tolerance else ""
    return f"{text} ({tol})" if tol else text


def light(p) -> str:
    """'green' / 'amber' / 'red' / '' (not evaluated)."""
    p = as_number(p)
    if p is None:
        return ""
    return "green" if p >= GREEN else ("amber" if p >= AMBER else "red")


def tolerance_text(row: dict) -> str:
    """The tolerance of an ≈ / = target: '± 5%' ('默认 default' when the catalogue gives none,
    :data:`~sim.evaluation.probability.APPROX_TOLERANCE`), or for a one-sided ≈ where it is met:
    'met at ≥ 1,406, ± 5%'; '' for other comparators."""
    cmp = row.get("comparator")
    if cmp not in ("approx", "=="):
        return ""
    tol = as_number(row.get("tolerance"))
    default = tol is None
    tol = (APPROX_TOLERANCE if cmp == "approx" else EQUAL_TOLERANCE) if tol is None else tol
    pct = f"{100 * tol:g}%" + (" 默认 default" if default else "")
    v = as_number(row.get("value"))
    sense = row.get("approx_sense")
    if v is None or cmp == "==" or sense not in ("higher", "lower"):
        return f"± {pct}"
    edge = v - tol * abs(v) if sense == "higher" else v + tol * abs(v)
    return f"met at {'≥' if sense == 'higher' else '≤'} {fmt_number(edge)}, ± {pct}"

