"""The portal's HTTP API (issue 21) through starlette's TestClient: every route, every permission,
oversized and hostile uploads, bad queries; the tabulation and the extract held to the CLI's own
output for the same query (byte for byte)."""

from __future__ import annotations

import html
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ippmd import synthetic_notice
from ippmd.core.i18n import using
from ippmd.extract import variable_catalog
from ippmd.package.read import read_package
from ippmd.portal.app import create_app
from ippmd.portal.store import FAILED_ATTEMPTS, Store
from tests.conftest import copy_package, set_cell

IPPMD = Path(sys.executable).with_name("ippmd")


@pytest.fixture(scope="module")
def home(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session package: the portal writes its store and uploads under the home."""
    return copy_package(package_dir, tmp_path_factory.mktemp("portal") / "home")


@pytest.fixture(scope="module")
def tokens(home: Path) -> dict[str, str]:
    store = Store(home)
    made = {
        "KHM": store.create_account("NIS Cambodia", "country", "KHM")[1],
        "CIV": store.create_account("INS Côte d'Ivoire", "country", "CIV")[1],
        "maintainer": store.create_account("release team", "maintainer", None)[1],
    }
    revoked, made["revoked"] = store.create_account("old KHM token", "country", "KHM")
    store.revoke(revoked.id)
    return made


@pytest.fixture(scope="module")
def client(home: Path, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(home), raise_server_exceptions=False) as test_client:
        yield test_client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    return buffer.getvalue()


def _upload(data: bytes, content_type: str = "application/zip") -> dict[str, tuple[str, bytes, str]]:
    return {"file": ("../../etc/passwd.zip", data, content_type)}  # a client's name is never a path


def _kept(home: Path) -> set[str]:
    folder = home / ".ippmd" / "submissions"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(IPPMD), *args], capture_output=True, timeout=300, check=False)


# --- reading: open to all ---------------------------------------------------------------------------


def test_package_names_version_hash_origins_and_the_synthetic_notice(client: TestClient, home: Path) -> None:
    answer = client.get("/api/v1/package")
    built = read_package(home)
    body = answer.json()
    assert answer.status_code == 200
    assert (body["version"], body["dataHash"]) == (built.version, built.data_hash)
    assert {c["iso3"]: c["origin"] for c in body["countries"]} == dict(built.origins)
    assert body["licenses"] == list(built.descriptor["licenses"]) and body["citation"]
    assert body["synthetic"] is True and body["notice"] == synthetic_notice(built.synthetic_countries)
    assert "SYNTHETIC" in body["notice"]


def test_every_response_sends_the_security_headers(client: TestClient) -> None:
    answers = ("/api/v1/package", "/nowhere", "/api/v1/package?lang=xx", "/")
    for answer in [*(client.get(path) for path in answers), client.post("/api/v1/submissions")]:
        assert len(answer.headers.get_list("content-security-policy")) == 1
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "http" not in policy  # no external source
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_an_unknown_path_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/nothing").status_code == 404
    assert client.get("/api/v1/submissions/../../datapackage.json").status_code == 404


def test_the_language_follows_the_request_not_the_process(client: TestClient, home: Path) -> None:
    built = read_package(home)
    with using("fr"):
        french = synthetic_notice(built.synthetic_countries)
    with using("es"):
        spanish = synthetic_notice(built.synthetic_countries)
    assert client.get("/api/v1/package?lang=fr").json()["notice"] == french != spanish
    asked = client.get("/api/v1/package", headers={"Accept-Language": "de-DE, es;q=0.8, fr;q=0.5"})
    assert asked.json()["notice"] == spanish
    assert client.get("/api/v1/package").json()["notice"] == synthetic_notice(built.synthetic_countries)
    refused = {
        lang: client.post(f"/api/v1/submissions?lang={lang}").json()["detail"] for lang in ("fr", "es")
    }
    assert refused == {
        "fr": "envoyez un jeton : Authorization: Bearer <token>",
        "es": "envíe un token: Authorization: Bearer <token>",
    }
    front = client.get("/", headers={"Accept-Language": "fr"}).text
    assert '<html lang="fr">' in front and "Comment citer" in front and "DONNÉES SYNTHÉTIQUES" in front
    from babel import Locale

    from ippmd.core.i18n import catalogue

    assert html.escape(catalogue("fr", "codebook")["package.title"], quote=True) in front  # the title
    assert Locale.parse("fr").territories["DO"] in front  # country names from CLDR, not the descriptor's
    wrong = client.get("/api/v1/package?lang=xx")
    assert wrong.status_code == 400 and "en, fr, es" in wrong.json()["detail"]


def test_variables_lists_the_catalogue(client: TestClient, home: Path) -> None:
    answer = client.get("/api/v1/variables")
    names = [(v["table"], v["name"]) for v in answer.json()]
    assert answer.status_code == 200 and names == [(v.table, v.name) for v in variable_catalog(home)]


def test_the_front_page_shows_version_hash_and_the_synthetic_label(client: TestClient, home: Path) -> None:
    page = client.get("/")
    built = read_package(home)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert built.version in page.text and built.data_hash in page.text and "SYNTHETIC" in page.text


def test_openapi_is_served_and_no_page_loads_an_external_script(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/tabulate", "/api/v1/extracts", "/api/v1/submissions"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 404  # Swagger UI would load a CDN script


def test_tabulate_answers_the_bytes_of_the_cli_for_the_same_query(client: TestClient, home: Path) -> None:
    query = {"variable": "remittances_received", "table": "households", "by": "country", "where": "urban = 1"}
    answer = client.get("/api/v1/tabulate", params=query)
    cli = _cli(
        "tabulate", "remittances_received", "--table", "households", "--by", "country",
        "--where", "urban = 1", "--format", "json", "--package", str(home),
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert answer.status_code == 200 and answer.content == cli.stdout
    body = answer.json()
    assert body["dataHash"] == read_package(home).data_hash and len(body["rows"]) == 10


@pytest.mark.parametrize(
    ("query", "status", "cli_args"),
    [
        ({"variable": "nonsense", "table": "households"}, 400, ["nonsense", "--table", "households"]),
        ({"variable": "urban", "table": "tables"}, 400, ["urban", "--table", "tables"]),
        (
            {"variable": "urban", "table": "households", "interval": "wald"},
            400,
            ["urban", "--table", "households", "--interval", "wald"],
        ),
        (
            {"variable": "urban", "table": "households", "countries": "XXX"},
            400,
            ["urban", "--table", "households", "--countries", "XXX"],
        ),
        (  # single records are not estimates: no table by a household's or person's key
            {"variable": "weight", "table": "households", "by": "household_id"},
            400,
            ["weight", "--table", "households", "--by", "household_id"],
        ),
        (
            {"variable": "age", "table": "persons", "by": "sex,household_id"},
            400,
            ["age", "--table", "persons", "--by", "sex,household_id"],
        ),
        (
            {"variable": "urban", "table": "households", "where": "household_size < 0"},
            422,
            ["urban", "--table", "households", "--where", "household_size < 0"],
        ),
    ],
)
def test_a_bad_tabulate_query_answers_4xx_with_the_clis_message(
    client: TestClient, home: Path, query: dict[str, str], status: int, cli_args: list[str]
) -> None:
    answer = client.get("/api/v1/tabulate", params=query)
    cli = _cli("tabulate", *cli_args, "--format", "json", "--package", str(home))
    assert answer.status_code == status and cli.returncode == (2 if status == 400 else 1)
    said = " ".join(cli.stderr.decode().split())
    assert " ".join(answer.json()["detail"].split()) in said


def test_a_tabulate_query_missing_its_variable_is_422(client: TestClient) -> None:
    assert client.get("/api/v1/tabulate", params={"table": "households"}).status_code == 422


def test_an_extract_is_the_zip_of_the_cli_byte_for_byte(
    client: TestClient, home: Path, tmp_path: Path
) -> None:
    options = {"countries": "KHM,PHL", "tables": "households", "variables": "urban,weight", "format": "csv"}
    answer = client.post("/api/v1/extracts", json=options)
    out = tmp_path / "ippmd-extract.zip"
    cli = _cli(
        "extract", "--countries", "KHM,PHL", "--tables", "households", "--variables", "urban,weight",
        "--format", "csv", "--out", str(out), "--package", str(home),
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert answer.content == out.read_bytes()


def test_an_extract_of_an_unknown_table_answers_400_naming_it(client: TestClient) -> None:
    answer = client.post("/api/v1/extracts", json={"tables": "househods"})
    assert answer.status_code == 400 and "househods" in answer.json()["detail"]


# --- who may do what --------------------------------------------------------------------------------


def test_submitting_needs_a_valid_unrevoked_country_token(
    client: TestClient, tokens: dict[str, str], submission: Path, home: Path
) -> None:
    data = _zipped(submission)
    before = _kept(home)
    assert client.post("/api/v1/submissions", files=_upload(data)).status_code == 401
    wrong = client.post("/api/v1/submissions", files=_upload(data), headers=_bearer("ippmd_0000_nope"))
    assert wrong.status_code == 401
    revoked = client.post("/api/v1/submissions", files=_upload(data), headers=_bearer(tokens["revoked"]))
    assert revoked.status_code == 401
    maintainer = client.post(
        "/api/v1/submissions", files=_upload(data), headers=_bearer(tokens["maintainer"])
    )
    assert maintainer.status_code == 403
    other = client.post("/api/v1/submissions", files=_upload(data), headers=_bearer(tokens["CIV"]))
    assert other.status_code == 403 and "CIV" in other.json()["detail"]
    assert _kept(home) == before  # nothing kept of a refused upload


def test_a_valid_submission_is_kept_and_read_back_by_its_account_and_a_maintainer(
    client: TestClient, tokens: dict[str, str], submission: Path, home: Path
) -> None:
    answer = client.post(
        "/api/v1/submissions", files=_upload(_zipped(submission)), headers=_bearer(tokens["KHM"])
    )
    body = answer.json()
    assert answer.status_code == 201, body
    assert (body["country"], body["status"]) == ("KHM", "valid")
    assert not [p for p in body["problems"] if p["severity"] == "error"]
    assert body["id"] in _kept(home)
    assert [p.name for p in (home / ".ippmd" / "submissions" / body["id"]).iterdir()] != []
    path = f"/api/v1/submissions/{body['id']}"
    own = client.get(path, headers=_bearer(tokens["KHM"]))
    assert own.status_code == 200 and own.json()["status"] == "valid" and own.json()["report"]["valid"]
    assert own.json()["path"] is None  # the server's folders are not shown
    assert client.get(path, headers=_bearer(tokens["maintainer"])).status_code == 200
    assert client.get(path, headers=_bearer(tokens["CIV"])).status_code == 404
    assert client.get(path).status_code == 401
    assert client.post(f"{path}/admit", headers=_bearer(tokens["KHM"])).status_code == 403
    assert client.post(f"{path}/admit").status_code == 401
    audit = Store(home).audit_log()
    assert any(action == "submit" and outcome == "valid" and sha for _, _, action, sha, outcome in audit)


def test_an_invalid_submission_answers_201_invalid_with_its_problems(
    client: TestClient, tokens: dict[str, str], copy: Path
) -> None:
    set_cell(copy, "persons", 4, "sex", "7")  # not a sex code
    answer = client.post("/api/v1/submissions", files=_upload(_zipped(copy)), headers=_bearer(tokens["KHM"]))
    body = answer.json()
    assert answer.status_code == 201 and body["status"] == "invalid"
    assert any(p["field"] == "sex" and p["file"] == "persons.csv" for p in body["problems"])


def test_an_unknown_submission_id_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    for name in ("0123456789abcdef", "..", "x" * 300):
        assert client.get(f"/api/v1/submissions/{name}", headers=_bearer(tokens["KHM"])).status_code == 404


# --- oversized and hostile uploads ------------------------------------------------------------------


def test_an_oversized_upload_is_413_without_reading_the_rest(
    client: TestClient, tokens: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ippmd.portal.upload as upload

    monkeypatch.setattr(upload, "upload_limit", lambda: 10_000)
    monkeypatch.setattr(upload, "FORM_OVERHEAD", 1_000)
    before = _kept(home)
    declared = client.post(
        "/api/v1/submissions", files=_upload(b"PK\x03\x04" + b"0" * 20_000), headers=_bearer(tokens["KHM"])
    )
    assert declared.status_code == 413 and "unpacked_bytes" in declared.json()["detail"]
    assert _kept(home) == before


def test_an_upload_is_cut_at_the_limit_without_reading_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream is read chunk by chunk and left as soon as it passes the limit (a TestClient sends
    the whole body at once, so the cut is held on the reader itself)."""
    import asyncio

    import ippmd.portal.upload as upload

    monkeypatch.setattr(upload, "upload_limit", lambda: 10_000)
    monkeypatch.setattr(upload, "FORM_OVERHEAD", 1_000)
    sent: list[int] = []

    async def stream() -> AsyncIterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="s.zip"\r\n'
        yield b"Content-Type: application/zip\r\n\r\nPK\x03\x04"
        for chunk in range(100):
            sent.append(chunk)
            yield b"0" * 1_000
        yield b"\r\n--b--\r\n"

    with pytest.raises(upload.UploadRefused) as refused:
        asyncio.run(upload.receive_zip("multipart/form-data; boundary=b", None, stream(), tmp_path / "s.zip"))
    assert refused.value.status == 413 and len(sent) <= 12


def _zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("files", "status"),
    [
        (_upload(_zip_of({"../../evil.csv": b"a,b\n1,2\n", "metadata.yaml": b"x: 1\n"})), 422),
        (_upload(_zip_of({"/etc/cron.d/evil": b"* * * * * root true\n"})), 422),
        (_upload(_zip_of({"persons.csv": b"0" * 50_000_000})), 422),  # a zip bomb: ratio about 1000
        (_upload(b"persons,sex\n1,2\n", "text/csv"), 415),
        (_upload(b"not a zip at all", "application/zip"), 415),
        ({"upload": ("s.zip", _zip_of({"a.csv": b"1"}), "application/zip")}, 400),  # no field `file`
    ],
    ids=["traversal", "absolute", "bomb", "csv-type", "not-a-zip", "no-file-field"],
)
def test_a_hostile_upload_is_refused_and_nothing_kept(
    client: TestClient,
    tokens: dict[str, str],
    home: Path,
    files: dict[str, tuple[str, bytes, str]],
    status: int,
) -> None:
    before = _kept(home)
    answer = client.post("/api/v1/submissions", files=files, headers=_bearer(tokens["KHM"]))
    assert answer.status_code == status, answer.json()
    assert _kept(home) == before


