"""The expectation suites judged by Great Expectations (the reference engine of build, check and admit).

GX runs on pandas batches in an ephemeral context, without row conditions: each rule reads its
columns masked to the rows `prepare` selected (NULL elsewhere, which every supported expectation
skips), so no pandas `query` runs. Great Expectations is imported inside `run_suites` only (its
import costs 2-4 s), with analytics and progress bars off; `quality.engine_polars` never imports it.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import polars as pl

from ippmd.quality.expectations import MAX_EXAMPLES, Check, Failure, Outcome, Prepared, failures_of, prepare
from ippmd.quality.suites import AGGREGATE_TYPES


def import_gx() -> Any:
    """Import GX with analytics off (the switch must be set before the import)."""
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    with warnings.catch_warnings():  # GX 1.24 imports the deprecated sre_constants/sre_parse
        warnings.simplefilter("ignore", DeprecationWarning)
        import great_expectations as gx

    return gx


def _context(gx: Any) -> Any:
    """An in-memory context: nothing written to disk, no analytics, no progress bars."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _exception_message(info: Any) -> str | None:
    """The first exception message in a GX exception_info (flat, or keyed by metric)."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception") and info.get("exception_message"):
        return str(info["exception_message"])
    for value in info.values():
        found = _exception_message(value)
        if found:
            return found
    return None


def _gx_outcome(prepared: Prepared, check: Check, result: Any, names: dict[str, str]) -> Outcome:
    """An Outcome from a GX result; `names` maps the masked columns GX saw back to the table's."""
    error = _exception_message(result.exception_info)
    if error:
        return Outcome(check, success=False, error=error)
    if result.success:
        return Outcome(check, success=True)
    found = result.result or {}
    if check.type in AGGREGATE_TYPES:
        return Outcome(check, success=False, observed=found.get("observed_value"))
    columns = [names.get(c, c) for c in check.columns]
    rows = []
    for index in found.get("unexpected_index_list") or []:
        value = index.get(columns[0]) if len(columns) == 1 else tuple(index.get(c) for c in columns)
        rows.append((index.get(prepared.country_column), index.get(prepared.key), value))
    return Outcome(check, success=False, rows=rows)


def run_suites(
    tables: dict[str, pl.DataFrame],
    countries: list[str] | None = None,
    resources: Sequence[str] | None = None,
) -> list[Failure]:
    """Validate the tables against the suites with Great Expectations (pandas, ephemeral context).

    `tables`: harmonized resources by name (any subset); `countries`: ISO3 codes to check (default:
    all present); `resources`: the suites to judge (default all; the other tables still feed
    cross-table rules). Rules that need a table not given are skipped. Failures are ordered by
    resource, suite position and country.
    """
    prepared = [p for p in prepare(tables, countries) if resources is None or p.resource in resources]
    gx = import_gx()
    context = _context(gx)
    source = context.data_sources.add_pandas("ippmd")
    shares = {prep.resource: [c for c in prep.checks if _is_share(c)] for prep in prepared}
    outcomes = {
        prep.resource: _gx_validate(
            gx, source, prep, prep.resource, [c for c in prep.checks if not _is_share(c)]
        )
        for prep in prepared
    }
    judged = _gx_validate_shares(gx, source, [(prep, shares[prep.resource]) for prep in prepared])
    failures: list[Failure] = []
    for prep in prepared:
        outcomes[prep.resource].update(judged.get(prep.resource, {}))
        for check in prep.checks:
            failures += failures_of(prep, outcomes[prep.resource][check.position])
    return failures


def _is_share(check: Check) -> bool:
    """A country-level aggregate (distribution) rule, judged on the share table."""
    return check.type in AGGREGATE_TYPES and "country" in check.meta


def share_table(prep: Prepared, checks: list[Check]) -> tuple[pl.DataFrame, dict[int, str]]:
    """One row per country-level aggregate rule: the mean polars measured on its rows, and its bounds.

    Distribution rules are one mean per country and target (about 300 at 1x). GX judges them on this
    table, three expectations in all, instead of 300 expectations that each rescan a whole column in
    Python (GX's pandas mean first looks for Decimal objects value by value).
    """
    rows, errors = [], {}
    for check in checks:
        column = check.columns[0]
        if column not in prep.frame.columns:
            errors[check.position] = f"column(s) not found: {column}"
            continue
        selected = prep.frame.filter(pl.col(check.mask)) if check.mask else prep.frame
        observed = selected.select(pl.col(column).cast(pl.Float64).mean()).item()
        rows.append(
            {
                "rule": f"{prep.resource}:{check.position}",
                "country": check.meta.get("country"),
                "observed": observed,
                "min_value": float(check.kwargs.get("min_value", -math.inf)),
                "max_value": float(check.kwargs.get("max_value", math.inf)),
            }
        )
    schema = {"rule": pl.String, "country": pl.String, "observed": pl.Float64}
    schema |= {"min_value": pl.Float64, "max_value": pl.Float64}
    return pl.DataFrame(rows, schema=schema), errors


