"""The cohort's sites as a VCF without samples: what annotation reads, whatever the input form.

For VCF inputs the sites are the normalised VCFs' own records (``bcftools
concat`` and ``view -G``, so annotation sees exactly the records it saw before
the store existed); for PLINK and BGEN inputs they are written from the
store's ``.pvar`` files, with the contig lengths of the genome build.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

from genorisk.errors import InputError
from genorisk.genome import canonical_contig, contig_lengths
from genorisk.io import atomic_output
from genorisk.store.manifest import open_store
from genorisk.store.reader import read_store_variants


def _run(argv: Sequence[str], what: str, stdin: bytes | None = None) -> None:
    proc = subprocess.run(list(argv), input=stdin, capture_output=True)
    if proc.returncode != 0:
        raise InputError(what, f"{argv[0]} {argv[1]} failed: {proc.stderr.decode(errors='replace').strip()}")


def sites_from_vcfs(vcfs: Sequence[str | PathLike], out: str | PathLike, *, threads: int = 1) -> Path:
    """Write the sites of VCF parts (in the order given) to one bgzipped, CSI-indexed VCF without samples.

    Parameters
    ----------
    vcfs : sequence of path
        Normalised VCF/BCF parts, one per chromosome or one in all, in genome order.
    out : path
        The ``.vcf.gz`` to write; its ``.csi`` is written beside it.
    threads : int
        bcftools compression threads.
    """
    out = Path(out)
    with atomic_output(out) as tmp:
        if len(vcfs) == 1:
            _run(
                ["bcftools", "view", "--no-version", "-G", "-Oz", f"--threads={threads}", "-o", str(tmp), str(vcfs[0])],
                str(vcfs[0]),
            )
        else:
            concat = subprocess.Popen(
                ["bcftools", "concat", "--no-version", "-Ou", *map(str, vcfs)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            view = subprocess.run(
                ["bcftools", "view", "--no-version", "-G", "-Oz", f"--threads={threads}", "-o", str(tmp)],
                stdin=concat.stdout,
                capture_output=True,
            )
            assert concat.stdout is not None  # stdout=PIPE
            concat.stdout.close()
            concat_err = concat.stderr.read().decode(errors="replace") if concat.stderr else ""
            if concat.wait() != 0 or view.returncode != 0:
                view_err = view.stderr.decode(errors="replace").strip()
                raise InputError(
                    ", ".join(map(str, vcfs)), f"bcftools concat | view -G failed: {concat_err} {view_err}"
                )
    _index(out)
    return out


def sites_from_store(manifest: str | PathLike, out: str | PathLike, *, build: str | None = None) -> Path:
    """Write the variants of a store to one bgzipped, CSI-indexed VCF without samples.

    Parameters
    ----------
    manifest : path
        The store's ``store.json``.
    out : path
        The ``.vcf.gz`` to write; its ``.csi`` is written beside it.
    build : str, optional
        Genome build; its contig lengths go into the header (a POS beyond
        them is then refused by the resource and build checks downstream).
    """
    store = open_store(manifest)
    lengths = {canonical_contig(k): v for k, v in (contig_lengths(build) if build else {}).items()}
    chroms = list(store.chroms)
    header = ["##fileformat=VCFv4.2"]
    for chrom in chroms:
        length = lengths.get(canonical_contig(chrom))
        header.append(f"##contig=<ID={chrom}" + (f",length={length}>" if length else ">"))
    header.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    lines = ["\n".join(header)]
    for chrom in chroms:
        table = read_store_variants(store.chroms[chrom]).sort_values("pos", kind="stable")
        ids = table["id"].where(table["id"].notna(), ".")
        lines.append(
            "\n".join(
                f"{chrom}\t{p}\t{i}\t{r}\t{a}\t.\t.\t."
                for p, i, r, a in zip(table["pos"], ids, table["ref"], table["alt"], strict=True)
            )
        )
    text = ("\n".join(part for part in lines if part) + "\n").encode()
    out = Path(out)
    with atomic_output(out) as tmp:
        _run(["bcftools", "view", "--no-version", "-Oz", "-o", str(tmp), "-"], str(manifest), stdin=text)
    _index(out)
    return out


def _index(vcf: Path) -> None:
    csi = Path(f"{vcf}.csi")
    with atomic_output(csi) as tmp:
        _run(["bcftools", "index", "-c", "-f", "-o", str(tmp), str(vcf)], str(vcf))
