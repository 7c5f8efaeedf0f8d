"""Analyses built on runs: lever sweeps (:mod:`~sim.analysis.sweep`), required effort
(:mod:`~sim.analysis.solve`) and Sobol sensitivity (:mod:`~sim.analysis.sensitivity`); each
starts from a :class:`~sim.run.context.RunContext` and decides "met" with the one evaluator."""
