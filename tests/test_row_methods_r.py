"""Issue 24 items 2 and 8 held to independent implementations in R.

* The CR2 rows of estimates.csv and comparison.csv (the community-level programme, every country,
  and the fixed peer mean and the difference for two foci): R's clubSandwich re-estimates the
  model from the analysis frame (`lm` with the country slopes and region dummies, survey weights)
  and gives, by `coef_test(vcov = vcovCR(type = "CR2"), test = "Satterthwaite")` on a model
  reparametrized so that the contrast is a coefficient, the estimate, the CR2 standard error and
  the Bell-McCaffrey df of each; the rows' std_error and df must be those.
* Holm and Benjamini-Hochberg within each family declared in the specs: R's `p.adjust` on each
  family's p-values.
Both need Rscript (clubSandwich for the first); they are skipped without it.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from ippmd.models.data import PackageData, analysis_frame
from ippmd.models.estimate import POOLED, SpecFit, comparison_table, estimates_table, fit_spec
from ippmd.models.spec import get_spec, load_specs

SPEC = "public_employment_programme_on_emigrant"
TERM = "public_employment_programme"


def _r_has(package: str) -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", f"quit(status = !requireNamespace('{package}', quietly = TRUE))"],
        capture_output=True,
    )
    return probe.returncode == 0


def _rscript(script: str, folder: Path, *files: str) -> pd.DataFrame:
    (folder / "check.R").write_text(script, encoding="utf-8")
    run = subprocess.run(
        ["Rscript", str(folder / "check.R"), *files], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    return pd.read_csv(io.StringIO(run.stdout))


@pytest.fixture(scope="module")
def fit(package_dir: Path) -> tuple[SpecFit, pl.DataFrame]:
    data = PackageData.load(package_dir)
    spec = get_spec(SPEC)
    frame = analysis_frame(spec, data)
    return fit_spec(spec, frame, data.countries), frame


R_CR2 = """
suppressMessages(library(clubSandwich))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
contrasts <- read.csv(args[2], check.names = FALSE)
countries <- sort(unique(d$country))
X <- sapply(countries, function(k) d$t * (d$country == k))
# c'b as the coefficient of a reparametrized model (X b = X A^-1 A b, A's row j = c): CR2 and its
# Satterthwaite df are invariant to the reparametrization. (clubSandwich 0.5.8's linear_contrast
# stops with an error on a weighted lm.)
one <- function(weights, every = FALSE) {
  j <- which.max(abs(weights))
  A <- diag(length(weights))
  A[j, ] <- weights
  Z <- X %*% solve(A)
  colnames(Z) <- paste0("z", seq_along(weights))
  e <- cbind(d, Z)
  form <- paste("y ~ 0 +", paste(colnames(Z), collapse = " + "), "+ urban + factor(region)")
  fit <- lm(as.formula(form), data = e, weights = w)
  coefs <- if (every) colnames(Z) else paste0("z", j)
  out <- coef_test(fit, vcov = vcovCR(fit, cluster = e$cluster, type = "CR2"), coefs = coefs,
                   test = "Satterthwaite")
  rbind(out$beta, out$SE, out$df_Satt)
}
unit <- apply(contrasts[, countries], 1, function(weights) sum(weights != 0) == 1)
stopifnot(all(unit[seq_along(countries)]), !any(unit[-seq_along(countries)]))
# the country effects: one fit (its reparametrization is the identity)
rows <- rbind(t(one(diag(length(countries))[1, ], every = TRUE)),
              t(sapply(which(!unit), function(i) one(unlist(contrasts[i, countries])))))
write.csv(data.frame(name = contrasts$name, estimate = sprintf("%.17g", rows[, 1]),
                     se = sprintf("%.17g", rows[, 2]), df = sprintf("%.17g", rows[, 3])),
          stdout(), row.names = FALSE)
