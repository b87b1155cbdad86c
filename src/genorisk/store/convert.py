"""Convert the cohort's genotypes, in any input form, to one PLINK 2 fileset per chromosome, with plink2.

Each input file is imported once (``--vcf``/``--pfile``/``--bfile``/``--bgen``)
into a temporary fileset, then cut per chromosome (``--chr``). Everything is
written in a temporary directory inside the store directory and moved into
place only when every input has converted, the ``.pgen`` last, so a failed run
leaves no fileset a rerun would trust. plink2's errors come back as
:class:`~genorisk.errors.InputError` naming the input file and the line plink2
names (``Line 13 of --vcf file has an invalid DS field``).

Conventions of the store (what :mod:`genorisk.store.reader` relies on):

* contigs keep the input's spelling (``--output-chr``: ``chr21`` stays
  ``chr21``, ``21`` stays ``21``); with a ``build`` the chrX PARs become
  ``PAR1``/``PAR2`` (``--split-par``), which the reader reports as chrX;
* variant IDs: the input's, ``CHROM:POS:REF:ALT`` where it had none
  (``--set-missing-var-ids``; the reader reports those as no ID again);
* biallelic only: a multiallelic variant is an error (split it first with
  ``bcftools norm -m-any``, as genorisk's normalisation does), never dropped
  silently by ``--max-alleles 2``;
* half-calls (``0/.``) are missing (``--vcf-half-call missing``), as in
  :mod:`genorisk.genotypes`; a haploid call is stored as homozygous (0/2);
* INFO (with the imputation ``R2``) is kept in the ``.pvar``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path

import pgenlib

from genorisk.errors import InputError
from genorisk.genome import canonical_contig, normalize_build
from genorisk.store.inputs import GenotypeSource, decode_pgenlib_error, describe_inputs
from genorisk.store.samples import reconcile_samples

log = logging.getLogger("genorisk.store")

#: The files of one PLINK 2 fileset, in the order they are moved into place (the .pgen last).
FILESET_SUFFIXES = (".psam", ".pvar", ".pgen")

_SPLIT_PAR = {"GRCh37": "b37", "GRCh38": "b38"}
_X_NAME = {"chrM": "chrX", "chrMT": "chrX", "M": "X", "MT": "X", "26": "23"}


def convert_to_store(
    genotypes: str | PathLike | Sequence[str | PathLike] | Sequence[GenotypeSource],
    out_dir: str | PathLike,
    *,
    form: str | None = None,
    sample_file: str | PathLike | None = None,
    sex: Mapping[str, int] | None = None,
    build: str | None = None,
    dosage: str = "auto",
    threads: int = 1,
    memory_mb: int = 1000,
    plink2: str = "plink2",
) -> dict[str, Path]:
    """Write one PLINK 2 fileset per chromosome from the cohort's genotypes.

    Parameters
    ----------
    genotypes : path, pattern, sequence of paths, or sequence of GenotypeSource
        As for :func:`genorisk.store.describe_inputs` (already described
        sources are used as they are).
    out_dir : str or PathLike
        The store directory; gets ``<chrom>.pgen/.pvar/.psam`` per chromosome,
        ``<chrom>`` spelled as the input spells it.
    form, sample_file : optional
        Passed to :func:`~genorisk.store.describe_inputs`.
    sex : mapping of str to int, optional
        IID -> 1 (male), 2 (female) or 0 (unknown), for every sample of the
        input and no other (checked here: plink2's ``--update-sex`` ignores
        unknown IDs). Needed for chrX: the reader treats males' non-PAR chrX
        as haploid.
    build : str, optional
        ``GRCh37``/``GRCh38`` (or an alias): split the chrX PARs into
        ``PAR1``/``PAR2`` (``--split-par``). Without it PAR variants stay on
        chrX and the reader treats them as non-PAR.
    dosage : {"auto", "DS", "GP", "GT"}
        VCF only: import ``DS`` (``dosage=DS``), ``GP`` (``dosage=GP-force``)
        or hard calls. ``auto`` takes DS, else GP, else GT from the header.
    threads, memory_mb : int
        plink2's ``--threads`` and ``--memory`` (its RSS during a VCF import
        equals ``--memory``; at least 640).
    plink2 : str
        The plink2 executable (v2.00a3.5 or later).

    Returns
    -------
    dict of str to pathlib.Path
        Chromosome (input spelling) -> fileset prefix, in input order.

    Raises
    ------
    InputError
        Bad input (see :func:`~genorisk.store.describe_inputs`), a ``sex``
        table that does not cover exactly the input's samples, a
        multiallelic variant, a chromosome in two inputs, or anything plink2
        refuses (named with file and line).
    """
    if memory_mb < 640:
        raise ValueError(f"memory_mb must be >= 640 (plink2's minimum), got {memory_mb}")
    if dosage not in ("auto", "DS", "GP", "GT"):
        raise ValueError(f"dosage must be 'auto', 'DS', 'GP' or 'GT', got {dosage!r}")
    sources: list[GenotypeSource]
    if isinstance(genotypes, Sequence) and genotypes and isinstance(genotypes[0], GenotypeSource):
        sources = [s for s in genotypes if isinstance(s, GenotypeSource)]
    else:
        sources = describe_inputs(genotypes, form=form, sample_file=sample_file)  # type: ignore[arg-type]
    if sex is not None:
        reconcile_samples(sources[0].samples, list(sex), store_path=sources[0].path)
    build = normalize_build(build)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".store-tmp-", dir=out_dir))
    try:
        made: dict[str, Path] = {}
        owner: dict[str, Path] = {}
        for i, src in enumerate(sources):
            for chrom, tmp_prefix in _convert_source(
                src, work, f"in{i}", sex, build, dosage, threads, memory_mb, plink2
            ):
                key = canonical_contig(chrom)
                if key in owner:
                    raise InputError(
                        src.path,
                        f"chromosome {chrom} is also in {owner[key]}; each chromosome must come from one file",
                        record=chrom,
                    )
                owner[key] = src.path
                made[chrom] = tmp_prefix
        result = {}
        for chrom, tmp_prefix in made.items():
            final = out_dir / _safe_name(chrom)
            for suffix in FILESET_SUFFIXES:
                os.replace(f"{tmp_prefix}{suffix}", f"{final}{suffix}")
            result[chrom] = final
        log.info("%s: %d chromosome fileset(s) written", out_dir, len(result))
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _safe_name(chrom: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", chrom)


def output_chr_code(chroms: Sequence[str]) -> str:
    """plink2 ``--output-chr`` code that keeps the input's contig spelling (``chr21`` -> ``chrM``, ``21`` -> ``MT``)."""
    mt = next((c for c in chroms if canonical_contig(c) == "MT"), None)
    if any(c.lower().startswith("chr") for c in chroms):
        return "chrMT" if mt is not None and mt.upper() == "CHRMT" else "chrM"
    if mt == "M":
        return "M"
    if mt == "26" or any(c == "23" for c in chroms):
        return "26"
    return "MT"


