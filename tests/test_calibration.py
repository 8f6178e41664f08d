"""Synthetic microdata hit each country's published (or assumed) targets within sampling error."""

from __future__ import annotations

import polars as pl
import pytest

from ippmd.core.calibration import calibration_report, weighted_share
from ippmd.core.metadata import country_codes


@pytest.mark.parametrize("iso3", country_codes())
def test_weighted_shares_match_targets(iso3: str, tables: dict[str, pl.DataFrame]) -> None:
    rows = calibration_report(tables, iso3)
    assert len(rows) >= 25, "most targets must be measured"
    misses = [
        f"{r['target']}: target {r['value']:.3f}, estimate {r['estimate']:.3f} (se {r['std_error']:.3f})"
        for r in rows
        # 4 standard errors: clustered (estimated), or binomial at the target for small samples
        if abs(r["estimate"] - r["value"])
        > 4 * max(r["std_error"], (r["value"] * (1 - r["value"]) / r["n"]) ** 0.5, 0.004)
    ]
    assert not misses, "\n".join(misses)


def test_cambodia_published_shares(tables: dict[str, pl.DataFrame]) -> None:
    """Seed figures: 41% of households with an emigrant, 14% with a return migrant, ~10% plan."""
    report = {r["target"]: r for r in calibration_report(tables, "KHM")}
    assert not report["households_with_emigrant"]["assumed"]
    assert abs(report["households_with_emigrant"]["estimate"] - 0.41) < 0.04
    assert abs(report["households_with_return_migrant"]["estimate"] - 0.14) < 0.03
    assert abs(report["plans_to_emigrate"]["estimate"] - 0.10) < 0.02


def test_weighted_share_uses_weights_and_clusters() -> None:
    frame = pl.DataFrame({"y": [1, 0, 0, 0], "weight": [3.0, 1.0, 1.0, 1.0], "cluster": ["a", "a", "b", "b"]})
    result = weighted_share(frame, "y = 1", None)
    assert result["estimate"] == pytest.approx(0.5)
    assert result["n"] == 4
    # clusters: a -> (1-.5)*3 + (0-.5)*1 = 1; b -> -1; var = 2/1 * 2 / 36
    assert result["std_error"] == pytest.approx((2 * 2 / 36) ** 0.5)
