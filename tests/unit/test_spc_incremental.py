"""The TrackOut's incremental run-rule check (services/quality/spc_alarms.py) against the whole-series
reference (spc_math.evaluate), on seeded drifting series: every enabled rule fires at the same points,
for I-MR per value and for X̄ when a subgroup completes — reading only the last points the longest
enabled rule needs, as the TrackOut reads them from the index."""
from __future__ import annotations

import random

import pytest

from app.services.quality import spc_math
from app.services.quality.spc_alarms import longest_window, newest_points

ALL_RULES = list(range(1, 9))


def drifting(seed: int, count: int) -> list[float]:
    """A process that is stable, drifts up, oscillates, hugs the centre and shifts (centre 10, sigma 1)."""
    rng = random.Random(seed)
    values = []
    for i in range(count):
        phase = (i // 40) % 5
        if phase == 0:
            x = rng.gauss(10, 1)
        elif phase == 1 and i % 40 < 8:
            x = 9 + 0.3 * (i % 40) + rng.uniform(0, 0.05)   # a steady rise: rule 3
        elif phase == 1:
            x = rng.gauss(10 + (i % 40) * 0.08, 0.6)        # a slow drift up: rules 2, 3, 5, 6, 1
        elif phase == 2:
            x = 10 + (1.6 if i % 2 else -1.6) + rng.gauss(0, 0.1)   # alternating beyond 1 sigma: rules 4, 8
        elif phase == 3:
            x = rng.gauss(10, 0.2)                           # hugging the centre: rule 7
        else:
            x = rng.gauss(12.5, 0.5)                         # a shift: rules 1, 2, 5, 6
        values.append(x)
    return values


def drifting_values(seed: int, count: int, size: int) -> list[float]:
    """`count` plotted points of `drifting`, as individual values in subgroups of `size`: the first 40
    subgroups are the stable process (sigma 1 within), each later subgroup's mean follows the pattern in
    units of the X̄ chart's sigma (1/√size), its values spread around that mean."""
    if size == 1:
        return drifting(seed, count)
    rng, values = random.Random(seed + 1), []
    for k, z in enumerate(drifting(seed, count)):
        members = [rng.gauss(10, 1) for _ in range(size)]
        if k >= 40:
            noise = [m - sum(members) / size for m in members]
            members = [10 + (z - 10) / size ** 0.5 + e for e in noise]
        values += members
    return values


def incremental(chart: str, size: int, values: list[float], center: float, sigma: float, rules: list[int],
                same_side_run: int) -> list[tuple[int, int]]:
    """(plotted point index, rule) as the TrackOuts raise them, one value after the other."""
    window = longest_window(rules, same_side_run) * size
    hits, series = [], []
    for seq, value in enumerate(values, start=1):
        previous = series[-(window - 1):] if window > 1 else []
        points = newest_points(chart, size, previous, seq, value)
        series.append((seq, value))
        if points is None:
            continue
        index = seq - 1 if chart == "IMR" else seq // size - 1
        hits += [(index, rule) for rule in spc_math.fired_at_last(points, center, sigma, rules, same_side_run)]
    return hits


@pytest.mark.parametrize("chart,size", [("IMR", 1), ("XBAR_R", 2), ("XBAR_S", 5)])
@pytest.mark.parametrize("same_side_run", [9, 8])
@pytest.mark.parametrize("seed", [18, 1984])
def test_incremental_alarms_equal_the_whole_series_reference(chart, size, same_side_run, seed):
    values = drifting_values(seed, 400, size)
    baseline = spc_math.limits(chart, values[:40 * size], size)
    points, _ = spc_math.plotted(chart, values, size)
    reference = spc_math.evaluate(points, baseline.center, baseline.sigma, ALL_RULES, same_side_run)
    assert {rule for _, rule in reference} == set(ALL_RULES), "the data set makes every rule fire"
    assert incremental(chart, size, values, baseline.center, baseline.sigma, ALL_RULES, same_side_run) == reference


@pytest.mark.parametrize("rules", [[1], [2], [3, 7], [4], [5, 6], [8], [1, 2, 5, 6]])
def test_a_subset_of_rules_reads_only_its_longest_window(rules):
    values = drifting(7, 400)
    baseline = spc_math.limits("IMR", values[:40])
    reference = spc_math.evaluate(values, baseline.center, baseline.sigma, rules, 9)
    assert incremental("IMR", 1, values, baseline.center, baseline.sigma, rules, 9) == reference
    assert longest_window(rules, 9) == max(spc_math.rule_window(r, 9) for r in rules)


def test_an_xbar_subgroup_is_judged_once_it_is_complete_and_keeps_its_values():
    assert newest_points("XBAR_R", 3, [(1, 1.0)], 2, 2.0) is None            # 2 of 3: waits
    assert newest_points("XBAR_R", 3, [(1, 1.0), (2, 2.0)], 3, 6.0) == [3.0]
    # a subgroup left incomplete (the chart changed) is skipped, the later ones keep their numbering
    assert newest_points("XBAR_R", 2, [(2, 5.0), (3, 1.0)], 4, 3.0) == [2.0]


def test_the_chart_groups_numbered_values_as_the_trackout_judged_them_across_a_gap():
    """Values stored while the chart was not armed have no number; numbering then resumes, so one X̄ subgroup
    (n=5: numbers 6-10) can hold values from before and after such a gap. The chart groups it as the TrackOut
    did (spc._subgroups), not into two incomplete halves."""
    from types import SimpleNamespace

    from app.services.quality.spc import _subgroups

    def rows(*seqs):
        return [SimpleNamespace(spc_seq=seq, n=i) for i, seq in enumerate(seqs)]

    series = rows(1, 2, 3, 4, 5, 6, 7, None, None, None, None, None, 8, 9, 10, 11)
    groups = _subgroups(series, 5)
    assert [[r.spc_seq for r in g] for g in groups] == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [None] * 5]
    assert [[r.spc_seq for r in g] for g in _subgroups(rows(None, None, 1, 2), 2)] == [[None, None], [1, 2]]
