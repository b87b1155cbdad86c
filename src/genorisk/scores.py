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

import csv
import gzip
import io
import logging
import re
from dataclasses import dataclass
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
        One row per usable variant, columns :data:`SCORE_VARIANT_COLUMNS`:
        ``line`` (1-based line in the file), ``chrom`` (str, normalised, NA if
        absent), ``pos`` (Int64, NA if absent), ``rsid`` (str, NA if absent),
        ``effect_allele`` (str), ``other_allele`` (str, NA if absent),
        ``effect_weight`` (NaN for rows with dosage weights),
        ``is_dominant``, ``is_recessive`` (bool), ``dosage_0_weight``,
        ``dosage_1_weight``, ``dosage_2_weight`` (NaN for additive rows).
    n_complex_skipped : int
        Rows with complex (non-sequence) alleles, skipped.
    """

    path: Path
    score_id: str
    header: dict[str, str]
    variants: pd.DataFrame
    n_complex_skipped: int = 0


def _read_text(path: Path) -> str:
    """The whole file as text (gzip or plain) with ``\\n`` line ends."""
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    # Universal newlines, as text-mode reading gives: \r\n, \r and \n end lines.
    return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _flag(value: str, path: Path, line: int, col: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise InputError(path, f"{col} {value!r} is not True/False", record=f"line {line}")


_TRUE = frozenset({"true", "1", "t", "yes"})
_FALSE = frozenset({"false", "0", "f", "no", ""})
#: Columns of :attr:`ScoringFile.variants`, in order.
SCORE_VARIANT_COLUMNS = (
    "line", "chrom", "pos", "rsid", "effect_allele", "other_allele", "effect_weight",
    "is_dominant", "is_recessive", *_DOSAGE_WEIGHTS,
)


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

    Notes
    -----
    Well-formed files are parsed column-wise (one ``split`` per line, then
    list and pandas operations per column). A file with anything unusual -
    ragged rows, comment or blank lines among the variants, a flag or number
    that needs checking - is parsed row by row by :func:`_parse_row`, which
    defines the rules and words the errors; both give the same table.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    try:
        text = _read_text(path)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc})") from exc
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(path, f"cannot read ({exc})") from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the file's final newline
    header: dict[str, str] = {}
    columns: list[str] | None = None
    tabbed = True
    i_header = len(lines)
    for i, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        if line.startswith("#"):
            body = line.lstrip("#").rstrip("\t ")
            if "=" in body:
                key, _, value = body.partition("=")
                header[key.strip()] = value.strip()
            continue
        if not line.strip():
            continue
        tabbed = "\t" in line
        columns = [c.strip() for c in (line.split("\t") if tabbed else line.split())]
        _check_columns(path, columns, i + 1)
        i_header = i
        break
    if columns is None:
        raise InputError(path, "no column header line (effect_allele, effect_weight, ...)")
    body = lines[i_header + 1 :]
    first_line_no = i_header + 2
    parsed = _parse_body_columns(columns, body, tabbed, first_line_no)
    if parsed is None:
        parsed = _parse_body_rows(path, columns, body, tabbed, first_line_no)
    variants, n_complex = parsed
    if not len(variants):
        raise InputError(path, "no usable variants", record=f"lines 1-{len(lines)}")
    score_id = header.get("pgs_id") or path.name.split(".")[0]
    if n_complex:
        log.warning("%s: skipped %d variants with complex alleles (HLA haplotypes etc.)", path.name, n_complex)
    return ScoringFile(path, score_id, header, variants, n_complex)


def _variants_table(cols: dict[str, list]) -> pd.DataFrame:
    """The :attr:`ScoringFile.variants` table from per-column lists (None = absent)."""
    return pd.DataFrame({
        "line": np.asarray(cols["line"], dtype=np.int64),
        "chrom": pd.array(cols["chrom"], dtype="str"),
        "pos": pd.array(cols["pos"], dtype="Int64"),
        "rsid": pd.array(cols["rsid"], dtype="str"),
        "effect_allele": pd.array(cols["effect_allele"], dtype="str"),
        "other_allele": pd.array(cols["other_allele"], dtype="str"),
        "effect_weight": np.asarray(cols["effect_weight"], dtype=np.float64),
        "is_dominant": np.asarray(cols["is_dominant"], dtype=bool),
        "is_recessive": np.asarray(cols["is_recessive"], dtype=bool),
        **{c: np.asarray(cols[c], dtype=np.float64) for c in _DOSAGE_WEIGHTS},
    }, columns=list(SCORE_VARIANT_COLUMNS))


def _parse_body_rows(path: Path, columns: list[str], body: list[str], tabbed: bool, first_line_no: int):
    """Row-by-row parse of the variant lines: the reference rules, and every error message."""
    cols: dict[str, list] = {c: [] for c in SCORE_VARIANT_COLUMNS}
    n_complex = 0
    for line_no, raw in enumerate(body, start=first_line_no):
        line = raw.rstrip("\r\n")
        if line.startswith("#") or not line.strip():
            continue
        values = line.split("\t") if tabbed else line.split()
        if len(values) < len(columns):
            values += [""] * (len(columns) - len(values))
        row = _parse_row(path, dict(zip(columns, (v.strip() for v in values))), line_no)
        if row is None:
            n_complex += 1
            continue
        for c in SCORE_VARIANT_COLUMNS:
            cols[c].append(row[c])
    return _variants_table(cols), n_complex


_ODD_SPACE = re.compile(r"[^\S \t]")
_PADDED = re.compile(r"\s\0|\0\s")


class _Unusual(Exception):
    """Raised inside the column-wise parser: let the row-by-row parser decide."""


def _parse_body_columns(columns: list[str], body: list[str], tabbed: bool, first_line_no: int):
    """Column-wise parse of well-formed variant lines; None when the row parser must decide.

    Gives exactly the table of :func:`_parse_body_rows` (tested on every
    scoring file in the tests), in a fraction of the time: pandas' C reader
    splits the lines, and each rule runs once per column.
    """
    if any(not line or line[0] == "#" for line in body):
        return None  # comment or blank lines among the variants: left to the row parser
    if not tabbed and any(_ODD_SPACE.search(line) for line in body):
        return None  # str.split() splits on whitespace that pandas' reader keeps
    n = len(body)
    if n:
        try:
            frame = pd.read_csv(
                io.StringIO("\n".join(body)), sep="\t" if tabbed else r"\s+", header=None, dtype=object,
                na_filter=False, quoting=csv.QUOTE_NONE, skip_blank_lines=False, index_col=False, engine="c",
            )
        except (pd.errors.ParserError, ValueError):
            return None  # e.g. more values than columns on some line
        if len(frame) != n or frame.shape[1] != len(columns):
            return None
        # Short lines come out padded with "", as the row parser pads them.
        by_name = {name: frame[k].tolist() for k, name in enumerate(columns)}
    else:
        by_name = {name: [] for name in columns}
    empty = [""] * n

    def col(name: str):
        values = by_name.get(name)
        if values is None:
            return empty
        if tabbed:  # tab-separated values may be padded; whitespace-split ones cannot be
            joined = "\0".join(values)
            if joined != joined.strip() or _PADDED.search(joined):
                values = by_name[name] = [v.strip() for v in values]
        return values

    try:
        hap = _flags(col("is_haplotype")) | _flags(col("is_diplotype"))
        effect = [e.upper() for e in col("effect_allele")]
        if any(e == "" and not h for e, h in zip(effect, hap.tolist())):
            raise _Unusual  # empty effect allele: an error
        dna = np.array([bool(_DNA.match(e)) for e in effect], dtype=bool)
        use = ~hap & dna
        keep = np.flatnonzero(use).tolist()
        pick = (lambda values: [values[i] for i in keep]) if len(keep) < n else list
        effect = pick(effect)
        other = [(o.upper() or h.upper()) for o, h in zip(pick(col("other_allele")), pick(col("hm_inferOtherAllele")))]
        other = [o if o and _DNA.match(o) else None for o in other]
        harmonized = "hm_chr" in by_name or "hm_pos" in by_name
        chrom_s = pick(col("hm_chr") if harmonized else col("chr_name"))
        pos_s = pick(col("hm_pos") if harmonized else col("chr_position"))
        rsid = [(a or b) for a, b in zip(pick(col("hm_rsID")), pick(col("rsID")))]
        rsid = [None if r in ("", ".") else r for r in rsid]
        located = [bool(c and p) for c, p in zip(chrom_s, pos_s)]
        if not all(loc or r is not None for loc, r in zip(located, rsid)):
            raise _Unusual  # neither position nor rsID: an error
        norm = {c: normalize_chrom(c) for c in set(chrom_s)}
        chrom = [norm[c] if loc else None for c, loc in zip(chrom_s, located)]
        pos = _positions(pos_s, located)
        dom = _flags(pick(col("is_dominant")))
        rec = _flags(pick(col("is_recessive")))
        if (dom & rec).any():
            raise _Unusual
        m = len(keep)
        if all(c in by_name for c in _DOSAGE_WEIGHTS):
            dose_text = [pick(col(c)) for c in _DOSAGE_WEIGHTS]
            given = [all(t) for t in zip(*dose_text)] if m else []
        else:
            dose_text, given = None, [False] * m
        nan = float("nan")
        weight_text = pick(col("effect_weight"))
        weight = [nan if g else float(w) for w, g in zip(weight_text, given)]  # "" -> ValueError
        if not np.isfinite(np.array([w for w, g in zip(weight, given) if not g], dtype=np.float64)).all():
            raise _Unusual
        doses = {c: ([float(t) if g else nan for t, g in zip(dose_text[k], given)] if dose_text else [nan] * m)
                 for k, c in enumerate(_DOSAGE_WEIGHTS)}
    except (_Unusual, ValueError):
        return None
    lines = (np.asarray(keep, dtype=np.int64) + first_line_no).tolist()
    table = _variants_table({
        "line": lines, "chrom": chrom, "pos": pos, "rsid": rsid, "effect_allele": effect,
        "other_allele": other, "effect_weight": weight, "is_dominant": dom, "is_recessive": rec, **doses,
    })
    return table, n - m


def _positions(text: list[str], located: list[bool]) -> list:
    """Position strings -> int (None where not located), by :func:`_parse_row`'s rule."""
    if all(located):
        try:
            # Succeeds only for strings int() reads; those the rule reads the same way.
            return np.array(text, dtype=np.int64).tolist()
        except (ValueError, OverflowError):
            pass
    return [(int(float(p)) if p.replace(".", "", 1).isdigit() else int(p)) if loc else None
            for p, loc in zip(text, located)]


