"""Errors of :mod:`simulator.calibration` (one-line messages; the CLI exits 2 on them)."""

from __future__ import annotations

from hardware_db.errors import SimlabError


class CalibrationError(SimlabError):
    """Bad calibration input: unknown table/source, corrupt or mismatched profile, too few rows."""
