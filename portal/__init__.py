"""The portal (issue 21): `ippmd serve`'s HTTP API over the package in the project home, and the
store of its accounts, tokens, submissions and audit log. Every route calls the functions the CLI
commands call; nothing here computes a number of its own."""
