"""Combination and partial-allele calls, and DPYD's lowest-function rule (PharmCAT's research and DPYD modes).

When no pair of named alleles fits a sample, PharmCAT (with ``findCombinations``)
calls each of the sample's two haplotypes ("strands") as what it carries:

* every non-reference named allele whose defining alleles all lie on the strand
  is *covered*; a covered allele inside a larger covered one (a "shell": ``*4``
  inside ``*6``) gives way to it; covered alleles that share no position
  combine, ``[*9 + *14]``; two of the same size that share a position (which a
  missing position can cause) are alternatives;
* a strand's variant that no covered allele explains is a *partial*, named
  HGVS-like on the chromosome, ``g.94781859G>A`` (``g.40991369?`` for an
  unknown allele of a half call); a strand of the reference plus partials is
  named by its partials alone;
* a name of one part is bare (``*2``, ``g.41009350C>T``); of several,
  bracketed: ``[*17 + g.94781859G>A]``.

Every way of splitting unphased heterozygous positions (and phase sets)
between the two strands is tried; a diplotype's score is the number of
defining positions its named alleles explain less its partials, and the
top-scoring diplotypes are kept (all of them on a tie).

DPYD (PharmCAT's ``DpydCaller`` behaviour, after CPIC): its haplotypes are not
assumed from unphased genotypes. A sample phased or *effectively phased* (at
most one heterozygous position, or every heterozygous position in one phase
set) is called strand by strand as above; otherwise no diplotype is called and
:func:`dpyd_haplotype_matches` lists the named alleles found (twice when
homozygous), for the phenotype from the two lowest-activity ones
(:func:`lowest_function_pair`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from genorisk.pgx.definitions import IUPAC, GeneDefinition, NamedAllele, allele_sort_key

__all__ = [
    "MAX_SPLITS",
    "StrandCall",
    "call_strands",
    "dpyd_haplotype_matches",
    "effectively_phased",
    "lowest_function_pair",
    "partial_name",
    "strand_splits",
]

#: At most this many ways of splitting the heterozygous positions are tried (2**12).
MAX_SPLITS = 4096

#: One sample position as the combination caller sees it: (position, definition ref, allele 1, allele 2, group).
Site = tuple[int, str, str, str, int]


@dataclass(frozen=True)
class StrandCall:
    """What one strand carries: named alleles and partials.

    Attributes
    ----------
    alleles : tuple of str
        Covered named alleles, in the gene's order (empty: the reference).
    partials : tuple of str
        ``g.`` names of the variants no covered allele explains, by position.
    reference : str
        The gene's reference allele name (the strand's name when it has nothing else).
    score : int
        Defining positions explained by :attr:`alleles`, less the partials.
    """

    alleles: tuple[str, ...]
    partials: tuple[str, ...]
    reference: str
    score: int

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.alleles + self.partials) or (self.reference,)

    @property
    def name(self) -> str:
        """``*2``, ``g.41009350C>T`` or ``[*17 + g.94781859G>A]``."""
        return self.parts[0] if len(self.parts) == 1 else "[" + " + ".join(self.parts) + "]"

    @property
    def sort_key(self) -> tuple:
        """Fewer parts first; then named alleles (reference first) before partials, in natural order."""
        keys = tuple(
            (1, allele_sort_key(p)) if p.startswith("g.") else (0, allele_sort_key(p, p == self.reference))
            for p in self.parts
        )
        return (len(self.parts), keys)


def _fits(expected: str, observed: str) -> bool:
    return expected == observed or observed in IUPAC.get(expected, ())


def partial_name(pos: int, ref: str, allele: str) -> str:
    """The ``g.`` name of ``allele`` at ``pos`` (``.``: unknown, ``?X``: an allele the definitions do not name)."""
    if allele == ".":
        return f"g.{pos}?"
    return f"g.{pos}{ref}>{allele.lstrip('?')}"


def _cores(definition: GeneDefinition, kept: Sequence[int]) -> list[tuple[NamedAllele, dict[int, str]]]:
    """Non-reference named alleles with their defining alleles on the kept positions (index -> allele)."""
    out = []
    for na in definition.named_alleles:
        if na.reference:
            continue
        core = {i: a for i in kept if (a := na.alleles[i]) is not None}
        if core:
            out.append((na, core))
    return out


def _viable_combinations(covered: list[tuple[NamedAllele, dict[int, str]]]) -> list[list[tuple[NamedAllele, dict]]]:
    """Sets of covered alleles that share no position; a smaller allele inside a larger one gives way."""
    order = sorted(covered, key=lambda c: (-len(c[1]), c[0].name))
    combos: list[list[tuple[NamedAllele, dict]]] = []
    for na, core in order:
        added, blocked = False, False
        for combo in combos:
            overlaps = False
            for _, other in combo:
                if set(other) & set(core):
                    overlaps = True
                    if len(other) != len(core):
                        blocked = True
                        break
            if not overlaps:
                combo.append((na, core))
                added = True
        if not added and not blocked:
            combos.append([(na, core)])
    return combos


def _strand_calls(
    definition: GeneDefinition, kept: Sequence[int], strand: Mapping[int, str], partials: bool
) -> list[StrandCall]:
    """The alternative calls of one strand (``strand``: kept definition index -> allele)."""
    positions = definition.positions
    variant = [i for i in kept if strand[i] != positions[i].ref]
    covered = [(na, core) for na, core in _cores(definition, kept) if all(_fits(a, strand[i]) for i, a in core.items())]
    combos = _viable_combinations(covered) if covered else [[]]
    reference = definition.reference_allele.name
    out = []
    for combo in combos:
        explained = set().union(*(core for _, core in combo)) if combo else set()
        loose = [i for i in variant if i not in explained]
        names = tuple(na.name for na, _ in sorted(combo, key=lambda c: c[0].sort_key))
        loose_names = tuple(partial_name(positions[i].pos, positions[i].ref, strand[i]) for i in loose)
        if loose_names and not partials:
            continue
        out.append(StrandCall(names, loose_names, reference, len(explained) - len(loose_names)))
    return out


def strand_splits(sites: Sequence[Site]) -> list[tuple[dict[int, str], dict[int, str]]]:
    """Every way of putting the sample's alleles on two strands (index -> allele, per strand).

    ``sites``: (definition index, ref, allele 1, allele 2, group); positions of
    one phase group (group >= 0) keep their order, an unphased position is its
    own group. The first heterozygous group keeps its order (the two strands
    are interchangeable).

    Raises
    ------
    ValueError
        More than :data:`MAX_SPLITS` splits.
    """
    groups: dict[object, list[int]] = {}
    for n, (_, _, a1, a2, group) in enumerate(sites):
        if a1 != a2:
            groups.setdefault(group if group >= 0 else ("u", n), []).append(n)
    free = list(groups.values())[1:]
    if 2 ** len(free) > MAX_SPLITS:
        raise ValueError(f"{2 ** len(free)} ways to split {len(free) + 1} unphased heterozygous groups")
    out = []
    for flips in itertools.product((False, True), repeat=len(free)):
        flipped = {n for members, flip in zip(free, flips, strict=True) if flip for n in members}
        one = {i: (a2 if n in flipped else a1) for n, (i, _, a1, a2, _) in enumerate(sites)}
        two = {i: (a1 if n in flipped else a2) for n, (i, _, a1, a2, _) in enumerate(sites)}
        out.append((one, two))
    return out


def call_strands(
    definition: GeneDefinition, kept: Sequence[int], sites: Sequence[Site], *, partials: bool = True
) -> list[tuple[StrandCall, StrandCall]]:
    """Every (strand 1, strand 2) call of the sample, each pair once, in display order.

    Parameters
    ----------
    definition : GeneDefinition
    kept : sequence of int
        Definition indices with a call (missing positions left out).
    sites : sequence of Site
        The sample's alleles at ``kept`` (see :func:`strand_splits`).
    partials : bool
        Allow partials (False: a strand with an unexplained variant has no call).
    """
    seen: dict[str, tuple[StrandCall, StrandCall]] = {}
    for one, two in strand_splits(sites):
        for c1 in _strand_calls(definition, kept, one, partials):
            for c2 in _strand_calls(definition, kept, two, partials):
                pair = tuple(sorted((c1, c2), key=lambda c: c.sort_key))
                seen.setdefault(pair[0].name + "/" + pair[1].name, pair)  # type: ignore[arg-type]
    return list(seen.values())


def effectively_phased(sites: Sequence[Site]) -> bool:
    """At most one heterozygous position, or every heterozygous position in one phase group."""
    groups = {(group if group >= 0 else ("u", n)) for n, (_, _, a1, a2, group) in enumerate(sites) if a1 != a2}
    return len(groups) <= 1


def dpyd_haplotype_matches(definition: GeneDefinition, kept: Sequence[int], sites: Sequence[Site]) -> list[str]:
    """Named alleles present in an unphased sample (twice when homozygous), in the gene's order."""
    by_index = {s[0]: s for s in sites}
    out = []
    for na, core in _cores(definition, kept):
        on = [(_fits(a, by_index[i][2]), _fits(a, by_index[i][3])) for i, a in core.items()]
        if all(x or y for x, y in on):
            out += [na.name] * (2 if all(x and y for x, y in on) else 1)
    return out


def lowest_function_pair(
    strands: Sequence[Sequence[str]], activity_values: Mapping[str, str], reference: str
) -> tuple[str, str]:
    """The two named alleles that set a DPYD phenotype: the lowest-activity one of each strand.

    Parameters
    ----------
    strands : sequence of sequence of str
        Two strands' named alleles (a phased call), or one list of every allele
        found (unphased: the two lowest of it, the reference filling in).
    activity_values : mapping
        Allele -> activity value (``"0.5"``); an unlisted allele counts as 1.
    reference : str
    """

    def activity(name: str) -> float:
        return float(activity_values.get(name, "1") or 1)

    if len(strands) == 2:
        picks = [min(s, key=activity) if s else reference for s in strands]
    else:
        found = sorted(strands[0] if strands else [], key=activity)[:2]
        picks = found + [reference] * (2 - len(found))
    first, second = sorted(picks, key=lambda n: allele_sort_key(n, n == reference))
    return first, second
