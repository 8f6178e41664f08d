"""`ippmd tabulate`: design-based estimates held to two independent implementations.

- a numpy implementation written here from the textbook formulas (explicit centring of PSU totals
  within strata, out-of-domain rows zero-weighted), sharing no code with ippmd.explore;
- R's `survey` package (svydesign + svyby/svymean, confint with degf of the domain's design;
  svyciprop logit and beta for shares), run when `Rscript -e 'library(survey)'` works (skipped
  otherwise; .ci/run installs it).

Both use the same rules: missing values excluded (na.rm = TRUE), lonely PSUs "adjust", strata
nested in countries (country x stratum), df = PSUs - strata among the rows used. Shares' intervals
(logit, beta, and beta with n_eff = n for a share of 0 or 1) are written here again with scipy.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import polars as pl
import pytest
from rich.console import Console
from scipy import special, stats
from typer.testing import CliRunner

from ippmd.cli import app
from ippmd.core.scalars import as_number
from ippmd.explore.design import Package, survey_design
from ippmd.explore.listing import listing_markdown, render_listing
from ippmd.explore.proportion import METHODS, Method, beta_quantile
from ippmd.explore.student_t import t_quantile
from ippmd.explore.tabulate import Query, design_estimate, tabulate, variable_kind
from ippmd.extract import variable_catalog
from ippmd.extract.source import open_package

TOLERANCE = 1e-10
# Intervals of shares against R's svyciprop (issue 24). Logit differs by up to 3e-9: svyciprop's
# svyglm stops IRLS at glm.control's epsilon = 1e-8 (with epsilon = 1e-15 the closed form used here
# agrees to 1e-15); beta and the means agree to 1e-11.
R_TOLERANCE = 1e-8
QUERIES = {
    "by_country": Query("remittances_received", "households", ("country",)),
    "by_country_sex_where": Query(
        "plans_to_emigrate", "persons", ("country", "sex"), where="age >= 15 AND age <= 34"
    ),
    "by_country_urban_categorical": Query("remittance_channel", "households", ("country", "urban")),
    "numeric_with_missing": Query("remittances_usd", "households", ("country",)),
    "communities": Query("bank_branch", "communities", ("country",)),
    "emigrants_two_countries": Query("age", "emigrants", ("sex",), countries=("KHM", "PHL")),
    "pooled": Query("education_years", "persons", where="age >= 25"),
    # categories estimated at 0 in a domain of --where and --by (levels absent in some countries)
    "education_where": Query("education_level", "persons", ("country", "sex"), where="age >= 25"),
    # a category estimated at 1 (everyone of a small domain gave the same non-response)
    "nonresponse_by_sex": Query("years_abroad_nonresponse", "persons", ("country", "sex")),
}
SHARES = ("by_country", "by_country_sex_where", "by_country_urban_categorical", "communities")


def _has_r_survey() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "library(survey)"], capture_output=True, timeout=60)
    return probe.returncode == 0


# --- the independent design frame and numpy estimator ----------------------------------------------


def design_frame(package_dir: Path, query: Query) -> pl.DataFrame:
    """y, key (domain label), in_domain, weight, stratum, psu: built here, not with ippmd.explore."""
    descriptor = json.loads((package_dir / "datapackage.json").read_text(encoding="utf-8"))
    resource = next(r for r in descriptor["resources"] if r["name"] == query.table)
    design = survey_design(resource)  # the contract: declared surveyDesign, else the default
    assert design is not None
    frame = pl.read_parquet(package_dir / "data" / f"{query.table}.parquet")
    lacking = [c for c in design.fields() if c not in frame.columns]
    if lacking:  # persons, emigrants without a declared design: the household's fields
        households = pl.read_parquet(package_dir / "data" / "households.parquet")
        frame = frame.join(households.select("household_id", *lacking), on="household_id", how="left")
    weight = pl.col(design.weight) if design.weight else pl.lit(1.0)
    stratum = pl.col("country") + "/" + (pl.col(design.strata).cast(pl.String) if design.strata else "")
    in_domain = pl.lit(True)
    for column in query.by:
        in_domain = in_domain & pl.col(column).is_not_null()
    if query.where:
        in_domain = in_domain & pl.sql_expr(query.where).fill_null(False)
    if query.countries:
        in_domain = in_domain & pl.col("country").is_in(list(query.countries))
    key = pl.concat_str([pl.col(c).cast(pl.String) for c in query.by], separator="|") if query.by else "all"
    return frame.select(
        pl.col(query.variable).alias("y"),
        pl.lit(key).alias("key") if isinstance(key, str) else key.alias("key"),
        in_domain.alias("in_domain"),
        weight.cast(pl.Float64).alias("weight"),
        stratum.alias("stratum"),
        (pl.col(design.psu).cast(pl.String)).alias("psu"),
    )


def design_codes(stratum: np.ndarray, psu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PSU index of each row (PSUs nested in strata), stratum index of each row and of each PSU."""
    _, stratum_index = np.unique(stratum, return_inverse=True)
    psu_ids, psu_index = np.unique(np.char.add(np.char.add(stratum, "#"), psu), return_inverse=True)
    psu_stratum = np.empty(len(psu_ids), dtype=int)
    psu_stratum[psu_index] = stratum_index
    return psu_index, stratum_index, psu_stratum


