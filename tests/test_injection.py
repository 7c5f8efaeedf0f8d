"""Injection (issue 19 item 5, and the injection category of the fuzz suite, item 8): text from
users' files is never a formula in a CSV meant for spreadsheets, never live markup in Markdown,
never a formula in XLSX, never markup in HTML.

Oracles, stated once and written here independently of :mod:`sim.output.safe_text`:

* **spreadsheet CSV** (``targets_table.csv``, ``compare.csv``): no cell's first character after
  spaces is ``= + - @``, tab, CR or LF (or their full-width forms) unless the cell is a number
  (:data:`NUMBER_ORACLE`); a neutralised cell is the input with one apostrophe before it
  (output equal to a reference: nothing else changes).
* **Markdown** (``targets.md``, ``compare.md``): with every backslash-escaped character taken
  as plain text, no ``[``, ``]``, backtick, ``<`` opening HTML or an autolink, ``://`` or ``www.``
  is left (no link, image, HTML, code span or bare URL), and every table row has as many
  unescaped ``|`` as its header (no cell breaks the table); unescaping gives the text back.
* **XLSX / HTML**: no formula cell; no external reference, no raw tag from a label.

The end-to-end tests make one real ``sim run`` (50 draws, no figures) of a scenario file whose
labels and file name are hostile, and one ``sim compare`` of it (slow: ~20 s). The fuzz tier
draws hostile text into every text column of a run's targets.csv and the scenario labels and
writes the tables (quick: 25 cases; ``SIM_FUZZ_LONG=1``: 1,000 random ones, marked slow).
"""

from __future__ import annotations

import csv
import html
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import tomli_w
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from sim.cli import main
from sim.output import safe_text as S
from sim.output import tables as T

LONG = os.environ.get("SIM_FUZZ_LONG", "") == "1"

# --------------------------------------------------------------------------------------------
# the oracles (independent of the implementation)

#: first characters a spreadsheet takes for a formula (OWASP), with LF and the full-width forms
FORMULA_FIRST = set("=+-@\t\r\n") | {"\uff1d", "\uff0b", "\uff0d", "\uff20"}
#: a number: sign, digits (thousands commas), decimals, exponent, percent
NUMBER_ORACLE = re.compile(r" *[-+\u2212]?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)?(\.[0-9]+|\.)?"
                           r"([eE][-+]?[0-9]+)? ?%? *")


def oracle_number(text: str) -> bool:
    return bool(NUMBER_ORACLE.fullmatch(text)) and any(c in "0123456789" for c in text) \
        and not re.fullmatch(r" *[-+\u2212]?\. *%? *", text)


def formula_like(cell: str) -> bool:
    """A cell a spreadsheet would run: formula first character (after spaces), not a number."""
    rest = cell.lstrip(" \u00a0\u3000")
    return bool(rest) and rest[0] in FORMULA_FIRST and not oracle_number(cell)


def csv_cells(path: Path) -> list[dict]:
    """The rows of a CSV as a spreadsheet reads them, checked: every row as wide as the header
    (a bare CR or LF in a cell would split its row)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    broken = [n for n, r in enumerate(rows, 2) if None in r or None in r.values()]
    assert broken == [], f"{path.name}: rows {broken[:5]} do not have the header's width"
    return rows


def unescape(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md, flags=re.S)


LIVE_MARKDOWN = re.compile(r"[\[\]`]|<[A-Za-z/!?]|://|(?<![A-Za-z0-9])www\.", re.I)


def live_markdown(md: str) -> list[str]:
    """What would render as more than text: links, images, HTML, autolinks, code, bare URLs
    (searched with every escaped character replaced by a placeholder); and table rows whose
    number of cell separators differs from their header's."""
    problems = ["a CR: a line break in Markdown"] if "\r" in md else []
    table_width = None
    for n, line in enumerate(md.split("\n"), 1):      # CommonMark line ends: LF (CR flattened)
        bare = re.sub(r"\\.", "\0", line)       # an escaped character is text: a placeholder
        problems += [f"line {n}: {m.group()!r} in {line!r}" for m in LIVE_MARKDOWN.finditer(bare)]
        if line.startswith("|"):
            if table_width is None:
                table_width = bare.count("|")
            elif bare.count("|") != table_width:
                problems.append(f"line {n}: {bare.count('|')} separators, header {table_width}")
        else:
            table_width = None
    return problems


