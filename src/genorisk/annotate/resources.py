"""Annotation resources (ClinVar, population AF, dbSNP, panels): opened and checked before any lookup."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from genorisk.errors import InputError
from genorisk.genome import contig_length, detect_genome_build
from genorisk.vcf.index import validate_index

log = logging.getLogger("genorisk.annotate")


def open_indexed(path: str | os.PathLike, what: str) -> pysam.VariantFile:
    path = Path(path)
    if not path.exists():
        raise InputError(path, f"{what} file not found")
    try:
        vf = pysam.VariantFile(str(path))
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot open {what} as VCF/BCF: {exc}") from None
    if vf.index is None:
        vf.close()
        raise InputError(path, f"{what} has no .tbi/.csi index (bgzip it and run `bcftools index -t`)")
    return vf


#: Resources up to this size get the full check (one pass over every record);


FULL_CHECK_MAX_BYTES = 2 << 30
_BGZF_MAGIC = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"


def _record_counts(path: Path, what: str) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Records, first POS and last POS per contig, in one ``bcftools query`` pass (bounded memory)."""
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    argv = ["bcftools", "query", "-f", "%CHROM\t%POS\n", str(path)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None  # stdout=PIPE
        try:
            for part in pd.read_csv(
                proc.stdout,
                sep="\t",
                header=None,
                names=["chrom", "pos"],
                dtype={"chrom": str, "pos": np.int64},
                chunksize=1_000_000,
            ):
                for key, grp in part.groupby("chrom", sort=False):
                    chrom = str(key)  # already a str (dtype str); for the type checker
                    p = grp["pos"].to_numpy()
                    counts[chrom] = counts.get(chrom, 0) + len(p)
                    first.setdefault(chrom, int(p[0]))
                    last[chrom] = int(p[-1])
        except pd.errors.EmptyDataError:
            pass
        finally:
            proc.stdout.close()
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            raise InputError(path, f"cannot read {what}: {err.read().decode(errors='replace').strip()[-2000:]}")
    return counts, first, last


def _sampled_records(path: Path, n: int, seed: int = 0) -> list[tuple[str, int]]:
    """(CHROM, POS) of about ``n`` records read at random places of a BGZF file, without its index.

    Each probe seeks to a random byte, finds the next BGZF block header,
    inflates that block and the next, and takes the first whole line after
    the first newline. Costs n seeks and 2n block inflations.
    """
    size = path.stat().st_size
    rng = np.random.default_rng(seed)
    found: list[tuple[str, int]] = []
    with open(path, "rb") as fh:
        for offset in np.sort(rng.integers(0, max(size - 1, 1), size=n)).tolist():
            fh.seek(offset)
            raw = fh.read(3 << 16)
            k = raw.find(_BGZF_MAGIC)
            if k < 0:
                continue
            text = b""
            for _ in range(2):  # a line may run over into the next block
                if k + 18 > len(raw):
                    break
                bsize = int.from_bytes(raw[k + 16 : k + 18], "little") + 1
                try:
                    text += zlib.decompress(raw[k + 18 : k + bsize - 8], -15)
                except zlib.error:
                    break
                k += bsize
            lines = text.split(b"\n")
            for line in lines[1:-1]:  # whole lines only
                if line and not line.startswith(b"#"):
                    f = line.split(b"\t", 2)
                    if len(f) > 2 and f[1].isdigit():
                        found.append((f[0].decode(errors="replace"), int(f[1])))
                    break
    return found


def validate_resource(
    path: str | os.PathLike,
    what: str,
    *,
    genome_build: str | None = None,
    full_check_max_bytes: int = FULL_CHECK_MAX_BYTES,
) -> dict:
    """Check an indexed annotation resource (ClinVar, population AF, dbSNP, a panel) before any lookup.

    A lookup through an index of another file, or of an older version of the
    file, finds nothing and raises nothing, so every configured resource is
    checked once. Files up to ``full_check_max_bytes``: the index must belong
    to the file (:func:`genorisk.vcf.validate_index` with the records per
    contig and the first and last record of each contig, counted in one
    ``bcftools query`` pass), and with ``genome_build`` a record beyond the
    end of its chromosome in that build is an error. Larger files: the first
    5 records and about 200 read at random places of the file, without the
    index, must each be found by a region query through the index (a foreign index misses
    almost all of them). In both modes an index older than its file is a
    warning once it passes the check (downloads and copies reorder
    timestamps), and ``##contig`` lengths of another build are an error.
    Returns a summary (mode, records, contigs, detected build, index,
    warnings); raises InputError.
    """
    path = Path(path)
    with open_indexed(path, what) as vf:
        lengths: dict[str, int] = {}
        for contig in vf.header.contigs.values():
            if contig.length:
                lengths[contig.name] = contig.length
    indexes = [Path(str(path) + suffix) for suffix in (".csi", ".tbi") if Path(str(path) + suffix).exists()]
    if not indexes:
        raise InputError(path, f"{what} has no .tbi/.csi index beside it (bcftools index -t {path.name})")
    build, evidence = detect_genome_build(lengths)
    if genome_build is not None and build is not None and build != genome_build:
        raise InputError(
            path, f"{what} is {build} ({evidence}), the pipeline is configured for {genome_build}", record="header"
        )
    warnings: list[str] = []
    full = path.stat().st_size <= full_check_max_bytes
    if full:
        counts, first, last = _record_counts(path, what)
        if genome_build is not None:
            for chrom, pos in last.items():
                length = contig_length(genome_build, chrom)
                if length and pos > length:
                    raise InputError(
                        path,
                        f"POS {pos} is beyond the end of {chrom} in {genome_build} "
                        f"({length} bp): a file of another genome build?",
                        record=f"{chrom}:{pos}",
                    )
        probes = [(c, p) for c in counts for p in {first[c], last[c]}]
        for index in indexes:
            warnings += validate_index(index, path, records_per_contig=counts, probes=probes)
        n_records: int | None = int(sum(counts.values()))
        contigs = sorted(counts)
    else:
        with pysam.VariantFile(str(path), drop_samples=True) as vf:  # iteration reads from the start, no index
            sample = [(r.chrom, r.pos) for _, r in zip(range(5), vf, strict=False)]
        sample += _sampled_records(path, 200)
        for index in indexes:
            if index.stat().st_mtime + 1 < path.stat().st_mtime:
                warnings.append(f"{index}: index is older than {path.name}; checked it against sampled records")
            try:
                with pysam.VariantFile(str(path), index_filename=str(index)) as vf:
                    missed = [(c, p) for c, p in sample if not any(r.pos == p for r in vf.fetch(c, p - 1, p))]
            except (OSError, ValueError) as err:  # offsets into the wrong file: reads past its end
                raise InputError(
                    index, f"index does not belong to {path.name} or is corrupt: region queries fail ({err})"
                ) from None
            if len(missed) > len(sample) // 20:  # a few may be misread lines; a foreign index misses most
                c, p = missed[0]
                raise InputError(
                    index,
                    f"index does not belong to {path.name}: region queries miss "
                    f"{len(missed)} of {len(sample)} records sampled from the file (e.g. {c}:{p})",
                )
        n_records, contigs = None, sorted({c for c, _ in sample})
    if genome_build is not None and build is None:
        warnings.append(
            f"{path}: no ##contig lengths to tell the genome build by"
            + (f"; positions were checked against {genome_build}" if full else "")
        )
    for w in warnings:
        log.warning("%s", w)
    log.info(
        "%s %s: %s check, %s records on %d contigs, build %s, index %s",
        what,
        path,
        "full" if full else "sampled",
        n_records if n_records is not None else "(not counted)",
        len(contigs),
        build or "not in header",
        ", ".join(i.name for i in indexes),
    )
    return {
        "path": str(path),
        "what": what,
        "check": "full" if full else "sampled",
        "records": n_records,
        "contigs": contigs,
        "genome_build": build,
        "index": [i.name for i in indexes],
        "warnings": warnings,
    }
