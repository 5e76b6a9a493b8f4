"""Data files shipped with simlab: the repository's ``data/`` folder, installed as package ``simulator.data``.

``data/`` stays at the repository root (DESIGN.md: what the project measured or typed from papers:
calibration profiles, the Kinetics example accuracy table, validation rows). The build maps it into
the wheel as the package ``simulator.data`` (``[tool.setuptools.package-dir]`` in ``pyproject.toml``
plus the package list in ``setup.py``), so the same files are found by :mod:`importlib.resources`
in an editable install (``pip install -e .``: setuptools' editable finder maps ``simulator.data`` to
``data/``) and in an installed wheel. This module is the only place that knows where they are::

    from simulator.resources import data_file, data_dir
    data_file("kinetics/example_accuracy.csv")   # Path of a shipped file; PackageDataError if absent
    data_dir("calibration")                       # Path of a shipped folder
    shipped_or_path("calibration", "a100-sxm4-80gb-vidur", ".json")  # user path or shipped name

Fallback: a source checkout imported without (re-)installing (``PYTHONPATH=.``, or an editable install
made before this mapping existed) has no ``simulator.data`` package; then the ``data/`` folder next
to the ``simulator`` package is used, if it exists.

simlab is installed as plain files (pip never installs a wheel zipped), so the paths returned are
:class:`pathlib.Path` objects; nothing is extracted to temporary files.
"""

from __future__ import annotations

import functools
from pathlib import Path

from hardware_db.errors import SimlabError

__all__ = ["PACKAGE", "PackageDataError", "data_dir", "data_file", "data_root", "shipped_names", "shipped_or_path"]

PACKAGE = "simulator.data"


class PackageDataError(SimlabError):
    """A data file that simlab ships is missing (a broken or partial installation)."""


@functools.lru_cache(maxsize=1)
def data_root() -> Path:
    """Folder of the shipped data (``<site-packages>/simulator/data`` or the checkout's ``data/``)."""
    from importlib.resources import files

    try:
        root = files(PACKAGE)
    except ModuleNotFoundError:
        root = None
    if isinstance(root, Path) and root.is_dir():
        return root
    checkout = Path(__file__).resolve().parent.parent / "data"  # source checkout without the mapping
    if checkout.is_dir():
        return checkout
    raise PackageDataError(f"simlab's data package '{PACKAGE}' is not installed; reinstall simlab "
                           "(pip install simlab, or pip install -e . in a checkout)")


def data_file(relative: str) -> Path:
    """Path of the shipped file ``relative`` (e.g. ``"calibration/a40-48gb.json"``); one-line
    :class:`PackageDataError` naming it when it is not there."""
    p = data_root() / relative
    if not p.is_file():
        raise PackageDataError(f"simlab data file '{relative}' is missing from {data_root()}; reinstall simlab")
    return p


def data_dir(relative: str) -> Path:
    """Path of the shipped folder ``relative`` (e.g. ``"calibration"``); may not exist yet."""
    return data_root() / relative


def shipped_names(folder: str, suffix: str) -> list[str]:
    """Stems of the shipped files ``folder/*<suffix>``, sorted (e.g. the built-in profile names)."""
    d = data_dir(folder)
    return sorted(p.name[: -len(suffix)] for p in d.glob(f"*{suffix}")) if d.is_dir() else []


def shipped_or_path(folder: str, name_or_path: str | Path, suffix: str) -> Path:
    """``name_or_path`` as a user path if that file exists; else the shipped ``folder/<name><suffix>``
    when ``name_or_path`` is a shipped name (``a40-48gb``, ``a40-48gb.json``) or a checkout-relative
    path to one (``data/calibration/a40-48gb.json``, as in the README, run from an installed wheel).
    Otherwise the user path unchanged (the caller reports it as not found)."""
    p = Path(name_or_path).expanduser()
    if p.is_file():
        return p
    stem = p.name[: -len(suffix)] if p.name.endswith(suffix) else p.name
    bare = len(p.parts) == 1
    checkout_rel = not p.is_absolute() and tuple(p.parts[:-1]) == ("data", *Path(folder).parts)
    if (bare or checkout_rel) and stem in shipped_names(folder, suffix):
        return data_dir(folder) / f"{stem}{suffix}"
    return p
