"""Shared pytest fixtures and helpers.

Tests never reach the network: published datasets are resolved under ``$SIMLAB_DATA_DIR`` through
the dataset registry, and a missing file skips the test with the expected path and its source.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# One persistent compilation cache for the whole test session (simulator.jax_setup and
# simulator.compiled), in a temporary folder that the session creates and removes: the controller
# sets it before pytest-xdist starts its workers, so every worker and every CLI / notebook
# subprocess loads what another already compiled instead of compiling it again (about a quarter of
# the suite's time on 2 cores). Never the user's cache in $HOME; SIMLAB_NO_COMPILE_CACHE=1 in the
# environment still switches it off.
_SESSION_CACHE_VAR = "SIMLAB_TEST_SESSION_CACHE"
_OWN_CACHE = None
if not os.environ.get(_SESSION_CACHE_VAR):  # the controller (or a run without xdist)
    _OWN_CACHE = tempfile.mkdtemp(prefix="simlab-test-jax-")
    os.environ[_SESSION_CACHE_VAR] = _OWN_CACHE
os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)  # would win over the session folder
os.environ["SIMLAB_COMPILE_CACHE_DIR"] = str(Path(os.environ[_SESSION_CACHE_VAR]) / "jax")


def pytest_unconfigure(config):
    """The process that created the session cache removes it (workers leave it to the controller)."""
    if _OWN_CACHE is not None and not hasattr(config, "workerinput"):
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


REPO_ROOT = Path(__file__).resolve().parents[1]


def require_dataset(name: str) -> Path:
    """Return the local path of registered dataset ``name`` or skip the test saying how to get it."""
    from fitters.registry import DatasetError, dataset_path

    try:
        return dataset_path(name, download=False)
    except DatasetError as err:
        pytest.skip(str(err))


# Timing tests measure this machine's CPU: under pytest-xdist the other worker would share the two
# cores and make the measurement swing (``test_cpu_held_out_error`` failed that way). A test marked
# ``exclusive_cpu`` runs alone: it takes an exclusive lock that every other test holds shared, so the
# other worker finishes its current test and waits. The lock is held around a test's whole run
# protocol (setup, call, teardown), so module fixtures that another test's setup builds are inside it
# too. A turnstile lock stops the other worker from re-taking the shared lock between two tests while
# the exclusive one waits (flock is not fair).
_LOCK_DIR = Path(os.environ[_SESSION_CACHE_VAR])


def pytest_configure(config):
    config.addinivalue_line("markers", "exclusive_cpu: run with no other test running (CPU timing)")


@contextlib.contextmanager
def _cpu_lock(exclusive: bool):
    import fcntl

    with open(_LOCK_DIR / "turnstile.lock", "a+") as turnstile, open(_LOCK_DIR / "cpu.lock", "a+") as cpu:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        if not exclusive:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        fcntl.flock(cpu, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(cpu, fcntl.LOCK_UN)
            if exclusive:
                fcntl.flock(turnstile, fcntl.LOCK_UN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    with _cpu_lock(item.get_closest_marker("exclusive_cpu") is not None):
        yield
