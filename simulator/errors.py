"""Errors raised by the simulator packages (one-line messages; the CLI exits 2 on them)."""

from __future__ import annotations

from hardware_db.errors import SimlabError


class ModelError(SimlabError):
    """A model architecture is unknown, malformed or inconsistent (names the field and what is allowed)."""


class ConfigError(SimlabError):
    """A simulation setting (layout, batch, dtype, ...) is invalid (names the field and what is allowed)."""
