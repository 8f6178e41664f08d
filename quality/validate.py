"""Validate a submission (folder or .zip) or the built package, layer by layer.

Layers: (1) structural, in polars (bytes, encoding, header, cells, types, constraints, keys);
(2) submission checks (direct identifiers, metadata completeness and codes); (3) harmonization
of the submission (every code mapped); (4) the package rules: the structural layer `ippmd check`
runs on the published package, run on the CSV the package would hold (so a package built from a
valid submission passes check); (5) the expectation suites on the harmonized tables.
Every layer that can run does, so one run reports every problem: a row with a problem is left
out of the later layers (with the rows that depend on it), so one defect is reported once, at
the submitted file, line and column. A layer that cannot run (no readable metadata, a table
missing) is listed in the report as skipped, with the reason; the codes of the tables that were
read are still checked against metadata.yaml. A cell read as meant (a decimal comma, a code that
lost its leading zeros) is reported and its row goes on.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Literal, get_args

import polars as pl
from babel.lists import format_list

from ippmd.core.errors import InputError, Problem, UsageError, problem_hint
from ippmd.core.home import schemas_dir
from ippmd.core.i18n import LOCALES, language, t
from ippmd.core.io import load_yaml, sha256_file
from ippmd.core.metadata import read_submission_metadata, region_list
from ippmd.core.schema import (
    PACKAGE_RESOURCES,
    RESOURCES,
    SUBMISSION_TABLES,
    harmonized_schema,
    polars_schema,
    submission_schema,
)
from ippmd.harmonize.destinations import UnknownCountryName, to_iso3
from ippmd.harmonize.pipeline import country_row, harmonize
from ippmd.harmonize.regions import lost_zeros
from ippmd.harmonize.submission import Submission
from ippmd.package.read import read_package
from ippmd.package.write import published_sizes, write_csv_rows
from ippmd.quality.archive import OpenSubmission, open_submission_files
from ippmd.quality.engine_gx import run_suites as gx_run_suites
from ippmd.quality.engine_polars import run_suites_polars
from ippmd.quality.expectations import Failure
from ippmd.quality.plausibility import submission_rules
from ippmd.quality.report import Report
from ippmd.quality.structural import MAX_EXAMPLES, Structure, check_tables, first_lines, hint_for, problem
from ippmd.quality.submission_checks import identifier_columns, identifier_values, metadata_problems
from ippmd.quality.suites import schema_expectations

Engine = Literal["polars", "gx"]
ENGINES: tuple[Engine, ...] = get_args(Engine)  # the names the CLI's --engine accepts


def engine_named(name: str) -> Engine:
    """The engine called `name` (any case, spaces around allowed): a usage error otherwise (exit 2)."""
    cleaned = name.strip().lower()
    for engine in ENGINES:
        if engine == cleaned:
            return engine
    engines = format_list(list(ENGINES), style="or", locale=LOCALES[language()])  # "polars or gx"
    raise UsageError(t("validate.engine", given=repr(name), engines=engines))


TEXT_COLUMNS = {
    "communities": ["region_code"],
    "persons": ["education_code"],
    "emigrants": ["education_code", "destination"],
    "households": ["remittance_channel"],
}


def expectation_failures(
    tables: dict[str, pl.DataFrame],
    engine: Engine,
    resources: Sequence[str] | None = None,
    countries: list[str] | None = None,
) -> list[Failure]:
    """Run the expectation suites (polars engine, or GX) on harmonized tables (`countries`: the
    countries judged, default every one in the tables)."""
    return (
        gx_run_suites(tables, countries, resources=resources)
        if engine == "gx"
        else [f for f in run_suites_polars(tables, countries) if resources is None or f.resource in resources]
    )


def expectation_problems(
    tables: dict[str, pl.DataFrame], engine: Engine, label: str, resources: Sequence[str] | None = None
) -> list[Problem]:
    """Run the expectation suites (polars engine, or GX) and turn failures into problems.

    `resources`: judge only the suites of these resources (the others' tables still feed
    cross-table rules); default all."""
    problems = []
    for failure in expectation_failures(tables, engine, resources):
        column = failure.column if isinstance(failure.column, str) else "+".join(failure.column or [])
        examples = ", ".join(
            str(v) for v in (failure.unexpected_keys or failure.unexpected_values or [])[:10]
        )
        problems.append(
            Problem(
                file=f"{label}{failure.resource}",
                message=_failure_message(failure),
                field=column,
                value=examples or None,
                code="expectation-failed",
                hint=failure.hint,
            )
        )
    return problems


def _failure_message(failure: Failure) -> str:
    """An expectation failure on a table: the rule, its country, the rows and what was observed."""
    count = failure.unexpected_count
    if failure.country and failure.observed is not None:
        return t(
            "validate.failure-country-observed",
            rule=failure.rule,
            country=failure.country,
            count=count,
            observed=str(failure.observed),
        )
    if failure.country:
        return t("validate.failure-country", rule=failure.rule, country=failure.country, count=count)
    if failure.observed is not None:
        return t("validate.failure-observed", rule=failure.rule, count=count, observed=str(failure.observed))
    return t("validate.failure", rule=failure.rule, count=count)


def _metadata(folder: Path) -> tuple[dict | None, list[Problem]]:
    path = folder / "metadata.yaml"
    if not path.is_file():
        found = sorted(str(p.relative_to(folder)) for p in folder.glob("*/metadata.yaml"))
        message = (
            t("validate.metadata-nested", found=", ".join(found)) if found else t("validate.metadata-missing")
        )
        return None, [problem("metadata-error", "metadata.yaml", message)]
    try:
        return read_submission_metadata(path, "metadata.yaml"), []
    except InputError as exc:  # every metadata problem gets the metadata hint
        problems = [
            replace(p, code="metadata-error", hint=hint_for("metadata-error", p.field)) for p in exc.problems
        ]
    # Keys that harmonization does not read do not stop the tables' later layers.
    try:
        raw = load_yaml(path.read_text(encoding="utf-8-sig"))
    except Exception:  # unreadable: already reported
        return None, problems
    blocking = [p for p in problems if (p.field or "").split(".")[0] not in NOT_HARMONIZED]
    return (raw if not blocking and isinstance(raw, dict) else None), problems


# metadata.yaml keys the harmonization of the tables does not need (the countries row does).
NOT_HARMONIZED = {"country_name", "currency", "survey_year", "fieldwork", "data_origin", "synthetic"}


def validate_submission(path: Path, engine: Engine = "polars") -> Report:
    """Every problem in a country submission, or a clean pass."""
    started = time.perf_counter()
    report = Report(target=str(path))
    try:
        with open_submission_files(Path(path)) as opened:
            report.problems += opened.problems
            try:
                _validate_folder(opened.folder, report, engine)
            except InputError as exc:
                report.problems += exc.problems
            as_submitted(report, opened)  # a Stata/SPSS table's problems at its file and record
    except InputError as exc:
        report.problems += exc.problems
    except OSError:  # the environment (unreadable, disk full, wrong path): exit 2, not a bug
        raise
    except Exception as exc:  # a safety net: bad input must give a verdict, never a traceback
        report.problems.append(
            problem(
                "internal-error",
                str(path),
                t("validate.unexpected", kind=exc.__class__.__name__, error=str(exc)),
            )
        )
    report.seconds = time.perf_counter() - started
    return report


def as_submitted(report: Report, opened: OpenSubmission) -> None:
    """Name the files as submitted: a table sent as persons.dta was checked as persons.csv."""
    report.problems = [opened.as_submitted(p) for p in report.problems]
    report.skipped = {layer: opened.text_as_submitted(why) for layer, why in report.skipped.items()}
    report.notes = [opened.text_as_submitted(note) for note in report.notes]


def _validate_folder(folder: Path, report: Report, engine: Engine) -> None:
    meta, meta_problems = _metadata(folder)
    report.country = str(meta.get("country_iso3")) if meta else None
    files = {name: folder / f"{name}.csv" for name in SUBMISSION_TABLES}
    schemas = {name: submission_schema(name) for name in SUBMISSION_TABLES}
    report.layers.append("structure")
    structure = check_tables(files, schemas, {n: f"{n}.csv" for n in SUBMISSION_TABLES})
    frames = structure.frames
    report.problems += structure.problems
    report.rows = {name: frame.height for name, frame in frames.items()}
    report.layers.append("identifiers")
    for name, table in structure.texts.items():
        known = {f["name"] for f in schemas[name]["fields"]}
        extra = [c for c in table.frame.columns if c not in known]
        report.problems += identifier_columns(table.header, table.file)
        report.problems += identifier_values(table, TEXT_COLUMNS.get(name, []) + extra)
    report.layers.append("metadata")
    report.problems += meta_problems
    if meta is not None and not meta_problems:  # read and well-formed: check codes and values
        used = {
            "education_code": {
                c
                for n in ("persons", "emigrants")
                if n in frames and "education_code" in frames[n]
                for c in frames[n]["education_code"].drop_nulls().to_list()
            },
            "region_code": set(frames["communities"]["region_code"].drop_nulls().to_list())
            if "communities" in frames and "region_code" in frames["communities"]
            else set(),
        }
        # Unmapped codes are reported by the harmonization layer, at their row in the table.
        report.problems += [
            p for p in metadata_problems(meta, "metadata.yaml", used) if p.code != "unknown-code"
        ]
    report.layers.append("plausibility")  # placeholders, formulas, control characters, extra files
    rules = submission_rules(folder, None if meta_problems else meta, structure)
    placeholders = {p.field for p in rules if p.code == "placeholder"}
    if placeholders:  # a key left as the template wrote it is one defect: say "placeholder" only
        report.problems = [
            p for p in report.problems if not (p.file == "metadata.yaml" and p.field in placeholders)
        ]
    report.problems += rules
    expectations = f"expectations ({engine})"
    blocker = _harmonization_blocker(meta, structure, schemas)
    if meta is not None:  # the codes of every table that was read, even when another one was not
        full, kept = _rows_for_harmonization(structure, report.problems, schemas)
        code_problems, kept = _code_problems(kept, meta)
        report.problems += code_problems
    if blocker:
        report.skipped["harmonization"] = blocker
        report.skipped[PACKAGE_RULES] = t("validate.harmonization-did-not-run")
        report.skipped[expectations] = t("validate.harmonization-did-not-run")
        report.problems = deduplicate(report.problems)
        return
    assert meta is not None
    report.layers.append("harmonization")
    kept = _cascade(full, kept)
    left_out = sum(full[n].height - kept[n].height for n in SUBMISSION_TABLES)
    if left_out:
        report.notes.append(t("validate.rows-left-out", count=left_out))
    lines = {name: frame["__line"] for name, frame in kept.items()}
    submission = Submission(
        folder=folder,
        metadata=meta,
        tables={name: frame.drop("__line") for name, frame in kept.items()},
        files={name: f"{name}.csv" for name in SUBMISSION_TABLES},
    )
    try:
        tables = harmonize(submission)
        if not meta_problems:  # the countries row reads the keys that may be wrong
            published, published_source = published_sizes(submission.iso3)
            tables = {"countries": country_row(submission, tables, published, published_source), **tables}
    except InputError as exc:
        report.problems += [_at_line(p, lines) for p in exc.problems]
        report.skipped[PACKAGE_RULES] = t("validate.harmonization-failed")
        report.skipped[expectations] = t("validate.harmonization-failed")
        report.problems = deduplicate(report.problems)
        return
    report.layers.append(PACKAGE_RULES)
    package_problems, broken = package_rule_problems(tables, kept, submission)
    # A table left empty because its every row was left out above is no defect of its own.
    report.problems += [
        p for p in package_problems if not (p.code == "no-rows" and report.rows.get(Path(p.file).stem))
    ]
    report.layers.append(expectations)
    # The countries with rows: a countries row alone (tables without rows) has no shares to judge.
    scope = sorted(
        {c for n in SUBMISSION_TABLES for c in tables[n]["country"].drop_nulls().unique().to_list()}
    )
    failures = _not_restated(expectation_failures(tables, engine, countries=scope), broken)
    report.problems += locate(failures, tables, kept)
    report.problems = deduplicate(report.problems)


def _harmonization_blocker(meta: dict | None, structure: Structure, schemas: dict) -> str | None:
    """Why harmonization cannot run at all, or None when it can (on the rows without problems)."""
    if meta is None:
        return t("validate.metadata-unusable")
    for name in SUBMISSION_TABLES:
        if name not in structure.frames:
            return t("validate.table-unreadable", file=f"{name}.csv")
        missing = _lacks(name, structure, schemas)
        if missing:
            return t("validate.table-lacks-columns", file=f"{name}.csv", columns=", ".join(missing))
    return None


def _lacks(name: str, structure: Structure, schemas: dict) -> list[str] | None:
    """The columns of the format a table was read without (None: the table was not read)."""
    if name not in structure.frames:
        return None
    return [f["name"] for f in schemas[name]["fields"] if f["name"] not in structure.frames[name].columns]


# Problems whose cells were read as meant (a decimal comma, a code that lost its leading zeros, a
# file in Windows-1252): reported, and their rows go on to the later layers.
READ_AS_MEANT = {"decimal-comma", "leading-zeros", "encoding-error"}


def _rows_for_harmonization(
    structure: Structure, problems: list[Problem], schemas: dict
) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """The typed rows without a problem so far (by file line) of each table read with all its
    columns."""
    bad: dict[str, set[int]] = {}
    for p in problems:
        if p.row is not None and p.row > 1 and p.severity == "error" and p.code not in READ_AS_MEANT:
            bad.setdefault(p.file, set()).add(p.row)
    full: dict[str, pl.DataFrame] = {}
    kept: dict[str, pl.DataFrame] = {}
    for name in SUBMISSION_TABLES:
        if _lacks(name, structure, schemas) != []:  # not read, or read without a column
            continue
        schema = polars_schema(submission_schema(name))
        frame = structure.frames[name].select(pl.col(c).cast(dtype) for c, dtype in schema.items())
        full[name] = frame.with_columns(__line=structure.texts[name].lines)
        kept[name] = full[name].filter(~pl.col("__line").is_in(sorted(bad.get(f"{name}.csv", set()))))
    return full, kept


# Rows depend on their parent row: dropped with it (in this order, so the drop cascades).
PARENTS = (
    ("households", "communities", "community_number"),
    ("persons", "households", "household_number"),
    ("emigrants", "households", "household_number"),
)


def _code_problems(
    kept: dict[str, pl.DataFrame], meta: dict
) -> tuple[list[Problem], dict[str, pl.DataFrame]]:
    """Every national code that metadata.yaml does not map, at its line in the table; those rows
    and the rows that depend on a row left out (the persons of a household left out, and so on)
    are left out of harmonization. A code that lost its leading zeros (`5` for `05`) is said so,
    once per code, and read as the code it stands for, so its rows go on."""
    problems: list[Problem] = []
    known_levels = [str(level["code"]) for level in meta["education_levels"]]
    known_regions = [str(region["code"]) for region in region_list(meta)]
    checks = [
        ("communities", "region_code", known_regions, t("validate.unknown-region")),
        ("persons", "education_code", known_levels, t("validate.unknown-education")),
        ("emigrants", "education_code", known_levels, t("validate.unknown-education")),
    ]
    left_out: dict[str, pl.DataFrame] = {}
    for name, column, known, message in (c for c in checks if c[0] in kept):
        frame = kept[name]
        codes = frame[column].drop_nulls().unique().sort().to_list()
        restored = lost_zeros(codes, known)
        if restored:
            problems += _zero_problems(frame, name, column, restored)
            kept[name] = frame = frame.with_columns(pl.col(column).replace(restored))
        unknown = frame.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(known))
        problems += _row_problems(unknown, name, column, message, ", ".join(known[:20]))
        left_out[name] = unknown
    names = kept["emigrants"]["destination"].drop_nulls().unique().to_list() if "emigrants" in kept else []
    try:
        to_iso3(names, meta.get("destinations"))
    except UnknownCountryName as exc:
        unknown = kept["emigrants"].filter(pl.col("destination").is_in(exc.names))
        problems += _row_problems(
            unknown, "emigrants", "destination", t("validate.unknown-destination"), None
        )
        left_out["emigrants"] = pl.concat([left_out["emigrants"], unknown])
    for name, rows in left_out.items():  # every such row, not only those listed
        kept[name] = kept[name].filter(~pl.col("__line").is_in(rows["__line"].to_list()))
    return problems, kept


def _zero_problems(frame: pl.DataFrame, name: str, column: str, restored: dict[str, str]) -> list[Problem]:
    """One problem per code that lost its leading zeros: its count and first lines."""
    problems = []
    for written, code in restored.items():
        lines = frame.filter(pl.col(column) == written)["__line"]
        shown = first_lines(lines)
        message = (
            t("validate.lost-zeros-region", written=written, code=code, count=len(lines), lines=shown)
            if column == "region_code"
            else t("validate.lost-zeros-education", written=written, code=code, count=len(lines), lines=shown)
        )
        problems.append(
            problem("leading-zeros", f"{name}.csv", message, row=int(lines[0]), field=column, value=written)
        )
    return problems


def _cascade(full: dict[str, pl.DataFrame], kept: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Leave out the rows that depend on a row left out. A household is judged with all its members
    and emigrants or not at all (its size and emigrant count are checked against them), and
    members, emigrants and households go with their household or community."""
    dropped: set = set()
    for name in ("persons", "emigrants"):
        gone = full[name].join(kept[name].select("__line"), on="__line", how="anti")
        dropped |= set(gone["household_number"].drop_nulls().to_list())
    kept = {**kept, "households": kept["households"].filter(~pl.col("household_number").is_in(list(dropped)))}
    for child, parent, key in PARENTS:
        parents = kept[parent].select(key).unique()
        kept[child] = kept[child].join(parents, on=key, how="semi", maintain_order="left")
    return kept