def _flags(values) -> np.ndarray:
    """True/False flag column -> bool array; an unknown value raises _Unusual."""
    out = np.zeros(len(values), dtype=bool)
    if not values:
        return out
    uniq = {v: v.lower() for v in set(values)}
    if not all(low in _TRUE or low in _FALSE for low in uniq.values()):
        raise _Unusual
    true = {v for v, low in uniq.items() if low in _TRUE}
    if true:
        out[:] = [v in true for v in values]
    return out


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


def _is_ref_effect(match_type: str) -> bool:
    return match_type.startswith("refalt") or match_type.startswith("no_oa_ref")


# Reason codes (indexes into UNMATCHED_REASONS) and the order in which one of
# them is reported for a variant with several failed pairings.
_NOT_IN_TARGET, _AMBIGUOUS, _MULTIALLELIC, _DUPLICATE, _MISMATCH = range(5)
_REASON_PRIORITY = np.array([9, 1, 0, 9, 2], dtype=np.int8)  # by reason code: multiallelic, ambiguous, mismatch
#: Match-type indexes whose effect allele is REF (refalt, refalt_flip, no_oa_ref, no_oa_ref_flip).
_REF_EFFECT = np.array([_is_ref_effect(t) for t in MATCH_TYPES])
_FLIP = np.array([t.endswith("_flip") for t in MATCH_TYPES])
_POS_LIMIT = 1 << 32  # positions are packed with a chromosome code into one int64 key


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


