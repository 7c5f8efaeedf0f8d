"""The terminal summary printed at the end of ``sim run`` and ``sim report``."""

from __future__ import annotations

import pandas as pd

from sim.output.tables import coverage_lines

def print_summary(table: pd.DataFrame, folder) -> None:
    """P(met) per target (rows) and scenario (columns), evaluable targets only."""
    if table.empty:
        print("no targets in the chosen sets")
        return
    ev = table[table["status"] == "evaluated"]
    if not ev.empty:
        wide = ev.pivot_table(index=["target_id"], columns="scenario", values="probability",
                              sort=False)
        scen_order = list(dict.fromkeys(ev["scenario"]))
        wide = wide[scen_order]
        width = max(len(str(i)) for i in wide.index)
        head = "target".ljust(width) + "".join(f"  {s[:14]:>14}" for s in wide.columns)
        print("P(target met)")
        print(head)
        print("-" * len(head))
        for tid, r in wide.iterrows():
            print(str(tid).ljust(width) + "".join(f"  {v:14.3f}" for v in r.values))
    not_ev = table[table["status"] != "evaluated"].drop_duplicates("target_id")
    print(f"\n{ev['target_id'].nunique()} targets evaluated, {len(not_ev)} not evaluable "
          f"(reasons in targets.csv). Results: {folder}")
    for line in coverage_lines(table)[:1]:
        print(line)