def _row_problems(
    rows: pl.DataFrame, name: str, column: str, message: str, known: str | None
) -> list[Problem]:
    hint = hint_for("unknown-code", column)
    text = t("validate.with-known", message=message, known=known) if known else message
    found = [
        Problem(
            f"{name}.csv", text, row=int(line), field=column, value=str(value), code="unknown-code", hint=hint
        )
        for line, value in rows.select("__line", column).head(MAX_EXAMPLES).iter_rows()
    ]
    if rows.height > MAX_EXAMPLES:
        found.append(
            Problem(
                f"{name}.csv",
                t("validate.more-unknown-codes", count=rows.height - MAX_EXAMPLES),
                field=column,
                code="unknown-code",
                hint=hint,
            )
        )
    return found


def _at_line(p: Problem, lines: dict[str, pl.Series]) -> Problem:
    """A harmonization problem, moved from its row in the kept rows to its line in the file."""
    name = Path(p.file).name
    row = p.row
    table = name.removesuffix(".csv")
    if row is not None and table in lines and 0 <= row - 2 < len(lines[table]):
        row = int(lines[table][row - 2])
    return replace(p, file=name, row=row, hint=p.hint or problem(p.code, "", "").hint)


# Harmonized columns that come from a differently named submitted column.
SUBMITTED_COLUMN = {
    "education_level": "education_code",
    "education_years": "education_code",
    "src_education_code": "education_code",
    "src_destination_name": "destination",
    "household_id": "household_number",
    "community_id": "community_number",
    "agricultural_assets_lcu": "agricultural_assets",
    "agricultural_assets_usd": "agricultural_assets",
    "remittances_lcu": "remittances_amount",
    "remittances_usd": "remittances_amount",
    "remittances_nonresponse": "remittances_amount_nonresponse",
    "education_expenditure_lcu": "education_expenditure",
    "education_expenditure_usd": "education_expenditure",
}
KEYS = {
    "communities": "community_id",
    "households": "household_id",
    "persons": "person_id",
    "emigrants": "emigrant_id",
}


