"""Plateau selection: the centre of a broad high region beats a lone spike."""

from __future__ import annotations

import pytest

from tsys.research.plateau import TrialPoint, coordinates, select_plateau

SPACE = {"x": {"kind": "float", "low": 0.0, "high": 1.0, "log": False, "step": None}}


def _points(pairs, feasible=None):
    feasible = feasible or {}
    return [TrialPoint(i, {"x": x}, v, feasible.get(i, True)) for i, (x, v) in enumerate(pairs)]


def test_centre_of_plateau_beats_a_spike():
    pts = _points(
        [
            (0.20, 0.9), (0.25, 1.0), (0.30, 1.1), (0.35, 1.0), (0.40, 0.9),  # a plateau
            (0.85, 0.0), (0.90, 2.0), (0.95, 0.0),  # a spike: best single trial
        ]
    )  # fmt: skip
    got = select_plateau(pts, SPACE, k=3)
    assert got.best.number == 6  # the spike is the single best trial ...
    assert got.chosen.number == 2  # ... but the plateau's centre is chosen
    assert got.score == pytest.approx((1.1 + 1.0 + 1.0) / 3)
    assert set(got.neighbours) == {1, 2, 3}


def test_infeasible_neighbours_count_as_the_worst_feasible_value():
    pts = _points(
        [(0.10, 1.0), (0.12, 1.0), (0.14, 1.0), (0.60, 1.2), (0.62, 5.0), (0.64, 5.0)],
        feasible={4: False, 5: False},  # high scores that break a constraint
    )
    got = select_plateau(pts, SPACE, k=3)
    # trial 3 (1.2) sits among infeasible trials, valued at the worst feasible 1.0: mean 1.067;
    # trial 1 among feasible 1.0s: mean 1.0. Trial 3 still wins, but never 4 or 5.
    assert got.chosen.number == 3
    assert got.score == pytest.approx((1.2 + 1.0 + 1.0) / 3)
    assert got.best.number == 3


def test_no_feasible_trial_means_no_choice():
    pts = _points([(0.1, 1.0), (0.2, 2.0)], feasible={0: False, 1: False})
    assert select_plateau(pts, SPACE) is None


def test_default_k_and_a_single_trial():
    got = select_plateau(_points([(0.5, 0.3)]), SPACE)
    assert got.k == 1 and got.chosen.number == 0 and got.score == pytest.approx(0.3)
    many = select_plateau(_points([(i / 20, float(i % 3)) for i in range(20)]), SPACE)
    assert many.k == 4  # round(sqrt(20))


def test_coordinates_scale_ranges_logs_and_categories():
    space = {
        "n": {"kind": "int", "low": 10, "high": 30, "log": False, "step": None},
        "lr": {"kind": "float", "low": 0.001, "high": 0.1, "log": True, "step": None},
        "mode": {"kind": "categorical", "choices": ("a", "b")},
    }
    xy = coordinates(
        [{"n": 10, "lr": 0.001, "mode": "a"}, {"n": 30, "lr": 0.01, "mode": "b"}], space
    )
    assert xy[0, 0] == 0.0 and xy[1, 0] == 1.0
    assert xy[1, 1] == pytest.approx(0.5)  # 0.01 is half way between 0.001 and 0.1 on a log scale
    d = ((xy[0, 2:] - xy[1, 2:]) ** 2).sum() ** 0.5
    assert d == pytest.approx(1.0)  # two different choices are one unit apart
