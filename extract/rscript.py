"""`load.R`, the R script in every CSV, Stata or SPSS extract.

Why: most of the package's users work in R. The script reads each table with its variable and
value labels and the two kinds of missing value as haven's tagged NA (`n` not in universe, `u`
unknown, exactly as `haven::read_dta` reads a Stata extract), declares each table's survey design
with `survey::svydesign` (PSUs, strata nested in countries, weights, lonely PSUs adjusted, as
`ippmd tabulate`), and ends with one tabulation by country, so a user can check that R and
`ippmd tabulate` give the same numbers. Everything it needs is written into it: no JSON reader,
only the R packages haven and survey. Its comments and the labels it sets are in the current
language (ippmd.core.i18n); every non-ASCII character of a string is written as an R escape
(`\\u{e9}`), so the labels arrive intact whatever the locale R runs in.
"""

from __future__ import annotations

import textwrap
from typing import Any

from ippmd.core.i18n import t

R_FORMATS = ("csv", "dta", "sav")  # the formats R reads with haven alone
COMMENT_WIDTH = 96


def _comment(text: str) -> list[str]:
    """A prose comment, wrapped (never before French high punctuation: `réels ;` stays whole)."""
    for mark in (" ;", " :", " ?", " !", " »"):
        text = text.replace(mark, "\u00a0" + mark[1:])  # textwrap breaks only at ASCII spaces
    return [f"# {line}".replace("\u00a0", " ") for line in textwrap.wrap(text, COMMENT_WIDTH)]


