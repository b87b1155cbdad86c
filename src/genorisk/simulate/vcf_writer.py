"""Writing the simulated VCFs: header, GT columns as bytes, bgzip compression and a tabix index.

:func:`write_vcf` writes arrays in one call; :class:`VcfWriter` writes blocks of
sites as they are simulated (genome-wide mode), so no job holds a whole matrix.
Both give the same bytes for the same sites."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
import pysam

from ..io import atomic_output
from .config import CHR21_LENGTH_GRCH38, CHROM, CHROM_X, CHRX_LENGTH_GRCH38, SIMULATED_LABEL
from .genotypes import HAPLOID


def _gt_bytes(calls: np.ndarray) -> np.ndarray:
    """Encode (sites, people, 2) allele indices as a (sites, people * 4) byte block ``a|b\\t``."""
    out = np.empty(calls.shape[:2] + (4,), dtype=np.uint8)
    for k in (0, 1):
        allele = calls[:, :, k]
        out[:, :, 2 * k] = np.where(allele < 0, ord("."), ord("0") + allele)
    missing = (calls < 0).any(axis=2)
    out[:, :, 1] = np.where(missing, ord("/"), ord("|"))
    out[:, :, 3] = ord("\t")
    out[:, -1, 3] = ord("\n")
    return out.reshape(calls.shape[0], -1)


def _gt_lines(calls: np.ndarray) -> list[bytes]:
    """Sample columns of each site as bytes; cells whose second allele is
    :data:`HAPLOID` are written as one allele (``1``, ``.``)."""
    block = _gt_bytes(calls)
    haploid = calls[:, :, 1] == HAPLOID
    if not haploid.any():
        return [row.tobytes() for row in block]
    keep = np.ones(calls.shape[:2] + (4,), dtype=bool)
    keep[haploid, 1:3] = False  # drop the separator and the second allele
    keep_per_site = keep.reshape(calls.shape[0], -1)
    return [row[k].tobytes() for row, k in zip(block, keep_per_site, strict=True)]


def vcf_header(
    samples: Sequence[str],
    *,
    info: Sequence[str] = (),
    source: str = "genorisk.simulate",
    with_chrx: bool = False,
    contigs: Sequence[tuple[str, int]] | None = None,
) -> str:
    """The VCF header of a simulated file: GRCh38 contig lines and the :data:`SIMULATED_LABEL` note.

    Parameters
    ----------
    samples : sequence of str
        Sample columns; none gives a sites-only header (no FORMAT line).
    info : sequence of str
        Extra meta lines (``##INFO=<...>``), placed after the note.
    source : str
        The ``##source`` value.
    with_chrx : bool
        Declare the chrX contig as well as chr21.
    contigs : sequence of (name, length), optional
        The contigs to declare instead of chr21 (and chrX), in this order.

    Returns
    -------
    str
        The meta lines and the ``#CHROM`` line, each ending in a newline.
    """
    if contigs is None:
        contigs = [(CHROM, CHR21_LENGTH_GRCH38), *([(CHROM_X, CHRX_LENGTH_GRCH38)] if with_chrx else [])]
    lines = [
        "##fileformat=VCFv4.2",
        f"##source={source}",
        "##reference=GRCh38",
        *(f"##contig=<ID={name},length={length},assembly=GRCh38>" for name, length in contigs),
        f"##genorisk_note={SIMULATED_LABEL}",
        *info,
    ]
    if samples:
        lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    cols = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:
        cols += ["FORMAT", *samples]
    lines.append("\t".join(cols))
    return "\n".join(lines) + "\n"


def write_vcf(
    path: str | Path,
    positions: np.ndarray,
    refs: np.ndarray,
    alts: np.ndarray,
    *,
    calls: np.ndarray | None = None,
    samples: Sequence[str] = (),
    ids: Sequence[str] | None = None,
    info: Sequence[str] | None = None,
    info_header: Sequence[str] = (),
    chunk: int = 2000,
    chroms: Sequence[str] | np.ndarray | None = None,
    contigs: Sequence[tuple[str, int]] | None = None,
) -> None:
    """Write a bgzipped, tabix-indexed VCF on chr21 (and chrX) atomically.

    ``calls`` is (n_sites, n_samples, 2) int8 with -1 for missing and
    :data:`HAPLOID` as the second allele of a haploid call; omit it for a
    sites-only VCF. ``info`` gives one INFO string per site (``"."`` if None).
    ``chroms`` gives each site's contig (chr21 when None); sites must be
    sorted, chr21 before chrX. ``contigs`` (name, length) replaces the
    header's chr21/chrX contig lines (genome-wide mode).
    """
    n = len(positions)
    site_chroms = np.asarray(chroms, dtype=object) if chroms is not None else np.full(n, CHROM, dtype=object)
    with_chrx = bool((site_chroms == CHROM_X).any())
    with VcfWriter(path, samples, info_header=info_header, with_chrx=with_chrx, contigs=contigs) as writer:
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            writer.write(
                site_chroms[lo:hi],
                positions[lo:hi],
                refs[lo:hi],
                alts[lo:hi],
                calls=calls[lo:hi] if calls is not None else None,
                ids=ids[lo:hi] if ids is not None else None,
                info=info[lo:hi] if info is not None else None,
            )


class VcfWriter:
    """A bgzipped, tabix-indexed VCF written block by block, atomically.

    Use as a context manager: the file and its ``.tbi`` appear under their
    final names only when the block exits without an exception.

    Parameters
    ----------
    path : path
        The ``.vcf.gz`` to write.
    samples : sequence of str
        Sample columns (none: sites-only).
    info_header : sequence of str
        Extra ``##INFO`` lines.
    with_chrx, contigs
        As for :func:`vcf_header`.

    Attributes
    ----------
    n_records : int
        Records written so far.
    """

    def __init__(
        self,
        path: str | Path,
        samples: Sequence[str] = (),
        *,
        info_header: Sequence[str] = (),
        with_chrx: bool = False,
        contigs: Sequence[tuple[str, int]] | None = None,
    ) -> None:
        self.path = Path(path)
        self.header = vcf_header(samples, info=info_header, with_chrx=with_chrx, contigs=contigs)
        self.n_records = 0
        self._outputs = contextlib.ExitStack()  # the atomic .vcf.gz and .tbi
        self._stream = contextlib.ExitStack()  # the open file and bgzip

    def __enter__(self) -> VcfWriter:
        with contextlib.ExitStack() as outputs:
            self._tmp_gz = outputs.enter_context(atomic_output(self.path))
            self._tmp_tbi = outputs.enter_context(atomic_output(self.path.with_name(self.path.name + ".tbi")))
            with contextlib.ExitStack() as stream:
                out = stream.enter_context(open(self._tmp_gz, "wb"))
                self._bgzip = stream.enter_context(_bgzip_writer(out))
                self._bgzip.write(self.header.encode())
                self._stream = stream.pop_all()
            self._outputs = outputs.pop_all()
        return self

    def write(
        self,
        chroms: Sequence[str] | np.ndarray,
        positions: np.ndarray,
        refs: np.ndarray,
        alts: np.ndarray,
        *,
        calls: np.ndarray | None = None,
        ids: Sequence[str] | None = None,
        info: Sequence[str] | None = None,
    ) -> None:
        """Append sites (sorted, after those already written); arguments as for :func:`write_vcf`."""
        block = _gt_lines(calls) if calls is not None else None
        fh = self._bgzip
        for j in range(len(positions)):
            site_id = ids[j] if ids is not None else "."
            site_info = info[j] if info is not None else "."
            fixed = f"{chroms[j]}\t{positions[j]}\t{site_id}\t{refs[j]}\t{alts[j]}\t.\tPASS\t{site_info}"
            if block is None:
                fh.write(fixed.encode() + b"\n")
            else:
                fh.write(fixed.encode() + b"\tGT\t" + block[j])
        self.n_records += len(positions)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # bgzip and the file close first (the index needs the whole file); atomic_output
        # then renames both files, or removes both when anything failed.
        try:
            self._stream.close()
            if exc_type is None:
                self._index()
        except BaseException:
            self._outputs.__exit__(*sys.exc_info())
            raise
        self._outputs.__exit__(exc_type, exc, tb)

    def _index(self) -> None:
        # tabix_index names the index after the file it indexes: index a link with the final name.
        link = self._tmp_gz.with_name(self._tmp_gz.name + ".idx" + "".join(self.path.suffixes))
        try:
            link.symlink_to(self._tmp_gz.name)
            pysam.tabix_index(str(link), preset="vcf", force=True, keep_original=True)
            Path(str(link) + ".tbi").replace(self._tmp_tbi)
        finally:
            link.unlink(missing_ok=True)


@contextlib.contextmanager
def _bgzip_writer(out: BinaryIO) -> Iterator[IO[bytes] | pysam.BGZFile]:
    """A binary file object whose bytes are BGZF-compressed into ``out``.

    Uses ``bgzip -@2`` when installed (about twice as fast); BGZF blocks are
    compressed independently, so threaded and unthreaded output are identical.
    """
    exe = shutil.which("bgzip")
    if exe:
        proc = subprocess.Popen([exe, "-@", "2", "-c"], stdin=subprocess.PIPE, stdout=out)
        assert proc.stdin is not None  # stdin=PIPE
        try:
            yield proc.stdin
        finally:
            proc.stdin.close()
            if proc.wait() != 0:
                raise RuntimeError(f"bgzip exited with {proc.returncode}")
    else:
        with pysam.BGZFile(out.name, "wb", index=None) as bgz:
            yield bgz
