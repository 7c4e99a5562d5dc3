"""Statistical process control: the arithmetic, without the database (issue 18).

Control charts for numeric data-collection specs — individuals / moving range (I-MR), X̄-R and X̄-S with a
subgroup size of 2 to 25 — their control limits from a baseline, the capability indices Cp, Cpk, Pp, Ppk
against the spec's LSL/USL, and the eight Nelson run rules (Western Electric's four are rules 1, 2, 5 and 6,
rule 2 with 8 points instead of 9 when the engineer picks the Western Electric form).

Conventions (Montgomery, "Introduction to Statistical Quality Control", and the NIST/SEMATECH e-Handbook,
section 6.3):
- Within-subgroup sigma (the charts' limits, Cp, Cpk): R̄/d2(n) for X̄-R, S̄/c4(n) for X̄-S, MR̄/d2(2) for
  I-MR (moving ranges of two consecutive individuals).
- Overall sigma (Pp, Ppk): the sample standard deviation of all individual values (n − 1).
- Cp = (USL − LSL) / 6σ; Cpk = min(USL − μ, μ − LSL) / 3σ; with one limit only, Cpk is that side's
  index (CPU or CPL) and Cp is undefined (None). The same with the overall sigma gives Pp and Ppk.
- The constants are the published table values (ASTM STP 15D / Montgomery appendix VI), to three
  decimals, four for c4; tests/unit/test_spc_math.py recomputes every one of them from d2, d3 and c4
  (c4 from the gamma function, d2 by numerical integration of the range distribution) to catch a typo.
- Run rules work on a chart's plotted points (the individuals, or the subgroup means) against its centre
  line and sigma of the plotted statistic (σ/√n for X̄). A rule "fires at" the point that completes its
  pattern, so evaluating only the newest point with the last `LONGEST_RULE_WINDOW` points before it gives
  the same alarms as evaluating the whole history: that is how a TrackOut evaluates incrementally.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import fmean, stdev
from typing import Iterable, Optional, Sequence

from ..platform.messages import M

# ---------------------------------------------------------------------------------------------
# Constants for control charts, n = 2 … 25 (published table values)
# ---------------------------------------------------------------------------------------------

MIN_SUBGROUP, MAX_SUBGROUP = 2, 25

# n: (d2, d3, A2, D3, D4, c4, A3, B3, B4)
CONSTANTS: dict[int, tuple[float, ...]] = {
    2: (1.128, 0.853, 1.880, 0.000, 3.267, 0.7979, 2.659, 0.000, 3.267),
    3: (1.693, 0.888, 1.023, 0.000, 2.574, 0.8862, 1.954, 0.000, 2.568),
    4: (2.059, 0.880, 0.729, 0.000, 2.282, 0.9213, 1.628, 0.000, 2.266),
    5: (2.326, 0.864, 0.577, 0.000, 2.114, 0.9400, 1.427, 0.000, 2.089),
    6: (2.534, 0.848, 0.483, 0.000, 2.004, 0.9515, 1.287, 0.030, 1.970),
    7: (2.704, 0.833, 0.419, 0.076, 1.924, 0.9594, 1.182, 0.118, 1.882),
    8: (2.847, 0.820, 0.373, 0.136, 1.864, 0.9650, 1.099, 0.185, 1.815),
    9: (2.970, 0.808, 0.337, 0.184, 1.816, 0.9693, 1.032, 0.239, 1.761),
    10: (3.078, 0.797, 0.308, 0.223, 1.777, 0.9727, 0.975, 0.284, 1.716),
    11: (3.173, 0.787, 0.285, 0.256, 1.744, 0.9754, 0.927, 0.321, 1.679),
    12: (3.258, 0.778, 0.266, 0.283, 1.717, 0.9776, 0.886, 0.354, 1.646),
    13: (3.336, 0.770, 0.249, 0.307, 1.693, 0.9794, 0.850, 0.382, 1.618),
    14: (3.407, 0.763, 0.235, 0.328, 1.672, 0.9810, 0.817, 0.406, 1.594),
    15: (3.472, 0.756, 0.223, 0.347, 1.653, 0.9823, 0.789, 0.428, 1.572),
    16: (3.532, 0.750, 0.212, 0.363, 1.637, 0.9835, 0.763, 0.448, 1.552),
    17: (3.588, 0.744, 0.203, 0.378, 1.622, 0.9845, 0.739, 0.466, 1.534),
    18: (3.640, 0.739, 0.194, 0.391, 1.608, 0.9854, 0.718, 0.482, 1.518),
    19: (3.689, 0.734, 0.187, 0.403, 1.597, 0.9862, 0.698, 0.497, 1.503),
    20: (3.735, 0.729, 0.180, 0.415, 1.585, 0.9869, 0.680, 0.510, 1.490),
    21: (3.778, 0.724, 0.173, 0.425, 1.575, 0.9876, 0.663, 0.523, 1.477),
    22: (3.819, 0.720, 0.167, 0.434, 1.566, 0.9882, 0.647, 0.534, 1.466),
    23: (3.858, 0.716, 0.162, 0.443, 1.557, 0.9887, 0.633, 0.545, 1.455),
    24: (3.895, 0.712, 0.157, 0.451, 1.548, 0.9892, 0.619, 0.555, 1.445),
    25: (3.931, 0.708, 0.153, 0.459, 1.541, 0.9896, 0.606, 0.565, 1.435),
}


@dataclass(frozen=True)
class Constants:
    n: int
    d2: float
    d3: float
    A2: float
    D3: float
    D4: float
    c4: float
    A3: float
    B3: float
    B4: float


def constants(n: int) -> Constants:
    """The control-chart constants for subgroups of `n` (2 … 25)."""
    if n not in CONSTANTS:
        raise ValueError(f"subgroup size must be {MIN_SUBGROUP}…{MAX_SUBGROUP}, got {n}")
    return Constants(n, *CONSTANTS[n])


# ---------------------------------------------------------------------------------------------
# Control limits
# ---------------------------------------------------------------------------------------------

CHART_TYPES = ("IMR", "XBAR_R", "XBAR_S")


@dataclass(frozen=True)
class Limits:
    """A chart's limits: the plotted statistic's centre, LCL, UCL and sigma (for the run rules' zones),
    the dispersion chart's (MR, R or S) centre and limits, and the within-subgroup sigma of the process."""
    chart: str
    subgroup_size: int
    center: float
    lcl: float
    ucl: float
    sigma: float            # sigma of the plotted statistic (σ_within, or σ_within / √n for X̄)
    dispersion_center: float
    dispersion_lcl: float
    dispersion_ucl: float
    sigma_within: float
    points: int             # baseline points (individuals, or subgroups) the limits come from


def subgroups(values: Sequence[float], n: int) -> list[list[float]]:
    """Consecutive subgroups of n values, in order; an incomplete last subgroup is left out."""
    return [list(values[i:i + n]) for i in range(0, len(values) - n + 1, n)]


def moving_ranges(values: Sequence[float]) -> list[float]:
    return [abs(b - a) for a, b in zip(values, values[1:])]


def limits(chart: str, values: Sequence[float], subgroup_size: int = 1) -> Limits:
    """Control limits of `chart` from the baseline `values` (individual values, in time order)."""
    if chart == "IMR":
        if len(values) < 2:
            raise ValueError("an I-MR baseline needs at least 2 values")
        c = constants(2)
        mr_bar = fmean(moving_ranges(values))
        center, sigma = fmean(values), mr_bar / c.d2
        return Limits(chart, 1, center, center - 3 * sigma, center + 3 * sigma, sigma,
                      mr_bar, c.D3 * mr_bar, c.D4 * mr_bar, sigma, len(values))
    if chart not in CHART_TYPES:
        raise ValueError(f"chart must be one of {', '.join(CHART_TYPES)}, got {chart}")
    c = constants(subgroup_size)
    groups = subgroups(values, subgroup_size)
    if len(groups) < 2:
        raise ValueError(f"an {chart} baseline needs at least 2 subgroups of {subgroup_size}")
    center = fmean(fmean(g) for g in groups)
    if chart == "XBAR_R":
        r_bar = fmean(max(g) - min(g) for g in groups)
        within = r_bar / c.d2
        return Limits(chart, subgroup_size, center, center - c.A2 * r_bar, center + c.A2 * r_bar,
                      within / math.sqrt(subgroup_size), r_bar, c.D3 * r_bar, c.D4 * r_bar, within, len(groups))
    s_bar = fmean(stdev(g) for g in groups)
    within = s_bar / c.c4
    return Limits(chart, subgroup_size, center, center - c.A3 * s_bar, center + c.A3 * s_bar,
                  within / math.sqrt(subgroup_size), s_bar, c.B3 * s_bar, c.B4 * s_bar, within, len(groups))


def plotted(chart: str, values: Sequence[float], subgroup_size: int = 1) -> tuple[list[float], list[float]]:
    """The chart's points and its dispersion points: individuals and moving ranges (the first has none:
    the list is one shorter), or subgroup means and ranges / standard deviations."""
    if chart == "IMR":
        return list(values), moving_ranges(values)
    groups = subgroups(values, subgroup_size)
    spread = [max(g) - min(g) for g in groups] if chart == "XBAR_R" else [stdev(g) for g in groups]
    return [fmean(g) for g in groups], spread


# ---------------------------------------------------------------------------------------------
# Capability
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Capability:
    mean: float
    sigma_within: float
    sigma_overall: float
    cp: Optional[float]
    cpk: Optional[float]
    pp: Optional[float]
    ppk: Optional[float]


def _indices(mean: float, sigma: float, lsl: Optional[float], usl: Optional[float]) -> tuple[Optional[float], Optional[float]]:
    if sigma <= 0 or (lsl is None and usl is None):
        return None, None
    spread = (usl - lsl) / (6 * sigma) if lsl is not None and usl is not None else None
    sides = [(usl - mean) / (3 * sigma)] if usl is not None else []
    sides += [(mean - lsl) / (3 * sigma)] if lsl is not None else []
    return spread, min(sides)


def capability(values: Sequence[float], sigma_within: float, lsl: Optional[float],
               usl: Optional[float]) -> Capability:
    """Cp/Cpk with the chart's within-subgroup sigma, Pp/Ppk with the overall sample sigma."""
    if len(values) < 2:
        raise ValueError("capability needs at least 2 values")
    mean, overall = fmean(values), stdev(values)
    cp, cpk = _indices(mean, sigma_within, lsl, usl)
    pp, ppk = _indices(mean, overall, lsl, usl)
    return Capability(mean, sigma_within, overall, cp, cpk, pp, ppk)


# ---------------------------------------------------------------------------------------------
# Run rules (Nelson 1984; Western Electric 1956)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunRule:
    number: int
    window: int
    text: str  # a Message: the rule's name in the reader's language on the API (the catalogue's msgid)


RUN_RULES: dict[int, RunRule] = {
    1: RunRule(1, 1, M("One point beyond 3 sigma")),
    2: RunRule(2, 9, M("Nine points in a row on one side of the centre line")),
    3: RunRule(3, 6, M("Six points in a row steadily increasing or decreasing")),
    4: RunRule(4, 14, M("Fourteen points in a row alternating up and down")),
    5: RunRule(5, 3, M("Two of three points beyond 2 sigma on the same side")),
    6: RunRule(6, 5, M("Four of five points beyond 1 sigma on the same side")),
    7: RunRule(7, 15, M("Fifteen points in a row within 1 sigma of the centre line")),
    8: RunRule(8, 8, M("Eight points in a row beyond 1 sigma, on either side")),
}
WESTERN_ELECTRIC = (1, 2, 5, 6)  # with rule 2 at 8 points (`same_side_run=8`)
LONGEST_RULE_WINDOW = max(rule.window for rule in RUN_RULES.values())


def _same_side(window: Sequence[float], center: float, beyond: float) -> bool:
    """Every point of the window beyond `beyond` sigma-distance on one side (distance in points' units)."""
    return all(x - center > beyond for x in window) or all(center - x > beyond for x in window)


def _fires(rule: int, window: Sequence[float], center: float, sigma: float) -> bool:
    """Whether the pattern of `rule` is complete in `window` (the rule's window, ending at the new point)."""
    last = window[-1]
    if rule == 1:
        return abs(last - center) > 3 * sigma
    if rule == 2:
        return _same_side(window, center, 0.0)
    if rule == 3:
        steps = [b - a for a, b in zip(window, window[1:])]
        return all(s > 0 for s in steps) or all(s < 0 for s in steps)
    if rule == 4:
        steps = [b - a for a, b in zip(window, window[1:])]
        return all(s != 0 for s in steps) and all((a > 0) != (b > 0) for a, b in zip(steps, steps[1:]))
    if rule in (5, 6):
        zone, need = (2 * sigma, 2) if rule == 5 else (sigma, 4)
        # the new point is one of the pattern's points (it completes it), on the side the others are
        for sign in (1, -1):
            if sign * (last - center) > zone and sum(1 for x in window if sign * (x - center) > zone) >= need:
                return True
        return False
    if rule == 7:
        return all(abs(x - center) < sigma for x in window)
    if rule == 8:
        return all(abs(x - center) > sigma for x in window) and not _same_side(window, center, sigma)
    raise ValueError(f"no run rule {rule}")


def rule_window(rule: int, same_side_run: int = 9) -> int:
    if rule not in RUN_RULES:
        raise ValueError(f"no run rule {rule} (Nelson's rules are 1…8)")
    return same_side_run if rule == 2 else RUN_RULES[rule].window


def fired_at_last(points: Sequence[float], center: float, sigma: float, rules: Iterable[int],
                  same_side_run: int = 9) -> list[int]:
    """The enabled rules whose pattern the LAST point completes. `points` needs only the last
    LONGEST_RULE_WINDOW of the chart's points (more are ignored): the incremental check of a TrackOut."""
    fired = []
    for rule in sorted(set(rules)):
        size = rule_window(rule, same_side_run)
        if len(points) >= size and _fires(rule, points[-size:], center, sigma):
            fired.append(rule)
    return fired


def evaluate(points: Sequence[float], center: float, sigma: float, rules: Iterable[int],
             same_side_run: int = 9) -> list[tuple[int, int]]:
    """Every (point index, rule) where an enabled rule fires, over a whole chart."""
    rules = sorted(set(rules))
    hits = []
    for i in range(len(points)):
        window = points[max(0, i + 1 - max(LONGEST_RULE_WINDOW, same_side_run)):i + 1]
        hits += [(i, rule) for rule in fired_at_last(window, center, sigma, rules, same_side_run)]
    return hits
