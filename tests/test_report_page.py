"""report.html as a reader uses it: the summary, the tables that must stay readable on a phone,
figures that open full size, not-evaluable targets grouped by reason, the scenario comparison
(with and without JavaScript) and the page's independence from anything outside it.

Most tests build the parts from small injected tables (exact counts); the page-level ones use a
synthetic results folder without figures (conftest ``make_results``), and the browser ones run
headless Chromium when it is installed.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from sim.output.report_assets import REPORT_JS, cells_table, json_script, zoom_figure
from sim.output.report_compare import compare_data, is_true, method_note, pmet_table
from sim.output.report_scenarios import ignored_items, scenario_section
from sim.output.report_summary import (joint_section, likelihood_counts, not_evaluable_section,
                                       summary_section)

# --------------------------------------------------------------------------------------------
# an injected evaluation table


def unlabelled(page: str) -> str:
    """``page`` without the narrow-screen card labels (``data-label``: tests/test_layout.py)."""
    return re.sub(r' data-label="[^"]*"', "", page)


def _row(tid, scen, p=None, *, tset="fyp13_2020", binding="binding", reason="", **kw):
    evaluated = p is not None
    r = dict(target_id=tid, target_set=tset, indicator=f"Ind {tid}", indicator_zh=f"指标{tid}",
             series="", target_year=2020, kind="level", comparator=">=", unit="%", value=10.0,
             value_high=np.nan, binding=binding, scenario=scen,
             status="evaluated" if evaluated else "not evaluable",
             reason="" if evaluated else reason, probability=p if evaluated else np.nan,
             mc_se=0.01 if evaluated else np.nan, ci_low=np.nan, ci_high=np.nan,
             method="trend only" if evaluated else "not evaluable", low_information=False,
             likelihood="likely" if evaluated else "", delta_vs_baseline=np.nan, delta_se=np.nan)
    r.update(kw)
    return r


@pytest.fixture()
def table():
    """Two scenarios; fyp13_2020 (binding): t1 likely, t2 in between / unlikely, t3 not
    evaluable; setB (indicative): t4 unlikely, t5 not evaluable."""
    rows = []
    for scen, p2 in (("base", 0.5), ("alt", 0.2)):
        rows += [_row("t1", scen, 0.9),
                 _row("t2", scen, p2, low_information=True,
                      information="2 informative observations; 80% of the variance from the prior"),
                 _row("t3", scen, reason="no history for x"),
                 _row("t4", scen, 0.1, tset="setB", binding="indicative"),
                 _row("t5", scen, reason="no target value", binding="indicative", tset="setB")]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# the parts


def test_json_script_cannot_close_the_script_element_and_round_trips():
    data = {"text": "</script><script>alert(1)</script> <!-- x", "n": [1.5, float("nan")],
            "inf": float("inf"), "zh": "深圳"}
    block = json_script(data, "d")
    assert block.count("</script") == 1 and block.endswith("</script>")
    assert "<!--" not in block and "</" not in block[:-len("</script>")]
    inner = block[block.index(">") + 1:-len("</script>")]
    back = json.loads(inner)
    assert back == {"text": data["text"], "n": [1.5, None], "inf": None, "zh": "深圳"}


def test_ignored_levers_are_shown_as_not_applied(make_dataset):
    msgs = ["scenario 'faster': lever on gdp_real ignored: no history of gdp_real up to as_of 2015 "
            "to calibrate it",
            "scenario 'faster': shock on gdp_real in 2018 ignored: no history of gdp_real up to "
            "as_of 2015",
            "something else entirely"]
    levers, shocks, other = ignored_items(msgs)
    assert levers == {("faster", "gdp_real"): "no history of gdp_real up to as_of 2015 to calibrate it"}
    assert shocks == {("faster", "gdp_real", 2018): "no history of gdp_real up to as_of 2015"}
    assert other == ["something else entirely"]

    import tomllib

    ds = make_dataset()
    ds.attrs["ignored_levers"] = json.dumps(msgs[:1])
    doc = tomllib.loads(ds.attrs["scenario_resolved"])
    page = html.unescape(scenario_section(doc, ds))
    # the lever is struck through and says why; the baseline's own lever is applied as written
    assert ("<s>gdp_real: +1 pp/yr</s> <span class=\"na\">not applied: no history of gdp_real up to "
            "as_of 2015 to calibrate it</span>") in page
    assert "<s>affordable_housing" not in page
    assert "1 lever or shock was <b>not applied</b>" in page
    # a target value set by the scenario is marked as the scenario's
    assert "co2_intensity_cum_2020_fyp13 = -10 (scenario value, no source given)" in page


def test_ignored_lever_messages_match_what_the_run_writes():
    """The report parses the run's messages: their wording comes from usable_scenarios."""
    from types import SimpleNamespace

    from sim.run.context import usable_scenarios
    from sim.scenario.spec import ScenarioSpec

    sc = ScenarioSpec(name="push", description="d", levers={"water_intensity": {"shift_pp": -1.0}})
    _, msgs = usable_scenarios({"push": sc}, SimpleNamespace(drivers={}, as_of=2015))
    levers, shocks, other = ignored_items(msgs)
    assert list(levers) == [("push", "water_intensity")] and not shocks and not other


