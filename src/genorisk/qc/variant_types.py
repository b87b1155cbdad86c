"""Allele classes as htslib and bcftools stats see them: variant type and Ti/Tv codes."""

from __future__ import annotations

# htslib variant types (vcf.h VCF_*); REF (0) also covers ALT ".", "<*>", "<X>", "<NON_REF>".
VT_REF, VT_SNP, VT_MNP, VT_INDEL, VT_OTHER, VT_BND, VT_OVERLAP = 0, 1, 2, 4, 8, 16, 32

_ACGT = {"A": 0, "C": 1, "G": 2, "T": 3}
TS, TV = 1, 2  # Ti/Tv class codes


def htslib_variant_type(ref: str, alt: str) -> int:
    """htslib's variant type of one ALT allele (``bcf_set_variant_type``, htslib 1.16).

    Returns a ``VT_*`` code: multi-base alleles that differ in one base after
    trimming the common prefix and suffix are SNVs (``ACT>AGT``), as in htslib.
    """
    if alt == "*":
        return VT_OVERLAP
    if len(ref) == 1 and len(alt) == 1:
        if alt in (".", "X") or ref == alt:
            return VT_REF
        return VT_SNP
    if alt.startswith("<"):
        return VT_REF if alt in ("<X>", "<*>", "<NON_REF>") else VT_OTHER
    if "[" in alt or "]" in alt or alt.startswith(".") or alt.endswith("."):
        return VT_BND
    r, a = ref.upper(), alt.upper()
    i = 0
    while i < len(r) and i < len(a) and r[i] == a[i]:
        i += 1
    if i == len(r) and i == len(a):
        return VT_REF
    if i == len(r) or i == len(a):
        return VT_INDEL
    re_, ae = len(r) - 1, len(a) - 1
    while re_ > i and ae > i and r[re_] == a[ae]:
        re_ -= 1
        ae -= 1
    if ae == i:
        if re_ == i:
            return VT_SNP
        return VT_INDEL if r[re_] == a[ae] else VT_OTHER
    if re_ == i:
        return VT_INDEL if r[re_] == a[ae] else VT_OTHER
    return VT_MNP if re_ - i == ae - i else VT_OTHER


def _tstv_code(ref_base: int, alt_base: int) -> int:
    return TS if abs(ref_base - alt_base) == 2 else TV


def allele_classes(ref: str, alts: list[str]) -> tuple[list[int], list[int], list[int]]:
    """Per allele (REF first): htslib type, per-sample Ti/Tv code, cohort Ti/Tv code.

    The two Ti/Tv codes reproduce bcftools stats: both compare the first base
    of REF and ALT; the cohort count (TSTV) skips a REF or ALT first base that
    is not A/C/G/T and equal first bases, the per-sample count (PSC) only a
    non-ACGT ALT base.
    """
    ref_base = _ACGT.get(ref[:1].upper(), -1)
    types, sample_code, cohort_code = [VT_REF], [0], [0]
    for alt in alts:
        vt = htslib_variant_type(ref, alt)
        alt_base = _ACGT.get(alt[:1].upper(), -1)
        types.append(vt)
        snv = bool(vt & VT_SNP)
        sample_code.append(_tstv_code(ref_base, alt_base) if snv and alt_base >= 0 else 0)
        cohort_code.append(
            _tstv_code(ref_base, alt_base) if snv and ref_base >= 0 and alt_base >= 0 and ref_base != alt_base else 0
        )
    return types, sample_code, cohort_code
