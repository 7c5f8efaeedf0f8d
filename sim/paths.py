"""Where the bundled inputs live.

The package is installed editable from the repository (see README), so the bundled history in
``calibration/data`` sits next to the package; the target catalogue ships inside the package.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DEFAULT_DATA_DIR = REPO_DIR / "calibration" / "data"
DEFAULT_RESULTS_DIR = REPO_DIR / "results"
SCENARIOS_DIR = REPO_DIR / "scenarios"
TARGET_CATALOGUE = PACKAGE_DIR / "data" / "targets.csv"
SEEDS_DIR = REPO_DIR / "calibration" / "seeds"   # the plans the targets were extracted from
