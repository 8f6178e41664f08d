"""`ippmd token`: the portal's accounts; a token is printed once, only its hash is kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ippmd.commands.options import country_codes_of, home_path
from ippmd.commands.output import say
from ippmd.core.errors import UsageError
from ippmd.core.text import printable

if TYPE_CHECKING:
    from ippmd.portal.store import Role

ACTIONS = ("create", "list", "revoke")


def token(
    action: Annotated[str, typer.Argument(help="create, list or revoke.")],
    account: Annotated[
        str | None, typer.Argument(help="revoke: the account's ID (from `token list`).")
    ] = None,
    country: Annotated[
        str | None, typer.Option(help="create: a country account, submitting for this ISO3 code only.")
    ] = None,
    maintainer: Annotated[
        bool, typer.Option("--maintainer", help="create: a maintainer account (admits).")
    ] = False,
    label: Annotated[
        str | None, typer.Option(help='create: who holds it, e.g. "INS Côte d\'Ivoire".')
    ] = None,
) -> None:
    """Portal accounts (`ippmd serve`) in <home>/.ippmd/portal.sqlite: create (prints the token once),
    list (never a secret) or revoke ID. Exit 2 for an unknown action, country or ID."""
    from ippmd.portal.store import Store

    chosen = action.strip().lower()
    if chosen not in ACTIONS:
        raise UsageError(f"unknown action {printable(action)!r}; use one of {', '.join(ACTIONS)}")
    if chosen == "create":
        role, code, name = _new_account(account, country, maintainer, label)
        created, secret = Store(home_path()).create_account(name, role, code)
        say(f"account {created.id} ({created.role}{f' {code}' if code else ''}): {printable(name)}")
        say("its token, shown this once (keep it secret; `ippmd token revoke` ends it):")
        print(secret)
        return
    if account is not None and chosen == "list":
        raise UsageError("token list takes no ID")
    store = Store(home_path())
    if chosen == "list":
        for a in store.accounts():
            state = f"revoked {a.revoked}" if a.revoked else "active"
            print(f"{a.id}\t{a.role}\t{a.country or '-'}\t{printable(a.label)}\tcreated {a.created}\t{state}")
        return
    number = int(account) if account is not None and account.strip().isdigit() else None
    revoked = None if number is None else store.revoke(number)
    if revoked is None:
        known = ", ".join(str(a.id) for a in store.accounts()) or "none yet"
        raise UsageError(
            f"token revoke: no account {printable(account or '(none given)')!r}; known IDs: {known}"
        )
    say(f"account {revoked.id} ({printable(revoked.label)}) revoked {revoked.revoked}")


def _new_account(
    account: str | None, country: str | None, maintainer: bool, label: str | None
) -> tuple[Role, str | None, str]:
    """The role, country and label of `token create`, each checked (exit 2)."""
    if account is not None:
        raise UsageError("token create takes no ID: give --country ISO3 or --maintainer, and --label")
    if (country is None) == (not maintainer):
        raise UsageError("token create needs exactly one of --country ISO3 and --maintainer")
    if not label or not label.strip():
        raise UsageError('token create needs --label, e.g. --label "INS Côte d\'Ivoire"')
    codes = country_codes_of(country, "--country") if country is not None else None
    if codes is not None and len(codes) != 1:
        raise UsageError("--country takes one ISO3 code")
    return ("maintainer" if maintainer else "country"), (codes[0] if codes else None), label.strip()
