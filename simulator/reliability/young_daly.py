"""Optimal checkpoint interval (Young 1974, Daly 2006) and the expected wall time / ETTR.

Notation: ``C`` checkpoint (blocking) time, ``M`` job MTBF, ``R`` restart time (detection,
rescheduling, initialisation, checkpoint load), ``tau`` compute time between checkpoints,
``T_s`` failure-free solve time. Failures are a Poisson process of rate ``1/M`` that can also
strike during checkpoints and restarts.

* Young (1974), "A first order approximation to the optimum checkpoint interval", CACM 17(9):
  ``tau_Y = sqrt(2 C M)``.
* Daly (2006), "A higher order estimate of the optimum checkpoint interval for restart dumps",
  Future Generation Computer Systems 22(3):303-312, Eq. 37:
  ``tau_D = sqrt(2 C M) [1 + (1/3) sqrt(C / 2M) + (1/9) (C / 2M)] - C`` for ``C < 2M``, else ``M``.
* Daly (2006) Eq. 13 (exact expected wall time under this failure process)::

      T_w = M exp(R / M) (exp((tau + C) / M) - 1) T_s / tau

  and ``ETTR = T_s / T_w`` (effective training time ratio, as in Kokolis et al. 2024, "Revisiting
  Reliability in Large-Scale Machine Learning Research Clusters", arXiv:2410.21680).

All functions broadcast over numpy arrays.
"""

from __future__ import annotations

import numpy as np


def young_interval_s(checkpoint_s, mtbf_s):
    """Young's first-order optimum ``sqrt(2 C M)``."""
    return np.sqrt(2.0 * np.asarray(checkpoint_s, dtype=float) * np.asarray(mtbf_s, dtype=float))


def daly_interval_s(checkpoint_s, mtbf_s):
    """Daly's higher-order optimum (Eq. 37); ``M`` when ``C >= 2M``."""
    C = np.asarray(checkpoint_s, dtype=float)
    M = np.asarray(mtbf_s, dtype=float)
    x = C / (2.0 * M)
    tau = np.sqrt(2.0 * C * M) * (1.0 + np.sqrt(x) / 3.0 + x / 9.0) - C
    return np.where(C < 2.0 * M, tau, M)


def expected_wall_time_s(solve_s, interval_s, checkpoint_s, restart_s, mtbf_s):
    """Daly Eq. 13: expected wall time to finish ``solve_s`` of work; ``solve_s`` when ``M`` is inf."""
    Ts = np.asarray(solve_s, dtype=float)
    tau = np.asarray(interval_s, dtype=float)
    C = np.asarray(checkpoint_s, dtype=float)
    R = np.asarray(restart_s, dtype=float)
    M = np.asarray(mtbf_s, dtype=float)
    finite = np.isfinite(M)
    Mf = np.where(finite, M, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        tw = Mf * np.exp(R / Mf) * np.expm1((tau + C) / Mf) * Ts / tau
    return np.where(finite, tw, Ts * (tau + C) / tau)


def ettr(solve_s, interval_s, checkpoint_s, restart_s, mtbf_s):
    """Effective training time ratio ``T_s / T_w``."""
    return np.asarray(solve_s, dtype=float) / expected_wall_time_s(solve_s, interval_s, checkpoint_s, restart_s,
                                                                    mtbf_s)


def optimal_interval_s(checkpoint_s, restart_s, mtbf_s, *, lo_s=0.0, grid: int = 4001):
    """Numerical argmin of ``T_w`` over ``tau`` (a log grid around Daly's estimate, at least ``lo_s``);
    used to test that Daly's closed form sits at the optimum."""
    C = float(checkpoint_s)
    M = float(mtbf_s)
    t0 = float(daly_interval_s(C, M))
    taus = np.geomspace(max(t0 / 30.0, 1e-9), t0 * 30.0, grid)
    taus = taus[taus >= lo_s] if (taus >= lo_s).any() else np.array([lo_s])
    tw = expected_wall_time_s(1.0, taus, C, restart_s, M)
    return float(taus[int(np.argmin(tw))])
