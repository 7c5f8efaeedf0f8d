import cProfile, pstats, time, pickle
from sim.run.context import RunContext
from sim.run.stream import stream
from sim.evaluation.value_met import value_met_rows
ctx = RunContext.build("scenarios/baseline_2020.toml")
t=time.time(); st = stream(ctx); print("stream", time.time()-t)
acc = st.acc
t=time.time()
cProfile.run("value_met_rows(acc, acc.curve_draws)", "/tmp/curves_prof.out")
print("value_met", time.time()-t)
pstats.Stats("/tmp/curves_prof.out").sort_stats("cumulative").print_stats(25)
