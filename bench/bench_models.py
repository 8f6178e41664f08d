"""Time the cross-country models with pyfixest and with statsmodels, in one run.

Every least-squares spec in models/specs/ is fitted twice (pooled, and by country with
i(country, treatment)) for all countries: once with pyfixest (fixed effects absorbed, CRV1 by
community, weights) and once with statsmodels WLS on explicit dummy columns (cluster-robust by
community). Poisson specs (estimator: poisson) are left out: WLS is not their reference. Prints the
seconds of each, their ratio, and how far the two agree (coefficients and standard errors), so
results compare across machines. The package build is not timed.

    .venv/bin/python bench/bench_models.py [--package DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl

from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.design import design
from ippmd.models.estimate import fit_spec, fixed_effects_for
from ippmd.models.spec import ModelSpec, load_specs


def fit_pyfixest(specs: tuple[ModelSpec, ...], frames: dict[str, pl.DataFrame], countries: list[str]) -> dict:
    return {spec.id: fit_spec(spec, frames[spec.id], countries) for spec in specs}


def fit_statsmodels(specs: tuple[ModelSpec, ...], frames: dict[str, pl.DataFrame]) -> dict:
    """WLS on [treatment(s) or country x treatment, controls, fixed-effect dummies], clustered."""
    import statsmodels.api as sm

    fits = {}
    for spec in specs:
        frame = frames[spec.id]
        fes = fixed_effects_for(spec, frame)
        for by_country in (False, True):
            d = design(spec, frame, fes, by_country=by_country)
            result = sm.WLS(d.y, d.X, weights=d.weights).fit(
                cov_type="cluster", cov_kwds={"groups": d.clusters}
            )
            fits[(spec.id, by_country)] = (d.names, result)
    return fits


def agreement(pyfixest_fits: dict, statsmodels_fits: dict) -> tuple[float, float]:
    """Largest absolute coefficient difference and largest SE ratio deviation over treatments."""
    coef_gap, se_gap = 0.0, 0.0
    for spec_id, fit in pyfixest_fits.items():
        for by_country, model in ((False, fit.pooled), (True, fit.by_country)):
            names, result = statsmodels_fits[(spec_id, by_country)]
            coef, se = model.coef(), model.se()
            for i, name in enumerate(names):
                if name in coef.index and (name in fit.spec.treatments or name.startswith("country::")):
                    coef_gap = max(coef_gap, abs(coef[name] - result.params[i]))
                    se_gap = max(se_gap, abs(result.bse[i] / se[name] - 1))
    return coef_gap, se_gap


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--package", type=Path, help="a built package (default: build one in a temp dir)")
    parser.add_argument("--repeat", type=int, default=3, help="pyfixest runs; the median is reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ippmd-bench-models-") as tmp:
        package = args.package
        if package is None:
            from ippmd.build import build

            package = Path(tmp)
            build(package)
        data = PackageData.load(package)
        specs = tuple(spec for spec in load_specs() if spec.estimator == "ols")
        started = time.perf_counter()
        frames = {spec.id: analysis_frame(spec, data) for spec in specs}
        frame_seconds = time.perf_counter() - started
        import pyfixest.estimation  # noqa: F401  (lazy import, kept out of the timings)
        import statsmodels.api  # noqa: F401

        timings: dict[str, list[float]] = {"pyfixest": [], "statsmodels": []}
        for _ in range(args.repeat):
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pf_fits = fit_pyfixest(specs, frames, data.countries)
            timings["pyfixest"].append(time.perf_counter() - started)
        # The dense dummy-variable reference takes minutes: one run is enough for the ratio.
        started = time.perf_counter()
        sm_fits = fit_statsmodels(specs, frames)
        timings["statsmodels"].append(time.perf_counter() - started)

    n_models = 2 * len(specs)
    rows = sum(frame.height for frame in frames.values())
    coef_gap, se_gap = agreement(pf_fits, sm_fits)
    median = {name: statistics.median(values) for name, values in timings.items()}
    print(
        f"{len(specs)} specs x 2 models = {n_models} fits, {len(data.countries)} countries, "
        f"{rows:,} rows in all"
    )
    print(f"analysis frames (joins, filters):          {frame_seconds:8.3f} s")
    for name, values in timings.items():
        runs = ", ".join(f"{v:.3f}" for v in values)
        print(f"{name + ' (median of ' + str(len(values)) + ')':42s} {median[name]:8.3f} s   [{runs}]")
    print(f"ratio statsmodels / pyfixest:              {median['statsmodels'] / median['pyfixest']:8.1f} x")
    print(f"max |coefficient difference| (treatments): {coef_gap:8.1e}")
    print(f"max |SE ratio - 1| (small-sample factors):  {se_gap:8.1e}")
    print(
        "budget: all specs for all countries within 5 s with pyfixest -> "
        + ("OK" if median["pyfixest"] <= 5.0 else "EXCEEDED")
    )
    if not np.isfinite(coef_gap) or coef_gap > 1e-6:
        raise SystemExit("pyfixest and statsmodels disagree on the coefficients")


if __name__ == "__main__":
    main()
