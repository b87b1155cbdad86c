"""Polygenic scores from PGS Catalog or user weight files, matched like pgsc_calc, summed like plink2.

Three steps:

1. :func:`read_scoring_file` reads a PGS Catalog scoring file (format 2.0,
   harmonized ``hm_chr``/``hm_pos``/``hm_inferOtherAllele`` or author-reported,
   plain or gzipped, ``#key=value`` header) or a user weight file with the
   same column names (tab- or space-delimited).
2. Variants are matched to the target VCF in pgsc_calc's manner, with a
   per-variant audit: match types, best first, ``refalt`` (effect allele =
   REF, other = ALT), ``altref``, ``refalt_flip``, ``altref_flip`` (alleles
   on the other strand), then, when the score gives no other allele,
   ``no_oa_ref``, ``no_oa_alt``, ``no_oa_ref_flip``, ``no_oa_alt_flip``.
   Unmatched variants get a reason: ``not in target``, ``strand-ambiguous
   dropped`` (A/T or C/G SNP, unless ``keep_ambiguous``), ``multiallelic
   dropped`` (unless ``keep_multiallelic``), ``duplicate`` (two target records
   match equally well, or two score rows claim the same target allele) or
   ``allele mismatch``. A score whose match rate is below ``min_match_rate``
   fails with an :class:`~genorisk.errors.InputError` giving the counts per
   reason.
3. :func:`compute_scores` sums ``weight x effect-allele dosage`` per sample
   for every score in one pass over the VCF (:mod:`genorisk.genotypes`).

Conventions (chosen to agree with ``plink2 --score ... cols=+scoresums``):

* Effect-allele dosage: copies of the ALT allele it matched, or, for a REF
  effect allele, ``2 - (copies of all ALTs)``. Male haploid chrX calls are
  coded 0/2 when ``male`` is given (plink2's ``--xchr-model 2`` default).
* Missing calls (``missing="mean"``, plink2's default): a missing sample gets
  the mean contribution of the called samples at that variant, i.e. weight x
  2 x effect-allele frequency in the target for additive weights. plink2
  computes the same frequency. ``missing="zero"`` adds nothing (plink2
  ``no-mean-imputation`` sums).
* ``is_dominant``: dosage min(e, 1); ``is_recessive``: max(e - 1, 0);
  ``dosage_0/1/2_weight``: the weight of the (rounded) effect dosage.
* Positions: harmonized ``hm_chr``/``hm_pos`` when the file has them, else
  ``chr_name``/``chr_position``; chromosome names match with or without
  ``chr``. Rows without a position but with an rsID match the target's ID
  column (the first record with that ID).
* Complex alleles (HLA haplotypes, ``is_haplotype``/``is_diplotype`` true, or an
  effect allele that is not a DNA sequence) are skipped, counted in
  :attr:`ScoringFile.n_complex_skipped` and logged.

The match is resolved per (chrom, pos) group, which assumes the VCF is sorted
(the records of one position are adjacent); a position seen again later is
refused with an InputError rather than scored twice.
"""

from __future__ import annotations

import gzip
import logging
import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genotypes import X_CHROMOSOMES, DosageChunk, iter_dosage_chunks, normalize_chrom

log = logging.getLogger("genorisk.scores")

#: Match types, best first (pgsc_calc's order, then the no-other-allele types).
MATCH_TYPES = (
    "refalt", "altref", "refalt_flip", "altref_flip",
    "no_oa_ref", "no_oa_alt", "no_oa_ref_flip", "no_oa_alt_flip",
)
#: Reasons a score variant is not used.
UNMATCHED_REASONS = (
    "not in target", "strand-ambiguous dropped", "multiallelic dropped", "duplicate", "allele mismatch",
)

_DNA = re.compile(r"^[ACGT]+$")
_COMPLEMENT = str.maketrans("ACGT", "TGCA")
_DOSAGE_WEIGHTS = ("dosage_0_weight", "dosage_1_weight", "dosage_2_weight")