def test_likelihood_counts_by_set_group_and_scenario(table):
    c = likelihood_counts(table).set_index(["target_set", "group", "scenario"])
    assert c.loc[("fyp13_2020", "all", "base")].to_dict() == dict(
        likely=1, between=1, unlikely=0, past_plans_only=0, not_evaluable=1)
    assert c.loc[("fyp13_2020", "all", "alt")].to_dict() == dict(
        likely=1, between=0, unlikely=1, past_plans_only=0, not_evaluable=1)
    assert c.loc[("setB", "all", "alt")].to_dict() == dict(
        likely=0, between=0, unlikely=1, past_plans_only=0, not_evaluable=1)
    # issue 21: a row resting on past plans only is counted apart, with no verdict
    rec = likelihood_counts(table.assign(method=table["method"].replace("trend only",
                                                                        "record only")))
    assert rec["likely"].sum() == 0 and rec["past_plans_only"].sum() == 10
    assert ("setB", "binding", "base") not in c.index      # setB has no binding target


def test_summary_lists_binding_targets_at_risk_and_those_without_probability(table):
    page = html.unescape(summary_section(table, {"base": "基准"}))
    assert ("1 of the 2 binding targets with a probability from data (3 binding in all) are below "
            "“likely” (P < 66%) in at least one scenario") in page
    risk = page[page.index("Binding targets at risk"):]
    assert "指标t2" in risk and "50.0%" in risk and "20.0% (alt)" in risk
    assert "指标t1" not in risk.split("have no probability")[0]     # 90% in both: not at risk
    assert "1 binding targets have no probability" in risk and "指标t3" in risk
    assert "no history for x" in risk


def test_not_evaluable_targets_are_grouped_by_reason_and_collapsed(table):
    page = html.unescape(not_evaluable_section(table))
    assert "2 targets (by target and reason) could not be given a probability, for 2 reasons" in page
    assert page.count("<details>") == 2 and "<details open" not in page
    assert "<summary>无历史数据 no history for x — 1</summary>" in page     # reasons bilingual
    assert "<summary>规划未给出目标值 no target value — 1</summary>" in page
    assert page.index("t3", page.index("no history for x — 1")) < page.index("no target value — 1")
    empty = not_evaluable_section(table[table["status"] == "evaluated"])
    assert "every target was evaluated" in empty


def test_joint_names_n_of_N_and_the_targets_left_out(table):
    joint = pd.DataFrame([dict(scenario="base", target_set="fyp13_2020", group="binding",
                               n_targets=2, p_all=0.45, p_all_se=0.02, expected_met=1.4)])
    page = html.unescape(unlabelled(joint_section(joint, table, {})))
    assert "<td class=\"num\">2 of 3</td>" in page
    assert "P(all n met)" in page and "45.0% ± 2.0%" in page
    assert "1 targets left out of the joint probability" in page and "no history for x" in page
    # a joint.csv that names its N (n_in_group) is believed
    page = joint_section(joint.assign(n_in_group=5), table, {})
    assert "2 of 5" in page


def test_pmet_table_keeps_every_probability_and_flags_low_information(table):
    page = unlabelled(pmet_table(table, {"base": "基准"}))
    text = html.unescape(page)
    # one row per evaluated target, one cell per scenario, the SE in its own (phone-hidden) span
    assert text.count('<td class="ind">') == 3
    for p in ("90.0%", "50.0%", "20.0%", "10.0%"):
        assert p in text
    assert '<span class="se"> ± 1.0%</span>' in text
    # the indicator column sticks; scenario heads carry label and id
    assert '<th class="ind">' in page and "基准<span class=\"sub wide\">base</span>" in text
    # low information: the flag with the information text as tooltip, method shown
    assert 'title="2 informative observations; 80% of the variance from the prior">⚑ low information' in text
    assert "trend only" in text
    # without the information column (older results) the flag still shows, with a plain text
    older = pmet_table(table.drop(columns=["information"]), {})
    assert "few observations behind this probability" in html.unescape(older)