def _gx_validate_shares(
    gx: Any, source: Any, parts: list[tuple[Prepared, list[Check]]]
) -> dict[str, dict[int, Outcome]]:
    """Judge the aggregate rules of every resource with GX, on one share table: each share was
    measured (not NULL: its rows exist), and lies within its bounds."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    outcomes: dict[str, dict[int, Outcome]] = {}
    tables, by_rule = [], {}
    for prep, checks in parts:
        table, errors = share_table(prep, checks)
        tables.append(table)
        found = outcomes.setdefault(prep.resource, {})
        for check in checks:
            if check.position in errors:
                found[check.position] = Outcome(check, success=False, error=errors[check.position])
            else:
                by_rule[f"{prep.resource}:{check.position}"] = (prep.resource, check)
    table = pl.concat(tables) if tables else pl.DataFrame()
    if table.height == 0:
        return outcomes
    batch = (
        source.add_dataframe_asset("shares")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": table.to_pandas(use_pyarrow_extension_array=False)})
    )
    rules: list[tuple[str, dict[str, Any]]] = [
        ("expect_column_values_to_not_be_null", {"column": "observed"}),
        (
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "observed", "column_B": "min_value", "or_equal": True},
        ),
        (
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "max_value", "column_B": "observed", "or_equal": True},
        ),
    ]
    suite = gx.ExpectationSuite(
        name="ippmd_shares", expectations=[ExpectationConfiguration(type=t, kwargs=k) for t, k in rules]
    )
    results = batch.validate(
        suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["rule"]}
    )
    del batch
    source.delete_asset("shares")
    failed: set[str] = set()
    for result in results.results:
        error = _exception_message(result.exception_info)
        if error:
            raise RuntimeError(f"GX could not judge the distribution shares: {error}")
        failed |= {str(i["rule"]) for i in (result.result or {}).get("unexpected_index_list") or []}
    observed = dict(zip(table["rule"].to_list(), table["observed"].to_list(), strict=True))
    for rule, (resource, check) in by_rule.items():
        outcomes[resource][check.position] = Outcome(
            check, success=rule not in failed, observed=observed[rule]
        )
    return outcomes


def _masked(frame: pl.DataFrame, check: Check) -> tuple[list[pl.Expr], dict[str, str]]:
    """The check's columns restricted to its `where` rows, for GX without a row condition.

    Outside the mask a value becomes NULL, which map, pair (ignore_row_if), compound and mean
    expectations all skip; for not-null, outside rows get a stand-in value so they pass.
    """
    if check.mask is None:
        return [], {}
    expressions, names = [], {}
    for column in check.columns:
        if column not in frame.columns:
            continue  # GX reports the missing column itself
        name = f"{column}__{check.mask}"
        selected = pl.col(check.mask)
        if check.type == "expect_column_values_to_not_be_null":
            stand_in = pl.lit("", dtype=pl.String) if frame.schema[column] == pl.String else pl.lit(0)
            value = pl.when(selected).then(pl.col(column)).otherwise(stand_in.cast(frame.schema[column]))
        else:
            value = pl.when(selected).then(pl.col(column))
        expressions.append(value.alias(name))
        names[column] = name
    return expressions, names


def _gx_validate(gx: Any, source: Any, prep: Prepared, name: str, checks: list[Check]) -> dict[int, Outcome]:
    """Run `checks` as one GX suite on one pandas batch of the (masked) columns they need."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    index_columns = list(dict.fromkeys([prep.key, prep.country_column]))
    needed = [c for c in index_columns if c in prep.frame.columns]
    expressions: dict[str, pl.Expr] = {}
    renames: dict[int, dict[str, str]] = {}
    for check in checks:
        masked, names = _masked(prep.frame, check)
        renames[check.position] = names
        expressions.update((e.meta.output_name(), e) for e in masked)
        needed += [c for c in check.columns if c in prep.frame.columns and c not in names]
    columns = [pl.col(c) for c in dict.fromkeys(needed)]
    frame = prep.frame.select(*columns, *expressions.values())
    batch = (
        source.add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame.to_pandas(use_pyarrow_extension_array=False)})
    )

    def gx_kwargs(check: Check) -> dict[str, Any]:
        names = renames[check.position]
        kwargs = dict(check.kwargs)
        for key in ("column", "column_A", "column_B"):
            if key in kwargs:
                kwargs[key] = names.get(kwargs[key], kwargs[key])
        if "column_list" in kwargs:
            kwargs["column_list"] = [names.get(c, c) for c in kwargs["column_list"]]
        return kwargs

    def run(selected: list[Check], result_format: str) -> dict[int, Any]:
        # Built in one go: add_expectation_configuration would upsert (replace a rule on the same domain).
        suite = gx.ExpectationSuite(
            name=f"ippmd_{name}_{result_format.lower()}",
            expectations=[
                ExpectationConfiguration(
                    type=c.type, kwargs=gx_kwargs(c), meta={**c.meta, "ippmd_position": c.position}
                )
                for c in selected
            ],
        )
        if len(suite.expectations) != len(selected):
            raise RuntimeError(f"GX refused {len(selected) - len(suite.expectations)} expectations of {name}")
        results = batch.validate(
            suite,
            result_format={
                "result_format": result_format,
                "unexpected_index_column_names": index_columns,
                "partial_unexpected_count": MAX_EXAMPLES,
            },
        )
        return {r.expectation_config.meta["ippmd_position"]: r for r in results.results}

    # A verdict first (cheap: no failing-row metrics), then every failing row of the rules that
    # failed, so failures still split by country and name their rows.
    by_position = run(checks, "BOOLEAN_ONLY")
    failed = [c for c in checks if not by_position[c.position].success]
    if failed:
        by_position.update(run(failed, "COMPLETE"))
    source.delete_asset(name)  # GX's context would otherwise keep the pandas frame alive
    return {c.position: _gx_outcome(prep, c, by_position[c.position], renames[c.position]) for c in checks}
