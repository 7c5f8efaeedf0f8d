"""``python -m sim data`` — which series have history (kinds, years, vintages, sources) and which
targets have none to evaluate them."""

from __future__ import annotations

import sys

HELP = "list the historical series (years, kinds, vintages, sources) and targets without history"


def add_arguments(p) -> None:
    """The flags of ``sim data``."""
    p.add_argument("--data", metavar="DIR", help="history data directory (default: calibration/data)")
    p.add_argument("--format", choices=("table", "csv"), default="table",
                   help="output format (default: table)")


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

    from sim.vocabulary import SERIES

    rows = []
    for name in history.series_names():
        obs = history.frame[history.frame["series"] == name]
        kinds = "; ".join(f"{k} {year_ranges(g['year'])}" for k, g in obs.groupby("kind", sort=True))
        sources = sorted({_short_source(s) for s in obs["source"]})
        rows.append({
            "series": name,
            "label": SERIES[name].label_en,
            "unit": SERIES[name].unit,
            "kinds_years": kinds,
            "vintages": ",".join(v for v in ("first", "revised", "unknown") if v in set(obs["vintage"])),
            "n": len(obs),
            "sources": "; ".join(sources),
        })
    return pd.DataFrame(rows)


def targets_without_history(history):
    """Catalogue rows whose series is blank or has no observation."""
    from sim.targets import load_catalogue

    cat = load_catalogue()
    have = set(history.series_names())
    series = cat["series"].fillna("").astype(str).str.strip()
    missing = cat[~series.isin(have)].copy()
    missing["reason"] = ["no series (indicator not modelled)" if not s else f"no history for {s}"
                         for s in series[~series.isin(have)]]
    label = "indicator_zh" if "indicator_zh" in missing.columns else "indicator"
    cols = [c for c in ("id", "target_set", "series", label, "target_year", "reason") if c in missing.columns]
    return missing[cols].reset_index(drop=True)


def run(args) -> int:
    """Print the series table and the targets without history."""
    from sim.history import load_history

    history = load_history(args.data)
    table = series_table(history)
    missing = targets_without_history(history)
    out = sys.stdout
    if args.format == "csv":
        table.to_csv(out, index=False, lineterminator="\n")
        out.write("\n")
        missing.to_csv(out, index=False, lineterminator="\n")
        return 0

    out.write(f"History in {history.data_dir} ({len(history.frame)} observations, "
              f"{len(table)} series, data hash {history.data_hash[:12]})\n\n")
    shown = table.assign(sources=[_clip(s, 60) for s in table["sources"]])
    out.write(shown.to_string(index=False) + "\n\n")
    if missing.empty:
        out.write("Every target has history to evaluate it.\n")
    else:
        out.write(f"Targets without history ({len(missing)}): not evaluable until data are added\n\n")
        out.write(missing.to_string(index=False) + "\n")
    return 0
