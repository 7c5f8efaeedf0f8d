"""The target catalogue: every quantitative target in the seed plans, as data (``sim/data/targets.csv``).

Contract used by other modules (filled in by the catalogue work):

* ``TARGET_SETS`` — the names of the target sets, in plan order.
* ``load_catalogue(path=None) -> pandas.DataFrame`` — one row per target with at least the
  columns ``id, target_set, series, indicator_zh, indicator_en, target_year, kind, comparator,
  value, value_high, tolerance, unit, base_year, period_start, period_end, binding,
  value_status, source, source_section, quote_zh, note``.
"""

from __future__ import annotations

# name -> description (document, year of the targets)
TARGET_SETS: dict[str, str] = {
    "action_plan_2015": "关于创造深圳质量的行动计划 (2011 Action Plan on Shenzhen Quality), targets for 2015",
    "fyp12_2015": "深圳市第十二个五年规划 (12th Five-Year Plan) targets for 2015, as restated in the 13th FYP outline 专栏1",
    "fyp13_2020": "深圳市国民经济和社会发展第十三个五年规划纲要 (13th Five-Year Plan outline), targets for 2020",
    "quality_plan_2020": "深圳市质量发展第十三个五年规划（征求意见稿） (Quality Development 13th FYP, draft), targets for 2020",
}