def _lines_by_key(
    tables: dict[str, pl.DataFrame], kept: dict[str, pl.DataFrame]
) -> dict[str, dict[str, int]]:
    """For each harmonized table: row id -> its line in the submitted file (harmonization keeps
    the rows' order)."""
    lines: dict[str, dict[str, int]] = {}
    for name, key in KEYS.items():
        if name in tables and key in tables[name].columns and tables[name].height == kept[name].height:
            lines[name] = dict(zip(tables[name][key].to_list(), kept[name]["__line"].to_list(), strict=True))
    return lines


def locate(
    failures: list[Failure], tables: dict[str, pl.DataFrame], kept: dict[str, pl.DataFrame]
) -> list[Problem]:
    """Expectation failures on harmonized rows, one problem per failing row, at the submitted file,
    line and column; the harmonized table, column and ID are kept as context."""
    lines = _lines_by_key(tables, kept)
    located: list[Problem] = []
    for failure in failures:
        resource = failure.resource
        base = Problem(
            file="metadata.yaml" if resource == "countries" else f"{resource}.csv",
            message=failure.rule,
            code="expectation-failed",
            hint=failure.hint or None,
            context=t("validate.harmonized", column=f"{resource}.{failure.column}"),
        )
        if failure.error or failure.unexpected_count is None:  # an aggregate rule, or not evaluated
            detail = (
                t("validate.rule-error", rule=failure.rule, error=failure.error)
                if failure.error
                else t("validate.rule-observed", rule=failure.rule, observed=str(failure.observed))
            )
            located.append(replace(base, message=detail, field=failure.column))
            continue
        names = (
            {f["name"] for f in submission_schema(resource)["fields"]}
            if resource in SUBMISSION_TABLES
            else set()
        )
        columns: list[str] = []
        for column in failure.columns:
            mapped = column if column in names else SUBMITTED_COLUMN.get(column)
            if mapped and mapped not in columns:
                columns.append(mapped)
        if resource == "countries":
            columns = [COUNTRY_KEYS.get(c, c) for c in failure.columns]
        field = "+".join(columns) or failure.column
        by_key = lines.get(resource, {})
        keys = [k for k in failure.unexpected_keys if k in by_key]
        if not keys:
            shown = ", ".join(map(str, failure.unexpected_values))
            located.append(
                replace(
                    base,
                    message=t("validate.rule-rows", rule=failure.rule, count=failure.unexpected_count),
                    field=field,
                    value=shown or None,
                )
            )
            continue
        frame = kept[resource].filter(pl.col("__line").is_in([by_key[k] for k in keys]))
        cells = {row[0]: row[1:] for row in frame.select("__line", *columns).iter_rows()}
        for k in keys:
            line = by_key[k]
            value = "/".join("" if c is None else str(c) for c in cells.get(line, ())) or None
            located.append(replace(base, row=line, field=field, value=value, context=f"{base.context}, {k}"))
        if failure.unexpected_count > len(keys):
            more = failure.unexpected_count - len(keys)
            located.append(
                replace(
                    base, field=field, message=t("validate.rule-more-rows", rule=failure.rule, count=more)
                )
            )
    return located


