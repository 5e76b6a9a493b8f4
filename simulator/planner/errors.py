"""Errors of the planner (one-line messages; the CLI prints ``error: ...`` and exits 2)."""

from __future__ import annotations

from simulator.errors import ConfigError


class PlanError(ConfigError):
    """A budget, candidate set, accuracy table or plan request is invalid or cannot be satisfied.

    Subclass of :class:`simulator.errors.ConfigError` (hence of ``hardware_db.errors.SimlabError``).
    """