def numpy_mean(
    y: np.ndarray, w: np.ndarray, codes: tuple[np.ndarray, np.ndarray, np.ndarray], domain: np.ndarray
) -> dict[str, float]:
    """Domain ratio mean, Taylor-linearised SE (with-replacement PSUs, strata, lonely = adjust)."""
    psu_index, stratum_index, psu_stratum = codes
    used = domain & ~np.isnan(y)
    wd = np.where(used, w, 0.0)  # out-of-domain and missing rows weigh zero; the design stays
    yd = np.where(used, y, 0.0)
    mean = np.sum(wd * yd) / np.sum(wd)
    z = wd * (yd - mean) / np.sum(wd)
    totals = np.bincount(psu_index, weights=z, minlength=len(psu_stratum))
    variance = 0.0
    for h in range(psu_stratum.max() + 1):
        t = totals[psu_stratum == h]
        if len(t) > 1:
            variance += len(t) / (len(t) - 1) * np.sum((t - t.mean()) ** 2)
        else:  # a lonely PSU: centred at the population mean of z, zero
            variance += t[0] ** 2
    psus = len(np.unique(psu_index[used]))
    df = psus - len(np.unique(stratum_index[used]))
    se = float(np.sqrt(variance))
    half = stats.t.ppf(0.975, df) * se if df >= 1 else np.nan
    return {"estimate": mean, "std_error": se, "ci_low": mean - half, "ci_high": mean + half,
            "n": int(used.sum()), "psu": psus, "df": df}  # fmt: skip


def scipy_share_interval(p: float, se: float, n: int, df: int, method: str) -> tuple[float, float, str]:
    """R's svyciprop intervals from the formulas, with scipy (Korn and Graubard 1998 for beta);
    a share without variance (0 or 1) gets beta with n_eff = n."""
    if df < 1:
        return np.nan, np.nan, ""
    scale = (stats.t.ppf(0.025, n - 1) / stats.t.ppf(0.025, df)) ** 2
    if se == 0:
        method, n_eff = "beta (n_eff = n)", n * scale
    else:
        n_eff = p * (1 - p) / se**2 * scale
    if method == "logit":
        half = stats.t.ppf(0.975, df) * se / (p * (1 - p))
        return (
            float(special.expit(special.logit(p) - half)),
            float(special.expit(special.logit(p) + half)),
            method,
        )
    low = stats.beta.ppf(0.025, n_eff * p, n_eff * (1 - p) + 1) if p > 0 else 0.0
    high = stats.beta.ppf(0.975, n_eff * p + 1, n_eff * (1 - p)) if p < 1 else 1.0
    return float(low), float(high), method


def with_share_interval(result: dict[str, Any], method: str) -> dict[str, Any]:
    low, high, used = scipy_share_interval(
        result["estimate"], result["std_error"], result["n"], result["df"], method
    )
    return {**result, "ci_low": low, "ci_high": high, "interval": used}


