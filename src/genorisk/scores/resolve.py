"""Configured scores: names, and PGS Catalog IDs resolved from a local folder of downloaded scoring files.

A ``scores:`` entry is a path to a scoring file or a PGS Catalog ID
(``PGS000001``). An ID is looked up in ``scores_dir``, the folder that
``pgscatalog-download --pgs PGS000001 --build GRCh38 -o DIR`` (pgscatalog-utils)
fills: the harmonised file of the configured build
(``PGS000001_hmPOS_GRCh38.txt.gz``) when present, else the author-reported
file (``PGS000001.txt.gz``). Nothing is downloaded at run time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

from genorisk.errors import ConfigError
from genorisk.genome import normalize_build

PGS_ID = re.compile(r"^PGS\d{6}$")
#: Score names usable in output paths (the ``score`` wildcard of workflow/rules/scores.smk).
SCORE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_SUFFIXES = (".txt.gz", ".tsv.gz", ".txt", ".tsv", ".gz")


def is_pgs_id(entry: str) -> bool:
    """True for a PGS Catalog score ID (``PGS`` and six digits)."""
    return bool(PGS_ID.match(str(entry)))


def score_name(entry: str | PathLike) -> str:
    """The name of a configured score: a PGS ID itself, else the file name without ``.txt[.gz]``/``.tsv[.gz]``.

    It names the score's outputs (``results/scores/<name>.audit.tsv``).
    """
    text = str(entry)
    if is_pgs_id(text):
        return text
    name = Path(text).name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def pgs_download_command(pgs_id: str, genome_build: str, folder: str | PathLike | None) -> str:
    """The pgscatalog-download command that fetches a score's harmonised file into ``folder``."""
    return f"pgscatalog-download --pgs {pgs_id} --build {genome_build} -o {folder or 'DIR'}"


def resolve_pgs_id(pgs_id: str, scores_dir: str | PathLike | None, genome_build: str) -> Path:
    """The local scoring file of a PGS Catalog ID.

    Parameters
    ----------
    pgs_id : str
        ``PGS`` and six digits.
    scores_dir : str or PathLike or None
        Folder of files from ``pgscatalog-download``.
    genome_build : str
        The configured build; its harmonised file is preferred.

    Returns
    -------
    pathlib.Path
        ``<ID>_hmPOS_<build>.txt.gz`` (or ``.txt``) if present, else ``<ID>.txt.gz`` (or ``.txt``).

    Raises
    ------
    ConfigError
        No ``scores_dir``, or no file for the ID in it; the message gives the
        ``pgscatalog-download`` command that fetches it.
    """
    build = normalize_build(genome_build)
    fetch = pgs_download_command(pgs_id, str(build), scores_dir)
    if not scores_dir:
        raise ConfigError(
            None,
            f"{pgs_id} is a PGS Catalog ID but scores_dir is not set; download it beforehand with "
            f"`{fetch}` and set scores_dir to that folder",
            record="scores",
        )
    folder = Path(scores_dir)
    names = [f"{pgs_id}_hmPOS_{build}.txt.gz", f"{pgs_id}_hmPOS_{build}.txt", f"{pgs_id}.txt.gz", f"{pgs_id}.txt"]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    others = sorted(p.name for p in folder.glob(f"{pgs_id}*")) if folder.is_dir() else []
    seen = f" (found only {', '.join(others)})" if others else ""
    where = "" if folder.is_dir() else " (the folder does not exist)"
    raise ConfigError(
        folder,
        f"no scoring file for {pgs_id}{where}: looked for {', '.join(names)}{seen}; download it with `{fetch}`",
        record="scores_dir",
    )


def resolve_score_entries(
    entries: Sequence[str],
    *,
    scores_dir: str | PathLike | None,
    genome_build: str,
    source: str | None = None,
) -> dict[str, str]:
    """Map each configured score's name (:func:`score_name`) to its file, resolving PGS IDs.

    Paths are returned as given (a file the run makes may not exist yet).

    Raises
    ------
    ConfigError
        An ID without a local file (see :func:`resolve_pgs_id`), two
        entries with the same name, or a name with other characters than
        letters, digits, ``_``, ``.`` and ``-``.
    """
    out: dict[str, str] = {}
    for i, entry in enumerate(entries):
        entry = str(entry)
        name = score_name(entry)
        if not SCORE_NAME.match(name):
            raise ConfigError(
                source,
                f"score name {name!r} (from {entry}) may hold only letters, digits, '_', '.' and '-'; rename the file",
                record=f"scores[{i}]",
            )
        if name in out:
            raise ConfigError(
                source,
                f"two scores are named {name!r} ({out[name]} and {entry}); rename one file",
                record=f"scores[{i}]",
            )
        out[name] = str(resolve_pgs_id(entry, scores_dir, genome_build)) if is_pgs_id(entry) else entry
    return out
