"""Named-allele matching: the diplotypes that fit a sample's genotypes at a gene's positions.

The rules are PharmCAT's named-allele matcher's (its documentation, "Named
Allele Matcher 101", and its tests, which ``tests/test_pgx_peer.py`` replays):

* A named allele expects, at each definition position, its own allele, or the
  reference allele where its definition is blank (PharmCAT's "assume
  reference"). Its **score** is the number of positions its definition names
  (the reference haplotype: every position).
* **Missing positions** (no call) are dropped from every definition; a named
  allele left with no position is dropped; the call is *partial* and lists them.
* A **diplotype** ``h1/h2`` fits when, at every called position, ``h1`` and
  ``h2`` carry the sample's two alleles, in either order for an unphased
  genotype, and in one consistent order across the positions of a phase set
  for phased genotypes. Its score is the sum of its haplotypes' scores.
* Every fitting diplotype is returned, best score first (ties: all of them);
  ``top_candidate_only`` keeps the diplotypes of the top score (the default of
  PharmCAT's pipeline and of genorisk's reports).
* Exemptions (``exemptions.json``): ignored alleles and positions are dropped
  when definitions are read; a missing required position leaves the gene
  uncalled; an unphased tie listed in ``unphasedDiplotypePriorities`` becomes
  its ``pick``.

* With ``find_combinations`` (PharmCAT's research mode), a sample no pair of
  named alleles fits is called strand by strand: combinations ``[*9 + *14]``
  and partial alleles ``[*17 + g.94781859G>A]``
  (:mod:`genorisk.pgx.combinations`).
* DPYD follows PharmCAT's lowest-function rule (always): phased or
  effectively phased samples are called strand by strand; otherwise no
  diplotype is called and :attr:`GeneMatch.haplotype_matches` lists the named
  alleles found, for the phenotype from the two lowest-activity ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from genorisk.pgx.combinations import call_strands, dpyd_haplotype_matches, effectively_phased
from genorisk.pgx.definitions import IUPAC, GeneDefinition, NamedAllele
from genorisk.pgx.genotypes import PositionGenotype

__all__ = ["LOWEST_FUNCTION_GENES", "Diplotype", "GeneMatch", "match_gene", "missing_position_alternatives"]

#: Genes called by PharmCAT's lowest-function rule (module docstring).
LOWEST_FUNCTION_GENES = frozenset({"DPYD"})


@dataclass(frozen=True)
class Diplotype:
    """Two named alleles that fit the sample, and their score.

    Attributes
    ----------
    haplotypes : tuple of (str, str)
        In display order (reference first, then natural order).
    score : int
    """

    haplotypes: tuple[str, str]
    score: int

    @property
    def name(self) -> str:
        """``*1/*2``."""
        return "/".join(self.haplotypes)


@dataclass
class GeneMatch:
    """The outcome of :func:`match_gene` for one gene.

    Attributes
    ----------
    gene : str
    diplotypes : list of Diplotype
        Best score first; empty when nothing fits.
    missing_positions : list of int
        Definition positions without a usable call (partial call).
    phased : bool
        Every called position was phased.
    missing_required : list of int
        Required positions (exemption) that are missing: no call then.
    missing_amp1 : list of int
        Missing positions of the AMP tier-1 allele set (a warning).
    haplotype_matches : list of str
        Lowest-function genes (DPYD) when no diplotype is called from an
        unphased sample: the named alleles found, twice when homozygous.
    strands : list of tuple
        Per diplotype of a strand-by-strand call, the named alleles of each
        strand (for the lowest-function phenotype); empty otherwise.
    uncallable_haplotypes : list of str
        Named alleles every defining position of which is missing: eliminated
        from the matching (PharmCAT's ``uncallableHaplotypes``).
    alternatives : list of Diplotype
        With missing positions: the diplotypes, other than those called, that
        differ from a called one only at missing positions (each haplotype
        replaced by a named allele it cannot be told from on the positions
        read), so fit the sample as well; best score first. See
        :func:`missing_position_alternatives`.
    """

    gene: str
    diplotypes: list[Diplotype] = field(default_factory=list)
    missing_positions: list[int] = field(default_factory=list)
    phased: bool = False
    missing_required: list[int] = field(default_factory=list)
    missing_amp1: list[int] = field(default_factory=list)
    haplotype_matches: list[str] = field(default_factory=list)
    strands: list[tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)
    uncallable_haplotypes: list[str] = field(default_factory=list)
    alternatives: list[Diplotype] = field(default_factory=list)


def _fits(expected: str, observed: str) -> bool:
    if expected == observed:
        return True
    wobble = IUPAC.get(expected)
    return wobble is not None and observed in wobble


def _reduce(
    definition: GeneDefinition, keep: Sequence[int], *, unscored: bool = False
) -> list[tuple[NamedAllele, tuple[str, ...], int]]:
    """Each named allele on the kept positions: (allele, expected alleles with reference filled in, score).

    An allele left with no defining position (score 0) is dropped, as PharmCAT does, unless ``unscored``.
    """
    ref = definition.reference_allele
    ref_alleles = []
    for i in keep:
        a = ref.alleles[i]
        ref_alleles.append(definition.positions[i].ref if a is None or a in IUPAC else a)
    out = []
    for na in definition.named_alleles:
        own = [na.alleles[i] for i in keep]
        score = len(keep) if na.reference else sum(a is not None for a in own)
        if score == 0 and not unscored:
            continue
        expected = tuple(r if a is None else a for a, r in zip(own, ref_alleles, strict=True))
        out.append((na, expected, score))
    return out


def match_gene(
    definition: GeneDefinition,
    genotypes: Mapping[int, PositionGenotype],
    *,
    top_candidate_only: bool = True,
    find_combinations: bool = False,
) -> GeneMatch:
    """The diplotypes of ``definition``'s named alleles that fit ``genotypes`` (rules: module docstring).

    Parameters
    ----------
    definition : GeneDefinition
    genotypes : mapping of int to PositionGenotype
        Per definition position; a position without usable alleles (or not in
        the mapping) is missing.
    top_candidate_only : bool
        Keep only the diplotypes of the best score (all of a tie).
    find_combinations : bool
        When no pair of named alleles fits, call combinations and partial
        alleles strand by strand (PharmCAT's research mode).

    Returns
    -------
    GeneMatch
    """
    keep: list[int] = []
    missing: list[int] = []
    for i, p in enumerate(definition.positions):
        g = genotypes.get(p.pos)
        (keep if g is not None and g.usable else missing).append(i)
    result = GeneMatch(gene=definition.gene, missing_positions=[definition.positions[i].pos for i in missing])
    result.missing_required = sorted(p for p in result.missing_positions if p in definition.required_positions)
    result.missing_amp1 = sorted(p for p in result.missing_positions if p in definition.amp1_positions)
    if missing:
        scored = {na.name for na, _, _ in _reduce(definition, keep)}
        result.uncallable_haplotypes = [na.name for na in definition.named_alleles if na.name not in scored]
    if not keep or result.missing_required:
        return result
    calls = [genotypes[definition.positions[i].pos] for i in keep]
    result.phased = all(c.phased for c in calls)
    sample = [c.alleles for c in calls]  # both usable: checked above
    # Phase groups: phased positions sharing a phase set keep one orientation; -1 = unphased.
    groups = [(c.phase_set if c.phase_set is not None else 0) if c.phased else -1 for c in calls]
    if definition.gene in LOWEST_FUNCTION_GENES:
        return _lowest_function(definition, keep, calls, groups, result, top_candidate_only)
    candidates = [
        (na, expected, score)
        for na, expected, score in _reduce(definition, keep)
        if all(_fits(e, a[0]) or _fits(e, a[1]) for e, a in zip(expected, sample, strict=True))  # type: ignore[index]
    ]
    refs = [definition.positions[i].ref for i in keep]
    found: list[Diplotype] = []
    for x, (na1, e1, s1) in enumerate(candidates):
        for na2, e2, s2 in candidates[x:]:
            penalty = _pair_fits(e1, e2, sample, groups, refs)  # type: ignore[arg-type]
            if penalty is not None:
                found.append(Diplotype((na1.name, na2.name), s1 + s2 - penalty))
    found.sort(key=lambda d: -d.score)  # stable: the candidates' order breaks ties
    if top_candidate_only and found:
        found = [d for d in found if d.score == found[0].score]
    if not result.phased and len(found) > 1 and definition.unphased_priorities:
        pick = definition.unphased_priorities.get(frozenset(d.name for d in found))
        if pick is not None:
            found = [d for d in found if d.name == pick]
    result.diplotypes = found
    if not found and find_combinations:
        _strand_by_strand(definition, keep, calls, groups, result, top_candidate_only)
    if missing and found:
        result.alternatives = missing_position_alternatives(definition, keep, sample, groups, found)  # type: ignore[arg-type]
    return result


def missing_position_alternatives(
    definition: GeneDefinition,
    keep: Sequence[int],
    sample: Sequence[tuple[str, str]],
    groups: Sequence[int],
    called: Sequence[Diplotype],
) -> list[Diplotype]:
    """The diplotypes a missing position could turn a called one into.

    PharmCAT drops missing positions from every definition and keeps the
    top-scoring diplotypes; an allele defined only at missing positions is
    "eliminated from consideration" (its ``uncallableHaplotypes``, listed in
    its report), and its disclaimer warns that "missing positions might alter
    the assigned genotype and subsequent phenotype" (PharmCAT docs,
    ``Disclaimers.md`` A.3; ``NamedAlleleMatcher-101.md``, "Missing rs1").
    The score favours fully defined alleles: CYP2C19 with rs12248560 missing
    calls ``*1/*1`` although ``*1/*17`` and ``*17/*17`` fit the positions read
    as well. genorisk lists them so that the phenotype is not stated with a
    confidence the data lack: each haplotype of a called diplotype is replaced
    by every named allele (score-0 ones included) whose expected alleles agree
    with it at every position read (IUPAC codes agreeing with what they
    contain), and the pairs that fit the sample are returned, best score first.
    """
    alleles = _reduce(definition, keep, unscored=True)
    expected = {na.name: e for na, e, _ in alleles}
    scores = {na.name: s for na, _, s in alleles}
    order = {na.name: n for n, (na, _, _) in enumerate(alleles)}
    refs = [definition.positions[i].ref for i in keep]

    def alike(name: str) -> list[str]:
        return [
            n
            for n, e in expected.items()
            if all(x == y or _fits(x, y) or _fits(y, x) for x, y in zip(e, expected[name], strict=True))
        ]

    seen = {d.haplotypes for d in called}
    out: list[Diplotype] = []
    for d in called:
        h1, h2 = d.haplotypes
        if h1 not in expected or h2 not in expected:
            continue  # a combination or partial call: no named-allele stand-in
        for a in alike(h1):
            for b in alike(h2):
                pair = (a, b) if order[a] <= order[b] else (b, a)
                if pair in seen:
                    continue
                penalty = _pair_fits(expected[pair[0]], expected[pair[1]], sample, groups, refs)
                if penalty is None:
                    continue
                seen.add(pair)
                out.append(Diplotype(pair, scores[pair[0]] + scores[pair[1]] - penalty))
    out.sort(key=lambda d: -d.score)
    return out


def _sites(keep: Sequence[int], calls: Sequence[PositionGenotype], groups: Sequence[int]) -> list:
    return [
        (i, c.position.ref, c.alleles[0], c.alleles[1], g)  # type: ignore[index]
        for i, c, g in zip(keep, calls, groups, strict=True)
    ]


def _strand_by_strand(
    definition: GeneDefinition,
    keep: Sequence[int],
    calls: Sequence[PositionGenotype],
    groups: Sequence[int],
    result: GeneMatch,
    top_candidate_only: bool,
) -> None:
    """Fill ``result`` with the combination/partial calls (best score first, then display order)."""
    pairs = call_strands(definition, keep, _sites(keep, calls, groups))
    pairs.sort(key=lambda p: (-(p[0].score + p[1].score), p[0].sort_key, p[1].sort_key))
    if top_candidate_only and pairs:
        best = pairs[0][0].score + pairs[0][1].score
        pairs = [p for p in pairs if p[0].score + p[1].score == best]
    result.diplotypes = [Diplotype((a.name, b.name), a.score + b.score) for a, b in pairs]
    result.strands = [(a.alleles, b.alleles) for a, b in pairs]


def _lowest_function(
    definition: GeneDefinition,
    keep: Sequence[int],
    calls: Sequence[PositionGenotype],
    groups: Sequence[int],
    result: GeneMatch,
    top_candidate_only: bool,
) -> GeneMatch:
    """DPYD: strand by strand when (effectively) phased, else the named alleles found (module docstring)."""
    sites = _sites(keep, calls, groups)
    if effectively_phased(sites):
        _strand_by_strand(definition, keep, calls, groups, result, top_candidate_only)
    else:
        result.haplotype_matches = dpyd_haplotype_matches(definition, keep, sites)
    return result


def _pair_fits(
    e1: Sequence[str],
    e2: Sequence[str],
    sample: Sequence[tuple[str, str]],
    groups: Sequence[int],
    refs: Sequence[str],
) -> int | None:
    """Whether haplotypes ``e1`` and ``e2`` carry the sample's alleles, one orientation per phase group.

    Returns None when they do not; else the fewest wobble positions (IUPAC
    codes) that the fit fills with the reference allele: such a position does
    not count in the haplotype's score (PharmCAT scores a wobble by the
    sample's allele, so ``*6/*18`` and ``*9/*18`` tie on the same genotypes).
    """
    allowed: dict[int, set[int]] = {}
    group_cost: dict[int, list[int]] = {}
    penalty = 0
    for x1, x2, (a1, a2), group, ref in zip(e1, e2, sample, groups, refs, strict=True):
        cost = [0, 0]
        ways = set()
        for way, (b1, b2) in enumerate(((a1, a2), (a2, a1))):
            if _fits(x1, b1) and _fits(x2, b2):
                ways.add(way)
                cost[way] = (x1 in IUPAC and b1 == ref) + (x2 in IUPAC and b2 == ref)
        if not ways:
            return None
        if group < 0:
            penalty += min(cost[w] for w in ways)
            continue
        allowed[group] = allowed[group] & ways if group in allowed else ways
        if not allowed[group]:
            return None
        sums = group_cost.setdefault(group, [0, 0])
        sums[0] += cost[0]
        sums[1] += cost[1]
    return penalty + sum(min(group_cost[g][w] for w in allowed[g]) for g in allowed)
