"""Monte Carlo of the rank confidence sets: do they cover the true ranks when effects are close?

The package is built once (seed of the package, all ten countries, no expectation suites) and
each spec is fitted as `ippmd benchmark` fits it. For each spec and treatment the true country
effects are set to the estimates shrunk towards their mean, theta = mean + s (estimate - mean),
s = 1, 0.5 and 0.25 of their spread; the estimates are redrawn R times as theta + N(0, Sigma)
(Sigma: the standard errors and correlations the benchmark ranks with, `rank_inputs`), and each
draw gets, as the benchmark computes them,

* the marginal and simultaneous 95% rank confidence sets of Mogstad, Romano, Shaikh and Wilhelm
  (2024) (`ippmd.models.inference.rank_sets`), and
* the old percentile interval of the plug-in rank (`rank_interval`), for every country.

It prints a Markdown table: per spec, treatment and shrinkage, how often the focus's set contains
its true rank (marginal, and the old interval), the least coverage over all countries (marginal,
and the old interval), how often the simultaneous sets contain every country's true rank at once,
and the mean sizes of the focus's sets. A rate's Monte Carlo SE is sqrt(rate (1 - rate) / R),
about 0.007 for 95% at R = 1000.

    .venv/bin/python bench/bench_rank_sets.py [--focus KHM] [--reps 1000] [--draws 1000]
        [--spec vocational_training_on_plans ...] [--package DIR] [--seed 20170217]

Terms where a country's interval is unbounded (an infinite standard error) are skipped: no normal
draw stands for them.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from ippmd.build import build
from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.estimate import RankInputs, fit_spec, rank_inputs
from ippmd.models.inference import point_rank, rank_interval, rank_sets, seeded_rng, settings
from ippmd.models.spec import get_spec, load_specs

SHRINKS = (1.0, 0.5, 0.25)
HEADER = (
    "| spec ~ treatment | shrink | focus: new marginal | focus: old percentile | all countries: new "
    "marginal (min) | all countries: old (min) | simultaneous, all at once | focus set size: marginal, "
    "simultaneous, old |"
)


def true_ranks(theta: np.ndarray, sign: float) -> np.ndarray:
    return np.array([point_rank(theta, j, sign) for j in range(theta.size)])


def coverage(
    given: RankInputs, focus: int, shrink: float, reps: int, draws: int, key: str
) -> dict[str, float]:
    """Coverage rates and mean set sizes over `reps` redraws of the estimates around theta."""
    level = settings().level
    mean = float(given.estimates.mean())
    theta = mean + shrink * (given.estimates - mean)
    truth = true_ranks(theta, given.sign)
    covariance = given.correlation * np.outer(given.std_errors, given.std_errors)
    root = np.linalg.cholesky(covariance + 1e-15 * np.eye(theta.size))
    rng = seeded_rng(20240101, f"{key}:{shrink}")
    n = theta.size
    new = np.zeros(n)
    old = np.zeros(n)
    simultaneous = 0
    sizes = np.zeros(3)
    old_size = 0
    for rep in range(reps):
        estimates = theta + root @ rng.standard_normal(n)
        sets = rank_sets(
            estimates, given.std_errors, given.correlation, given.sign, level, draws, seeded_rng(rep, "new")
        )
        new += (sets.marginal_low <= truth) & (truth <= sets.marginal_high)
        simultaneous += bool(((sets.simultaneous_low <= truth) & (truth <= sets.simultaneous_high)).all())
        for j in range(n):
            low, high = rank_interval(
                estimates, given.std_errors, given.correlation, j, given.sign, level, draws,
                seeded_rng(rep, f"old:{j}"),
            )  # fmt: skip
            old[j] += low <= truth[j] <= high
            if j == focus:
                old_size = high - low + 1
        sizes += (
            sets.marginal_high[focus] - sets.marginal_low[focus] + 1,
            sets.simultaneous_high[focus] - sets.simultaneous_low[focus] + 1,
            old_size,
        )
    return {
        "focus_new": new[focus] / reps,
        "focus_old": old[focus] / reps,
        "all_new_min": float(new.min() / reps),
        "all_old_min": float(old.min() / reps),
        "simultaneous": simultaneous / reps,
        "size_marginal": sizes[0] / reps,
        "size_simultaneous": sizes[1] / reps,
        "size_old": sizes[2] / reps,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--focus", default="KHM")
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000, help="normal draws per set (csranks: R = 1000)")
    parser.add_argument("--spec", action="append", help="spec id (repeatable; default: every spec)")
    parser.add_argument("--package", type=Path, help="a built package (default: build one)")
    parser.add_argument("--seed", type=int, default=20170217, help="synthetic seed of the built package")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        package = args.package
        if package is None:
            package = Path(tmp) / "package"
            build(package, seed=args.seed, expectations=False)
        data = PackageData.load(package)
        specs = [get_spec(s) for s in args.spec] if args.spec else load_specs()
        print(HEADER)
        print("|---" * (HEADER.count("|") - 1) + "|")
        started = time.perf_counter()
        for spec in specs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_spec(spec, analysis_frame(spec, data), data.countries)
            for term in spec.treatments:
                given = rank_inputs(fit, term)
                name = f"{spec.id} ~ {term}"
                if args.focus not in given.countries or not np.isfinite(given.std_errors).all():
                    print(f"| {name} | skipped: no focus estimate or an unbounded interval |" + " |" * 6)
                    continue
                focus = given.countries.index(args.focus)
                for shrink in SHRINKS:
                    r = coverage(given, focus, shrink, args.reps, args.draws, name)
                    print(
                        f"| {name} | {shrink:g} | {r['focus_new']:.3f} | {r['focus_old']:.3f} | "
                        f"{r['all_new_min']:.3f} | {r['all_old_min']:.3f} | {r['simultaneous']:.3f} | "
                        f"{r['size_marginal']:.1f}, {r['size_simultaneous']:.1f}, {r['size_old']:.1f} |",
                        flush=True,
                    )
        se = math.sqrt(0.95 * 0.05 / args.reps)
        print(
            f"\n{args.reps} redraws per row (Monte Carlo SE of a 95% rate {se:.3f}), {args.draws} normal "
            f"draws per set, focus {args.focus}, package seed {args.seed}; "
            f"{time.perf_counter() - started:.0f} s.",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