def r_string(text: str) -> str:
    """A double-quoted R string literal (backslashes, quotes and control characters escaped)."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\x{ord(char):02x}")
        elif ord(char) > 0x7F:  # \u{...}: UTF-8 in R whatever its locale
            escaped.append(f"\\u{{{ord(char):x}}}" if ord(char) <= 0xFFFF else f"\\U{{{ord(char):x}}}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _r_value(value: Any) -> str:
    return r_string(value) if isinstance(value, str) else repr(value)


def _labels(field: dict[str, Any]) -> str:
    pairs = ", ".join(f"{r_string(c['label'])} = {_r_value(c['value'])}" for c in field["categories"])
    return f"c({pairs})"


def _is_number(field: dict[str, Any]) -> bool:
    return field["type"] in ("integer", "number")


def _table_reader(resource: dict[str, Any]) -> list[str]:
    """The call that reads one CSV table, with its numeric fields, labels and titles."""
    fields = resource["schema"]["fields"]
    numeric = ", ".join(r_string(f["name"]) for f in fields if _is_number(f))
    labels = ",\n    ".join(f"{r_string(f['name'])} = {_labels(f)}" for f in fields if f.get("categories"))
    titles = ",\n    ".join(f"{r_string(f['name'])} = {r_string(f.get('title', f['name']))}" for f in fields)
    name = resource["name"]
    return [
        f"{name} <- read_table(",
        f"  {r_string(resource['path'])},",
        f"  numeric = c({numeric}),",
        f"  labels = list(\n    {labels}\n  )," if labels else "  labels = list(),",
        f"  titles = list(\n    {titles}\n  )",
        ")",
    ]


CSV_READER = """\
read_table <- function(path, numeric, labels, titles) {
  raw <- read.csv(file.path(here, path), colClasses = "character", na.strings = character(0),
                  check.names = FALSE, encoding = "UTF-8")
  for (name in names(raw)) {
    x <- raw[[name]]
    if (name %in% numeric) {
      value <- suppressWarnings(as.numeric(ifelse(x %in% c("NIU", ""), NA, x)))
      value[x == "NIU"] <- tagged_na("n")  # not in universe
      value[x == ""] <- tagged_na("u")     # unknown
    } else {
      value <- ifelse(x %in% c("NIU", ""), NA_character_, x)
    }
    if (!is.null(labels[[name]])) {
      value <- labelled(value, labels[[name]], label = titles[[name]])
    } else {
      attr(value, "label") <- titles[[name]]
    }
    raw[[name]] <- value
  }
  raw
}
"""

SAV_READER = """\
spss_kinds <- function(v) {
  if (!inherits(v, "haven_labelled_spss") || !is.double(v)) return(v)
  code <- unclass(v)
  v <- zap_missing(v)
  v[!is.na(code) & code == -9] <- tagged_na("n")
  v[!is.na(code) & code == -8] <- tagged_na("u")
  v
}
read_table <- function(path) {
  d <- read_sav(file.path(here, path), user_na = TRUE)
  d[] <- lapply(d, spss_kinds)
  as.data.frame(d)
}
"""


def _design(resource: dict[str, Any]) -> list[str]:
    design = resource["surveyDesign"]
    name = resource["name"]
    return [
        f"{name}_design <- svydesign(",
        f"  ids = ~{design['psu']}, strata = ~interaction(country, {design['strata']}, drop = TRUE),",
        f"  weights = ~{design['weight']}, data = {name}, nest = TRUE",
        ")",
    ]


def _tabulated(resources: list[dict[str, Any]]) -> tuple[dict[str, Any], str] | None:
    """A labelled variable of the first table with a survey design: the first with more than
    two categories (every share shows), else the first."""
    for resource in resources:
        keys = {*resource["surveyDesign"].values(), "country", *resource["schema"].get("primaryKey", [])}
        labelled = [f for f in resource["schema"]["fields"] if f.get("categories") and f["name"] not in keys]
        if labelled:
            chosen = next((f for f in labelled if len(f["categories"]) > 2), labelled[0])
            return resource, chosen["name"]
    return None


def _tabulation(resource: dict[str, Any], variable: str, where: str | None) -> list[str]:
    name = resource["name"]
    original = next(
        (f.get("originalName", f["name"]) for f in resource["schema"]["fields"] if f["name"] == variable),
        variable,
    )
    lines = [
        "",
        *_comment(t("extract.r-tabulation", variable=original)),
        f"#   ippmd tabulate {original} --table {name} --by country --countries <this extract's countries>",
    ]
    if where:
        lines += _comment(t("extract.r-subset"))
    lines += [
        f"tab_design <- update({name}_design, tabulated = factor(as.vector(zap_labels({variable}))))",
        "rows <- list()",
        "for (k in sort(unique(as.character(tab_design$variables$country)))) {",
        "  one <- svymean(~tabulated, subset(tab_design, country == k), na.rm = TRUE)",
        '  rows[[k]] <- data.frame(country = k, category = sub("^tabulated", "", names(coef(one))),',
        "                          estimate = unname(coef(one)), std_error = unname(SE(one)))",
        "}",
        "if (sys.nframe() == 0) write.csv(do.call(rbind, rows), stdout(), row.names = FALSE)",
    ]
    return lines


def load_r(descriptor: dict[str, Any], fmt: str, notice: str | None, where: str | None) -> str | None:
    """The text of load.R for an extract whose descriptor is `descriptor` (names as in its files),
    or None for a format R does not read with haven (Parquet, fixed-width)."""
    if fmt not in R_FORMATS:
        return None
    lines = [f"# {line}".rstrip() for line in t("extract.r-header").splitlines()]
    if notice:
        lines += ["#", *_comment(notice)]
    lines += [
        "",
        "suppressMessages({library(haven); library(survey)})",
        f'options(survey.lonely.psu = "adjust")  # {t("extract.r-lonely-psu")}',
        'file_arg <- sub("^--file=", "", grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE))',
        "here <- if (length(file_arg)) dirname(normalizePath(file_arg[1])) else getwd()",
        "",
    ]
    resources = descriptor["resources"]
    if fmt == "csv":
        lines += [*CSV_READER.splitlines(), ""]
        for resource in resources:
            lines += _table_reader(resource)
    elif fmt == "sav":
        lines += [*_comment(t("extract.r-spss-missing")), *SAV_READER.splitlines(), ""]
        lines += [f"{r['name']} <- read_table({r_string(r['path'])})" for r in resources]
    else:
        lines += [
            f"{r['name']} <- as.data.frame(read_dta(file.path(here, {r_string(r['path'])})))"
            for r in resources
        ]
    with_design = [r for r in resources if r.get("surveyDesign") and _design_fields_present(r)]
    if with_design:
        lines += ["", *_comment(t("extract.r-designs"))]
        for resource in with_design:
            lines += _design(resource)
    chosen = _tabulated(with_design)
    if chosen:
        lines += _tabulation(*chosen, where)
    return "\n".join(lines) + "\n"


def _design_fields_present(resource: dict[str, Any]) -> bool:
    names = {f["name"] for f in resource["schema"]["fields"]}
    return {*resource["surveyDesign"].values(), "country"} <= names
