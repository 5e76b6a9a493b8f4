"""Lazy cartesian product of the sweep axes, addressed by chunk index.

The grid is never materialised: configuration ``i`` (``0 <= i < size``) is the mixed-radix
number whose digits index the axes (the last axis varies fastest, like ``itertools.product``)::

    digit_k(i) = (i // stride_k) % n_k,     stride_k = n_{k+1} * ... * n_{K-1}

so chunk ``c`` (configurations ``[c C, min((c + 1) C, size))``) is built with a handful of
vectorised integer operations on ``C`` indices. Memory is ``O(C x axes)`` whatever the grid size.
Name axes come out as Arrow dictionary arrays (an int32 code per row plus the few distinct
names), numeric axes as int64 / float64 arrays. Each chunk carries ``config_id`` (the global
index ``i``), so a configuration can be found again in any part of the output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from simulator.design_space.errors import SweepError
from simulator.design_space.spec import SweepSpec, axis_arrays


@dataclass(frozen=True)
class Grid:
    """The cartesian product of ``axes`` (ordered name -> 1-D array of values), chunked by ``chunk_size``."""

    axes: dict[str, np.ndarray]
    chunk_size: int

    @classmethod
    def from_spec(cls, spec: SweepSpec, chunk_size: int | None = None) -> Grid:
        """The grid of a validated spec (``chunk_size`` overrides the spec's)."""
        size = spec.chunk_size if chunk_size is None else chunk_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise SweepError(f"chunk size {size!r}; allowed: an integer >= 1")
        return cls(axis_arrays(spec), int(size))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.axes.values())

    @property
    def size(self) -> int:
        """Number of configurations."""
        return math.prod(self.shape)

    @property
    def n_chunks(self) -> int:
        """Number of chunks (the last one may be short)."""
        return -(-self.size // self.chunk_size)

    def chunk_bounds(self, chunk: int) -> tuple[int, int]:
        """Global ``[start, stop)`` configuration indices of ``chunk``."""
        if not 0 <= chunk < self.n_chunks:
            raise SweepError(f"chunk {chunk}; allowed: 0 .. {self.n_chunks - 1}")
        start = chunk * self.chunk_size
        return start, min(start + self.chunk_size, self.size)

    def digits(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """Per-axis value positions of global configuration indices (vectorised mixed radix)."""
        index = np.asarray(index, dtype=np.int64)
        out = {}
        stride = self.size
        for name, values in self.axes.items():
            n = len(values)
            stride //= n
            out[name] = (index // stride) % n
        return out

    def rows(self, index: np.ndarray) -> pa.Table:
        """The configurations at the given global indices, as an Arrow table (``config_id`` first)."""
        index = np.asarray(index, dtype=np.int64)
        cols = {"config_id": pa.array(index, type=pa.int64())}
        for name, pos in self.digits(index).items():
            values = self.axes[name]
            if values.dtype == object:
                cols[name] = pa.DictionaryArray.from_arrays(
                    pa.array(pos.astype(np.int32)), pa.array(list(values), type=pa.string())
                )
            else:
                cols[name] = pa.array(values[pos])
        return pa.table(cols)

    def chunk(self, chunk: int) -> pa.Table:
        """Configurations of ``chunk`` as an Arrow table: ``config_id`` then one column per axis."""
        start, stop = self.chunk_bounds(chunk)
        return self.rows(np.arange(start, stop, dtype=np.int64))


__all__ = ["Grid"]
