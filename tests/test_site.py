"""`ippmd site`: the offline codebook site, checked against the data and in a real browser.

The browser test drives Debian's headless chromium over the DevTools protocol: it loads the index
from file:// while recording every request, types into the search box, reads the page and takes
a screenshot (skipped when chromium is absent; .ci/run installs it).
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from babel.numbers import format_decimal
from PIL import Image
from typer.testing import CliRunner

from ippmd import SYNTHETIC_NOTICE, synthetic_notice
from ippmd.cli import app
from ippmd.core.i18n import LANGUAGES, Language, t, using
from ippmd.core.metadata import load_country
from ippmd.core.scalars import as_number
from ippmd.explore.site import language_folder, variable_file, write_site
from ippmd.package.translate import category_label, field_text
from tests.conftest import reseal

CHROMIUM = Path("/usr/bin/chromium")
MICRODATA = ("communities", "households", "persons", "emigrants")


@pytest.fixture(scope="module")
def site(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = CliRunner().invoke(app, ["site", "--package", str(package_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def descriptor(package_dir: Path) -> dict[str, Any]:
    return json.loads((package_dir / "datapackage.json").read_text(encoding="utf-8"))


def _text(page: Path) -> str:
    """The visible text of a page, tags removed (scripts and styles too), whitespace collapsed."""
    raw = page.read_text(encoding="utf-8")
    raw = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", raw, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", raw)).split())


def test_every_page_is_self_contained(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 50
    for page in pages:
        text = page.read_text(encoding="utf-8")
        # nothing the browser would fetch: no external script, stylesheet, image, font or frame
        assert not re.search(r"<(script|img|iframe|link|source|video|audio)[^>]*\s(src|href)=", text), page
        assert "@import" not in text and "url(" not in text, page
        assert not re.search(r"(src|srcset)=[\"']?(https?:)?//", text), page
    assert sorted(p.name for p in site.iterdir()) == [
        ".ippmd-site",  # the marker that lets the next `ippmd site` update this folder
        "availability.html",
        "es",  # the same pages in Spanish
        "fr",  # and in French
        "index.html",
        "indicators",
        "variables",
    ]


def test_a_page_per_variable_and_the_index_lists_them(site: Path, descriptor: dict[str, Any]) -> None:
    expected = [
        (r["name"], f["name"]) for r in descriptor["resources"] if r["name"] in (*MICRODATA, "countries")
        for f in r["schema"]["fields"]
    ]  # fmt: skip
    index = (site / "index.html").read_text(encoding="utf-8")
    listed = re.findall(r'<tr data-search="[^"]*" data-table="([^"]+)" data-name="([^"]+)"', index)
    assert sorted(listed) == sorted(expected)
    for table, name in expected:
        assert (site / variable_file(table, name)).is_file(), (table, name)
    assert SYNTHETIC_NOTICE in html.unescape(index)


@pytest.mark.slow  # writes a second site
def test_availability_is_computed_from_the_data(package_dir: Path, tmp_path: Path) -> None:
    """A variable emptied in one country shows as unavailable there, and only there."""
    copy = tmp_path / "package"
    shutil.copytree(package_dir, copy, ignore=shutil.ignore_patterns("parquet", "*.csv"))
    households = pl.read_parquet(copy / "data" / "households.parquet")
    emptied = households.with_columns(
        pl.when(pl.col("country") == "KHM").then(None).otherwise(pl.col("bank_account")).alias("bank_account")
    )
    emptied.write_parquet(copy / "data" / "households.parquet")
    reseal(copy, "households")
    out = tmp_path / "site"
    write_site(copy, out)
    matrix = (out / "availability.html").read_text(encoding="utf-8")
    countries = re.findall(r"<th>([A-Z]{3})</th>", matrix.split("</thead>")[0])
    assert len(countries) == 10
    row = re.search(r"<tr><td><a href=\"variables/households\.bank_account\.html\">.*?</tr>", matrix)
    assert row is not None
    marks = re.findall(r'<td class="(yes|no)">', row.group(0))
    assert marks == ["no" if c == "KHM" else "yes" for c in countries]
    # and every other cell agrees with a direct count of non-missing values
    for table in MICRODATA:
        frame = pl.read_parquet(copy / "data" / f"{table}.parquet")
        present = frame.group_by("country").agg(pl.all().is_not_null().any())
        for column in frame.columns:
            if column == "country":
                continue
            found = re.search(rf'<tr><td><a href="variables/{table}\.{column}\.html">.*?</tr>', matrix)
            assert found is not None, (table, column)
            cells = re.findall(r'<td class="(yes|no)">', found.group(0))
            truth = dict(present.select("country", column).iter_rows())
            assert cells == ["yes" if truth.get(c) else "no" for c in countries], (table, column)


def _table_rows(page: Path, heading: str) -> list[list[str]]:
    """The text of each cell of the first table after an <h2> heading."""
    raw = page.read_text(encoding="utf-8").split(f"<h2>{heading}</h2>", 1)[1]
    table = raw.split("</table>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        if cells:  # the header row has <th> cells only
            rows.append([" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in cells])
    return rows


def test_weighted_and_unweighted_frequencies_match_the_data(site: Path, package_dir: Path) -> None:
    households = pl.read_parquet(package_dir / "data" / "households.parquet")
    rows = _table_rows(site / variable_file("households", "remittances_received"), "Frequencies by country")
    yes = next(row for row in rows if row[:2] == ["1", "Yes"])
    countries = sorted(households["country"].unique().to_list())
    for iso3, cell in zip(countries, yes[2:], strict=True):
        one = households.filter(pl.col("country") == iso3)
        weight = as_number(one["weight"].sum())
        share = as_number((one["weight"] * one["remittances_received"]).sum()) / weight
        assert cell == f"{share * 100:.1f}% n={int(one['remittances_received'].sum()):,}", iso3
    persons = pl.read_parquet(package_dir / "data" / "persons.parquet").join(
        households.select("household_id", "weight"), on="household_id"
    )
    rows = _table_rows(site / variable_file("persons", "age"), "Frequencies by country")
    for row in rows:
        iso3 = row[0][-4:-1]
        one = persons.filter(pl.col("country") == iso3)
        mean = as_number((one["weight"] * one["age"]).sum()) / as_number(one["weight"].sum())
        ordered = one.sort("age", maintain_order=True)
        cumulative = (ordered["weight"].cum_sum() / ordered["weight"].sum()).to_numpy()
        median = ordered["age"].to_numpy()[np.searchsorted(cumulative, 0.5 - 1e-12)]
        assert row[1:4] == [f"{one.height:,}", f"{mean:#,.4g}", f"{as_number(one['age'].mean()):#,.4g}"], iso3
        assert row[5] == f"{median:,}", iso3  # age is whole years: the weighted median is one of them


def test_comparability_notes_come_from_the_country_metadata(site: Path) -> None:
    usd = _text(site / variable_file("households", "remittances_usd"))
    education = _text(site / variable_file("persons", "education_level"))
    regions = _text(site / variable_file("households", "region_code"))
    for iso3 in ("ARM", "BFA", "CIV", "CRI", "DOM", "GEO", "HTI", "KHM", "MAR", "PHL"):
        meta = load_country(iso3)["submission"]
        rate = meta["exchange_rate"]
        assert (
            f"Converted from {meta['currency']} at {rate['lcu_per_usd']:,} {meta['currency']} per USD" in usd
        )
        first = meta["education_levels"][0]
        assert (
            f"{first['code']} {first['label']} -> ISCED {first['isced']}, {first['years']} years" in education
        )
        assumed = isinstance(meta["regions"], dict) and meta["regions"].get("assumed")
        region = (meta["regions"]["list"] if isinstance(meta["regions"], dict) else meta["regions"])[0]
        assert region["iso_3166_2"] in regions
        if assumed:
            assert "this list is assumed" in regions


def test_a_page_per_real_indicator_with_source_vintage_and_chart(site: Path, package_dir: Path) -> None:
    indicators = pl.read_parquet(package_dir / "data" / "country_indicators.parquet")
    for indicator in indicators["indicator"].unique().to_list():
        page = site / "indicators" / f"{indicator}.html"
        text = page.read_text(encoding="utf-8")
        assert "REAL DATA" in text and "<svg" in text, indicator
        for vintage in indicators.filter(pl.col("indicator") == indicator)["vintage"].unique().to_list():
            assert html.escape(vintage) in text, (indicator, vintage)
        assert "SYNTHETIC" not in text


def test_each_variable_links_to_its_extract_command(site: Path) -> None:
    page = (site / variable_file("persons", "plans_to_emigrate")).read_text(encoding="utf-8")
    assert 'id="extract"' in page
    assert "ippmd extract --tables persons --variables plans_to_emigrate --out plans_to_emigrate.zip" in page
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="variables/persons.plans_to_emigrate.html#extract"' in index


# --- three languages --------------------------------------------------------------------------------

TRANSLATED: tuple[Language, ...] = ("fr", "es")


def _pages_of(root: Path) -> list[str]:
    """The pages of one language's tree, relative to it (the other languages' folders left out)."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.html")
        if p.relative_to(root).parts[0] not in LANGUAGES
    )


