"""Sobol indices in planners' words: the tornado chart and the printed summary of ``sim sensitivity``.

An index is read as the *share of the uncertainty in meeting the target due to* one source: the
first-order index is the share that source explains alone, the total index its share including
its interactions with the others. Groups ``kind:driver`` read as e.g. "energy use per 10,000 CNY
of GDP — yearly shocks". A pick-freeze estimate can fall below 0 by Monte Carlo error
although the index itself cannot: it is shown as "~0" with the estimate and its bootstrap SE;
likewise one above 1 shows as "~100 %" (the CSV keeps the raw estimates), and the printed
summary says why in words. A P(met) so near 0 or 1 that fewer than :data:`MIN_RARE` draws fall
on its rarer side has too little uncertainty to share out: the summary says so (and how many
draws would do) instead of printing indices that are Monte Carlo noise, and no chart is drawn.
Titles are bilingual (中文 · English), as the other outputs' headers.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from sim.analysis.headline import HEADLINE, METHOD_WORDS
from sim.analysis.labels import KIND_WORDS, group_label, plain
from sim.analysis.sobol import Sensitivity
from sim.output.plots import new_figure, save_png, style

TITLE_ZH = "各不确定来源对达标与否的贡献"
TITLE_EN = "Share of the uncertainty in meeting the target due to each source"
TITLE = f"{TITLE_ZH} · {TITLE_EN}"
#: fewest draws on the rarer side (met, or missed) for a share of the uncertainty to be estimated
#: (the usual rule of thumb of >= 10-20 events for a binomial proportion; we take the larger)
MIN_RARE = 20
ABOVE_100 = ("an estimate above 100 % is Monte Carlo error (a share cannot exceed 100 %): it shows "
             "as ~100 % with the estimate; more draws (--draws) narrow it")
INTERACTIONS = ("the 'with interactions' shares add up to more than 100 % because an interaction "
                "between two sources is counted in the share of each")


def rare_side(sens: Sensitivity, t: int) -> int | None:
    """Draws on the rarer side of target ``t`` (met or missed, of the 2N draws of A and B) when
    they are fewer than :data:`MIN_RARE`, else None."""
    n = 2 * sens.draws
    hits = int(round(float(sens.p[t]) * n))
    rare = min(hits, n - hits)
    return rare if rare < MIN_RARE else None


def shown(value: float, se: float) -> str:
    """An index as shown: '0.449 ± 0.090', '~0 (estimate -0.093 ± 0.050)' below 0,
    '~1 (estimate 1.260 ± 0.200)' above 1."""
    if not np.isfinite(value):
        return "n/a"
    err = f" ± {se:.3f}" if np.isfinite(se) else ""
    if value < 0:
        return f"~0 (estimate {value:.3f}{err})"
    if value > 1:
        return f"~1 (estimate {value:.3f}{err})"
    return f"{value:.3f}{err}"


def _pct(value: float, se: float) -> str:
    """'43 %', '~0 %', '~0 % (estimate -9 ± 5 %)' below 0, '~100 % (estimate 126 ± 20 %)' above 1."""
    if value < 0:
        return f"~0 % (estimate {100 * value:.0f} ± {100 * se:.0f} %)"
    if value > 1:
        return f"~100 % (estimate {100 * value:.0f} ± {100 * se:.0f} %)"
    return "~0 %" if value < 0.005 else f"{100 * value:.0f} %"


def tornado(sens: Sensitivity, t: int, path: Path, top: int = 12) -> Path:
    """Write :func:`tornado_figure` of target ``t`` as a PNG at ``path``."""
    with matplotlib.rc_context(style()):
        return save_png(tornado_figure(sens, t, top), Path(path))


def tornado_figure(sens: Sensitivity, t: int, top: int = 12) -> Any:
    """Horizontal bars per source that acts on the target (pooled kinds excluded): the share with
    interactions (total index, light) and alone (first order, dark), each ±1 bootstrap SE about
    the estimate; estimates below 0 are drawn at 0 and written as ~0 with the estimate. Call inside
    ``matplotlib.rc_context(style())``."""
    ix = sens.indices
    rows = [g for g, name in enumerate(ix.groups)
            if not name.endswith(":all") and (ix.total[g, t] != 0 or ix.first[g, t] != 0)]
    rows = sorted(rows, key=lambda g: -np.nan_to_num(ix.total[g, t]))[:top][::-1]
    total, total_se = (np.array([a[g, t] for g in rows]) for a in (ix.total, ix.total_se))
    first, first_se = (np.array([a[g, t] for g in rows]) for a in (ix.first, ix.first_se))
    fig = new_figure(8.6, 1.9 + 0.38 * max(len(rows), 1))
    ax = fig.subplots()
    y = np.arange(len(rows))
    ax.barh(y, 100 * np.clip(total, 0, 1), color="#9ecae1", label="含交互 with interactions (total index)")
    ax.barh(y, 100 * np.clip(first, 0, 1), height=0.45, color="#08519c",
            label="单独 alone (first-order index)")
    # error bars about the estimates themselves: one below 0 shows only the part above 0
    ax.errorbar(100 * total, y, xerr=100 * total_se, fmt="none", ecolor="k", lw=0.6, capsize=2,
                label="± 1 自助法标准误 bootstrap SE")
    ax.errorbar(100 * first, y, xerr=100 * first_se, fmt="none", ecolor="#555555", lw=0.6, capsize=2)
    for k in range(len(rows)):
        ax.text(101, k, f"{_pct(first[k], first_se[k])} alone\n"
                        f"{_pct(total[k], total_se[k])} with interactions", va="center", fontsize=7)
    ax.set_yticks(y)
    ax.set_yticklabels([textwrap.fill(group_label(ix.groups[g]), 44) for g in rows], fontsize=7.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("贡献 share of the uncertainty in meeting the target, % (an estimate below 0 "
                  "shows as ~0, above 100 as ~100)")
    fig.legend(loc="outside lower center", ncol=3, fontsize=7.5, frameon=False)
    text = sens.texts[t] if sens.texts else sens.target_ids[t]
    basis = METHOD_WORDS.get(sens.methods[t], "") if sens.methods else ""
    basis = f" ({basis})" if basis else ""
    ax.set_title("\n".join([TITLE_ZH, TITLE_EN] + textwrap.wrap(
        f"{text}: 达标概率 P(met) = {100 * sens.p[t]:.0f} %{basis} in scenario "
        f"'{sens.scenario}', {sens.draws:,} draws per sample", 95)), fontsize=9, loc="left")
    return fig


def summary_lines(sens: Sensitivity, top: int = 5) -> list[str]:
    """What P(met) is; per target: P(met), the share due to each kind of input, the ``top``
    sources, and in words why an index shows as ~0 or ~100 % or why nothing can be shared out."""
    ix = sens.indices
    lines = [f"{HEADLINE}, as in `sim run` (the trend combined with the run's plan record where "
             "the run combines them); the record's draws are one source, \"past plans' record\"",
             TITLE]
    for t, tid in enumerate(sens.target_ids):
        basis = f", {METHOD_WORDS[sens.methods[t]]}" if sens.methods and sens.methods[t] in \
            METHOD_WORDS else ""
        lines.append(f"{tid}  (P(met) = {sens.p[t]:.3f}{basis})")
        if not np.isfinite(ix.variance[t]) or ix.variance[t] == 0:
            lines.append("  P(met) is 0 or 1 in these draws: no uncertainty to share out")
            continue
        rare = rare_side(sens, t)
        if rare is not None:
            side = "meet" if sens.p[t] < 0.5 else "miss"
            need = int(np.ceil(MIN_RARE / min(sens.p[t], 1 - sens.p[t]) / 2))
            lines.append(f"  only {rare} of {2 * sens.draws:,} draws {side} the target: too few to "
                         f"share out the uncertainty (the indices would be Monte Carlo noise); "
                         f"about --draws {plain(need)} would give {MIN_RARE}")
            continue
        lines.append("  shares ± bootstrap SE; an estimate below 0 by Monte Carlo error shows as ~0")
        lines.append("  " + "; ".join(f"{one}: {meaning}" for one, _, meaning in KIND_WORDS.values()))
        lines.append(f"  {'source':58s} {'alone (first order)':>26s}  {'with interactions (total)':>26s}")
        pooled = [g for g, name in enumerate(ix.groups) if name.endswith(":all")]
        fine = sorted((g for g, name in enumerate(ix.groups)
                       if not name.endswith(":all") and (ix.total[g, t] != 0 or ix.first[g, t] != 0)),
                      key=lambda g: -np.nan_to_num(ix.total[g, t]))[:top]
        for g in pooled + fine:
            lines.append(f"  {group_label(ix.groups[g]):58s} "
                         f"{shown(ix.first[g, t], ix.first_se[g, t]):>26s}  "
                         f"{shown(ix.total[g, t], ix.total_se[g, t]):>26s}")
        if np.any(ix.first[:, t] > 1) or np.any(ix.total[:, t] > 1):
            lines.append(f"  note: {ABOVE_100}")
        single = [g for g, name in enumerate(ix.groups) if not name.endswith(":all")]
        if np.nansum(np.clip(ix.total[single, t], 0, 1)) > 1:
            lines.append(f"  note: {INTERACTIONS}")
    return lines