# The layer of `validate` that holds a submission to the rules `ippmd check` holds the package to.
PACKAGE_RULES = "package rules"
# What `ippmd check` judges that no submission decides, with the reason validate leaves it out
# (tests/test_package_rules.py holds every other layer and table of check_package to validate's).
PACKAGE_ONLY_LAYERS = {
    "descriptor": "datapackage.json is written by the build: paths, sizes, hashes, countries"
}
PACKAGE_ONLY_TABLES = {"country_indicators": "read from ippmd's committed indicators file, not a submission"}

# Columns of the countries table -> the metadata.yaml key each is read from (harmonize.country_row).
COUNTRY_KEYS = {
    "iso3": "country_iso3",
    "name": "country_name",
    "data_origin": "data_origin",
    "synthetic_seed": "synthetic.seed",
    "currency": "currency",
    "exchange_rate_lcu_per_usd": "exchange_rate.lcu_per_usd",
    "exchange_rate_year": "exchange_rate.year",
    "exchange_rate_source": "exchange_rate.source",
    "survey_year": "survey_year",
    "fieldwork_start": "fieldwork.start",
    "fieldwork_end": "fieldwork.end",
    "country": "country_iso3",  # the country column of every other table
}
# Harmonized columns looked up in a list of metadata.yaml: column -> (the list, the entry's key).
FROM_METADATA_LISTS = {
    "region_code": ("regions", "iso_3166_2"),
    "region_name": ("regions", "name"),
    "education_level": ("education_levels", "isced"),
    "education_years": ("education_levels", "years"),
}
# Ids built from submitted numbers.
ID_COLUMNS = {
    "community_id": "community_number",
    "household_id": "household_number",
    "person_id": "household_number+line_number",
    "emigrant_id": "household_number+emigrant_number",
}


