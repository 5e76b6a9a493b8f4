"""Errors raised by :mod:`scaling_laws` (one-line messages; the CLI exits 2 on them)."""

from __future__ import annotations

from hardware_db.errors import SimlabError


class LawError(SimlabError):
    """Unknown law or parameter set, missing / out-of-range parameter, non-positive input."""