@dataclass
class ScoringFile:
    """A parsed scoring file.

    Attributes
    ----------
    path : Path
    score_id : str
        ``#pgs_id`` from the header, else the file name without suffixes.
    header : dict
        ``#key=value`` header lines.
    variants : pandas.DataFrame
        One row per usable variant: ``line`` (1-based line in the file),
        ``chrom`` (normalised, ``None`` if absent), ``pos`` (Int64, NA if
        absent), ``rsid``, ``effect_allele``, ``other_allele`` (``None`` if
        absent), ``effect_weight``, ``is_dominant``, ``is_recessive``,
        ``dosage_0_weight``, ``dosage_1_weight``, ``dosage_2_weight`` (NaN
        for additive rows).
    n_complex_skipped : int
        Rows with complex (non-sequence) alleles, skipped.
    """

    path: Path
    score_id: str
    header: dict[str, str]
    variants: pd.DataFrame
    n_complex_skipped: int = 0


def _open_text(path: Path):
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="utf-8", newline="") if gz else open(path, encoding="utf-8", newline="")


def _flag(value: str, path: Path, line: int, col: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "t", "yes"):
        return True
    if v in ("false", "0", "f", "no", ""):
        return False
    raise InputError(path, f"{col} {value!r} is not True/False", record=f"line {line}")


