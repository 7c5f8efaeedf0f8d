"""What a data directory declares besides observations: its own series and targets.

A data directory (``--data DIR``) may hold, next to its observation files:

* ``series.csv`` — series added to the built-in vocabulary (:mod:`sim.declared.files`);
* ``targets.csv`` — targets added to the catalogue, or catalogue rows corrected by id
  (merged by :func:`sim.targets.load_catalogue`).

:func:`sim.history.load_history` reads both before the observations and makes them the
declarations in use (:func:`sim.declared.files.active`); :func:`sim.declared.check.check_data_dir`
reports every problem of a data directory at once. The file formats are in
``calibration/data/SOURCES.md`` ("Declaring your own series and targets").
"""
