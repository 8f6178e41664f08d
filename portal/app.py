"""The portal's FastAPI app: JSON under /api/v1 and a server-rendered front page.

Each route calls the function its CLI command calls (tabulate, extract, validate, admit), so the
numbers, zips and verdicts are the CLI's; what the CLI reports as exit 1 or 2 answers 4xx here
with the CLI's message, in the request's language (`?lang=`, else Accept-Language)."""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel
from python_multipart.exceptions import MultipartParseError
from starlette.concurrency import run_in_threadpool

from ippmd import synthetic_notice
from ippmd.admit import admit
from ippmd.commands.extract import write_extract
from ippmd.commands.options import country_codes_of, package_folder, suite_engine
from ippmd.commands.output import Unanswered
from ippmd.commands.tabulate import run_tabulation, tabulation_query
from ippmd.core.errors import InputError, UsageError
from ippmd.core.home import project_home
from ippmd.core.i18n import SOURCE, language, language_named, t
from ippmd.explore.render import render
from ippmd.extract import variable_catalog
from ippmd.package.read import BuiltPackage, read_package
from ippmd.package.translate import heading_text
from ippmd.portal.security import SecurityHeaders, UserLanguage
from ippmd.portal.store import STORE_FOLDER, Account, Store, Submission, now
from ippmd.portal.upload import UploadRefused, receive_zip
from ippmd.quality.archive import open_submission_files
from ippmd.quality.validate import validate_submission
from ippmd.template import country_name

API = "/api/v1"
EXTRACT_NAME = "ippmd-extract.zip"  # the server's name for an extract (its folder inside the zip)
SUBMISSION_NAME = "submission.zip"  # the server's name for an upload: a client's name is never used


def served_home(home: Path) -> BuiltPackage:
    """The package the portal serves, read as the CLI reads it (recovered, hashes verified)."""
    return read_package(package_folder(home))


def create_app(home: Path | None = None) -> FastAPI:
    """The app over the package in `home` (default: the project home, $IPPMD_HOME as `serve` sets it)."""
    home = Path(home) if home is not None else project_home()
    app = FastAPI(
        title="ippmd portal",
        summary="Harmonized IPPMD migration-and-development survey package (synthetic microdata).",
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: no external source
        redoc_url=None,
    )
    app.state.store = store = Store(home)
    app.add_middleware(UserLanguage)
    app.add_middleware(SecurityHeaders)
    _handle_errors(app)
    _reading_routes(app, home)
    _submission_routes(app, home, store)
    return app


def _detail(status: int, detail: object) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _handle_errors(app: FastAPI) -> None:
    """What the CLI reports (exit 1 or 2) answers 4xx with its message; nothing answers a traceback."""

    @app.exception_handler(UsageError)
    async def usage(_: Request, exc: UsageError) -> JSONResponse:
        return _detail(400, "\n".join(str(m) for m in exc.args) or str(exc))

    @app.exception_handler(Unanswered)
    async def unanswered(_: Request, exc: Unanswered) -> JSONResponse:
        return _detail(422, str(exc))

    @app.exception_handler(InputError)
    async def bad_input(_: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "problems": [p.as_record() for p in exc.problems]}, status_code=422
        )

    @app.exception_handler(UploadRefused)
    async def refused(_: Request, exc: UploadRefused) -> JSONResponse:
        return _detail(exc.status, str(exc))

    @app.exception_handler(OSError)
    async def environment(_: Request, exc: OSError) -> JSONResponse:
        return _detail(503, t("portal.environment", error=exc.strerror or exc.__class__.__name__))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return _detail(500, t("portal.internal", kind=exc.__class__.__name__))


def _package_summary(built: BuiltPackage) -> dict[str, Any]:
    descriptor = built.descriptor
    names = built.country_names
    return {
        "name": built.name,
        "title": descriptor.get("title"),
        "version": built.version,
        "dataHash": built.data_hash,
        "synthetic": built.synthetic,
        "notice": synthetic_notice(built.synthetic_countries) if built.synthetic_countries else None,
        "countries": [
            {"iso3": iso3, "name": names.get(iso3), "origin": built.origin(iso3)} for iso3 in built.countries
        ],
        "licenses": list(descriptor.get("licenses", [])),
        "citation": descriptor.get("citation"),
    }


