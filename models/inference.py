"""Inference that holds with few clusters, and the statistics a referee asks for beside it.

* `AbsorbedWLS`: weighted least squares after sweeping one fixed effect out of y and X with the
  weights (Frisch-Waugh-Lovell), with CRV1 standard errors and pyfixest's small-sample factor.
  pyfixest refuses its wild bootstrap with weights, so the bootstrap below is built on this.
* `WildBootstrap`: the wild cluster restricted bootstrap (WCR; Cameron, Gelbach and Miller 2008)
  with Webb's six-point weights, seeded. The restricted residuals, the bootstrap coefficients and
  the bootstrap CRV1 scores are all linear in the hypothesised value r, so after one pass over
  the data each test c'b = r costs O(B) (Roodman, Nielsen, MacKinnon and Webb 2019, "Fast and
  wild"): p-values at any r, and intervals by inverting the test. Each draw is what refitting the
  dummy-variable model on y* = X b_restricted + u_restricted * v would give (a test checks this
  against statsmodels on a small case), including the re-absorption of the fixed effect.
* `holm`, `benjamini_hochberg`: multiplicity adjustments.
* `random_effects`: the random-effects mean of peer effects as R metafor computes it: REML tau^2
  (or DerSimonian-Laird), the Hartung-Knapp-Sidik-Jonkman interval (or a normal one), Cochran's Q
  and a prediction interval for a typical peer.
* `rank_sets`: the marginal and simultaneous confidence sets of every country's rank (Mogstad,
  Romano, Shaikh and Wilhelm 2024, as the R package csranks); `rank_interval`, the percentile
  interval of the plug-in rank that they replace, is kept to show in bench/ how it under-covers.

The settings (level, small-sample factor, few-cluster threshold, draws, seeds) are data, in
`models/inference.yaml`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import linalg, sparse, stats

from ippmd.core.config import install_error, load_checked
from ippmd.core.errors import InputError, UsageError
from ippmd.core.home import package_data
from ippmd.models.design import within

SETTINGS_FILE = package_data(__package__, "inference.yaml")
# Webb (2014) six-point distribution: mean 0, variance 1, each value with probability 1/6.
WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])
CRV1 = "CRV1"
WCR = "WCR"
CR2 = "CR2"


@dataclass(frozen=True)
class Settings:
    """models/inference.yaml, typed."""

    level: float
    ssc: dict[str, Any]
    few_treated_clusters: int
    few_cluster_methods: dict[str, str]  # community_level / within_community -> WCR or CR2
    random_effects: MetaSettings
    bootstrap_draws: int
    bootstrap_seed: int
    max_search_se: float
    rank_draws: int
    rank_seed: int

    def method_label(self, method: str, df: float | None = None) -> str:
        """How a row names its inference, e.g. 'CRV1 t(57)', 'WCR bootstrap-t (Webb, B=1999; CRV1 SE)'
        or 'CR2 t(3.4) Bell-McCaffrey'. The row's std_error, statistic (estimate / std_error), df,
        p-value and interval all come from the method named: the bootstrap's statistic is the CRV1
        t, referred to its bootstrap distribution (no df)."""
        if method == WCR:
            return f"WCR bootstrap-t (Webb, B={self.bootstrap_draws}; CRV1 SE)"
        if method == CR2:
            return f"CR2 t({df:.1f}) Bell-McCaffrey" if df is not None else CR2
        return f"CRV1 t({df:g})" if df is not None else CRV1

    def few_cluster_method(self, community_level: bool) -> str:
        """WCR or CR2 for a flagged term, by the rule of models/inference.yaml."""
        return self.few_cluster_methods["community_level" if community_level else "within_community"]


def _few_cluster_methods(raw: dict[str, str], path: Path) -> dict[str, str]:
    """The method of each kind of flagged term: WCR or CR2 (any case); else a UsageError naming the key."""
    methods = {key: value.upper() for key, value in raw.items()}
    for key, method in methods.items():
        if method not in (WCR, CR2):
            raise UsageError(f"{path}: few_cluster_method.{key}: must be {WCR} or {CR2}, not {raw[key]!r}")
    return methods


def load_settings(path: Path = SETTINGS_FILE) -> Settings:
    """models/inference.yaml, checked by schemas/config/inference.schema.json: a missing or
    malformed key is a UsageError naming the file and the key (a broken install, exit 2)."""
    try:
        raw = load_checked(path, "inference")
    except InputError as exc:
        raise install_error(exc) from None
    return Settings(
        level=float(raw["level"]),
        ssc=dict(raw["ssc"]),
        few_treated_clusters=int(raw["few_treated_clusters"]),
        few_cluster_methods=_few_cluster_methods(raw["few_cluster_method"], path),
        random_effects=_meta_settings(raw["random_effects"]),
        bootstrap_draws=int(raw["bootstrap"]["draws"]),
        bootstrap_seed=int(raw["bootstrap"]["seed"]),
        max_search_se=float(raw["bootstrap"]["max_search_se"]),
        rank_draws=int(raw["ranks"]["draws"]),
        rank_seed=int(raw["ranks"]["seed"]),
    )


@cache
def settings() -> Settings:
    return load_settings()


def seeded_rng(seed: int, key: str) -> np.random.Generator:
    """A generator for one named use (a spec, a contrast): the same key always gets the same draws."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(key.encode("utf-8"))]))


def webb_weights(n_clusters: int, draws: int, seed: int, key: str) -> np.ndarray:
    """(clusters x draws) Webb weights, one per cluster and draw."""
    return WEBB[seeded_rng(seed, key).integers(0, WEBB.size, size=(n_clusters, draws))]