# --------------------------------------------------------------------------------------------
# unit: spreadsheet_cell / is_number

NUMBERS = ["-5.2", "−3 %", "-3%", "-3 %", "+5", "-1,234.5", "1,234", "-1e-5", "+1E5", "-.5",
           "-5.", "0", " -7 ", "12.5%", "−0.25"]
NOT_NUMBERS = ["-2+3", "--5", "-", "- 5", "-inf", "-nan", "-5,2", "-1,23", "+", "-.", "-5 pp",
               "-5e", "1-2", "=1", "@1", "-5%%", "-\u0663", "-１"]
DANGEROUS = ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "\t=1",
             "\r=1", "\n=1", "  =1+1", " @x", "=", "-", "+", "@", "\t", "＝1+1", "＋1", "－1",
             "＠SUM(A1)", " \t-1"]
SAFE = ["基准情景", "'=already", "R&D", "a=1", "x-1", "1+1", "−3 %", "–", "", " ", "≥ 26,000",
        "(−5)", "'"]


@pytest.mark.parametrize("text", NUMBERS)
def test_numbers_are_numbers_and_stay_as_they_are(text):
    assert S.is_number(text) and oracle_number(text)
    assert S.spreadsheet_cell(text) == text


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_formula_like_text_is_not_a_number(text):
    assert not S.is_number(text) and not oracle_number(text)


@pytest.mark.parametrize("text", DANGEROUS)
def test_every_formula_prefix_is_neutralised(text):
    assert formula_like(text)
    out = S.spreadsheet_cell(text)
    assert out == "'" + text and not formula_like(out)


@pytest.mark.parametrize("text", SAFE)
def test_other_text_and_non_text_cells_are_untouched(text):
    assert S.spreadsheet_cell(text) == text
    for value in (None, -5.2, 3, True, float("nan")):
        assert S.spreadsheet_cell(value) is value


@given(st.text(max_size=30))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_spreadsheet_cell_is_safe_lossless_and_idempotent(text):
    out = S.spreadsheet_cell(text)
    assert not formula_like(out)
    assert out in (text, "'" + text)                        # one apostrophe at most
    assert S.spreadsheet_cell(out) == out                   # idempotent


def test_spreadsheet_frame_touches_text_cells_only():
    df = pd.DataFrame({"label": ["=1+1", "ok", None], "x": [-5.0, 1.0, float("nan")],
                       "flag": [True, False, None], "txt_num": ["-5.2", "-2+3", ""]})
    out = S.spreadsheet_frame(df)
    assert out["label"].tolist()[:2] == ["'=1+1", "ok"] and pd.isna(out["label"].iloc[2])
    assert out["txt_num"].tolist() == ["-5.2", "'-2+3", ""]
    pd.testing.assert_series_equal(out["x"], df["x"])
    assert out["flag"].tolist() == [True, False, None]
    assert df["label"].iloc[0] == "=1+1"                      # the input is not changed


# --------------------------------------------------------------------------------------------
# unit: markdown_text

EVIL_MD = "[click](javascript:alert(1)) ![x](http://e/x.png)"


def test_markdown_text_makes_links_images_html_code_and_pipes_inert():
    out = S.markdown_text(EVIL_MD)
    assert out == r"\[click\]\(javascript:alert\(1\)\) \!\[x\]\(http\://e/x.png\)"
    assert S.markdown_text("a|b <img src=x> `c` *d* ~~e~~ www.x.org") == \
        r"a\|b \<img src=x\> \`c\` \*d\* \~\~e\~\~ www\.x.org"
    # readable: no HTML entities; & only escaped where it would start one
    assert S.markdown_text("R&D &amp; &#60;") == r"R&D \&amp; \&#60;"
    # underscores inside words stay; others (emphasis) escaped; # at a word start escaped
    assert S.markdown_text("gdp_2020_fyp13 _x_ __init__ #2 a#b") == \
        r"gdp_2020_fyp13 \_x\_ \_\_init\_\_ \#2 a#b"
    assert S.markdown_text("a\r\nb\nc\rd") == "a b c d"
    assert S.markdown_text(None) == "" and S.markdown_text(3.5) == "3.5"
    assert S.markdown_text("\\") == "\\\\"


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_markdown_text_round_trips_and_leaves_nothing_live(text):
    out = S.markdown_text(text)
    assert unescape(out) == text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    assert live_markdown("| h |\n|---|\n| " + out + " |") == []