def numpy_results(
    frame: pl.DataFrame, categorical: list[Any] | None, share: bool = False, method: str = "logit"
) -> dict[tuple[str, str], dict[str, float]]:
    """(domain key, category or '') -> result, one numpy estimate per domain (and category);
    shares (categories, or a 0/1 variable when `share`) with `method`'s interval."""
    y_raw = frame["y"]
    w = frame["weight"].to_numpy()
    codes = design_codes(frame["stratum"].to_numpy().astype(str), frame["psu"].to_numpy().astype(str))
    key = frame["key"].to_numpy()
    in_domain = frame["in_domain"].to_numpy()
    missing = y_raw.is_null().to_numpy()
    out = {}
    for k in sorted(set(key[in_domain & ~missing].tolist())):
        domain = in_domain & (key == k)
        if categorical is None:
            y = y_raw.cast(pl.Float64).fill_null(np.nan).to_numpy()
            mean = numpy_mean(y, w, codes, domain)
            out[(k, "")] = with_share_interval(mean, method) if share else mean
            continue
        for category in categorical:
            y = np.where(missing, np.nan, (y_raw == category).fill_null(False).to_numpy().astype(float))
            out[(k, str(category))] = with_share_interval(numpy_mean(y, w, codes, domain), method)
    return out


def ippmd_results(result: pl.DataFrame, by: tuple[str, ...]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for row in result.iter_rows(named=True):
        key = "|".join(str(row[c]) for c in by) if by else "all"
        out[(key, str(row.get("category", "")) if "category" in row else "")] = row
    return out


def _categories(package_dir: Path, query: Query) -> list[Any] | None:
    field = Package(package_dir).columns(query.table)[query.variable].field
    values = [c["value"] for c in field.get("categories", [])]
    return values if values and sorted(values) != [0, 1] else None


def _is_share(package_dir: Path, query: Query) -> bool:
    """A yes/no (0/1) variable, or a categorical one: its rows are shares."""
    return variable_kind(Package(package_dir).columns(query.table)[query.variable].field) != "mean"


def max_difference(ours: dict, theirs: dict, columns: tuple[str, ...]) -> float:
    assert ours.keys() == theirs.keys()
    worst = 0.0
    for key, row in ours.items():
        for column in columns:
            a, b = row[column], theirs[key][column]
            if a is None or b is None or (isinstance(b, float) and np.isnan(b)):
                assert (a is None or np.isnan(a)) and (b is None or np.isnan(b)), (key, column, a, b)
                continue
            worst = max(worst, abs(float(a) - float(b)))
    return worst


@pytest.fixture(scope="module")
def package(package_dir: Path) -> Package:
    return Package(package_dir)


@pytest.fixture(scope="module")
def tabulations(package: Package) -> dict[str, pl.DataFrame]:
    return {name: tabulate(package, query).frame for name, query in QUERIES.items()}


@pytest.mark.parametrize("name", list(QUERIES))
def test_equals_an_independent_numpy_implementation(
    name: str, package_dir: Path, tabulations: dict[str, pl.DataFrame]
) -> None:
    query = QUERIES[name]
    share = _is_share(package_dir, query)
    expected = numpy_results(design_frame(package_dir, query), _categories(package_dir, query), share)
    ours = ippmd_results(tabulations[name], query.by)
    assert max_difference(ours, expected, ("estimate", "std_error", "ci_low", "ci_high")) < TOLERANCE
    for key, row in ours.items():
        assert (row["n"], row["psu"], row["df"]) == (
            expected[key]["n"],
            expected[key]["psu"],
            expected[key]["df"],
        ), key
        assert row["interval"] == (expected[key]["interval"] if share else "t"), key


@pytest.mark.parametrize("name", [*SHARES, "education_where", "nonresponse_by_sex"])
def test_beta_intervals_equal_scipy(name: str, package_dir: Path, package: Package) -> None:
    """--interval beta: Korn-Graubard as R's svyciprop(method = "beta"), written with scipy."""
    query = dataclasses.replace(QUERIES[name], interval="beta")
    expected = numpy_results(design_frame(package_dir, query), _categories(package_dir, query), True, "beta")
    ours = ippmd_results(tabulate(package, query).frame, query.by)
    assert max_difference(ours, expected, ("ci_low", "ci_high")) < TOLERANCE
    assert {k: r["interval"] for k, r in ours.items()} == {k: r["interval"] for k, r in expected.items()}


@pytest.mark.parametrize("method", METHODS)
def test_share_intervals_stay_in_0_1_and_a_share_of_0_has_an_upper_bound(
    method: Method, package: Package
) -> None:
    """Wald intervals had gone below 0 and given [0, 0] at 0 (issue 24): no more."""
    query = dataclasses.replace(QUERIES["education_where"], interval=method)
    frame = tabulate(package, query).frame
    assert frame["ci_low"].null_count() == 0
    assert ((frame["ci_low"] >= 0) & (frame["ci_low"] <= frame["estimate"])).all()
    assert ((frame["ci_high"] <= 1) & (frame["ci_high"] >= frame["estimate"])).all()
    zero = frame.filter(pl.col("estimate") == 0)
    assert zero.height >= 10, "no category estimated at 0: the test lost its case"
    assert (zero["ci_low"] == 0).all() and (zero["ci_high"] > 0).all()
    assert set(zero["interval"]) == {"beta (n_eff = n)"}
    assert set(frame.filter(pl.col("estimate") > 0)["interval"]) == {method}
    # the upper bound at 0 is Clopper-Pearson's 1 - 0.025^(1 / n_eff), n_eff = n scaled for the design df
    row = zero.row(0, named=True)
    n_eff = row["n"] * (stats.t.ppf(0.975, row["n"] - 1) / stats.t.ppf(0.975, row["df"])) ** 2
    assert row["ci_high"] == pytest.approx(1 - 0.025 ** (1 / n_eff), rel=1e-12)


def test_beta_quantiles_equal_scipy() -> None:
    """The pure-Python inverse of the regularised incomplete beta behind Korn-Graubard."""
    shapes = [0.05, 0.3, 1.0, 1.7, 5.0, 40.5, 300.0, 2500.0, 1e4, 6e4, 3e5]
    worst = 0.0
    for a in shapes:
        for b in shapes:
            for probability in (1e-6, 0.025, 0.5, 0.975):
                worst = max(worst, abs(beta_quantile(probability, a, b) - stats.beta.ppf(probability, a, b)))
    assert worst < 1e-12
    assert beta_quantile(0.025, 0.0, 7.0) == 0.0 and beta_quantile(0.975, 7.0, 0.0) == 1.0


def test_the_queries_cover_lonely_psus_domains_and_missing_values(package_dir: Path) -> None:
    """The comparisons above exercise what matters: a stratum with a single PSU, domains that
    leave strata partly empty, and missing values inside the domain."""
    frame = design_frame(package_dir, QUERIES["by_country"])
    psus = frame.group_by("stratum").agg(pl.col("psu").n_unique())
    assert (psus["psu"] == 1).any(), "no lonely PSU in the package: add a planted one to the test"
    numeric = design_frame(package_dir, QUERIES["numeric_with_missing"])
    assert numeric["y"].null_count() > 0
    sex_where = tabulate(package_dir, QUERIES["by_country_sex_where"]).frame
    assert sex_where["n"].sum() < design_frame(package_dir, QUERIES["by_country_sex_where"]).height


def test_a_planted_design_with_a_lonely_psu_and_a_partly_empty_stratum() -> None:
    """A hand-made design: stratum B has one PSU (lonely); the domain leaves stratum A with one
    of its three PSUs; y is missing on some domain rows. Numpy and ippmd agree."""
    rng = np.random.default_rng(7)
    rows = 60
    frame = pl.DataFrame(
        {
            "y": [None if i % 11 == 0 else float(v) for i, v in enumerate(rng.normal(10, 3, rows))],
            "w": rng.uniform(0.5, 2.0, rows),
            "stratum": ["A"] * 30 + ["B"] * 10 + ["C"] * 20,
            "psu": [f"a{i % 3}" for i in range(30)] + ["b0"] * 10 + [f"c{i % 4}" for i in range(20)],
            "group": [i % 2 for i in range(rows)],
        }
    ).with_columns(keep=(pl.col("stratum") != "A") | (pl.col("psu") == "a0"))
    ours = design_estimate(
        frame, y="y", weight="w", stratum="stratum", psu="psu", by=("group",), domain="keep"
    )
    for row in ours.iter_rows(named=True):
        domain = frame["keep"].to_numpy() & (frame["group"].to_numpy() == row["group"])
        codes = design_codes(frame["stratum"].to_numpy().astype(str), frame["psu"].to_numpy().astype(str))
        expected = numpy_mean(frame["y"].fill_null(np.nan).to_numpy(), frame["w"].to_numpy(), codes, domain)
        for column in ("estimate", "std_error", "ci_low", "ci_high"):
            assert abs(row[column] - expected[column]) < TOLERANCE, column
        assert (row["n"], row["psu"], row["df"]) == (expected["n"], expected["psu"], expected["df"])


@pytest.mark.parametrize("probability", [0.6, 0.95, 0.975, 0.995])
def test_t_quantiles_equal_scipy(probability: float) -> None:
    """The pure-Python t quantile behind the intervals (scipy is not imported by tabulate)."""
    for df in [*range(1, 60), 71, 99, 150, 515, 999, 1000, 1001, 5000, 10**6]:
        expected = stats.t.ppf(probability, df)
        assert abs(t_quantile(probability, df) - expected) <= 1e-11 * expected, df


# --- R's survey package ----------------------------------------------------------------------------

R_SCRIPT = r"""
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
# svyciprop(method = "beta")'s own formula with n.eff = n: R gives NaN at a share of 0 or 1
# (n.eff = 0/0); ippmd gives this interval there.
beta_n <- function(p, n, df, level = 0.95) {
  alpha <- 1 - level
  n.eff <- n * (qt(alpha / 2, n - 1) / qt(alpha / 2, df))^2
  c(qbeta(alpha / 2, n.eff * p, n.eff * (1 - p) + 1), qbeta(1 - alpha / 2, n.eff * p + 1, n.eff * (1 - p)))
}
share_intervals <- function(s) {  # s: a domain's design with the 0/1 variable `hit`
  logit <- suppressWarnings(svyciprop(~hit, s, method = "logit"))
  beta <- suppressWarnings(svyciprop(~hit, s, method = "beta"))
  c(attr(logit, "ci"), attr(beta, "ci"), beta_n(unname(coef(svymean(~hit, s))), nrow(s), degf(s)))
}
results <- list()
for (file in commandArgs(trailingOnly = TRUE)) {
  levels_file <- paste0(file, ".levels")
  categorical <- file.exists(levels_file)
  share <- categorical || file.exists(paste0(file, ".share"))
  d <- read.csv(file, na.strings = c("", "NA"),
                colClasses = c(key = "character", stratum = "character", psu = "character",
                               y = if (categorical) "character" else "numeric"))
  if (categorical) d$y <- factor(d$y, levels = readLines(levels_file))
  des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = d, nest = TRUE)
  domain <- subset(des, in_domain == 1)
  by <- svyby(~y, ~key, domain, svymean, na.rm = TRUE)
  est <- coef(by); se <- SE(by)
  if (is.data.frame(se) || is.matrix(se)) {  # a factor: one column of SEs per level
    m <- as.matrix(se); colnames(m) <- sub("^se[.]", "", colnames(m))
    se <- setNames(as.vector(m), as.vector(outer(rownames(m), colnames(m), paste, sep = ":")))
  } else {
    se <- setNames(as.vector(se), names(est))
  }
  for (k in sort(unique(d$key[d$in_domain == 1 & !is.na(d$y)]))) {
    sub <- subset(des, in_domain == 1 & key == k & !is.na(y))
    ci <- confint(svymean(~y, sub), df = degf(sub))
    labels <- if (categorical) paste0(k, ":y", levels(d$y)) else k
    cats <- if (categorical) levels(d$y) else ""
    props <- matrix(NA_real_, nrow = length(cats), ncol = 6)
    if (share) for (i in seq_along(cats)) {
      s <- if (categorical) update(sub, hit = as.numeric(y == cats[i])) else update(sub, hit = y)
      props[i, ] <- share_intervals(s)
    }
    results[[length(results) + 1]] <- data.frame(
      query = basename(file), key = k, category = cats, estimate = unname(est[labels]),
      std_error = unname(se[labels]), ci_low = ci[, 1], ci_high = ci[, 2], df = degf(sub),
      n = nrow(sub), logit_low = props[, 1], logit_high = props[, 2], beta_low = props[, 3],
      beta_high = props[, 4], beta_n_low = props[, 5], beta_n_high = props[, 6])
  }
}
write.csv(do.call(rbind, results), stdout(), row.names = FALSE)
"""
R_QUERIES = [
    "by_country", "by_country_sex_where", "by_country_urban_categorical", "numeric_with_missing",
    "education_where", "nonresponse_by_sex",
]  # fmt: skip


def _r_survey(package_dir: Path, tmp_path: Path) -> pl.DataFrame:
    """R's results for R_QUERIES: one row per (query, domain key, category)."""
    files = []
    for name in R_QUERIES:
        query = QUERIES[name]
        frame = design_frame(package_dir, query).with_columns(pl.col("in_domain").cast(pl.Int8))
        path = tmp_path / f"{name}.csv"
        frame.write_csv(path)
        categories = _categories(package_dir, query)
        if categories is not None:
            path.with_name(path.name + ".levels").write_text("\n".join(map(str, categories)) + "\n")
        elif _is_share(package_dir, query):
            path.with_name(path.name + ".share").write_text("")
        files.append(str(path))
    script = tmp_path / "survey.R"
    script.write_text(R_SCRIPT, encoding="utf-8")
    run = subprocess.run(["Rscript", str(script), *files], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return pl.read_csv(
        io.StringIO(run.stdout),
        infer_schema_length=None,
        null_values="NA",
        schema_overrides={"key": pl.String, "category": pl.String},
    )


def _expected_interval(row: dict[str, Any], theirs: dict[str, Any], method: str) -> tuple[Any, Any]:
    """R's interval for the method our row names (a mean's is R's confint with degf)."""
    prefix = {"t": "ci", "logit": "logit", "beta": "beta", "beta (n_eff = n)": "beta_n"}[row["interval"]]
    assert row["interval"] in ("t", method, "beta (n_eff = n)"), row
    return theirs[f"{prefix}_low"], theirs[f"{prefix}_high"]


@pytest.mark.slow  # starts R (about half a minute: a svyglm per share)
@pytest.mark.skipif(not _has_r_survey(), reason="needs Rscript with the survey package (r-cran-survey)")
def test_equals_r_survey(
    package_dir: Path, package: Package, tabulations: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    """Estimates, SEs and df as svymean/degf; intervals as confint (means) and svyciprop logit and
    beta (shares), and at a share of 0 or 1 as svyciprop's beta formula with n_eff = n."""
    r = _r_survey(package_dir, tmp_path)
    worst, at_bounds = 0.0, []
    interval_worst = dict.fromkeys(("t", "logit", "beta", "beta (n_eff = n)"), 0.0)
    for name in R_QUERIES:
        theirs = {
            (row["key"], row["category"] or ""): row
            for row in r.filter(pl.col("query") == f"{name}.csv").iter_rows(named=True)
        }
        ours = ippmd_results(tabulations[name], QUERIES[name].by)
        worst = max(worst, max_difference(ours, theirs, ("estimate", "std_error")))
        assert {k: (v["df"], v["n"]) for k, v in ours.items()} == {
            k: (v["df"], v["n"]) for k, v in theirs.items()
        }
        runs = {"logit": ours}
        if _is_share(package_dir, QUERIES[name]):
            beta = tabulate(package, dataclasses.replace(QUERIES[name], interval="beta")).frame
            runs["beta"] = ippmd_results(beta, QUERIES[name].by)
        for method, rows in runs.items():
            for key, row in rows.items():
                low, high = _expected_interval(row, theirs[key], method)
                expected = {key: {"ci_low": low, "ci_high": high}}
                difference = max_difference({key: row}, expected, ("ci_low", "ci_high"))
                interval_worst[row["interval"]] = max(interval_worst[row["interval"]], difference)
                if row["interval"] == "beta (n_eff = n)":
                    at_bounds.append(row["estimate"])
                    assert theirs[key]["beta_low"] is None, "R's svyciprop beta now gives an interval at 0/1"
    print(f"max abs difference from R survey: {worst:.3g} (estimates, SEs); intervals: {interval_worst}")
    assert worst < 1e-9
    assert max(interval_worst.values()) < R_TOLERANCE
    assert at_bounds.count(0.0) >= 20 and at_bounds.count(1.0) >= 1  # the cases R leaves without an interval


# --- the command line -----------------------------------------------------------------------------


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["remittances_recieved", "--table", "households"], "did you mean 'remittances_received'"),
        (["age", "--table", "person"], "did you mean 'persons'"),
        (["age", "--table", "persons", "--by", "contry"], "did you mean 'country'"),
        (["age", "--table", "persons", "--where", "agee > 3"], "did you mean 'age'"),
        (["age", "--table", "persons", "--where", "age >> 3 AND"], "not a valid SQL condition"),
        (["weight", "--table", "countries"], "no survey design"),
        (["remittances_received", "--table", "persons", "--by", "destination"], "'destination' is in table"),
    ],
)
def test_bad_names_exit_2_with_a_suggestion(package_dir: Path, args: list[str], suggestion: str) -> None:
    result = _run("tabulate", *args, "--package", str(package_dir), "--format", "csv")
    assert result.exit_code == 2, result.output
    assert suggestion in " ".join(result.output.split()), result.output


