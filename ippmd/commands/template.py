"""`ippmd template`: a blank submission kit for a survey team, in its language."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ippmd.commands.options import CountryLang, ForceFilled, writable_folder
from ippmd.commands.output import say
from ippmd.core.errors import UsageError
from ippmd.core.i18n import choose_language, t
from ippmd.core.iso3 import iso3_option


def template(
    iso3: Annotated[str, typer.Argument(help="Country ISO3 code (any, for a new country).")],
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the kit into (new or empty).")],
    force: ForceFilled = False,
    lang: CountryLang = None,
) -> None:
    """Write a blank submission kit: CSV headers, metadata.yaml to fill in, GUIDE.md (in the
    language of --lang, else $IPPMD_LANG, else the country's; column names and keys stay English)."""
    from ippmd.template import refuse_filled_folder, write_template

    try:  # the country's language first, so that every message after is in it
        country: str | None = iso3_option(iso3, t("cli.the-country-code"))
    except UsageError:
        country = None
    choose_language(lang, country)
    code = iso3_option(iso3, t("cli.the-country-code"))
    from ippmd.core.metadata import iso3166

    if code not in iso3166():  # `validate` would refuse the kit's country_iso3: say it now
        raise UsageError(t("cli.template-unknown-country", code=code))
    writable_folder(out_dir)
    refuse_filled_folder(out_dir, force)
    for path in write_template(code, out_dir, force=force):
        say(t("template.wrote", path=str(path)))
