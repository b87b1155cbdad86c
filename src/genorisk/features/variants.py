"""Which variants become features: damaging or pathogenic alleles, and the cohort's dosage filter (in-fold or not)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genorisk import genotypes
from genorisk.annotate import CSQ_SEVERITY, SEQUENCE_CLASSES, allele_classes
from genorisk.errors import InputError

log = logging.getLogger("genorisk.features")

#: Consequences (bcftools csq) counted as damaging: every term at least as severe as
#: splice_region in the annotation's severity order.
DAMAGING_CONSEQUENCES = frozenset(CSQ_SEVERITY[: CSQ_SEVERITY.index("splice_region") + 1])
#: Without a reference FASTA there are no consequences; a coding or splice
#: position is then the (documented, coarser) proxy for "damaging".
DAMAGING_REGION_CLASSES = frozenset({"CDS", "splice_region"})


def is_pathogenic(significance: pd.Series) -> np.ndarray:
    """ClinVar Pathogenic / Likely_pathogenic (not 'Conflicting...' or benign combinations)."""
    sig = significance.fillna("").astype(str).str.lower()
    return (sig.str.contains("pathogenic") & ~sig.str.contains("conflicting") & ~sig.str.contains("benign")).to_numpy()


def is_benign(significance: pd.Series) -> np.ndarray:
    """ClinVar Benign / Likely_benign (and their combination), not 'Conflicting...'."""
    sig = significance.fillna("").astype(str).str.lower()
    return (sig.str.contains("benign") & ~sig.str.contains("conflicting") & ~sig.str.contains("pathogenic")).to_numpy()


#: Why a variant is listed in a patient's report (report.schema.json, notable_variants[].reason).
NOTABLE_REASONS = (
    "ClinVar pathogenic/likely pathogenic",
    "rare predicted damaging",
    "rare coding variant (consequence not computed)",
    "rare variant, ClinVar benign/likely benign",
)


def notable_reasons(table: pd.DataFrame, *, consequences_computed: bool) -> list[str]:
    """Why each row of an annotation table (rows :func:`rare_damaging` kept) is listed, in the report's words.

    "Predicted damaging" only when a consequence was computed (``bcftools
    csq`` with a FASTA) or ClinVar says pathogenic/likely pathogenic; a rare
    coding or splice allele without a computed consequence is "rare coding
    variant (consequence not computed)"; an allele ClinVar calls benign or
    likely benign is never called damaging, whatever its position.
    """
    pathogenic = is_pathogenic(table["clinvar_significance"])
    benign = is_benign(table["clinvar_significance"])
    out = []
    for p, b in zip(pathogenic, benign, strict=True):
        if p:
            out.append(NOTABLE_REASONS[0])
        elif b:
            out.append(NOTABLE_REASONS[3])
        elif consequences_computed:
            out.append(NOTABLE_REASONS[1])
        else:
            out.append(NOTABLE_REASONS[2])
    return out


def rare_damaging(
    table: pd.DataFrame,
    *,
    max_af: float,
    cohort_af: pd.Series | None = None,
    consequences_computed: bool | None = None,
) -> np.ndarray:
    """Alleles of an annotation table that are rare and predicted damaging, or ClinVar P/LP.

    Rare: population AF (or, where the population resource lacks the allele,
    the cohort AF) below ``max_af``. Damaging: a damaging consequence when
    consequences were computed, else a CDS or splice-region position; only
    sequence alleles (SNV, MNV, indel) qualify, since a ``*`` allele restates
    an upstream deletion and symbolic alleles have no allele-level evidence.
    ``consequences_computed`` says which (default: whether any row of
    ``table`` has a consequence; give it for a table read in part, see
    :func:`read_annotation_candidates`).
    """
    af = table["population_af"].astype(float)
    if cohort_af is not None:
        af = af.fillna(cohort_af.astype(float))
    rare = (af < max_af).to_numpy()
    if consequences_computed is None:
        consequences_computed = bool(table["consequence"].notna().any())
    if consequences_computed:
        damaging = table["consequence"].isin(DAMAGING_CONSEQUENCES).to_numpy()
    else:
        damaging = table["region_class"].isin(DAMAGING_REGION_CLASSES).to_numpy()
    if "allele_class" in table:
        damaging = damaging & table["allele_class"].isin(SEQUENCE_CLASSES).to_numpy()
    return (rare & damaging & table["gene"].notna().to_numpy()) | is_pathogenic(table["clinvar_significance"])


def read_annotation_candidates(path: str | Path) -> tuple[pd.DataFrame, bool]:
    """The rows of an annotation table that can be burden or carrier alleles, and the consequence mode.

    Reads ``cohort.variants.parquet`` filtered as it is read (pyarrow), so
    memory follows the coding, splice and ClinVar alleles, not every allele
    of the genome: a row is kept when it has a ClinVar significance, or a
    gene and a damaging consequence (when consequences were computed) or a
    CDS/splice-region position (when not). :func:`rare_damaging` on the rows
    kept, with the mode returned, gives what it gives on the whole table.

    Returns
    -------
    table : pandas.DataFrame
        The candidate rows, all columns.
    consequences_computed : bool
        Whether any allele of the whole table has a consequence.
    """
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(path), format="parquet")
    consequence = dataset.to_table(columns=["consequence"]).column("consequence")
    consequences_computed = bool(pc.any(pc.is_valid(consequence)).as_py())
    damaging = (
        ds.field("consequence").isin(sorted(DAMAGING_CONSEQUENCES))
        if consequences_computed
        else ds.field("region_class").isin(sorted(DAMAGING_REGION_CLASSES))
    )
    keep = ds.field("clinvar_significance").is_valid() | (ds.field("gene").is_valid() & damaging)
    return dataset.to_table(filter=keep).to_pandas(), consequences_computed


#: Rounding allowance of in-fold selection (see :func:`select_dosage_variants`): the streamed
#: statistic (one-pass sums, :mod:`genorisk.model.fold_stats`) and training's dense one
#: (:func:`genorisk.model.select.trend_test_statistic`, centred columns) may differ by this much,
#: relative and absolute (chi-square units). Measured differences are about 3e-12 relative.
SELECTION_RELATIVE_TOLERANCE = 1e-6
SELECTION_ABSOLUTE_TOLERANCE = 1e-9


#: The counts of :func:`filter_dosage_chunk`, in the order the feature schema lists them.
SELECTION_COUNTS = (
    "alt_alleles",
    "symbolic",
    "spanning_deletion",
    "other_non_acgtn",
    "excluded_by_qc",
    "below_min_call_rate",
    "below_min_maf",
    "kept",
    "duplicates",
)


def unlabelled_mask(labels: np.ndarray) -> np.ndarray:
    """Which entries of a label array are unknown (NaN): people without a value in the trait's column.

    Parameters
    ----------
    labels : array-like, shape (n_samples,)
        0/1 outcomes; NaN (float arrays only) = unknown.

    Returns
    -------
    ndarray of bool, shape (n_samples,)
        All False for an integer or boolean array.
    """
    y = np.asarray(labels)
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype.kind == "O":
        return pd.isna(y).astype(bool)
    return np.zeros(y.shape, dtype=bool)


def filter_dosage_chunk(
    chunk: genotypes.DosageChunk,
    *,
    min_maf: float,
    min_call_rate: float,
    exclude: set[tuple] | None = None,
    counts: dict[str, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dosage filter of :func:`select_dosage_variants` on one chunk.

    Returns the mask of SNV/indel ALT alleles that pass (not in ``exclude``,
    call rate >= ``min_call_rate``, MAF >= ``min_maf``), the ALT allele
    frequency (NaN where nothing is called) and the call rate of every row;
    adds each row to ``counts`` (:data:`SELECTION_COUNTS`) under its first
    failing reason.
    """
    d = chunk.dosages
    n_called = (~np.isnan(d)).sum(axis=1)
    call_rate = n_called / d.shape[1] if d.shape[1] else np.zeros(len(d))
    af = chunk.alt_allele_frequency()
    maf = np.minimum(af, 1 - af)  # NaN (nothing called) fails the MAF filter
    v = chunk.variants
    alt, ref = v["alt"], v["ref"]
    cls = allele_classes(ref, alt)  # the annotation table's classes, so the counts agree with it
    symbolic = (cls == "symbolic") | (cls == "breakend")
    star = cls == "star"
    acgtn = (alt.str.fullmatch(r"[ACGTN]+") & ref.str.fullmatch(r"[ACGTN]+")).to_numpy()
    excluded = np.zeros(len(d), dtype=bool)
    if exclude:
        excluded = np.array([k in exclude for k in zip(v["chrom"], v["pos"], ref, alt, strict=False)], dtype=bool)
    low_call = call_rate < min_call_rate
    with np.errstate(invalid="ignore"):
        low_maf = ~(maf >= min_maf)
    keep = acgtn & ~excluded & ~low_call & ~low_maf
    if counts is not None:
        counts["alt_alleles"] += len(d)
        counts["symbolic"] += int(symbolic.sum())
        counts["spanning_deletion"] += int(star.sum())
        counts["other_non_acgtn"] += int((~acgtn & ~symbolic & ~star).sum())
        counts["excluded_by_qc"] += int((acgtn & excluded).sum())
        counts["below_min_call_rate"] += int((acgtn & ~excluded & low_call).sum())
        counts["below_min_maf"] += int((acgtn & ~excluded & ~low_call & low_maf).sum())
        counts["kept"] += int(keep.sum())
    return keep, af, call_rate