# --------------------------------------------------------------------------------------------
# end to end: a real run and compare with hostile labels and file name

LABELS = {
    "baseline": '=HYPERLINK("http://x","y")',
    "at": "@SUM(A1)",
    "plus": "+cmd|' /C calc'!A0",
    "minus": "-2+3",
    "tab": "\t=1",
    "md": EVIL_MD,
    "num": "-5.2",
    "html": "R&D <b>x</b> `code` | www.example.com",
}
SCENARIO_FILE = "@SUM(A1).toml"


def hostile_scenario() -> str:
    doc: dict = {
        "run": {"as_of": 2015, "horizon": 2020, "draws": 50, "seed": 3,
                "target_sets": ["fyp13_2020"]},
        "output": {"figures": False, "table_formats": ["csv", "md", "xlsx", "html"]},
        "scenarios": {"baseline": {
            "description": "<script>alert(1)</script> [x](javascript:alert(1))",
            "label_zh": LABELS["baseline"],
            "target_values": {"co2_intensity_cum_2020_fyp13": -10.0},
            "target_value_sources": {"co2_intensity_cum_2020_fyp13": "=1+1 <b>src</b>"}}},
    }
    for name, label in LABELS.items():
        if name != "baseline":
            doc["scenarios"][name] = {"extends": "baseline", "description": "x", "label_zh": label}
    return tomli_w.dumps(doc)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A real `sim run` of the hostile scenario file and a `sim compare` of its folder."""
    root = tmp_path_factory.mktemp("injection")
    scenario = root / SCENARIO_FILE
    scenario.write_text(hostile_scenario(), encoding="utf-8")
    run, cmp = root / "run", root / "cmp"
    assert main(["run", str(scenario), "--out", str(run), "--quiet"]) == 0
    assert main(["compare", str(run), "--no-figures", "--out", str(cmp), "--quiet"]) == 0
    return run, cmp


@pytest.mark.slow
def test_targets_table_csv_has_no_formula_and_keeps_the_text(hostile_run):
    run, _ = hostile_run
    rows = csv_cells(run / "targets_table.csv")
    bad = [(k, v) for r in rows for k, v in r.items() if formula_like(v)]
    assert bad == [], bad[:5]                                  # main: 132 × =HYPERLINK(…) and more
    by_scenario = {r["scenario"]: r["scenario_zh"] for r in rows}
    for name, label in LABELS.items():
        expected = label if oracle_number(label) or not formula_like(label) else "'" + label
        assert by_scenario[name] == expected                  # "-5.2" stays a number
    assert {r["scenario_zh"] for r in rows if r["scenario"] == "md"} == {EVIL_MD}
    # numbers stay numbers (negative medians are not prefixed)
    assert any(r["median"].startswith("-") and float(r["median"]) < 0 for r in rows)


@pytest.mark.slow
def test_compare_csv_has_no_formula(hostile_run):
    _, cmp = hostile_run
    rows = csv_cells(cmp / "compare.csv")
    bad = [(k, v) for r in rows for k, v in r.items() if formula_like(v)]
    assert bad == [], bad[:5]                                  # main: run = "@SUM(A1).toml · …"
    assert {r["run"] for r in rows} == {f"'{SCENARIO_FILE} · as of 2015 · seed 3"}
    assert pd.read_csv(cmp / "compare.csv")["probability"].dropna().between(0, 1).all()


@pytest.mark.slow
def test_markdown_has_no_live_link_image_html_or_broken_table(hostile_run):
    run, cmp = hostile_run
    for path in (run / "targets.md", cmp / "compare.md"):
        md = path.read_text(encoding="utf-8")
        assert live_markdown(md) == [], (path.name, live_markdown(md)[:5])  # main: ![x](http…)
        assert "R&D" in md and "&amp;" not in md and "&lt;" not in md   # readable raw file
        heads = unescape(md)
        for name, label in LABELS.items():                      # every label shown as typed
            assert f"{label.strip()} {name}" in heads, (path.name, name)


@pytest.mark.slow
def test_xlsx_and_html_stay_clean(hostile_run, external_ref):
    run, cmp = hostile_run
    wb = load_workbook(run / "targets.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = {c.value for c in cells if isinstance(c.value, str)}
    for label in (LABELS["baseline"], LABELS["at"], LABELS["plus"], LABELS["minus"]):
        assert label in texts                                  # as typed, stored as text
    for page in (run / "targets.html", run / "report.html", cmp / "compare.html"):
        text = page.read_text(encoding="utf-8")
        assert not external_ref.search(text), page.name
        assert "<b>x</b>" not in text and "<script>alert" not in text, page.name
        assert not re.search(r"""href\s*=\s*["']?\s*javascript:""", text, re.I), page.name
    assert html.escape("R&D <b>x</b>", quote=False) in (run / "targets.html").read_text("utf-8")


