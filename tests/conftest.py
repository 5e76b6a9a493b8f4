"""Shared pytest fixtures and helpers.

Tests never reach the network: published datasets are resolved under ``$SIMLAB_DATA_DIR`` through
the dataset registry, and a missing file skips the test with the expected path and its source.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# No persistent JAX compilation cache in tests (simulator.jax_setup): never write into the user's home.
os.environ.setdefault("SIMLAB_NO_COMPILE_CACHE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]


def require_dataset(name: str) -> Path:
    """Return the local path of registered dataset ``name`` or skip the test saying how to get it."""
    from fitters.registry import DatasetError, dataset_path

    try:
        return dataset_path(name, download=False)
    except DatasetError as err:
        pytest.skip(str(err))
