"""A fixed-effects benchmark on REAL data: the cost of remitting to each country, corridor by corridor.

The World Bank's Remittance Prices Worldwide (RPW) prices corridors (sending x receiving country)
each quarter. This module fits, with pyfixest, the whole corridor x quarter panel of the original
file (every corridor in it, not only the IPPMD countries'):

    cost[s, r, q] = theta[r] + alpha[s] + gamma[q] + e,

cost = average total cost of sending USD 200, % of the amount sent (so effects are percentage
points of the amount sent). Weighting: none; each priced corridor-quarter counts once, so a
corridor priced in more quarters weighs more, and no corridor is weighted by its remittance
volume (the file has none). Standard errors are CRV1 clustered by corridor (serial correlation
within a corridor), t(G - 1) with G corridors.

A receiving country's effect is reported against the mean effect of all receivers in the file
(a contrast that does not depend on which receiver pyfixest drops as reference). The focus
country's premium against its peers (the other package countries with a corridor) uses the same
machinery as the survey benchmarks: the fixed-peer mean and the difference, the random-effects
peer mean, the rank's confidence sets (`rank_sets`; rank 1 = the most expensive), and Holm /
Benjamini-Hochberg over the focus-against-each-peer differences. A country with few corridors
has an effect resting on few clusters; where the focus has fewer corridors than the few-cluster
threshold, the wild cluster restricted bootstrap (sender absorbed, quarters as dummies) is still
computed into the CSV, but with one treated corridor neither it nor CRV1 is a valid interval: the
report shows none, and `remittance_costs_corridor` gives the corridor comparison by window with
randomisation inference over corridors.

The original file is read with `ippmd.indicators.rpw.read_corridors` from
`../shared/data/external` (checked against its recorded SHA-256, so the vintage label is right);
when it is absent `cost_benchmark` raises InputError, and the report says why the part is skipped
(`ippmd.reporting.benchmark.try_cost_benchmark`).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ippmd.core.home import shared_dir
from ippmd.indicators.provenance import check_originals, sources
from ippmd.indicators.rpw import read_corridors
from ippmd.models.design import codes
from ippmd.models.inference import (
    WCR,
    AbsorbedWLS,
    WildBootstrap,
    benjamini_hochberg,
    holm,
    point_rank,
    random_effects,
    rank_method_label,
    rank_sets,
    seeded_rng,
    settings,
    t_p_value,
    t_quantile,
    webb_weights,
)
from ippmd.models.remittance_costs_corridor import corridor_windows

SOURCE_ID = "wb_rpw_corridors"
Z = 1.959963984540054
COUNTRY_COLUMNS = (
    "country", "estimate", "std_error", "ci_low", "ci_high", "p_value", "raw_mean_cost", "n_corridors",
    "n_obs", "first_period", "last_period",
)  # fmt: skip
PAIR_COLUMNS = ("focus", "peer", "difference", "std_error", "ci_low", "ci_high", "p_value", "p_holm", "q_bh")


@dataclass
class CostBenchmark:
    """The fitted panel and the focus comparison, ready for CSV and the report."""

    focus: str
    countries: pl.DataFrame  # one row per package country (missing: no corridor)
    pairs: pl.DataFrame  # focus - each peer
    comparison: dict[str, Any]
    without_corridor: list[str]
    n_obs: int
    n_corridors: int
    n_receivers: int
    n_senders: int
    periods: tuple[str, str]
    source: str
    vintage: str
    citation: str
    windows: pl.DataFrame | None = None  # the corridor comparison by window (remittance_costs_corridor)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def headline(self) -> dict[str, Any] | None:
        """The windows table's headline row (the surveys' fieldwork years), if there is one."""
        if self.windows is None:
            return None
        rows = self.windows.filter(pl.col("role") == "headline")
        return rows.row(0, named=True) if rows.height else None


def original_path(source_dir: Path | None = None) -> Path:
    directory = source_dir or shared_dir() / "data" / "external"
    return directory / sources()[SOURCE_ID].file


def corridor_panel(path: Path) -> pl.DataFrame:
    """sender, receiver, corridor, quarter, cost: one row per priced corridor-quarter."""
    rows = read_corridors(path, sources()[SOURCE_ID].file)
    return (
        pl.DataFrame(
            {
                "sender": [c.sender for c in rows],
                "receiver": [c.receiver for c in rows],
                "quarter": [c.period for c in rows],
                "cost": [c.value for c in rows],
            }
        )
        .with_columns(corridor=pl.col("sender") + "->" + pl.col("receiver"))
        .sort("corridor", "quarter")
    )


def _our_words(message: str) -> str:
    """A pyfixest warning about the panel, as a diagnostic of ours."""
    dropped = re.findall(r"C\(receiver\)\[T\.([A-Z]{3})\]", message)
    if "multicollinearity" in message and dropped:
        return (
            f"no receiver effect for {', '.join(dropped)}: collinear with the sender and quarter "
            "effects (pyfixest dropped it)"
        )
    return f"pyfixest: {message[:300]}"


def fit_panel(panel: pl.DataFrame) -> Any:
    """cost ~ C(receiver) + C(quarter) | sender, unweighted, CRV1 by corridor (pyfixest).

    The same model as `| sender + quarter`, with the quarters as dummies: one absorbed fixed
    effect is removed exactly, two are iterated to a tolerance, and the standard errors then
    differed between identical runs in the 7th significant digit (thread timing)."""
    import pyfixest as pf

    return pf.feols(
        "cost ~ C(receiver) + C(quarter) | sender",
        panel.to_pandas(),
        vcov={"CRV1": "corridor"},
        ssc=pf.ssc(**settings().ssc),
        fixef_rm="none",
        lean=True,
        store_data=False,
        copy_data=False,
    )


def receiver_contrasts(model: Any, receivers: list[str]) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Each receiver's effect minus the mean effect of all receivers with one: estimates,
    covariance, and the row of each receiver. The reference level (the first) has effect 0;
    a receiver pyfixest dropped as collinear has none and is left out of the mean."""
    names = [str(n) for n in model._coefnames]
    beta = np.asarray(model._beta_hat, dtype=float)
    vcov = np.asarray(model._vcov, dtype=float)
    position = {
        name.removeprefix("C(receiver)[T.").removesuffix("]"): i
        for i, name in enumerate(names)
        if name.startswith("C(receiver)[T.")
    }
    estimable = [r for r in receivers if r == receivers[0] or r in position]
    L = np.zeros((len(estimable), beta.size))  # receiver effect (reference: the zero row)
    for row, receiver in enumerate(estimable):
        if receiver in position:
            L[row, position[receiver]] = 1.0
    L = L - L.mean(axis=0)
    return L @ beta, L @ vcov @ L.T, {r: i for i, r in enumerate(estimable)}


