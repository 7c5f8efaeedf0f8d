"""The vocabulary of series: every name that may appear in ``calibration/data/*.csv``, in the
target catalogue's ``series`` column, and as a variable of ``ensemble.nc``.

A series is one quantity. Its observations come in kinds (see :mod:`sim.history`):
``level`` (in ``Series.unit``), ``change_pct`` (year-on-year %, unit ``%``),
``cumulative_change_pct`` (% change over the window (base_year, year], unit ``%``) and
``period_sum`` (sum of annual levels over (base_year, year], in ``Series.unit``).

``scale`` is the transform the models work on: ``log`` for positive quantities, ``logit`` for
shares in 0–100 %. ``role`` says how the model treats the series:

* ``driver``   — a calibrated stochastic driver of the structural model (DESIGN.md "Model");
* ``derived``  — computed in every draw from drivers (e.g. energy = real GDP × intensity);
* ``generic``  — any other indicator with a history: local linear trend on ``scale``;
* ``context``  — kept for reference/checks, not simulated.

Also here, as their single home: the names of the structural model (``CHANGE_DRIVERS``, the
housing names, ``LEVER_DRIVERS``, ``COMPOSITION``) and of the plans' target sets
(``TARGET_SETS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Iterator, Mapping

from sim.errors import SimError, did_you_mean


@dataclass(frozen=True)
class Series:
    """One quantity: its unit, the scale the models work on, its role, and its labels."""

    name: str
    unit: str          # unit of `level` and `period_sum` observations
    scale: str         # "log" | "logit"
    role: str          # "driver" | "derived" | "generic" | "context"
    label_en: str
    label_zh: str
    family: str = ""               # indicator family (FAMILIES) of a declared series
    lower: float | None = None     # plausible range of a level (declared series; None: the
    upper: float | None = None     # scale's own: > 0 for log, 0-100 for logit)
    declared_in: str = ""          # "FILE: line N" of a data directory's series.csv, "" if built in


def _s(name, unit, scale, role, en, zh) -> Series:
    return Series(name, unit, scale, role, en, zh)


# Units follow the plans' own (亿元 = 1e8 CNY, 万人 = 1e4 persons, 万元 = 1e4 CNY).
_TABLE: dict[str, Series] = {s.name: s for s in (
    # --- economy (drivers and what follows from them) ---
    _s("gdp_real", "index", "log", "driver", "Real GDP (volume)", "地区生产总值（不变价）"),
    _s("gdp_deflator", "index", "log", "driver", "GDP deflator", "GDP平减指数"),
    _s("gdp_nominal", "亿元", "log", "derived", "GDP (current prices)", "地区生产总值"),
    _s("population_resident", "万人", "log", "driver", "Resident population (year end)", "常住人口"),
    _s("usdcny", "CNY per USD", "log", "driver",
       "Exchange rate, annual average", "人民币兑美元汇率（年平均）"),
    _s("gdp_per_capita", "元", "log", "derived", "GDP per capita", "人均地区生产总值"),
    _s("gdp_per_capita_usd", "USD", "log", "derived", "GDP per capita (US$)", "人均地区生产总值（美元）"),
    # --- energy and carbon (Kaya identity) ---
    _s("energy_intensity", "吨标准煤/万元", "log", "driver",
       "Energy use per 10,000 yuan of GDP", "万元GDP能耗"),
    _s("energy_consumption", "万吨标准煤", "log", "derived", "Total energy consumption", "能源消费总量"),
    _s("carbon_factor", "tCO2/tce", "log", "driver", "CO2 per unit of energy", "单位能耗二氧化碳排放"),
    _s("co2_emissions", "Mt CO2", "log", "derived", "CO2 emissions", "二氧化碳排放量"),
    _s("co2_intensity", "tCO2/万元", "log", "derived", "CO2 per 10,000 yuan of GDP", "万元GDP二氧化碳排放"),
    # --- water ---
    _s("water_intensity", "立方米/万元", "log", "driver", "Water use per 10,000 yuan of GDP", "万元GDP水耗"),
    _s("water_use", "亿立方米", "log", "derived", "Total water use", "用水总量"),
    # --- pollutant loads ---
    _s("cod_emissions", "吨", "log", "driver", "Chemical oxygen demand discharged", "化学需氧量排放量"),
    _s("nh3n_emissions", "吨", "log", "driver", "Ammonia-nitrogen discharged", "氨氮排放量"),
    _s("so2_emissions", "吨", "log", "driver", "Sulphur dioxide emitted", "二氧化硫排放量"),
    _s("nox_emissions", "吨", "log", "driver", "Nitrogen oxides emitted", "氮氧化物排放量"),
    # --- housing ---
    # Observations on another definition than the target's indicator: kept, never spliced into it
    # (reference CONFLICTS.md: seed 002's 2014 figures predate the new survey definition / count).
    _s("disposable_income_other_definition", "元", "log", "context",
       "Per-capita disposable income, 2014 figure of seed 002 (definition not stated; not spliced)",
       "居民人均可支配收入（口径未说明）"),
    _s("library_books_per_capita_other_count", "册", "log", "context",
       "Public-library holdings per capita, seed 002's count (not spliced)",
       "人均图书馆图书藏量（另一统计口径）"),
    _s("affordable_housing_planned", "套", "log", "context",
       "Affordable housing: programme units (plan)", "保障性住房计划套数"),
    _s("affordable_housing_supplied", "套", "log", "derived",
       "Affordable housing units supplied", "保障性住房供应套数"),
    # --- affordable housing counted in 套(间) (flats or rooms; since 2021 incl. affordable rental rooms).
    # Kept apart from the 套 series above: the counting unit changed (calibration/data/SOURCES.md).
    _s("affordable_housing_planned_rooms", "套(间)", "log", "context",
       "Affordable housing: programme units, flats or rooms (plan)", "保障性住房计划套（间）数"),
    _s("affordable_housing_supplied_rooms", "套(间)", "log", "context",
       "Affordable housing supplied, flats or rooms", "保障性住房供应套（间）数"),
    # --- further indicators with a real history (generic model) ---
    _s("tertiary_share", "%", "logit", "generic", "Tertiary-sector share of GDP", "第三产业增加值占GDP比重"),
    _s("modern_services_share", "%", "logit", "generic",
       "Modern services share of tertiary value added", "现代服务业增加值占第三产业比重"),
    _s("emerging_industries_share", "%", "logit", "generic",
       "Strategic emerging industries share of GDP", "战略性新兴产业增加值占GDP比重"),
    _s("high_tech_share", "%", "logit", "generic",
       "High-tech industry value added share of GDP", "高技术产业增加值占GDP比重"),
    _s("own_ip_high_tech_share", "%", "logit", "generic",
       "Share of high-tech output with own IP", "自主知识产权高新技术产品产值比重"),
    _s("rd_share", "%", "logit", "generic", "Gross R&D expenditure share of GDP", "全社会研发支出占GDP比重"),
    _s("patents_granted_per_10k", "项/万人", "log", "generic",
       "Invention patents granted per 10,000 people (annual)", "每万人口年度发明专利授权数量"),
    _s("tech_progress_contribution", "%", "logit", "generic",
       "Contribution rate of S&T progress", "科技进步贡献率"),
    _s("college_educated_share", "%", "logit", "generic",
       "Share of population with junior-college education or above", "大专以上受教育人口比重"),
    _s("disposable_income", "元", "log", "generic",
       "Per-capita disposable income of residents", "居民人均可支配收入"),
    _s("unemployment_rate", "%", "logit", "generic", "Registered urban unemployment rate", "城镇登记失业率"),
    _s("hospital_beds", "张", "log", "generic", "Hospital beds", "病床数"),
    _s("hospital_beds_per_1000", "张/千人", "log", "generic", "Hospital beds per 1,000 people", "千人病床数"),
    _s("pension_participation", "%", "logit", "generic",
       "Urban employee basic pension participation rate", "城镇职工基本养老保险参保率"),
    _s("public_transport_share", "%", "logit", "generic",
       "Public-transport share of motorised trips", "公共交通占机动化出行分担率"),
    _s("library_books_per_capita", "册", "log", "generic",
       "Public-library holdings per capita", "人均公共图书馆图书藏量"),
    _s("farm_products_pass_rate", "%", "logit", "generic",
       "Main farm products safety-test pass rate", "主要农产品质量安全检测合格率"),
    _s("food_production_pass_rate", "%", "logit", "generic",
       "Food production supervisory sampling pass rate", "食品生产监督抽查合格率"),
    _s("violent_crime_per_10k", "宗/万人", "log", "generic",
       "Violent crime cases filed per 10,000 people", "每万人暴力案件立案数"),
    _s("life_expectancy", "岁", "log", "generic", "Life expectancy", "居民平均预期寿命"),
    _s("land_per_gdp", "平方米/万元", "log", "generic",
       "Construction land per 10,000 yuan of GDP", "万元GDP建设用地"),
    _s("population_registered", "万人", "log", "generic",
       "Registered (hukou) population, year end", "户籍人口"),
    _s("retail_sales", "亿元", "log", "generic", "Retail sales of consumer goods", "社会消费品零售总额"),
    _s("green_coverage", "%", "logit", "generic", "Green coverage of built-up area", "建成区绿化覆盖率"),
    _s("pm25", "μg/m3", "log", "generic", "PM2.5 annual mean concentration", "细颗粒物（PM2.5）年均浓度"),
    _s("air_good_days", "天", "log", "generic",
       "Days with good or excellent air quality", "空气质量优良天数"),
    # --- extra indicators with a thin history (calibration/data/extra_indicators.csv) ---
    _s("sewage_treatment_capacity", "m3/day", "log", "generic",
       "Sewage treatment capacity", "污水处理能力"),
    _s("msw_harmless_rate", "%", "logit", "generic",
       "Domestic waste harmless-treatment rate", "生活垃圾无害化处理率"),
    _s("tertiary_hospitals", "hospitals", "log", "generic",
       "Grade-3 (tertiary) hospitals", "三级医院数"),
    _s("quality_index", "points (2010 = 100)", "log", "generic",
       "Shenzhen Quality Index (2010 = 100)", "深圳质量指数"),
    _s("fortune500_firms", "firms", "log", "generic",
       "Local firms in the Fortune Global 500", "进入世界500强的本土企业数"),
    # --- indicators from news items and work reports (calibration/data/reports_indicators.csv) ---
    _s("doctors_per_1000", "doctors per 1000 people", "log", "generic",
       "Doctors per 1,000 people", "每千人医生数"),
    _s("invention_patents_stock_per_10k", "patents per 10k people", "log", "generic",
       "Invention patents in force per 10,000 people", "每万人发明专利拥有量"),
    _s("new_jobs", "persons", "log", "generic", "New urban jobs created in the year", "新增就业人数"),
    _s("national_hightech_firms", "firms", "log", "generic",
       "National high-tech enterprises (stock)", "国家级高新技术企业数"),
    _s("container_throughput", "TEU per year", "log", "generic",
       "Port container throughput", "集装箱吞吐量"),
    _s("airport_passengers", "passengers per year", "log", "generic",
       "Airport passenger throughput", "机场旅客吞吐量"),
    _s("university_students", "students", "log", "generic",
       "Students enrolled in higher-education institutions", "高校在校生"),
)}

#: The built-in vocabulary, read-only. A data directory's declared series are not added here: they
#: live in the :class:`Vocabulary` of the run (``History.vocabulary``).
SERIES: Mapping[str, Series] = MappingProxyType(_TABLE)
del _TABLE
#: The built-in vocabulary (the same read-only table as ``SERIES``).
BUILTIN_SERIES: Mapping[str, Series] = SERIES


class Vocabulary(Mapping[str, Series]):
    """The series one run knows: the built-in ones plus the series a data directory declares
    (its ``series.csv``, :mod:`sim.declared`). Built once per data directory, never changed;
    picklable (it travels to dask workers with the task) and equal when the declarations are.

    ``vocabulary[name]`` is the :class:`Series` (KeyError for an unknown name);
    :meth:`series` raises a :class:`SimError` naming an unknown name, with a suggestion.
    """

    def __init__(self, declared: Iterable[Series] = ()) -> None:
        declared = tuple(declared)
        clash = sorted({s.name for s in declared} & set(SERIES))
        if clash:
            raise SimError(f"series {', '.join(clash)} are built in; a data directory may only "
                           f"add new names")
        self._declared = declared
        self._table = {**SERIES, **{s.name: s for s in declared}}

    def __getitem__(self, name: str) -> Series:
        return self._table[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __reduce__(self):
        return (Vocabulary, (self._declared,))

    def __repr__(self) -> str:
        return f"Vocabulary(declared={[s.name for s in self._declared]})"

    @property
    def declared(self) -> tuple[Series, ...]:
        """The declared series, in file order (empty for the bundled data)."""
        return self._declared

    def is_declared(self, name: str) -> bool:
        """Is ``name`` a series declared by the data directory (not built in)?"""
        return name in self._table and name not in SERIES

    def series(self, name: str) -> Series:
        """The series ``name``; an unknown name is a :class:`SimError` naming it."""
        try:
            return self._table[name]
        except KeyError:
            raise SimError(f"unknown series '{name}'{did_you_mean(name, self._table)}") from None


#: The vocabulary of the bundled data (no declared series).
BUILTIN = Vocabulary()


KINDS = ("level", "change_pct", "cumulative_change_pct", "period_sum")
VINTAGES = ("first", "revised", "unknown")


def get_series(name: str) -> Series:
    """Look up a built-in series by name; unknown names raise a :class:`SimError` with a
    suggestion (a run's series: ``history.vocabulary.series(name)``)."""
    return BUILTIN.series(name)


def expected_unit(series: Series, kind: str) -> str:
    """Unit an observation of ``kind`` must carry: ``%`` for changes, the series unit otherwise."""
    return "%" if kind in ("change_pct", "cumulative_change_pct") else series.unit


# --------------------------------------------------------------------------------------------
# The structural model's names (their single home; DESIGN.md "Model")
# --------------------------------------------------------------------------------------------
#: Drivers simulated as an annual change of a transformed level (calibrated by sim.calibrate).
CHANGE_DRIVERS: tuple[str, ...] = (
    "gdp_real", "gdp_deflator", "population_resident", "usdcny", "energy_intensity",
    "carbon_factor", "water_intensity", "cod_emissions", "nh3n_emissions", "so2_emissions",
    "nox_emissions")
HOUSING_DRIVER = "affordable_housing_delivery"    # fitted delivery ratio (iid log-normal)
HOUSING_LEVER = "affordable_housing"              # scenario lever: programme units per year
HOUSING_SERIES = "affordable_housing_supplied"    # simulated series: units supplied per year
HOUSING_PLANNED = "affordable_housing_planned"    # observed series: units planned per year
#: Drivers a scenario can move (keys of ``levers``; ``shocks[].driver``), in canonical order.
LEVER_DRIVERS: tuple[str, ...] = CHANGE_DRIVERS + (HOUSING_LEVER,)

#: Derived series = product of drivers (sum of log levels) with a sign; units are handled by
#: the anchor, which is an observed level of the derived series itself.
COMPOSITION: Mapping[str, tuple[tuple[str, int], ...]] = MappingProxyType({
    "gdp_nominal": (("gdp_real", 1), ("gdp_deflator", 1)),
    "gdp_per_capita": (("gdp_real", 1), ("gdp_deflator", 1), ("population_resident", -1)),
    "gdp_per_capita_usd": (
        ("gdp_real", 1), ("gdp_deflator", 1), ("population_resident", -1), ("usdcny", -1)),
    "energy_consumption": (("gdp_real", 1), ("energy_intensity", 1)),
    "co2_emissions": (("gdp_real", 1), ("energy_intensity", 1), ("carbon_factor", 1)),
    "co2_intensity": (("energy_intensity", 1), ("carbon_factor", 1)),
    "water_use": (("gdp_real", 1), ("water_intensity", 1)),
})


# --------------------------------------------------------------------------------------------
# Target sets (the plans whose targets the catalogue holds, sim/data/targets.csv)
# --------------------------------------------------------------------------------------------
#: name -> description (document, year of the targets), in plan order.
TARGET_SETS: Mapping[str, str] = MappingProxyType({
    "action_plan_2015": "关于创造深圳质量的行动计划 (2011 Action Plan on Shenzhen Quality), "
                        "targets for 2015",
    "fyp12_2015": "深圳市第十二个五年规划 (12th Five-Year Plan) targets for 2015, as restated in "
                  "the 13th FYP outline 专栏1",
    "fyp13_2020": "深圳市国民经济和社会发展第十三个五年规划纲要 (13th Five-Year Plan outline), "
                  "targets for 2020",
    "quality_plan_2020": "深圳市质量发展第十三个五年规划（征求意见稿） (Quality Development 13th FYP, "
                         "draft), targets for 2020",
})


# --------------------------------------------------------------------------------------------
# Indicator families (shared by the target catalogue and the plan records)
# --------------------------------------------------------------------------------------------
#: name -> meaning. Every catalogue target and every plan record belongs to one family; the
#: plan-record model (sim.plan_record) pools what past plans achieved by family. The rule that
#: assigns a family to an indicator is in sim/data/TARGETS.md ("Families").
FAMILIES: Mapping[str, str] = MappingProxyType({
    "energy_intensity": "energy use per unit of GDP (level or cumulative decline)",
    "carbon_intensity": "CO2 emissions per unit of GDP (level or cumulative decline)",
    "pollutant_reduction": "emission totals of the controlled pollutants (COD, NH3-N, SO2, NOx): "
                           "cuts or caps",
    "economic_growth": "size or growth of output, sector scale, spending, trade, investment and "
                       "public revenue in money terms (GDP, GDP per capita, retail sales, ...)",
    "structure_share": "shares describing the structure of the economy: sector shares of GDP or "
                       "value added, R&D and high-tech shares, investment shares, urbanisation",
    "population_control": "population totals and family planning (resident or registered "
                          "population, policy fertility rate)",
    "social": "people's welfare: income, jobs, education, health care, social security, "
              "housing, culture, public and food safety",
    "environment_quality": "environment and resources other than energy: air and water quality, "
                           "green space and forest, sewage and waste treatment, water and land use "
                           "per unit of GDP",
    "other": "everything else: innovation counts (patents, labs, talents), infrastructure and "
             "networks, land programmes, prices and public finance balances, quality indices, "
             "pollution-control equipment",
})
