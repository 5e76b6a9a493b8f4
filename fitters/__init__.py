"""Fitters: objectives, multi-start optimisers, bootstrap CIs and the published-dataset registry.

Importing :mod:`fitters` is cheap: JAX, pandas and pooch are imported only by the sub-modules that
need them (``fitters.registry`` imports pooch/pandas lazily inside its functions).

Public sub-modules::

    fitters.registry       published-dataset registry (DatasetSpec, register, dataset_path, load_csv, ...)
    fitters.result         FitResult, the one result type every fit returns (calibration's efficiency
                           fit returns simulator.calibration.fit.EfficiencyFit, a profile, not a law fit)
    fitters.precision      float64(): the float64 policy of the fitters, set at their public entry points
    fitters.huber          Huber-on-log objective and its derivatives (Hoffmann et al. 2022, App. D.2)
    fitters.optim          vectorised multi-start damped-Newton (Levenberg-Marquardt) minimiser
    fitters.generic        multi-start Huber-on-log fit of any law
    fitters.chinchilla     Chinchilla Approach 3 with Hoffmann's 4,500-start grid and bootstrap
    the papers' own procedures: fitters.steplaw, fitters.farseer, fitters.data_filtering,
    fitters.porian, fitters.parscale, fitters.coverage (test-time coverage)
    fitters.plots          diagnostic plots of fits
"""

from fitters.errors import DatasetError, FitError

__all__ = ["DatasetError", "FitError"]
