"""One module per CLI command; see :mod:`sim.cli` for the protocol."""
