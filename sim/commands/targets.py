"""``python -m sim targets [--set NAME] [--data DIR] [--format table|csv|json]`` — list the target
catalogue (with ``--data DIR``: plus the targets that directory adds or corrects)."""

from __future__ import annotations

HELP = "list the planning targets in the catalogue (all, or the chosen target sets)"

COLUMNS = (
    "id", "target_set", "indicator", "series", "target_year", "kind", "comparator", "value",
    "value_high", "tolerance", "unit", "base_year", "period_start", "period_end", "binding",
    "value_status", "source", "source_section",
)
# narrower selection for the terminal table
TABLE_COLUMNS = (
    "id", "target_set", "indicator", "target_year", "kind", "comparator", "value", "value_high",
    "unit", "base_year", "period_start", "period_end", "binding", "value_status", "series",
)
MAX_CELL = 40
CLIPPED = ("indicator", "unit")  # long free-text cells are cut to MAX_CELL in the table


def add_arguments(p) -> None:
    """The flags of ``sim targets``."""
    p.add_argument("--set", dest="sets", action="append", metavar="NAME",
                   help="only this target set (repeatable): action_plan_2015, fyp12_2015, "
                        "fyp13_2020, quality_plan_2020")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="output format (default: table)")
    p.add_argument("--data", metavar="DIR", help="a data directory whose targets.csv adds or "
                                                 "corrects targets (ids for [target_values])")


def _records(df) -> list[dict]:
    """Rows as dicts of plain Python values, None for blanks."""
    import pandas as pd

    out = []
    for row in df.to_dict("records"):
        rec = {}
        for col in COLUMNS:
            if col == "indicator":
                val = row["indicator_en"] or row["indicator_zh"]
            else:
                val = row[col]
            if val is None or val is pd.NA or (isinstance(val, float) and val != val) or val == "":
                val = None
            elif hasattr(val, "item"):  # numpy scalar -> Python scalar
                val = val.item()
            if isinstance(val, float) and val.is_integer() \
                    and col not in ("value", "value_high", "tolerance"):
                val = int(val)
            rec[col] = val
        out.append(rec)
    return out


def _text(val) -> str:
    """A cell as text: blank for None, no trailing '.0' on whole numbers."""
    if val is None:
        return ""
    if isinstance(val, float):
        return str(int(val)) if val.is_integer() else repr(val)
    return str(val)


def _width(s: str) -> int:
    """Display width in a terminal (CJK wide characters count as two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _clip(s: str, limit: int = MAX_CELL) -> str:
    s = s.replace("\t", " ").replace("\n", " ")
    if _width(s) <= limit:
        return s
    while _width(s) > limit - 1:
        s = s[:-1]
    return s + "…"


def _table(records: list[dict]) -> str:
    cells = [[_clip(_text(r[c])) if c in CLIPPED else _text(r[c]) for c in TABLE_COLUMNS] for r in records]
    widths = [max([_width(c)] + [_width(row[i]) for row in cells]) for i, c in enumerate(TABLE_COLUMNS)]

    def line(values):
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths)).rstrip()

    lines = [line(TABLE_COLUMNS), line(["-" * w for w in widths])]
    lines += [line(row) for row in cells]
    lines.append(f"({len(records)} targets)")
    return "\n".join(lines)


def run(args) -> int:
    """Print the catalogue rows of the chosen sets."""
    import csv
    import json
    import sys

    from sim.history import load_history
    from sim.targets import TARGET_SETS, check_set_names, load_catalogue

    sets = args.sets or list(TARGET_SETS)
    check_set_names(sets)
    df = load_history(args.data).catalogue() if getattr(args, "data", None) else load_catalogue()
    df = df[df["target_set"].isin(sets)]
    records = _records(df)

    if args.format == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in records:
            w.writerow([_text(r[c]) for c in COLUMNS])
    elif args.format == "json":
        json.dump(records, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        print(_table(records))
    return 0
