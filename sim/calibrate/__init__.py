"""Calibration: history (≤ as_of) → :class:`sim.model.FittedModel`.

* :mod:`~sim.calibrate.observations`: history rows → each driver's observations on its model
  scale (levels, changes, cumulative changes, derived series), housing ratios, anchors;
* :mod:`~sim.calibrate.statespace`: the change process as a state-space model, fitted by
  maximum likelihood;
* :mod:`~sim.calibrate.fit`: every driver and generic indicator with its fallbacks, the housing
  ratio, and :func:`~sim.calibrate.fit.calibrate`, the whole calibration;
* :mod:`~sim.calibrate.correlation`: the drivers' shock correlation, shrunk;
* :mod:`~sim.calibrate.cache`: :func:`~sim.calibrate.cache.load_or_calibrate`, a fit reused
  while data, code and as_of are the same.
"""
