"""Fitters: objectives, multi-start optimisers, bootstrap CIs and the published-dataset registry.

Importing :mod:`fitters` is cheap: JAX, pandas and pooch are imported only by the sub-modules that
need them (``fitters.registry`` imports pooch/pandas lazily inside its functions).

Public sub-modules::

    fitters.registry   published-dataset registry (DatasetSpec, register, dataset_path, load_csv, ...)
    fitters.huber      Huber-on-log objective, vectorised multi-start damped-Newton fit, bootstrap
    fitters.procedures the papers' own procedures (Step Law, Farseer staged fit, data-filtering
                       grid search, Porian weighted allocation fit, ParScale)
"""

from fitters.errors import DatasetError, FitError

__all__ = ["DatasetError", "FitError"]
