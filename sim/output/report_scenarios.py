"""The scenario section of ``report.html``: each scenario's label, description, levers, shocks
and target values in words, with the levers and shocks the run did *not* apply marked as such.

A lever or shock on a driver the model could not calibrate (no history up to as_of) is dropped
by the run (:func:`sim.run.context.usable_scenarios`), which records one message per dropped
item in the ensemble attribute ``ignored_levers`` (read by :func:`sim.ensemble.ensemble_facts`).
The resolved scenario still holds them, so the report shows each as "not applied: why" instead
of listing it as applied.
"""

from __future__ import annotations

import re

from sim.ensemble import ensemble_facts
from sim.output import html as H
from sim.output import tables as T
from sim.output.report_assets import cells_table

#: characters of user text shown in report.html (the files keep all of it)
MAX_DESCRIPTION = 2_000
MAX_LABEL = 200
MAX_RESOLVED = 200_000

_LEVER = re.compile(r"scenario '(?P<s>[^']*)': lever on (?P<d>\S+) ignored: (?P<why>.+)")
_SHOCK = re.compile(r"scenario '(?P<s>[^']*)': shock on (?P<d>\S+) in (?P<y>\d+) ignored: (?P<why>.+)")


def shorten(text, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with a note saying how much was left out."""
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return (f"{text[:limit]} … [{len(text) - limit:,} more characters not shown; see "
            "scenario.resolved.toml]")


def ignored_items(messages) -> tuple[dict, dict, list[str]]:
    """Split the run's ``ignored_levers`` messages into ``{(scenario, driver): why}`` for levers,
    ``{(scenario, driver, year): why}`` for shocks, and the messages of neither form."""
    levers, shocks, other = {}, {}, []
    for m in messages:
        if (k := _LEVER.fullmatch(m)) is not None:
            levers[(k["s"], k["d"])] = k["why"]
        elif (k := _SHOCK.fullmatch(m)) is not None:
            shocks[(k["s"], k["d"], int(k["y"]))] = k["why"]
        else:
            other.append(m)
    return levers, shocks, other


def _years_text(path: dict) -> str:
    """{2016: 7e4, ..., 2020: 7e4} → '2016–2020: 70,000 a year'; else 'y: v, ...'."""
    items = sorted((int(k), v) for k, v in path.items())
    if not items:
        return ""
    ys = [y for y, _ in items]
    vals = {v for _, v in items}
    if len(vals) == 1 and ys == list(range(ys[0], ys[-1] + 1)):
        return f"{ys[0]}–{ys[-1]}: {T.fmt_number(items[0][1])} a year"
    return ", ".join(f"{y}: {T.fmt_number(v)}" for y, v in items)


def lever_text(driver: str, lever: dict) -> str:
    """One lever of the resolved TOML in words."""
    parts = []
    if "shift_pp" in lever:
        span = ""
        if lever.get("from_year") or lever.get("to_year"):
            span = f" ({lever.get('from_year', '')}–{lever.get('to_year', '')})"
        parts.append(f"{lever['shift_pp']:+g} pp/yr{span}")
    for key in ("programme_units", "path"):
        if isinstance(lever.get(key), dict):
            parts.append(f"{key.replace('_', ' ')} {_years_text(lever[key])}")
    if lever.get("units_per_year") is not None:
        parts.append(f"{T.fmt_number(lever['units_per_year'])} units a year")
    rest = {k: v for k, v in lever.items()
            if k not in ("shift_pp", "from_year", "to_year", "programme_units", "path", "units_per_year")}
    parts += [f"{k} {v}" for k, v in rest.items()]
    return f"{driver}: " + ", ".join(parts)


def _scenario_texts(name: str, entry: dict, levers_off: dict, shocks_off: dict
                    ) -> tuple[str, str, str]:
    """Levers, shocks and target values of one resolved scenario as HTML; the ones the run
    dropped read "not applied: why". A document edited out of shape (it is a file in the
    results folder) reads as "unreadable", not a crash."""
    def off(text: str, why: str | None) -> str:
        if why is None:
            return H.esc(text)
        return f'<s>{H.esc(text)}</s> <span class="na">not applied: {H.esc(why)}</span>'

    try:
        lev = entry.get("levers") or {}
        lever_txt = "; ".join(off(lever_text(d, v), levers_off.get((name, d)))
                              for d, v in lev.items() if isinstance(v, dict) and v)
        shocks = "; ".join(
            off(f"{s.get('driver')} {s.get('year')} {s.get('shift_pp'):+g} pp"
                + (f" ({s['note']})" if s.get("note") else ""),
                shocks_off.get((name, str(s.get("driver")), int(s.get("year") or 0))))
            for s in entry.get("shocks") or [])
        tv = entry.get("target_values") or {}
        sources = entry.get("target_value_sources") or {}
        tv_txt = H.esc("; ".join(f"{k} = {_value_text(v, sources.get(k))}" for k, v in tv.items()))
    except (TypeError, ValueError, AttributeError, KeyError):
        return "(unreadable in scenario.resolved.toml)", "", ""
    return lever_txt, shocks, tv_txt


def _value_text(v, source=None) -> str:
    """A target value set by the scenario, with its source (``target_value_sources``) when given:
    the value is the scenario's, not the plan's."""
    src = f" (scenario value; source: {source})" if source else " (scenario value, no source given)"
    return f"{v:g}{src}"


def scenario_section(doc: dict, ds) -> str:
    """The scenarios of the run: one row each, and a note on every lever or shock not applied."""
    scen = doc.get("scenarios") or {}
    levers_off, shocks_off, other = ignored_items(ensemble_facts(ds).ignored_levers)
    rows = []
    for name in (str(s) for s in ds["scenario"].values):
        entry = scen.get(name, {})
        if not isinstance(entry, dict):
            entry = {}
        lever_txt, shocks, tv_txt = _scenario_texts(name, entry, levers_off, shocks_off)
        rows.append([H.esc(name), H.esc(shorten(entry.get("label_zh", ""), MAX_LABEL)),
                     H.esc(shorten(entry.get("description", ""), MAX_DESCRIPTION)), lever_txt or "—",
                     shocks or "—", tv_txt or "—"])
    run = doc.get("run") or {}
    intro = ""
    if run:
        intro = (f"<p>数据截至 as_of <b>{H.esc(run.get('as_of'))}</b> · 预测至 horizon "
                 f"<b>{H.esc(run.get('horizon'))}</b> · {H.esc(run.get('draws'))} 次模拟 draws · "
                 f"目标集 target sets: {H.esc(', '.join(run.get('target_sets', [])))}. "
                 "Every scenario uses the same random draws (common random numbers), so "
                 "differences between scenarios come from the levers alone.</p>")
    dropped = list(levers_off) + list(shocks_off)
    if dropped or other:
        items = "".join(f"<li>{H.esc(m)}</li>" for m in ensemble_facts(ds).ignored_levers)
        n = len(dropped) + len(other)
        what = "1 lever or shock was" if n == 1 else f"{n} levers or shocks were"
        intro += (f'<div class="box"><p>{what} <b>not applied</b> in this run (struck through '
                  f"in the table below), for the reason given:</p><ul>{items}</ul></div>")
    head = ["情景 Scenario", "名称", "说明 Description", "政策杠杆 Levers", "冲击 Shocks",
            "目标值设定 Target values"]
    return intro + cells_table(head, rows, table_class="cards", card_labels=head)
