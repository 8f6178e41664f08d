"""An upload streamed to disk as it arrives, cut at the submission limit (413 without reading the
rest). The client's file name is never used: the server names the file it writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

from ippmd.core.i18n import t
from ippmd.core.limits import limit

FIELD = "file"
# Content types a browser or client gives a zip file (octet-stream: curl -F and some browsers).
ZIP_TYPES = {b"application/zip", b"application/x-zip-compressed", b"application/octet-stream"}
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or the end record of an empty one
# Room for the form's own headers and boundaries beside the file (assumed: a few hundred bytes).
FORM_OVERHEAD = 64 * 1024
CALLBACKS = ("on_header_field", "on_header_value", "on_header_end", "on_headers_finished", "on_part_data")


class UploadRefused(Exception):
    """An upload refused before validation: the HTTP status and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def upload_limit() -> int:
    """The most bytes a submission zip may have: `unpacked_bytes` of core/limits.yaml, since a
    submission is never larger zipped than unpacked (its CSV tables compress)."""
    return limit("unpacked_bytes")


@dataclass
class _FilePart:
    """What the multipart parser has seen so far, and the one file part written to `out`."""

    out: BinaryIO
    header: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: bytes | None = None
    content_type: bytes | None = None
    written: int = 0
    files: int = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        key = self.header.lower()
        self.headers[key] = self.headers.get(key, b"") + data[start:end]

    def on_header_end(self) -> None:
        self.header = b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = params.get(b"name")
        if self.name == FIELD.encode():
            self.files += 1
            self.content_type = parse_options_header(self.headers.get(b"content-type", b""))[0]
            if self.files > 1:
                raise UploadRefused(400, t("portal.one-file", field=FIELD))
            if self.content_type not in ZIP_TYPES:
                raise UploadRefused(415, t("portal.not-zip-type"))
        self.headers = {}

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.name == FIELD.encode():
            self.out.write(data[start:end])
            self.written += end - start


async def receive_zip(
    content_type: str | None, length: str | None, body: AsyncIterator[bytes], out: Path
) -> int:
    """Write the form field `file` of a multipart body to `out`; its size. UploadRefused: 415 not a
    multipart form or not a zip, 413 over the limit (from Content-Length before reading, or as soon
    as the bytes read pass it), 400 a form without the file."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRefused(415, t("portal.not-a-form", field=FIELD))
    most = upload_limit()
    if length is not None and length.strip().isdigit() and int(length) > most + FORM_OVERHEAD:
        raise UploadRefused(413, _too_large(most))
    received = 0
    with out.open("wb") as file:
        part = _FilePart(file)
        callbacks = {name: getattr(part, name) for name in CALLBACKS}
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        async for chunk in body:
            received += len(chunk)
            if received > most + FORM_OVERHEAD or part.written > most:
                raise UploadRefused(413, _too_large(most))
            parser.write(chunk)
        parser.finalize()
    if part.files == 0:
        raise UploadRefused(400, t("portal.no-file-field", field=FIELD))
    if part.written > most:
        raise UploadRefused(413, _too_large(most))
    with out.open("rb") as file:
        if file.read(4) not in ZIP_MAGIC:
            raise UploadRefused(415, t("portal.not-a-zip"))
    return part.written


def _too_large(most: int) -> str:
    return t("portal.too-large", limit=most)