def test_every_page_exists_in_three_languages_with_a_switch(site: Path) -> None:
    english = _pages_of(site)
    for code in TRANSLATED:
        assert _pages_of(site / code) == english, code
    for code in LANGUAGES:
        root = site / language_folder(code)
        for relative in english:
            text = (root / relative).read_text(encoding="utf-8")
            assert f'<html lang="{code}">' in text, (code, relative)
            switch = re.search(r'<nav class="languages"[^>]*>(.*?)</nav>', text)
            assert switch is not None, (code, relative)
            assert f'<strong lang="{code}">' in switch.group(1)
            links = dict(
                (lang, href) for href, lang in re.findall(r'href="([^"]+)" hreflang="(\w+)"', switch.group(1))
            )
            assert sorted(links) == sorted(c for c in LANGUAGES if c != code)
            for other, href in links.items():  # a relative link to the same page in the other language
                target = ((root / relative).parent / href).resolve()
                assert target == (site / language_folder(other) / relative).resolve(), (code, relative, href)
                assert target.is_file()


@pytest.mark.parametrize("code", TRANSLATED)
def test_pages_are_written_in_their_language(
    site: Path, package_dir: Path, descriptor: dict[str, Any], code: Language
) -> None:
    root = site / code
    households = next(r for r in descriptor["resources"] if r["name"] == "households")
    field = next(f for f in households["schema"]["fields"] if f["name"] == "remittance_channel")
    page = root / variable_file("households", "remittance_channel")
    text = _text(page)
    with using(code):
        heading = t("docs.site-value-labels")
        title = field_text("households", field, "title")
        assert title is not None and f"remittance_channel — {title}" in text  # the page's heading
        assert t("common.synthetic-notice") in text  # the synthetic label in the page's language
        labels = [
            [str(c["value"]), category_label("households", field, c["value"], c["label"])]
            for c in field["categories"]
        ]
        assert _table_rows(page, heading) == labels
        for heading in (
            "docs.site-frequencies-by-country",
            "docs.site-comparability",
            "docs.site-extract-heading",
        ):
            assert t(heading) in text
        index = _text(root / "index.html")
        synthetic = [c for c, origin in descriptor["dataOrigin"].items() if origin == "synthetic"]
        assert synthetic_notice(synthetic) in index and t("docs.site-real-notice") in index
        assert t("common.synthetic-notice") in _text(root / "availability.html")
        frequencies = t("docs.site-frequencies-by-country")
    # numbers in the page's language, held to polars and to Babel called directly
    frame = pl.read_parquet(package_dir / "data" / "households.parquet").filter(pl.col("country") == "KHM")
    rows = _table_rows(root / variable_file("households", "remittances_received"), frequencies)
    no = next(row for row in rows if row[0] == "0")
    countries = sorted(descriptor["countries"])
    weight = as_number(frame["weight"].sum())
    share = as_number(frame.filter(pl.col("remittances_received") == 0)["weight"].sum()) / weight
    count = frame.filter(pl.col("remittances_received") == 0).height
    percent = format_decimal(round(share * 100, 1), "#,##0.0", locale=code)
    expected = f"{percent}\u00a0% n={format_decimal(count, locale=code)}"
    assert no[2 + countries.index("KHM")] == " ".join(
        expected.split()
    )  # _table_rows reads no-break spaces as spaces
    assert count >= 1000 and format_decimal(count, locale=code) != f"{count:,}"  # grouped the local way