class _Matcher:
    """Match state of every score row (all files), updated chunk by chunk.

    Score rows with a position are found by binary search of packed
    (chromosome code, position) keys; rows with only an rsID through a dict.
    """

    def __init__(self, table: pd.DataFrame, vcf_path, keep_ambiguous: bool, keep_multiallelic: bool):
        n = len(table)
        self.vcf_path = vcf_path
        self.keep_ambiguous = keep_ambiguous
        self.keep_multiallelic = keep_multiallelic
        self.score = table["score"].to_numpy(dtype=np.int64)
        self.rank = np.full(n, -1, dtype=np.int8)  # index into MATCH_TYPES, -1 = unmatched
        self.closed = np.zeros(n, dtype=bool)  # matched or duplicate: never matched again
        self.reason = np.full(n, _NOT_IN_TARGET, dtype=np.int8)
        self.target_chrom = np.full(n, None, dtype=object)
        self.target_pos = np.zeros(n, dtype=np.int64)
        self.target_ref = np.full(n, None, dtype=object)
        self.target_alt = np.full(n, None, dtype=object)

        effect = table["effect_allele"].astype(object).to_numpy()
        other = table["other_allele"].astype(object)
        other = other.where(other.notna(), None).to_numpy()
        self.effect, self.other = effect, other
        comp = {a: _complement(a) for a in {*effect.tolist(), *other.tolist()} if a is not None}
        comp[None] = None
        self.effect_c = np.array([comp[e] for e in effect.tolist()], dtype=object)
        self.other_c = np.array([comp[o] for o in other.tolist()], dtype=object)
        self.has_other = np.array([o is not None for o in other], dtype=bool)

        chrom, pos = table["chrom"], table["pos"]
        located = (chrom.notna() & pos.notna()).to_numpy()
        rows = np.flatnonzero(located)
        codes, names = pd.factorize(chrom.to_numpy(dtype=object)[rows])
        self.chrom_code = {c: i for i, c in enumerate(names)}
        p = pos.to_numpy(dtype=np.int64, na_value=0)[rows]
        valid = (p >= 1) & (p < _POS_LIMIT)  # no VCF record can have another position
        keys = (codes[valid].astype(np.int64) << 32) | p[valid]
        order = np.argsort(keys, kind="stable")
        self.sorted_rows = rows[valid][order]
        self.sorted_keys = keys[order]
        self.key_done = np.zeros(len(keys), dtype=bool)  # positions scored in an earlier chunk
        self.by_id: dict[str, list[int]] = {}
        rsid = table["rsid"]
        for r in np.flatnonzero((~located & rsid.notna().to_numpy())).tolist():
            self.by_id.setdefault(rsid.iat[r], []).append(r)
        # Two rows of one score with the same position and alleles: both unusable.
        dup = table.duplicated(["score", "chrom", "pos", "effect_allele", "other_allele"], keep=False).to_numpy()
        dup = dup & pos.notna().to_numpy()
        self._close_as_duplicate(np.flatnonzero(dup))

    def _close_as_duplicate(self, rows: np.ndarray) -> None:
        self.closed[rows] = True
        self.reason[rows] = _DUPLICATE

    def _pairs(self, v: pd.DataFrame, raw_chrom: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(target row, score row) pairs at the same position or rsID; open score rows only."""
        inv, uniq = pd.factorize(raw_chrom)
        code_of = np.array([self.chrom_code.get(normalize_chrom(c), -1) for c in uniq], dtype=np.int64)
        codes = code_of[inv]
        ok = (codes >= 0) & (pos >= 1) & (pos < _POS_LIMIT)
        tkey = np.where(ok, (codes << 32) | np.where(ok, pos, 0), -1)
        lo = np.searchsorted(self.sorted_keys, tkey, "left")
        hi = np.searchsorted(self.sorted_keys, tkey, "right")
        count = hi - lo
        hit = np.flatnonzero(count)
        if len(hit):
            done = self.key_done[lo[hit]]
            if done.any():
                t = int(hit[np.argmax(done)])
                raise InputError(self.vcf_path, "records of this position are not adjacent (VCF not sorted?); "
                                                "cannot match scores in one pass", record=f"{raw_chrom[t]}:{pos[t]}")
            self.key_done[lo[hit]] = True
        c = count[hit]
        pair_t = np.repeat(hit, c)
        within = np.arange(len(pair_t)) - np.repeat(np.cumsum(c) - c, c)
        pair_r = self.sorted_rows[np.repeat(lo[hit], c) + within]
        if self.by_id:
            ids = v["id"]
            extra_t, extra_r = [], []
            for t in np.flatnonzero(ids.isin(list(self.by_id)).to_numpy()).tolist():
                for r in self.by_id[ids.iat[t]]:
                    extra_t.append(t)
                    extra_r.append(r)
            if extra_t:
                pair_t = np.concatenate([pair_t, np.array(extra_t, dtype=np.int64)])
                pair_r = np.concatenate([pair_r, np.array(extra_r, dtype=np.int64)])
        open_ = ~self.closed[pair_r]
        return pair_t[open_], pair_r[open_]

    def match_chunk(self, v: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Match the chunk's records; return the chosen (score row, target row, match type index)."""
        raw_chrom = v["chrom"].to_numpy(dtype=object)
        pos = v["pos"].to_numpy(dtype=np.int64)
        pt, pr = self._pairs(v, raw_chrom, pos)
        empty = np.zeros(0, dtype=np.int64)
        if not len(pt):
            return empty, empty, empty
        ref = v["ref"].to_numpy(dtype=object)
        alt = v["alt"].to_numpy(dtype=object)
        n_alt = v["n_alt"].to_numpy()
        allele_index = v["allele_index"].to_numpy()

        # Best match type of every pair, vectorised (MATCH_TYPES order).
        r_, a_ = ref[pt], alt[pt]
        ea, oa, cea, coa = self.effect[pr], self.other[pr], self.effect_c[pr], self.other_c[pr]
        has = self.has_other[pr]
        rank = np.select(
            [has & (ea == r_) & (oa == a_), has & (ea == a_) & (oa == r_),
             has & (cea == r_) & (coa == a_), has & (cea == a_) & (coa == r_),
             ~has & (ea == r_), ~has & (ea == a_), ~has & (cea == r_), ~has & (cea == a_)],
            np.arange(8), -1,
        )
        # Pairs that cannot be used, with the reason.
        fail = np.full(len(pt), -1, dtype=np.int8)
        fail[rank < 0] = _MISMATCH
        matched = rank >= 0
        if not self.keep_multiallelic:
            fail[matched & (n_alt[pt] > 1)] = _MULTIALLELIC
        ambiguous = np.array([_is_ambiguous(x, y) for x, y in zip(r_.tolist(), a_.tolist())], dtype=bool)
        amb = matched & (fail < 0) & ambiguous
        if self.keep_ambiguous:
            fail[amb & _FLIP[np.maximum(rank, 0)]] = _MISMATCH  # ambiguous SNPs are never flipped
        else:
            fail[amb] = _AMBIGUOUS
        cand = fail < 0

        # Resolve: best match type per score row. A REF effect allele names a
        # record (all its ALT rows), an ALT effect allele names one row; more
        # than one equally good record or row (duplicated records) -> duplicate.
        rec_of_row = np.cumsum(allele_index == 1) - 1
        cr, ct, ck = pr[cand], pt[cand], rank[cand]
        o = np.lexsort((ct, ck, cr))
        cr, ct, ck = cr[o], ct[o], ck[o]
        starts = np.flatnonzero(np.r_[True, cr[1:] != cr[:-1]]) if len(cr) else empty
        best = ck == np.repeat(ck[starts], np.diff(np.r_[starts, len(cr)]))
        br, bt, bk = cr[best], ct[best], ck[best]
        tgt = np.where(_REF_EFFECT[bk], rec_of_row[bt], bt)  # ascending within a row's best set
        new_row = np.r_[True, br[1:] != br[:-1]] if len(br) else np.zeros(0, dtype=bool)
        changes = new_row | np.r_[True, tgt[1:] != tgt[:-1]] if len(br) else new_row
        gstart = np.flatnonzero(new_row)
        n_targets = np.add.reduceat(changes.astype(np.int64), gstart) if len(gstart) else empty
        self._close_as_duplicate(br[gstart[n_targets > 1]])
        one = gstart[n_targets == 1]
        rows, ts, ranks, tg = br[one], bt[one], bk[one], tgt[one]
        # Two score rows of one score on the same target allele: both duplicates.
        claim = (self.score[rows] << 34) | (_REF_EFFECT[ranks].astype(np.int64) << 33) | tg
        twice = pd.Series(claim).duplicated(keep=False).to_numpy()
        if twice.any():
            self._close_as_duplicate(rows[twice])
            rows, ts, ranks = rows[~twice], ts[~twice], ranks[~twice]

        # Score rows without any usable pairing: the most telling reason.
        nocand = ~cand & ~np.isin(pr, cr)
        if nocand.any():
            fr = pr[nocand]
            prio = _REASON_PRIORITY[fail[nocand]]
            o = np.lexsort((prio, fr))
            fr, fcode = fr[o], fail[nocand][o]
            first = np.r_[True, fr[1:] != fr[:-1]]
            self.reason[fr[first]] = fcode[first]

        self.rank[rows] = ranks
        self.closed[rows] = True
        self.reason[rows] = -1
        self.target_chrom[rows] = raw_chrom[ts]
        self.target_pos[rows] = pos[ts]
        self.target_ref[rows] = ref[ts]
        self.target_alt[rows] = alt[ts]
        return rows, ts, ranks.astype(np.int64)

    def audit(self, files: list[ScoringFile], table: pd.DataFrame) -> pd.DataFrame:
        match_type = np.array([None, *MATCH_TYPES], dtype=object)[self.rank + 1]
        reason = np.array([*UNMATCHED_REASONS, None], dtype=object)[self.reason]  # -1 (matched) -> None
        matched = self.rank >= 0
        return pd.DataFrame({
            "score_id": np.array([f.score_id for f in files], dtype=object)[self.score],
            "line": table["line"].to_numpy(),
            "chrom": table["chrom"], "pos": table["pos"], "rsid": table["rsid"],
            "effect_allele": table["effect_allele"], "other_allele": table["other_allele"],
            "effect_weight": table["effect_weight"],
            "match_type": match_type, "reason": reason,
            "target_chrom": self.target_chrom,
            "target_pos": pd.arrays.IntegerArray(self.target_pos, ~matched),
            "target_ref": self.target_ref, "target_alt": self.target_alt,
        })


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
        VCF rows per chunk (memory: about chunk_size x samples x 16 bytes).

    Returns
    -------
    ScoreResult

    Notes
    -----
    Matching is vectorised per chunk (binary search of packed position keys,
    then array comparisons of alleles); additive weights are applied as one
    matrix product per chunk, with missing calls handled through the
    per-variant mean, which gives exactly the imputed sum.
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
    matcher = _Matcher(table, vcf_path, keep_ambiguous, keep_multiallelic)
    weights = _Weights(table, len(files))

    male_arr = None if male is None else np.asarray(male, dtype=bool)
    sums = None
    names: list[str] = []
    carry: DosageChunk | None = None

    def score(part: DosageChunk) -> None:
        if len(part.variants):
            rows, ts, ranks = matcher.match_chunk(part.variants)
            if len(rows):
                _add_contributions(part, rows, ts, ranks, weights, sums, missing, male_arr)

    for chunk in iter_dosage_chunks(vcf_path, samples=samples, chunk_size=chunk_size, male=male):
        names = chunk.samples
        if sums is None:
            sums = np.zeros((len(names), len(files)), dtype=np.float64)
        if carry is not None and len(carry.variants) and not _same_position(carry.variants, chunk.variants):
            score(carry)  # the held-back position is complete: no need to copy it into this chunk
            carry = None
        chunk = _join(carry, chunk)
        # Hold back the last position: its other records may be in the next chunk.
        last = _last_position_start(chunk.variants)
        carry = _slice(chunk, last, None)
        score(_slice(chunk, 0, last))
    if carry is not None:
        score(carry)
    if sums is None:
        sums = np.zeros((0, len(files)))
        names = []

    audit = matcher.audit(files, table)
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


class _Weights:
    """Per score row scoring inputs as arrays."""

    def __init__(self, table: pd.DataFrame, n_scores: int):
        self.n_scores = n_scores
        self.score = table["score"].to_numpy(dtype=np.int64)
        self.weight = table["effect_weight"].to_numpy(dtype=np.float64)
        self.dominant = table["is_dominant"].to_numpy(dtype=bool)
        self.recessive = table["is_recessive"].to_numpy(dtype=bool)
        self.dosage_weights = table[list(_DOSAGE_WEIGHTS)].to_numpy(dtype=np.float64)
        self.non_additive = ~np.isnan(self.dosage_weights).any(axis=1)


def _last_position_start(v: pd.DataFrame) -> int:
    if not len(v):
        return 0
    chrom = v["chrom"].to_numpy()
    pos = v["pos"].to_numpy()
    i = len(v) - 1
    while i > 0 and chrom[i - 1] == chrom[-1] and pos[i - 1] == pos[-1]:
        i -= 1
    return i


def _same_position(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether the last record of ``a`` and the first of ``b`` share chromosome and position."""
    return bool(len(a) and len(b) and a["chrom"].iat[-1] == b["chrom"].iat[0] and a["pos"].iat[-1] == b["pos"].iat[0])


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


def _add_contributions(chunk: DosageChunk, rows, ts, ranks, w: _Weights, sums, missing, male) -> None:
    """Add the chosen (score row, target row) pairs of one chunk to ``sums``.

    Additive rows form ``sum_v c_v d_v + const`` over ALT dosages ``d``
    (``c = w`` for an ALT effect allele; ``c = -w`` and ``const = 2w`` for a
    REF one), done as a matrix product in float64. A missing call takes the
    row's mean dosage over called samples (``missing="mean"``) or adds
    nothing (``"zero"``); a row without any call adds nothing. Dominant,
    recessive and dosage-weight rows, REF effect alleles at multiallelic
    records and male chrX rows under mean imputation go through
    :func:`_add_contributions_general`.
    """
    v = chunk.variants
    d = chunk.dosages
    n_alt = v["n_alt"].to_numpy()
    is_ref = _REF_EFFECT[ranks]
    general = w.non_additive[rows] | w.dominant[rows] | w.recessive[rows] | (is_ref & (n_alt[ts] > 1))
    if male is not None and missing == "mean":
        chrom = v["chrom"].to_numpy(dtype=object)
        on_x = np.array([c in X_CHROMOSOMES for c in chrom[ts].tolist()], dtype=bool)
        general |= on_x
    if general.any():
        _add_contributions_general(chunk, rows[general], ts[general], ranks[general], w, sums, missing, male)
        keep = ~general
        rows, ts, is_ref = rows[keep], ts[keep], is_ref[keep]
        if not len(rows):
            return
    weight = w.weight[rows]
    coef = np.where(is_ref, -weight, weight)
    const = np.where(is_ref, 2.0 * weight, 0.0)
    score = w.score[rows]
    dos = d if len(ts) == len(d) and (ts == np.arange(len(d))).all() else d[ts]
    row_sum = dos.sum(axis=1, dtype=np.float64)
    gaps = np.isnan(row_sum)  # rows with a missing call
    if gaps.any():
        g = np.flatnonzero(gaps)
        dg = dos[g]
        absent = np.isnan(dg)
        called = (~absent).sum(axis=1)
        dg[absent] = 0.0
        if missing == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = dg.sum(axis=1, dtype=np.float64) / called
            fill = coef[g] * mean  # a missing call adds c * mean + const
            none = called == 0  # no call at all: the row adds nothing
            fill[none] = 0.0
            c_g, const_g = np.where(none, 0.0, coef[g]), np.where(none, 0.0, const[g])
        else:
            fill = -const[g]  # a missing call adds nothing, not even const
            c_g, const_g = coef[g], const[g]
        _accumulate(sums, score[g], c_g, dg, const_g)
        _accumulate(sums, score[g], fill, absent.astype(np.float32), np.zeros(len(g)))
        full = np.flatnonzero(~gaps)
        dos, coef, const, score = dos[full], coef[full], const[full], score[full]
    _accumulate(sums, score, coef, dos, const)


def _accumulate(sums: np.ndarray, score: np.ndarray, coef: np.ndarray, dos: np.ndarray, const: np.ndarray) -> None:
    """sums[:, k] += sum over rows of score k of (coef * dos + const), in float64.

    ``einsum`` casts the float32 dosages to float64 in small buffers, 4x
    faster than a float64 copy of the block followed by a matrix product (a
    float32 product would lose 1e-4 over 88k variants).
    """
    if not len(score):
        return
    k = sums.shape[1]
    if k == 1:
        sums[:, 0] += np.einsum("i,ij->j", coef, dos, dtype=np.float64, casting="unsafe") + const.sum()
        return
    onehot = np.zeros((len(score), k), dtype=np.float64)
    onehot[np.arange(len(score)), score] = 1.0
    sums += np.einsum("ij,ik->jk", dos, onehot * coef[:, None], dtype=np.float64, casting="unsafe") + const @ onehot


def _add_contributions_general(chunk: DosageChunk, rows, ts, ranks, w: _Weights, sums, missing, male) -> None:
    """Element-wise scoring of the pairs that are not a plain linear form (see _add_contributions)."""
    v = chunk.variants
    d = chunk.dosages
    n_alt = v["n_alt"].to_numpy()
    allele_index = v["allele_index"].to_numpy()
    is_ref_effect = _REF_EFFECT[ranks]
    e = d[ts].astype(np.float64)
    multi_ref = np.flatnonzero(is_ref_effect & (n_alt[ts] > 1))
    if len(multi_ref):
        # REF effect at a multiallelic record: 2 - copies of all its ALTs.
        first_row = ts - (allele_index[ts] - 1)
        for i in multi_ref.tolist():
            a = first_row[i]
            e[i] = d[a : a + n_alt[ts[i]]].sum(axis=0, dtype=np.float64)
    e[is_ref_effect] = 2.0 - e[is_ref_effect]
    if male is not None and missing == "mean":
        # plink2 imputes from the allele frequency, where a male's chrX call is
        # one allele (coded 0/2 here): f = (sum_female e + sum_male e/2) /
        # (2 n_female + n_male), and a missing call of either sex gets 2f.
        raw_chrom = v["chrom"].to_numpy(dtype=object)
        on_x = np.array([c in X_CHROMOSOMES for c in raw_chrom[ts].tolist()], dtype=bool)
        if on_x.any():
            ex = e[on_x]
            called = ~np.isnan(ex)
            per_sample_alleles = np.where(male, 1.0, 2.0)
            allele_count = np.where(called, np.where(male, ex / 2, ex), 0.0).sum(axis=1)
            n_alleles = (called * per_sample_alleles).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                two_f = 2 * allele_count / n_alleles
            e[on_x] = np.where(called, ex, two_f[:, None])
    dom, rec = w.dominant[rows], w.recessive[rows]
    e[dom] = np.minimum(e[dom], 1.0)
    e[rec] = np.maximum(e[rec] - 1.0, 0.0)
    contrib = e * w.weight[rows, None]
    na = w.non_additive[rows]
    if na.any():
        k = np.rint(e[na])
        w3 = w.dosage_weights[rows[na]]
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
    onehot = np.zeros((len(rows), sums.shape[1]), dtype=np.float64)
    onehot[np.arange(len(rows)), w.score[rows]] = 1.0
    sums += contrib.T @ onehot


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
