"""`ippmd serve`: the portal (HTTP API and pages) over the package in the project home."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ippmd.commands.options import home_path
from ippmd.commands.output import say
from ippmd.core.errors import UsageError
from ippmd.core.home import HOME_ENV

LOCAL = "127.0.0.1"


def serve(
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Project home holding the built package (default: the home)."),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to bind: 127.0.0.1 (this machine only) unless told.")
    ] = LOCAL,
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.", min=1, max=64)] = 1,
) -> None:
    """Serve the package: JSON API under /api/v1 (OpenAPI at /api/v1/openapi.json) and pages.
    Exit 2 when the home holds no built package (build it first)."""
    if home is not None:
        if not home.is_dir():
            raise UsageError(f"--home {home} is not a folder")
        os.environ[HOME_ENV] = str(home.resolve())
    folder = home_path()
    if not (folder / "datapackage.json").is_file():
        raise UsageError(
            f"{folder} holds no built package to serve: build one there first "
            f"(`ippmd build --out {folder}`), or give --home the folder that holds one"
        )
    from ippmd.portal.app import served_home

    served_home(folder)  # a package that does not read (1/2) stops here, not at the first request
    import uvicorn

    say(f"serving {folder} on http://{host}:{port}/ (API: /api/v1, stop with Ctrl+C)")
    if host != LOCAL:
        say(f"listening on {host}: reachable from other machines; put it behind HTTPS")
    # proxy_headers off: a client's X-Forwarded-For must not choose the address the failed-token
    # limit counts (uvicorn trusts it from 127.0.0.1 by default); a proxy in front is the team's to set.
    uvicorn.run(
        "ippmd.portal.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
    )
