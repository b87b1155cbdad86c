"""LD pruning streamed in genome order: :func:`allel.locate_unlinked`'s result, one block of rows in memory.

:func:`allel.locate_unlinked` walks an int8 genotype matrix in blocks of
``blen`` rows (about 1 MB of rows, at least ``10 * size``), each block
extended by ``size`` rows into the next one, and runs its window kernel on
each block in turn; a block changes only its own rows' flags, so the rows
before the next block's start are final once a block is done. :class:`LDPruner`
runs the same kernel on the same blocks as rows arrive, so it keeps exactly the
variants :func:`allel.locate_unlinked` keeps on the whole matrix, while holding
one block (``(blen + size) x n_samples`` bytes) plus the kept variants' keys,
instead of every candidate's genotypes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# The window kernel allel.locate_unlinked runs on each block (scikit-allel's compiled module).
from allel.opt.stats import gn_locate_unlinked_int8


def locate_unlinked_block_length(n_samples: int, size: int) -> int:
    """The block length :func:`allel.locate_unlinked` uses on an in-memory int8 array of ``n_samples`` columns."""
    return max(max(1, (1 << 20) // max(int(n_samples), 1)), 10 * int(size))


class LDPruner:
    """Feed candidate variants in genome order; get those in approximate linkage equilibrium.

    Parameters
    ----------
    n_samples : int
        Columns of every block of genotypes.
    size, step, threshold
        :func:`allel.locate_unlinked`'s window (variants), step and r**2 limit.

    Attributes
    ----------
    n_added : int
        Candidate variants fed so far.
    """

    def __init__(self, n_samples: int, *, size: int = 100, step: int = 20, threshold: float = 0.1):
        self.n_samples = int(n_samples)
        self.size, self.step, self.threshold = int(size), int(step), float(threshold)
        self.blen = locate_unlinked_block_length(n_samples, size)
        self._gn = np.empty((0, self.n_samples), dtype=np.int8)
        self._loc = np.empty(0, dtype=np.uint8)
        self._keys: list[pd.DataFrame] = []
        self._kept: list[pd.DataFrame] = []
        self.n_added = 0

    def add(self, keys: pd.DataFrame, gn: np.ndarray) -> None:
        """Add the next candidates.

        Parameters
        ----------
        keys : DataFrame
            One row per candidate (kept along for the pruned variants).
        gn : ndarray, int8, shape (len(keys), n_samples)
            ALT allele counts, -1 = missing (pairwise deletion, as scikit-allel).
        """
        if gn.shape != (len(keys), self.n_samples):
            raise ValueError(f"genotypes of shape {gn.shape} for {len(keys)} variants x {self.n_samples} samples")
        self._gn = np.concatenate([self._gn, np.asarray(gn, dtype=np.int8)])
        self._loc = np.concatenate([self._loc, np.ones(len(keys), dtype=np.uint8)])
        self._keys.append(keys.reset_index(drop=True))
        self.n_added += len(keys)
        while len(self._gn) >= self.blen + self.size:
            self._run(0)
            self._release(self.blen)

    def finish(self) -> pd.DataFrame:
        """The kept candidates' keys, in the order fed (rows of the ``keys`` given to :meth:`add`)."""
        for start in range(0, len(self._gn), self.blen):
            self._run(start)
        self._release(len(self._gn))
        if not self._kept:
            return pd.DataFrame()
        return pd.concat(self._kept, ignore_index=True)

    def _run(self, start: int) -> None:
        # The block from `start` to at most blen + size rows on, as allel.locate_unlinked cuts it.
        end = min(len(self._gn), start + self.blen + self.size)
        block = np.ascontiguousarray(self._gn[start:end])
        gn_locate_unlinked_int8(block, self._loc[start:end], self.size, self.step, self.threshold)

    def _release(self, n: int) -> None:
        """Hand the first ``n`` buffered rows (final) to the result."""
        keys = pd.concat(self._keys, ignore_index=True) if len(self._keys) > 1 else self._keys[0]
        self._kept.append(keys.iloc[:n][self._loc[:n].astype(bool)])
        self._keys = [keys.iloc[n:].reset_index(drop=True)]
        self._gn, self._loc = self._gn[n:].copy(), self._loc[n:].copy()
