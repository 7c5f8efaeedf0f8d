"""``python -m sim data`` — which series have history (kinds, years, vintages, sources), which
targets have none to evaluate them, the plan records (past targets with their outcomes: counts by
family, level, binding status and verdict) and the catalogue's indicator families.

With ``--data DIR`` the series the directory declares (``series.csv``) and the catalogue targets
it adds or corrects (``targets.csv``) are listed first (:mod:`sim.declared`).

``--show`` picks one listing (default: all). With ``--format csv`` each listing is one CSV
table (blank line between tables): the series, the targets without history, the plan records
(one row per record, every column) and the families (targets per family and target set, plan
records per family)."""

from __future__ import annotations

import sys

HELP = ("list the historical series (years, kinds, vintages, sources), targets without history, "
        "the plan records and the indicator families")
SHOWS = ("all", "series", "records", "families")


def add_arguments(p) -> None:
    """The flags of ``sim data``."""
    p.add_argument("--data", metavar="DIR", help="history data directory (default: calibration/data)")
    p.add_argument("--format", choices=("table", "csv"), default="table",
                   help="output format (default: table)")
    p.add_argument("--show", choices=SHOWS, default="all",
                   help="what to list: series (and targets without history), records (the plan "
                        "records), families, or all (default)")
    p.add_argument("--records", metavar="FILE", default=None,
                   help="plan-records file or folder of *.csv "
                        "(default: calibration/data/plan_records/)")


def year_ranges(years) -> str:
    """Compact ranges: [2001, 2002, 2003, 2005] -> '2001–2003, 2005'."""
    years = sorted(set(int(y) for y in years))
    parts, start = [], None
    for i, y in enumerate(years):
        start = y if start is None else start
        if i + 1 == len(years) or years[i + 1] != y + 1:
            parts.append(str(y) if start == y else f"{start}–{y}")
            start = None
    return ", ".join(parts)


def _short_source(source: str) -> str:
    """A short handle for a source: host of a URL, repo of a GitHub path, seed file name."""
    s = source.strip()
    if s.startswith("github:"):
        return s[len("github:"):].split("@")[0]
    if s.startswith("http"):
        return s.split("/")[2]
    if s.startswith("seed "):
        return "seed " + s.split()[1][:3]
    if s.startswith("GitHub public file"):
        return "GitHub (unattributed)"
    return s.split(",")[0].split("(")[0].strip()[:30]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def series_table(history):
    """One row per series: label, kinds with their years, vintages, count, short sources."""
    import pandas as pd

    vocabulary = history.vocabulary
    rows = []
    for name in history.series_names():
        obs = history.frame[history.frame["series"] == name]
        kinds = "; ".join(f"{k} {year_ranges(g['year'])}" for k, g in obs.groupby("kind", sort=True))
        sources = sorted({_short_source(s) for s in obs["source"]})
        rows.append({
            "series": name,
            "label": vocabulary[name].label_en,
            "unit": vocabulary[name].unit,
            "kinds_years": kinds,
            "vintages": ",".join(v for v in ("first", "revised", "unknown") if v in set(obs["vintage"])),
            "n": len(obs),
            "sources": "; ".join(sources),
        })
    return pd.DataFrame(rows)


def declared_table(history):
    """What the history's data directory declares: one row per series added (``series.csv``)
    and per target added or corrected (``targets.csv``), with the columns and where."""
    import pandas as pd

    from sim.targets import declared_changes

    rows = [{"what": "series", "name": s.name, "action": "added",
             "details": f"{s.unit}, {s.scale}, {s.family or 'no family'}: {s.label_en}",
             "where": s.declared_in} for s in history.vocabulary.declared]
    rows += [{"what": "target", "name": c["id"], "action": c["action"],
              "details": c["columns"], "where": c["where"]}
             for c in declared_changes(history.declarations)]
    return pd.DataFrame(rows, columns=["what", "name", "action", "details", "where"])


def targets_without_history(history):
    """Catalogue rows (the history's: bundled plus declared) whose series is blank or has no
    observation."""
    cat = history.catalogue()
    have = set(history.series_names())
    series = cat["series"].fillna("").astype(str).str.strip()
    missing = cat[~series.isin(have)].copy()
    missing["reason"] = ["no series (indicator not modelled)" if not s else f"no history for {s}"
                         for s in series[~series.isin(have)]]
    label = "indicator_zh" if "indicator_zh" in missing.columns else "indicator"
    cols = [c for c in ("id", "target_set", "series", label, "target_year", "reason") if c in missing.columns]
    return missing[cols].reset_index(drop=True)