def _package_csv(name: str, frame: pl.DataFrame) -> bytes:
    """data/<name>.csv as the package would hold these rows (the package's own CSV writer)."""
    buffer = io.BytesIO()
    write_csv_rows(name, frame, buffer, header=True)
    return buffer.getvalue()


def package_rule_problems(
    tables: dict[str, pl.DataFrame], kept: dict[str, pl.DataFrame], submission: Submission
) -> tuple[list[Problem], set[tuple[str, str]]]:
    """The structural rules `ippmd check` applies to the published package (check_tables on
    data/<name>.csv, with the harmonized schemas and the same limits), applied to the CSV the
    package's writer makes of these harmonized tables; each problem is moved to the submitted
    file, line and column, or to the metadata.yaml key its value came from. Also returns the
    (table, column) pairs with a problem."""
    names = [name for name in PACKAGE_RESOURCES if name in tables]
    structure = check_tables(
        {name: partial(_package_csv, name, tables[name]) for name in names},
        {name: harmonized_schema(name) for name in names},
        {name: f"data/{name}.csv" for name in names},
        max_rows=None,
    )
    by_key = _lines_by_key(tables, kept)
    rows: dict[str, dict[int, int]] = {}  # table -> CSV line -> row of the harmonized frame
    located: list[Problem] = []
    for p in structure.problems:
        name = Path(p.file).stem
        if name not in structure.texts:  # the CSV could not be parsed at all
            p, index = _unparsed_cell(p, tables[name])
        else:
            if p.row is not None and name not in rows:
                rows[name] = {line: i for i, line in enumerate(structure.texts[name].lines.to_list())}
            index = rows[name].get(p.row) if p.row is not None and name in rows else None
        located += _submitted_place(p, name, index, tables, by_key, submission)
    broken = {(Path(p.file).stem, p.field) for p in structure.problems if p.field}
    return deduplicate(located), broken


