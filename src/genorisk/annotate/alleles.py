"""Alleles: minimal representation, affected reference span, allele classes, one row per ALT."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Allele classes of the variant table. Sequence classes first; only they are
#: matched against allele-level sources and become dosage features.
ALLELE_CLASSES = ("SNV", "MNV", "indel", "symbolic", "breakend", "star")
SEQUENCE_CLASSES = ("SNV", "MNV", "indel")


def minimal_allele(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Trim shared trailing then shared leading bases (keeping one), moving POS.

    ``(100, "CTT", "CT")`` -> ``(100, "CT", "C")``; ``(100, "CAG", "CTG")`` ->
    ``(101, "A", "T")``. Case is folded to upper. No left-alignment.
    """
    ref, alt = ref.upper(), alt.upper()
    if len(ref) == 1 and len(alt) == 1:  # SNVs, most of a cohort: nothing to trim
        return pos, ref, alt
    n = 0
    limit = min(len(ref), len(alt)) - 1
    while n < limit and ref[-1 - n] == alt[-1 - n]:
        n += 1
    if n:
        ref, alt = ref[:-n], alt[:-n]
    n = 0
    limit = min(len(ref), len(alt)) - 1
    while n < limit and ref[n] == alt[n]:
        n += 1
    return pos + n, ref[n:], alt[n:]


def affected_span(pos: int, ref: str, alt: str) -> tuple[int, int]:
    """Reference bases a variant changes, 1-based inclusive, from its minimal form.

    SNV/MNV/complex: the REF bases. Deletion with a padding base: the deleted
    bases (``pos+1 .. pos+len(ref)-1``). Insertion with a padding base: the two
    bases either side of the insertion point (``pos .. pos+1``).
    """
    pos, ref, alt = minimal_allele(pos, ref, alt)
    if len(ref) > 1 and len(alt) == 1 and ref[0] == alt[0]:
        return pos + 1, pos + len(ref) - 1
    if len(ref) == 1 and len(alt) > 1 and ref[0] == alt[0]:
        return pos, pos + 1
    return pos, pos + len(ref) - 1


def allele_classes(ref: pd.Series, alt: pd.Series) -> np.ndarray:
    """:data:`ALLELE_CLASSES` label of each REF/ALT pair (object array).

    ``*`` -> star; ``<...>`` -> symbolic; ``[``/``]`` or a leading/trailing
    ``.`` -> breakend; same length after trimming shared bases -> SNV (1 base)
    or MNV; else indel.
    """
    ref_s, alt_s = ref.astype("str").str.upper(), alt.astype("str").str.upper()
    out = np.full(len(alt_s), "indel", dtype=object)
    same_len = (ref_s.str.len() == alt_s.str.len()).to_numpy()
    out[same_len] = "MNV"
    snv = same_len & (ref_s.str.len() == 1).to_numpy()
    out[snv] = "SNV"
    for j in np.flatnonzero(same_len & ~snv).tolist():  # MNVs that share bases may trim to an SNV
        _, r, a = minimal_allele(0, str(ref_s.iat[j]), str(alt_s.iat[j]))  # same_len: never NaN
        if len(r) == 1:
            out[j] = "SNV"
    breakend = (
        alt_s.str.contains(r"[\[\]]", regex=True)
        | ((alt_s.str.len() > 1) & (alt_s.str.startswith(".") | alt_s.str.endswith(".")))
    ).to_numpy()
    out[breakend] = "breakend"
    out[alt_s.str.startswith("<").to_numpy()] = "symbolic"
    out[(alt_s == "*").to_numpy()] = "star"
    return out


def variant_spans(variants: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """First and last reference base each variant changes (1-based, inclusive).

    Sequence alleles: :func:`affected_span`. Symbolic alleles: the bases after
    the padding base up to ``end`` (INFO/END), e.g. ``<DEL>`` at 100 with END=500
    -> 101..500; without an END beyond POS, and for ``<INS>``, POS..POS+1.
    Breakends: POS. ``*``: the REF bases.
    """
    pos = variants["pos"].to_numpy(dtype=np.int64)
    ref = variants["ref"].astype("str")
    lo = pos.copy()
    hi = pos + ref.str.len().to_numpy(dtype=np.int64) - 1
    cls = (
        variants["allele_class"].to_numpy(dtype=object)
        if "allele_class" in variants
        else allele_classes(ref, variants["alt"])
    )
    end = variants["end"].to_numpy(dtype=np.int64) if "end" in variants else hi
    refs = ref.to_numpy(dtype=object)
    alts = variants["alt"].astype("str").to_numpy(dtype=object)
    for j in np.flatnonzero((cls != "SNV") & (cls != "star")):
        if cls[j] in ("MNV", "indel"):
            lo[j], hi[j] = affected_span(int(pos[j]), refs[j], alts[j])
        elif cls[j] == "symbolic" and end[j] > pos[j] and not alts[j].upper().startswith("<INS"):
            lo[j], hi[j] = pos[j] + 1, end[j]
        elif cls[j] == "symbolic":
            hi[j] = pos[j] + 1
        else:  # breakend
            hi[j] = pos[j]
    return lo, hi


def usable_alt(alt: str | None, ref: str | None = None) -> bool:
    """A sequence ALT that differs from REF (not symbolic, breakend, ``*`` or missing)."""
    if not alt:
        return False
    return (
        alt not in ("*", ".")
        and not alt.startswith("<")
        and "[" not in alt
        and "]" not in alt
        and (ref is None or alt.upper() != ref.upper())
    )


def split_alts(frame: pd.DataFrame, sequence_only: bool = True) -> pd.DataFrame:
    """One row per ALT of each record, with ``alt_index`` (0-based).

    Missing (``.``) and REF-equal ALTs are dropped; with ``sequence_only``
    also symbolic, breakend and ``*`` ALTs (see :func:`usable_alt`).
    """
    multi = frame["alt"].str.contains(",", regex=False)
    if multi.any():
        frame = frame.assign(alt=frame["alt"].str.split(",")).explode("alt", ignore_index=False)
        frame["alt_index"] = frame.groupby(level=0).cumcount().to_numpy()
        frame = frame.reset_index(drop=True)
    else:
        frame = frame.assign(alt_index=0)
    alt, ref = frame["alt"].astype("str"), frame["ref"].astype("str")
    usable = (alt.str.len() > 0) & (alt != ".") & (alt.str.upper() != ref.str.upper())
    if sequence_only:
        usable &= (alt != "*") & ~alt.str.startswith("<") & ~alt.str.contains(r"[\[\]]", regex=True)
    return frame.loc[usable.to_numpy()].reset_index(drop=True)


def minimal_keys(pos: np.ndarray, ref: pd.Series, alt: pd.Series) -> pd.DataFrame:
    """Columns kpos, kref, kalt: :func:`minimal_allele` of every row (SNVs vectorised)."""
    ref_u, alt_u = ref.str.upper(), alt.str.upper()
    kpos = np.asarray(pos, dtype=np.int64).copy()
    kref = ref_u.to_numpy(dtype=object).copy()
    kalt = alt_u.to_numpy(dtype=object).copy()
    long = np.flatnonzero(((ref_u.str.len() > 1) | (alt_u.str.len() > 1)).to_numpy())
    for j in long:  # indels and MNVs: a few percent of a cohort
        kpos[j], kref[j], kalt[j] = minimal_allele(int(kpos[j]), kref[j], kalt[j])
    return pd.DataFrame({"kpos": kpos, "kref": pd.array(kref, dtype="str"), "kalt": pd.array(kalt, dtype="str")})
