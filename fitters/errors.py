"""Errors raised by :mod:`fitters` (one-line messages; the CLI exits 2 on them)."""

from __future__ import annotations

from hardware_db.errors import SimlabError


class FitError(SimlabError):
    """Bad input to a fit: missing column, non-positive / NaN value, too few points, unknown law."""


class DatasetError(SimlabError):
    """A registered dataset is unknown, missing, corrupt (sha256 mismatch) or cannot be fetched."""