def within_allowance_of_top_k(stats: np.ndarray, k: int) -> np.ndarray:
    """Which alleles each ranking may select: within the rounding allowance of its k-th largest statistic.

    Parameters
    ----------
    stats : ndarray, shape (m, n_rankings)
        Trend statistics (:meth:`InFoldSelection.statistics_of`).
    k : int
        ``keep_per_fold``.

    Returns
    -------
    ndarray of bool, shape (m, n_rankings)
        Column j is every allele with ``s >= (s_k (1 - r) - 2 a) / (1 + r)``
        in ranking j (all of them when there are at most k); r, a =
        :data:`SELECTION_RELATIVE_TOLERANCE`, :data:`SELECTION_ABSOLUTE_TOLERANCE`.
        Applied to any superset of a set's top k per ranking (such as the
        union of per-part results), it gives what it gives on the whole set.
    """
    if len(stats) <= k:
        return np.ones(stats.shape, dtype=bool)
    if k == 0:
        return np.zeros(stats.shape, dtype=bool)
    r, a = SELECTION_RELATIVE_TOLERANCE, SELECTION_ABSOLUTE_TOLERANCE
    s_k = -np.partition(-stats, k - 1, axis=0)[k - 1]
    return np.asarray(stats >= (s_k * (1 - r) - 2 * a) / (1 + r))