def _bootstrap_premium(panel: pl.DataFrame, focus: str, peers: list[str]) -> tuple[float, float, float]:
    """WCR p-value and interval of the focus premium over the peer mean: sender absorbed,
    receivers and quarters as dummy columns, Webb weights by corridor."""
    config = settings()
    receivers = sorted(panel["receiver"].unique().to_list())
    quarters = sorted(panel["quarter"].unique().to_list())
    r = panel["receiver"].to_numpy()
    q = panel["quarter"].to_numpy()
    columns = [(r == level).astype(float) for level in receivers[1:]]
    columns += [(q == level).astype(float) for level in quarters[1:]]
    names = [f"r:{level}" for level in receivers[1:]] + [f"q:{level}" for level in quarters[1:]]
    model = AbsorbedWLS.fit(
        panel["cost"].to_numpy(),
        np.column_stack(columns),
        names,
        np.ones(panel.height),
        codes(panel["corridor"]),
        codes(panel["sender"]),
        config.ssc,
    )
    weights: dict[str, float] = {}
    for country, w in [(focus, 1.0), *((p, -1 / len(peers)) for p in peers)]:
        if f"r:{country}" in model.names:
            weights[f"r:{country}"] = weights.get(f"r:{country}", 0.0) + w
    draws = webb_weights(model.n_clusters, config.bootstrap_draws, config.bootstrap_seed, "rpw:" + focus)
    contrast = WildBootstrap.prepare(model, draws, config.max_search_se).contrast(
        model.contrast_vector(weights)
    )
    low, high = contrast.interval(config.level)
    return contrast.p_value(0.0), low, high


@dataclass(frozen=True)
class ReceiverFit:
    """The panel's receiver effects (against the mean receiver) and what the comparisons need."""

    theta: np.ndarray  # effect of each estimable receiver
    cov: np.ndarray
    row_of: dict[str, int]  # receiver -> its row in theta
    df: float  # corridors - 1
    q: float  # the t quantile of the intervals
    by_receiver: dict[str, dict[str, Any]]  # n_corridors, n_obs, raw_mean_cost, first/last period
    n_receivers: int
    notes: list[str]  # pyfixest's warnings, in our words