def test_a_query_selecting_no_rows_exits_1(package_dir: Path) -> None:
    result = _run("tabulate", "age", "--table", "persons", "--where", "age > 200",
                  "--package", str(package_dir), "--format", "csv")  # fmt: skip
    assert result.exit_code == 1
    assert "selects no rows" in result.output


def test_csv_columns_and_identical_bytes_in_every_format(package_dir: Path, tmp_path: Path) -> None:
    args = ["tabulate", "remittance_channel", "--table", "households", "--by", "country,urban",
            "--package", str(package_dir)]  # fmt: skip
    for fmt in ("csv", "md", "html", "xlsx"):
        first, second = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        for out in (first, second):
            result = _run(*args, "--out", str(out))
            assert result.exit_code == 0, result.output
        assert first.read_bytes() == second.read_bytes(), fmt
    frame = pl.read_csv(tmp_path / "a.csv")
    assert frame.columns[:4] == ["country", "urban", "category", "label"]
    assert {"estimate", "std_error", "ci_low", "ci_high", "interval", "n", "psu", "df", "data_origin"} <= set(
        frame.columns
    )
    shares = frame.group_by("country", "urban").agg(pl.col("estimate").sum())
    assert as_number((shares["estimate"] - 1).abs().max()) < 1e-12  # the categories of a domain add up to 1
    assert set(frame["data_origin"]) == {"synthetic"}
    markdown = (tmp_path / "a.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in markdown and "| country | urban | category |" in markdown
    assert "SYNTHETIC" in (tmp_path / "a.html").read_text(encoding="utf-8")
    book = openpyxl.load_workbook(tmp_path / "a.xlsx", read_only=True)
    sheet = [list(row) for row in book["tabulation"].iter_rows(values_only=True)]
    assert sheet[0] == frame.columns and len(sheet) == frame.height + 1
    assert any("SYNTHETIC" in str(row[0]) for row in book["notes"].iter_rows(values_only=True))


def test_the_interval_method_is_chosen_and_named_in_csv_and_html(package_dir: Path, tmp_path: Path) -> None:
    """--interval beta (Korn-Graubard) or the default logit; each row and the notes name it."""
    args = ["tabulate", "education_level", "--table", "persons", "--by", "country", "--where", "age >= 25",
            "--package", str(package_dir)]  # fmt: skip
    for method in ("logit", "beta"):
        chosen = [] if method == "logit" else ["--interval", " Beta "]
        result = _run(*args, *chosen, "--out", str(tmp_path / f"{method}.csv"))
        assert result.exit_code == 0, result.output
        frame = pl.read_csv(tmp_path / f"{method}.csv")
        assert set(frame["interval"]) == {method, "beta (n_eff = n)"}
        assert (frame.filter(pl.col("estimate") == 0)["interval"] == "beta (n_eff = n)").all()
        assert as_number(frame["ci_low"].min()) >= 0 and as_number(frame["ci_high"].max()) <= 1
        page = _run(*args, *chosen, "--format", "html")
        assert page.exit_code == 0, page.output
        assert "<th>interval method</th>" in page.output and f"<td>{method}</td>" in page.output
        assert f"95% interval of a share, {method}:" in page.output
        assert "<td>beta (n_eff = n)</td>" in page.output and "a design effect of 1" in page.output
    means = _run("tabulate", "age", "--table", "persons", "--package", str(package_dir), "--format", "md")
    assert (
        means.exit_code == 0
        and "| t |" in means.output
        and "95% interval (t): estimate +/- t(0.975, df)" in means.output
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["remittances_received", "--table", "households", "--interval", "wald"], "use one of logit, beta"),
        (
            ["age", "--table", "persons", "--interval", "beta"],
            "--interval beta is for shares; 'age' is a mean",
        ),
    ],
)
def test_a_bad_interval_method_exits_2(package_dir: Path, args: list[str], message: str) -> None:
    result = _run("tabulate", *args, "--package", str(package_dir), "--format", "csv")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output


