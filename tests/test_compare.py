"""`sim compare`: its own output folder, runs labelled by scenario file / as_of / seed, ΔP with
paired or unpaired standard errors, one terminal table with the largest differences.

The results folders are the synthetic ones of ``conftest`` (made without the engine); the tests
that write figures are marked slow.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.output import compare as C
from sim.output.owned import MARKER


@pytest.mark.slow
def test_compare_two_folders(results_folder, make_results, external_ref, tmp_path, capsys):
    other = make_results(tmp_path / "midterm", seed=1, shift=0.02, outputs=False)
    out = tmp_path / "cmp"
    assert main(["compare", str(results_folder), str(other), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # the synthetic manifests name no scenario file: the folder name stands in; same
    # seed (7) and as_of in both
    first, second = "baseline_2020 · as of 2015 · seed 7", "midterm · as of 2015 · seed 7"
    assert f"R1: {first}" in printed and f"R2: {second}" in printed
    assert "C1  R1 · baseline" in printed and "C4  R2 · faster" in printed
    assert "Largest differences ΔP = P − P(reference)" in printed
    cmp = pd.read_csv(out / "compare.csv")
    assert set(cmp["run"]) == {first, second}
    # P(met) in the comparison equals each run's own targets.csv
    for run, folder in ((first, results_folder), (second, other)):
        own = pd.read_csv(folder / "targets.csv").set_index(["scenario", "target_id"])
        sub = cmp[(cmp["run"] == run) & (cmp["status"] == "evaluated")]
        assert len(sub) > 0
        for r in sub.itertuples():
            assert r.probability == own.loc[(r.scenario, r.target_id), "probability"]
    # ΔP of a later run is against the first run's same scenario
    ev = cmp[cmp["status"] == "evaluated"].set_index(["run", "scenario", "target_id"])
    row = ev.loc[(second, "faster", "gdp_2020_fyp13")]
    assert row["reference"] == "R1 · faster" and row["group"] == "R2 · faster"
    assert row["delta_p"] == pytest.approx(
        row["probability"] - ev.loc[(first, "faster", "gdp_2020_fyp13"), "probability"])
    assert row["delta_se_kind"] == "paired"   # same seed and draws, trend only
    page = (out / "compare.html").read_text(encoding="utf-8")
    assert not external_ref.search(page)
    assert "ΔP (largest 30)" in page
    assert (out / "figures" / "pmet_by_scenario.png").exists()
    assert (out / "figures" / "overlay_gdp_nominal.png").exists()
    assert (out / "compare.md").read_text(encoding="utf-8").count("|") > 10
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"] == "compare"
    assert [r["label"] for r in manifest["runs"]] == [first, second]
    assert [r["seed"] for r in manifest["runs"]] == [7, 7]
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {MARKER}


@pytest.mark.slow
def test_compare_default_folder_is_its_own_and_is_replaced_not_refused(make_results, tmp_path,
                                                                       capsys, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setattr(C, "DEFAULT_RESULTS_DIR", results)
    run = make_results(tmp_path / "run", outputs=False)
    for _ in range(2):  # the second comparison replaces the first (no --force needed)
        assert main(["compare", str(run), "--no-figures", "--quiet"]) == 0
    assert sorted(p.name for p in (results / "compare_run").iterdir()) == [
        MARKER, "compare.csv", "compare.html", "compare.md", "manifest.json"]
    assert not (run / "compare").exists()   # nothing written into the input folder
    # an --out that holds something else (here: a run) is never replaced
    assert main(["compare", str(run), "--no-figures", "--out", str(run)]) == 2
    assert "it is or holds the input folder" in capsys.readouterr().err
    other = make_results(tmp_path / "other", outputs=False)
    before = sorted(p.name for p in other.iterdir())
    assert main(["compare", str(run), "--no-figures", "--out", str(other)]) == 2
    assert "holds the output of `sim run`, not of `sim compare`" in capsys.readouterr().err
    assert (run / "ensemble.nc").exists() and sorted(p.name for p in other.iterdir()) == before


def test_default_folder_names_the_runs_and_stays_short(tmp_path):
    a, b = tmp_path / "baseline_2020", tmp_path / "mid_2018"
    assert C.default_out([a, b]) == C.DEFAULT_RESULTS_DIR / "compare_baseline_2020_mid_2018"
    long = [tmp_path / ("x" * 40), tmp_path / ("y" * 40)]
    name = C.default_out(long).name
    assert len(name) == len("compare_") + C.MAX_NAME and name.startswith("compare_xxxx")
    assert C.default_out(long) != C.default_out(long[::-1])


def test_runs_are_labelled_by_scenario_file_as_of_and_seed(tmp_path):
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "manifest.json").write_text(json.dumps(
        {"scenario_file": "scenarios/baseline_2020.toml", "as_of": 2018, "seed": 5, "draws": 900}))
    facts = C._run_facts(tmp_path / "r1", {})
    assert facts == {"scenario_file": "baseline_2020.toml", "as_of": 2018, "seed": 5, "draws": 900}
    # without a manifest: the resolved scenario's [run], the folder name for the file
    facts2 = C._run_facts(tmp_path / "r2", {"run": {"as_of": 2015, "seed": 1, "draws": 10}})
    assert facts2 == {"scenario_file": "?", "as_of": 2015, "seed": 1, "draws": 10}
    taken: set[str] = set()
    assert C._run_label(tmp_path / "r1", facts, taken) == "baseline_2020.toml · as of 2018 · seed 5"
    assert C._run_label(tmp_path / "again", facts, taken) == \
        "baseline_2020.toml · as of 2018 · seed 5 · again"
    assert C._run_label(tmp_path / "r2", facts2, taken) == "r2 · as of 2015 · seed 1"


def test_delta_se_is_paired_only_where_the_draws_pair():
    """Injected met flags: d = b − a = (0, 1, 0, 0): sd 0.5, paired SE 0.5 / √4 = 0.25."""
    flags = {0: {("baseline", "t"): np.array([1, 0, 0, 0], bool)},
             1: {("baseline", "t"): np.array([1, 1, 0, 0], bool)}}
    a = {"probability": 0.5, "mc_se": 0.03, "method": "trend only"}
    b = {"probability": 0.25, "mc_se": 0.04, "method": "trend only"}
    assert C._delta_se(a, b, 1, (0, "baseline"), flags, "baseline", "t") == (0.25, "paired")
    # a probability that is not the trend's alone: the unpaired √(0.03² + 0.04²) = 0.05
    rec = dict(a, method="trend+record")
    se, kind = C._delta_se(rec, b, 1, (0, "baseline"), flags, "baseline", "t")
    assert kind == "unpaired" and se == pytest.approx(0.05)
    # no flags for the later run (another seed): unpaired
    se, kind = C._delta_se(a, b, 1, (0, "baseline"), {0: flags[0]}, "baseline", "t")
    assert kind == "unpaired" and se == pytest.approx(0.05)
    # within the first run: the run's own paired ΔP error from targets.csv
    own = dict(a, delta_se=0.011)
    assert C._delta_se(own, b, 0, (0, "baseline"), flags, "x", "t") == (0.011, "paired")
    assert C._reference(0, "baseline", {(0, "baseline")}) is None
    assert C._reference(1, "other", {(0, "baseline"), (1, "other")}) == (0, "baseline")


def test_runs_with_another_seed_are_not_paired(make_results, tmp_path, capsys):
    a = make_results(tmp_path / "a", outputs=False)
    b = make_results(tmp_path / "b", seed=1, outputs=False)
    manifest = json.loads((b / "manifest.json").read_text())
    (b / "manifest.json").write_text(json.dumps({**manifest, "seed": 8}))
    code = main(["compare", str(a), str(b), "--no-figures", "--out", str(tmp_path / "c")])
    assert code == 0, capsys.readouterr().err
    cmp = pd.read_csv(tmp_path / "c" / "compare.csv")
    later = cmp[(cmp["run"] == "b · as of 2015 · seed 8") & cmp["delta_p"].notna()]
    assert len(later) > 0 and set(later["delta_se_kind"]) == {"unpaired"}
    r = later.iloc[0]
    ref = cmp[(cmp["group"] == r["reference"]) & (cmp["target_id"] == r["target_id"])].iloc[0]
    assert r["delta_se"] == pytest.approx(math.hypot(r["mc_se"], ref["mc_se"]))


@pytest.mark.slow
def test_compare_refuses_folders_without_shared_targets(results_folder, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy2(results_folder / "ensemble.nc", other / "ensemble.nc")
    t = pd.read_csv(results_folder / "targets.csv")
    t.assign(target_id="x_" + t["target_id"]).to_csv(other / "targets.csv", index=False)
    assert main(["compare", str(results_folder), str(other), "--no-figures",
                 "--out", str(tmp_path / "c")]) == 2
    assert "share no target" in capsys.readouterr().err


def test_report_and_compare_survive_a_damaged_resolved_scenario(make_results, tmp_path, run_cli):
    """Found by the long fuzz tier: a resolved scenario edited out of shape (a dict where a
    number belongs) or holding bytes that are not UTF-8 must not crash report or compare."""
    a = make_results(tmp_path / "a", figures=False)
    b = make_results(tmp_path / "b", seed=1, figures=False)
    resolved = a / "scenario.resolved.toml"
    text = resolved.read_text(encoding="utf-8")
    resolved.write_text(text.replace("2020 = 70000", '2020 = { "x" = 2 }'), encoding="utf-8")
    code, _, err = run_cli("report", a, "--no-figures")
    assert code == 0, err
    resolved.write_bytes(text.encode("utf-8")[:200] + b"\x03\xd5\xd8[" + text.encode("utf-8")[200:])
    code, _, err = run_cli("compare", a, b, "--out", tmp_path / "cmp")
    assert code == 0, err
    assert "internal error" not in err
