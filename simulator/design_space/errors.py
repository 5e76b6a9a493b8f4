"""Errors of the design-space sweeps (one-line messages; the CLI prints them and exits 2)."""

from __future__ import annotations

from hardware_db.errors import SimlabError


class SweepError(SimlabError):
    """A sweep spec, output folder or cluster setting is invalid (names the key/path and what is allowed)."""
