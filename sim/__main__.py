"""``python -m sim`` entry point."""

from sim.cli import main

raise SystemExit(main())