class ExtractRequest(BaseModel):
    """`ippmd extract`'s options (comma-separated, as on the command line, or lists)."""

    countries: str | list[str] | None = None
    tables: str | list[str] | None = None
    variables: str | list[str] | None = None
    format: str = "csv"
    attach: str | list[str] | None = None
    where: str | None = None
    rectangular: bool = False
    lang: str | None = None  # the labels' language, as `--lang` (default English, like the CLI's)


def _joined(value: str | list[str] | None) -> str | None:
    return ",".join(value) if isinstance(value, list) else value


def _reading_routes(app: FastAPI, home: Path) -> None:
    """Open to all: the package, its variables, tabulations and extracts."""

    @app.get(f"{API}/package")
    def package() -> dict[str, Any]:
        return _package_summary(read_package(package_folder(home, verify=False)))

    @app.get(f"{API}/variables")
    def variables() -> list[dict[str, Any]]:
        return [asdict(v) for v in variable_catalog(package_folder(home, verify=False))]

    @app.get(f"{API}/tabulate")
    def tabulate(
        variable: str,
        table: str,
        by: str | None = None,
        where: str | None = None,
        countries: str | None = None,
        interval: str | None = None,
    ) -> Response:
        codes = tuple(country_codes_of(countries) or ()) or None
        query = tabulation_query(variable, table, by, where, codes, interval)
        result = run_tabulation(package_folder(home), query)
        return Response(render(result, "json"), media_type="application/json")

    @app.post(f"{API}/extracts")
    def extracts(request: ExtractRequest) -> Response:
        package = package_folder(home, verify=False)
        with tempfile.TemporaryDirectory(prefix="ippmd-extract-") as folder:
            out = Path(folder) / EXTRACT_NAME
            write_extract(
                package,
                out,
                _joined(request.countries),
                _joined(request.tables),
                _joined(request.variables),
                request.format,
                _joined(request.attach),
                request.where,
                request.rectangular,
                language_named(request.lang) if request.lang else SOURCE,
            )
            data = out.read_bytes()
        disposition = f'attachment; filename="{EXTRACT_NAME}"'
        return Response(data, media_type="application/zip", headers={"Content-Disposition": disposition})

    @app.get("/", response_class=HTMLResponse)
    def front() -> HTMLResponse:
        summary = _package_summary(read_package(package_folder(home, verify=False)))
        # the page speaks the reader's language; the JSON of /api/v1/package keeps the descriptor's words
        summary["title"] = heading_text("package", "title", str(summary["title"]))
        for row in summary["countries"]:
            row["name"] = country_name(row["iso3"], row["name"] or row["iso3"])
        page = _pages().get_template("index.html").render(package=summary, lang=language(), label=_labels())
        return HTMLResponse(page)


def _labels() -> dict[str, str]:
    """The front page's words in the request's language."""
    return {
        "version": t("portal.page-version"),
        "countries": t("portal.page-countries"),
        "country": t("portal.page-country"),
        "origin": t("portal.page-origin"),
        "licences": t("portal.page-licences"),
        "cite": t("portal.page-cite"),
    }


def _pages() -> Environment:
    return Environment(loader=PackageLoader("ippmd.portal", "templates"), autoescape=select_autoescape())


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def signed_in_account(request: Request, authorization: Annotated[str | None, Header()] = None) -> Account:
    """The account of the request's `Authorization: Bearer <token>` (401 none, wrong or revoked;
    429 after too many failed attempts from the client's address, checked before any hash)."""
    store: Store = request.app.state.store
    client = _client(request)
    if store.refused(client):
        raise HTTPException(429, t("portal.rate-limited"))
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, t("portal.no-token"), {"WWW-Authenticate": "Bearer"})
    found = store.authenticate(token.strip())
    if found is None:
        store.failed(client)
        raise HTTPException(401, t("portal.bad-token"), {"WWW-Authenticate": "Bearer"})
    return found


SignedIn = Annotated[Account, Depends(signed_in_account)]


def _submission_id(value: str) -> str:
    """A submission ID as the server makes them (hex); anything else names none (404)."""
    if len(value) != 16 or any(c not in "0123456789abcdef" for c in value):
        raise HTTPException(404, t("portal.no-submission", id=repr(value[:40])))
    return value


