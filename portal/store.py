"""The portal's store: accounts, token hashes, submissions and the audit log, in SQLite.

One file under the home, `<home>/.ippmd/portal.sqlite`, made on first use, in WAL mode (readers
never wait for the one writer). The SQL is portable (no SQLite-only syntax beyond the WAL pragma;
identifiers are given by this module, not by the database), so a team can move the tables to
PostgreSQL as the README says.

A token is `ippmd_<prefix>_<secret>`: the prefix finds the account's row, the secret is checked
against its argon2id hash (argon2-cffi, constant time). Only the hash is stored; the token is
shown once, by `ippmd token create`.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

Role = Literal["country", "maintainer"]
STORE_FOLDER = ".ippmd"
STORE_FILE = "portal.sqlite"
TOKEN_PREFIX = "ippmd"
# Failed token attempts allowed per client address in the window before it is refused (429).
# Assumed: a person retyping a token fails a few times; a guesser makes thousands of attempts.
FAILED_ATTEMPTS = 10
FAILED_WINDOW_SECONDS = 300

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS accounts (
        id INTEGER NOT NULL PRIMARY KEY,
        label VARCHAR(200) NOT NULL,
        role VARCHAR(20) NOT NULL CHECK (role IN ('country', 'maintainer')),
        country CHAR(3),
        created VARCHAR(32) NOT NULL,
        revoked VARCHAR(32)
    )""",
    """CREATE TABLE IF NOT EXISTS tokens (
        prefix VARCHAR(32) NOT NULL PRIMARY KEY,
        account INTEGER NOT NULL REFERENCES accounts (id),
        hash VARCHAR(200) NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS submissions (
        id VARCHAR(32) NOT NULL PRIMARY KEY,
        country CHAR(3),
        account INTEGER NOT NULL REFERENCES accounts (id),
        sha256 CHAR(64) NOT NULL,
        status VARCHAR(20) NOT NULL,
        path VARCHAR(500) NOT NULL,
        created VARCHAR(32) NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS audit (
        account INTEGER,
        time VARCHAR(32) NOT NULL,
        action VARCHAR(40) NOT NULL,
        sha256 CHAR(64),
        outcome VARCHAR(200) NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS failed_attempts (
        client VARCHAR(100) NOT NULL,
        at DOUBLE PRECISION NOT NULL
    )""",
)

_hasher = PasswordHasher()  # argon2id with argon2-cffi's default cost (RFC 9106's second choice)
# Verified when a prefix is unknown, so an unknown token takes as long as a wrong secret.
_DECOY = _hasher.hash(secrets.token_urlsafe(32))


@dataclass(frozen=True)
class Account:
    id: int
    label: str
    role: Role
    country: str | None
    created: str
    revoked: str | None


@dataclass(frozen=True)
class Submission:
    id: str
    country: str | None
    account: int
    sha256: str
    status: str
    path: str
    created: str


def now() -> str:
    """UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def store_path(home: Path) -> Path:
    return Path(home) / STORE_FOLDER / STORE_FILE


class Store:
    """The portal's tables in `<home>/.ippmd/portal.sqlite` (one connection per call: safe across
    the server's threads and worker processes)."""

    def __init__(self, home: Path) -> None:
        self.path = store_path(home)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(mode=0o600, exist_ok=True)  # token hashes and the audit log: the owner's only
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            for statement in SCHEMA:
                db.execute(statement)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed when the block ends, rolled back on an error."""
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    # accounts and tokens

    def create_account(self, label: str, role: Role, country: str | None) -> tuple[Account, str]:
        """A new account and its token (returned once; only its hash is kept)."""
        prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        hashed = _hasher.hash(secret)
        created = now()
        with self._connect() as db:
            (last,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM accounts").fetchone()
            account = Account(last + 1, label, role, country, created, None)
            db.execute(
                "INSERT INTO accounts (id, label, role, country, created, revoked) VALUES (?, ?, ?, ?, ?, ?)",
                (account.id, label, role, country, created, None),
            )
            db.execute(
                "INSERT INTO tokens (prefix, account, hash) VALUES (?, ?, ?)", (prefix, account.id, hashed)
            )
        return account, f"{TOKEN_PREFIX}_{prefix}_{secret}"

    def accounts(self) -> list[Account]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, label, role, country, created, revoked FROM accounts ORDER BY id"
            ).fetchall()
        return [Account(*row) for row in rows]

    def account(self, account_id: int) -> Account | None:
        return next((a for a in self.accounts() if a.id == account_id), None)

    def revoke(self, account_id: int) -> Account | None:
        """Revoke an account's token (kept, marked, for the audit); None when there is no such account."""
        with self._connect() as db:
            db.execute(
                "UPDATE accounts SET revoked = ? WHERE id = ? AND revoked IS NULL", (now(), account_id)
            )
        return self.account(account_id)

    def authenticate(self, token: str) -> Account | None:
        """The account of a token that is well formed, known, matches its hash and is not revoked."""
        parts = token.split("_", 2)
        prefix, secret = (parts[1], parts[2]) if len(parts) == 3 and parts[0] == TOKEN_PREFIX else ("", token)
        with self._connect() as db:
            row = db.execute(
                "SELECT a.id, a.label, a.role, a.country, a.created, a.revoked, t.hash "
                "FROM tokens t JOIN accounts a ON a.id = t.account WHERE t.prefix = ?",
                (prefix,),
            ).fetchone()
        try:
            _hasher.verify(row[6] if row else _DECOY, secret)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        account = Account(*row[:6])
        return None if account.revoked else account

    # rate limit of failed token attempts

    def refused(self, client: str) -> bool:
        """Whether `client` failed too often lately (checked before a token is verified)."""
        since = time.time() - FAILED_WINDOW_SECONDS
        with self._connect() as db:
            db.execute("DELETE FROM failed_attempts WHERE at < ?", (since,))
            (count,) = db.execute(
                "SELECT COUNT(*) FROM failed_attempts WHERE client = ?", (client,)
            ).fetchone()
        return int(count) >= FAILED_ATTEMPTS

    def failed(self, client: str) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO failed_attempts (client, at) VALUES (?, ?)", (client, time.time()))

    # submissions and the audit log

    def add_submission(self, submission: Submission) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO submissions (id, country, account, sha256, status, path, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    submission.id,
                    submission.country,
                    submission.account,
                    submission.sha256,
                    submission.status,
                    submission.path,
                    submission.created,
                ),
            )

    def submission(self, submission_id: str) -> Submission | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT id, country, account, sha256, status, path, created FROM submissions WHERE id = ?",
                (submission_id,),
            ).fetchone()
        return Submission(*row) if row else None

    def set_status(self, submission_id: str, status: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE submissions SET status = ? WHERE id = ?", (status, submission_id))

    def claim(self, submission_id: str, was: str, becomes: str) -> bool:
        """Move a submission from status `was` to `becomes` in one statement: True for the one
        caller that moved it (two admits of one submission at once: the second gets False)."""
        with self._connect() as db:
            moved = db.execute(
                "UPDATE submissions SET status = ? WHERE id = ? AND status = ?", (becomes, submission_id, was)
            )
            return moved.rowcount == 1

    def audit(self, account: int | None, action: str, sha256: str | None, outcome: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO audit (account, time, action, sha256, outcome) VALUES (?, ?, ?, ?, ?)",
                (account, now(), action, sha256, outcome),
            )

    def audit_log(self) -> list[tuple[int | None, str, str, str | None, str]]:
        with self._connect() as db:
            return list(db.execute("SELECT account, time, action, sha256, outcome FROM audit").fetchall())
