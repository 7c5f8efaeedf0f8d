"""What a planner sees while and after running: the progress bar on a terminal (and only
there), the end-of-run summary with full scenario and indicator names, `sim validate`'s
warning about a lever a run would ignore, and shipped scenarios that all change something."""

from __future__ import annotations

import os
import select
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from sim.output.summary import display_width, pad, print_summary
from sim.run import stream as stream_module


def _read_all(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 0.2)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_draws_on_a_terminal_that_reports_no_size(monkeypatch):
    """Regression: tqdm drew nothing on a pseudo-terminal of size 0 x 0 (``script``, IDE
    consoles, the issue's pty test): the bar now falls back to 80 x 24."""
    master, slave = os.openpty()
    try:
        assert os.get_terminal_size(slave) == (0, 0)   # a fresh pty reports no size
        with os.fdopen(slave, "w", encoding="utf-8", closefd=False) as tty:
            monkeypatch.setattr(sys, "stderr", tty)
            with stream_module._progress_bar(2000, True) as update:
                update(1000)
                update(1000)
            tty.flush()
        text = _read_all(master)
    finally:
        os.close(master)
        os.close(slave)
    assert "simulating:" in text and "/2.00k" in text


def test_no_progress_bar_when_disabled(capsys):
    with stream_module._progress_bar(2000, False) as update:
        update(2000)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("tty, quiet, expected", [(True, False, True), (True, True, False),
                                                  (False, False, False)])
def test_run_shows_progress_only_on_a_terminal_and_not_with_quiet(monkeypatch, run_cli, tty,
                                                                 quiet, expected):
    seen = {}

    def fake_run_file(path, **kwargs):
        seen.update(kwargs)
        return SimpleNamespace(ignored=(), table=pd.DataFrame(), folder=Path("x"))

    monkeypatch.setattr("sim.run.pipeline.run_file", fake_run_file)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    code, out, _ = run_cli("run", "scenarios/baseline_2020.toml", *(["--quiet"] if quiet else []))
    assert code == 0 and seen["progress"] is expected
    assert ("no targets in the chosen sets" in out) is not quiet


# --- the end-of-run summary --------------------------------------------------------------------

def _table(scenarios):
    rows = []
    for k, s in enumerate(scenarios):
        for tid, ind, v in (("gdp_2020_fyp13", "GDP", 26000.0),
                            ("water_intensity_cum_2020_fyp13", "Water intensity, cumulative "
                             "change over the plan period", -18.5)):
            rows.append(dict(target_id=tid, indicator=ind, indicator_zh="", scenario=s,
                             status="evaluated", probability=0.5 + 0.01 * k, value=v,
                             comparator=">=", unit="亿元", target_set="fyp13_2020", method="x"))
    rows.append(dict(target_id="blank_2020", indicator="Blank", scenario=scenarios[0],
                     status="not evaluable", reason="no target value", probability=None,
                     target_set="fyp13_2020", method="not evaluable"))
    return pd.DataFrame(rows)


def test_summary_keeps_full_scenario_names_with_a_legend_when_narrow(capsys):
    names = ["baseline", "pandemic_stress", "a_very_long_scenario_name_indeed"]
    print_summary(_table(names), "results/x", width=100)
    out = capsys.readouterr().out
    for k, s in enumerate(names, 1):
        assert f"S{k}  {s}\n" in out           # the legend names every scenario in full
    assert "pandemic_stres " not in out
    assert "GDP" in out and "≥ 26,000 亿元" in out and "gdp_2020_fyp13" in out
    assert "Water intensity, cumulative …" in out   # long indicator names end in …
    # P in the baseline, ΔP (pp) against it in the others (issue 21)
    assert "50.0  +1.0  +2.0" in out and "2 targets evaluated, 1 not evaluable" in out
    assert max(display_width(line) for line in out.splitlines()) <= 100


def test_summary_uses_full_names_as_headers_when_they_fit(capsys):
    names = ["baseline", "pandemic_stress"]
    print_summary(_table(names), "results/x", width=200)
    out = capsys.readouterr().out
    assert "S1" not in out
    head = next(line for line in out.splitlines() if line.startswith("indicator"))
    assert "baseline" in head and "pandemic_stress" in head


def test_pad_counts_wide_characters_twice():
    assert display_width("亿元") == 4 and pad("亿元", 6) == "亿元  "
    assert pad("abcdef", 4) == "abc…" and pad("x", 3, right=True) == "  x"


# --- validate warns about levers a run would ignore --------------------------------------------

@pytest.mark.slow   # calibrates the 2010 model once per session
def test_validate_warns_about_a_lever_without_history(shipped, tmp_path, run_cli):
    text = shipped["2015"].read_text(encoding="utf-8")
    variant = tmp_path / "water.toml"
    variant.write_text(text + '\n[scenarios.water_push]\nextends = "baseline"\n'
                       'description = "Water saving."\n'
                       '[scenarios.water_push.levers.water_intensity]\nshift_pp = -1.0\n',
                       encoding="utf-8")
    code, out, err = run_cli("validate", variant)
    assert code == 0
    assert f"{variant}: ok (5 scenarios, 1 warning)" in out
    assert (f"{variant}: warning: scenario 'water_push': lever on water_intensity ignored: no "
            "history of water_intensity up to as_of 2010 to calibrate it (a run leaves it out)"
            ) in err


@pytest.mark.slow
def test_every_shipped_scenario_moves_a_calibrated_driver(shipped, run_cli, fitted_real):
    """No shipped scenario is a copy of the baseline in effect: `validate` has no warning, and
    every alternative has a lever or shock the baseline lacks on a driver the model simulates."""
    from sim.scenario.read import load_scenario_file
    from sim.vocabulary import HOUSING_DRIVER, HOUSING_LEVER

    code, out, err = run_cli("validate", *shipped.values())
    assert code == 0 and "warning" not in err, err
    for path in shipped.values():
        sf = load_scenario_file(path)
        fitted = fitted_real(sf.run.as_of, sf.run.vintage)
        simulated = set(fitted.drivers)
        if fitted.drivers[HOUSING_DRIVER].n_obs > 0:   # deliveries observed: housing modelled
            simulated.add(HOUSING_LEVER)
        base = sf.baseline
        for name, sc in sf.scenarios.items():
            if name == "baseline":
                continue
            moved = {d for d, lever in sc.levers.items() if base.levers.get(d) != lever}
            moved |= {k.driver for k in sc.shocks if k not in base.shocks}
            assert moved & simulated, f"{path.name}: {name} changes nothing simulated"