def _submission_routes(app: FastAPI, home: Path, store: Store) -> None:
    """Submitting needs a country token (its own country only); admitting a maintainer's."""
    submissions = home / STORE_FOLDER / "submissions"

    @app.post(f"{API}/submissions", status_code=201)
    async def submit(request: Request, account: SignedIn) -> dict[str, Any]:
        if account.role != "country":
            raise HTTPException(403, t("portal.maintainer-submits"))
        submission_id = secrets.token_hex(8)
        folder = submissions / submission_id
        folder.mkdir(parents=True)
        try:
            return await _receive(request, store, account, submission_id, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # nothing kept of a refused upload
            raise

    @app.get(f"{API}/submissions/{{submission_id}}")
    def submission(submission_id: str, account: SignedIn) -> dict[str, Any]:
        kept = _visible(store, _submission_id(submission_id), account)
        return {**asdict(kept), "path": None, "report": _read_report(Path(kept.path))}

    @app.post(f"{API}/submissions/{{submission_id}}/admit")
    def admit_submission(submission_id: str, account: SignedIn, engine: str = "gx") -> JSONResponse:
        if account.role != "maintainer":
            raise HTTPException(403, t("portal.maintainers-admit"))
        kept = _visible(store, _submission_id(submission_id), account)
        suites = suite_engine(engine)
        if not store.claim(kept.id, "valid", "admitting"):  # admitted, being admitted, or invalid
            raise HTTPException(409, t("portal.not-admissible", status=kept.status))
        try:
            report = admit(Path(kept.path), home, engine=suites)
        except BaseException:
            store.set_status(kept.id, "valid")
            raise
        report.target = SUBMISSION_NAME
        outcome = "admitted" if report.valid else "refused"
        store.audit(account.id, "admit", kept.sha256, outcome)
        store.set_status(kept.id, "admitted" if report.valid else "refused")
        if not report.valid:
            return JSONResponse(
                {"id": kept.id, "status": "refused", "problems": [p.as_record() for p in report.problems]},
                422,
            )
        built = read_package(package_folder(home, verify=False))
        answer = {"id": kept.id, "country": report.country, "status": "admitted"}
        return JSONResponse({**answer, "version": built.version, "dataHash": built.data_hash})


def _visible(store: Store, submission_id: str, account: Account) -> Submission:
    """The submission, for its own account or a maintainer (404 for anyone else: no leak of IDs)."""
    kept = store.submission(submission_id)
    if kept is None or (account.role != "maintainer" and kept.account != account.id):
        raise HTTPException(404, t("portal.no-submission", id=repr(submission_id)))
    return kept


async def _receive(
    request: Request, store: Store, account: Account, submission_id: str, folder: Path
) -> dict[str, Any]:
    """Stream the upload to disk, refuse what cannot be opened safely, validate what can."""
    path = folder / SUBMISSION_NAME
    headers = request.headers
    try:
        await receive_zip(headers.get("content-type"), headers.get("content-length"), request.stream(), path)
    except MultipartParseError as exc:
        raise UploadRefused(400, t("portal.form-unreadable", error=str(exc))) from None
    except UploadRefused as exc:
        store.audit(account.id, "submit", None, f"refused {exc.status}")
        raise
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        await run_in_threadpool(_opens, path)  # traversal names, links, zip bombs: refused, not kept
    except InputError as exc:
        store.audit(account.id, "submit", sha256, "refused 422")
        raise UploadRefused(422, t("portal.unsafe-zip", problems=str(exc))) from None
    report = await run_in_threadpool(validate_submission, path)
    report.target = SUBMISSION_NAME
    if report.country is not None and report.country != account.country:
        store.audit(account.id, "submit", sha256, "refused 403")
        raise HTTPException(403, t("portal.other-country", allowed=account.country, given=report.country))
    status = "valid" if report.valid else "invalid"
    report.write_json(folder / "report.json")
    store.add_submission(
        Submission(submission_id, account.country, account.id, sha256, status, str(path), now())
    )
    store.audit(account.id, "submit", sha256, status)
    return {
        "id": submission_id,
        "country": account.country,
        "status": status,
        "problems": [p.as_record() for p in report.problems],
    }


def _opens(path: Path) -> None:
    """Open the zip as validate and admit do (archive checks only); InputError when it cannot be."""
    with open_submission_files(path):
        pass


def _read_report(path: Path) -> Any:
    import json

    report = path.parent / "report.json"
    return json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
