"""`ippmd token` and `ippmd serve` (issue 21): accounts made, listed and revoked from the command
line, exit 2 with a clear message for bad input; `serve` refuses a home without a package and,
started, answers on 127.0.0.1 until stopped."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ippmd.portal.store import Store
from tests.conftest import copy_package

IPPMD = Path(sys.executable).with_name("ippmd")


def _ippmd(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IPPMD), "--home", str(home), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_token_create_prints_the_token_once_and_list_never_shows_it(tmp_path: Path) -> None:
    made = _ippmd(tmp_path, "token", "create", "--country", "CIV", "--label", "INS Côte d'Ivoire")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert re.fullmatch(r"ippmd_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
    account = Store(tmp_path).authenticate(token)
    assert account is not None and (account.role, account.country, account.label) == (
        "country",
        "CIV",
        "INS Côte d'Ivoire",
    )
    assert _ippmd(tmp_path, "token", "create", "--maintainer", "--label", "release team").returncode == 0
    listed = _ippmd(tmp_path, "token", "list")
    assert listed.returncode == 0
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [row[:4] for row in rows] == [
        ["1", "country", "CIV", "INS Côte d'Ivoire"],
        ["2", "maintainer", "-", "release team"],
    ]
    assert token.split("_")[2] not in listed.stdout + listed.stderr


def test_token_revoke_ends_the_token(tmp_path: Path) -> None:
    _, token = Store(tmp_path).create_account("NIS Cambodia", "country", "KHM")
    revoked = _ippmd(tmp_path, "token", "revoke", "1")
    assert revoked.returncode == 0 and "revoked" in revoked.stderr
    assert Store(tmp_path).authenticate(token) is None
    assert "revoked" in _ippmd(tmp_path, "token", "list").stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["create", "--country", "XXX", "--label", "x"], "unknown country code(s) XXX"),
        (
            ["create", "--country", "CIV", "--maintainer", "--label", "x"],
            "exactly one of --country ISO3 and --maintainer",
        ),
        (["create", "--label", "x"], "exactly one of --country ISO3 and --maintainer"),
        (["create", "--country", "CIV"], "needs --label"),
        (["create", "--country", "CIV,KHM", "--label", "x"], "--country takes one ISO3 code"),
        (["revoke", "7"], "no account '7'"),
        (["revoke", "abc"], "no account 'abc'"),
        (["revoke"], "no account '(none given)'"),
        (["delete"], "unknown action 'delete'; use one of create, list, revoke"),
    ],
)
def test_bad_token_input_is_exit_2_with_a_clear_message(tmp_path: Path, args: list[str], said: str) -> None:
    result = _ippmd(tmp_path, "token", *args)
    assert result.returncode == 2 and said in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_home_without_a_package_naming_the_fix(tmp_path: Path) -> None:
    result = _ippmd(tmp_path, "serve")
    said = " ".join(result.stderr.split())
    assert (
        result.returncode == 2 and "holds no built package to serve" in said and "ippmd build --out" in said
    )
    missing = subprocess.run(
        [str(IPPMD), "serve", "--home", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 2 and "is not a folder" in missing.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


R_CLIENT = """
suppressMessages(library(jsonlite))
args <- commandArgs(trailingOnly = TRUE)
doc <- fromJSON(args[1], simplifyVector = FALSE)
cat(toJSON(doc$rows, auto_unbox = TRUE, digits = NA, null = "null", na = "null"))
"""


def _r_reads_tabulate(port: int) -> list[dict[str, object]]:
    """Another language's client: R's jsonlite reads /api/v1/tabulate and writes its rows back."""
    url = f"http://127.0.0.1:{port}/api/v1/tabulate?variable=remittances_received&table=households&by=country"
    result = subprocess.run(["Rscript", "-e", R_CLIENT, url], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.mark.slow
def test_serve_answers_on_localhost_and_r_reads_the_clis_numbers(package_dir: Path, tmp_path: Path) -> None:
    home = copy_package(package_dir, tmp_path / "home")
    port = _free_port()
    server = subprocess.Popen(
        [str(IPPMD), "serve", "--home", str(home), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    try:
        deadline, answer = time.monotonic() + 120, None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/package", timeout=10
                ) as response:
                    answer = (response.status, dict(response.headers), json.loads(response.read()))
            except OSError:
                time.sleep(0.5)
        assert answer is not None, (
            server.stderr.read() if server.stderr and server.poll() is not None else "none"
        )
        status, headers, body = answer
        assert (
            status == 200
            and body["dataHash"] == json.loads((home / "datapackage.json").read_text())["dataHash"]
        )
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        tabulated = _r_reads_tabulate(port)
        cli = subprocess.run(
            [str(IPPMD), "tabulate", "remittances_received", "--table", "households", "--by", "country",
             "--format", "json", "--package", str(home)],
            capture_output=True, timeout=300, check=True,
        )  # fmt: skip
        expected = json.loads(cli.stdout)["rows"]
        assert len(tabulated) == len(expected) > 0
        for got, want in zip(tabulated, expected, strict=True):
            assert got.keys() == want.keys()
            for column, value in want.items():
                if isinstance(value, float):
                    assert got[column] == pytest.approx(value, rel=1e-12, abs=1e-15), column
                else:
                    assert got[column] == value, column
        with pytest.raises(OSError):  # bound to 127.0.0.1 only: not on another address of this machine
            outside = socket.gethostbyname(socket.gethostname())
            if outside.startswith("127."):
                raise OSError("no other address to try")
            socket.create_connection((outside, port), timeout=5).close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    assert (home / ".ippmd" / "portal.sqlite").is_file()


def test_serve_does_not_let_clients_choose_their_address(
    package_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, which would let any local client
    pick the address the failed-token limit counts: serve turns proxy headers off."""
    import uvicorn
    from typer.testing import CliRunner

    from ippmd.cli import app

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    home = copy_package(package_dir, tmp_path / "home")
    result = CliRunner().invoke(app, ["serve", "--home", str(home), "--port", "8765"])
    assert result.exit_code == 0, result.output
    assert seen["proxy_headers"] is False and seen["host"] == "127.0.0.1"
