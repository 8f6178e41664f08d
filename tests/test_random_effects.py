"""The random-effects mean (models/inference.py `random_effects`) against R's metafor and against
the definition of REML.

Hand-made sets: heterogeneous and homogeneous (tau^2 = 0 at the boundary), k = 2 and 3, a set on
the percentage-point scale, the DerSimonian-Laird method with a normal interval and t(k - 2)
prediction, the truncated Knapp-Hartung factor, and REML that does not converge (the DL
fallback). The package's own peer effects are checked in test_models.py.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats

from ippmd.models.inference import (
    DL,
    HKSJ,
    HKSJ_TRUNCATED,
    NORMAL,
    PREDICTION_RILEY,
    MetaSettings,
    RandomEffects,
    dersimonian_laird,
    random_effects,
    reml_tau2,
    restricted_log_likelihood,
    settings,
)
from tests.r_metafor import MetaSet, metafor_available, metafor_reference

DEFAULT = settings().random_effects
KNHA = dataclasses.replace(DEFAULT, interval=HKSJ)  # metafor test = "knha": the factor not truncated
_rng = np.random.default_rng(4)
HETEROGENEOUS = (_rng.normal(0.05, 0.04, size=9).tolist(), _rng.uniform(0.01, 0.05, size=9).tolist())
HOMOGENEOUS = ([0.031, 0.046, 0.052, 0.038, 0.041], [0.02, 0.03, 0.025, 0.015, 0.04])
OSCILLATING = (
    [-0.18745, -0.10068, -0.19155, -0.19182, -0.17398, -0.22381, -0.15830, -0.15210, -0.18069],
    [0.05940, 0.03412, 0.05280, 0.07938, 0.07326, 0.05304, 0.05297, 0.04703, 0.07241],
)
SETS = [
    MetaSet("heterogeneous k=9", *HETEROGENEOUS),
    MetaSet("homogeneous k=5 (tau2 = 0)", *HOMOGENEOUS),
    MetaSet("k=2", [0.12, -0.03], [0.02, 0.03]),
    MetaSet("k=2 (tau2 = 0)", [0.05, 0.06], [0.02, 0.03]),
    MetaSet("k=3", [0.10, 0.02, -0.05], [0.03, 0.02, 0.04]),
    MetaSet("k=3 riley", [0.10, 0.02, -0.05], [0.03, 0.02, 0.04], prediction="riley"),
    MetaSet("percentage points", [6.1, 7.9, 5.2, 9.4, 6.6, 8.8], [0.4, 0.7, 0.3, 0.9, 0.5, 0.6]),
    MetaSet("DL normal riley", *HETEROGENEOUS, method="DL", interval="normal", prediction="riley"),
    MetaSet("DL HKSJ k=3", [0.10, 0.02, -0.05], [0.03, 0.02, 0.04], method="DL"),
    MetaSet("truncated factor", *HOMOGENEOUS, interval="HKSJ-truncated"),
    MetaSet("REML normal", *HETEROGENEOUS, interval="normal"),
    MetaSet("no convergence", *HETEROGENEOUS, max_iterations=1),
    # Fisher scoring oscillates between about 0.0002 and 0.0003 here (metafor's rma() stops with
    # "did not converge"); a step of 0.5 converges (the package's plans_on_school_attendance_girls
    # peers for Cambodia, rounded)
    MetaSet("oscillating", OSCILLATING[0], OSCILLATING[1]),
]


def _options(s: MetaSet) -> MetaSettings:
    return dataclasses.replace(
        DEFAULT,
        tau2=DL if s.method == "DL" else "REML",
        interval=s.interval,
        prediction=s.prediction,
        max_iterations=s.max_iterations,
    )


def _ours(s: MetaSet) -> RandomEffects:
    return random_effects(s.estimates, s.std_errors, 0.95, _options(s))


@pytest.mark.skipif(not metafor_available(), reason="R with metafor is not installed")
def test_random_effects_equal_metafor_on_hand_made_sets(tmp_path: Path) -> None:
    reference = metafor_reference(SETS, tmp_path)
    for s in SETS:
        ours, theirs = _ours(s), reference[s.name]
        for field, column in [
            ("mean", "mean"), ("std_error", "se"), ("tau2", "tau2"), ("ci_low", "ci_low"),
            ("ci_high", "ci_high"), ("prediction_low", "pi_low"), ("prediction_high", "pi_high"),
            ("q", "q"),
        ]:  # fmt: skip
            assert getattr(ours, field) == pytest.approx(theirs[column], rel=1e-6, abs=1e-9), (s.name, field)
        assert ours.method.startswith(s.label(theirs["used"], theirs["step"]) + ";"), s.name
    assert reference["no convergence"]["used"] == "DL"  # metafor fell back as well
    assert reference["oscillating"]["step"] == 0.5
    assert reference["homogeneous k=5 (tau2 = 0)"]["tau2"] < 1e-9  # the boundary is exercised
    assert reference["k=2 (tau2 = 0)"]["tau2"] < 1e-9


def test_the_method_is_named_with_its_degrees_of_freedom() -> None:
    y, se = HETEROGENEOUS
    assert random_effects(y, se, 0.95, DEFAULT).method == "REML tau2; HKSJ-truncated t(8); prediction t(8)"
    assert dersimonian_laird(y, se, 0.95).method == "DL tau2; normal interval; prediction t(7)"
    stuck = dataclasses.replace(DEFAULT, max_iterations=1)
    assert random_effects(y, se, 0.95, stuck).method == (
        "DL tau2 (REML did not converge in 1 iterations); HKSJ-truncated t(8); prediction t(8)"
    )
    assert random_effects(y, se, 0.95, stuck).tau2 == dersimonian_laird(y, se, 0.95).tau2


@pytest.mark.parametrize("scale", [1e-2, 1.0, 1e3])
def test_reml_tau2_is_the_maximum_of_the_restricted_likelihood(scale: float) -> None:
    """Independent of metafor: a bounded search of the REML log-likelihood, at three scales (the
    tolerance is relative above tau^2 = 1, so tau^2 of 1e4 or more still converges)."""
    rng = np.random.default_rng(11)
    y = rng.normal(0.0, 1.0, size=8) * scale
    v = (rng.uniform(0.2, 0.6, size=8) * scale) ** 2
    ours = reml_tau2(y, v, DEFAULT.tolerance, DEFAULT.max_iterations)
    assert ours is not None and ours > 0
    search = optimize.minimize_scalar(
        lambda t: -restricted_log_likelihood(y, v, t), bounds=(0, 10 * scale**2), method="bounded",
        options={"xatol": 1e-14 * scale**2},
    )  # fmt: skip
    assert ours == pytest.approx(search.x, rel=1e-6)
    # no better point: the likelihoods agree to rounding (the search's own tolerance is coarser)
    assert restricted_log_likelihood(y, v, ours) >= restricted_log_likelihood(y, v, search.x) - 1e-12


def test_reml_at_the_boundary_is_exactly_zero_and_the_interval_follows() -> None:
    y, se = HOMOGENEOUS
    v = np.asarray(se) ** 2
    assert reml_tau2(np.asarray(y), v, DEFAULT.tolerance, DEFAULT.max_iterations) == 0.0
    ours = random_effects(y, se, 0.95, KNHA)
    w = 1 / v
    fixed = float((w * y).sum() / w.sum())
    factor = float((w * (np.asarray(y) - fixed) ** 2).sum()) / 4
    assert factor < 1  # Knapp-Hartung narrows the interval here; metafor does not truncate it
    assert ours.mean == pytest.approx(fixed, rel=1e-12)
    assert ours.std_error == pytest.approx(math.sqrt(factor / w.sum()), rel=1e-12)
    assert ours.ci_high - ours.ci_low == pytest.approx(2 * stats.t.ppf(0.975, 4) * ours.std_error)
    truncated = random_effects(y, se, 0.95, dataclasses.replace(DEFAULT, interval=HKSJ_TRUNCATED))
    assert truncated.std_error == pytest.approx(math.sqrt(1 / w.sum()), rel=1e-12)
    # the prediction interval of a typical member with tau^2 = 0 is the interval of the mean
    assert (ours.prediction_low, ours.prediction_high) == pytest.approx((ours.ci_low, ours.ci_high))


def test_edge_cases_give_missing_intervals_not_errors() -> None:
    empty = random_effects([], [], 0.95, DEFAULT)
    assert math.isnan(empty.mean) and empty.method == "none (no peer estimates)"
    one = random_effects([0.1, 0.2], [0.02, math.inf], 0.95, DEFAULT)  # the inf SE is left out
    assert one.mean == 0.1 and one.tau2 == 0 and math.isnan(one.ci_low) and math.isnan(one.prediction_low)
    normal = random_effects([0.1], [0.02], 0.95, dataclasses.replace(DEFAULT, interval=NORMAL))
    assert normal.ci_low == pytest.approx(0.1 - stats.norm.ppf(0.975) * 0.02)
    riley_options = dataclasses.replace(DEFAULT, prediction=PREDICTION_RILEY)
    riley = random_effects([0.1, 0.2], [0.02, 0.03], 0.95, riley_options)
    assert riley.method.endswith("prediction t(1)")  # t(k - 2) is at least t(1), as in metafor
    assert HKSJ in random_effects([0.1, 0.2], [0.02, 0.03], 0.95, DEFAULT).method


def test_the_report_words_follow_the_settings() -> None:
    from ippmd.reporting.sections import random_effects_rule

    assert random_effects_rule(DEFAULT).startswith("REML tau<sup>2</sup>, or DerSimonian-Laird's where")
    assert "factor not truncated at 1; a prediction interval t(k - 1) x" in random_effects_rule(KNHA)
    old = dataclasses.replace(DEFAULT, tau2=DL, interval=NORMAL, prediction=PREDICTION_RILEY)
    assert random_effects_rule(old).startswith(
        "DerSimonian-Laird tau<sup>2</sup>; a normal interval of the mean; a prediction interval t(k - 2)"
    )
    truncated = random_effects_rule(dataclasses.replace(DEFAULT, interval=HKSJ_TRUNCATED))
    assert "Knapp-Hartung factor at least 1" in truncated