def test_flags_and_method_notes_tolerate_csv_types():
    assert [is_true(v) for v in (True, "True", "true", 1, np.bool_(True))] == [True] * 5
    assert [is_true(v) for v in (False, "False", "", np.nan, None, 0)] == [False] * 6
    assert method_note({"method": "trend only", "low_information": "True",
                        "information": "1 point"}) == "trend only · low information: 1 point"
    assert method_note({"method": "trend+record"}) == "trend+record"


def test_cells_table_labels_cards_and_zoom_figure_needs_no_script():
    t = cells_table(["A", "B"], [["<b>x</b>", "y"]], [["num", ""]], table_class="cards",
                    card_labels=["A", "B"])
    assert '<td class="num" data-label="A"><b>x</b></td><td data-label="B">y</td>' in t
    fig = zoom_figure('<img src="data:image/png;base64,AA">', "cap")
    assert re.search(r'<label class="zoom"[^>]*><input type="checkbox"[^>]*><span class="frame">'
                     r'<img src="data:', fig)


# --------------------------------------------------------------------------------------------
# the comparison data


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, make_results):
    """A synthetic results folder with report.html, no figures."""
    return make_results(tmp_path_factory.mktemp("page") / "run", figures=False)


def test_compare_data_holds_the_quantiles_and_probabilities_of_the_run(small_run):
    from sim.ensemble import read_netcdf
    from sim.output.fans import target_view, view_values
    from sim.output.report import target_windows

    ds = read_netcdf(small_run / "ensemble.nc")
    table = pd.read_csv(small_run / "targets.csv")
    data = compare_data(ds, table, windows=target_windows(), labels={"baseline": "基准情景"})
    ev = table[table["status"] == "evaluated"]
    assert [t["id"] for t in data["targets"]] == list(dict.fromkeys(ev["target_id"]))
    assert data["baseline"] == "baseline" and data["midterm"] is False
    assert data["scenarios"][0] == {"id": "baseline", "name": "基准情景 baseline"}
    gdp = next(t for t in data["targets"] if t["id"] == "gdp_2020_fyp13")
    r = ev[(ev["target_id"] == "gdp_2020_fyp13") & (ev["scenario"] == "faster")].iloc[0]
    got = gdp["rows"]["faster"]
    assert got["p"] == pytest.approx(r["probability"], rel=1e-4)
    assert got["d"] == pytest.approx(r["delta_vs_baseline"], rel=1e-4, abs=1e-12)
    # the view's quantiles are those of the draws (5 significant digits)
    spec = target_view(ds, r.to_dict(), target_windows())
    years, values = view_values(ds, spec)
    q = np.quantile(values, (0.025, 0.1, 0.5, 0.9, 0.975), axis=1)
    view = data["views"][gdp["view"]]
    assert view["years"] == [int(y) for y in years]
    np.testing.assert_allclose(np.array(view["q"]["faster"], dtype=float), q[:, 1], rtol=1e-4)
    # JSON-ready as it is
    assert json.loads(json_script(data, "x").split(">", 1)[1][:-len("</script>")])["targets"]


# --------------------------------------------------------------------------------------------
# the page


