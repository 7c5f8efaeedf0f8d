"""Text from users' files made inert where people open it: spreadsheet cells and Markdown.

Labels, sources, indicator names and file names come from scenario files and data directories
and reach the tables verbatim. Two places would *run* such text instead of showing it:

* a spreadsheet opening a CSV takes a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
  or a CR for a formula (``=HYPERLINK(…)``, ``+cmd|' /C calc'!A0``): OWASP "CSV Injection".
  :func:`spreadsheet_cell` prefixes such a cell with an apostrophe (the OWASP convention: the
  cell is then text, shown with its apostrophe) unless it is a number (:func:`is_number`:
  ``-5.2``, ``−3 %``, ``-1,234.5``, ``+1e-5`` stay as they are). Machine-readable CSVs are
  written verbatim; only those meant for spreadsheets go through :func:`spreadsheet_frame`.
* Markdown turns ``[click](javascript:…)`` into a link, ``![x](http://…)`` into an external image,
  ``<b>`` into HTML, a backtick into code, and ``|`` splits a table cell.
  :func:`markdown_text` writes CommonMark backslash escapes (the raw file stays readable:
  ``R&D`` stays ``R&D``, ``<`` is ``\\<``, not ``&lt;``) for text placed *inline* (a table cell,
  a heading after its ``#`` marker, after other text on a line); bare URLs are not linked either
  (GitHub's autolink extension would).
"""

from __future__ import annotations

import re

import pandas as pd

#: first characters a spreadsheet takes for a formula (OWASP: = + - @ tab CR); LF and the
#: full-width forms ＝ ＋ － ＠ too, defensively (an input method or a converter may turn them
#: into their ASCII twins; a prefixed text cell costs nothing)
FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
#: the OWASP prefix: a cell starting with it is shown as text
NEUTRAL_PREFIX = "'"
#: ``to_csv`` keywords of a CSV for spreadsheets: UTF-8 with BOM (so they read the Chinese) and
#: CRLF line ends (RFC 4180: the csv writer then quotes a cell holding a CR, which with LF line
#: ends would be written bare and split its row)
SPREADSHEET_CSV = {"encoding": "utf-8-sig", "lineterminator": "\r\n"}
#: a number as a spreadsheet reads it: optional sign (+, -, −), ASCII digits with optional
#: thousands commas and decimals (or .5), optional exponent, optional % (one space allowed before
#: it), optional spaces around
NUMBER = re.compile(r" *[+\-\u2212]?(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)"
                    r"(?:[eE][+\-]?[0-9]+)? ?%? *")
#: the first character after leading spaces (tab, CR and LF count as characters here)
_FIRST = re.compile(r"[^\S\t\r\n]*(.)", re.S)


def is_number(text: str) -> bool:
    """True for a text a spreadsheet reads as a number (:data:`NUMBER`): '-5.2', '−3 %',
    '-1,234.5', '+1e-5', '.5'; False for '-2+3', '--5', '-', '- 5', '-inf', '-5,2'."""
    return NUMBER.fullmatch(text) is not None


def spreadsheet_cell(text):
    """``text`` safe in a spreadsheet cell: ``"'" + text`` when its first character after
    leading spaces is in :data:`FORMULA_START` and it is not a number; anything else (numbers,
    other text, non-strings) unchanged. Idempotent (a neutralised cell starts with ``'``)."""
    if not isinstance(text, str) or is_number(text):
        return text
    first = _FIRST.match(text)
    if first is not None and first.group(1) in FORMULA_START:
        return NEUTRAL_PREFIX + text
    return text


def spreadsheet_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every text cell through :func:`spreadsheet_cell` (numeric, boolean
    and empty cells untouched; column names are sim's own)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = pd.Series([spreadsheet_cell(v) for v in out[col].tolist()],
                                 index=out.index, dtype=object)
    return out


#: escaped wherever they stand: backslash, code, emphasis, links/images, HTML/autolinks, table
#: cells, strikethrough (GFM)
MD_ALWAYS = frozenset("\\`*[]()!<>|~")
#: an HTML entity or numeric character reference (escaped so it shows as typed)
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{0,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def _word(ch: str) -> bool:
    return ch.isalnum()


def markdown_text(text) -> str:
    """``text`` (any value; None → '') as inline Markdown that renders as that text: line breaks
    (CR, LF) flattened to spaces; CommonMark backslash escapes for :data:`MD_ALWAYS`, for ``_``
    between two letters or digits (``gdp_2020`` stays), ``#`` at the start or after a space (an ATX
    heading's closing sequence), ``&`` starting an entity (``&lt;``; ``R&D`` stays), and the
    ``:`` of ``://`` and the ``.`` of a leading ``www.`` (GitHub's extension links bare URLs).
    Not idempotent (escaping escapes backslashes): apply once, to the raw text."""
    s = "" if text is None else str(text)
    s = s.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    out = []
    for i, ch in enumerate(s):
        prev, nxt = s[i - 1] if i else "", s[i + 1] if i + 1 < len(s) else ""
        if (ch in MD_ALWAYS
                or (ch == "_" and not (_word(prev) and _word(nxt)))
                or (ch == "#" and (not prev or prev.isspace()))
                or (ch == "&" and _ENTITY.match(s, i))
                or (ch == ":" and s.startswith("//", i + 1))
                or (ch == "." and s[max(i - 3, 0):i].lower() == "www"
                    and (i == 3 or (i > 3 and not s[i - 4].isalnum())))):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)
