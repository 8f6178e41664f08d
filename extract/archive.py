"""A deterministic zip, written beside its target and swapped in by a rename.

Same entries -> same bytes: entry order is the caller's, every entry has the DOS epoch
(1980-01-01 00:00) as its time, mode 0644, Unix as its origin and a fixed compression (deflate
at zlib's default level, or stored), so a checksum of the zip identifies the extract. The
rename means a reader never sees half a zip.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--


def _info(name: str, size: int, deflate: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.create_system = 3  # Unix, so the mode below is honoured
    info.external_attr = FILE_MODE << 16
    info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    info.file_size = size  # lets zipfile decide on zip64 up front, the same way every time
    return info


def write_zip(entries: Sequence[tuple[str, Path | bytes, bool]], out: Path) -> None:
    """Write (name, file or bytes, deflate?) entries to `out`, atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w") as archive:
            for name, content, deflate in entries:
                if isinstance(content, bytes):
                    info = _info(name, len(content), deflate)
                    archive.writestr(info, content)
                    continue
                info = _info(name, content.stat().st_size, deflate)
                with content.open("rb") as src, archive.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
