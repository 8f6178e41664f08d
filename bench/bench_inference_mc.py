"""Monte Carlo of the few-cluster inference: coverage and size, per country, over many seeds.

For each seed the synthetic package is regenerated (all ten countries, scale 1, no expectation
suites: they do not change the data) and the community-level spec
(public_employment_programme_on_emigrant: the programme is given to 3-21 communities per country)
is fitted as `ippmd benchmark` fits it. Per country it records

* coverage: whether the 95% interval contains the planted (attainable) size, for the wild
  cluster restricted bootstrap the benchmark now reports, for CRV1 with t(G_c - 1), and for
  CRV1 with the pooled t(G - 1) the benchmark used before;
* size: whether the focus-against-peers test rejects at 5% the true difference (planted focus
  minus the mean planted peer), with the country as the focus, for the same three methods.

    .venv/bin/python bench/bench_inference_mc.py [--seeds 1-40] [--out results.csv]

Prints one row per country and the pooled rates, and the bias of the estimate against the planted
size (mean error and its Monte Carlo SE): a biased estimate cannot be covered at 95% by any
interval. The Monte Carlo standard error of a 95% rate over S seeds is sqrt(0.95 x 0.05 / S)
(0.034 at S = 40).
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
import polars as pl
from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.estimate import fit_spec
from ippmd.models.inference import settings, t_quantile
from ippmd.models.planted import planted_table
from ippmd.models.spec import get_spec

from ippmd.build import build

SPEC = "public_employment_programme_on_emigrant"
TERM = "public_employment_programme"


def seeds_from(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        out += list(range(int(low), int(high or low) + 1))
    return out


def one_seed(seed: int, workdir: Path) -> list[dict[str, object]]:
    """Every country's coverage and focus-test rejections for one regenerated package."""
    out = workdir / f"seed-{seed}"
    build(out, seed=seed, expectations=False)
    data = PackageData.load(out)
    spec = get_spec(SPEC)
    frame = analysis_frame(spec, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_spec(spec, frame, data.countries)
    truth = {
        r["country"]: r["attainable"]
        for r in planted_table([fit]).iter_rows(named=True)
        if r["country"] != "ALL" and r["term"] == TERM
    }
    index = {str(n): i for i, n in enumerate(fit.by_country._coefnames)}
    beta = np.asarray(fit.by_country._beta_hat, dtype=float)
    vcov = np.asarray(fit.by_country._vcov, dtype=float)
    level = settings().level
    G = fit.n_clusters
    rows = []
    countries = [c for c in data.countries if (c, TERM) in fit.effects]
    treated = dict(
        frame.filter(pl.col(TERM) == 1).group_by("country").agg(pl.col(spec.cluster).n_unique()).iter_rows()
    )
    for focus in countries:
        effect = fit.effects[(focus, TERM)]
        peers = [c for c in countries if c != focus]
        g_c = fit.clusters_by_country[focus]
        weights = {
            f"country::{focus}:{TERM}": 1.0,
            **{f"country::{p}:{TERM}": -1 / len(peers) for p in peers},
        }
        c = np.zeros(beta.size)
        for name, w in weights.items():
            c[index[name]] = w
        difference, difference_se = float(c @ beta), math.sqrt(float(c @ vcov @ c))
        true_difference = truth[focus] - float(np.mean([truth[p] for p in peers]))
        own = effect["estimate"]
        own_se = effect["std_error"]
        row: dict[str, object] = {
            "seed": seed,
            "country": focus,
            "clusters": g_c,
            "treated": treated.get(focus, 0),
        }
        row["error"] = own - truth[focus]  # estimate minus the planted (attainable) size
        row["cover_wcr"] = effect["ci_low"] <= truth[focus] <= effect["ci_high"]
        for label, df in (("crv1_gc", g_c - 1), ("crv1_pooled", G - 1)):
            q = t_quantile(df, level)
            row[f"cover_{label}"] = abs(own - truth[focus]) <= q * own_se
            row[f"reject_{label}"] = abs(difference - true_difference) > q * difference_se
        contrast = fit.bootstrap_contrast(weights)
        row["reject_wcr"] = contrast.p_value(true_difference) <= 1 - level
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="1-40", help="seeds, e.g. 1-40 or 1,2,5-9 (at least 20)")
    parser.add_argument("--out", type=Path, help="also write every seed x country row to this CSV")
    args = parser.parse_args()
    seeds = seeds_from(args.seeds)
    rows: list[dict[str, object]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ippmd-mc-") as tmp:
        for number, seed in enumerate(seeds, 1):
            rows += one_seed(seed, Path(tmp))
            print(
                f"seed {seed} ({number}/{len(seeds)}) {time.perf_counter() - started:.0f} s", file=sys.stderr
            )
    table = pl.DataFrame(rows)
    if args.out:
        table.write_csv(args.out)
    rates = [c for c in table.columns if c.startswith(("cover_", "reject_"))]
    summary = (
        table.group_by("country")
        .agg(
            pl.col("clusters").median().alias("G_c"),
            pl.col("treated").min().alias("treated_min"),
            pl.col("treated").max().alias("treated_max"),
            pl.col("error").mean().alias("bias"),
            (pl.col("error").std() / pl.len().sqrt()).alias("bias_se"),
            *(pl.col(c).mean() for c in rates),
        )
        .sort("country")
    )
    pooled = table.select(
        pl.lit("ALL").alias("country"),
        pl.col("clusters").median().alias("G_c"),
        pl.col("treated").min().alias("treated_min"),
        pl.col("treated").max().alias("treated_max"),
        pl.col("error").mean().alias("bias"),
        (pl.col("error").std() / pl.len().sqrt()).alias("bias_se"),
        *(pl.col(c).mean() for c in rates),
    )
    with pl.Config(tbl_rows=20, tbl_cols=20, tbl_width_chars=200, float_precision=3):
        print(f"{SPEC}: {len(seeds)} seeds ({args.seeds}), nominal coverage 0.95, nominal size 0.05")
        print(
            "cover_*: 95% CI contains the planted size; reject_*: focus-vs-peer-mean test rejects the truth"
        )
        print("wcr = wild cluster restricted bootstrap (reported); crv1_gc = CRV1 t(G_c-1);")
        print("crv1_pooled = CRV1 t(G-1), as before")
        print(pl.concat([summary, pooled.cast(summary.schema)]))
    print(f"Monte Carlo SE of a 95% coverage rate per country: {math.sqrt(0.95 * 0.05 / len(seeds)):.3f}")


if __name__ == "__main__":
    main()