def _unparsed_cell(p: Problem, frame: pl.DataFrame) -> tuple[Problem, int | None]:
    """A published CSV the parser gave up on at line p.row (a cell past its size limit): the row
    (our writer puts one row on a line) and the longest cell of that row, which stopped it."""
    index = p.row - 2 if p.row is not None and 0 <= p.row - 2 < frame.height else None
    if index is None or p.field:
        return p, index
    sizes = {c: len(str(v).encode()) for c, v in frame.row(index, named=True).items() if v is not None}
    if not sizes:
        return p, index
    longest = max(sizes, key=lambda c: sizes[c])
    return replace(p, field=longest, value=str(frame[longest][index])[:200]), index


def _not_restated(failures: list[Failure], broken: set[tuple[str, str]]) -> list[Failure]:
    """Failures of the expectations generated from a schema constraint, on a column whose published
    cells already break that schema, are the same defect: left out (as check_package leaves out
    the suites when the package's files break the schemas)."""
    generated = {
        (name, e["meta"]["rule"]) for name in {n for n, _ in broken} for e in schema_expectations(name)
    }
    return [
        f for f in failures if not ((f.resource, f.column) in broken and (f.resource, f.rule) in generated)
    ]


def _submitted_place(
    p: Problem,
    name: str,
    index: int | None,
    tables: dict[str, pl.DataFrame],
    by_key: dict[str, dict[str, int]],
    submission: Submission,
) -> list[Problem]:
    """A problem of the published table `name` (row `index` of its frame) where the submitter fixes it."""
    field = p.field or ""
    message = t("validate.once-published", message=p.message)
    context = (
        t("validate.published-line", file=f"data/{name}.csv", line=p.row)
        if p.row is not None
        else t("validate.published-file", file=f"data/{name}.csv")
    )
    if name == "countries" or field == "country":
        key = COUNTRY_KEYS.get(field, field)
        hint = hint_for(p.code, "metadata")
        return [
            replace(p, file="metadata.yaml", row=None, field=key, message=message, context=context, hint=hint)
        ]
    if field in FROM_METADATA_LISTS:  # one problem per metadata.yaml entry, not per row using it
        if index is None:
            return []
        listed, attribute = FROM_METADATA_LISTS[field]
        value = tables[name][field][index]
        entries = region_list(submission.metadata) if listed == "regions" else submission.metadata[listed]
        prefix = (
            "regions.list"
            if listed == "regions" and isinstance(submission.metadata["regions"], dict)
            else listed
        )
        return [
            replace(
                p,
                file="metadata.yaml",
                row=None,
                field=f"{prefix}.{i}.{attribute}",
                message=message,
                context=context,
                hint=hint_for(p.code, "metadata"),
            )
            for i, entry in enumerate(entries)
            if str(entry.get(attribute)) == str(value)
        ]
    submitted = {f["name"] for f in submission_schema(name)["fields"]}
    columns = [
        part if part in submitted else ID_COLUMNS.get(part) or SUBMITTED_COLUMN.get(part) or part
        for part in field.split("+")
    ]
    line = None
    if index is not None and name in by_key:
        row_id = tables[name][KEYS[name]][index]
        line = by_key[name].get(row_id)
        context += f", {row_id}"
    return [
        replace(
            p,
            file=submission.files.get(name, f"{name}.csv"),
            row=line,
            field="+".join(columns) or None,
            message=message,
            context=context,
            hint=hint_for(p.code, columns[0]),
        )
    ]