def test_a_declared_survey_design_replaces_the_default(package_dir: Path, tmp_path: Path) -> None:
    """When datapackage.json declares surveyDesign, it is what the estimate uses."""
    shutil.copytree(package_dir / "data", tmp_path / "data", copy_function=os.link)  # inside the package
    descriptor = json.loads((package_dir / "datapackage.json").read_text(encoding="utf-8"))
    for resource in descriptor["resources"]:
        if resource["name"] == "households":
            resource["surveyDesign"] = {"weight": "weight", "psu": "community_id", "strata": "urban"}
    (tmp_path / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    query = QUERIES["by_country"]
    declared = tabulate(tmp_path, query)
    assert declared.design.declared and declared.design.strata == "urban"
    expected = numpy_results(design_frame(tmp_path, query), None)
    assert max_difference(ippmd_results(declared.frame, query.by), expected, ("std_error",)) < TOLERANCE
    default = tabulate(package_dir, query).frame
    assert as_number((declared.frame["std_error"] - default["std_error"]).abs().max()) > 1e-6  # it did change


def test_the_default_design_gives_the_declared_estimates(package_dir: Path, tmp_path: Path) -> None:
    """A package without surveyDesign declarations: the documented default (weight, community
    and region) gives the same numbers. (Persons carry the design columns since 0.2.0, and the
    reader holds every table to its harmonized columns, so the default names columns present.)"""
    shutil.copytree(package_dir / "data", tmp_path / "data", copy_function=os.link)
    descriptor = json.loads((package_dir / "datapackage.json").read_text(encoding="utf-8"))
    for resource in descriptor["resources"]:
        resource.pop("surveyDesign", None)
    (tmp_path / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    query = QUERIES["by_country_sex_where"]
    fallback = tabulate(tmp_path, query)
    assert not fallback.design.declared
    ours = ippmd_results(fallback.frame, query.by)
    declared = ippmd_results(tabulate(package_dir, query).frame, query.by)
    assert max_difference(ours, declared, ("estimate", "std_error", "ci_low", "ci_high")) < TOLERANCE


# --- ippmd extract --list ---------------------------------------------------------------------------


def test_extract_list_is_markdown_when_piped_and_honours_tables(package_dir: Path) -> None:
    result = _run("extract", "--list", "--tables", "households,emigrants", "--package", str(package_dir))
    assert result.exit_code == 0, result.output
    text = result.output
    assert "## households:" in text and "## emigrants:" in text and "## persons:" not in text
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert max(len(line) for line in rows) > 80  # not wrapped at 80 columns
    for line in rows:  # every row of a table has the header's cells (no row broken over lines)
        assert line.endswith("|") and line.replace("\\|", "").count("|") == 6, line
    assert "`remittances_received`" in text
    bad = _run("extract", "--list", "--tables", "houshold", "--package", str(package_dir))
    assert bad.exit_code == 2 and "did you mean 'households'" in " ".join(bad.output.split())


def test_extract_list_is_a_table_in_a_terminal(package_dir: Path) -> None:
    source = open_package(package_dir)
    buffer = io.StringIO()
    terminal = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    render_listing(terminal, source.descriptor, source.country_names, variable_catalog(source), ["persons"])
    shown = buffer.getvalue()
    assert "┃ variable" in shown and "plans_to_emigrate" in shown and "|---|" not in shown
    assert "households: Households" not in shown
    markdown = listing_markdown(
        source.descriptor, source.country_names, variable_catalog(source), ["persons"]
    )
    assert markdown.count("## ") == 1
