"""``python -m sim schema [--out FILE]`` — the JSON Schema (draft 2020-12) of scenario files.

Point an editor at it for completion and checking, e.g. with Even Better TOML / taplo add to the
top of a scenario file::

    #:schema ./scenario.schema.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sim.errors import SimError

HELP = "print the JSON Schema of scenario files (for editor completion); --out FILE writes it"


def add_arguments(p) -> None:
    """The flags of ``sim schema``."""
    p.add_argument("--out", metavar="FILE", help="write the schema to FILE instead of stdout")


def run(args) -> int:
    """Print (or write) the JSON Schema of scenario files."""
    from sim.scenario.read import json_schema

    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if not args.out:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SimError(f"{out}: cannot write ({exc.strerror or exc})") from None
    print(f"wrote {out}", file=sys.stderr)
    return 0