def read_scoring_file(path: str | PathLike) -> ScoringFile:
    """Read a PGS Catalog scoring file or a user weight file.

    Parameters
    ----------
    path : str or PathLike
        Tab- or whitespace-delimited text, plain or gzipped.

    Returns
    -------
    ScoringFile

    Raises
    ------
    InputError
        Missing mandatory columns, a row without effect allele or weight, a
        non-numeric weight or position, a row with neither a position nor an
        rsID (e.g. failed harmonisation: ``hm_chr``/``hm_pos`` empty), or no
        usable variant at all. The message names the file, the line and the
        problem.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    header: dict[str, str] = {}
    rows: list[dict] = []
    n_complex = 0
    columns: list[str] | None = None
    split = None
    try:
        fh = _open_text(path)
        with fh:
            for line_no, raw in enumerate(fh, start=1):
                line = raw.rstrip("\r\n")
                if line.startswith("#"):
                    body = line.lstrip("#").rstrip("\t ")
                    if "=" in body and columns is None:
                        key, _, value = body.partition("=")
                        header[key.strip()] = value.strip()
                    continue
                if not line.strip():
                    continue
                if columns is None:
                    tabbed = "\t" in line
                    split = (lambda s: s.split("\t")) if tabbed else (lambda s: s.split())
                    columns = [c.strip() for c in split(line)]
                    _check_columns(path, columns, line_no)
                    continue
                values = split(line)
                if len(values) < len(columns):
                    values += [""] * (len(columns) - len(values))
                rec = dict(zip(columns, (v.strip() for v in values)))
                parsed = _parse_row(path, rec, line_no)
                if parsed is None:
                    n_complex += 1
                    continue
                rows.append(parsed)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc})") from exc
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(path, f"cannot read ({exc})") from exc
    if columns is None:
        raise InputError(path, "no column header line (effect_allele, effect_weight, ...)")
    if not rows:
        raise InputError(path, "no usable variants", record=f"lines 1-{line_no}")
    score_id = header.get("pgs_id") or path.name.split(".")[0]
    variants = pd.DataFrame(rows)
    variants["pos"] = variants["pos"].astype("Int64")
    if n_complex:
        log.warning("%s: skipped %d variants with complex alleles (HLA haplotypes etc.)", path.name, n_complex)
    return ScoringFile(path, score_id, header, variants, n_complex)


def _check_columns(path: Path, columns: list[str], line_no: int) -> None:
    if "effect_allele" not in columns:
        raise InputError(path, "column header lacks effect_allele", record=f"line {line_no}")
    has_dosage = all(c in columns for c in _DOSAGE_WEIGHTS)
    if "effect_weight" not in columns and not has_dosage:
        raise InputError(path, "column header lacks effect_weight (or dosage_0/1/2_weight)", record=f"line {line_no}")
    if not ({"chr_name", "chr_position"} <= set(columns) or {"hm_chr", "hm_pos"} <= set(columns)
            or "rsID" in columns or "hm_rsID" in columns):
        raise InputError(path, "column header has no positions (chr_name/chr_position, hm_chr/hm_pos) and no rsID",
                         record=f"line {line_no}")


def _parse_row(path: Path, rec: dict[str, str], line_no: int) -> dict | None:
    where = f"line {line_no}"
    effect = rec.get("effect_allele", "").upper()
    if _flag(rec.get("is_haplotype", ""), path, line_no, "is_haplotype") or \
            _flag(rec.get("is_diplotype", ""), path, line_no, "is_diplotype"):
        return None
    if not effect:
        raise InputError(path, "effect_allele is empty", record=where)
    if not _DNA.match(effect):
        return None  # complex allele, e.g. "HLA-DRB1*15"
    other = rec.get("other_allele", "").upper() or rec.get("hm_inferOtherAllele", "").upper()
    if other and not _DNA.match(other):
        # hm_inferOtherAllele can list several candidates ("A/G"); not usable as one allele.
        other = ""
    harmonized = "hm_chr" in rec or "hm_pos" in rec
    chrom_s, pos_s = (rec.get("hm_chr", ""), rec.get("hm_pos", "")) if harmonized else (
        rec.get("chr_name", ""), rec.get("chr_position", ""))
    rsid = rec.get("hm_rsID", "") or rec.get("rsID", "")
    rsid = "" if rsid == "." else rsid
    if chrom_s and pos_s:
        try:
            pos = int(float(pos_s)) if pos_s.replace(".", "", 1).isdigit() else int(pos_s)
        except ValueError:
            raise InputError(path, f"position {pos_s!r} is not an integer", record=where) from None
        chrom = normalize_chrom(chrom_s)
    elif rsid:
        chrom, pos = None, None
    else:
        what = ("hm_chr/hm_pos empty (harmonisation failed)" if harmonized
                else "no chr_name/chr_position")
        raise InputError(path, f"variant has no position ({what}) and no rsID", record=where)
    out = {
        "line": line_no, "chrom": chrom, "pos": pos, "rsid": rsid or None,
        "effect_allele": effect, "other_allele": other or None,
        "is_dominant": _flag(rec.get("is_dominant", ""), path, line_no, "is_dominant"),
        "is_recessive": _flag(rec.get("is_recessive", ""), path, line_no, "is_recessive"),
    }
    if out["is_dominant"] and out["is_recessive"]:
        raise InputError(path, "is_dominant and is_recessive are both True", record=where)
    dosage_given = all(rec.get(c, "") != "" for c in _DOSAGE_WEIGHTS)
    try:
        if dosage_given:
            for c in _DOSAGE_WEIGHTS:
                out[c] = float(rec[c])
            out["effect_weight"] = np.nan
        else:
            w = rec.get("effect_weight", "")
            if w == "":
                raise InputError(path, "effect_weight is empty", record=where)
            out["effect_weight"] = float(w)
            for c in _DOSAGE_WEIGHTS:
                out[c] = np.nan
    except ValueError as exc:
        raise InputError(path, f"weight is not a number ({exc})", record=where) from None
    if not np.isfinite(out["effect_weight"]) and not dosage_given:
        raise InputError(path, f"effect_weight {out['effect_weight']} is not finite", record=where)
    return out


# --------------------------------------------------------------- matching

def _complement(a: str) -> str:
    return a.translate(_COMPLEMENT)


def _is_ambiguous(ref: str, alt: str) -> bool:
    return len(ref) == 1 and len(alt) == 1 and _complement(ref) == alt


def _match_type(ea: str, oa: str | None, ref: str, alt: str) -> str | None:
    """Best match type of score alleles (ea, oa) against a target (ref, alt), or None."""
    if oa is not None:
        if ea == ref and oa == alt:
            return "refalt"
        if ea == alt and oa == ref:
            return "altref"
        fe, fo = _complement(ea), _complement(oa)
        if fe == ref and fo == alt:
            return "refalt_flip"
        if fe == alt and fo == ref:
            return "altref_flip"
        return None
    if ea == ref:
        return "no_oa_ref"
    if ea == alt:
        return "no_oa_alt"
    fe = _complement(ea)
    if fe == ref:
        return "no_oa_ref_flip"
    if fe == alt:
        return "no_oa_alt_flip"
    return None


_RANK = {t: i for i, t in enumerate(MATCH_TYPES)}


@dataclass
class ScoreResult:
    """Output of :func:`compute_scores`.

    Attributes
    ----------
    sums : pandas.DataFrame
        Samples (index, named ``sample``) x score ids: score sums.
    audit : pandas.DataFrame
        One row per score variant: score_id, line, chrom, pos, rsid,
        effect_allele, other_allele, effect_weight, match_type (None when
        unmatched), reason (None when matched), target_chrom, target_pos,
        target_ref, target_alt.
    summary : pandas.DataFrame
        Per score id: n_variants, n_matched, match_rate, passed, and one count
        column per unmatched reason; n_complex_skipped.
    """

    sums: pd.DataFrame
    audit: pd.DataFrame
    summary: pd.DataFrame


@dataclass
class _State:
    table: pd.DataFrame  # all score rows of all files, index = global row id
    by_pos: dict = field(default_factory=dict)  # (chrom, pos) -> [row ids]
    by_id: dict = field(default_factory=dict)  # rsid -> [row ids] (rows without position)
    match_type: list = field(default_factory=list)
    reason: list = field(default_factory=list)
    target: list = field(default_factory=list)
    done_positions: set = field(default_factory=set)
    effect: list = field(default_factory=list)  # effect allele per row (plain list: fast lookup)
    other: list = field(default_factory=list)


def compute_scores(
    vcf_path: str | PathLike,
    score_files: Sequence[str | PathLike | ScoringFile],
    *,
    min_match_rate: float = 0.75,
    keep_ambiguous: bool = False,
    keep_multiallelic: bool = False,
    male: np.ndarray | Sequence[bool] | None = None,
    samples: Sequence[str] | None = None,
    missing: str = "mean",
    chunk_size: int = 4096,
) -> ScoreResult:
    """Score every sample of ``vcf_path`` with several scoring files in one pass.

    Parameters
    ----------
    vcf_path : str or PathLike
        Target VCF/BCF (sorted by position).
    score_files : sequence
        Paths of scoring files, or :class:`ScoringFile` objects. Score ids must
        be distinct.
    min_match_rate : float
        A score whose matched fraction of variants is below this fails with
        :class:`InputError` (counts per unmatched reason in the message).
    keep_ambiguous : bool
        Use strand-ambiguous (A/T, C/G) SNPs, matched without strand flips.
    keep_multiallelic : bool
        Use matches at multiallelic target records.
    male : array of bool, optional
        Aligned with the samples; males' haploid chrX calls count 0/2.
    samples : sequence of str, optional
        Samples to score (default all).
    missing : {"mean", "zero"}
        Missing-dosage policy, see the module docstring.
    chunk_size : int
        VCF rows per chunk (memory: chunk_size x samples x 12 bytes).

    Returns
    -------
    ScoreResult
    """
    if missing not in ("mean", "zero"):
        raise ValueError(f"missing must be 'mean' or 'zero', got {missing!r}")
    files = [f if isinstance(f, ScoringFile) else read_scoring_file(f) for f in score_files]
    ids = [f.score_id for f in files]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate score ids: {ids}")
    frames = []
    for j, f in enumerate(files):
        t = f.variants.copy()
        t.insert(0, "score", j)
        frames.append(t)
    table = pd.concat(frames, ignore_index=True)
    n_rows = len(table)
    st = _State(table, match_type=[None] * n_rows, reason=["not in target"] * n_rows, target=[None] * n_rows)
    st.effect = table["effect_allele"].tolist()
    st.other = [None if (o is None or o != o) else o for o in table["other_allele"].tolist()]
    for r, (c, p, rs) in enumerate(zip(table["chrom"], table["pos"], table["rsid"])):
        if c is not None and p is not pd.NA:
            st.by_pos.setdefault((c, int(p)), []).append(r)
        elif rs:
            st.by_id.setdefault(rs, []).append(r)
    _mark_score_duplicates(st)

    # Per-row scoring inputs as arrays.
    score_col = table["score"].to_numpy()
    weight = table["effect_weight"].to_numpy(dtype=np.float64)
    dom = table["is_dominant"].to_numpy(dtype=bool)
    rec_ = table["is_recessive"].to_numpy(dtype=bool)
    dose_w = table[list(_DOSAGE_WEIGHTS)].to_numpy(dtype=np.float64)
    nonadd = ~np.isnan(dose_w).any(axis=1)

    male_arr = None if male is None else np.asarray(male, dtype=bool)
    sums = None
    names: list[str] = []
    carry: DosageChunk | None = None
    for chunk in iter_dosage_chunks(vcf_path, samples=samples, chunk_size=chunk_size, male=male):
        names = chunk.samples
        if sums is None:
            sums = np.zeros((len(names), len(files)), dtype=np.float64)
        chunk = _join(carry, chunk)
        # Hold back the last position: its other records may be in the next chunk.
        last = _last_position_start(chunk.variants)
        carry = _slice(chunk, last, None)
        _score_chunk(_slice(chunk, 0, last), st, vcf_path, sums, score_col, weight, dom, rec_, dose_w, nonadd,
                     keep_ambiguous, keep_multiallelic, missing, male_arr)
    if carry is not None and len(carry.variants):
        _score_chunk(carry, st, vcf_path, sums, score_col, weight, dom, rec_, dose_w, nonadd,
                     keep_ambiguous, keep_multiallelic, missing, male_arr)
    if sums is None:
        sums = np.zeros((0, len(files)))
        names = []

    audit = _audit_frame(files, st)
    summary = _summary(files, audit, min_match_rate)
    result = ScoreResult(
        pd.DataFrame(sums, index=pd.Index(names, name="sample"), columns=ids), audit, summary
    )
    failed = summary[~summary["passed"]]
    if len(failed):
        msgs = []
        for sid, row in failed.iterrows():
            why = ", ".join(f"{int(row[r])} {r}" for r in UNMATCHED_REASONS if row[r])
            msgs.append(f"{sid}: {int(row['n_matched'])} of {int(row['n_variants'])} variants matched "
                        f"({row['match_rate']:.1%} < {min_match_rate:.0%}); unmatched: {why}")
        path = files[ids.index(failed.index[0])].path
        err = InputError(path, "; ".join(msgs), record="match rate")
        err.result = result  # the audit stays available to the caller
        raise err
    for sid, row in summary.iterrows():
        log.info("%s: %d of %d variants matched (%.1f%%)", sid, row["n_matched"], row["n_variants"],
                 100 * row["match_rate"])
    return result


def _mark_score_duplicates(st: _State) -> None:
    """Two rows of one score with the same position and effect allele: both unusable."""
    t = st.table
    key = t["score"].astype(str) + ":" + t["chrom"].astype(str) + ":" + t["pos"].astype(str) + ":" + \
        t["effect_allele"] + ":" + t["other_allele"].astype(str)
    dup = key.duplicated(keep=False) & t["pos"].notna()
    for r in np.flatnonzero(dup.to_numpy()):
        st.reason[r] = "duplicate"
        st.match_type[r] = "__dup__"  # sentinel: never matched


def _last_position_start(v: pd.DataFrame) -> int:
    if not len(v):
        return 0
    chrom = v["chrom"].to_numpy()
    pos = v["pos"].to_numpy()
    i = len(v) - 1
    while i > 0 and chrom[i - 1] == chrom[-1] and pos[i - 1] == pos[-1]:
        i -= 1
    return i


def _slice(chunk: DosageChunk, a: int, b: int | None) -> DosageChunk:
    return DosageChunk(chunk.variants.iloc[a:b].reset_index(drop=True), chunk.dosages[a:b], chunk.samples)


def _join(carry: DosageChunk | None, chunk: DosageChunk) -> DosageChunk:
    if carry is None or not len(carry.variants):
        return chunk
    return DosageChunk(
        pd.concat([carry.variants, chunk.variants], ignore_index=True),
        np.concatenate([carry.dosages, chunk.dosages]),
        chunk.samples,
    )


def _score_chunk(chunk, st, vcf_path, sums, score_col, weight, dom, rec_, dose_w, nonadd,
                 keep_ambiguous, keep_multiallelic, missing, male) -> None:
    v = chunk.variants
    n = len(v)
    if n == 0:
        return
    chrom = [normalize_chrom(c) for c in v["chrom"].tolist()]
    pos = v["pos"].tolist()
    ref = v["ref"].tolist()
    alt = v["alt"].tolist()
    vid = v["id"].tolist()
    n_alt = v["n_alt"].to_numpy()
    allele_index = v["allele_index"].to_numpy()

    # Candidates: score rows at the same position, grouped per position.
    cand: dict[int, list[tuple[int, str, int]]] = {}  # score row -> [(rank, type, target row)]
    seen_rows: dict[int, set] = {}
    positions_here = set()
    for t in range(n):
        key = (chrom[t], pos[t])
        rows = st.by_pos.get(key)
        id_rows = st.by_id.get(vid[t]) if vid[t] else None
        if rows is None and id_rows is None:
            continue
        if rows is not None and key not in positions_here:
            if key in st.done_positions:
                raise InputError(vcf_path, "records of this position are not adjacent (VCF not sorted?); "
                                           "cannot match scores in one pass", record=f"{v['chrom'].iat[t]}:{pos[t]}")
            positions_here.add(key)
        for r in (rows or []) + (id_rows or []):
            if st.match_type[r] is not None:
                continue  # duplicate sentinel, or an rsID row matched earlier
            ea, oa = st.effect[r], st.other[r]
            mt = _match_type(ea, oa, ref[t], alt[t])
            s = seen_rows.setdefault(r, set())
            if mt is None:
                s.add("allele mismatch")
                continue
            if n_alt[t] > 1 and not keep_multiallelic:
                s.add("multiallelic dropped")
                continue
            if _is_ambiguous(ref[t], alt[t]):
                if not keep_ambiguous:
                    s.add("strand-ambiguous dropped")
                    continue
                if mt.endswith("_flip"):
                    s.add("allele mismatch")  # ambiguous SNPs are never flipped
                    continue
            cand.setdefault(r, []).append((_RANK[mt], mt, t))
    st.done_positions |= positions_here

    # Resolve: best match type per score row. A REF effect allele names a
    # record (all its ALT rows), an ALT effect allele names one row; more than
    # one equally good record or row (duplicated target records) -> duplicate.
    rec_of_row = np.cumsum(allele_index == 1) - 1
    chosen: dict[int, tuple[str, int]] = {}
    for r, lst in cand.items():
        lst.sort()
        best = [c for c in lst if c[0] == lst[0][0]]
        ref_effect = _is_ref_effect(best[0][1])
        targets = {(int(rec_of_row[c[2]]) if ref_effect else c[2]) for c in best}
        if len(targets) > 1:
            st.reason[r] = "duplicate"
            st.match_type[r] = "__dup__"
            continue
        chosen[r] = (best[0][1], best[0][2])
    # Two score rows of one score on the same target allele: both duplicates.
    claimed: dict[tuple, list[int]] = {}
    for r, (mt, t) in chosen.items():
        allele = ("ref", int(rec_of_row[t])) if _is_ref_effect(mt) else ("alt", t)
        claimed.setdefault((int(score_col[r]), allele), []).append(r)
    for rows in claimed.values():
        if len(rows) > 1:
            for r in rows:
                chosen.pop(r)
                st.reason[r] = "duplicate"
                st.match_type[r] = "__dup__"
    for r, s in seen_rows.items():
        if r not in chosen and st.match_type[r] is None:
            for reason in ("multiallelic dropped", "strand-ambiguous dropped", "allele mismatch"):
                if reason in s:
                    st.reason[r] = reason
                    break
    if not chosen:
        return

    # Effect-allele dosages of the chosen pairs.
    d = chunk.dosages
    rec_start = np.flatnonzero(allele_index == 1)
    if len(rec_start) and rec_start[0] != 0:
        # The chunk starts inside a record (never after the position carry).
        raise AssertionError("chunk does not start at a record boundary")
    rows_r = np.fromiter(chosen.keys(), dtype=np.int64)
    mts = [chosen[r][0] for r in rows_r]
    ts = np.array([chosen[r][1] for r in rows_r], dtype=np.int64)
    is_ref_effect = np.array([_is_ref_effect(m) for m in mts])
    e = d[ts].astype(np.float64)
    if is_ref_effect.any():
        multi = n_alt[ts] > 1
        alt_total = e.copy()
        if multi.any():
            all_alt = np.add.reduceat(d.astype(np.float64), rec_start, axis=0)
            alt_total[multi] = all_alt[rec_of_row[ts[multi]]]
        e[is_ref_effect] = 2.0 - alt_total[is_ref_effect]
    if male is not None and missing == "mean":
        # plink2 imputes from the allele frequency, where a male's chrX call is
        # one allele (coded 0/2 here): f = (sum_female e + sum_male e/2) /
        # (2 n_female + n_male), and a missing call of either sex gets 2f.
        raw_chrom = v["chrom"].tolist()
        on_x = np.array([raw_chrom[t] in X_CHROMOSOMES for t in ts.tolist()])
        if on_x.any():
            ex = e[on_x]
            called = ~np.isnan(ex)
            per_sample_alleles = np.where(male, 1.0, 2.0)
            allele_count = np.where(called, np.where(male, ex / 2, ex), 0.0).sum(axis=1)
            n_alleles = (called * per_sample_alleles).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                two_f = 2 * allele_count / n_alleles
            e[on_x] = np.where(called, ex, two_f[:, None])
    e[dom[rows_r]] = np.minimum(e[dom[rows_r]], 1.0)
    e[rec_[rows_r]] = np.maximum(e[rec_[rows_r]] - 1.0, 0.0)
    contrib = e * weight[rows_r, None]
    na = nonadd[rows_r]
    if na.any():
        k = np.rint(e[na])
        w3 = dose_w[rows_r[na]]
        c = np.where(k == 0, w3[:, [0]], np.where(k == 1, w3[:, [1]], w3[:, [2]]))
        c[np.isnan(e[na])] = np.nan
        contrib[na] = c
    miss = np.isnan(contrib)
    if miss.any():
        if missing == "mean":
            with np.errstate(invalid="ignore"):
                fill = np.nanmean(np.where(miss.all(axis=1, keepdims=True), 0.0, contrib), axis=1)
            contrib = np.where(miss, fill[:, None], contrib)
        else:
            contrib = np.where(miss, 0.0, contrib)
    onehot = np.zeros((len(rows_r), sums.shape[1]), dtype=np.float64)
    onehot[np.arange(len(rows_r)), score_col[rows_r]] = 1.0
    sums += contrib.T @ onehot
    raw_chrom = v["chrom"].tolist()
    for r, mt, t in zip(rows_r.tolist(), mts, ts.tolist()):
        st.match_type[r] = mt
        st.reason[r] = None
        st.target[r] = (raw_chrom[t], pos[t], ref[t], alt[t])


def _is_ref_effect(match_type: str) -> bool:
    return match_type.startswith("refalt") or match_type.startswith("no_oa_ref")


def _audit_frame(files: list[ScoringFile], st: _State) -> pd.DataFrame:
    t = st.table
    mt = [None if m == "__dup__" else m for m in st.match_type]
    target = [x or (None, None, None, None) for x in st.target]
    audit = pd.DataFrame({
        "score_id": [files[j].score_id for j in t["score"]],
        "line": t["line"].to_numpy(),
        "chrom": t["chrom"], "pos": t["pos"], "rsid": t["rsid"],
        "effect_allele": t["effect_allele"], "other_allele": t["other_allele"],
        "effect_weight": t["effect_weight"],
        "match_type": mt, "reason": st.reason,
        "target_chrom": [x[0] for x in target],
        "target_pos": pd.array([x[1] for x in target], dtype="Int64"),
        "target_ref": [x[2] for x in target], "target_alt": [x[3] for x in target],
    })
    return audit


def _summary(files: list[ScoringFile], audit: pd.DataFrame, min_match_rate: float) -> pd.DataFrame:
    rows = []
    for f in files:
        a = audit[audit["score_id"] == f.score_id]
        n_matched = int(a["match_type"].notna().sum())
        row = {"score_id": f.score_id, "n_variants": len(a), "n_matched": n_matched,
               "match_rate": n_matched / len(a) if len(a) else 0.0}
        counts = a["reason"].value_counts()
        for r in UNMATCHED_REASONS:
            row[r] = int(counts.get(r, 0))
        row["n_complex_skipped"] = f.n_complex_skipped
        row["passed"] = row["match_rate"] >= min_match_rate
        rows.append(row)
    return pd.DataFrame(rows).set_index("score_id")
