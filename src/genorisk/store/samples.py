"""Reconcile the store's sample IDs with the phenotype table's ``sample_id`` s.

The store's sample ID is the IID (the VCF sample name; the ``.fam``/``.psam``
IID; the ``.sample`` ID_2). plink2's ``--update-sex`` and ``--keep`` accept
missing or extra IDs with a line in the log only, so the IDs are reconciled
here first and a mismatch is an error naming the IDs.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

import numpy as np

from genorisk.errors import InputError


def format_ids(ids: Sequence[str], limit: int = 5) -> str:
    """``'a', 'b', 'c'`` or, beyond ``limit``, the first ``limit`` and ``... and N more``."""
    shown = ", ".join(repr(i) for i in list(ids)[:limit])
    return shown if len(ids) <= limit else f"{shown} ... and {len(ids) - limit} more"


def check_unique(ids: Sequence[str], path: str | PathLike | None, what: str = "sample IDs") -> None:
    """Refuse duplicated IDs, naming them."""
    seen: set[str] = set()
    dups = [i for i in ids if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
    if dups:
        raise InputError(path, f"duplicated {what}: {format_ids(sorted(set(dups)))}")


def reconcile_samples(
    store_ids: Sequence[str],
    phenotype_ids: Sequence[str],
    *,
    store_path: str | PathLike | None = None,
    phenotype_path: str | PathLike | None = None,
    allow_extra: bool = False,
) -> np.ndarray:
    """Store column indexes that give the phenotype table's samples, in its order.

    Parameters
    ----------
    store_ids : sequence of str
        The store's (or the input file's) sample IDs, in file order.
    phenotype_ids : sequence of str
        The phenotype table's ``sample_id`` column (or any sample subset), in
        the order wanted.
    store_path, phenotype_path : str or PathLike, optional
        Named in error messages.
    allow_extra : bool
        Accept store samples absent from ``phenotype_ids`` (a subset read);
        by default both sides must hold the same IDs.

    Returns
    -------
    numpy.ndarray
        int64 indexes into ``store_ids``, one per phenotype ID.

    Raises
    ------
    InputError
        Duplicated IDs on either side; phenotype IDs absent from the store, or
        (unless ``allow_extra``) store IDs absent from the phenotype table. The
        message names them, shortened to the first 5 and ``... and N more``.
    """
    store_ids, phenotype_ids = [str(s) for s in store_ids], [str(s) for s in phenotype_ids]
    check_unique(store_ids, store_path, "sample IDs in the genotypes")
    check_unique(phenotype_ids, phenotype_path, "sample_id values")
    position = {s: i for i, s in enumerate(store_ids)}
    missing = [s for s in phenotype_ids if s not in position]
    wanted = set(phenotype_ids)
    extra = [] if allow_extra else [s for s in store_ids if s not in wanted]
    if missing or extra:
        parts = []
        if missing:
            parts.append(
                f"{len(missing)} sample_id(s) of the phenotype table {_named(phenotype_path)}are not in "
                f"the genotypes: {format_ids(missing)}"
            )
        if extra:
            parts.append(f"{len(extra)} genotype sample(s) have no row in the phenotype table: {format_ids(extra)}")
        raise InputError(store_path, "; ".join(parts))
    return np.array([position[s] for s in phenotype_ids], dtype=np.int64)


def _named(path) -> str:
    return f"({path}) " if path is not None else ""
