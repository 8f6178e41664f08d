"""Explicit dummy-variable design matrices for a spec (no absorption).

pyfixest absorbs fixed effects; this module spells every dummy out. It serves as the reference
implementation in the statsmodels benchmark and to compute the regression weights behind a
pooled estimate (which countries the pooled slope averages over, and how much).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ippmd.models.spec import ModelSpec


@dataclass(frozen=True)
class Design:
    y: np.ndarray
    X: np.ndarray
    names: list[str]
    weights: np.ndarray
    clusters: np.ndarray  # integer codes
    countries: np.ndarray  # country of each row


def codes(values: pl.Series) -> np.ndarray:
    """0-based contiguous integer codes of a column's values (for bincount and clusters)."""
    return (values.rank("dense") - 1).cast(pl.Int64).to_numpy()


def _dummies(values: pl.Series, prefix: str, drop_first: bool) -> tuple[np.ndarray, list[str]]:
    levels = sorted(values.unique().to_list())
    if drop_first:
        levels = levels[1:]
    codes = values.to_numpy()
    return (
        np.column_stack([(codes == level).astype(float) for level in levels])
        if levels
        else np.empty((values.len(), 0)),
        [f"{prefix}[{level}]" for level in levels],
    )


def design(spec: ModelSpec, frame: pl.DataFrame, fixed_effects: tuple[str, ...], by_country: bool) -> Design:
    """y and X = [treatment(s) or country x treatment, controls, all fixed-effect dummies]."""
    columns: list[np.ndarray] = []
    names: list[str] = []
    countries = frame["country"].to_numpy()
    for term in spec.treatments:
        t = frame[term].to_numpy().astype(float)
        if by_country:
            for country in sorted(set(countries)):
                columns.append(t * (countries == country))
                names.append(f"country::{country}:{term}")
        else:
            columns.append(t)
            names.append(term)
    for control in spec.controls:
        if frame.schema[control] == pl.String:
            block, labels = _dummies(frame[control], f"C({control})", drop_first=True)
            columns.extend(block.T)
            names.extend(labels)
        else:
            columns.append(frame[control].to_numpy().astype(float))
            names.append(control)
    for i, fe in enumerate(fixed_effects):
        block, labels = _dummies(frame[fe], fe, drop_first=i > 0)
        columns.extend(block.T)
        names.extend(labels)
    clusters = codes(frame[spec.cluster])
    return Design(
        y=frame[spec.model_outcome].to_numpy().astype(float),
        X=np.column_stack(columns),
        names=names,
        weights=frame[spec.weights].to_numpy().astype(float),
        clusters=clusters,
        countries=countries,
    )


def within(
    matrix: np.ndarray, groups: list[np.ndarray], weights: np.ndarray, tol: float = 1e-12
) -> np.ndarray:
    """Subtract weighted group means for each fixed effect (alternating projections; exact in
    one pass for a single fixed effect): the Frisch-Waugh-Lovell route around dummy columns."""
    out = np.array(matrix, dtype=float, copy=True)
    for _ in range(1000):
        largest = 0.0
        for codes in groups:
            totals = np.bincount(codes, weights=weights)
            for j in range(out.shape[1]):
                means = np.bincount(codes, weights=weights * out[:, j]) / totals
                out[:, j] -= means[codes]
                largest = max(largest, float(np.abs(means).max()))
        if len(groups) == 1 or largest < tol:
            break
    return out


def wls(y: np.ndarray, X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares by sqrt(w) scaling and an orthogonal (lstsq) solve."""
    root = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(X * root[:, None], y * root, rcond=None)
    return beta