def fit_receivers(panel: pl.DataFrame) -> ReceiverFit:
    """The fixed-effects fit of the whole panel, and each receiver's corridors and raw mean cost."""
    config = settings()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fit_panel(panel)
    notes = [_our_words(" ".join(str(w.message).split())) for w in caught]
    receivers = sorted(panel["receiver"].unique().to_list())
    theta, cov, row_of = receiver_contrasts(model, receivers)
    df = float(panel["corridor"].n_unique() - 1)
    stats = panel.group_by("receiver").agg(
        pl.col("corridor").n_unique().alias("n_corridors"),
        pl.len().alias("n_obs"),
        pl.col("cost").mean().alias("raw_mean_cost"),
        pl.col("quarter").min().alias("first_period"),
        pl.col("quarter").max().alias("last_period"),
    )
    by_receiver = {row["receiver"]: row for row in stats.iter_rows(named=True)}
    q = t_quantile(df, config.level)
    return ReceiverFit(theta, cov, row_of, df, q, by_receiver, len(receivers), notes)


def country_effects(fit: ReceiverFit, package_countries: list[str]) -> pl.DataFrame:
    """One row per package country: its effect and interval, or (no corridor) zero counts."""
    rows = []
    for country in sorted(package_countries):
        if country not in fit.row_of:
            rows.append({"country": country, "n_corridors": 0, "n_obs": 0})
            continue
        i = fit.row_of[country]
        estimate, se = float(fit.theta[i]), math.sqrt(fit.cov[i, i])
        rows.append(
            {
                "country": country,
                "estimate": estimate,
                "std_error": se,
                "ci_low": estimate - fit.q * se,
                "ci_high": estimate + fit.q * se,
                "p_value": t_p_value(estimate / se, fit.df),
                **{
                    k: fit.by_receiver[country][k]
                    for k in ("raw_mean_cost", "n_corridors", "n_obs", "first_period", "last_period")
                },
            }
        )
    schema = {
        "country": pl.String, "estimate": pl.Float64, "std_error": pl.Float64, "ci_low": pl.Float64,
        "ci_high": pl.Float64, "p_value": pl.Float64, "raw_mean_cost": pl.Float64, "n_corridors": pl.Int64,
        "n_obs": pl.Int64,
        "first_period": pl.String, "last_period": pl.String,
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema).select(COUNTRY_COLUMNS)


def cost_benchmark(
    package_countries: list[str],
    focus: str,
    source_dir: Path | None = None,
    fieldwork: tuple[int, int] | None = None,
) -> CostBenchmark:
    """The panel fit, the focus comparison and the corridor comparison by window (headline: the
    `fieldwork` calendar years; without them, no windows table); InputError when the original is
    missing or differs from the recorded file (then the caller skips this part with a note)."""
    import time

    started = time.perf_counter()
    directory = source_dir or shared_dir() / "data" / "external"
    check_originals(directory, [SOURCE_ID])
    panel = corridor_panel(original_path(directory))
    fit = fit_receivers(panel)
    present = [c for c in sorted(package_countries) if c in fit.row_of]
    source = sources()[SOURCE_ID]
    bench = CostBenchmark(
        focus=focus,
        countries=country_effects(fit, package_countries),
        pairs=pl.DataFrame(
            schema=dict.fromkeys(PAIR_COLUMNS, pl.Float64) | {"focus": pl.String, "peer": pl.String}
        ),
        comparison={},
        without_corridor=[c for c in sorted(package_countries) if c not in fit.row_of],
        n_obs=panel.height,
        n_corridors=panel["corridor"].n_unique(),
        n_receivers=fit.n_receivers,
        n_senders=panel["sender"].n_unique(),
        periods=(str(panel["quarter"].min()), str(panel["quarter"].max())),
        source=f"{source.producer}, {source.title}",
        vintage=source.vintage,
        citation=source.title,
        windows=corridor_windows(panel, focus, fieldwork) if fieldwork else None,
        notes=fit.notes,
    )
    peers = [c for c in present if c != focus]
    if focus not in fit.row_of or not peers:
        bench.notes.append(
            f"{focus} has no corridor in the file: no premium."
            if focus not in fit.row_of
            else "No peer has a corridor."
        )
    else:
        bench.pairs, bench.comparison = focus_premium(fit, present, focus)
        few = few_corridor_premium(panel, focus, peers, bench.comparison)
        bench.comparison.update(few)
        if few:
            bench.notes.append(
                f"{focus}'s premium rests on {bench.comparison['focus_corridors']} corridor(s) (fewer than "
                f"{settings().few_treated_clusters}): neither the corridor-clustered CRV1 interval nor the "
                "wild cluster bootstrap is valid with so few treated corridors, so the report shows no "
                "interval for it (remittance_cost_comparison.csv keeps both, for reference only)."
            )
    bench.seconds = time.perf_counter() - started
    return bench


def few_corridor_premium(
    panel: pl.DataFrame, focus: str, peers: list[str], comparison: dict[str, Any]
) -> dict[str, Any]:
    """The bootstrap columns of the comparison when the focus has fewer corridors than the
    few-cluster threshold (else none)."""
    config = settings()
    if comparison["focus_corridors"] >= config.few_treated_clusters:
        return {}
    p_boot, low, high = _bootstrap_premium(panel, focus, peers)
    return {
        "bootstrap_method": config.method_label(WCR),
        "bootstrap_p_value": p_boot,
        "bootstrap_ci_low": low,
        "bootstrap_ci_high": high,
    }


