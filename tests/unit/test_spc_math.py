"""SPC arithmetic (issue 18, app/services/quality/spc_math.py) against reference computations: the
published constants recomputed from their definitions, limits and capability on data sets worked out by
hand, and each Nelson run rule against an independent zone-based implementation on seeded random series
(including drifting ones), whole-history and incremental evaluation alike."""
from __future__ import annotations

import math
import random

import pytest

from app.services.quality import spc_math as spc


# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------

def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _d2(n: int) -> float:
    """E[range of n standard normal values] = ∫ 1 − Φ(x)ⁿ − (1 − Φ(x))ⁿ dx (Simpson's rule on ±10)."""
    steps, lo, hi = 4000, -10.0, 10.0
    h = (hi - lo) / steps
    f = [1 - _phi(lo + i * h) ** n - (1 - _phi(lo + i * h)) ** n for i in range(steps + 1)]
    return h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))


def _c4(n: int) -> float:
    return math.sqrt(2 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


@pytest.mark.parametrize("n", range(spc.MIN_SUBGROUP, spc.MAX_SUBGROUP + 1))
def test_every_constant_agrees_with_its_definition(n):
    c = spc.constants(n)
    d2, c4 = _d2(n), _c4(n)
    assert c.d2 == pytest.approx(d2, abs=6e-4)
    assert c.c4 == pytest.approx(c4, abs=6e-5)
    assert c.A2 == pytest.approx(3 / (d2 * math.sqrt(n)), abs=1.5e-3)
    assert c.D3 == pytest.approx(max(0.0, 1 - 3 * c.d3 / d2), abs=3e-3)
    assert c.D4 == pytest.approx(1 + 3 * c.d3 / d2, abs=3e-3)
    assert c.A3 == pytest.approx(3 / (c4 * math.sqrt(n)), abs=1.5e-3)
    spread = 3 * math.sqrt(1 - c4 ** 2) / c4
    assert c.B3 == pytest.approx(max(0.0, 1 - spread), abs=1.5e-3)
    assert c.B4 == pytest.approx(1 + spread, abs=1.5e-3)


def test_the_textbook_rows():
    """Rows as printed in Montgomery's appendix VI (n = 2, 5, 10)."""
    assert spc.constants(2) == spc.Constants(2, 1.128, 0.853, 1.880, 0.0, 3.267, 0.7979, 2.659, 0.0, 3.267)
    five = spc.constants(5)
    assert (five.A2, five.D3, five.D4, five.d2, five.A3, five.B3, five.B4, five.c4) == \
        (0.577, 0.0, 2.114, 2.326, 1.427, 0.0, 2.089, 0.9400)
    ten = spc.constants(10)
    assert (ten.A2, ten.D3, ten.D4, ten.d2, ten.A3, ten.B3, ten.B4, ten.c4) == \
        (0.308, 0.223, 1.777, 3.078, 0.975, 0.284, 1.716, 0.9727)


@pytest.mark.parametrize("n", [0, 1, 26])
def test_a_subgroup_size_outside_the_table_is_refused(n):
    with pytest.raises(ValueError, match="subgroup size"):
        spc.constants(n)


# ---------------------------------------------------------------------------------------------
# Limits, worked by hand
# ---------------------------------------------------------------------------------------------

def test_individuals_and_moving_range_limits():
    values = [10, 12, 11, 13, 12]            # mean 11.6; moving ranges 2, 1, 2, 1 → MR̄ 1.5
    lim = spc.limits("IMR", values)
    sigma = 1.5 / 1.128
    assert (lim.center, lim.dispersion_center, lim.points) == (pytest.approx(11.6), pytest.approx(1.5), 5)
    assert lim.sigma == lim.sigma_within == pytest.approx(sigma)
    assert (lim.lcl, lim.ucl) == (pytest.approx(11.6 - 3 * sigma), pytest.approx(11.6 + 3 * sigma))
    assert lim.ucl == pytest.approx(11.6 + 2.66 * 1.5, abs=1e-3)   # the E2 = 2.66 of the I chart
    assert (lim.dispersion_lcl, lim.dispersion_ucl) == (0.0, pytest.approx(3.267 * 1.5))
    assert spc.plotted("IMR", values) == (values, [2, 1, 2, 1])


GROUPS = [1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 3, 4, 5, 6, 7]  # n = 5: means 3, 4, 5; ranges 4; s = √2.5


def test_xbar_r_limits():
    lim = spc.limits("XBAR_R", GROUPS, 5)
    assert (lim.center, lim.dispersion_center, lim.points) == (pytest.approx(4.0), pytest.approx(4.0), 3)
    assert (lim.lcl, lim.ucl) == (pytest.approx(4 - 0.577 * 4), pytest.approx(4 + 0.577 * 4))
    assert (lim.dispersion_lcl, lim.dispersion_ucl) == (0.0, pytest.approx(2.114 * 4))
    assert lim.sigma_within == pytest.approx(4 / 2.326)
    assert lim.sigma == pytest.approx(4 / 2.326 / math.sqrt(5))
    assert spc.plotted("XBAR_R", GROUPS + [9, 9], 5) == ([3, 4, 5], [4, 4, 4])  # the incomplete subgroup waits


def test_xbar_s_limits():
    s = math.sqrt(2.5)
    lim = spc.limits("XBAR_S", GROUPS, 5)
    assert lim.dispersion_center == pytest.approx(s)
    assert (lim.lcl, lim.ucl) == (pytest.approx(4 - 1.427 * s), pytest.approx(4 + 1.427 * s))
    assert (lim.dispersion_lcl, lim.dispersion_ucl) == (0.0, pytest.approx(2.089 * s))
    assert lim.sigma_within == pytest.approx(s / 0.94)


@pytest.mark.parametrize("chart,values,size", [("IMR", [5], 1), ("XBAR_R", [1, 2, 3, 4, 5], 5),
                                               ("XBAR_S", [1, 2, 3], 2), ("P", [1, 2, 3, 4], 2)])
def test_a_baseline_too_short_or_an_unknown_chart_is_refused(chart, values, size):
    with pytest.raises(ValueError):
        spc.limits(chart, values, size)


# ---------------------------------------------------------------------------------------------
# Capability, worked by hand
# ---------------------------------------------------------------------------------------------

def test_capability_centred_off_centre_and_one_sided():
    values = [9, 10, 11]                      # mean 10, sample sigma 1
    both = spc.capability(values, 0.8, 7, 13)
    assert (both.mean, both.sigma_overall) == (10, 1)
    assert (both.cp, both.cpk, both.pp, both.ppk) == (pytest.approx(1.25), pytest.approx(1.25), 1.0, 1.0)
    off = spc.capability(values, 0.8, 8, 13)
    assert (off.cp, off.cpk) == (pytest.approx(5 / 4.8), pytest.approx(2 / 2.4))
    assert (off.pp, off.ppk) == (pytest.approx(5 / 6), pytest.approx(2 / 3))
    upper = spc.capability(values, 0.8, None, 13)
    assert (upper.cp, upper.cpk, upper.pp, upper.ppk) == (None, pytest.approx(1.25), None, 1.0)
    lower = spc.capability(values, 0.8, 8.5, None)
    assert (lower.cp, lower.cpk) == (None, pytest.approx(1.5 / 2.4))
    none = spc.capability(values, 0.8, None, None)
    assert (none.cp, none.cpk, none.pp, none.ppk) == (None, None, None, None)


# ---------------------------------------------------------------------------------------------
# Run rules: crafted patterns, then an independent reference on random series
# ---------------------------------------------------------------------------------------------

C, S = 0.0, 1.0  # centre line and sigma of the crafted series

PATTERNS = {  # rule: (series, index of the point that completes the pattern)
    1: ([0.5, -0.2, 3.2], 2),
    2: ([-0.5] + [0.3] * 9, 9),
    3: ([0.0, -0.5, -0.4, -0.3, -0.2, -0.1, 0.0], 6),
    4: ([0.1 if i % 2 else -0.1 for i in range(14)], 13),
    5: ([0.0, 2.5, 0.5, 2.2], 3),
    6: ([1.5, 1.2, -0.5, 1.1, 1.3], 4),
    7: ([0.5 * (-1) ** i for i in range(15)], 14),
    8: ([1.5 * (-1) ** i for i in range(8)], 7),
}


@pytest.mark.parametrize("rule", sorted(PATTERNS))
def test_each_rule_fires_at_the_point_that_completes_its_pattern(rule):
    series, at = PATTERNS[rule]
    hits = [i for i, r in spc.evaluate(series, C, S, [rule]) if r == rule]
    assert hits and hits[0] == at, hits
    assert spc.fired_at_last(series[:at + 1], C, S, [rule]) == [rule]
    assert rule not in spc.fired_at_last(series[:at], C, S, [rule])


def test_near_misses_do_not_fire():
    assert spc.evaluate([0.3] * 8, C, S, [2]) == []                        # eight, not nine
    assert spc.evaluate([0.3] * 8, C, S, [2], same_side_run=8) != []       # Western Electric's eight
    assert spc.evaluate([0, 0.1, 0.2, 0.3, 0.4], C, S, [3]) == []           # five rising
    assert spc.evaluate([2.5, 0.5, -2.5], C, S, [5]) == []                  # 2σ on opposite sides
    assert spc.evaluate([1.5, 1.5, 1.5, 0.5, -0.5], C, S, [6]) == []       # three of five
    assert spc.evaluate([3.0], C, S, [1]) == []                             # on the limit is not beyond it
    assert spc.evaluate([1.5] * 8, C, S, [8]) == []                         # beyond 1σ but one side only


def test_only_enabled_rules_fire():
    series, _ = PATTERNS[1]
    assert spc.evaluate(series, C, S, [2, 3]) == []
    with pytest.raises(ValueError):
        spc.evaluate(series, C, S, [9])


def _zone(x: float, center: float, sigma: float) -> int:
    """+1…+4 above (C, B, A, beyond), −1…−4 below; the reference's own reading of the zones."""
    d = (x - center) / sigma
    z = 1 if abs(d) < 1 else 2 if abs(d) < 2 else 3 if abs(d) <= 3 else 4
    return z if d >= 0 else -z


def _reference(points, center, sigma, rules, run=9):
    """Nelson's rules written out from their wording, point by point (no code shared with spc_math)."""
    hits = []
    for i in range(len(points)):
        zones = [_zone(x, center, sigma) for x in points[:i + 1]]
        def last(k, i=i):
            return points[i + 1 - k:i + 1] if i + 1 >= k else None
        for rule in rules:
            if rule == 1:
                ok = abs(zones[i]) == 4
            elif rule == 2:
                w = last(run)
                ok = w is not None and (all(x > center for x in w) or all(x < center for x in w))
            elif rule == 3:
                w = last(6)
                ok = w is not None and (all(w[k] < w[k + 1] for k in range(5)) or all(w[k] > w[k + 1] for k in range(5)))
            elif rule == 4:
                w = last(14)
                ok = w is not None and all((w[k + 1] - w[k]) * (w[k + 2] - w[k + 1]) < 0 for k in range(12))
            elif rule == 5:
                w = zones[i - 2:i + 1] if i >= 2 else zones[:i + 1]
                ok = len(w) == 3 and abs(zones[i]) >= 3 and sum(1 for z in w if z >= 3) >= 2 if zones[i] > 0 else \
                    len(w) == 3 and abs(zones[i]) >= 3 and sum(1 for z in w if z <= -3) >= 2
            elif rule == 6:
                w = zones[i - 4:i + 1] if i >= 4 else []
                ok = len(w) == 5 and abs(zones[i]) >= 2 and (
                    sum(1 for z in w if z >= 2) >= 4 if zones[i] > 0 else sum(1 for z in w if z <= -2) >= 4)
            elif rule == 7:
                w = zones[i - 14:i + 1] if i >= 14 else []
                ok = len(w) == 15 and all(abs(z) == 1 for z in w)
            else:
                w = zones[i - 7:i + 1] if i >= 7 else []
                ok = len(w) == 8 and all(abs(z) >= 2 for z in w) and any(z > 0 for z in w) and any(z < 0 for z in w)
            if ok:
                hits.append((i, rule))
    return hits


@pytest.mark.parametrize("seed", range(12))
def test_the_rules_agree_with_the_reference_on_random_and_drifting_series(seed):
    rng = random.Random(seed)
    drift = 0.0 if seed % 3 == 0 else rng.choice([0.02, -0.03, 0.05])
    points = [rng.gauss(drift * i, 1.0) + (0.8 if seed % 4 == 1 and i > 40 else 0.0) for i in range(120)]
    rules = list(spc.RUN_RULES)
    expected = sorted(_reference(points, C, S, rules))
    assert sorted(spc.evaluate(points, C, S, rules)) == expected
    # a TrackOut sees only the newest point and the LONGEST_RULE_WINDOW points before it
    incremental = [(i, r) for i in range(len(points))
                   for r in spc.fired_at_last(points[max(0, i + 1 - spc.LONGEST_RULE_WINDOW):i + 1], C, S, rules)]
    assert sorted(incremental) == expected
    assert seed % 3 == 0 or expected, "a drifting series fires something"
