"""What a results folder holds, and the one writer of every results folder.

* :mod:`~sim.output.folder` — :class:`~sim.output.folder.ResultsFolder`, the atomic folder and
  its ``manifest.json`` (every command writes through it), with :mod:`~sim.output.owned` (the
  ownership marker and the paths never written) and :mod:`~sim.output.lock` (one writer per
  output folder);
* :mod:`~sim.output.tables` — the evaluation table in the plan's layout (CSV, Markdown), with
  :mod:`~sim.output.xlsx` and :mod:`~sim.output.html` for the workbook and the web pages;
* :mod:`~sim.output.figures` (``write_figures``: every figure of a run), :mod:`~sim.output.fans`
  (fan charts and scenario overlays of the indicators), :mod:`~sim.output.plots` (P(met) chart
  and heat map), :mod:`~sim.output.drawing` (style, CJK font and drawing from plain data) and
  :mod:`~sim.output.figure_pool` (drawing in worker processes);
* :mod:`~sim.output.report` — ``write_outputs``: figures, tables and ``report.html`` of a run;
* :mod:`~sim.output.rebuild` (``sim report``) and :mod:`~sim.output.compare` (``sim compare``).
"""