"""


@pytest.mark.slow  # about 150 s: five weighted lm fits with CR2 on the whole frame in R
@pytest.mark.skipif(not _r_has("clubSandwich"), reason="R with clubSandwich is not installed")
def test_cr2_rows_equal_clubsandwich_on_the_package(
    fit: tuple[SpecFit, pl.DataFrame], tmp_path: Path
) -> None:
    """Every CR2 row's estimate, std_error and df (each country's effect; for KHM and GEO the
    fixed peer mean and the difference) against clubSandwich on the same frame: 1e-8 on the
    estimate and the standard error, 1e-6 on the df."""
    spec_fit, frame = fit
    spec = spec_fit.spec
    assert spec.controls == ("urban",) and spec_fit.fixed_effects == ("region_code",)
    countries = sorted(spec_fit.countries)
    frame.select(
        y=pl.col(spec.outcome), t=pl.col(TERM), country="country", urban="urban",
        region="region_code", cluster=spec.cluster, w=spec.weights,
    ).write_csv(tmp_path / "frame.csv")  # fmt: skip
    contrasts = [{"name": f"effect:{c}", **{k: float(k == c) for k in countries}} for c in countries]
    for focus in ("KHM", "GEO"):
        peers = [c for c in countries if c != focus]
        mean = {k: (1 / len(peers) if k in peers else 0.0) for k in countries}
        contrasts.append({"name": f"peer_mean:{focus}", **mean})
        contrasts.append(
            {"name": f"difference:{focus}", **{k: float(k == focus) - mean[k] for k in countries}}
        )
    pd.DataFrame(contrasts).to_csv(tmp_path / "contrasts.csv", index=False, float_format="%.17g")
    reference = _rscript(R_CR2, tmp_path, str(tmp_path / "frame.csv"), str(tmp_path / "contrasts.csv"))
    theirs = {str(r["name"]): r for r in reference.to_dict("records")}

    rows = estimates_table([spec_fit]).filter(pl.col("country") != POOLED)
    assert rows["method"].str.starts_with("CR2").all() and rows.height == len(countries)
    checked = 0
    for row in rows.iter_rows(named=True):
        r = theirs[f"effect:{row['country']}"]
        assert row["estimate"] == pytest.approx(r["estimate"], rel=1e-8, abs=1e-12), row["country"]
        assert row["std_error"] == pytest.approx(r["se"], rel=1e-8), row["country"]
        assert row["df"] == pytest.approx(r["df"], rel=1e-6), row["country"]
        checked += 1
    for focus in ("KHM", "GEO"):
        row = comparison_table([spec_fit], focus).row(0, named=True)
        assert row["focus_std_error"] == pytest.approx(theirs[f"effect:{focus}"]["se"], rel=1e-8)
        for value, prefix in (("peer_mean", "peer_mean_"), ("difference", "difference_")):
            r = theirs[f"{value}:{focus}"]
            assert row[value] == pytest.approx(r["estimate"], rel=1e-8, abs=1e-12), (focus, value)
            assert row[f"{prefix}std_error"] == pytest.approx(r["se"], rel=1e-8), (focus, value)
            assert row[f"{prefix}df"] == pytest.approx(r["df"], rel=1e-6), (focus, value)
            checked += 1
    assert checked == len(countries) + 4


R_P_ADJUST = """
d <- read.csv(commandArgs(TRUE)[1])
d$holm <- sprintf("%.17g", ave(d$p, d$group, FUN = function(p) p.adjust(p, "holm")))
d$bh <- sprintf("%.17g", ave(d$p, d$group, FUN = function(p) p.adjust(p, "BH")))
write.csv(d, stdout(), row.names = FALSE)
"""


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript is not installed")
def test_adjusted_p_values_equal_r_p_adjust_within_each_declared_family(
    package_dir: Path, tmp_path: Path
) -> None:
    """estimates.csv (country rows and pooled rows of each family apart) and comparison.csv for
    KHM (differences and focus effects) against R's p.adjust(method = "holm" / "BH") per family."""
    from ippmd.models.estimate import fit_all

    fits = fit_all(PackageData.load(package_dir))
    families = {spec.family for spec in load_specs()}
    assert families == {"labour_market", "agriculture", "education", "investment_and_financial_services"}
    estimates = estimates_table(fits).filter(pl.col("p_value").is_not_nan())
    comparison = comparison_table(fits, "KHM")
    checks = [  # (frame, how its rows are grouped, p, Holm, BH)
        (estimates.filter(pl.col("country") != POOLED), "countries", "p_value", "p_holm", "q_bh"),
        (estimates.filter(pl.col("country") == POOLED), "pooled", "p_value", "p_holm", "q_bh"),
        (comparison, "difference", "difference_p_value", "p_holm", "q_bh"),
        (comparison, "focus", "focus_p_value", "focus_p_holm", "focus_q_bh"),
    ]
    given = pl.concat(
        frame.select(
            group=pl.lit(f"{kind}:") + pl.col("family"), p=pl.col(p), holm=pl.col(holm), bh=pl.col(bh)
        )
        for frame, kind, p, holm, bh in checks
    )
    given.select("group", "p").to_pandas().to_csv(tmp_path / "p.csv", index=False, float_format="%.17g")
    theirs = _rscript(R_P_ADJUST, tmp_path, str(tmp_path / "p.csv"))
    assert len(theirs) == given.height > 200
    assert given["group"].n_unique() == 4 * len(families)
    for ours, (_, r) in zip(given.iter_rows(named=True), theirs.iterrows(), strict=True):
        assert ours["group"] == r["group"]
        assert ours["holm"] == pytest.approx(r["holm"], rel=1e-12, abs=1e-300), ours["group"]
        assert ours["bh"] == pytest.approx(r["bh"], rel=1e-12, abs=1e-300), ours["group"]
