"""Benchmark: the full 4,500-start Chinchilla fit plus 1,000 bootstrap refits, compilation included.

Run from the repository root in a fresh process (so compilation is counted):

    SIMLAB_DATA_DIR=/path/to/shared/data .venv/bin/python bench/bench_chinchilla_fit.py [--exhaustive]

Prints wall-clock seconds per phase and the objective (must be 1.01827e-3 on Epoch's 240 points).
``--exhaustive`` also times the variant that runs every start to convergence (no screening).
The machine's load average and the process CPU time are printed because other processes distort
the wall-clock timing on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--exhaustive", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    from fitters.chinchilla import epoch_points, fit_chinchilla

    N, D, L = epoch_points()
    c1, t1 = time.process_time(), time.perf_counter()
    res = fit_chinchilla(N, D, L, bootstrap=args.bootstrap)  # compile included
    c2, t2 = time.process_time(), time.perf_counter()
    fit_chinchilla(N, D, L, bootstrap=args.bootstrap)
    t3 = time.perf_counter()
    fit_chinchilla(N, D, L)
    t4 = time.perf_counter()
    print(f"cpu cores: {os.cpu_count()}, load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"import + data:                                      {t1 - t0:6.2f} s")
    print(f"4,500-start fit + {args.bootstrap} bootstrap refits, fresh:  {t2 - t1:6.2f} s wall, "
          f"{c2 - c1:.2f} s process CPU (compilation included)")
    print(f"the same again (compiled):                          {t3 - t2:6.2f} s   (fit alone: {t4 - t3:.2f} s)")
    print(f"objective {res.objective:.6e}; alpha {res.params['alpha']:.4f} (se {res.stderr['alpha']:.4f}), "
          f"beta {res.params['beta']:.4f} (se {res.stderr['beta']:.4f}), E {res.params['E']:.4f} (se {res.stderr['E']:.4f}); "
          f"starts converged {res.n_converged}/{res.n_starts}, at best {res.n_at_best}, "
          f"bootstrap converged {res.extra['bootstrap_converged']}/{args.bootstrap}")
    if args.exhaustive:
        t5 = time.perf_counter()
        ex = fit_chinchilla(N, D, L, keep=None)
        t6 = time.perf_counter()
        print(f"exhaustive (every start to convergence): {t6 - t5:6.2f} s   objective {ex.objective:.6e}, "
              f"converged {ex.n_converged}/{ex.n_starts}, at best {ex.n_at_best}")


if __name__ == "__main__":
    main()
