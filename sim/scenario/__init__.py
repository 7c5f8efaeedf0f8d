"""Scenario files: TOML → validated, resolved, immutable specs.

* :mod:`~sim.scenario.base`: strict scalar types, years, names, the base model;
* :mod:`~sim.scenario.levers`: levers and shocks (what a scenario can move);
* :mod:`~sim.scenario.spec`: ``[run]``, ``[output]``, ``[sweep]``, the file form and the
  resolved form (:class:`~sim.scenario.spec.ScenarioFile`, :class:`~sim.scenario.spec.ScenarioSpec`);
* :mod:`~sim.scenario.extends`: ``extends`` chains, merging, fitting into another window;
* :mod:`~sim.scenario.messages`: the text of every problem;
* :mod:`~sim.scenario.read`: :func:`~sim.scenario.read.load_scenario_file`,
  :func:`~sim.scenario.read.resolved_toml`, :func:`~sim.scenario.read.json_schema`.
"""