def record_counts(records):
    """Counts of the plan records: ``{"family": table, "level": ..., "binding": ...}``, each
    with one row per value and one column per verdict (``yes, partly, no, unknown``) and
    ``total``."""
    import pandas as pd

    from sim.plan_record.records import MET, records_frame

    frame = records_frame(records)
    out = {}
    for col in ("family", "level", "binding"):
        t = pd.crosstab(frame[col], frame["met"]).reindex(columns=list(MET), fill_value=0)
        t["total"] = t.sum(axis=1)
        out[col] = t.rename_axis(index=col, columns=None).reset_index()
    return out


def family_table(records):
    """One row per family of :data:`sim.vocabulary.FAMILIES`: catalogue targets per target set
    and in all, plan records and their verdicts (met / judged), and what the family covers."""
    import pandas as pd

    from sim.targets import load_catalogue
    from sim.vocabulary import FAMILIES, TARGET_SETS

    cat = load_catalogue()
    rows = []
    for fam, text in FAMILIES.items():
        sel = cat[cat["family"] == fam]
        judged = [r for r in records if r.family == fam and r.verdict is not None]
        row = {"family": fam}
        row.update({s: int((sel["target_set"] == s).sum()) for s in TARGET_SETS})
        row.update(targets=len(sel), records=sum(r.family == fam for r in records),
                   met=sum(bool(r.verdict) for r in judged), judged=len(judged), covers=text)
        rows.append(row)
    return pd.DataFrame(rows)


def run(args) -> int:
    """Print the chosen listings (series and targets without history, plan records, families)."""
    from sim.plan_record import PLAN_RECORDS_DIR, load_plan_records, records_frame

    out = sys.stdout
    parts = []
    if args.show in ("all", "series"):
        parts += _series_parts(args)
    if args.show in ("all", "records", "families"):
        path = args.records or PLAN_RECORDS_DIR
        records = load_plan_records(path)
        if args.show in ("all", "records"):
            parts.append(("records", path, records_frame(records) if args.format == "csv"
                          else record_counts(records)))
        if args.show in ("all", "families"):
            parts.append(("families", path, family_table(records)))
    if args.format == "csv":
        out.write("\n".join(_csv(p[-1]) for p in parts))
        return 0
    for kind, where, obj in parts:
        out.write(_TABLE_WRITERS[kind](where, obj))
    return 0


def _csv(df) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def _series_parts(args) -> list:
    from sim.history import load_history

    history = load_history(args.data)
    declared = declared_table(history)
    return ([("declared", history, declared)] if len(declared) else []) + [
            ("series", history, series_table(history)),
            ("missing", history, targets_without_history(history))]


def _series_text(history, table) -> str:
    shown = table.assign(sources=[_clip(s, 60) for s in table["sources"]])
    return (f"History in {history.data_dir} ({len(history.frame)} observations, "
            f"{len(table)} series, data hash {history.data_hash[:12]})\n\n"
            + shown.to_string(index=False) + "\n\n")


def _declared_text(history, table) -> str:
    shown = table.assign(details=[_clip(s, 60) for s in table["details"]])
    return (f"Declared in {history.data_dir} (series.csv, targets.csv): added to or correcting the "
            f"built-in vocabulary and catalogue\n\n" + shown.to_string(index=False) + "\n\n")


def _missing_text(history, missing) -> str:
    if missing.empty:
        return "Every target has history to evaluate it.\n\n"
    return (f"Targets without history ({len(missing)}): not evaluable from the data until data "
            f"are added (the plan record still gives them a probability)\n\n"
            + missing.to_string(index=False) + "\n\n")


def _records_text(path, counts) -> str:
    n = int(counts["family"]["total"].sum())
    text = (f"Plan records in {path} ({n} past targets with their outcomes; "
            f"met = official verdict)\n")
    for col, table in counts.items():
        text += f"\nby {col} (columns: verdict):\n" + table.to_string(index=False) + "\n"
    return text + "\n"


def _families_text(path, table) -> str:
    shown = table.assign(covers=[_clip(s, 50) for s in table["covers"]])
    return ("Indicator families (catalogue targets per target set; plan records, met of judged)\n\n"
            + shown.to_string(index=False) + "\n")


_TABLE_WRITERS = {"declared": _declared_text, "series": _series_text, "missing": _missing_text,
                  "records": _records_text, "families": _families_text}