class _Refs(HTMLParser):
    """Every tag, attribute and the text of <script>/<style> of a page."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.code: list[str] = []
        self._in = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            self.attrs.append((tag, k, v or ""))
            if k == "id":
                self.ids.add(v or "")
        self._in = tag if tag in ("script", "style") else ""

    def handle_endtag(self, tag):
        self._in = ""

    def handle_data(self, data):
        if self._in:
            self.code.append(data)


URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href",
             "background", "cite", "manifest", "ping"}


def assert_self_contained(page: str) -> _Refs:
    """No reference to anything outside the page: every ``src`` is a ``data:`` URI, every
    ``href`` an anchor of this page, no element that loads a resource, no ``url()`` but
    ``data:`` and no ``@import`` in CSS, no network call and no ``http(s)://`` or ``//host`` in
    any script, style or attribute. Returns the parsed page."""
    p = _Refs()
    p.feed(page)
    assert not {"link", "iframe", "object", "embed", "base", "frame", "audio", "video"} & set(p.tags)
    for tag, k, v in p.attrs:
        assert not re.search(r"(?:https?:)?//", v) or v.startswith("data:"), (tag, k, v[:80])
        if k in URL_ATTRS:
            if k == "href":
                assert v.startswith("#") and v[1:] in p.ids, f"<{tag} href={v!r}> is not an anchor here"
            else:
                assert v.startswith("data:"), f"<{tag} {k}={v[:60]!r}> is not a data: URI"
        assert not (k == "http-equiv" and v.lower() == "refresh")
    code = "\n".join(p.code)
    assert "@import" not in code
    assert all(u.startswith("data:") for u in re.findall(r"url\(\s*[\"']?([^\"')]*)", code))
    assert not re.search(r"https?://|//[\w-]+\.[\w.-]+", code.replace("data:", "")), \
        re.search(r"https?://|//[\w-]+\.[\w.-]+", code)
    for call in ("fetch(", "XMLHttpRequest", "WebSocket", "EventSource", "sendBeacon", "import(",
                 "importScripts", "window.open"):
        assert call not in code, call
    return p


def test_report_page_is_self_contained_and_works_without_script(small_run, external_ref):
    page = (small_run / "report.html").read_text(encoding="utf-8")
    assert not external_ref.search(page)
    p = assert_self_contained(page)
    # the check itself catches what it must
    for bad in ('<img src="https://x.org/a.png">', '<a href="other.html">x</a>',
                '<link rel="stylesheet" href="#x">', "<style>@import 'a.css';</style>",
                "<script>fetch('data.json')</script>", '<a href="#nowhere">x</a>',
                "<style>b{background:url(//x.org/a.png)}</style>"):
        with pytest.raises(AssertionError):
            assert_self_contained(bad)
    # progressive enhancement: the form is hidden until the script shows it; a <noscript> note
    # points to the static tables, which hold every probability
    assert '<div id="cmp" class="cmp" hidden>' in page and "<noscript>" in page
    assert "cmp-data" in p.ids
    table = pd.read_csv(small_run / "targets.csv")
    static = html.unescape(page[page.index("P(met) of every target"):page.index('id="joint"')])
    for r in table[table["status"] == "evaluated"].itertuples():
        assert f"{100 * r.probability:.1f}%" in static
    # sections in the order a reviewer reads them: summary first
    order = [page.index(f'<section id="{s}"') for s in ("summary", "scenarios", "overview", "joint",
                                                         "tables", "charts", "not-evaluable",
                                                         "provenance")]
    assert order == sorted(order)


def test_report_script_is_valid_javascript(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    path = tmp_path / "report.js"
    path.write_text(REPORT_JS, encoding="utf-8")
    done = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def _dump_dom(path) -> str:
    """The page's DOM after its script ran in headless Chromium (skip without a browser)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed")
    args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=420,2000",
            "--virtual-time-budget=3000", "--dump-dom", f"file://{path}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow   # starts a browser (~5-20 s)
def test_comparison_runs_in_a_browser(small_run):
    """With JavaScript on the form is shown and filled; without it the page is as written,
    where the form is hidden (checked above: headless Chromium cannot dump a DOM with
    scripts off)."""
    on = _dump_dom(small_run / "report.html")
    assert '<div id="cmp" class="cmp">' in on
    body = on[on.index('id="cmp-body"'):on.index("</tbody>", on.index('id="cmp-body"'))]
    assert body.count("<tr>") == 2                      # one row per ticked scenario
    assert "± " in body and "baseline" in body and "faster" in body
    chart = on[on.index('id="cmp-chart"'):on.index('id="cmp-key"')]
    assert "<svg" in chart and "<path" in chart and "<circle" in chart


def test_report_reads_an_edited_targets_csv_or_says_what_is_wrong(small_run, tmp_path, run_cli):
    """A results folder is the user's: a missing optional column reads as empty, a missing
    required one or a probability that is not a number is an error naming file, column, row."""
    for edit, expected in (
            (lambda t: t.drop(columns=["status"]), "targets.csv: no column status (expected"),
            (lambda t: t.assign(probability=t["probability"].astype(object).where(
                t.index > 0, "abc")), "targets.csv: column probability, row 1: 'abc' is not a number"),
            (lambda t: t.drop(columns=["binding", "reason", "mc_se", "delta_se"]), None)):
        copy = tmp_path / "copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(small_run, copy)
        edit(pd.read_csv(copy / "targets.csv")).to_csv(copy / "targets.csv", index=False)
        before = (copy / "report.html").read_bytes()
        code, _, err = run_cli("report", copy, "--no-figures", "--quiet")
        if expected is None:
            assert code == 0, err
            assert "P(met) of every target" in (copy / "report.html").read_text(encoding="utf-8")
        else:
            assert code == 2 and f"{copy / expected}" in err, err
            assert (copy / "report.html").read_bytes() == before      # the folder as it was
