"""Genome builds of scoring files: which positions to use, and liftover through a local UCSC chain file.

A PGS Catalog file declares the build of its author-reported positions
(``#genome_build=GRCh37``; ``NR`` when not reported) and, when harmonised, the
build of ``hm_chr``/``hm_pos`` (``#HmPOS_build=GRCh38``). :func:`target_scoring_file`
chooses, as pgsc_calc does, the harmonised positions when their build is the
target's, else the author-reported ones when theirs is; positions in another
build are lifted with ``liftover.chain`` or refused. The chain file is read by
the ``liftover`` package (a maintained C++ reader of UCSC chain files) from the
local path only; nothing is downloaded. Its builds are checked from the
contig sizes of its ``chain`` lines, so a chain in the wrong direction or for
other builds is refused before any position is lifted.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from dataclasses import replace
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genome import KNOWN_BUILDS, canonical_contig, contig_length, normalize_build
from genorisk.scores.scoring_file import ScoringFile, read_scoring_file

log = logging.getLogger("genorisk.scores")

#: Header values that mean "build not reported".
_NOT_REPORTED = frozenset({"", "NR", "NA", "NONE", "UNKNOWN", "."})
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def scoring_file_header(path: str | PathLike) -> tuple[dict[str, str], list[str]]:
    """The ``#key=value`` header and the column names of a scoring file, reading only up to the column line.

    Raises
    ------
    InputError
        The file is missing, unreadable or has no column line.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    header: dict[str, str] = {}
    try:
        with open(path, "rb") as probe:
            gz = probe.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rt", encoding="utf-8") if gz else open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip("\r\n")
                if line.startswith("#"):
                    key, eq, value = line.lstrip("#").rstrip("\t ").partition("=")
                    if eq:
                        header[key.strip()] = value.strip()
                    continue
                if line.strip():
                    return header, [c.strip() for c in (line.split("\t") if "\t" in line else line.split())]
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read ({exc})") from None
    raise InputError(path, "no column header line (effect_allele, effect_weight, ...)")


def declared_build(header: dict[str, str], key: str, path: str | PathLike) -> str | None:
    """``GRCh37``/``GRCh38`` from a header value (aliases such as ``hg19`` accepted); None when not reported.

    Raises
    ------
    InputError
        A build genorisk does not know (e.g. ``NCBI36``): the message points to
        the PGS Catalog's harmonised files.
    """
    value = header.get(key, "")
    if value.strip().upper() in _NOT_REPORTED:
        return None
    try:
        return normalize_build(value.strip())
    except ValueError:
        raise InputError(
            path,
            f"#{key}={value}: genorisk knows {'/'.join(KNOWN_BUILDS)} only; use the PGS Catalog's harmonised "
            "file (PGSxxxxxx_hmPOS_GRCh38.txt.gz from pgscatalog-download --build GRCh38)",
            record="header",
        ) from None