def select_dosage_variants(
    vcf: str | Path,
    samples: list[str],
    *,
    min_maf: float,
    min_call_rate: float,
    male: np.ndarray | None = None,
    exclude: set[tuple] | None = None,
    chunk_size: int = 20000,
    labels: np.ndarray | None = None,
    n_folds: int | None = None,
    seed: int | None = None,
    keep_per_fold: int | None = None,
    min_info: float | None = None,
    info_key: str = "R2",
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, dict[str, int]]:
    """Stream the cohort VCF and keep SNV/indel ALT alleles that pass MAF and call rate.

    With ``min_info``, a variant whose imputation quality (INFO ``info_key``,
    e.g. R2) is below it is never read, so it is never a feature, nor in
    ``allele_freqs``; their number is ``counts["below_min_info"]``.

    The allele frequency is AC / AN over called alleles, each call counted by
    its ploidy (:meth:`genorisk.genotypes.DosageChunk.alt_allele_frequency`):
    a haploid chrY or MT ``1`` is one ALT allele out of one, so the frequency
    equals :func:`genorisk.qc.run_qc`'s ``alt_af`` on the same file, whatever
    the ploidy (a mean dosage / 2 would halve it on chrY and MT).

    Only SNV and indel alleles (REF and ALT spelled in ``ACGTN``) can be
    dosage features: symbolic alleles (``<DEL>``, ``<NON_REF>``...),
    breakends and the spanning deletion ``*`` stay in the VCF (and in
    ``allele_freqs``) but are excluded here and counted.

    With ``labels``, only the alleles that training's in-fold rankings can
    select are returned (see Notes), so memory stays flat in the number of
    passing alleles.

    Parameters
    ----------
    vcf : path
        Cohort VCF/BCF (validated beforehand).
    samples : list of str
        Cohort samples, in the order of the phenotype table.
    min_maf : float
        Minimum minor-allele frequency among called genotypes.
    min_call_rate : float
        Minimum fraction of samples with a called genotype.
    male : array of bool, optional
        Aligned with ``samples``; see :mod:`genorisk.genotypes` for chrX.
    exclude : set of (chrom, pos, ref, alt), optional
        Alleles that failed QC; never dosage features.
    chunk_size : int
        ALT rows read per chunk; memory is bounded by the chunk plus the
        kept columns.
    labels : array of 0/1, optional
        Training outcomes aligned with ``samples``; NaN = no outcome for this
        trait (in no ranking; every sample still counts in the filters and
        allele frequencies). The labelled samples, in order, are the training
        matrix's rows. Turns on in-fold selection.
    n_folds, seed, keep_per_fold : int, optional
        With ``labels``: ``ModelConfig.n_folds``, ``ModelConfig.seed`` and
        ``ModelConfig.max_dosage_features``.

    Returns
    -------
    variants : DataFrame
        chrom, pos, ref, alt, cohort_af, call_rate of kept alleles, file order.
    dosages : ndarray
        float32, (n_samples, n_kept), NaN for missing calls.
    allele_freqs : DataFrame
        chrom, pos, ref, alt, af of every ALT allele in the file (the cohort
        frequencies that impute a missing call in a patient's scores; 0 where
        no sample has a call).
    counts : dict of str to int
        ``alt_alleles`` (ALT rows scanned), ``symbolic`` (``<...>`` alleles
        and breakends), ``spanning_deletion`` (``*``), ``other_non_acgtn``
        (other REF/ALT spellings), ``excluded_by_qc``, ``below_min_call_rate``,
        ``below_min_maf`` (each counted under its first failing reason, in
        this order) and ``kept`` (before duplicates are dropped),
        ``duplicates``. With ``labels`` also ``passed_filters`` (distinct
        alleles that passed, the columns returned without labels) and
        ``selected_in_folds`` (the columns returned).

    Raises
    ------
    InputError
        No allele passes; with ``labels``: labels not 0/1 or misaligned, fewer
        than 2 cases or controls, or passing alleles out of genome order (the
        normalised cohort is sorted; duplicates are found within a position).

    Notes
    -----
    In-fold selection. Without ``labels`` every passing allele is returned as
    a column. With ``labels`` (and ``n_folds``, ``seed``, ``keep_per_fold``), only the
    alleles that training can select are: training
    (:func:`genorisk.model.train.train_model`) ranks the dosage columns by
    the trend statistic over each outer fold's training rows, and over all
    rows for the final model, and uses at most the first
    ``max_dosage_features`` of each ranking. The same statistics are computed
    here from each chunk (:func:`genorisk.model.fold_stats.block_fold_sums`,
    on the same float32 dosages, for the folds of
    :func:`genorisk.model.fold_stats.outer_folds` with training's fold count
    ``min(n_folds, n_cases, n_controls)``), and a running selection keeps,
    per ranking, every allele whose statistic ``s`` is at least
    ``(s_k (1 - r) - 2 a) / (1 + r)``, ``s_k`` being the k-th largest so far
    (``k = keep_per_fold``; r, a =
    :data:`SELECTION_RELATIVE_TOLERANCE`, :data:`SELECTION_ABSOLUTE_TOLERANCE`).
    Memory is the chunk plus the kept alleles' columns, about
    ``keep_per_fold x (n_folds + 1) x n_samples`` float32 at most (more only
    if many alleles tie within the allowance at the k-th place), whatever the
    number of passing alleles.

    Exactness: training then selects exactly what it selects from all passing
    alleles. Let ``s'`` be training's statistic (centred float64 columns),
    with ``|s' - s| <= r s + a``: both are computed from the same float32
    dosages in float64 and differ only by rounding, measured at about 3e-12
    relative on hard calls, imputed dosages and missing calls.
    (1) Containment: the k alleles with the largest ``s`` all have ``s' >=
    s_k (1 - r) - a``, so training's k-th largest ``t >= s_k (1 - r) - a``;
    an allele in training's top k has ``s' >= t``, hence ``s >= (s' - a) /
    (1 + r) >= (s_k (1 - r) - 2 a) / (1 + r)``: it is kept, whatever the
    tie-breaking. The threshold only rises as alleles stream in (``s_k`` of a
    superset is larger), so an allele dropped early would be dropped at the
    end too. (2) Same order: training's statistic of a column does not depend
    on the other columns beside it (per-column sums; bitwise equal on
    permuted matrices, and the tests compare the rankings), and its ties are
    broken by column order (``argsort(kind="stable")``, then
    :func:`genorisk.model.select.top_k_columns`), which is genome order both
    in the full matrix and in the union, returned in genome order. So the
    ranking over the union is the full ranking restricted to the union; its
    first ``keep_per_fold`` entries are the same alleles, and so are its
    first ``n`` for every candidate's ``n <= keep_per_fold``. This holds for
    each outer fold and for the final model's all-rows ranking.

    The statistic of fold f uses fold f's training rows only (its test rows
    have weight 0), so the kept set for fold f does not depend on fold f's
    test labels; the union returned does (other folds and the all-rows
    ranking see them), as the dense matrix's own all-rows ranking does.
    """
    selection = None
    if labels is not None:
        if n_folds is None or seed is None or keep_per_fold is None:
            raise ValueError("labels need n_folds, seed and keep_per_fold")
        if np.shape(labels) != (len(samples),):
            raise InputError(vcf, f"labels must be one 0/1 value per sample ({len(samples)}), got {np.shape(labels)}")
        selection = InFoldSelection(labels, n_folds=n_folds, seed=seed, keep_per_fold=keep_per_fold, source=vcf)
    elif n_folds is not None or seed is not None or keep_per_fold is not None:
        raise ValueError("n_folds, seed and keep_per_fold select inside the folds, which needs labels")
    kept_frames, kept_mats, af_frames = [], [], []
    counts = dict.fromkeys(SELECTION_COUNTS, 0)
    n_seen = 0
    t0 = time.perf_counter()
    info_counts: dict[str, int] = {}
    chunks = genotypes.iter_dosage_chunks(
        vcf, samples=samples, male=male, chunk_size=chunk_size, min_info=min_info, info_key=info_key, counts=info_counts
    )
    for chunk in chunks:
        d = chunk.dosages
        keep, af, call_rate = filter_dosage_chunk(
            chunk, min_maf=min_maf, min_call_rate=min_call_rate, exclude=exclude, counts=counts
        )
        af_frames.append(chunk.variants[["chrom", "pos", "ref", "alt"]].assign(af=np.nan_to_num(af, nan=0.0)))
        n_seen += len(d)
        if keep.any():
            frame = chunk.variants.loc[keep, ["chrom", "pos", "ref", "alt"]].copy()
            frame["cohort_af"] = af[keep]
            frame["call_rate"] = call_rate[keep]
            if selection is None:
                kept_frames.append(frame)
                kept_mats.append(d[keep].T.copy())
            else:
                selection.add(frame.reset_index(drop=True), d[keep])
        if selection is None:
            log.info(
                "%d ALT alleles scanned, %d kept (%.0f/s)",
                n_seen,
                sum(len(f) for f in kept_frames),
                n_seen / max(time.perf_counter() - t0, 1e-9),
            )
        else:
            log.info(
                "%d ALT alleles scanned, %d passed, %d kept by in-fold selection (%.0f/s)",
                n_seen,
                selection.n_passed,
                selection.n_kept,
                n_seen / max(time.perf_counter() - t0, 1e-9),
            )
    log.info(
        "dosage variant selection: %d ALT alleles; not SNV/indel: %d symbolic, %d '*', %d other; "
        "%d excluded by QC, %d below min_call_rate=%g, %d below min_maf=%g; %d kept",
        counts["alt_alleles"],
        counts["symbolic"],
        counts["spanning_deletion"],
        counts["other_non_acgtn"],
        counts["excluded_by_qc"],
        counts["below_min_call_rate"],
        min_call_rate,
        counts["below_min_maf"],
        min_maf,
        counts["kept"],
    )
    if not counts["kept"]:
        raise InputError(vcf, f"no variant passes min_maf={min_maf} and min_call_rate={min_call_rate}")
    allele_freqs = pd.concat(af_frames, ignore_index=True).drop_duplicates(["chrom", "pos", "ref", "alt"])
    if min_info is not None:
        counts["below_min_info"] = info_counts.get("below_min_info", 0)
        log.info("%d variants below %s %s left out", counts["below_min_info"], info_key, min_info)
    if selection is not None:
        variants, mat = selection.result()
        counts["duplicates"] = selection.n_duplicates
        if selection.n_duplicates:
            log.warning("%d duplicate alleles dropped (first occurrence kept)", selection.n_duplicates)
        counts["passed_filters"] = selection.n_passed
        counts["selected_in_folds"] = len(variants)
        log.info(
            "in-fold selection: %d of %d passing alleles kept (top %d per ranking over %d outer folds and all rows)",
            len(variants),
            selection.n_passed,
            keep_per_fold,
            selection.n_rankings - 1,
        )
        return variants, mat, allele_freqs, counts
    variants = pd.concat(kept_frames, ignore_index=True)
    dup = variants.duplicated(["chrom", "pos", "ref", "alt"])
    counts["duplicates"] = int(dup.sum())
    if dup.any():
        log.warning("%d duplicate alleles dropped (first occurrence kept)", int(dup.sum()))
    mat = np.concatenate(kept_mats, axis=1)[:, ~dup.to_numpy()]
    return variants[~dup].reset_index(drop=True), mat, allele_freqs, counts