def focus_premium(fit: ReceiverFit, present: list[str], focus: str) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The focus against each peer (Holm, BH) and against the peer mean: fixed and random-effects
    peer means, the difference, the rank and its confidence sets, marginal and simultaneous
    (Mogstad, Romano, Shaikh and Wilhelm 2024; 1 = the most expensive)."""
    config = settings()
    peers = [c for c in present if c != focus]
    index = [fit.row_of[c] for c in present]
    sub_theta, sub_cov = fit.theta[index], fit.cov[np.ix_(index, index)]
    f = present.index(focus)
    q, df = fit.q, fit.df

    def combination(weights: np.ndarray) -> tuple[float, float]:
        return float(weights @ sub_theta), math.sqrt(float(weights @ sub_cov @ weights))

    peer_weights = np.array([0.0 if c == focus else 1 / len(peers) for c in present])
    focus_weights = np.eye(len(present))[f]
    peer_mean, peer_se = combination(peer_weights)
    difference, difference_se = combination(focus_weights - peer_weights)
    ses = np.sqrt(np.diag(sub_cov))
    random = random_effects(
        [fit.theta[fit.row_of[c]] for c in peers],
        [ses[present.index(c)] for c in peers],
        config.level,
        config.random_effects,
    )
    rng = seeded_rng(config.rank_seed, f"rpw:{focus}")
    corr = sub_cov / np.outer(ses, ses)
    sets = rank_sets(sub_theta, ses, corr, 1.0, config.level, config.rank_draws, rng)
    pairs = [
        (peer, *combination(focus_weights - np.eye(len(present))[present.index(peer)])) for peer in peers
    ]
    raw = np.array([fit.by_receiver[c]["raw_mean_cost"] for c in present])
    comparison: dict[str, Any] = {
        "focus": focus,
        "n_peers": len(peers),
        "focus_raw_mean_cost": float(raw[f]),
        "raw_rank": point_rank(raw, f, 1.0),
        "focus_estimate": float(sub_theta[f]),
        "focus_std_error": float(ses[f]),
        "focus_corridors": int(fit.by_receiver[focus]["n_corridors"]),
        "peer_mean": peer_mean,
        "peer_mean_std_error": peer_se,
        "peer_mean_ci_low": peer_mean - q * peer_se,
        "peer_mean_ci_high": peer_mean + q * peer_se,
        "difference": difference,
        "difference_std_error": difference_se,
        "difference_ci_low": difference - q * difference_se,
        "difference_ci_high": difference + q * difference_se,
        "difference_p_value": t_p_value(difference / difference_se, df),
        "method": config.method_label("CRV1", df),
        "rank": point_rank(sub_theta, f, 1.0),
        "rank_marginal_low": int(sets.marginal_low[f]),
        "rank_marginal_high": int(sets.marginal_high[f]),
        "rank_simultaneous_low": int(sets.simultaneous_low[f]),
        "rank_simultaneous_high": int(sets.simultaneous_high[f]),
        "rank_method": rank_method_label(config.rank_draws),
        "n_ranked": len(present),
        "peer_mean_re": random.mean,
        "peer_mean_re_ci_low": random.ci_low,
        "peer_mean_re_ci_high": random.ci_high,
        "tau2": random.tau2,
        "cochran_q": random.q,
        "cochran_q_p_value": random.q_p_value,
        "prediction_low": random.prediction_low,
        "prediction_high": random.prediction_high,
        "peer_mean_re_method": random.method,
        "bootstrap_method": None,
        "bootstrap_p_value": None,
        "bootstrap_ci_low": None,
        "bootstrap_ci_high": None,
    }
    return pair_table(focus, pairs, q, df), comparison


def pair_table(focus: str, pairs: list[tuple[str, float, float]], q: float, df: float) -> pl.DataFrame:
    """focus - each peer: (peer, difference, standard error) with intervals, p, Holm and BH."""
    rows: list[dict[str, Any]] = [
        {
            "focus": focus,
            "peer": peer,
            "difference": value,
            "std_error": se,
            "ci_low": value - q * se,
            "ci_high": value + q * se,
            "p_value": t_p_value(value / se, df),
        }
        for peer, value, se in pairs
    ]
    p = [r["p_value"] for r in rows]
    for r, ph, qb in zip(rows, holm(p), benjamini_hochberg(p), strict=True):
        r["p_holm"], r["q_bh"] = ph, qb
    return pl.DataFrame(rows).select(PAIR_COLUMNS)