def _vcf_dosage_flag(path: Path, dosage: str) -> list[str]:
    if dosage == "GT":
        return []
    if dosage == "auto":
        header = subprocess.run(["bcftools", "view", "-h", str(path)], capture_output=True, text=True).stdout
        has = {k for k in ("DS", "GP") if re.search(rf"^##FORMAT=<ID={k},", header, re.M)}
        dosage = "DS" if "DS" in has else "GP" if "GP" in has else "GT"
    return {"DS": ["dosage=DS"], "GP": ["dosage=GP-force"], "GT": []}[dosage]


def _convert_source(
    src: GenotypeSource,
    work: Path,
    name: str,
    sex: Mapping[str, int] | None,
    build: str | None,
    dosage: str,
    threads: int,
    memory_mb: int,
    plink2: str,
) -> list[tuple[str, Path]]:
    if src.form == "vcf":
        read = ["--vcf", str(src.path), *_vcf_dosage_flag(src.path, dosage), "--vcf-half-call", "missing"]
    elif src.form == "pfile":
        read = ["--pfile", str(src.path)]
    elif src.form == "bfile":
        read = ["--bfile", str(src.path)]
    else:  # BGEN: REF first, as biobank BGEN (and plink2's export with ref-first) has it
        read = ["--bgen", str(src.path), "ref-first"]
        if src.sample_file is not None:
            read += ["--sample", str(src.sample_file)]
    chroms = list(src.chroms) if src.chroms is not None else _bgen_chroms(src)
    code = output_chr_code(chroms)
    # PLINK and BGEN files spell contigs as plink codes (21, X), whatever the build's
    # convention: GRCh38 data is spelled chr21/chrX (UCSC, GATK, the PGS Catalog's
    # harmonised files), so the store names its contigs so for GRCh38 and stays plain
    # for GRCh37. A VCF keeps its own spelling (annotation reads its records).
    if src.form != "vcf" and build is not None and build.lower() in ("grch38", "hg38"):
        code = "chrM"
    common = ["--allow-extra-chr", "--output-chr", code, "--memory", str(memory_mb), "--threads", str(threads)]
    has_x = src.chroms is None or any(canonical_contig(c) == "X" for c in chroms)
    flags = [*read, *common]
    if sex is not None:
        sex_file = work / f"{name}.sex.tsv"
        with open(sex_file, "w") as fh:
            if src.fids is not None and src.form != "vcf":
                fh.write("#FID\tIID\tSEX\n")
                fh.writelines(f"{f}\t{s}\t{sex[s]}\n" for f, s in zip(src.fids, src.samples, strict=True))
            else:
                fh.write("#IID\tSEX\n")
                fh.writelines(f"{s}\t{sex[s]}\n" for s in src.samples)
        flags += ["--update-sex", str(sex_file)]
    if build is not None and has_x:
        flags += ["--split-par", _SPLIT_PAR[build]]
    flags += ["--set-missing-var-ids", "@:#:$r:$a", "--new-id-max-allele-len", "50", "missing"]
    whole = work / name
    run_plink2(plink2, [*flags, "--make-pgen", "--out", str(whole)], src.path)
    groups = _chrom_groups(whole, src.path)
    x_name = next((c for c in groups if canonical_contig(c) == "X"), _X_NAME[code])
    out: list[tuple[str, Path]] = []
    grouped: dict[str, list[str]] = {}
    for chrom in groups:  # PAR1/PAR2 belong to chrX's fileset
        grouped.setdefault(x_name if chrom in ("PAR1", "PAR2") else chrom, []).append(chrom)
    if len(grouped) == 1:
        return [(next(iter(grouped)), whole)]
    for i, (chrom, members) in enumerate(grouped.items()):
        part = work / f"{name}.{i}"
        cut = ["--pfile", str(whole), "--chr", ",".join(members), *common, "--make-pgen", "--out", str(part)]
        run_plink2(plink2, cut, src.path)
        out.append((chrom, part))
    return out