# --------------------------------------------------------------------------------------------
# the injection category of the fuzz suite: hostile text in every text column and label

PREFIXES = ["=", "+", "-", "@", "\t", "\r", "\n", " =", "＝", "'", "", "", "-5.2", "−3 %", "[a](",
            "![x](http://e/", "<img src=x>", "`", "|", "\\", "&lt;", "www.", "_", "#", "*"]
BODY = st.text(alphabet=st.sampled_from(list("ab1 =+-@|[]()!<>`\\_*#&;:/.%,\t\r\n基准")),
               max_size=20)
HOSTILE = st.builds(lambda p, b: (p + b)[:200], st.sampled_from(PREFIXES), BODY)
#: slow cases are not shrunk (a failure prints its draws, which reproduce it)
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
TEXT_COLUMNS = ("indicator_zh", "indicator", "unit", "reason", "information", "method")


def check_outputs(table: pd.DataFrame, ds, labels: dict, values: dict, out: Path) -> None:
    plan = T.plan_table(table, ds, scenario_labels=labels)
    T.write_csv(plan, out / "t.csv")
    rows = csv_cells(out / "t.csv")
    bad = [(k, v) for r in rows for k, v in r.items() if formula_like(v)]
    assert bad == [], bad[:3]
    for r in rows:                                             # output equals the reference
        for col, value in (("scenario_zh", labels[r["scenario"]]), ("unit", values["unit"])):
            assert r[col] in (value, "'" + value) and (r[col] == value) != formula_like(value)
    md = T.markdown(plan, table, title=values["indicator"], scenario_labels=labels)
    assert live_markdown(md) == [], live_markdown(md)[:3]


def _fuzz_case(data, folder, make_dataset, tmp_path):
    table = pd.read_csv(folder / "targets.csv").head(40)
    values = {c: data.draw(HOSTILE, label=c) for c in TEXT_COLUMNS}
    for col, value in values.items():
        table[col] = value
    labels = {s: data.draw(HOSTILE, label=s) for s in table["scenario"].unique()}
    check_outputs(table, make_dataset(), labels, values, tmp_path)


@pytest.mark.slow
@given(data=st.data())
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck), phases=NO_SHRINK)
def test_fuzz_injection_quick(data, results_folder, make_dataset, tmp_path):
    _fuzz_case(data, results_folder, make_dataset, tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="long fuzz tier: SIM_FUZZ_LONG=1")
@given(data=st.data())
@settings(max_examples=1000, deadline=None, database=None,
          suppress_health_check=list(HealthCheck), phases=NO_SHRINK)
def test_fuzz_injection_long(data, results_folder, make_dataset, tmp_path):
    _fuzz_case(data, results_folder, make_dataset, tmp_path)
