"""Design-based tabulations (StatCompiler-style): weighted means and shares with their uncertainty.

The estimator is R `survey`'s, so that a result can be reproduced there:

    des <- svydesign(ids = ~psu, strata = ~strata, weights = ~weight, data = d, nest = TRUE)
    svyby(~y, ~by, des, svymean, na.rm = TRUE); confint(..., df = degf(domain design))

- **Estimate**: the weighted mean of the variable in the domain (a yes/no variable's mean is its
  share of Yes); a categorical variable gives the weighted share of each category.
- **Standard error**: Taylor linearisation of the ratio mean; PSU totals of the linearised
  variable, centred within each stratum, with the factor n_h / (n_h - 1); no finite-population
  correction (with-replacement PSUs, as R without `fpc`).
- **Domains** (`by`, `where`, `countries`) are domains of the full design, never separate samples:
  rows outside the domain count as zeros, every stratum keeps all its PSUs (n_h from the full
  table), as R's `subset()` of a design does.
- **Missing values** of the variable are left out as R's `svymean(..., na.rm = TRUE)` does: a
  row with a missing value is outside the domain (it is dropped from the design, which keeps its
  PSU counts). Rows with a missing `by` value are left out as `svyby` leaves them out.
- **Degrees of freedom**: R's `degf()` of the domain's design, the rows used (in the domain, the
  variable not missing): PSUs with such rows minus strata with such rows. The 95% interval of a
  mean is estimate +/- t(0.975, df) x SE, R's `confint(..., df = df)`; a share's is R's
  `svyciprop()` (logit by default, or Korn-Graubard beta; `ippmd.explore.proportion`), never outside
  [0, 1]; the `interval` column names the method of each row; no interval when df < 1.
- **Lonely PSUs** (a stratum with one PSU in the full design): R's
  `options(survey.lonely.psu = "adjust")` -- the PSU's total is centred at the population mean
  (zero for a linearised mean) instead of its stratum mean, a conservative contribution; with
  the default `survey.adjust.domain.lonely = FALSE`, a stratum left with one PSU in a domain is
  centred as usual.
- Strata are country x stratum (countries are separate samples), PSUs are nested in strata.

A query that selects no rows raises `EmptySelection` (exit 1 on the command line: the request
is valid, the data hold nothing for it); unknown names raise `UsageError` with suggestions (exit 2).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from ippmd.core.errors import InputError, Problem, UsageError
from ippmd.core.schema import check_condition, row_mask
from ippmd.explore.design import COUNTRY, Package, SurveyDesign, suggest
from ippmd.explore.proportion import AT_BOUNDS, DEFAULT, DESCRIPTION, Method, share_interval
from ippmd.explore.student_t import t_quantile

Kind = Literal["mean", "share", "categorical"]
LONELY_PSU = "adjust"  # R: options(survey.lonely.psu = "adjust")
CONFIDENCE = 0.95
RESULT_COLUMNS = ("estimate", "std_error", "ci_low", "ci_high", "interval", "n", "psu", "df")
MEAN_INTERVAL = "t"  # the `interval` of a mean's row: estimate +/- t(0.975, df) x SE
# Internal column names (never a schema field: fields are lower-case identifiers).
_Y, _W, _STRATUM, _PSU, _CAT, _DOMAIN = "__y", "__w", "__stratum", "__psu", "__category", "__all"


class EmptySelection(Exception):
    """A valid query that selects no rows (exit 1: the data hold nothing for it)."""


@dataclass(frozen=True)
class Query:
    """What to estimate: a variable of a table, optionally by columns, in a domain."""

    variable: str
    table: str
    by: tuple[str, ...] = ()
    where: str | None = None
    countries: tuple[str, ...] | None = None
    interval: Method | None = None  # shares only: logit (the default when None) or beta

    @property
    def share_interval(self) -> Method:
        return self.interval or DEFAULT


@dataclass
class Tabulation:
    """A result table with what is needed to read it (labels, design, notes)."""

    query: Query
    kind: Kind
    field: dict[str, Any]
    design: SurveyDesign
    frame: pl.DataFrame
    synthetic: bool
    by_fields: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    joined: dict[str, str] = dataclasses.field(default_factory=dict)  # column -> its linked table
    data_hash: str = ""  # the package's dataHash: what a program cites with the numbers

    @property
    def category_labels(self) -> dict[Any, str]:
        return {c["value"]: c["label"] for c in self.field.get("categories", [])}

    def statistic(self) -> str:
        """What `estimate` is, in words."""
        name, title = self.query.variable, self.field.get("title", self.query.variable)
        if self.kind == "share":
            yes = self.category_labels.get(1, "Yes")
            return f"weighted share with {name} = 1 ({yes}): {title}"
        if self.kind == "categorical":
            return f"weighted share of each category of {name}: {title}"
        unit = f" ({self.field['unit']})" if self.field.get("unit") else ""
        return f"weighted mean of {name}{unit}: {title}"

    def interval_notes(self) -> list[str]:
        """How the 95% interval of each row was made (its `interval` column names the method)."""
        df = "df = R's degf() of the domain's design (PSUs minus strata with rows used); none when df < 1"
        if self.kind == "mean":
            return [f"95% interval ({MEAN_INTERVAL}): estimate +/- t(0.975, df) x SE with {df}."]
        method = self.query.share_interval
        return [
            f"95% interval of a share, {DESCRIPTION[method]}; {df}; never outside [0, 1].",
            "A share of 0 or 1 has no variance, and R's svyciprop no interval (logit(0) is minus "
            f"infinity; beta's n_eff is 0/0): such rows get {AT_BOUNDS}, Korn-Graubard with the "
            "effective sample size n, a design effect of 1 that cannot be estimated there (with "
            "clustering the interval may be too narrow).",
        ]

    def notes(self) -> list[str]:
        """Method notes printed under every rendering of the table."""
        q = self.query
        domain = [f"table {q.table}"]
        if q.countries:
            domain.append(f"countries {', '.join(q.countries)}")
        if q.where:
            domain.append(f"where {q.where}")
        universe = self.field.get("universe")
        return [
            f"Estimate: {self.statistic()}; domain: {'; '.join(domain)}"
            + (f"; the variable's universe is {universe}." if universe else "."),
            f"Design: {self.design.describe()}; strata nested in countries, PSUs in strata.",
            "Standard errors: Taylor linearisation (as R survey's svymean), no finite-population "
            "correction; domains are estimated within the full design (out-of-domain rows count as "
            "zero, every stratum keeps its PSUs).",
            *self.interval_notes(),
            f"Missing values of {q.variable} (unknown or not in universe) are excluded, as R's "
            "na.rm = TRUE; n is the unweighted number of rows used, psu the number of PSUs.",
            f'Strata with a single PSU: R\'s options(survey.lonely.psu = "{LONELY_PSU}").',
            *(
                f"{name} is a variable of {owner}, given to each row of {q.table} through its link."
                for name, owner in self.joined.items()
            ),
        ]


def variable_kind(field_schema: dict[str, Any]) -> Kind:
    """Yes/no (categories exactly 0/1) -> share; other categories, enum or text -> categorical;
    integers and numbers -> mean."""
    values = [c["value"] for c in field_schema.get("categories", [])]
    if sorted(values) == [0, 1] and field_schema["type"] == "integer":
        return "share"
    if values or field_schema.get("constraints", {}).get("enum") or field_schema["type"] == "string":
        return "categorical"
    return "mean"


def _categories(field_schema: dict[str, Any], observed: pl.Series) -> list[Any]:
    """Schema categories (or enum) in schema order, then any observed value they do not list."""
    listed = [c["value"] for c in field_schema.get("categories", [])]
    listed = listed or list(field_schema.get("constraints", {}).get("enum", []))
    extra = sorted(set(observed.drop_nulls().to_list()) - set(listed))
    return listed + extra


def _where_names(where: str) -> list[str]:
    check_condition(where)
    try:
        return list(pl.sql_expr(where).meta.root_names())
    except Exception as exc:  # polars raises SQL parser errors of several classes
        message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise UsageError(f"--where {where!r} is not a valid SQL condition: {message}") from None


def _where_mask(frame: pl.DataFrame, where: str) -> pl.Series:
    return row_mask(frame, where)


# The tables whose key names one household or person (emigrant): no estimate is made by those keys.
RECORD_TABLES = {"households": "households", "persons": "persons", "emigrants": "emigrants"}


def _record_identifiers(package: Package) -> dict[str, str]:
    """Key column -> what it identifies, for the tables of single households and persons."""
    found: dict[str, str] = {}
    for table, what in RECORD_TABLES.items():
        for key in package.resource(table)["schema"].get("primaryKey", []):
            found[key] = what
    return found


def _check_query(package: Package, query: Query) -> tuple[SurveyDesign, dict[str, Any], list[str]]:
    design = package.design(query.table)
    columns = package.columns(query.table)
    if query.variable not in columns:
        package.check_columns(query.table, [query.variable], "variable")
    if query.variable in package.resource(query.table)["schema"].get("primaryKey", []):
        raise UsageError(f"{query.variable!r} identifies the rows of {query.table}: nothing to estimate")
    package.check_columns(query.table, list(query.by), "--by column")
    records = _record_identifiers(package)
    for name in (query.variable, *query.by):
        if name in records:
            raise UsageError(
                f"{name!r} identifies single {records[name]}: a table by it would publish records one "
                "by one, not estimates (tabulate by a category, a region or a country)"
            )
    if query.variable in query.by:
        raise UsageError(f"{query.variable!r} is both the variable and a --by column")
    where_names = _where_names(query.where) if query.where else []
    package.check_columns(query.table, where_names, "column in --where")
    known = list(package.descriptor.get("countries", []))
    for code in query.countries or ():
        if code not in known:
            raise UsageError(f"unknown country {code!r}{suggest(code, known)} (known: {', '.join(known)})")
    return design, columns[query.variable].field, where_names


def _design_frame(
    package: Package, query: Query, design: SurveyDesign, where_names: list[str]
) -> pl.DataFrame:
    """The table with the variable, by-columns, domain flag and design columns (one row per unit)."""
    names = list(dict.fromkeys([query.variable, *query.by, *where_names, COUNTRY, *design.fields()]))
    frame = package.read(query.table, names)
    problems = [
        Problem(
            query.table, f"survey design field has {frame[name].null_count():,} missing values", field=name
        )
        for name in [COUNTRY, *design.fields()]
        if frame[name].null_count()
    ]
    if problems:
        raise InputError(problems)
    stratum = pl.col(COUNTRY).cast(pl.String)
    if design.strata:
        stratum = pl.concat_str([stratum, pl.col(design.strata).cast(pl.String)], separator="|")
    domain = pl.all_horizontal(pl.col(c).is_not_null() for c in query.by) if query.by else pl.lit(True)
    if query.countries:
        domain = domain & pl.col(COUNTRY).is_in(list(query.countries))
    frame = frame.with_columns(
        (pl.col(design.weight).cast(pl.Float64) if design.weight else pl.lit(1.0)).alias(_W),
        stratum.alias(_STRATUM),
        domain.alias("__in"),
        pl.lit(1).alias(_DOMAIN),
    ).with_columns(
        pl.concat_str([pl.col(_STRATUM), pl.col(design.psu).cast(pl.String)], separator="|").alias(_PSU)
    )
    if query.where:
        frame = frame.with_columns((pl.col("__in") & _where_mask(frame, query.where)).alias("__in"))
    return frame


def design_psu_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """n_h: PSUs of each stratum in the full design (before any domain is taken)."""
    return frame.group_by(_STRATUM).agg(pl.col(_PSU).n_unique().alias("__n_h"))


def group_sums(
    frame: pl.DataFrame, keys: list[str], sums: dict[str, pl.Expr], order: tuple[str, ...] = ()
) -> pl.DataFrame:
    """One row per group of `keys` (sorted) with the sum of each expression, added in a fixed order.

    polars' parallel group_by sum may add floating-point numbers in a different order from one
    run to the next (the last digit of an SE then changes); here the rows are sorted by the keys
    and `order` (which must make the order total) and each group is summed by a running sum, which
    is sequential within a group: the same bits every run.
    """
    ordered = frame.sort([*keys, *order], maintain_order=True).select(
        *keys, *(expr.cast(pl.Float64).alias(name) for name, expr in sums.items())
    )
    running = ordered.with_columns(pl.col(name).cum_sum().over(keys) for name in sums)
    return running.group_by(keys, maintain_order=True).agg(pl.col(name).last() for name in sums)


def linearised(psu_totals: pl.DataFrame, keys: list[str], n_h: pl.DataFrame) -> pl.DataFrame:
    """Estimate, SE, n, PSUs and df per domain from PSU sums A = sum(w y), B = sum(w), rows.

    The linearised variable of a ratio mean is z = w (y - mean) / sum(w); its PSU total is
    (A - mean B) / W. The variance is sum over strata of n_h/(n_h-1) * sum_j (t_j - mean_h t)^2
    over all n_h PSUs of the stratum (PSUs without domain rows have t = 0, so sums over the
    domain's PSUs suffice: S2 - S1^2 / n_h), and t^2 for a lonely PSU (survey.lonely.psu adjust).
    """
    psu_order = (_STRATUM, _PSU)
    domain = group_sums(
        psu_totals,
        keys,
        {"__Y": pl.col("A"), "__W": pl.col("B"), "n": pl.col("rows"), "psu": pl.lit(1)},
        psu_order,
    ).with_columns((pl.col("__Y") / pl.col("__W")).alias("estimate"))
    strata = group_sums(psu_totals.unique([*keys, _STRATUM]), keys, {"__strata": pl.lit(1)}, (_STRATUM,))
    t = psu_totals.join(domain.select(*keys, "estimate", "__W"), on=keys).with_columns(
        ((pl.col("A") - pl.col("estimate") * pl.col("B")) / pl.col("__W")).alias("t")
    )
    per_stratum = group_sums(t, [*keys, _STRATUM], {"S1": pl.col("t"), "S2": pl.col("t") ** 2}, (_PSU,)).join(
        n_h, on=_STRATUM
    )
    n = pl.col("__n_h").cast(pl.Float64)
    contribution = (
        pl.when(pl.col("__n_h") > 1)
        .then(n / (n - 1) * (pl.col("S2") - pl.col("S1") ** 2 / n))
        .otherwise(pl.col("S2"))  # lonely PSU, "adjust": centred at zero
    )
    variance = group_sums(per_stratum, keys, {"__var": contribution}, (_STRATUM,))
    out = (
        domain.join(strata, on=keys)
        .join(variance, on=keys)
        .sort(keys)
        .with_columns(
            pl.col("__var").clip(lower_bound=0).sqrt().alias("std_error"),
            (pl.col("psu") - pl.col("__strata")).cast(pl.Int64).alias("df"),
        )
    )
    return out.with_columns(pl.col("n").cast(pl.Int64), pl.col("psu").cast(pl.Int64))


def mean_intervals(result: pl.DataFrame) -> pl.DataFrame:
    """estimate +/- t(0.975, df) x SE (R's confint(..., df = degf)); none when df < 1."""
    quantiles = {
        df: t_quantile(0.5 + CONFIDENCE / 2, df) for df in result["df"].unique().to_list() if df >= 1
    }
    half = pl.col("df").replace_strict(quantiles, default=None, return_dtype=pl.Float64) * pl.col("std_error")
    return result.with_columns(
        (pl.col("estimate") - half).alias("ci_low"),
        (pl.col("estimate") + half).alias("ci_high"),
        pl.when(pl.col("df") >= 1).then(pl.lit(MEAN_INTERVAL)).otherwise(None).alias("interval"),
    )


def share_intervals(result: pl.DataFrame, method: Method) -> pl.DataFrame:
    """Intervals inside [0, 1] for shares (see ippmd.explore.proportion), row by row."""
    rows = [
        share_interval(p, se, n, df, method, CONFIDENCE)
        for p, se, n, df in result.select("estimate", "std_error", "n", "df").iter_rows()
    ]
    low, high, used = zip(*rows, strict=True) if rows else ((), (), ())
    return result.with_columns(
        pl.Series("ci_low", low, dtype=pl.Float64),
        pl.Series("ci_high", high, dtype=pl.Float64),
        pl.Series("interval", used, dtype=pl.String),
    )


def estimate(
    frame: pl.DataFrame,
    by: list[str],
    kind: Kind,
    categories: list[Any] | None = None,
    interval: Method = DEFAULT,
) -> pl.DataFrame:
    """Results per domain of `frame` (columns __y, __w, __stratum, __psu, __in and `by`); shares
    get `interval` intervals (logit or beta), means estimate +/- t x SE."""
    n_h = design_psu_counts(frame)
    used = frame.with_row_index("__row").filter(pl.col("__in") & pl.col(_Y).is_not_null())
    keys = list(by) or [_DOMAIN]
    psu_keys = [*keys, _STRATUM, _PSU]
    rows = {"B": pl.col(_W), "rows": pl.lit(1)}
    if kind != "categorical":
        totals = group_sums(used, psu_keys, {"A": pl.col(_W) * pl.col(_Y), **rows}, ("__row",))
        result = linearised(totals, keys, n_h)
        order = keys
    else:
        assert categories is not None
        cats = pl.DataFrame({_CAT: categories, "__order": list(range(len(categories)))})
        cats = cats.with_columns(pl.col(_CAT).cast(used.schema[_Y]))
        base = group_sums(used, psu_keys, rows, ("__row",))
        hits = group_sums(used, [*psu_keys, _Y], {"A": pl.col(_W)}, ("__row",)).rename({_Y: _CAT})
        totals = (
            base.join(cats, how="cross")
            .join(hits, on=[*psu_keys, _CAT], how="left")
            .with_columns(pl.col("A").fill_null(0.0))
        )
        result = linearised(totals, [*keys, _CAT, "__order"], n_h)
        order = [*keys, "__order"]
    result = result.sort(order)
    return mean_intervals(result) if kind == "mean" else share_intervals(result, interval)


def design_estimate(
    data: pl.DataFrame,
    *,
    y: str,
    weight: str,
    stratum: str,
    psu: str,
    by: tuple[str, ...] = (),
    domain: str | None = None,
    kind: Kind = "mean",
    categories: list[Any] | None = None,
    interval: Method = DEFAULT,
) -> pl.DataFrame:
    """The estimator on any frame naming its own design columns (`domain`: a boolean column;
    strata are taken as given, PSUs nested in them): the same code path as `tabulate`."""
    frame = data.with_columns(
        pl.col(y).alias(_Y),
        pl.col(weight).cast(pl.Float64).alias(_W),
        pl.col(stratum).cast(pl.String).alias(_STRATUM),
        pl.concat_str([pl.col(stratum).cast(pl.String), pl.col(psu).cast(pl.String)], separator="|").alias(
            _PSU
        ),
        (pl.col(domain).fill_null(False) if domain else pl.lit(True)).alias("__in"),
        pl.lit(1).alias(_DOMAIN),
    )
    if by:
        frame = frame.with_columns(pl.col("__in") & pl.all_horizontal(pl.col(c).is_not_null() for c in by))
    result = estimate(frame, list(by), kind, categories, interval)
    if kind == "categorical":
        result = result.rename({_CAT: "category"})
    return result.select(*by, *(["category"] if kind == "categorical" else []), *RESULT_COLUMNS)


def _data_origin(package: Package, result: pl.DataFrame, countries: list[str]) -> pl.DataFrame:
    """Label each row with the origin of its microdata (synthetic or survey)."""
    origins = dict(package.read("countries", ["iso3", "data_origin"]).iter_rows())
    if COUNTRY in result.columns:
        return result.with_columns(
            pl.col(COUNTRY).replace_strict(origins, default="unknown").alias("data_origin")
        )
    found = sorted({origins.get(c, "unknown") for c in countries})
    return result.with_columns(pl.lit(found[0] if len(found) == 1 else "mixed").alias("data_origin"))


def tabulate(package_dir: Path | Package, query: Query) -> Tabulation:
    """Estimate `query` on the package (see the module docstring for the method)."""
    package = package_dir if isinstance(package_dir, Package) else Package(package_dir)
    design, field_schema, where_names = _check_query(package, query)
    kind = variable_kind(field_schema)
    if kind == "mean" and query.interval is not None:
        raise UsageError(
            f"--interval {query.interval} is for shares; {query.variable!r} is a mean "
            "(its 95% interval is estimate +/- t(0.975, df) x SE)"
        )
    frame = _design_frame(package, query, design, where_names).with_columns(pl.col(query.variable).alias(_Y))
    used = frame.filter(pl.col("__in") & pl.col(_Y).is_not_null())
    if used.is_empty():
        reason = (
            "the domain has no rows"
            if frame["__in"].sum() == 0
            else f"{query.variable} is missing in all of them"
        )
        raise EmptySelection(f"the query selects no rows of {query.table} with a value ({reason})")
    categories = _categories(field_schema, frame[_Y]) if kind == "categorical" else None
    result = estimate(frame, list(query.by), kind, categories, query.share_interval)
    keys = list(query.by)
    if kind == "categorical":
        labels = {c["value"]: c["label"] for c in field_schema.get("categories", [])}
        result = result.with_columns(
            pl.col(_CAT).alias("category"),
            pl.col(_CAT)
            .cast(pl.String)
            .replace_strict({str(k): v for k, v in labels.items()}, default=pl.col(_CAT).cast(pl.String))
            .alias("label"),
        )
        keys += ["category", "label"]
    result = result.select(*keys, *RESULT_COLUMNS)
    countries = sorted(used[COUNTRY].unique().to_list())
    result = _data_origin(package, result, countries)
    columns = package.columns(query.table)
    return Tabulation(
        query=query,
        kind=kind,
        field=field_schema,
        design=design,
        frame=result,
        synthetic=any(v != "survey" for v in result["data_origin"].to_list()),
        by_fields={name: columns[name].field for name in query.by},
        joined={
            name: columns[name].owner
            for name in dict.fromkeys([query.variable, *query.by, *where_names])
            if columns[name].owner != query.table
        },
        data_hash=package.built.data_hash,
    )
