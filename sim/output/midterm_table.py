"""The mid-term evaluation columns of the plan table: base value, pace, "already met", verdict.

A 中期评估 table puts, for each target, where the indicator started, where the data say it is
now, the pace achieved so far against the pace still required, and a verdict. Everything here
comes from *observations* (the history rows dated <= as_of), never from the model, except where
a cell says "model estimate" (模型估计):

* **base value** (:func:`base_cell`): the catalogue's ``base_value`` (the plan states it), with
  the observed level of the series in the base year (``base_year``, else the plan's start) beside
  it where the two differ, else the observed level alone; a cumulative change starts at 0 % in
  its base year; a cumulative sum is a window. The achieved pace starts from the observation
  where there is one (like for like with the latest actual).
* **pace** (:func:`pace`), in the indicator's natural unit ``u``:

  - a share in % (pp/yr): achieved ``(x_1 - x_0) / (y_1 - y_0)``, required
    ``(v - x_1) / (Y - y_1)``;
  - a level, count or cumulative change (%/yr): achieved ``100 ((x_1 / x_0)^(1/(y_1 - y_0)) - 1)``,
    required ``100 ((v / x_1)^(1/(Y - y_1)) - 1)`` (for a change ``c`` in %: ``x = 1 + c/100``);
  - a cumulative sum (unit/yr): achieved ``S / k`` over the ``k`` observed years of the window,
    required ``(v - S) / (years left)``;

  with ``(y_0, x_0)`` the base, ``(y_1, x_1)`` the latest observation, ``v`` the target value in
  year ``Y``. Where the latest observation already meets the target (its comparator and
  tolerance), the required pace is "already met" instead of a number. Without an observation the
  required pace is the model's (``required_annual`` of ``targets.csv``, from the median at as_of),
  labelled as such.
* **verdict** (:func:`verdict`): the traffic light in words (on track / at risk / off track).
* **changes since the plan's start** (:func:`dropouts`, mid-term runs) and the **joint
  probabilities in words** (:func:`joint_rows`: "P(all 9 evaluable of 14 binding met)" and the
  targets left out): a joint probability over fewer targets is not progress.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.evaluation import as_int, as_number
from sim.evaluation.probability import compare
from sim.output.formatting import fmt_number, fmt_pm
from sim.targets import Target

#: verdict words by P(met): the IPCC bands of the traffic light (≥ 66 % likely, < 33 % unlikely)
VERDICTS = ((0.66, "有望完成 on track"), (0.33, "存在风险 at risk"), (0.0, "难以完成 off track"))
ALREADY_MET = "已达到 already met"
MODEL = "模型估计 model estimate"


def _text(v) -> str:
    return v if isinstance(v, str) else ""


class CachedHistory:
    """A :class:`~sim.history.History` whose ``select`` runs once per (series, vintage): a plan
    table asks it several times per row (latest actual, base, window sum) for every scenario."""

    def __init__(self, history):
        self.history = history
        self._memo: dict[tuple[str, str], object] = {}

    def select(self, series: str, vintage: str = "revised") -> pd.DataFrame:
        """``history.select(series, vintage)``, computed once (its error too)."""
        key = (series, vintage)
        if key not in self._memo:
            try:
                self._memo[key] = self.history.select(series, vintage)
            except Exception as exc:   # re-raised on every call, as the History would
                self._memo[key] = exc
        got = self._memo[key]
        if isinstance(got, Exception):
            raise got
        assert isinstance(got, pd.DataFrame)
        return got


def target_of(row: dict) -> Target:
    """The :class:`~sim.targets.Target` of a ``targets.csv`` row (the columns it carries)."""
    return Target.from_row(dict(row, id=row.get("target_id"), indicator_en=row.get("indicator")))


def pace_unit(row: dict) -> str:
    """'pp/yr' for a share in %, 'UNIT/yr' for a cumulative sum, '%/yr' otherwise."""
    kind, unit = row.get("kind"), _text(row.get("unit")).strip()
    if kind == "cumulative_sum":
        return f"{unit}/yr" if unit else "/yr"
    return "pp/yr" if kind == "share" and unit == "%" else "%/yr"


@dataclass(frozen=True)
class Base:
    """The base of a target: value (NaN when none), year, the cell's text, and the value the
    achieved pace starts from (the observation where the data has one: like for like with the
    latest actual; else the plan's base)."""

    value: float
    year: int | None
    text: str
    pace_from: float = math.nan


def _observed_level(history, series: str, year: int, vintage: str) -> float | None:
    if history is None or not series:
        return None
    rows = history.select(series, vintage)   # an unknown series is an error naming it
    hit = rows[(rows["kind"] == "level") & (rows["year"] == year)]
    return float(hit["value"].iloc[0]) if not hit.empty else None


def base_cell(row: dict, history, plan_start: int, as_of: int, window: tuple | None = None,
              vintage: str = "revised") -> Base:
    """The base value (year) of a target row: the plan's stated base (catalogue ``base_value``)
    and the observed level in the base year where the data has it (both shown when they
    differ by more than 0.5 %); never a model estimate."""
    kind, unit = row.get("kind"), _text(row.get("unit"))
    if kind == "cumulative_change":
        b = as_int(row.get("base_year"))
        return Base(0.0, b, f"0% ({b} = 基期 base year)" if b is not None else "", 0.0)
    if kind == "cumulative_sum":
        p0, p1 = window or (row.get("period_start"), row.get("period_end"))
        p0, p1 = as_int(p0), as_int(p1) or as_int(row.get("target_year"))
        return Base(math.nan, p0, f"{p0}–{p1} 累计 total" if p0 is not None else "累计 total")
    t = target_of(row)
    year = t.base_year or (t.period_start - 1 if t.period_start else None) or plan_start
    obs = _observed_level(history, t.series, year, vintage) if year <= as_of else None
    plan = t.base_value
    if plan is None and obs is None:
        why = "no observation" if year <= as_of else f"after as_of {as_of}"
        return Base(math.nan, year, f"– ({year}: {why})")
    if plan is None:
        assert obs is not None
        return Base(obs, year, f"{fmt_number(obs)} {unit} ({year}, 数据 data)".replace("  ", " "), obs)
    text = f"{fmt_number(plan)} {unit} ({year}, 规划 plan".replace("  ", " ")
    if obs is not None and abs(obs - plan) > 0.005 * abs(plan):
        text += f"; 数据 data {fmt_number(obs)}"
    return Base(plan, year, text + ")", obs if obs is not None else plan)


@dataclass(frozen=True)
class Pace:
    """Achieved and required pace in ``unit``, whether the latest data already meet the target,
    and the cells' texts (achieved with its years; required, or "already met")."""

    achieved: float
    required: float
    unit: str
    already_met: bool
    achieved_text: str
    required_text: str


def _rate(x0: float, x1: float, years: int, pp: bool) -> float:
    """pp/yr (``pp``) or compound %/yr from ``x0`` to ``x1`` over ``years``; NaN if undefined."""
    if years <= 0:
        return math.nan
    if pp:
        return (x1 - x0) / years
    if x0 > 0 and x1 > 0:
        return 100 * ((x1 / x0) ** (1 / years) - 1)
    return math.nan


def _met(row: dict, x: float) -> bool:
    v = as_number(row.get("value"))
    if v is None or not math.isfinite(x):
        return False
    ok = compare(np.array([x]), str(row.get("comparator")), v, as_number(row.get("value_high")),
                 as_number(row.get("tolerance")), _text(row.get("approx_sense")))
    return bool(ok[0])


def _model_required(row: dict, unit: str, as_of: int) -> tuple[float, str]:
    """The model's required pace (``required_annual``, from the median at as_of) in ``unit``."""
    r, v, y = as_number(row.get("required_annual")), as_number(row.get("value")), \
        as_int(row.get("target_year"))
    if r is None or v is None or y is None:
        return math.nan, ""
    if unit == "pp/yr":      # start s from v = s (1 + r/100)^n, then (v - s) / n
        n = y - as_of
        s = v / (1 + r / 100) ** n
        r = (v - s) / n
    return r, f"{fmt_number(r)} {unit} ({MODEL})"


def pace(row: dict, base: Base, latest: tuple[float, int | None], as_of: int,
         observed_sum: tuple[float, int] | None = None) -> Pace:
    """The pace of a target row (see the module docstring).

    ``latest`` is ``(x_1, y_1)``, the latest observation (for a cumulative change, the observed
    change in % since its base year), ``(NaN, None)`` without one; ``observed_sum`` is ``(S, k)``,
    the sum over the first ``k`` years of a cumulative sum's window, all observed.
    """
    unit = pace_unit(row)
    kind = row.get("kind")
    v, y = as_number(row.get("value")), as_int(row.get("target_year"))
    if v is None or y is None:
        return Pace(math.nan, math.nan, unit, False, "", "")
    if kind == "cumulative_sum":
        return _sum_pace(row, base, unit, v, observed_sum, as_of)
    x1, y1 = latest
    pp = unit == "pp/yr"
    if y1 is None or not math.isfinite(x1):
        req, txt = _model_required(row, unit, as_of)
        a = as_number(row.get("achieved_annual"))
        same = _text(row.get("achieved_unit")) == unit
        a_txt = f"{fmt_number(a)} {unit} ({MODEL})" if a is not None and same else ""
        return Pace(a if a is not None and same else math.nan, req, unit, False, a_txt, txt)
    as_level = kind == "cumulative_change"
    lv1, lv = (1 + x1 / 100, 1 + v / 100) if as_level else (x1, v)
    achieved = math.nan
    if base.year is not None and math.isfinite(base.pace_from) and y1 > base.year:
        lv0 = 1 + base.pace_from / 100 if as_level else base.pace_from
        achieved = _rate(lv0, lv1, y1 - base.year, pp)
    a_txt = (f"{fmt_number(achieved)} {unit} ({base.year}→{y1})" if math.isfinite(achieved) else "")
    if _met(row, x1):
        return Pace(achieved, math.nan, unit, True, a_txt, f"{ALREADY_MET} ({y1})")
    req = _rate(lv1, lv, y - y1, pp) if y > y1 else math.nan
    r_txt = f"{fmt_number(req)} {unit} ({y1}→{y})" if math.isfinite(req) else ""
    return Pace(achieved, req, unit, False, a_txt, r_txt)


def _sum_pace(row: dict, base: Base, unit: str, v: float,
              observed_sum: tuple[float, int] | None, as_of: int) -> Pace:
    """Pace of a cumulative sum; unknown when years of the window up to as_of are not observed
    from its first year on (what is left to do is then unknown)."""
    p0 = base.year
    p1 = as_int(row.get("period_end")) or as_int(row.get("target_year"))
    if p0 is None or p1 is None:
        return Pace(math.nan, math.nan, unit, False, "", "")
    total = p1 - p0 + 1
    if (observed_sum is None or observed_sum[1] == 0) and p0 <= as_of:
        return Pace(math.nan, math.nan, unit, False, "",
                    f"– ({p0}–{min(as_of, p1)} not in the data 无数据)")
    if observed_sum is None or observed_sum[1] == 0:
        req = v / total
        return Pace(math.nan, req, unit, False, "", f"{fmt_number(req)} {unit} ({p0}–{p1})")
    s, k = observed_sum
    a = s / k
    a_txt = f"{fmt_number(a)} {unit} ({p0}–{p0 + k - 1}, Σ {fmt_number(s)})"
    if s >= v and row.get("comparator") == ">=":
        return Pace(a, math.nan, unit, True, a_txt, f"{ALREADY_MET} ({p0 + k - 1})")
    left = total - k
    req = (v - s) / left if left > 0 else math.nan
    r_txt = f"{fmt_number(req)} {unit} ({p0 + k}–{p1})" if left > 0 else ""
    return Pace(a, req, unit, False, a_txt, r_txt)


def verdict(p, already_met: bool = False) -> str:
    """The verdict word of P(met): on track (≥ 66 %), at risk (33–66 %), off track (< 33 %);
    '已达到 already met' where the latest data meet the target and P(met) ≥ 66 %."""
    p = as_number(p)
    if p is None:
        return ""
    if already_met and p >= VERDICTS[0][0]:
        return ALREADY_MET
    return next(word for lo, word in VERDICTS if p >= lo)


def observed_sum(history, series: str, p0: int, as_of: int, vintage: str) -> tuple[float, int] | None:
    """``(S, k)``: the sum of the observed annual levels of ``series`` over ``p0 .. p0 + k - 1``,
    the longest run of consecutive observed years from ``p0`` up to ``as_of``; None without."""
    if history is None or not series or p0 > as_of:
        return None
    rows = history.select(series, vintage)   # an unknown series is an error naming it
    levels = rows[(rows["kind"] == "level") & (rows["year"] >= p0) & (rows["year"] <= as_of)]
    by_year = dict(zip(levels["year"].astype(int), levels["value"].astype(float)))
    s, k = 0.0, 0
    while p0 + k in by_year:
        s += by_year[p0 + k]
        k += 1
    return (s, k) if k else None


def is_midterm(plan: pd.DataFrame) -> bool:
    """Whether the plan table is a mid-term evaluation's (it has P at plan start)."""
    return "p_at_plan_start" in plan and bool(plan["p_at_plan_start"].notna().any())


def dropouts(plan: pd.DataFrame) -> pd.DataFrame:
    """Targets whose evaluation changed since the plan's start (one row per target and change):
    target_id, indicator_zh, indicator_en, type, change_since_start, scenarios."""
    cols = ["target_id", "indicator_zh", "indicator_en", "type", "change_since_start", "scenarios"]
    if "change_since_start" not in plan:
        return pd.DataFrame(columns=cols)
    ch = plan[plan["change_since_start"] != ""]
    all_scen = list(dict.fromkeys(plan["scenario"]))
    out = []
    for (tid, why), g in ch.groupby(["target_id", "change_since_start"], sort=False):
        f = g.iloc[0]
        scen = list(g["scenario"])
        out.append(dict(target_id=tid, indicator_zh=f["indicator_zh"], indicator_en=f["indicator_en"],
                        type=f["type"], change_since_start=why,
                        scenarios="all" if len(scen) == len(all_scen) else ", ".join(scen)))
    return pd.DataFrame(out, columns=cols)


#: how to read the pace columns (tables, report)
PACE_NOTE = ("Achieved so far: the annual pace from the base value to the latest observation; "
             "required: the annual pace from the latest observation that would just meet the "
             "target (\"already met\" where the latest data already meet it). Units: pp/yr "
             "(percentage points) for shares in %, %/yr (compound) for levels and cumulative "
             "changes, units/yr for sums over a period. \"model estimate\" marks a value taken "
             "from the model where the data have none.")


def joint_rows(joint: pd.DataFrame | None) -> list[dict]:
    """The joint probabilities in words: scenario, set, 'P(all 9 evaluable of 14 binding met)',
    P ± SE, expected number met, and the targets left out."""
    if joint is None or joint.empty:
        return []
    out = []
    for r in joint.to_dict("records"):
        n, big_n = as_int(r.get("n_targets")), as_int(r.get("n_in_group"))
        group = "binding" if r.get("group") == "binding" else "targets"
        of = f" of {big_n}" if big_n is not None and big_n != n else ""
        out.append({"scenario": r["scenario"], "target_set": r["target_set"],
                    "what": f"P(all {n} evaluable{of} {group} met)",
                    "p": fmt_pm(r.get("p_all"), r.get("p_all_se")),
                    "expected": f"{fmt_number(r.get('expected_met'))} of {n}",
                    "left_out": r.get("left_out") if isinstance(r.get("left_out"), str) else ""})
    return out
