"""The Monte Carlo engine: fitted model + levers -> simulated draws, and where they run.

* :mod:`~sim.engine.settings`: :class:`~sim.engine.settings.RunSettings` (how draws are produced);
* :mod:`~sim.engine.simulation`: packing, :func:`~sim.engine.simulation.simulate`, series paths
  (the only caller of the kernels);
* :mod:`~sim.engine.kernels` (numba) and :mod:`~sim.engine.reference` (its NumPy twin);
  :mod:`~sim.engine.rng` (counter-based Philox normals);
* :mod:`~sim.engine.dispatch`: :func:`~sim.engine.dispatch.map_ranges`, the one dispatcher over
  ranges of draws (this process or dask).
"""
