"""Monte Carlo of the few-cluster inference: coverage and size, per country, over many seeds.

For each seed the synthetic package is regenerated (all ten countries, scale 1, no expectation
suites: they do not change the data) and the community-level spec
(public_employment_programme_on_emigrant: the programme is given to 3-21 communities per country)
is fitted as `ippmd benchmark` fits it. Per country it records

* coverage: whether the 95% interval contains the planted (attainable) size, for what the
  benchmark reports (the method of models/inference.yaml, CR2 with Bell-McCaffrey df for this
  community-level term), for CR2 and for the wild cluster restricted bootstrap (both always,
  on the benchmark's own absorbed model), for CRV1 with t(G_c - 1), and for CRV1 with the pooled
  t(G - 1) the benchmark used before;
* size: whether the focus-against-peers test rejects at 5% the true difference (planted focus
  minus the mean planted peer), with the country as the focus, for the same methods.

    .venv/bin/python bench/bench_inference_mc.py [--seeds 1-40] [--out results.csv]

Prints a Markdown table, one row per country and the pooled rates, each rate with its Monte
Carlo SE sqrt(rate (1 - rate) / S) (about 0.034 for a 95% rate at S = 40 seeds), the median
Bell-McCaffrey df, and the bias of the estimate against the planted size (mean error and its
Monte Carlo SE): a biased estimate cannot be covered at 95% by any interval.
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

from ippmd.build import build
from ippmd.core.scalars import as_number
from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.estimate import fit_spec, prepare_few_cluster
from ippmd.models.inference import CR2, WCR, settings, t_quantile
from ippmd.models.planted import planted_table
from ippmd.models.spec import get_spec

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
    # Both few-cluster methods on the benchmark's own absorbed model, whichever the rule reports.
    bootstrap, cr2, why_not = prepare_few_cluster(spec, frame, fit.fixed_effects, {WCR, CR2})
    assert bootstrap is not None and cr2 is not None, why_not
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
        # the CRV1 SE (the effect's std_error is its method's, CR2 for this community-level term)
        position = index[f"country::{focus}:{TERM}"]
        own_se = math.sqrt(float(vcov[position, position]))
        row: dict[str, object] = {
            "seed": seed,
            "country": focus,
            "clusters": g_c,
            "treated": treated.get(focus, 0),
        }
        row["error"] = own - truth[focus]  # estimate minus the planted (attainable) size
        row["method"] = effect["method"]
        row["cover_reported"] = effect["ci_low"] <= truth[focus] <= effect["ci_high"]
        alone = bootstrap.contrast(bootstrap.model.contrast_vector({f"country::{focus}:{TERM}": 1.0}))
        low, high = alone.interval(level)
        row["cover_wcr"] = low <= truth[focus] <= high
        alone_cr2 = cr2.contrast(cr2.model.contrast_vector({f"country::{focus}:{TERM}": 1.0}))
        low, high = alone_cr2.interval(level)
        row["cover_cr2"] = low <= truth[focus] <= high
        row["bm_df"] = alone_cr2.df
        for label, df in (("crv1_gc", g_c - 1), ("crv1_pooled", G - 1)):
            q = t_quantile(df, level)
            row[f"cover_{label}"] = abs(own - truth[focus]) <= q * own_se
            row[f"reject_{label}"] = abs(difference - true_difference) > q * difference_se
        c_vector = bootstrap.model.contrast_vector(weights)
        row["reject_wcr"] = bootstrap.contrast(c_vector).p_value(true_difference) <= 1 - level
        row["reject_cr2"] = cr2.contrast(c_vector).p_value(true_difference) <= 1 - level
        row["reject_reported"] = (
            fit.few_cluster_contrast(TERM, weights).p_value(true_difference) <= 1 - level
            if fit.term_method(TERM) != "CRV1"
            else row["reject_crv1_gc"]
        )
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
    print(summary_text(table, seeds, args.seeds))


METHODS = ("reported", "wcr", "cr2", "crv1_gc", "crv1_pooled")


def summary_text(table: pl.DataFrame, seeds: list[int], label: str) -> str:
    """Per country and pooled: coverage and size of each method, each as rate (Monte Carlo SE),
    the SE being sqrt(rate (1 - rate) / n) over the n seed x country cells."""
    rates = [f"{kind}_{m}" for kind in ("cover", "reject") for m in METHODS]

    def block(frame: pl.DataFrame, name: str) -> list[str]:
        n = frame.height
        bias_se = as_number(frame["error"].std()) / math.sqrt(n) if n > 1 else math.nan
        cells = [
            name,
            f"{as_number(frame['clusters'].median()):.0f}",
            f"{as_number(frame['treated'].min())}-{as_number(frame['treated'].max())}",
            f"{as_number(frame['bm_df'].median()):.1f}",
            f"{as_number(frame['error'].mean()):+.4f} ({bias_se:.4f})",
        ]
        for column in rates:
            rate = float(as_number(frame[column].mean()))
            cells.append(f"{rate:.3f} ({math.sqrt(rate * (1 - rate) / n):.3f})")
        return cells

    header = ["country", "G_c", "treated", "BM df", "bias (SE)", *rates]
    lines = [block(table.filter(pl.col("country") == c), c) for c in sorted(set(table["country"]))]
    lines.append(block(table, "ALL"))
    method = ", ".join(sorted({m.split(" ")[0] for m in table["method"].to_list()}))
    out = [
        f"{SPEC}: {len(seeds)} seeds ({label}); nominal coverage 0.95, nominal size 0.05; "
        "each cell: rate (Monte Carlo SE)",
        "cover_*: the 95% CI contains the planted (attainable) size; reject_*: the focus-vs-peer-mean "
        "test rejects the true difference at 5%",
        f"reported = what the benchmark reports ({method}); wcr = wild cluster restricted bootstrap "
        "(Webb); cr2 = CR2 with Bell-McCaffrey df; crv1_gc = CRV1 t(G_c - 1); crv1_pooled = CRV1 "
        "t(G - 1), as before issue 12",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(cells) + " |" for cells in lines),
    ]
    return "\n".join(out)


if __name__ == "__main__":
    main()