def _published(p: Problem) -> bool:
    """A problem found by the package rules layer (its context says where in the published CSV)."""
    return (p.context or "").startswith(t("validate.published-file", file=""))


def deduplicate(problems: list[Problem]) -> list[Problem]:
    """One entry per defect: a duplicate key is one problem (not one per line and rule), and the
    same problem found twice is listed once."""
    problems = _published_once(problems)
    keys: dict[tuple[str, str | None, str | None], list[Problem]] = {}
    for p in problems:
        if p.code == "primary-key" and p.row is not None:
            keys.setdefault((p.file, p.field, p.value), []).append(p)
    key_rows = {(p.file, p.row) for group in keys.values() for p in group}
    merged: dict[tuple, Problem] = {}
    for (file, field, value), group in keys.items():
        rows = sorted(p.row for p in group if p.row is not None)
        first = group[0]
        merged[(file, field, value)] = replace(
            first,
            row=rows[-1] if len(rows) > 1 else rows[0],
            message=t(
                "validate.key-on-lines",
                message=first.message,
                key=field,
                value=value,
                lines=", ".join(map(str, rows)),
            )
            if len(rows) > 1
            else first.message,
        )
    out: list[Problem] = []
    seen: set[tuple] = set()
    unique = t("structural.unique")  # the unique rule's message, in the language it was written in
    for p in problems:
        if p.code == "primary-key" and p.row is not None:
            if (p.file, p.field, p.value) not in merged:
                continue
            p = merged.pop((p.file, p.field, p.value))
        elif p.code == "constraint-error" and p.message == unique and (p.file, p.row) in key_rows:
            continue  # the same duplicate, already reported as a duplicate key
        identity = (p.file, p.row, p.field, p.value, p.code, p.message)
        if identity not in seen:
            seen.add(identity)
            out.append(p)
    return _one_per_cell(out)


def _place(p: Problem) -> tuple[str, int | None, str]:
    """Where a problem is fixed: file, line and field (a metadata.yaml key written either way,
    regions.list.0.name or regions.list[0].name)."""
    field = re.sub(r"\[(\d+)\]", r".\1", p.field or "")
    return p.file, None if p.file == "metadata.yaml" else p.row, field


def _published_once(problems: list[Problem]) -> list[Problem]:
    """A value the package rules layer refuses that an earlier layer already reported at the same
    place (a 1 MB region name at its metadata.yaml key, say) is one defect: the earlier entry stays."""
    earlier = {_place(p) for p in problems if p.severity == "error" and not _published(p)}
    return [p for p in problems if not (_published(p) and _place(p) in earlier)]


# When one cell breaks several rules, the first of these is its one entry: removing an identifier
# or a formula fixes the cell whatever else it broke (a phone number is not also an unknown place;
# "-inf" in a number column is a type error, not a formula).
CELL_PRIORITY = ("direct-identifier", "type-error", "formula-cell", "control-character", "placeholder")


def _one_per_cell(problems: list[Problem]) -> list[Problem]:
    """Drop the other problems of a cell that has one of CELL_PRIORITY's (errors only)."""
    ranked: dict[tuple[str, int, str], int] = {}
    for p in problems:
        if p.row is not None and p.field and p.severity == "error" and p.code in CELL_PRIORITY:
            cell = (p.file, p.row, p.field)
            ranked[cell] = min(ranked.get(cell, len(CELL_PRIORITY)), CELL_PRIORITY.index(p.code))
    if not ranked:
        return problems
    return [
        p
        for p in problems
        if p.row is None
        or not p.field
        or (cell := (p.file, p.row, p.field)) not in ranked
        or (p.code in CELL_PRIORITY and CELL_PRIORITY.index(p.code) == ranked[cell])
    ]