def test_a_body_that_is_not_a_form_is_415(client: TestClient, tokens: dict[str, str]) -> None:
    headers = {**_bearer(tokens["KHM"]), "Content-Type": "application/json"}
    assert client.post("/api/v1/submissions", content=b"{}", headers=headers).status_code == 415


def test_failed_token_attempts_are_rate_limited_per_address(tmp_path: Path, package_dir: Path) -> None:
    home = copy_package(package_dir, tmp_path / "home")
    good = Store(home).create_account("NIS Cambodia", "country", "KHM")[1]
    with TestClient(create_app(home), raise_server_exceptions=False) as fresh:
        for _ in range(FAILED_ATTEMPTS):
            assert (
                fresh.get("/api/v1/submissions/0123456789abcdef", headers=_bearer("ippmd_x_y")).status_code
                == 401
            )
        refused = fresh.get("/api/v1/submissions/0123456789abcdef", headers=_bearer(good))
        assert refused.status_code == 429


def test_the_store_keeps_no_token_only_its_argon2id_hash(home: Path, tokens: dict[str, str]) -> None:
    import sqlite3

    raw = (home / ".ippmd" / "portal.sqlite").read_bytes()
    assert all(token.split("_", 2)[2].encode() not in raw for token in tokens.values())
    with sqlite3.connect(home / ".ippmd" / "portal.sqlite") as db:
        hashes = [row[0] for row in db.execute("SELECT hash FROM tokens")]
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes) and mode == "wal"


