import time, numpy as np, pandas as pd
from sim.run.context import RunContext
from sim.run.stream import stream
from sim.evaluation.value_met import value_met_rows
ctx = RunContext.build("scenarios/baseline_2020.toml")
st = stream(ctx); acc = st.acc
cols, curves = value_met_rows(acc, acc.curve_draws)
curves.to_pickle("/tmp/curves_df.pkl")
pd.set_option('display.width',250)
c = curves[(curves.scenario=="baseline")&(curves.target_id.isin(["energy_intensity_cum_2020_fyp13","cod_cum_2020_fyp13"]))]
print(c.to_string())
for k,v in cols.items():
    if k[0]=="baseline" and v["value_met_note"] and not v["value_met_note"].startswith("record only"): print(k[1], {a:(round(b,3) if isinstance(b,float) else b) for a,b in v.items()})