def target_scoring_file(
    path: str | PathLike,
    genome_build: str,
    *,
    chain: str | PathLike | None = None,
    require_build: bool = False,
) -> ScoringFile:
    """Read a scoring file with its positions in ``genome_build``.

    Parameters
    ----------
    path : str or PathLike
        Scoring file (see :func:`read_scoring_file`).
    genome_build : str
        The cohort's build (``GRCh37``/``GRCh38`` or an alias).
    chain : str or PathLike, optional
        Local UCSC chain file from the scoring file's build to ``genome_build``
        (``liftover.chain``). Without it a file in another build is an error.
    require_build : bool
        A file with positions but no declared build (``#genome_build=NR``, no
        harmonised columns) is an error instead of a warning.

    Returns
    -------
    ScoringFile
        With :attr:`~ScoringFile.positions` and :attr:`~ScoringFile.build` set;
        after a liftover, :attr:`~ScoringFile.lift` says per variant how it went.

    Raises
    ------
    InputError
        Positions in another build and no chain (the message names the file and
        both builds), a chain for other builds, an undeclared build when
        ``require_build``, or any problem :func:`read_scoring_file` reports.

    Notes
    -----
    Order of preference: harmonised ``hm_chr``/``hm_pos`` whose
    ``#HmPOS_build`` is the target; author-reported
    ``chr_name``/``chr_position`` whose ``#genome_build`` is the target;
    author-reported (else harmonised) positions of a declared build, lifted
    with ``chain``. A file with rsIDs only has no build to check: it is
    matched by rsID. A file with positions in no declared build is read as it
    is, with a warning (as pgsc_calc does when the build is ``NR``).
    """
    path = Path(path)
    target = normalize_build(genome_build)
    if target is None:
        raise ValueError("genome_build is required")
    header, columns = scoring_file_header(path)
    author = declared_build(header, "genome_build", path)
    harmonised = declared_build(header, "HmPOS_build", path)
    has_hm = {"hm_chr", "hm_pos"} <= set(columns)
    has_author = {"chr_name", "chr_position"} <= set(columns)
    if has_hm and harmonised == target:
        return replace(read_scoring_file(path, positions="harmonised"), build=target)
    if has_author and author == target:
        if has_hm:
            log.info(
                "%s: harmonised positions are %s; using the author-reported %s ones", path.name, harmonised, target
            )
        return replace(read_scoring_file(path, positions="author"), build=target)
    if not has_hm and not has_author:
        sf = read_scoring_file(path)
        log.info("%s: no positions; variants are matched by rsID", path.name)
        return sf
    if has_author and author is not None:
        source, positions = author, "author"
    elif has_hm and harmonised is not None:
        source, positions = harmonised, "harmonised"
    else:
        what = f"#genome_build={header.get('genome_build', '(absent)')}" + (
            ", harmonised columns without #HmPOS_build" if has_hm else ", no harmonised hm_chr/hm_pos columns"
        )
        if require_build:
            raise InputError(
                path,
                f"declares no genome build ({what}) and the config requires scoring files in {target} "
                f"(liftover.require_build); use the PGS Catalog harmonised file "
                f"(pgscatalog-download --build {target})",
                record="header",
            )
        log.warning("%s: declares no genome build (%s); its positions are taken to be %s", path.name, what, target)
        return read_scoring_file(path)
    if chain is None:
        raise InputError(
            path,
            f"positions are in {source} ({'#HmPOS_build' if positions == 'harmonised' else '#genome_build'}) "
            f"but genome_build is {target}; set liftover.chain to a local UCSC chain file "
            f"{_chain_name(source, target)}, or use the harmonised file for {target} "
            f"(pgscatalog-download --build {target})",
            record="header",
        )
    return lift_scoring_file(read_scoring_file(path, positions=positions), chain, source, target)


def _chain_name(source: str, target: str) -> str:
    ucsc = {"GRCh37": "hg19", "GRCh38": "hg38"}
    return f"{ucsc[source]}To{ucsc[target].capitalize()}.over.chain.gz"


def _chain_headers(path: Path) -> Iterator[tuple[int, str, int, str, int]]:
    """(line, source contig, source size, target contig, target size) of every ``chain`` line."""
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    with gzip.open(path, "rt") if gz else open(path) as fh:
        for i, line in enumerate(fh, start=1):
            if line.startswith("chain"):
                f = line.split()
                if len(f) < 12:
                    raise InputError(path, "chain line has fewer than 12 fields", record=f"line {i}")
                try:
                    yield i, f[2], int(f[3]), f[7], int(f[8])
                except ValueError:
                    raise InputError(path, "chain line sizes are not integers", record=f"line {i}") from None


