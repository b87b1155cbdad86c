"""Telling VCF compression from the bytes, and reading raw lines."""

from __future__ import annotations

import bz2
import gzip
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

from genorisk.errors import InputError

#: The empty BGZF block that ends every complete BGZF file (SAM specification 4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def sniff_compression(path: Path) -> str:
    """Return 'bgzf', 'gzip', 'bzip2', 'bcf' (uncompressed BCF) or 'none'."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if not head:
        raise InputError(path, "file is empty (0 bytes)")
    if head[:2] == b"\x1f\x8b":
        # BGZF: gzip with FEXTRA holding the 'BC' subfield (SAM spec section 4.1).
        if len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC":
            return "bgzf"
        return "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:3] == b"BCF":
        return "bcf"
    if head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        raise InputError(path, "file is a raw zlib stream, not gzip/BGZF: recompress with bgzip")
    return "none"


def check_bgzf_eof(path: Path) -> None:
    """Refuse a BGZF file without its end-of-file block (truncated or unfinished)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 28))
        tail = fh.read(28)
    if tail != BGZF_EOF:
        raise InputError(path, "BGZF end-of-file block missing: the file is truncated (or its writer did not finish)")


def is_bcf_payload(path: Path, compression: str) -> bool:
    """True if the (decompressed) file starts with the BCF magic."""
    if compression == "bcf":
        return True
    if compression in ("bgzf", "gzip"):
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read(3) == b"BCF"
        except (OSError, EOFError, zlib.error):
            return False
    return False


def raw_lines(path: Path, compression: str) -> Iterator[bytes]:
    """The file's decompressed lines, line ends kept (bzip2 too, which htslib cannot read)."""
    if compression in ("bgzf", "gzip"):
        with gzip.open(path, "rb") as fh:
            yield from fh
    elif compression == "bzip2":
        with bz2.open(path, "rb") as fh:
            yield from fh
    else:
        with open(path, "rb", buffering=1 << 20) as fh:
            yield from fh


def region_raw_lines(path: Path, compression: str, region: str) -> Iterator[bytes]:
    """The header lines, then the records of one region as the file holds them (line ends kept).

    For a BGZF VCF with a ``.tbi``/``.csi`` index: the header is read from
    the start of the file up to the ``#CHROM`` line, the records with
    ``tabix`` (raw bytes, nothing re-formatted, so the validator sees what
    the file holds). ``region`` is ``CHROM`` or ``CHROM:START-END`` (records
    overlapping it, as htslib's region queries give them).

    Raises
    ------
    InputError
        Not BGZF, no index, or tabix failing (its message).
    """
    if compression != "bgzf":
        raise InputError(path, f"a region ({region}) is read through the index: the file must be bgzip-compressed")
    if not any(Path(f"{path}{ext}").exists() for ext in (".tbi", ".csi")):
        raise InputError(path, f"a region ({region}) is read through the index, and the file has no .tbi or .csi")
    for line in raw_lines(path, compression):
        yield line
        if line.startswith(b"#CHROM") or not line.startswith(b"#"):
            break
    with subprocess.Popen(["tabix", str(path), region], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None  # both are PIPE
        yield from proc.stdout
        err = proc.stderr.read().decode(errors="replace").strip()
    if proc.returncode != 0:
        raise InputError(path, f"tabix could not read region {region}: {err[-300:]}")


# ---------------------------------------------------------------------------
# The validator
# ---------------------------------------------------------------------------