@pytest.mark.slow  # writes a second site
def test_the_site_is_deterministic(site: Path, package_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    write_site(package_dir, again)
    first = sorted(p.relative_to(site) for p in site.rglob("*") if p.is_file())
    assert first == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for relative in first:
        assert (site / relative).read_bytes() == (again / relative).read_bytes(), relative


# --- a real browser, offline -------------------------------------------------------------------------


class Browser:
    """Headless chromium driven over the DevTools protocol (one page), recording every request."""

    def __init__(self, profile: Path) -> None:
        from websockets.sync.client import connect

        self.process = subprocess.Popen(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1280,900", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.load(response)
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        self.stack = ExitStack()
        self.socket = self.stack.enter_context(connect(url, max_size=None, open_timeout=20))
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.call("Page.enable")
        self.call("Network.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message.get("result", {})
            self.events.append(message)

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            assert time.monotonic() < deadline, "page did not load"
            self.events.append(json.loads(self.socket.recv(timeout=60)))

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def requested(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def close(self) -> None:
        self.stack.close()
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    chrome = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield chrome
    chrome.close()


VISIBLE_ROWS = (
    "[...document.querySelectorAll('#variables tbody tr')].filter(r => !r.hidden).map(r => r.dataset.name)"
)


@pytest.mark.slow  # a real browser
def test_the_index_searches_as_you_type_offline(browser: Browser, site: Path, tmp_path: Path) -> None:
    browser.open((site / "index.html").as_uri())
    assert all(url.startswith(("file:", "data:")) for url in browser.requested()), browser.requested()
    everything = browser.evaluate(VISIBLE_ROWS)
    assert len(everything) > 50
    browser.evaluate("document.getElementById('search').focus()")
    seen = []
    for letter in "remittances_received":  # one key at a time, as a person types
        browser.call("Input.insertText", text=letter)
        seen.append(len(browser.evaluate(VISIBLE_ROWS)))
    assert seen == sorted(seen, reverse=True) and seen[-1] < seen[0] <= len(everything)  # narrows
    assert browser.evaluate(VISIBLE_ROWS) == ["remittances_received"]
    assert browser.evaluate("document.getElementById('count').textContent").startswith("1 of ")
    # a value label finds its variable
    browser.evaluate(
        "document.getElementById('search').value = ''; document.getElementById('search').focus()"
    )
    browser.call("Input.insertText", text="Mobile money")
    assert "remittance_channel" in browser.evaluate(VISIBLE_ROWS)
    # ticking a variable writes its extract command
    browser.evaluate("document.querySelector('tr[data-name=remittance_channel] input').click()")
    assert browser.evaluate("document.getElementById('command').textContent") == (
        "ippmd extract --tables households --variables remittance_channel --out extract.zip"
    )
    shot = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "index.png").write_bytes(shot)
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=float)
    assert pixels.shape[1] >= 1000 and pixels.std() > 20  # text, table and banner, not a blank page
    assert len(np.unique(pixels)) > 30


@pytest.mark.slow  # a real browser
def test_a_variable_page_shows_all_ten_countries_in_the_browser(browser: Browser, site: Path) -> None:
    browser.open((site / variable_file("households", "remittances_received")).as_uri())
    assert all(url.startswith(("file:", "data:")) for url in browser.requested()), browser.requested()
    text = browser.evaluate("document.body.innerText")
    for iso3 in ("ARM", "BFA", "CIV", "CRI", "DOM", "GEO", "HTI", "KHM", "MAR", "PHL"):
        assert load_country(iso3)["name"] in text, iso3
    assert browser.evaluate("document.querySelectorAll('svg.chart rect').length") >= 10
    assert "SYNTHETIC DATA" in text


@pytest.mark.slow  # a real browser
def test_the_french_index_searches_in_french(browser: Browser, site: Path) -> None:
    browser.open((site / "fr" / "index.html").as_uri())
    assert all(url.startswith(("file:", "data:")) for url in browser.requested()), browser.requested()
    assert browser.evaluate("document.documentElement.lang") == "fr"
    total = len(browser.evaluate(VISIBLE_ROWS))
    with using("fr"):
        assert browser.evaluate("document.getElementById('count').textContent") == t(
            "docs.site-search-count", shown=f"{total}", total=f"{total}"
        )
        assert browser.evaluate("document.getElementById('command').textContent") == t("docs.site-tick-empty")
    browser.evaluate("document.getElementById('search').focus()")
    browser.call("Input.insertText", text="remittances_received")
    assert browser.evaluate(VISIBLE_ROWS) == ["remittances_received"]


@pytest.mark.slow  # several CLI processes: make test keeps under 3 minutes; CI runs it
def test_site_refuses_a_folder_of_other_files(package_dir: Path, tmp_path: Path) -> None:
    """A user's own non-empty folder is never overwritten; an earlier site (marked) is updated."""
    import subprocess
    import sys

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "index.html").write_text("my page", encoding="utf-8")
    ippmd = Path(sys.executable).with_name("ippmd")
    done = subprocess.run(
        [str(ippmd), "site", "--package", str(package_dir), "--out", str(mine)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert (mine / "index.html").read_text(encoding="utf-8") == "my page"