def _bgen_chroms(src: GenotypeSource) -> list[str]:
    from genorisk.store.inputs import read_bgen_header

    first = read_bgen_header(src.path).first_chrom
    return [first] if first else []


def _chrom_groups(prefix: Path, source: Path) -> list[str]:
    """Contigs of a fileset in file order; refuses a multiallelic variant, naming the first."""
    pvar_path = f"{prefix}.pvar"
    try:
        pvar = pgenlib.PvarReader(pvar_path.encode())
    except RuntimeError as err:
        raise InputError(pvar_path, decode_pgenlib_error(err)) from None
    multi = pvar.get_max_allele_ct() > 2
    pvar.close()
    chroms: list[str] = []
    with open(pvar_path) as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            fields = line.split("\t", 5)
            if multi and "," in fields[4]:
                raise InputError(
                    source,
                    f"multiallelic variant (ALT {fields[4]}); split it first (bcftools norm -m-any)",
                    record=f"{fields[0]}:{fields[1]}",
                )
            if not chroms or chroms[-1] != fields[0]:
                chroms.append(fields[0])
    seen: set[str] = set()
    for c in chroms:
        if c in seen:
            raise InputError(source, f"the variants of {c} are not contiguous (sort the file by chromosome)", record=c)
        seen.add(c)
    return chroms


_LINE_RE = re.compile(r"Line (\d+) of .*? has (?:an? )?(.*)", re.S)
# Why plink2 refuses a DS field, which its message does not say.
_DS_HINT = " (a DS outside [0, 2], or above 1 on a haploid call)"


def run_plink2(plink2: str, args: Sequence[str], source: str | PathLike) -> None:
    """Run plink2; on failure raise InputError for ``source`` with plink2's error (line number as the record)."""
    out = args[list(args).index("--out") + 1]
    res = subprocess.run([plink2, *args], capture_output=True, text=True)
    if res.returncode == 0:
        return
    message = ""
    try:
        text = Path(f"{out}.log").read_text()
        if "Error:" in text:
            message = text[text.index("Error:") + len("Error:") :].split("\n\n")[0].strip()
    except OSError:
        pass
    message = " ".join((message or res.stderr.strip() or res.stdout.strip()[-300:]).split())
    record = None
    m = _LINE_RE.match(message)
    if m:
        record = f"line {m.group(1)}"
        message = m.group(2).rstrip(".") + (_DS_HINT if "invalid DS" in m.group(2) else "")
    raise InputError(source, f"plink2 (exit {res.returncode}): {message}", record=record)