# --- admitting ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_maintainer_admits_and_the_package_changes(tmp_path: Path, submission: Path) -> None:
    from ippmd.build import build

    home = tmp_path / "home"
    build(home, ["KHM", "PHL"], expectations=False)
    store = Store(home)
    country = store.create_account("NIS Cambodia", "country", "KHM")[1]
    maintainer = store.create_account("release team", "maintainer", None)[1]
    before = read_package(home).data_hash
    with TestClient(create_app(home), raise_server_exceptions=False) as fresh:
        sent = fresh.post("/api/v1/submissions", files=_upload(_zipped(submission)), headers=_bearer(country))
        assert sent.status_code == 201 and sent.json()["status"] == "valid"
        path = f"/api/v1/submissions/{sent.json()['id']}/admit?engine=polars"
        assert fresh.post(path, headers=_bearer(country)).status_code == 403
        admitted = fresh.post(path, headers=_bearer(maintainer))
        body = admitted.json()
        assert admitted.status_code == 200, body
        after = read_package(home)
        assert (body["version"], body["dataHash"]) == (after.version, after.data_hash)
        assert body["dataHash"] != before and (home / "admitted" / "KHM").is_dir()
        assert fresh.get("/api/v1/package").json()["dataHash"] == body["dataHash"]
        again = fresh.post(path, headers=_bearer(maintainer))  # a second admit of the same submission
        assert again.status_code == 409 and "admitted" in again.json()["detail"], again.json()
        assert read_package(home).data_hash == body["dataHash"]
    assert [row[2:] for row in Store(home).audit_log()][-1][0] == "admit"
    assert [row[2] for row in Store(home).audit_log()].count("admit") == 1
    assert (Store(home).path.stat().st_mode & 0o777) == 0o600  # token hashes: the owner's only
    assert json.loads((home / "datapackage.json").read_text())["dataHash"] == body["dataHash"]