def check_chain_builds(path: str | PathLike, source: str, target: str) -> None:
    """Check that a chain file lifts ``source`` to ``target``, from the contig sizes of its chain lines.

    Raises
    ------
    InputError
        Not a chain file, no contig genorisk knows, or sizes of other builds;
        the message says which builds the chain's sizes fit.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "chain file not found (liftover.chain)")
    try:
        heads = list(_chain_headers(path))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the chain file ({exc})") from None
    if not heads:
        raise InputError(path, "no 'chain' lines: not a UCSC chain file")

    def fits(side: int, build: str) -> tuple[bool, tuple | None]:
        known = 0
        for line_no, t_name, t_size, q_name, q_size in heads:
            name, size = (t_name, t_size) if side == 0 else (q_name, q_size)
            expected = contig_length(build, name)
            if expected is None:
                continue
            known += 1
            if expected != size:
                return False, (line_no, name, size, expected)
        return known > 0, None

    ok_source, bad_source = fits(0, source)
    ok_target, bad_target = fits(1, target)
    if ok_source and ok_target:
        return
    found = [next((b for b in KNOWN_BUILDS if fits(side, b)[0]), "an unknown build") for side in (0, 1)]
    bad = bad_source or bad_target
    detail = f"; {bad[1]} is {bad[2]} bp there, {bad[3]} bp in {source if bad_source else target}" if bad else ""
    raise InputError(
        path,
        f"chain file is for the wrong builds: it lifts {found[0]} to {found[1]}, but the scoring file is in "
        f"{source} and genome_build is {target} (need {_chain_name(source, target)}){detail}",
        record=f"line {bad[0]}" if bad else None,
    )


def lift_scoring_file(sf: ScoringFile, chain: str | PathLike, source: str, target: str) -> ScoringFile:
    """Lift a scoring file's positions from ``source`` to ``target`` with a local chain file.

    Parameters
    ----------
    sf : ScoringFile
        Positions in ``source``.
    chain : str or PathLike
        UCSC chain file (plain or gzipped) from ``source`` to ``target``.
    source, target : str
        Builds (``GRCh37``/``GRCh38``).

    Returns
    -------
    ScoringFile
        ``positions="lifted"``, ``build=target``, and :attr:`~ScoringFile.lift`.
        A position with exactly one image is lifted (alleles
        reverse-complemented on the minus strand); none is ``"unmapped"``,
        several ``"multiple"``; a multi-base allele on the minus strand
        (its first base would move) is ``"unmapped"``. Rows without a position
        (rsID only) are ``"no position"`` and keep matching by rsID.
    """
    from liftover import ChainFile  # the compiled chain reader; only needed here

    check_chain_builds(chain, source, target)
    try:
        lifter = ChainFile(str(chain), one_based=True)
    except Exception as exc:  # the C++ reader raises plain RuntimeError/ValueError
        raise InputError(chain, f"cannot read the chain file ({exc})") from None
    names = {canonical_contig(c): c for c in lifter}
    v = sf.variants
    n = len(v)
    chrom = v["chrom"].astype(object).to_numpy()
    pos = v["pos"].to_numpy(dtype=np.int64, na_value=0)
    effect = v["effect_allele"].astype(object).to_numpy().copy()
    other_col = v["other_allele"].astype(object)
    other = other_col.where(other_col.notna(), None).to_numpy().copy()
    new_chrom = chrom.copy()
    new_pos = pos.copy()
    status = np.full(n, "no position", dtype=object)
    for i in np.flatnonzero(v["pos"].notna().to_numpy()).tolist():
        name = names.get(canonical_contig(chrom[i]))
        hits = lifter[name][int(pos[i])] if name is not None else []
        if len(hits) != 1:
            status[i] = "unmapped" if not hits else "multiple"
            continue
        c, p, strand = hits[0]
        if strand == "-":
            if len(effect[i]) > 1 or (other[i] is not None and len(other[i]) > 1):
                status[i] = "unmapped"
                continue
            effect[i] = effect[i].translate(_COMPLEMENT)
            other[i] = None if other[i] is None else other[i].translate(_COMPLEMENT)
        new_chrom[i], new_pos[i], status[i] = canonical_contig(c), p, "lifted"
    lifted = status == "lifted"
    variants = v.copy()
    variants["chrom"] = pd.array(np.where(lifted, new_chrom, chrom), dtype="str")
    variants["pos"] = pd.array(np.where(lifted, new_pos, pos), dtype="Int64")
    variants.loc[v["pos"].isna(), "pos"] = pd.NA
    variants["effect_allele"] = pd.array(effect, dtype="str")
    variants["other_allele"] = pd.array(other, dtype="str")
    lift = pd.DataFrame(
        {"source_chrom": v["chrom"].to_numpy(), "source_pos": v["pos"].array, "lift": status.astype(str)}
    )
    counts = pd.Series(status).value_counts()
    log.info(
        "%s: lifted %s -> %s with %s: %d lifted, %d unmapped, %d multiple, %d without position",
        sf.path.name,
        source,
        target,
        Path(chain).name,
        counts.get("lifted", 0),
        counts.get("unmapped", 0),
        counts.get("multiple", 0),
        counts.get("no position", 0),
    )
    return replace(sf, variants=variants, positions="lifted", build=target, lift=lift)
