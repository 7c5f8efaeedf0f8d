"""What a data directory declares besides observations: its own series, targets and breaks.

A data directory (``--data DIR``) may hold, next to its observation files:

* ``series.csv`` — series added to the built-in vocabulary (:mod:`sim.declared.files`);
* ``targets.csv`` — targets added to the catalogue, or catalogue rows corrected by id
  (merged by :func:`sim.targets.load_catalogue` with ``declarations=``);
* ``breaks.csv`` — where a series' levels stop being comparable (:mod:`sim.declared.breaks`).

:func:`sim.history.load_history` reads them with the observations into values the
:class:`~sim.history.History` carries (``history.declarations``, ``history.vocabulary``,
``history.catalogue()``); nothing is installed in a module. A ``plan_records`` folder is refused
(:mod:`sim.declared.records`). :func:`sim.declared.check.check_data_dir` reports every problem
of a data directory at once. The file formats are in ``calibration/data/SOURCES.md``
("Declaring your own series and targets").
"""