def t_quantile(df: float, level: float) -> float:
    return float(stats.t.ppf(0.5 + level / 2, df)) if df > 0 else math.inf


def t_p_value(t: float, df: float) -> float:
    return float(2 * stats.t.sf(abs(t), df)) if df > 0 else math.nan


def small_sample_factor(
    ssc: dict[str, Any], n_obs: int, k: int, n_fe_levels: int, fe_nested: bool, n_clusters: int
) -> float:
    """pyfixest's CRV1 factor for one fixed effect (utils.get_ssc): (N-1)/(N-K) x G/(G-1)."""
    rule = ssc.get("k_fixef", "nonnested")
    if rule == "none":
        df_k = k
    elif rule == "nonnested" and fe_nested:
        df_k = k + 1  # the nested fixed effect counts once (pyfixest: k + k_fe - k_fe + 1)
    else:
        df_k = k + n_fe_levels
    factor = (n_obs - 1) / (n_obs - df_k) if ssc.get("k_adj", True) else 1.0
    if ssc.get("G_adj", True):
        factor *= n_clusters / (n_clusters - 1)
    return factor


def cluster_sums(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per-cluster sums of each column of values (rows x columns -> clusters x columns)."""
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=n)
    indicator = sparse.csr_matrix(
        (np.ones(codes.size), (codes, np.arange(codes.size))), shape=(n, codes.size)
    )
    return np.asarray(indicator @ values)


def unique_pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The distinct (first, second) rows of two non-negative integer code arrays, sorted: what
    np.unique(np.column_stack([first, second]), axis=0) gives, through one integer key."""
    width = int(second.max()) + 1 if second.size else 1
    keys = np.unique(first.astype(np.int64) * width + second.astype(np.int64))
    return np.column_stack([keys // width, keys % width])


def level_of_cluster(model: AbsorbedWLS) -> np.ndarray:
    """The fixed-effect level of each cluster; ValueError when the clusters are not nested in the
    fixed effect (then neither the bootstrap's re-absorption nor CR2's blocks have a closed form)."""
    pairs = unique_pairs(model.cluster, model.fe)
    if pairs.shape[0] != model.n_clusters:
        raise ValueError("clusters are not nested in the fixed effect")
    level = np.empty(model.n_clusters, dtype=np.int64)
    level[pairs[:, 0]] = pairs[:, 1]
    return level


def independent_columns(gram: np.ndarray, candidates: list[int], tol: float = 1e-9) -> list[int]:
    """The candidates, in order, that are not linear combinations of earlier kept ones: an
    incremental Cholesky of the Gram matrix (a column whose residual norm is below tol times its
    own norm is dropped, as pyfixest drops collinear variables)."""
    kept: list[int] = []
    factor = np.zeros((0, 0))
    for j in candidates:
        if kept:
            cross = linalg.solve_triangular(factor, gram[kept, j], lower=True)
            residual = gram[j, j] - cross @ cross
        else:
            cross, residual = np.zeros(0), gram[j, j]
        if residual <= tol * max(gram[j, j], 1e-300):
            continue
        size = len(kept)
        grown = np.zeros((size + 1, size + 1))
        grown[:size, :size] = factor
        grown[size, :size] = cross
        grown[size, size] = math.sqrt(residual)
        factor = grown
        kept.append(j)
    return kept


@dataclass
class AbsorbedWLS:
    """WLS of y on X with one fixed effect swept out (weighted demeaning); CRV1 by cluster."""

    names: list[str]
    X: np.ndarray  # demeaned regressors, N x k (columns that vanish or are collinear dropped)
    y: np.ndarray  # demeaned outcome
    weights: np.ndarray
    cluster: np.ndarray  # codes 0..G-1
    fe: np.ndarray  # codes 0..F-1 of the absorbed fixed effect
    beta: np.ndarray
    bread: np.ndarray  # (X'WX)^-1
    residuals: np.ndarray
    ssc: float
    dropped: list[str]

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max()) + 1

    @classmethod
    def fit(
        cls,
        y: np.ndarray,
        X: np.ndarray,
        names: list[str],
        weights: np.ndarray,
        cluster: np.ndarray,
        fe: np.ndarray,
        ssc: dict[str, Any],
    ) -> AbsorbedWLS:
        w = np.asarray(weights, dtype=float)
        swept = within(np.column_stack([y, X]), [fe], w)
        y_t, X_t = swept[:, 0], swept[:, 1:]
        # A column constant within every fixed-effect group (a country where the treatment never
        # varies) is zero after demeaning: no estimate, as in pyfixest.
        scale = np.sqrt((w[:, None] * X**2).sum(axis=0)) + 1e-300
        keep = np.sqrt((w[:, None] * X_t**2).sum(axis=0)) > 1e-9 * scale
        # Drop further columns that are exact linear combinations of the kept ones (in order).
        full_gram = X_t.T @ (w[:, None] * X_t)
        kept = independent_columns(full_gram, [int(j) for j in np.flatnonzero(keep)])
        X_k = X_t[:, kept]
        gram = full_gram[np.ix_(kept, kept)]
        bread = np.linalg.inv(gram)
        beta = bread @ (X_k.T @ (w * y_t))
        residuals = y_t - X_k @ beta
        n_clusters = int(cluster.max()) + 1
        per_fe = np.zeros(int(fe.max()) + 1, dtype=np.int64)
        pairs = unique_pairs(fe, cluster)
        np.add.at(per_fe, pairs[:, 0], 1)
        fe_nested = bool((per_fe == 1).all())  # every fixed-effect level inside one cluster
        factor = small_sample_factor(ssc, y.size, len(kept), int(fe.max()) + 1, fe_nested, n_clusters)
        return cls(
            names=[names[j] for j in kept],
            X=X_k,
            y=y_t,
            weights=w,
            cluster=cluster,
            fe=fe,
            beta=beta,
            bread=bread,
            residuals=residuals,
            ssc=factor,
            dropped=[names[j] for j in sorted(set(range(len(names))) - set(kept))],
        )

    def scores(self, residuals: np.ndarray) -> np.ndarray:
        """Cluster scores X_g' W_g e_g (clusters x k)."""
        return cluster_sums(self.cluster, self.X * (self.weights * residuals)[:, None], self.n_clusters)

    def vcov(self) -> np.ndarray:
        s = self.scores(self.residuals)
        return self.ssc * self.bread @ (s.T @ s) @ self.bread

    def contrast_vector(self, weights: dict[str, float]) -> np.ndarray:
        index = {name: i for i, name in enumerate(self.names)}
        c = np.zeros(len(self.names))
        for name, value in weights.items():
            c[index[name]] = value
        return c


@dataclass(frozen=True)
class BootstrapContrast:
    """Everything the WCR test of c'b = r needs, for any r: t*_b(r) = (n0 - r n1) / sqrt(ssc
    (a - 2 r b + r^2 c)) per draw, against t(r) = (estimate - r) / std_error."""

    estimate: float
    std_error: float  # CRV1
    n0: np.ndarray
    n1: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    ssc: float
    max_search_se: float

    def t_draws(self, r: float) -> tuple[float, np.ndarray]:
        """The original t-statistic and the bootstrap ones under H0: c'b = r."""
        variance = self.ssc * np.maximum(self.a - 2 * r * self.b + r * r * self.c, 1e-300)
        return (self.estimate - r) / self.std_error, (self.n0 - r * self.n1) / np.sqrt(variance)

    def p_value(self, r: float = 0.0) -> float:
        """Symmetric bootstrap p-value: the share of draws with |t*| >= |t|."""
        t, draws = self.t_draws(r)
        return float(np.mean(np.abs(draws) >= abs(t) * (1 - 1e-12)))

    def interval(self, level: float) -> tuple[float, float]:
        """{r : p(r) > 1 - level}, searched outward from the estimate, refined by bisection;
        +/- inf when no value within max_search_se standard errors is rejected."""
        alpha = 1 - level
        se = self.std_error
        steps = [
            *np.arange(0.25, 8.01, 0.25),
            *2.0 ** np.arange(3.5, math.log2(self.max_search_se) + 0.01, 0.5),
        ]
        bounds = []
        for side in (-1.0, 1.0):
            inside, outside = self.estimate, None
            for step in steps:
                r = self.estimate + side * step * se
                if self.p_value(r) <= alpha:
                    outside = r
                    break
                inside = r
            if outside is None:
                bounds.append(side * math.inf)
                continue
            for _ in range(40):
                middle = (inside + outside) / 2
                if self.p_value(middle) <= alpha:
                    outside = middle
                else:
                    inside = middle
            bounds.append((inside + outside) / 2)
        return bounds[0], bounds[1]


@dataclass
class WildBootstrap:
    """WCR bootstrap draws for one absorbed model: the same Webb weights for every contrast."""

    model: AbsorbedWLS
    draws: np.ndarray  # clusters x B
    sum_by_cluster: np.ndarray  # clusters x k: X_g' W_g 1
    fe_of_cluster: np.ndarray
    fe_sum: Any  # scipy.sparse (levels x clusters): 1 / W_level where the cluster is in the level
    max_search_se: float

    @classmethod
    def prepare(cls, model: AbsorbedWLS, draws: np.ndarray, max_search_se: float = 200.0) -> WildBootstrap:
        """Raises ValueError when the clusters are not nested in the fixed effect (then the
        re-absorption of the fixed effect per draw has no closed form here)."""
        G = model.n_clusters
        fe_of_cluster = level_of_cluster(model)
        fe_weight = np.bincount(model.fe, weights=model.weights)
        wx = model.X * model.weights[:, None]
        return cls(
            model=model,
            draws=draws,
            sum_by_cluster=cluster_sums(model.cluster, wx, G),
            fe_of_cluster=fe_of_cluster,
            fe_sum=sparse.csr_matrix(
                (1 / fe_weight[fe_of_cluster], (fe_of_cluster, np.arange(G))), shape=(fe_weight.size, G)
            ),
            max_search_se=max_search_se,
        )

    def _linear_parts(self, residuals: np.ndarray, mc: np.ndarray, q: np.ndarray, zeta: np.ndarray) -> tuple:
        """Bootstrap numerators (B) and contrast scores (clusters x B) for restricted residuals e:
        u*_g = e_g v_g - (fixed-effect mean of e v) - X_g M S v, scored with c'M X_g' W_g."""
        m = self.model
        v = self.draws
        s = m.scores(residuals)  # clusters x k
        a = s @ mc  # c'M s_g
        totals = np.bincount(m.cluster, weights=m.weights * residuals, minlength=m.n_clusters)
        fe_means = self.fe_sum @ (totals[:, None] * v)  # level x B: weighted means of e * v
        scores = a[:, None] * v - zeta[:, None] * fe_means[self.fe_of_cluster] - q @ (s.T @ v)
        return a @ v, scores

    def contrast(self, c: np.ndarray) -> BootstrapContrast:
        m = self.model
        mc = m.bread @ c
        cmc = float(c @ mc)
        estimate = float(c @ m.beta)
        s_hat = m.scores(m.residuals) @ mc
        std_error = math.sqrt(m.ssc * float(s_hat @ s_hat))
        d = m.X @ mc / cmc  # restricted residuals: e(r) = (u + d c'b) - r d
        e0 = m.residuals + d * estimate
        # c'M X_g'W_g X_g M per cluster (clusters x k), without forming X_g'W_g X_g
        q = cluster_sums(m.cluster, m.X * (m.weights * (m.X @ mc))[:, None], m.n_clusters) @ m.bread
        zeta = self.sum_by_cluster @ mc
        n0, p0 = self._linear_parts(e0, mc, q, zeta)
        n1, p1 = self._linear_parts(d, mc, q, zeta)
        return BootstrapContrast(
            estimate=estimate,
            std_error=std_error,
            n0=n0,
            n1=n1,
            a=(p0 * p0).sum(axis=0),
            b=(p0 * p1).sum(axis=0),
            c=(p1 * p1).sum(axis=0),
            ssc=m.ssc,
            max_search_se=self.max_search_se,
        )


# --- CR2 with Bell-McCaffrey degrees of freedom --------------------------------------------


@dataclass(frozen=True)
class CR2Contrast:
    """The CR2 test of c'b = r: t = (estimate - r) / std_error against t(df), df from Bell and
    McCaffrey (2002), as in Imbens and Kolesar (2016) and Pustejovsky and Tipton (2018)."""

    estimate: float
    std_error: float  # CR2
    df: float  # Bell-McCaffrey

    def p_value(self, r: float = 0.0) -> float:
        return t_p_value((self.estimate - r) / self.std_error, self.df) if self.std_error > 0 else math.nan

    def interval(self, level: float) -> tuple[float, float]:
        half = t_quantile(self.df, level) * self.std_error
        return self.estimate - half, self.estimate + half


@dataclass
class CR2Model:
    """CR2 ("bias-reduced linearization", Bell and McCaffrey 2002) cluster-robust variance with
    Bell-McCaffrey (Satterthwaite) degrees of freedom, for one absorbed model whose clusters are
    nested in the absorbed fixed effect.

    The weights are sampling weights, not inverse variances, so the working model is
    homoskedastic (Phi = I; clubSandwich's default for a weighted `lm`, Pustejovsky and Tipton
    2018). With H = Z (Z'WZ)^-1 Z'W the hat matrix of the full dummy-variable model Z = [X, D],
    cluster g's adjustment is A_g = B_g^(-1/2), B_g = [(I - H)(I - H)']_gg, the Moore-Penrose
    root where B_g is singular (e.g. a cluster alone in its fixed-effect level). By
    Frisch-Waugh-Lovell H = P_D + Xd M Xd'W (Xd: the demeaned X, M = (Xd'W Xd)^-1), so
    B_g = I + C_g K C_g' with C_g = [1, w, Xd, W Xd] of the cluster's rows: its root needs one
    thin SVD of C_g, never an n_g x n_g matrix. For c'b: p_g = A_g W_g Xd_g M c,
    V = sum_g (p_g' e_g)^2 and, with Omega = P'(I - H)(I - H)'P (P: the p_g, one column per
    cluster), df = tr(Omega)^2 / tr(Omega^2) (Imbens and Kolesar 2016).
    """

    model: AbsorbedWLS
    basis: Any  # scipy.sparse (N x R): block-diagonal, each cluster's orthonormal basis of the
    # non-trivial part of B_g, so that A_g v = v + Q_g diag(f - 1) Q_g' v for all clusters at once
    factors: np.ndarray  # (R) eigenvalue^(-1/2) - 1 (-1 where the eigenvalue vanishes)
    level: np.ndarray  # fixed-effect level of each cluster
    level_weight: np.ndarray  # W_l = sum of w in level l
    level_square: np.ndarray  # Q_l = sum of w^2 in level l
    level_mean: np.ndarray  # a_l = sum_(i in l) w_i^2 xd_i / W_l (levels x k)
    square_gram: np.ndarray  # Xd' W^2 Xd

    @classmethod
    def prepare(cls, model: AbsorbedWLS, tol: float = 1e-10) -> CR2Model:
        """Raises ValueError when the clusters are not nested in the fixed effect."""
        G = model.n_clusters
        level = level_of_cluster(model)
        w, X, M = model.weights, model.X, model.bread
        n_levels = int(model.fe.max()) + 1
        level_weight = np.bincount(model.fe, weights=w, minlength=n_levels)
        level_square = np.bincount(model.fe, weights=w * w, minlength=n_levels)
        level_mean = cluster_sums(model.fe, X * (w * w)[:, None], n_levels) / level_weight[:, None]
        square_gram = X.T @ (X * (w * w)[:, None])
        middle = M @ square_gram @ M
        order = np.argsort(model.cluster, kind="stable")
        bounds = np.searchsorted(model.cluster[order], np.arange(G + 1))
        entries, row_of, column_of, factors = [], [], [], []
        width = 0
        for g in range(G):
            idx = order[bounds[g] : bounds[g + 1]]
            lv = level[g]
            x = X[idx]
            live = np.flatnonzero(np.abs(x).max(axis=0) > 0)  # other countries' slopes are 0 here
            x, m, a = x[:, live], M[np.ix_(live, live)], M[live] @ level_mean[lv]
            k = live.size
            W_l = level_weight[lv]
            # B_g = I + C K C', C = [1, w, Xd, W Xd]
            C = np.column_stack([np.ones(idx.size), w[idx], x, x * w[idx, None]])
            K = np.zeros((2 * k + 2, 2 * k + 2))
            K[0, 0] = level_square[lv] / W_l**2
            K[0, 1] = K[1, 0] = -1.0 / W_l
            K[0, 2 : 2 + k] = K[2 : 2 + k, 0] = a
            K[2 : 2 + k, 2 : 2 + k] = middle[np.ix_(live, live)]
            K[2 : 2 + k, 2 + k :] = K[2 + k :, 2 : 2 + k] = -m
            u, s, vt = np.linalg.svd(C, full_matrices=False)
            keep = s > tol * max(float(s[0]), 1.0)
            u, core = u[:, keep], (s[keep, None] * vt[keep]) @ K @ (vt[keep].T * s[keep])
            values, vectors = np.linalg.eigh(np.eye(keep.sum()) + (core + core.T) / 2)
            root = np.where(values > tol, 1.0 / np.sqrt(np.maximum(values, tol)), 0.0)
            q = u @ vectors
            entries.append(q.ravel())
            row_of.append(np.repeat(idx, q.shape[1]))
            column_of.append(np.tile(np.arange(width, width + q.shape[1]), idx.size))
            factors.append(root - 1.0)
            width += q.shape[1]
        basis = sparse.csr_matrix(
            (np.concatenate(entries), (np.concatenate(row_of), np.concatenate(column_of))),
            shape=(model.y.size, width),
        )
        return cls(
            model, basis, np.concatenate(factors), level, level_weight, level_square, level_mean, square_gram
        )

    def _satterthwaite(
        self, norm: np.ndarray, alpha: np.ndarray, beta: np.ndarray, sigma: np.ndarray, tau: np.ndarray
    ) -> float:
        """tr(Omega)^2 / tr(Omega^2) without forming the G x G matrix Omega = P'(I - H)(I - H)'P.

        With, per cluster g of level l, norm = p'p, alpha = 1'p, beta = w'p, sigma = Xd'p and
        tau = Xd'W p: Omega = D + B + U C U', where D = diag(norm); B is block-diagonal by level,
        B_gh = alpha_g alpha_h Q_l / W_l^2 - (alpha_g beta_h + beta_g alpha_h) / W_l; and
        U = [sigma, alpha a_l'M, tau] with C = [[M Xd'W^2Xd M, I, -M], [I, 0, 0], [-M, 0, 0]]
        (from H = P_D + Xd M Xd'W, whose blocks are H_gh = 1[same level] 1 w_h'/W_l + Xd_g M Xd_h'W_h).
        """
        M = self.model.bread
        k = M.shape[0]
        level, n_levels = self.level, self.level_weight.size
        q = self.level_square / self.level_weight**2
        iw = 1.0 / self.level_weight
        U = np.column_stack([sigma, alpha[:, None] * (self.level_mean[level] @ M), tau])
        C = np.zeros((3 * k, 3 * k))
        C[:k, :k] = M @ self.square_gram @ M
        C[:k, k : 2 * k] = C[k : 2 * k, :k] = np.eye(k)
        C[:k, 2 * k :] = C[2 * k :, :k] = -M
        b_diag = alpha**2 * q[level] - 2 * alpha * beta * iw[level]
        trace = float(norm.sum() + b_diag.sum() + np.einsum("gi,ij,gj->", U, C, U))
        # ||D + B||^2, B's blocks through their 2 x 2 cores E_l = [[q, -1/W], [-1/W, 0]]
        F = cluster_sums(level, np.column_stack([alpha**2, alpha * beta, beta**2]), n_levels)
        F = F[:, [0, 1, 1, 2]].reshape(n_levels, 2, 2)
        E = np.stack([q, -iw, -iw, np.zeros(n_levels)], axis=1).reshape(n_levels, 2, 2)
        square = float(
            (norm**2).sum() + 2 * (norm * b_diag).sum() + np.einsum("lij,ljk,lkm,lmi->", E, F, E, F)
        )
        # 2 <D + B, U C U'> + ||U C U'||^2
        r_alpha = cluster_sums(level, alpha[:, None] * U, n_levels)
        r_beta = cluster_sums(level, beta[:, None] * U, n_levels)
        inner = (
            (U * norm[:, None]).T @ U
            + (r_alpha * q[:, None]).T @ r_alpha
            - (r_alpha * iw[:, None]).T @ r_beta
            - (r_beta * iw[:, None]).T @ r_alpha
        )
        cu = C @ (U.T @ U)
        square += 2 * float(np.trace(inner @ C)) + float(np.trace(cu @ cu))
        return trace**2 / square

    def contrast(self, c: np.ndarray) -> CR2Contrast:
        m = self.model
        w, X, M = m.weights, m.X, m.bread
        mc = M @ c
        v = w * (X @ mc)  # W Xd M c
        p = v + self.basis @ (self.factors * (self.basis.T @ v))  # A_g W_g Xd_g M c, every g
        G = m.n_clusters

        def per_cluster(values: np.ndarray) -> np.ndarray:
            return cluster_sums(m.cluster, values, G)

        score = per_cluster(p * m.residuals)
        norm, alpha, beta = per_cluster(p * p), per_cluster(p), per_cluster(p * w)
        sigma, tau = per_cluster(X * p[:, None]), per_cluster(X * (w * p)[:, None])
        df = self._satterthwaite(norm, alpha, beta, sigma, tau)
        return CR2Contrast(estimate=float(c @ m.beta), std_error=math.sqrt(float(score @ score)), df=df)


# --- multiplicity ----------------------------------------------------------------------------


def _finite(p: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    values = np.array([np.nan if v is None else float(v) for v in p], dtype=float)
    return values, np.flatnonzero(np.isfinite(values))


def holm(p: Sequence[float | None]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error); missing p-values stay missing and
    do not count in the family."""
    values, idx = _finite(p)
    out = np.full(values.size, np.nan)
    m = idx.size
    order = idx[np.argsort(values[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * values[i]))
        out[i] = running
    return out.tolist()


def benjamini_hochberg(p: Sequence[float | None]) -> list[float]:
    """Benjamini-Hochberg q-values (false discovery rate); missing p-values stay missing."""
    values, idx = _finite(p)
    out = np.full(values.size, np.nan)
    m = idx.size
    order = idx[np.argsort(values[idx], kind="stable")]
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, values[i] * m / (rank + 1))
        out[i] = running
    return out.tolist()


# --- random-effects peer mean ----------------------------------------------------------------

REML = "REML"
DL = "DL"
HKSJ = "HKSJ"
HKSJ_TRUNCATED = "HKSJ-truncated"
NORMAL = "normal"
PREDICTION_DEFAULT = "default"
PREDICTION_RILEY = "riley"


@dataclass(frozen=True)
class MetaSettings:
    """models/inference.yaml `random_effects`: how the random-effects peer mean is estimated."""

    tau2: str  # REML or DL
    interval: str  # HKSJ (metafor test="knha"), HKSJ-truncated (test="adhoc") or normal (test="z")
    prediction: str  # default (metafor predict()) or riley (t(k-2))
    tolerance: float  # REML: Fisher scoring stops when tau^2 moves by less than this x max(1, tau^2)
    max_iterations: int
    step_adjustments: tuple[float, ...]  # metafor's stepadj, tried in turn until one converges
    fallback: str  # the estimator used when REML does not converge (DL)


def _meta_settings(raw: dict[str, Any]) -> MetaSettings:
    reml = raw["reml"]
    return MetaSettings(
        tau2=str(raw["tau2"]),
        interval=str(raw["interval"]),
        prediction=str(raw["prediction"]),
        tolerance=float(reml["tolerance"]),
        max_iterations=int(reml["max_iterations"]),
        step_adjustments=tuple(float(a) for a in reml["step_adjustments"]),
        fallback=str(reml["fallback"]),
    )


@dataclass(frozen=True)
class RandomEffects:
    """The random-effects mean of k estimates, its interval, tau^2, Cochran's Q and the
    prediction interval for a new (typical) member; `method` names all of it in words."""

    mean: float
    std_error: float
    ci_low: float
    ci_high: float
    tau2: float
    q: float
    q_df: int
    q_p_value: float
    prediction_low: float
    prediction_high: float
    method: str = ""
    df: float = math.inf  # of the mean's interval (inf: normal)


@dataclass(frozen=True)
class Tau2:
    """An estimate of tau^2 and the words that name how it was obtained."""

    value: float
    label: str


def dl_tau2(y: np.ndarray, v: np.ndarray) -> float:
    """DerSimonian and Laird's (1986) moment estimator, truncated at 0 (metafor method="DL")."""
    k = y.size
    w = 1 / v
    q = float((w * (y - (w * y).sum() / w.sum()) ** 2).sum())
    trace = float(w.sum() - (w**2).sum() / w.sum())
    return max(0.0, (q - (k - 1)) / trace) if k > 1 and trace > 0 else 0.0


def restricted_log_likelihood(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    """The REML log-likelihood of tau^2 for an intercept-only model, up to a constant."""
    w = 1 / (v + tau2)
    mean = (w * y).sum() / w.sum()
    return -0.5 * float(np.log(v + tau2).sum() + math.log(w.sum()) + (w * (y - mean) ** 2).sum())


def reml_tau2(
    y: np.ndarray, v: np.ndarray, tolerance: float, max_iterations: int, step_adjustment: float = 1.0
) -> float | None:
    """REML tau^2 by Fisher scoring as metafor's rma(method="REML"): start at Hedges' estimator
    truncated at 0, step step_adjustment x (y'PPy - tr P) / tr(PP), halve a step that would cross
    0. None when no step within max_iterations moves tau^2 by less than tolerance x max(1, tau^2)
    (Fisher scoring can oscillate between two values; a smaller step_adjustment damps it). At the
    boundary the restricted likelihood at tau^2 = 0 is compared with the converged value and the
    larger wins (metafor's ll0check), so that a maximum at 0 is exactly 0."""
    k = y.size
    if k < 2:
        return 0.0
    tau2 = max(0.0, float(((y - y.mean()) ** 2).sum() - v.sum() * (1 - 1 / k)) / (k - 1))
    for _ in range(max_iterations):
        w = 1 / (v + tau2)
        total = w.sum()
        residual = w * (y - (w * y).sum() / total)  # P y
        trace = total - (w**2).sum() / total  # tr P
        trace_square = (w**2).sum() - 2 * (w**3).sum() / total + ((w**2).sum() / total) ** 2  # tr PP
        step = step_adjustment * float((residual @ residual - trace) / trace_square)
        if tau2 == 0.0:
            step = max(step, 0.0)
        while tau2 + step < 0.0:
            step /= 2
        tau2 += step
        if abs(step) <= tolerance * max(1.0, tau2):
            break
    else:
        return None
    if tau2 > 0 and restricted_log_likelihood(y, v, 0.0) >= restricted_log_likelihood(y, v, tau2):
        return 0.0
    return tau2


def estimate_tau2(y: np.ndarray, v: np.ndarray, options: MetaSettings) -> Tau2:
    """tau^2 by the settings' estimator. REML tries Fisher scoring with each step adjustment in
    turn (metafor's remedy when it does not converge), then falls back; the label says which."""
    if options.tau2 == DL:
        return Tau2(dl_tau2(y, v), "DL tau2")
    for adjustment in options.step_adjustments:
        reml = reml_tau2(y, v, options.tolerance, options.max_iterations, adjustment)
        if reml is not None:
            return Tau2(
                reml, "REML tau2" if adjustment == 1 else f"REML tau2 (Fisher scoring step x{adjustment:g})"
            )
    label = f"{options.fallback} tau2 (REML did not converge in {options.max_iterations} iterations)"
    return Tau2(dl_tau2(y, v), label)


def _critical(df: float, level: float) -> float:
    """The two-sided critical value of t(df), normal for df = inf, nan for df < 1."""
    if math.isinf(df):
        return float(stats.norm.ppf(0.5 + level / 2))
    return float(stats.t.ppf(0.5 + level / 2, df)) if df >= 1 else math.nan


def random_effects(
    estimates: Sequence[float], std_errors: Sequence[float], level: float, options: MetaSettings
) -> RandomEffects:
    """The random-effects mean as metafor's rma(yi, sei = se, method = tau2, test = ...) with
    predict(): HKSJ scales the variance 1 / sum w* by the weighted residual variance
    sum w* (y - mean)^2 / (k - 1) (not truncated at 1 unless the interval is HKSJ-truncated) and
    uses t(k - 1); the prediction interval is mean +/- crit x sqrt(SE^2 + tau^2), crit that of the
    mean's interval (t(k - 1) or normal), or t(k - 2) with `riley` (Higgins, Thompson and
    Spiegelhalter 2009). Inputs with a missing or infinite standard error carry no information
    and are left out."""
    y = np.asarray(estimates, dtype=float)
    se = np.asarray(std_errors, dtype=float)
    ok = np.isfinite(y) & np.isfinite(se) & (se > 0)
    y, v = y[ok], se[ok] ** 2
    k = y.size
    nan = math.nan
    if k == 0:
        return RandomEffects(nan, nan, nan, nan, nan, nan, 0, nan, nan, nan, "none (no peer estimates)")
    w = 1 / v
    q = float((w * (y - (w * y).sum() / w.sum()) ** 2).sum())
    tau2 = estimate_tau2(y, v, options)
    w_star = 1 / (v + tau2.value)
    mean = float((w_star * y).sum() / w_star.sum())
    variance = 1 / float(w_star.sum())
    if options.interval == NORMAL:
        df, interval = math.inf, "normal interval"
    else:
        df = float(k - 1)
        residual = float((w_star * (y - mean) ** 2).sum())
        factor = residual / (k - 1) if k > 1 and residual > np.finfo(float).eps else 0.0
        if options.interval == HKSJ_TRUNCATED:
            factor = max(factor, 1.0)
        variance *= factor
        interval = f"{options.interval} t({k - 1})"
    std_error = math.sqrt(variance) if k > 1 or math.isinf(df) else nan
    half = _critical(df, level) * std_error
    prediction_df = max(float(k - 2), 1.0) if options.prediction == PREDICTION_RILEY and k > 1 else df
    spread = _critical(prediction_df, level) * math.sqrt(variance + tau2.value)
    prediction = "normal" if math.isinf(prediction_df) else f"t({prediction_df:g})"
    return RandomEffects(
        mean=mean,
        std_error=std_error,
        ci_low=mean - half,
        ci_high=mean + half,
        tau2=tau2.value,
        q=q,
        q_df=k - 1,
        q_p_value=float(stats.chi2.sf(q, k - 1)) if k > 1 else nan,
        prediction_low=mean - spread,
        prediction_high=mean + spread,
        method=f"{tau2.label}; {interval}; prediction {prediction}",
        df=df,
    )


DERSIMONIAN_LAIRD = MetaSettings(
    tau2=DL,
    interval=NORMAL,
    prediction=PREDICTION_RILEY,
    tolerance=0.0,
    max_iterations=0,
    step_adjustments=(),
    fallback=DL,
)


def dersimonian_laird(estimates: Sequence[float], std_errors: Sequence[float], level: float) -> RandomEffects:
    """DerSimonian and Laird (1986): moment tau^2, normal interval of the mean, prediction
    interval t(k - 2) (metafor rma(method="DL") with predict(pi.type="riley"))."""
    return random_effects(estimates, std_errors, level, DERSIMONIAN_LAIRD)


# --- ranks: valid confidence sets and the old percentile interval ---------------------------

RANK_METHOD = "Mogstad-Romano-Shaikh-Wilhelm (2024)"


def rank_method_label(draws: int) -> str:
    """How a row names its rank sets, e.g. 'Mogstad-Romano-Shaikh-Wilhelm (2024) two-sided stepdown,
    10000 normal draws'."""
    return f"{RANK_METHOD} two-sided stepdown, {draws} normal draws"


def correlation_draws(
    estimates: np.ndarray,
    std_errors: np.ndarray,
    correlation: np.ndarray,
    draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """(draws x k) normal draws with the given correlations and standard errors (inf allowed:
    that estimate then carries no information on its rank)."""
    values, vectors = np.linalg.eigh((correlation + correlation.T) / 2)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    z = rng.standard_normal((draws, estimates.size)) @ root.T
    with np.errstate(invalid="ignore"):
        return estimates + z * std_errors


def rank_interval(
    estimates: np.ndarray,
    std_errors: np.ndarray,
    correlation: np.ndarray,
    focus: int,
    sign: float,
    level: float,
    draws: int,
    rng: np.random.Generator,
) -> tuple[int, int]:
    """(low, high) quantiles of the focus's plug-in rank over draws around the estimates; rank 1
    is the largest effect in the direction `sign`. NOT a confidence set: when effects are close
    it under-covers (bench/bench_rank_sets.py); `rank_sets` gives the valid sets. Kept for that
    comparison and for the remittance-cost benchmark until it moves to `rank_sets`."""
    sample = sign * correlation_draws(estimates, std_errors, correlation, draws, rng)
    ranks = 1 + (sample > sample[:, [focus]]).sum(axis=1)
    alpha = 1 - level
    low, high = np.quantile(ranks, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return int(low), int(high)


def point_rank(estimates: np.ndarray, focus: int, sign: float) -> int:
    """1 + the number of countries with a larger effect in the direction of the finding."""
    signed = sign * estimates
    return int(1 + (signed > signed[focus]).sum())


@dataclass(frozen=True)
class RankSets:
    """Each country's plug-in rank and its marginal and simultaneous confidence sets
    {low, ..., high} (1 = the largest effect in the direction ranked)."""

    rank: np.ndarray
    marginal_low: np.ndarray
    marginal_high: np.ndarray
    simultaneous_low: np.ndarray
    simultaneous_high: np.ndarray


def pairwise_lower_bounds(
    differences: np.ndarray,
    sd: np.ndarray,
    scaled: np.ndarray,
    tested: np.ndarray,
    level: float,
    stepdown: bool = True,
) -> np.ndarray:
    """Simultaneous lower confidence bounds L[a, b] of theta_a - theta_b over the tested ordered
    pairs (-inf elsewhere), as csranks' `csdiffmeans` for a two-sided rank set: the critical value
    is the `level` quantile (R's type 7) over the draws of the max, over the pairs still tested, of
    (Z_a - Z_b) / sd_ab with Z ~ N(0, Sigma) (`scaled`: n^2 x draws, pair (a, b) in row a n + b).
    With `stepdown`, pairs whose bound exceeds 0 are set aside and the rest tested again until no
    new one is (Romano and Wolf 2005). Taking both orientations of each pair, the first step is the
    symmetric max |t| test. A pair whose difference has no finite positive standard deviation is
    never rejected (and left out of the max)."""
    p = differences.shape[0]
    lower = np.full((p, p), -math.inf)
    active = tested & np.isfinite(sd) & (sd > 0)
    np.fill_diagonal(active, False)
    while active.any():
        a, b = np.nonzero(active)
        t_max = scaled[a * p + b].max(axis=0)
        critical = float(np.quantile(t_max, level))  # numpy "linear" = R quantile type 7
        lower[a, b] = differences[a, b] - sd[a, b] * critical
        rejected = active & (lower > 0)
        if not stepdown or not rejected.any():
            break
        active &= ~rejected
    return lower


def _rank_bounds(lower: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank sets from lower bounds of pairwise differences: 1 + #{k: theta_k surely larger} to
    n - #{k: theta_k surely smaller}."""
    p = lower.shape[0]
    better = (lower[:, members] > 0).sum(axis=0)  # k with L[k, j] > 0
    worse = (lower[members, :] > 0).sum(axis=1)  # k with L[j, k] > 0
    return 1 + better, p - worse


def rank_sets(
    estimates: np.ndarray,
    std_errors: np.ndarray,
    correlation: np.ndarray,
    sign: float,
    level: float,
    draws: int,
    rng: np.random.Generator,
    stepdown: bool = True,
) -> RankSets:
    """The two-sided rank confidence sets of Mogstad, Romano, Shaikh and Wilhelm (2024, Review of
    Economic Studies 91(1), "Inference for ranks with applications to mobility across
    neighbourhoods and academic achievement across countries"), built as the R package csranks
    builds them (`csranks(x, Sigma, simul = FALSE / TRUE, stepdown = TRUE)`), with one set of
    normal draws of the estimation error (Sigma from `std_errors` and `correlation`) for every set.

    The marginal set of country j covers j's rank with probability `level`: its family is the
    2(n - 1) ordered pairs (j, k) and (k, j). The simultaneous sets cover every country's rank at
    once: their family is every ordered pair. A country with an infinite standard error has no
    pair tested and its set is [1, n]; it widens no other set beyond what it leaves unknown."""
    n = estimates.size
    signed = sign * np.asarray(estimates, dtype=float)
    finite = np.isfinite(std_errors)
    se = np.where(finite, std_errors, 0.0)
    noise = correlation_draws(np.zeros(n), se, correlation, draws, rng)
    covariance = _covariance(se, correlation)
    variance = np.diag(covariance)
    with np.errstate(invalid="ignore"):
        sd = np.sqrt(np.maximum(variance[:, None] + variance[None, :] - 2 * covariance, 0.0))
    sd[~finite, :] = math.inf
    sd[:, ~finite] = math.inf
    differences = signed[:, None] - signed[None, :]
    signed_noise = sign * noise
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = ((signed_noise.T[:, None, :] - signed_noise.T[None, :, :]) / sd[:, :, None]).reshape(
            n * n, draws
        )
    every = np.arange(n)
    marginal_low, marginal_high = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    for j in every:
        tested = np.zeros((n, n), dtype=bool)
        tested[j, :] = tested[:, j] = True
        lower = pairwise_lower_bounds(differences, sd, scaled, tested, level, stepdown)
        low, high = _rank_bounds(lower, np.array([j]))
        marginal_low[j], marginal_high[j] = low[0], high[0]
    lower = pairwise_lower_bounds(differences, sd, scaled, np.ones((n, n), dtype=bool), level, stepdown)
    simultaneous_low, simultaneous_high = _rank_bounds(lower, every)
    return RankSets(
        rank=np.array([point_rank(signed, int(j), 1.0) for j in every], dtype=np.int64),
        marginal_low=marginal_low,
        marginal_high=marginal_high,
        simultaneous_low=simultaneous_low.astype(np.int64),
        simultaneous_high=simultaneous_high.astype(np.int64),
    )


def _covariance(std_errors: np.ndarray, correlation: np.ndarray) -> np.ndarray:
    """The covariance the draws of `correlation_draws` have (its correlation clipped to be
    positive semi-definite, as there)."""
    values, vectors = np.linalg.eigh((correlation + correlation.T) / 2)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) * std_errors[:, None]
    return root @ root.T