class InFoldSelection:
    """Running top-k selection of dosage alleles for every ranking training makes.

    The rankings are the outer folds' training rows (folds of
    :func:`genorisk.model.fold_stats.outer_folds` with training's fold count
    ``min(n_folds, n_cases, n_controls)``), then all rows (the final model).
    Feed consecutive chunks of passing alleles, in genome order, to
    :meth:`add`; :meth:`result` gives the union of the alleles each ranking
    may select (see :func:`select_dosage_variants` for why it is exact).
    Memory: one chunk plus the kept alleles' dosages and statistics.

    Parameters
    ----------
    labels : array of 0/1 or NaN, shape (n_samples,)
        Training outcomes, in the sample order of the chunks; NaN = no
        outcome for this trait (the person's dosages are read, for allele
        frequencies and other traits, but are in no ranking and no fold:
        the folds are drawn on the labelled people alone, in their order,
        as training draws them on its labelled rows).
    n_folds, seed : int
        ``ModelConfig.n_folds`` and ``ModelConfig.seed``.
    keep_per_fold : int
        ``ModelConfig.max_dosage_features``.
    source : path, optional
        The file the chunks come from, named in errors.
    keep_dosages : bool
        Keep the kept alleles' dosages (False: statistics only, for a
        genome part whose candidates are read again after the gather).

    Attributes
    ----------
    fold_of : ndarray of int16, shape (n_samples,)
        Outer fold of each sample (the fold whose test rows hold it); -1
        for an unlabelled one.
    n_rankings : int
        Outer folds + 1 (the last ranking is over all rows).
    variants : DataFrame or None
        Kept alleles, genome order (the frame rows given to :meth:`add`).
    dosages : ndarray, float32, shape (n_kept, n_samples)
        Their dosages, alleles in rows (no columns without ``keep_dosages``).
    statistics : ndarray, float64, shape (n_kept, n_rankings)
        Their trend statistics per ranking
        (:func:`genorisk.model.fold_stats.fold_trend_statistics`).
    n_passed, n_duplicates : int
        Distinct alleles added, and repeats of an earlier allele (dropped).
    """

    def __init__(
        self,
        labels: np.ndarray,
        *,
        n_folds: int,
        seed: int,
        keep_per_fold: int,
        source: str | Path | None = None,
        keep_dosages: bool = True,
    ):
        # Imported here: genorisk.model loads XGBoost, which unlabelled selection does not need.
        from genorisk.model.fold_stats import outer_folds

        y = np.asarray(labels)
        n_samples = len(y)
        if y.ndim != 1:
            raise InputError(source, f"labels must be one 0/1 value per sample, got shape {y.shape}")
        labelled = ~unlabelled_mask(y)
        if not np.isin(y[labelled], (0, 1)).all():
            bad = int(np.flatnonzero(labelled & ~np.isin(y, (0, 1)))[0])
            raise InputError(source, f"labels must be 0/1 (or NaN: unknown), got {y[bad]!r}", record=f"sample {bad}")
        if keep_per_fold < 0:
            raise ValueError(f"keep_per_fold must be >= 0, got {keep_per_fold}")
        y_known = y[labelled].astype(np.int8)
        n_labelled, n_cases = len(y_known), int(y_known.sum())
        folds = min(n_folds, n_cases, n_labelled - n_cases)  # as train_model does
        if folds < 2:
            raise InputError(source, f"in-fold selection needs 2 cases and 2 controls, got {n_cases} of {n_labelled}")
        self.fold_of = np.full(n_samples, -1, dtype=np.int16)
        self.fold_of[labelled] = outer_folds(y_known, folds, seed)
        # An unlabelled person trains no ranking (weight 0 everywhere): the sums are the labelled people's.
        train = np.column_stack([self.fold_of[:, None] != np.arange(folds)[None, :], np.ones(n_samples, dtype=bool)])
        weights = (train & labelled[:, None]).astype(np.float64)
        # [T, T*y], one column pair per ranking: the layout block_fold_sums takes.
        y_weight = np.where(labelled, y, 0).astype(np.float64)
        self.weights = np.hstack([weights, weights * y_weight[:, None]])
        self.n_rankings = folds + 1
        self.keep_per_fold = keep_per_fold
        self.source = source
        # The float64 working copy of a block stays ~32 MB, as in training's trend test.
        self.block_rows = max(1, (4 << 20) // max(n_samples, 1))
        self.variants: pd.DataFrame | None = None
        self.keep_dosages = keep_dosages
        self.dosages = np.empty((0, n_samples if keep_dosages else 0), dtype=np.float32)
        self.statistics = np.empty((0, self.n_rankings))
        self.n_passed = 0
        self.n_duplicates = 0
        self._last_site: tuple[str, int] | None = None
        self._keys_at_last_site: set[tuple] = set()
        self._finished_contigs: set[str] = set()

    @property
    def n_kept(self) -> int:
        """Alleles kept so far."""
        return len(self.statistics)

    def statistics_of(self, dosages: np.ndarray) -> np.ndarray:
        """Trend statistic of each allele for each ranking.

        Parameters
        ----------
        dosages : ndarray, shape (m, n_samples)
            Alleles in rows; NaN = missing (mean-imputed over each ranking's
            rows, as training does).

        Returns
        -------
        ndarray, float64, shape (m, n_rankings)
        """
        from genorisk.model.fold_stats import FoldStats, block_fold_sums, fold_trend_statistics

        r = self.n_rankings
        parts = [
            block_fold_sums(dosages[lo : lo + self.block_rows], self.weights)
            for lo in range(0, len(dosages), self.block_rows)
        ]
        if not parts:
            return np.empty((0, r))
        n_obs, sx, sxx, sy, sxy = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
        totals = self.weights.sum(axis=0)
        stats = FoldStats(np.arange(len(dosages)), n_obs, sx, sxx, sy, sxy, n_train=totals[:r], sy_train=totals[r:])
        return fold_trend_statistics(stats)

    def first_occurrences(self, frame: pd.DataFrame) -> np.ndarray:
        """Mask of the alleles that do not repeat an earlier one; refuses alleles out of genome order.

        In sorted input a repeated (chrom, pos, ref, alt) lies at the same site
        as its first occurrence, so only the last site's alleles are remembered
        (memory flat in the number of alleles, unlike a set of every key).

        Parameters
        ----------
        frame : DataFrame
            ``chrom``, ``pos``, ``ref``, ``alt`` of the next alleles.

        Returns
        -------
        ndarray of bool, shape (len(frame),)
        """
        if not len(frame):
            return np.ones(0, dtype=bool)
        chrom = frame["chrom"].astype(str).to_numpy()
        pos = frame["pos"].to_numpy(dtype=np.int64)
        prev_chrom = np.concatenate([[self._last_site[0] if self._last_site else None], chrom[:-1]])
        prev_pos = np.concatenate([[self._last_site[1] if self._last_site else -1], pos[:-1]])
        new_contig = chrom != prev_chrom
        backwards = ~new_contig & (pos < prev_pos)
        if backwards.any():
            at = int(np.flatnonzero(backwards)[0])
            raise InputError(
                self.source,
                f"in-fold dosage selection needs sorted input (normalise the VCF first): position {pos[at]} "
                f"after {prev_pos[at]}",
                record=f"{chrom[at]}:{pos[at]}",
            )
        starts = list(chrom[new_contig])
        again = [c for i, c in enumerate(starts) if c in self._finished_contigs or c in starts[:i]]
        if again:
            raise InputError(
                self.source,
                f"in-fold dosage selection needs sorted input (normalise the VCF first): contig {again[0]} "
                "appears in two separate runs of records",
            )
        keys = list(zip(chrom, pos.tolist(), frame["ref"], frame["alt"], strict=True))
        first = ~frame.duplicated(["chrom", "pos", "ref", "alt"]).to_numpy()
        if self._last_site is not None:
            at_last = (chrom == self._last_site[0]) & (pos == self._last_site[1])
            first &= ~np.array([a and k in self._keys_at_last_site for a, k in zip(at_last, keys, strict=True)])
            if self._last_site[0] != chrom[-1]:
                self._finished_contigs.add(self._last_site[0])
        self._finished_contigs.update(starts[:-1])
        last = (str(chrom[-1]), int(pos[-1]))
        if last != self._last_site:
            self._keys_at_last_site = set()
        self._keys_at_last_site.update(k for k in keys if (k[0], k[1]) == last)
        self._last_site = last
        return first

    def add(self, frame: pd.DataFrame, dosages: np.ndarray) -> None:
        """Add the next passing alleles and drop those no ranking can select any more.

        Parameters
        ----------
        frame : DataFrame
            One row per allele, with ``chrom``, ``pos``, ``ref``, ``alt``
            (other columns are kept along), continuing genome order.
        dosages : ndarray, float32, shape (len(frame), n_samples)
            Their dosages, NaN = missing.
        """
        first = self.first_occurrences(frame)
        self.n_duplicates += int((~first).sum())
        if not first.all():
            frame, dosages = frame[first], dosages[first]
        self.n_passed += len(frame)
        if not len(frame):
            return
        stats = np.concatenate([self.statistics, self.statistics_of(dosages)])
        keep = self.keep_mask(stats)
        old, new = keep[: self.n_kept], keep[self.n_kept :]
        if self.keep_dosages:
            self.dosages = np.concatenate([self.dosages[old], dosages[new]])
        self.statistics = stats[keep]
        kept = frame[new] if self.variants is None else pd.concat([self.variants[old], frame[new]])
        self.variants = kept.reset_index(drop=True)

    def selected_by_ranking(self, stats: np.ndarray | None = None) -> np.ndarray:
        """:func:`within_allowance_of_top_k` of ``stats`` (default: the kept alleles' statistics)."""
        return within_allowance_of_top_k(self.statistics if stats is None else stats, self.keep_per_fold)

    def keep_mask(self, stats: np.ndarray) -> np.ndarray:
        """Alleles that some ranking keeps (:meth:`selected_by_ranking`)."""
        return np.asarray(self.selected_by_ranking(stats).any(axis=1))

    def result(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Kept alleles in genome order, and their dosages as (n_samples, n_kept) float32."""
        if self.variants is None:
            raise ValueError("no allele was added")
        return self.variants, np.ascontiguousarray(self.dosages.T)
