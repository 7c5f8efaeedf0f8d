"""Rebuild ``NotoSansSC-sim-subset.otf`` — the CJK font shipped with sim (OFL-1.1).

Source: Noto Sans CJK SC Regular (Adobe/Google, SIL Open Font License 1.1), as packaged by
Debian (``apt-get install fonts-noto-cjk``: /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc).
Kept glyphs: ASCII and Latin-1, Greek, general punctuation, super- and subscripts, CJK symbols and full-width forms, the 3 755
level-1 characters of GB 2312 (the most frequent Chinese characters) and every character in sim's
own Chinese text (series labels, the target catalogue, figure labels). Renamed so it can never
be mistaken for the full font (OFL: a modified version must not use the Reserved Font Name —
Noto has none, but the renamed family keeps it clear).

Usage::

    python sim/output/fonts/build_subset.py [/path/to/NotoSansCJK-Regular.ttc]
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "NotoSansSC-sim-subset.otf"
FAMILY = "Noto Sans SC sim"


def gb2312_level1() -> str:
    chars = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return "".join(chars)


def project_text() -> str:
    parts = []
    for p in [ROOT / "series.py", ROOT / "data" / "targets.csv", ROOT / "plots.py",
              ROOT / "report.py", ROOT / "tables.py"]:
        if p.exists():
            parts.append(p.read_text(encoding="utf-8"))
    return "".join(parts)


def unicodes(text: str) -> list[int]:
    base = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100)) | set(range(0x2000, 0x20A0)) \
        | set(range(0x2100, 0x2200)) | set(range(0x2212, 0x2213)) | set(range(0x3000, 0x3040)) \
        | set(range(0xFF00, 0xFFF0)) | set(range(0x0370, 0x0400)) \
        | {0x2264, 0x2265, 0x00B1, 0x2248, 0x2192, 0x2190, 0x25CF, 0x2206}
    return sorted(base | {ord(c) for c in text if ord(c) >= 0x2E80})


def main(src: str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc") -> None:
    coll = TTCollection(src)
    font = next(f for f in coll.fonts if "SC" in f["name"].getDebugName(1))
    opts = subset.Options()
    opts.layout_features = ["kern", "liga", "palt"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    opts.desubroutinize = False
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=unicodes(gb2312_level1() + project_text()))
    sub.subset(font)
    name = font["name"]
    for rec in name.names:
        if rec.nameID in (1, 16):
            rec.string = FAMILY
        elif rec.nameID == 4:
            rec.string = FAMILY + " Regular"
        elif rec.nameID == 6:
            rec.string = FAMILY.replace(" ", "") + "-Regular"
    font.save(OUT)
    print(f"{OUT}: {OUT.stat().st_size / 1024:.0f} KiB, {len(font.getGlyphOrder())} glyphs")


if __name__ == "__main__":
    main(*sys.argv[1:])
