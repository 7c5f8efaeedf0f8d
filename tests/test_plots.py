"""Figures: the shipped CJK font covers every label; fan views equal the evaluation's numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from PIL import Image

from sim.evaluation import evaluate
from sim.output import fans as F
from sim.output import plots as P
from sim.targets import load_catalogue
from sim.vocabulary import SERIES


def test_shipped_font_covers_all_chinese_text():
    assert P.FONT_FILE.exists()
    cmap = TTFont(str(P.FONT_FILE)).getBestCmap()
    text = "".join(s.label_zh for s in SERIES.values())
    text += "".join(str(x) for x in load_catalogue()["indicator_zh"])
    text += "".join(P.SET_LABELS.values()) + "实际中位数区间目标达标截至未评估较年累计变化指数情景"
    missing = sorted({c for c in text if ord(c) >= 0x2E80 and ord(c) not in cmap})
    assert not missing, f"glyphs missing from the shipped font: {''.join(missing)}"
    # units and other non-CJK text: the shipped font or matplotlib's DejaVu Sans (the fallback)
    dejavu = TTFont(font_manager.findfont("DejaVu Sans", fallback_to_default=False)).getBestCmap()
    units = "".join(s.unit + s.label_en for s in SERIES.values()) + "≥≤≈±−–·→%₂"
    missing = sorted({c for c in units if ord(c) not in cmap and ord(c) not in dejavu})
    assert not missing, f"glyphs in no font: {''.join(missing)}"
    assert P.use_cjk_font() == P.FONT_FAMILY
    found = font_manager.findfont(font_manager.FontProperties(family=P.FONT_FAMILY),
                                  fallback_to_default=False)
    assert found.endswith("NotoSansSC-sim-subset.otf")


def _evaluate(ds, row):
    base = dict(id="t", target_set="fyp13_2020", indicator_en="x", indicator_zh="x",
                value_high=None,
                tolerance=None, unit="%", base_year=None, period_start=None, period_end=None,
                binding="binding", comparator="<=", target_year=2020)
    base.update(row)
    return evaluate(ds, pd.DataFrame([base])).table, base


@pytest.mark.parametrize("base_year", [2015, 2010])
def test_change_view_median_equals_evaluation(base_year, make_dataset):
    ds = make_dataset()
    table, row = _evaluate(ds, dict(series="co2_intensity", kind="cumulative_change", value=-10.0,
                                    base_year=base_year))
    spec = F.target_view(ds, {**row, "target_id": "t"})
    assert spec == F.FanSpec("co2_intensity", "change", base_year)
    years, values = F.view_values(ds, spec)
    assert years[-1] == 2020
    for k, scen in enumerate(ds["scenario"].values):
        med = table.set_index("scenario").loc[str(scen), "median"]
        assert np.median(values[k, :, -1]) == pytest.approx(med, rel=1e-12)


def test_sum_view_ends_at_the_window_total(make_dataset):
    ds = make_dataset()
    table, row = _evaluate(ds, dict(series="affordable_housing_supplied", kind="cumulative_sum",
                                    value=350000.0, comparator=">=", unit="套",
                                    period_start=2016, period_end=2020))
    spec = F.target_view(ds, {**row, "target_id": "t"}, {"t": (2016, 2020)})
    years, values = F.view_values(ds, spec)
    assert years[0] == 2015 and (values[..., 0] == 0).all()
    med = table.set_index("scenario").loc["baseline", "median"]
    assert np.median(values[0, :, -1]) == pytest.approx(med)


def test_history_points_chain_changes_into_an_index():
    hist = pd.DataFrame({"year": [2013, 2014, 2015], "kind": ["change_pct"] * 3,
                         "value": [10.0, 10.0, 10.0], "base_year": [None] * 3})
    ys, vals = F.history_points(hist, F.FanSpec("carbon_factor"), 2015, relative=True)
    assert list(ys) == [2012, 2013, 2014, 2015]
    assert vals == pytest.approx([1 / 1.1 ** 3, 1 / 1.1 ** 2, 1 / 1.1, 1.0])
    ys, vals = F.history_points(hist, F.FanSpec("carbon_factor", "change", 2013), 2015, relative=True)
    assert list(ys) == [2013, 2014, 2015] and vals == pytest.approx([0, 10, 21])


def test_fan_chart_draws_one_panel_per_scenario(tmp_path, make_dataset):
    ds = make_dataset(draws=100)
    table, row = _evaluate(ds, dict(series="gdp_nominal", kind="level", value=26000.0,
                                    comparator=">=", unit="亿元"))
    table["target_id"] = "t"
    path = F.fan_chart(ds, F.FanSpec("gdp_nominal"), tmp_path / "f.png", table=table,
                       scenario_labels={"baseline": "基准情景"})
    w, h = Image.open(path).size
    assert w > 2 * h * 0.9  # two panels side by side
    # the image is not blank: the fan colours are there
    px = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    assert (np.abs(px - np.array([0x5f, 0x93, 0xc6])).sum(axis=1) < 10).sum() > 500
