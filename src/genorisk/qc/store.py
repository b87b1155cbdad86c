"""QC from the genotype store, one genome shard at a time: :func:`shard_qc` (gathered by :mod:`.gather`).

The workflow's shard job is now plink2 alone (``scripts/cohort_qc_shard.sh``,
read by :mod:`.plink_counts`); :func:`shard_qc` computes the chrX/Y/MT
filesets there (ploidy, chrX HWE without males, the F statistic), filesets with
a variant htslib and plink2 class differently, and regions of a fileset.

:func:`genorisk.qc.run_qc` streams the cohort VCF once. On a PLINK 2 store
(one pgen fileset per chromosome) the same tables come from small, additive
per-shard summaries, so each shard (a chromosome or a region of one) is its
own job:

* per-sample counts come from ``plink2 --sample-counts`` on the shard (plink2
  counts packed 2-bit genotypes; numpy over pgenlib blocks measured 17x
  slower): ``HOM_REF_CT``, ``HET_SNP_CT``, ``HOM_ALT_SNP_CT``,
  ``DIPLOID_TRANSITION_CT`` / ``DIPLOID_TRANSVERSION_CT``, ``HAP_REF_CT``,
  ``HAP_ALT_CT`` and ``MISSING_CT`` are genorisk's ``n_hom_ref``, ``n_het``,
  ``n_hom_alt``, ``n_snv_ts``, ``n_snv_tv``, ``n_hap_ref``, ``n_hap_alt`` and
  ``n_missing``. A second run with ``--snps-only just-acgt`` gives the
  autosomal SNV calls behind ``het_rate`` when the shard also holds other
  variants;
* per-variant genotype counts come from pgenlib ``count()`` over sample
  subsets (all, controls; on chrX non-PAR: non-males, males, non-male
  controls);
* the few variants whose class plink2 and htslib see differently (an SNV
  written with more than one base, a non-ACGT base) and the chrX variants of
  the F statistic are counted in numpy from pgenlib blocks.

Each variant depends only on its own counts (no sample exclusion feeds back
into them: run_qc computes every variant over all samples analysed), so the
shard computes its final rows (call rate, AF, MAF, exact HWE p) and decides
its excluded variants (:func:`genorisk.qc.exclusions.variant_exclusions`),
exactly as :func:`run_qc` does. :mod:`genorisk.qc.gather` sums the per-sample
counts and computes what is not additive (Ti/Tv, het rate, F and the sex
call, sample exclusions), so both give the same :class:`~genorisk.qc.QCResult`.

Where a shard's time goes (2,000 samples, 15k variants, one core): the exact
HWE p (~40%: one whole distribution per distinct (n, minor count) pair,
batched in numpy), ``plink2 --sample-counts`` (~25%, mostly plink2's start),
pgenlib ``count()`` (~20%), the rest reading the ``.pvar`` and building
tables; Python start-up and imports (~0.8 s per job) are more than all of it.

Store conventions assumed (those of ``genorisk.store``): biallelic variants
(``--max-alleles 2`` or split), sex in the ``.psam`` (``SEX`` 1 = male), male
non-PAR chrX calls haploid (plink2 stores a hemizygous ALT as 2 and counts a
male het there as missing, as a VCF with haploid male calls has no het), PAR
variants either on chrX or on plink2's ``PAR1``/``PAR2`` (``--split-par``).
Each variant row describes a record with one ALT (``allele_index`` 1,
``n_alt`` 1).
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genome import Region, canonical_contig, chromosome_class, par_regions
from genorisk.qc.blocks import SampleCounters
from genorisk.qc.exclusions import variant_exclusions
from genorisk.qc.gather import ShardQC
from genorisk.qc.hwe import hwe_exact_p
from genorisk.qc.thresholds import QCThresholds
from genorisk.qc.variant_types import TS, TV, VT_SNP, allele_classes
from genorisk.store.inputs import pvar_header_lines

_DEFAULT_THRESHOLDS = QCThresholds()
_BLOCK = 1024
_ACGT = frozenset("ACGT")
_PLINK_COLUMNS = "+sex,+hom,+homref,+homalt,+het,+ts,+tv,+hapref,+hapalt,+missing"


def read_psam(prefix: str | PathLike) -> pd.DataFrame:
    """The ``.psam`` of a pgen fileset: columns ``IID`` and ``SEX`` (1 male, 2 female, 0/NA unknown), file order."""
    path = Path(f"{prefix}.psam")
    if not path.exists():
        raise InputError(path, "no .psam next to the .pgen")
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    table.columns = [c.lstrip("#") for c in table.columns]
    if "IID" not in table:
        raise InputError(path, "no IID column")
    if "SEX" not in table:
        table["SEX"] = "0"
    return table


def read_pvar(prefix: str | PathLike) -> pd.DataFrame:
    """The variants of a ``.pvar``: ``chrom``, ``pos``, ``ref``, ``alt``, in file order."""
    path = Path(f"{prefix}.pvar")
    if not path.exists():
        raise InputError(path, "no .pvar next to the .pgen")
    table = pd.read_csv(
        path,
        sep="\t",
        skiprows=pvar_header_lines(path),
        usecols=[0, 1, 3, 4],
        dtype={0: str, 1: np.int64, 3: str, 4: str},
        keep_default_na=False,
    )
    table.columns = ["chrom", "pos", "ref", "alt"]
    if table["alt"].str.contains(",").any():
        bad = table.loc[table["alt"].str.contains(","), ["chrom", "pos"]].iloc[0]
        raise InputError(path, "multiallelic variant; the QC store must be biallelic", record=f"{bad.chrom}:{bad.pos}")
    return table


def _is_par_contig(chrom: str) -> bool:
    return canonical_contig(chrom).upper() in ("PAR1", "PAR2")


def x_contig_name(chroms: Sequence[str]) -> str:
    """How the store spells chrX, for its PAR1/PAR2 variants (plink2 writes ``PAR1`` even with ``chr`` names).

    ``X`` when the other contigs have no ``chr`` prefix, else ``chrX`` (also when there are only PAR
    contigs: GRCh38, the build of ``--split-par hg38``, spells it so).
    """
    others = [c for c in dict.fromkeys(chroms) if not _is_par_contig(c)]
    return "X" if others and not any(c.lower().startswith("chr") for c in others) else "chrX"


def _variant_classes(pvar: pd.DataFrame, x_name: str) -> dict[str, np.ndarray]:
    """Per variant: chromosome class, ploidy rule and the htslib / plink2 SNV classes.

    Vectorised: the class functions run once per distinct contig and per
    distinct (REF, ALT) pair (a dozen for SNVs), not once per variant.
    """
    contigs, contig_of = np.unique(pvar["chrom"].to_numpy(dtype=object), return_inverse=True)
    names = np.array([x_name if _is_par_contig(c) else c for c in contigs], dtype=object)
    cls = np.array([chromosome_class(c) for c in names], dtype=object)[contig_of]
    chrom = names[contig_of]
    pos = pvar["pos"].to_numpy()
    is_x = cls == "X"
    par = np.zeros(len(pvar), dtype=bool)
    for lo, hi in par_regions(None):  # genome.in_par with no build: either build's PARs
        par |= (pos >= lo) & (pos <= hi)
    x_nonpar = is_x & ~par
    pair_of, pairs = pd.factorize(pvar["ref"].astype(object) + "\t" + pvar["alt"].astype(object))
    snv, plink_snp = np.zeros(len(pairs), dtype=bool), np.zeros(len(pairs), dtype=bool)
    sample_code, cohort_code = np.zeros(len(pairs), dtype=np.int8), np.zeros(len(pairs), dtype=np.int8)
    for k, pair in enumerate(pairs):
        ref, alt = pair.split("\t")
        t, s, co = allele_classes(ref, [alt])
        snv[k], sample_code[k], cohort_code[k] = bool(t[1] & VT_SNP), s[1], co[1]
        plink_snp[k] = len(ref) == 1 and len(alt) == 1 and ref in _ACGT and alt in _ACGT and ref != alt
    return {
        "chrom": chrom,
        "is_x": is_x,
        "autosome": cls == "autosome",
        "haploid_male": x_nonpar | (cls == "Y"),
        "haploid_all": cls == "MT",
        "x_nonpar": x_nonpar,
        "snv": snv[pair_of],
        "plink_snp": plink_snp[pair_of],
        "sample_code": sample_code[pair_of],
        "cohort_code": cohort_code[pair_of],
    }


def shard_qc(
    prefix: str | PathLike,
    *,
    region: Region | str | None = None,
    samples: Sequence[str] | None = None,
    status: Mapping[str, Any] | None = None,
    thresholds: QCThresholds = _DEFAULT_THRESHOLDS,
    threads: int = 1,
    memory_mb: int = 1000,
    plink2: str = "plink2",
) -> ShardQC:
    """QC summaries of one shard of a pgen store.

    Parameters
    ----------
    prefix : str or PathLike
        The fileset (``prefix.pgen``, ``.pvar``, ``.psam``).
    region : Region or str, optional
        Only variants in this region (``chr21:1-20000000``; the contig spelled
        as in the ``.pvar``); default the whole fileset.
    samples : sequence of str, optional
        IIDs to analyse, in the order wanted; default all, in ``.psam`` order.
    status : mapping IID -> 0/1, optional
        Case/control; when given, HWE counts are over controls only.
    thresholds : QCThresholds
        ``sex_min_maf`` selects the chrX variants of F.
    threads, memory_mb : int
        plink2's ``--threads`` and ``--memory``.
    plink2 : str
        The plink2 executable.

    Returns
    -------
    ShardQC

    Raises
    ------
    InputError
        Missing file, unknown sample, multiallelic variant, or plink2 failing
        (its ``Error:`` line).
    """
    import pgenlib

    psam = read_psam(prefix)
    pvar = read_pvar(prefix)
    all_ids = psam["IID"].tolist()
    if samples is None:
        names = all_ids
    else:
        names = list(samples)
        unknown = sorted(set(names) - set(all_ids))
        if unknown:
            shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            raise InputError(Path(f"{prefix}.psam"), f"{len(unknown)} sample(s) not in the store: {shown}")
    position = {s: i for i, s in enumerate(all_ids)}
    file_idx = np.array([position[s] for s in names], dtype=np.int64)
    subset = np.sort(file_idx)
    order = np.searchsorted(subset, file_idx)  # subset (file order) -> requested order
    male_file = (psam["SEX"].to_numpy() == "1")[subset]
    male = male_file[order]
    if status is not None:
        hwe_file = np.array([_is_control(status.get(all_ids[i])) for i in subset], dtype=bool)
        hwe_on = "controls"
    else:
        hwe_file = np.ones(len(subset), dtype=bool)
        hwe_on = "all samples"

    if region is not None:
        region = region if isinstance(region, Region) else _parse(region)
        keep = (pvar["chrom"] == region.chrom).to_numpy() & (pvar["pos"].to_numpy() >= region.start)
        if region.end is not None:
            keep &= pvar["pos"].to_numpy() <= region.end
        index = np.flatnonzero(keep)
    else:
        index = np.arange(len(pvar))
    shard = pvar.iloc[index].reset_index(drop=True)
    classes = _variant_classes(shard, x_contig_name(pvar["chrom"].unique().tolist()))

    pvar_reader = pgenlib.PvarReader(f"{prefix}.pvar".encode())
    reader = pgenlib.PgenReader(f"{prefix}.pgen".encode(), pvar=pvar_reader)
    try:
        variant_counts = _variant_counts(reader, index, classes, shard, subset, male_file, hwe_file)
        counts = _sample_counts(
            prefix,
            reader,
            index,
            classes,
            shard,
            variant_counts,
            subset,
            male_file,
            thresholds,
            region,
            names if samples is not None else None,
            threads,
            memory_mb,
            plink2,
        )
    finally:
        reader.close()
    variants = variant_qc_rows(variant_counts, len(names))
    return ShardQC(
        samples=names,
        variants=variants,
        excluded_variants=variant_exclusions(variants, thresholds),
        counts={k: v[order] for k, v in counts.items()},
        male=male,
        hwe_on=hwe_on,
        thresholds=thresholds,
    )


def _parse(text: str) -> Region:
    from genorisk.genome import parse_region

    return parse_region(text)


def _is_control(value) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value).strip() in ("0", "0.0", "control")


def _count_subset(reader, idx: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """(len(idx), 4) genotype counts [hom_ref, het, hom_alt, missing] over ``subset`` (file positions)."""
    out = np.zeros((len(idx), 4), dtype=np.int64)
    if len(idx) == 0 or len(subset) == 0:
        return out
    reader.change_sample_subset(np.ascontiguousarray(subset, dtype=np.uint32))
    buf = np.zeros(4, dtype=np.uint32)
    for j, i in enumerate(idx):
        reader.count(int(i), buf)
        out[j] = buf
    return out


def _variant_counts(reader, index, classes, shard, subset, male, hwe) -> pd.DataFrame:
    """Per-variant diploid / haploid counts and HWE counts, pgenlib ``count()`` over sample subsets."""
    m = len(index)
    dip = np.zeros((m, 4), dtype=np.int64)  # hom_ref, het, hom_alt, missing over diploid-coded samples
    hap = np.zeros((m, 4), dtype=np.int64)  # same over haploid-coded samples (het = missing)
    hwe_counts = np.zeros((m, 4), dtype=np.int64)
    hap_male, hap_all = classes["haploid_male"], classes["haploid_all"]
    is_x = classes["is_x"]
    diploid_rows = ~hap_male & ~hap_all
    for rows, dip_samples, hap_samples in (
        (diploid_rows, subset, subset[:0]),
        (hap_male, subset[~male], subset[male]),
        (hap_all, subset[:0], subset),
    ):
        r = np.flatnonzero(rows)
        if len(r):
            dip[r] = _count_subset(reader, index[r], dip_samples)
            hap[r] = _count_subset(reader, index[r], hap_samples)
    sex_chrom = is_x | (hap_male & ~classes["x_nonpar"])  # chrX (PAR too, as run_qc) and chrY: no males in HWE
    for rows, hwe_samples in ((~sex_chrom & ~hap_all, subset[hwe]), (sex_chrom, subset[hwe & ~male])):
        r = np.flatnonzero(rows)
        if len(r):
            hwe_counts[r] = _count_subset(reader, index[r], hwe_samples)
    n_dip = dip[:, 0] + dip[:, 1] + dip[:, 2]
    n_hap = hap[:, 0] + hap[:, 2]
    is_snv = classes["snv"]
    return pd.DataFrame(
        {
            "chrom": pd.array(classes["chrom"], dtype="str"),
            "pos": shard["pos"].to_numpy(dtype=np.int64),
            "ref": pd.array(shard["ref"].to_numpy(dtype=object), dtype="str"),
            "alt": pd.array(shard["alt"].to_numpy(dtype=object), dtype="str"),
            "allele_index": np.ones(m, dtype=np.int64),
            "n_alt": np.ones(m, dtype=np.int64),
            "n_called": n_dip + n_hap,
            "allele_number": 2 * n_dip + n_hap,
            "alt_count": dip[:, 1] + 2 * dip[:, 2] + hap[:, 2],
            "n_hom_ref": dip[:, 0],
            "n_het": dip[:, 1],
            "n_hom_alt": dip[:, 2],
            "hwe_hom_ref": hwe_counts[:, 0],
            "hwe_het": hwe_counts[:, 1],
            "hwe_hom_alt": hwe_counts[:, 2],
            "is_snv": is_snv,
            "is_transition": classes["cohort_code"] == TS,
            "is_transversion": classes["cohort_code"] == TV,
        }
    )


def variant_qc_rows(
    counts: pd.DataFrame | Mapping[str, Any], n_samples: int, *, hwe_p: np.ndarray | None = None
) -> pd.DataFrame:
    """The per-variant QC rows of :func:`genorisk.qc.run_qc` from a shard's genotype counts.

    Parameters
    ----------
    counts : pandas.DataFrame or mapping of column -> array
        Per variant: ``chrom, pos, ref, alt, allele_index, n_alt, n_called,
        allele_number, alt_count, n_hom_ref, n_het, n_hom_alt, hwe_hom_ref,
        hwe_het, hwe_hom_alt, is_snv, is_transition, is_transversion``
        (``hwe_*``: diploid counts over the HWE samples).
    n_samples : int
        Samples analysed (the call-rate denominator).
    hwe_p : ndarray, optional
        The HWE p of each row when already known (plink2's, :mod:`genorisk.qc.plink_counts`);
        default :func:`genorisk.qc.hwe_exact_p` of the ``hwe_*`` counts.

    Returns
    -------
    pandas.DataFrame
        :attr:`genorisk.qc.QCResult.variants` rows: each from its own counts
        only, so any split of the variants gives the same rows.
    """
    an = np.asarray(counts["allele_number"])
    with np.errstate(invalid="ignore", divide="ignore"):
        alt_af = np.where(an > 0, np.asarray(counts["alt_count"]) / np.maximum(an, 1), np.nan)
        call_rate = np.asarray(counts["n_called"]) / n_samples if n_samples else np.full(len(an), np.nan)
    het, hom_ref, hom_alt = (np.asarray(counts[k]) for k in ("hwe_het", "hwe_hom_ref", "hwe_hom_alt"))
    return pd.DataFrame(
        {
            "chrom": counts["chrom"],
            "pos": counts["pos"],
            "ref": counts["ref"],
            "alt": counts["alt"],
            "allele_index": counts["allele_index"],
            "n_alt": counts["n_alt"],
            "call_rate": call_rate.astype(np.float64),
            "alt_af": alt_af,
            "maf": np.minimum(alt_af, 1 - alt_af),
            "n_hom_ref": counts["n_hom_ref"],
            "n_het": counts["n_het"],
            "n_hom_alt": counts["n_hom_alt"],
            "hwe_n": het + hom_ref + hom_alt,
            "hwe_p": hwe_exact_p(het, hom_ref, hom_alt) if hwe_p is None else np.asarray(hwe_p, dtype=np.float64),
            "is_snv": counts["is_snv"],
            "is_transition": counts["is_transition"],
            "is_transversion": counts["is_transversion"],
        }
    )


def _iter_calls(reader, idx: np.ndarray, n: int):
    """int8 calls (0/1/2, -9 missing) of the variants ``idx``, in blocks of rows."""
    for lo in range(0, len(idx), _BLOCK):
        part = np.ascontiguousarray(idx[lo : lo + _BLOCK], dtype=np.uint32)
        g = np.empty((len(part), n), dtype=np.int8)
        reader.read_list(part, g)
        yield lo, g


def _sample_counts(
    prefix, reader, index, classes, shard, variants, subset, male, th, region, keep, threads, memory, plink2
) -> dict[str, np.ndarray]:
    """Per-sample counters in ``.psam`` (subset) order: plink2 for the bulk, numpy for the rest."""
    n = len(subset)
    c = SampleCounters(n)
    reader.change_sample_subset(np.ascontiguousarray(subset, dtype=np.uint32))
    ids = read_psam(prefix)["IID"].to_numpy(dtype=object)[subset].tolist()
    chroms = shard["chrom"].unique().tolist()  # plink2 runs per contig: autosome or not is per run
    with tempfile.TemporaryDirectory(prefix="genorisk-qc-") as tmp:
        keep_file = None
        if keep is not None:
            keep_file = Path(tmp) / "keep.txt"
            keep_file.write_text("#IID\n" + "".join(f"{s}\n" for s in keep))
        for chrom in chroms:
            on = (shard["chrom"] == chrom).to_numpy()
            lo, hi = int(shard["pos"][on].min()), int(shard["pos"][on].max())
            if region is not None:
                lo, hi = region.start, region.end if region.end is not None else hi
            args = ["--chr", chrom, "--from-bp", str(lo), "--to-bp", str(hi)]
            full = _plink_sample_counts(prefix, tmp, args, keep_file, threads, memory, plink2)
            full = full.set_index("IID").loc[ids]
            n_rows = int(on.sum())
            c.n_missing += full["MISSING_CT"].to_numpy(np.int64)
            c.n_called += n_rows - full["MISSING_CT"].to_numpy(np.int64)
            c.n_hom_ref += full["HOM_REF_CT"].to_numpy(np.int64)
            c.n_het += full["HET_SNP_CT"].to_numpy(np.int64)
            c.n_hom_alt += full["HOM_ALT_SNP_CT"].to_numpy(np.int64)
            c.n_hap_ref += full["HAP_REF_CT"].to_numpy(np.int64)
            c.n_hap_alt += full["HAP_ALT_CT"].to_numpy(np.int64)
            c.n_snv_ts += full["DIPLOID_TRANSITION_CT"].to_numpy(np.int64)
            c.n_snv_tv += full["DIPLOID_TRANSVERSION_CT"].to_numpy(np.int64)
            if classes["autosome"][on].all():
                c.auto_het += full["HET_SNP_CT"].to_numpy(np.int64)
                plink_snp = classes["plink_snp"][on]
                snp_only = full
                if not plink_snp.any():  # no SNV plink2 counts here (it would stop: "No variants loaded")
                    continue
                if not plink_snp.all():
                    snp_only = (
                        _plink_sample_counts(
                            prefix, tmp, [*args, "--snps-only", "just-acgt"], keep_file, threads, memory, plink2
                        )
                        .set_index("IID")
                        .loc[ids]
                    )
                c.auto_called += (
                    snp_only["HOM_REF_CT"] + snp_only["HET_SNP_CT"] + snp_only["HOM_ALT_SNP_CT"]
                ).to_numpy(np.int64)
    _add_discordant_snvs(c, reader, index, classes, male, n)
    _add_x_f(c, reader, index, classes, variants, male, th, n)
    return {name: getattr(c, name) for name in (*SampleCounters.NAMES, "x_expected_hom")}


def _plink_sample_counts(prefix, tmp, args, keep_file, threads, memory, plink2) -> pd.DataFrame:
    out = Path(tmp) / "counts"
    argv = [
        plink2,
        "--pfile",
        str(prefix),
        *args,
        "--sample-counts",
        f"cols={_PLINK_COLUMNS}",
        "--threads",
        str(threads),
        "--memory",
        str(memory),
        "--out",
        str(out),
    ]
    if keep_file is not None:
        argv += ["--keep", str(keep_file)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        log = Path(f"{out}.log")
        text = log.read_text() if log.exists() else proc.stdout + proc.stderr
        message = next((line for line in text.splitlines() if line.startswith("Error:")), text.strip()[-300:])
        raise InputError(Path(f"{prefix}.pgen"), f"plink2 --sample-counts failed (exit {proc.returncode}): {message}")
    table = pd.read_csv(f"{out}.scount", sep="\t", dtype={"#IID": str, "IID": str})
    table.columns = [col.lstrip("#") for col in table.columns]
    return table


def _add_discordant_snvs(c: SampleCounters, reader, index, classes, male, n) -> None:
    """Variants htslib calls SNVs and plink2 does not (``ACT>AGT``, a non-ACGT base): counted here."""
    rows = np.flatnonzero(classes["snv"] & ~classes["plink_snp"])
    if not len(rows):
        return
    for lo, g in _iter_calls(reader, index[rows], n):
        r = rows[lo : lo + len(g)]
        haploid = (classes["haploid_male"][r, None] & male[None, :]) | classes["haploid_all"][r, None]
        diploid = ~haploid & (g >= 0)
        het, hom_alt = diploid & (g == 1), diploid & (g == 2)
        c.n_het += het.sum(axis=0)
        c.n_hom_alt += hom_alt.sum(axis=0)
        code = classes["sample_code"][r, None]
        c.n_snv_ts += ((code == TS) & (het | hom_alt)).sum(axis=0)
        c.n_snv_tv += ((code == TV) & (het | hom_alt)).sum(axis=0)
        auto = classes["autosome"][r, None]
        c.auto_het += (het & auto).sum(axis=0)
        c.auto_called += (diploid & auto).sum(axis=0)


def _add_x_f(c: SampleCounters, reader, index, classes, variants: pd.DataFrame, male, th, n) -> None:
    """chrX F inputs (plink --check-sex): homozygous, called and expected homozygous calls per sample."""
    with np.errstate(invalid="ignore", divide="ignore"):
        an = variants["allele_number"].to_numpy()
        alt_af = np.where(an > 0, variants["alt_count"].to_numpy() / np.maximum(an, 1), np.nan)
    maf = np.minimum(alt_af, 1 - alt_af)
    rows = np.flatnonzero(classes["x_nonpar"] & classes["snv"] & (maf >= th.sex_min_maf) & (maf > 0))
    if not len(rows):
        return
    for lo, g in _iter_calls(reader, index[rows], n):
        r = rows[lo : lo + len(g)]
        p = alt_af[r]
        het = (g == 1) & ~male[None, :]
        called = (g >= 0) & ~((g == 1) & male[None, :])  # a male het is missing, as plink2 counts it
        c.x_hom += (called & ~het).sum(axis=0)
        c.x_called += called.sum(axis=0)
        c.x_expected_hom += (1 - 2 * p * (1 - p)) @ called