def descriptor_problems(package_dir: Path) -> list[Problem]:
    """The descriptor against the Data Package v2 profile, and every file's bytes and SHA-256."""
    import json

    import jsonschema

    label = "datapackage.json"
    try:  # the one reader: a descriptor that is not JSON, too deep or of the wrong shape is named
        descriptor = dict(read_package(package_dir).descriptor)
    except InputError as exc:
        return [replace(p, file=label) for p in exc.problems]
    profile = json.loads(
        schemas_dir("profiles", "datapackage-2.0", "datapackage.json").read_text(encoding="utf-8")
    )
    problems = [
        problem(
            "descriptor-error",
            label,
            t("validate.descriptor-invalid", error=error.message),
            field="/".join(str(p) for p in error.absolute_path) or None,
        )
        for error in jsonschema.Draft7Validator(profile).iter_errors(descriptor)
    ]
    if problems:  # the structure is wrong: paths and hashes cannot be trusted
        return problems
    for resource in descriptor.get("resources", []):
        partitions = (resource.get("partitions") or {}).get("files") or []
        for entry in (resource, resource.get("parquet") or {}, *partitions):
            if "path" not in entry:
                continue
            path = package_dir / entry["path"]
            if Path(entry["path"]).is_absolute() or not path.resolve().is_relative_to(package_dir.resolve()):
                problems.append(
                    problem("descriptor-error", label, t("validate.path-out", path=repr(entry["path"])))
                )
                continue
            if not path.is_file():  # never opens a FIFO or a device
                problems.append(
                    problem(
                        "missing-file",
                        entry["path"],
                        t("validate.listed-file-missing"),
                    )
                )
                continue
            size = path.stat().st_size
            if entry.get("bytes") != size:
                problems.append(
                    problem(
                        "byte-count",
                        entry["path"],
                        t("validate.byte-count", size=size, listed=str(entry.get("bytes"))),
                    )
                )
            if entry.get("hash") != "sha256:" + sha256_file(path):
                problems.append(problem("hash-count", entry["path"], t("validate.hash-count")))
    return problems


def check_package(package_dir: Path, engine: Engine = "gx") -> Report:
    """The same layers on a built package: its CSVs against the harmonized schemas, then the suites."""
    started = time.perf_counter()
    report = Report(
        target=str(package_dir / "datapackage.json"), layers=["descriptor", "structure"], kind="package"
    )
    report.problems += descriptor_problems(package_dir)
    files = {name: package_dir / "data" / f"{name}.csv" for name in PACKAGE_RESOURCES}
    schemas = {name: harmonized_schema(name) for name in PACKAGE_RESOURCES}
    display = {n: f"data/{n}.csv" for n in PACKAGE_RESOURCES}
    structure = check_tables(files, schemas, display, max_rows=None)
    report.problems += structure.problems
    report.rows = {name: frame.height for name, frame in structure.frames.items()}
    if "countries" in structure.frames and "iso3" in structure.frames["countries"].columns:
        codes = structure.frames["countries"]["iso3"].drop_nulls().to_list()
        report.country = t("validate.countries", count=len(codes), codes=", ".join(codes))
        report.problems += _listed_countries_problems(package_dir, codes)
    if report.valid:
        tables = {
            name: pl.read_parquet(package_dir / "data" / f"{name}.parquet", glob=False) for name in RESOURCES
        }
        report.rows = {name: frame.height for name, frame in tables.items()}
        report.layers.append(f"expectations ({engine})")
        report.problems += expectation_problems(tables, engine, label="data/")
    else:
        report.skipped[f"expectations ({engine})"] = t("validate.package-breaks-schemas")
    # The package's maintainers read this: hints speak of builds, not of submission kits.
    report.problems = [
        replace(p, hint=problem_hint(f"package.{p.code}") or problem_hint("package"))
        if p.code not in PACKAGE_OWN
        else p
        for p in report.problems
    ]
    report.seconds = time.perf_counter() - started
    return report


def _listed_countries_problems(package_dir: Path, codes: list[str]) -> list[Problem]:
    """The descriptor's `countries` (which admit and benchmark read) is a list of ISO3 codes, the
    same as the countries table's."""
    try:
        listed = list(read_package(package_dir).countries)
    except InputError as exc:
        return [replace(p, file="datapackage.json") for p in exc.problems]
    if sorted(listed) != sorted(codes):
        message = t("validate.countries-differ", listed=", ".join(listed), codes=", ".join(codes))
        return [problem("descriptor-error", "datapackage.json", message, field="countries")]
    return []


# Codes whose hint already speaks to a package maintainer.
PACKAGE_OWN = {"descriptor-error", "byte-count", "hash-count", "expectation-failed", "internal-error"}
