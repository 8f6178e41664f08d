"""Rank confidence sets (Mogstad, Romano, Shaikh and Wilhelm 2024) against cases whose answer is
known, and against the percentile interval they replace on a small Monte Carlo (numpy only)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ippmd.models.inference import point_rank, rank_interval, rank_sets, seeded_rng
from ippmd.reporting.narrative import ordinal, rank_set_words

N = 6


def test_well_separated_effects_have_one_rank_in_either_direction() -> None:
    estimates = np.array([0.30, 0.10, -0.25, 0.05, 0.00, 0.60])
    precise = np.full(estimates.size, 0.001)
    for sign in (1.0, -1.0):
        sets = rank_sets(estimates, precise, np.eye(6), sign, 0.95, 2000, seeded_rng(1, "separated"))
        expected = [point_rank(estimates, j, sign) for j in range(6)]
        assert sets.rank.tolist() == expected
        for bound in ("marginal_low", "marginal_high", "simultaneous_low", "simultaneous_high"):
            assert getattr(sets, bound).tolist() == expected, (sign, bound)
    assert point_rank(estimates, 2, -1.0) == 1 and point_rank(estimates, 5, 1.0) == 1


def test_identical_effects_leave_every_rank_possible() -> None:
    sets = rank_sets(np.full(N, 0.2), np.full(N, 0.05), np.eye(N), 1.0, 0.95, 2000, seeded_rng(1, "tied"))
    for low in (sets.marginal_low, sets.simultaneous_low):
        assert low.tolist() == [1] * N
    for high in (sets.marginal_high, sets.simultaneous_high):
        assert high.tolist() == [N] * N


def test_two_countries_are_told_apart_beyond_the_normal_quantile() -> None:
    """With two independent estimates the max over both orientations of (Z_a - Z_b)/sd is |N(0, 1)|,
    so the 95% critical value is 1.96: a difference of 2.05 standard deviations orders them, 1.85
    does not (for the marginal and the simultaneous sets alike)."""
    se = np.array([0.1, 0.1])
    sd = math.sqrt(2) * 0.1
    for gap, expected in ((2.05, ([1, 2], [1, 2])), (1.85, ([1, 1], [2, 2]))):
        sets = rank_sets(np.array([gap * sd, 0.0]), se, np.eye(2), 1.0, 0.95, 200_000, seeded_rng(3, "two"))
        assert (sets.marginal_low.tolist(), sets.marginal_high.tolist()) == expected, gap
        assert (sets.simultaneous_low.tolist(), sets.simultaneous_high.tolist()) == expected, gap


def test_an_estimate_without_information_can_take_any_rank() -> None:
    estimates = np.array([0.30, 0.10, -0.25, 0.05, 0.00])
    ses = np.array([0.001, math.inf, 0.001, 0.001, 0.001])
    sets = rank_sets(estimates, ses, np.eye(5), 1.0, 0.95, 2000, seeded_rng(2, "unbounded"))
    assert (sets.marginal_low[1], sets.marginal_high[1]) == (1, 5)
    assert (sets.simultaneous_low[1], sets.simultaneous_high[1]) == (1, 5)
    # the others are ordered among themselves; the unknown one may sit above or below each
    assert sets.marginal_low.tolist() == [1, 1, 4, 2, 3]
    assert sets.marginal_high.tolist() == [2, 5, 5, 3, 4]


def test_the_same_key_gives_the_same_sets() -> None:
    estimates = np.array([0.30, 0.25, 0.2, 0.05, 0.00])
    args = (estimates, np.full(5, 0.05), np.eye(5), 1.0, 0.95, 1000)
    first, again = rank_sets(*args, seeded_rng(4, "k")), rank_sets(*args, seeded_rng(4, "k"))
    for bound in ("marginal_low", "marginal_high", "simultaneous_low", "simultaneous_high"):
        assert getattr(first, bound).tolist() == getattr(again, bound).tolist()


def test_the_sets_cover_where_the_percentile_interval_does_not() -> None:
    """Six countries one standard error apart end to end, the focus the largest (true rank 1):
    over 300 seeded samples the marginal set covers it at least 93% of the time (nominal 95%) and
    the simultaneous sets cover every rank at once as often; the percentile interval of the
    plug-in rank does not reach 90%."""
    rng = np.random.default_rng(2024)
    theta = np.linspace(0.0, 0.1, N)
    se, correlation, focus = np.full(N, 0.1), np.eye(N), N - 1
    truth = np.array([point_rank(theta, j, 1.0) for j in range(N)])
    reps, marginal, simultaneous, percentile = 300, 0, 0, 0
    for rep in range(reps):
        estimates = theta + rng.standard_normal(N) * se
        sets = rank_sets(estimates, se, correlation, 1.0, 0.95, 500, seeded_rng(rep, "new"))
        marginal += sets.marginal_low[focus] <= truth[focus] <= sets.marginal_high[focus]
        simultaneous += bool(((sets.simultaneous_low <= truth) & (truth <= sets.simultaneous_high)).all())
        low, high = rank_interval(estimates, se, correlation, focus, 1.0, 0.95, 500, seeded_rng(rep, "old"))
        percentile += low <= truth[focus] <= high
    assert marginal / reps >= 0.93
    assert simultaneous / reps >= 0.93
    assert percentile / reps < 0.90


def test_a_rank_set_is_worded_as_the_set_it_is() -> None:
    assert [ordinal(k) for k in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
    ]  # fmt: skip
    assert rank_set_words(3, 3) == "3rd" and rank_set_words(1, 10) == "between 1st and 10th"


def test_the_command_line_summary_shows_the_rank_sets_of_the_report_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Regression: the CLI read the summary table's rank column by its old header (KeyError, an
    'internal error' after the report was written)."""
    from ippmd.commands.benchmark import _summarize
    from ippmd.reporting.findings import summary_header

    values = [
        "plans ~ training",
        "+1.2 pp",
        "-0.5 to +2.9 pp",
        "CRV1 t(50)",
        "between 1st and 10th of 10 (x)",
    ]
    row = dict(
        zip(summary_header("KHM"), [*values, "+4.0 pp", "+4.1 pp", "p = 0.010", "p = 0.190"], strict=True)
    )
    result = {
        "summary": [row], "country_name": "Cambodia", "remittance_costs": False, "n_specs": 1, "n_charts": 1,
        "timings": {"fit": 1.0},
    }  # fmt: skip
    _summarize(result, "KHM", Path("out"), 2.0)
    said = " ".join(capsys.readouterr().err.split())  # folded at the terminal's width
    assert "rank between 1st and 10th of 10 (x); Holm p = 0.190" in said
